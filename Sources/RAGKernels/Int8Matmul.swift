internal import CQuantDot

/// Dense layers in int8: weights with one scale per output row, quantized once at load,
/// activations with one per 32 values as they come (their outliers need the per-block scales;
/// one scale per token fails the accuracy gate). Where the CPU has AVX-512 VNNI the weights are
/// tiles of sixteen rows and a GEMM kernel takes two tiles against six activation rows at a
/// time; with the row's scale factored out of the sum, a block of 32 values costs its
/// `vpdpbusd`s, one conversion and one FMA per activation row (`rag_s8_tiles_gemm`). Elsewhere
/// the weights are Q8_0 rows whose blocks all carry the row's scale, and the generator's integer
/// dots (`vpmaddubsw`/`vpmaddwd`) multiply them. The bias, and GELU if asked, are applied while
/// a tile's outputs are in registers or L1.
public enum Int8Matmul {
    /// A weight matrix (n × k) in int8 with one scale per row.
    public struct Weights: Sendable {
        public let outputs: Int
        public let inputs: Int
        /// Each row's scale (f16-representable): the one of twelve clipping points from max|w|/127
        /// down to 0.78 of it that minimises the row's squared error.
        let scales: [Float]
        /// Tiles (`rag_s8_tiles_pack`, `tiled`) or Q8_0 rows.
        let bytes: [UInt8]
        let tiled: Bool

        /// Quantizes a PyTorch-layout weight (outputs × inputs), each row to its own scale.
        public init(_ weight: [Float], outputs n: Int, inputs k: Int) {
            precondition(weight.count == n * k && k % 32 == 0 && n % QuantDot.tileRows == 0, "Programmer error: Int8Matmul shapes \(n) × \(k)")
            outputs = n
            inputs = k
            var codes = [Int8](repeating: 0, count: n * k)
            var scales = [Float](repeating: 0, count: n)
            weight.withUnsafeBufferPointer { w in
                codes.withUnsafeMutableBufferPointer { q in
                    for o in 0..<n {
                        let row = UnsafeBufferPointer(rebasing: w[(o * k)..<((o + 1) * k)])
                        scales[o] = Self.quantize(row, into: q.baseAddress! + o * k)
                    }
                }
            }
            self.scales = scales
            tiled = CPUFeatures.hasAVX512
            if tiled {
                var tiles = [UInt8](repeating: 0, count: n * k)
                codes.withUnsafeBufferPointer { q in tiles.withUnsafeMutableBytes { rag_s8_tiles_pack(q.baseAddress!, Int32(n), Int32(k), $0.baseAddress!) } }
                bytes = tiles
                return
            }
            // Q8_0 rows: every block the row's scale, then its 32 codes.
            var rows = [UInt8](repeating: 0, count: n * k / 32 * 34)
            rows.withUnsafeMutableBytes { out in
                for o in 0..<n {
                    for b in 0..<(k / 32) {
                        let block = out.baseAddress! + (o * k / 32 + b) * 34
                        block.storeBytes(of: Float16(scales[o]).bitPattern, as: UInt16.self)
                        codes.withUnsafeBytes { (block + 2).copyMemory(from: $0.baseAddress! + o * k + b * 32, byteCount: 32) }
                    }
                }
            }
            bytes = rows
        }

        /// q = round(w / s) within ±127 for the clipping point s with the least squared error;
        /// returns s (an f16 value, so that the Q8_0 rows hold it exactly).
        static func quantize(_ w: UnsafeBufferPointer<Float>, into q: UnsafeMutablePointer<Int8>) -> Float {
            let largest = w.reduce(0) { max($0, abs($1)) }
            guard largest > 0 else {
                q.update(repeating: 0, count: w.count)
                return 0
            }
            var best = (error: Float.infinity, scale: Float(0))
            for step in 0..<12 {
                // (A scale below f16's range rounds to 0: no candidate.)
                let scale = Float(Float16(largest * (1 - 0.02 * Float(step)) / 127))
                guard scale > 0 else { continue }
                let inverse = 1 / scale
                var error: Float = 0
                for value in w {
                    let r = value - scale * max(-127, min(127, (value * inverse).rounded(.toNearestOrEven)))
                    error += r * r
                }
                if error < best.error { best = (error, scale) }
            }
            guard best.scale > 0 else {
                q.update(repeating: 0, count: w.count)
                return 0
            }
            let inverse = 1 / best.scale
            for (i, value) in w.enumerated() { q[i] = Int8(max(-127, min(127, (value * inverse).rounded(.toNearestOrEven)))) }
            return best.scale
        }

