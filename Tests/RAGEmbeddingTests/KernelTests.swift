import Foundation
import RAGKernels
import RAGKernelsAVX512
import RAGTesting
import Testing

@Suite(.onTestThreads) struct KernelTests {
    @Test func expAndErfMatchLibm() {
        var worstExp: Float = 0, worstErf: Float = 0
        var x: Float = -20
        while x < 20 {
            let lanes = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0013 })
            let e = Vector.exp(lanes), r = Vector.erf(lanes)
            for i in 0..<8 {
                worstExp = max(worstExp, abs(e[i] - Foundation.exp(lanes[i])) / Foundation.exp(lanes[i]))
                worstErf = max(worstErf, abs(r[i] - Foundation.erf(lanes[i])))
            }
            x += 0.0107
        }
        #expect(worstExp < 5e-7)
        #expect(worstErf < 5e-7)
        #expect(Vector.exp(SIMD8(repeating: -200))[0] < 1e-37)
    }

    @Test func softmaxLayerNormGeluDot() {
        var row: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
        row.withUnsafeMutableBufferPointer { Vector.softmax($0.baseAddress!, count: 11, scale: 0.5) }
        let expected = (1...11).map { Foundation.exp(0.5 * Float($0) - 5.5) }
        let sum = expected.reduce(0, +)
        #expect(zip(row, expected).allSatisfy { abs($0 - $1 / sum) < 1e-6 })

        var x: [Float] = (0..<16).map { Float($0) }
        let gamma = [Float](repeating: 2, count: 16), beta = [Float](repeating: 1, count: 16)
        x.withUnsafeMutableBufferPointer { Vector.layerNorm($0.baseAddress!, rows: 1, count: 16, residual: nil, gamma: gamma, beta: beta, epsilon: 1e-12) }
        let mean: Float = 7.5, sd = ((0..<16).map { (Float($0) - mean) * (Float($0) - mean) }.reduce(0, +) / 16).squareRoot()
        #expect(zip(x, (0..<16).map { (Float($0) - mean) / sd * 2 + 1 }).allSatisfy { abs($0 - $1) < 1e-5 })

        var g: [Float] = (-20...20).map { Float($0) / 4 }
        let reference = g.map { 0.5 * $0 * (1 + Foundation.erf($0 / Float(2).squareRoot())) }
        g.withUnsafeMutableBufferPointer { Vector.gelu($0.baseAddress!, count: $0.count) }
        #expect(zip(g, reference).allSatisfy { abs($0 - $1) < 1e-6 })

        let a: [Float] = (0..<37).map { Float($0) }, b = [Float](repeating: 0.5, count: 37)
        #expect(Vector.dot(a, b, count: 37) == 333)
    }

    @Test func matmulTransposedWithBias() {
        // a (2 × 3) · bᵀ where b is (2 × 3), plus bias
        let a: [Float] = [1, 2, 3, 4, 5, 6], b: [Float] = [1, 0, 1, 0, 1, 0], bias: [Float] = [10, 20]
        var out = [Float](repeating: 0, count: 4)
        out.withUnsafeMutableBufferPointer { BLAS.matmulTransposed(a, rows: 2, b, outputs: 2, inner: 3, bias: bias, into: $0.baseAddress!) }
        #expect(out == [14, 22, 20, 25])
    }

    /// Every row-block shape of both few-rows kernels, and Linear's OpenBLAS path, against a
    /// plain double-precision product.
    @Test(arguments: [1, 2, 3, 5, 6, 7, 12, 13, 48, 49, 100])
    func linearMatchesPlainProduct(rows m: Int) {
        let (n, k) = (96, 70)
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(m)
        func next() -> Float {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(seed >> 40) % 2001 - 1000) / 1000
        }
        let x = (0..<(m * k)).map { _ in next() }, w = (0..<(n * k)).map { _ in next() }, bias = (0..<n).map { _ in next() }
        var expected = [Float](repeating: 0, count: m * n)
        for r in 0..<m {
            for c in 0..<n {
                var sum = Double(bias[c])
                for i in 0..<k { sum += Double(x[r * k + i]) * Double(w[c * k + i]) }
                expected[r * n + c] = Float(sum)
            }
        }
        func check(_ out: [Float], _ label: String) {
            let worst = zip(out, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-4, "\(label), \(m) rows: max |Δ| \(worst)")
        }
        var out = [Float](repeating: .nan, count: m * n)
        let linear = Linear(weight: w, bias: bias, outputs: n, inputs: k)
        out.withUnsafeMutableBufferPointer { linear.apply(x, rows: m, into: $0.baseAddress!, threads: 2) }
        check(out, "Linear (\(CPUFeatures.kernels))")

        let small = SmallMatmul.pack(w, outputs: n, inputs: k)
        out = [Float](repeating: .nan, count: m * n)
        out.withUnsafeMutableBufferPointer { SmallMatmul.multiply(x, rows: m, small, inner: k, outputs: n, bias: bias, into: $0.baseAddress!, columns: 0..<n) }
        check(out, "SmallMatmul")
        // Two threads' shares of the columns (the padded last rows are copied out per share).
        out = [Float](repeating: .nan, count: m * n)
        out.withUnsafeMutableBufferPointer {
            SmallMatmul.multiply(x, rows: m, small, inner: k, outputs: n, bias: bias, into: $0.baseAddress!, columns: 0..<32)
            SmallMatmul.multiply(x, rows: m, small, inner: k, outputs: n, bias: bias, into: $0.baseAddress!, columns: 32..<n)
        }
        check(out, "SmallMatmul in two column shares")

        // bf16 weights: the same product with each weight rounded to bfloat16 (relative error
        // ≤ 2⁻⁹), the panel kernel (few rows) and OpenBLAS on the widened weights (many).
        let bf16 = Linear(weight: w, bias: bias, outputs: n, inputs: k, precision: .bf16)
        out = [Float](repeating: .nan, count: m * n)
        out.withUnsafeMutableBufferPointer { bf16.apply(x, rows: m, into: $0.baseAddress!, threads: 2) }
        var bound: Float = 0
        for r in 0..<m {
            for c in 0..<n {
                var magnitude: Float = 0
                for i in 0..<k { magnitude += abs(x[r * k + i] * w[c * k + i]) }
                bound = max(bound, magnitude)
            }
        }
        let worst = zip(out, expected).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst <= bound / 256, "bf16, \(m) rows: max |Δ| \(worst), bound \(bound / 256)")
        #expect(worst > 0, "bf16, \(m) rows: the weights were not rounded")

        if CPUFeatures.hasAVX512 {
            let wide = WideMatmul.pack(w, outputs: n, inputs: k)
            out = [Float](repeating: .nan, count: m * n)
            out.withUnsafeMutableBufferPointer { WideMatmul.multiply(x, rows: m, wide, inner: k, outputs: n, bias: nil, into: $0.baseAddress!, columns: 0..<n) }
            for r in 0..<m { for c in 0..<n { out[r * n + c] += bias[c] } }
            check(out, "WideMatmul")
        }
    }
}

@Suite(.onTestThreads) struct Int8MatmulTests {
    /// The kernels against the same arithmetic in doubles: the int8 weights and Q8_0 activations
    /// decoded, their products summed exactly; with GELU, the exact GELU of that. Shapes cover
    /// groups of six rows with a remainder, an odd number of tiles, a few rows (one thread) and
    /// many (split over the threads), rows past one chunk of the GEMM, one tile and many.
    @Test(arguments: [(1, 64, 32), (3, 96, 64), (4, 128, 384), (9, 160, 96), (17, 384, 1536), (40, 64, 32), (23, 48, 64), (200, 32, 32)])
    func matchesExactArithmeticOnTheQuantizedValues(m: Int, n: Int, k: Int) {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(m * 1000 + n + k)
        func next() -> Float {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 400
        }
        let x = (0..<(m * k)).map { _ in next() }
        let w = (0..<(n * k)).map { _ in next() }
        let bias = (0..<n).map { _ in next() }
        let weights = Int8Matmul.Weights(w, outputs: n, inputs: k)
        let rows = (0..<n).map { weights.row($0) }
        let activations = QuantizedActivations(format: .q8_0, width: k, capacity: m)
        x.withUnsafeBufferPointer { activations.quantize($0.baseAddress!, rows: m, stride: k) }
        var out = [Float](repeating: .nan, count: m * n)
        for (threads, gelu) in [(1, false), (2, false), (2, true)] {
            x.withUnsafeBufferPointer { xp in
                bias.withUnsafeBufferPointer { bp in
                    out.withUnsafeMutableBufferPointer { op in
                        Int8Matmul.multiply(
                            xp.baseAddress!, rows: m, weights, inner: k, outputs: n, bias: bp.baseAddress!, gelu: gelu, into: op.baseAddress!, threads: threads)
                    }
                }
            }
            var worst = 0.0
            for r in 0..<m {
                for o in 0..<n {
                    var sum = Double(bias[o]), magnitude = abs(Double(bias[o]))
                    for i in 0..<k {
                        let product = Double(rows[o][i]) * Double(activations.value(row: r, i))
                        sum += product
                        magnitude += abs(product)
                    }
                    // GELU's slope is within [−0.17, 1.13]: the sum's error carries over at most 1.13×;
                    // erf's absolute error (< 5e-7) adds up to 0.25e-6·|sum|.
                    let expected = gelu ? 0.5 * sum * (1 + Foundation.erf(sum / 2.0.squareRoot())) : sum
                    worst = max(worst, abs(Double(out[r * n + o]) - expected) / (gelu ? 1.13 * max(1, magnitude) + 0.25 * abs(sum) : max(1, magnitude)))
                }
            }
            #expect(worst < 1e-6, "m \(m) n \(n) k \(k) threads \(threads) gelu \(gelu): worst relative error \(worst)")
        }
    }