        /// Row `o` as the floats it stands for.
        public func row(_ o: Int) -> [Float] {
            (0..<inputs).map { i in
                let code = tiled
                    ? Int(Int8(bitPattern: bytes[o / 16 * 16 * inputs + i / 4 * 64 + o % 16 * 4 + i % 4] ^ 0x80))
                    : Int(Int8(bitPattern: bytes[(o * inputs / 32 + i / 32) * 34 + 2 + i % 32]))
                return scales[o] * Float(code)
            }
        }

        /// out[r · ldo + o] = W[o] · x[r] + bias[o] (GELU of it if `gelu`) for every weight row o
        /// and activation rows `xRows`.
        func product(
            _ x: QuantizedActivations, rows xRows: Range<Int>, bias: UnsafePointer<Float>?, gelu: Bool,
            into out: UnsafeMutablePointer<Float>, ldo: Int
        ) {
            bytes.withUnsafeBytes { b in
                scales.withUnsafeBufferPointer { s in
                    if tiled {
                        var view = x.kernelView(from: 0)
                        let status = rag_s8_tiles_gemm(
                            b.baseAddress!, Int32(outputs), Int32(inputs), s.baseAddress!, bias, &view, Int32(xRows.lowerBound), Int32(xRows.count),
                            gelu ? 1 : 0, out + xRows.lowerBound * ldo, ldo)
                        precondition(status == 0, "Programmer error: Int8Matmul tiles \(outputs) × \(inputs)")
                        return
                    }
                    let rowBytes = inputs / 32 * 34
                    for tile in stride(from: 0, to: outputs, by: QuantDot.tileRows) {
                        var first = xRows.lowerBound
                        while first < xRows.upperBound {
                            let nx = min(QuantDot.maxRows, xRows.upperBound - first)
                            let target = out + first * ldo + tile
                            QuantDot.rows(.q8_0, b.baseAddress! + tile * rowBytes, rowBytes: rowBytes, count: QuantDot.tileRows, x, first: first, nx: nx, into: target, ldo: ldo)
                            let add = bias.map { UnsafeRawPointer($0 + tile).loadUnaligned(as: SIMD16<Float>.self) } ?? .zero
                            for r in 0..<nx {
                                let row = UnsafeMutableRawPointer(target + r * ldo)
                                row.storeBytes(of: row.loadUnaligned(as: SIMD16<Float>.self) + add, as: SIMD16<Float>.self)
                                if gelu { Vector.gelu(target + r * ldo, count: QuantDot.tileRows) }
                            }
                            first += nx
                        }
                    }
                }
            }
        }
    }

    /// out (m × n) = x (m × k) · Wᵀ + bias (GELU of it if `gelu`), x quantized on the way in;
    /// many rows split over `threads`, a few on the calling thread.
    public static func multiply(
        _ x: UnsafePointer<Float>, rows m: Int, _ w: Weights, inner k: Int, outputs n: Int,
        bias: UnsafePointer<Float>?, gelu: Bool = false, into out: UnsafeMutablePointer<Float>, threads: Int
    ) {
        precondition(k == w.inputs && n == w.outputs, "Programmer error: Int8Matmul shapes")
        let activations = QuantizedActivations(format: .q8_0, width: k, capacity: m)
        let p = UnsafeTransfer((x: x, out: out, bias: bias))
        let blocks = k / 32
        if m >= 8 * threads {
            // Many rows: each thread quantizes and multiplies its own rows.
            activations.reserve(rows: m)
            let parts = max(1, threads)
            Parallel.forEach(parts, threads: parts) { part, _ in
                let v = p.value
                let start = m * part / parts, end = m * (part + 1) / parts
                for r in start..<end { activations.quantize(v.x + r * k, row: r, blocks: 0..<blocks) }
                w.product(activations, rows: start..<end, bias: v.bias, gelu: gelu, into: v.out, ldo: n)
            }
        } else {
            // A few rows (a query): on this thread. Its largest product is ~50 µs here, and waking
            // a second thread for half of it costs more than it saves: a 14-token query took
            // 2.6–3.0 ms with the outputs split over two threads, 1.6–2.1 ms on one.
            activations.quantize(x, rows: m, stride: k)
            w.product(activations, rows: 0..<m, bias: bias, gelu: gelu, into: out, ldo: n)
        }
    }
}