    /// Each row is quantized to one scale: the clipping point of the twelve tried (max|w|/127
    /// down to 0.78 of it) with the least squared error, never worse than max|w|/127; values
    /// inside the clipping range within half a step, those outside clipped to ±127 steps; an
    /// all-zero row, and one too small for an f16 scale, become zeros.
    @Test func weightsAreQuantizedPerRowToTheBestClippingPoint() {
        // Row 0 has one outlier (clipping pays), row 1 is uniform (it does not), row 14 is below
        // f16's smallest step times 127, row 15 is zero.
        let outlier: [Float] = (0..<64).map { Float(($0 * 37) % 19) / 19 - 0.5 } + [40]
        let w: [Float] = Array(outlier.prefix(63)) + [40]
            + (0..<64).map { Float($0) - 31.5 } + [Float](repeating: 0, count: 64 * 12)
            + [Float](repeating: 1e-9, count: 64) + [Float](repeating: 0, count: 64)
        let q = Int8Matmul.Weights(w, outputs: 16, inputs: 64)
        #expect(q.row(14).allSatisfy { $0 == 0 })
        for o in 0..<14 {
            let row = q.row(o), original = Array(w[(o * 64)..<(o * 64 + 64)])
            let largest = original.map(abs).max() ?? 0
            let step = row.map(abs).max().map { $0 / 127 } ?? 0
            #expect(Float(Float16(step)) == step && step <= largest / 127 * 1.001 && step >= largest / 127 * 0.77, "row \(o): step \(step)")
            func squaredError(_ s: Float) -> Float {
                zip(original, (0..<64).map { i in s == 0 ? 0 : s * max(-127, min(127, (original[i] / s).rounded(.toNearestOrEven))) }).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            }
            #expect(squaredError(step) <= squaredError(Float(Float16(largest / 127))), "row \(o)")
            for i in 0..<64 {
                let expected = abs(original[i]) <= 127 * step ? abs(row[i] - original[i]) <= step * 0.501 : row[i] == (original[i] < 0 ? -127 : 127) * step
                #expect(expected, "row \(o) value \(i): \(row[i]) vs \(original[i])")
            }
        }
        #expect(q.row(0).last! < 40, "the outlier row is clipped")
        #expect(abs(q.row(1).map(abs).max()! - 31.5) <= 31.5 / 127 * 0.501, "a uniform row keeps its largest value")
        #expect(q.row(15).allSatisfy { $0 == 0 })
    }
}

@Suite(.onTestThreads) struct SelfAttentionTests {
    /// One head's softmax(scale · q·kᵀ) · v against the same in doubles, for sequences from one
    /// row to past the padding of a group, heads of 32 and 64 values, rows a q|k|v row apart.
    @Test(arguments: [(1, 32), (5, 32), (13, 32), (33, 64), (212, 32)])
    func matchesTheDefinition(n: Int, headSize: Int) {
        var seed: UInt64 = 0x2545_F491_4F6C_DD1D &* UInt64(n * 100 + headSize)
        func next() -> Float {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 250
        }
        let hidden = 2 * headSize, stride = 3 * hidden, scale = 1 / Float(headSize).squareRoot()
        let qkv = (0..<(n * stride)).map { _ in next() }
        var out = [Float](repeating: .nan, count: n * hidden)
        var work = [Float](repeating: .nan, count: SelfAttention.workCount(rows: n, headSize: headSize))
        // The second head of two: its columns start headSize into q, k and v.
        qkv.withUnsafeBufferPointer { p in
            let q = p.baseAddress! + headSize
            SelfAttention.apply(
                q: q, k: q + hidden, v: q + 2 * hidden, stride: stride, rows: n, headSize: headSize, scale: scale,
                into: &out[headSize], ldo: hidden, work: &work)
        }
        var worst = 0.0
        for r in 0..<n {
            let scores = (0..<n).map { j in
                (0..<headSize).reduce(0.0) { $0 + Double(qkv[r * stride + headSize + $1]) * Double(qkv[j * stride + hidden + headSize + $1]) } * Double(scale)
            }
            let top = scores.max()!
            let weights = scores.map { Foundation.exp($0 - top) }
            let total = weights.reduce(0, +)
            for c in 0..<headSize {
                let expected = (0..<n).reduce(0.0) { $0 + weights[$1] * Double(qkv[$1 * stride + 2 * hidden + headSize + c]) } / total
                worst = max(worst, abs(Double(out[r * hidden + headSize + c]) - expected))
            }
            let untouched = out[(r * hidden)..<(r * hidden + headSize)].allSatisfy { $0.isNaN }
            #expect(untouched, "row \(r): the first head's columns are not written")
        }
        // Values within ±4, scores up to ~30: f32 sums of 32 products and of n weighted values.
        #expect(worst < 4e-5, "n \(n) head \(headSize): worst |Δ| \(worst)")
    }
}
