internal import RAGKernelsAVX512

/// out (m × n) = a (m × k) · W + bias, for few rows (a query, a short batch), with W prepacked
/// in panels of 16 output columns: `[n/16][k][16]`, so each panel is one sequential stream.
///
/// OpenBLAS repacks the weight matrix on every sgemm call, which costs more than the arithmetic
/// when m is small, and a few rows are bound by memory bandwidth anyway: this kernel reads each
/// panel sequentially (prefetch-friendly) while 4 rows × 16 columns of accumulators stay in
/// registers, each loaded weight used 4 times.
public enum SmallMatmul {
    /// Packs a PyTorch-layout weight (n × k: out × in) into the panel layout `[n/16][k][16]`.
    public static func pack(_ weight: [Float], outputs n: Int, inputs k: Int) -> [Float] {
        WideMatmul.pack(weight, outputs: n, inputs: k, width: 16)
    }

    /// Rows up to which `Linear` prefers this kernel to OpenBLAS.
    public static let maxRows = 48

    public static func multiply(
        _ a: UnsafePointer<Float>, rows m: Int, _ w: UnsafePointer<Float>, inner k: Int, outputs n: Int,
        bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>, columns: Range<Int>
    ) {
        precondition(n % 16 == 0 && columns.lowerBound % 16 == 0 && columns.upperBound % 16 == 0, "Programmer error: SmallMatmul needs widths in multiples of 16")
        let wr = UnsafeRawPointer(w)
        for column in stride(from: columns.lowerBound, to: columns.upperBound, by: 16) {
            let b0 = bias.map { UnsafeRawPointer($0).loadUnaligned(fromByteOffset: column * 4, as: SIMD8<Float>.self) } ?? SIMD8()
            let b1 = bias.map { UnsafeRawPointer($0).loadUnaligned(fromByteOffset: (column + 8) * 4, as: SIMD8<Float>.self) } ?? SIMD8()
            var row = 0
            while row + 4 <= m {
                var c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1
                let a0 = a + row * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k
                // The panel is one sequential stream: walk it with a pointer (no index arithmetic).
                var panel = wr + column * k * 4
                for i in 0..<k {
                    let w0 = panel.loadUnaligned(as: SIMD8<Float>.self)
                    let w1 = panel.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                    panel += 64
                    var s = SIMD8<Float>(repeating: a0[i])
                    c00.addProduct(s, w0); c01.addProduct(s, w1)
                    s = SIMD8<Float>(repeating: a1[i])
                    c10.addProduct(s, w0); c11.addProduct(s, w1)
                    s = SIMD8<Float>(repeating: a2[i])
                    c20.addProduct(s, w0); c21.addProduct(s, w1)
                    s = SIMD8<Float>(repeating: a3[i])
                    c30.addProduct(s, w0); c31.addProduct(s, w1)
                }
                let o = UnsafeMutableRawPointer(out + row * n + column)
                o.storeBytes(of: c00, as: SIMD8<Float>.self); o.storeBytes(of: c01, toByteOffset: 32, as: SIMD8<Float>.self)
                o.storeBytes(of: c10, toByteOffset: n * 4, as: SIMD8<Float>.self); o.storeBytes(of: c11, toByteOffset: n * 4 + 32, as: SIMD8<Float>.self)
                o.storeBytes(of: c20, toByteOffset: n * 8, as: SIMD8<Float>.self); o.storeBytes(of: c21, toByteOffset: n * 8 + 32, as: SIMD8<Float>.self)
                o.storeBytes(of: c30, toByteOffset: n * 12, as: SIMD8<Float>.self); o.storeBytes(of: c31, toByteOffset: n * 12 + 32, as: SIMD8<Float>.self)
                row += 4
            }
            while row < m {
                var c0 = b0, c1 = b1
                let ar = a + row * k
                var panel = wr + column * k * 4
                for i in 0..<k {
                    let s = SIMD8<Float>(repeating: ar[i])
                    c0.addProduct(s, panel.loadUnaligned(as: SIMD8<Float>.self))
                    c1.addProduct(s, panel.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                    panel += 64
                }
                let o = UnsafeMutableRawPointer(out + row * n + column)
                o.storeBytes(of: c0, as: SIMD8<Float>.self); o.storeBytes(of: c1, toByteOffset: 32, as: SIMD8<Float>.self)
                row += 1
            }
        }
    }
}

/// A dense layer y = x · Wᵀ + b. In f32 the weight is kept twice: in PyTorch's (out × in)
/// layout for OpenBLAS (many rows, split by rows over the threads) and packed for `SmallMatmul`
/// (few rows, split by columns); in int8 once, quantized per output row (`Int8Matmul`).
public struct Linear: Sendable {
    /// How a layer stores its weight and multiplies.
    public enum Precision: String, Sendable, CaseIterable {
        case f32, int8
    }

    public let inputs: Int
    public let outputs: Int
    public let precision: Precision
    /// (outputs × inputs), row-major (f32 only).
    let weight: [Float]
    /// `SmallMatmul.pack(weight)`, or `WideMatmul.pack(weight)` on AVX-512 processors (f32 only).
    let packed: [Float]
    let int8: Int8Matmul.Weights?
    let bias: [Float]?

    public init(weight: [Float], bias: [Float]?, outputs: Int, inputs: Int, precision: Precision = .f32) {
        precondition(weight.count == outputs * inputs && (bias?.count ?? outputs) == outputs && outputs % 32 == 0, "Programmer error: Linear shapes")
        self.inputs = inputs
        self.outputs = outputs
        self.precision = precision
        self.bias = bias
        switch precision {
        case .f32:
            self.weight = weight
            self.packed = CPUFeatures.hasAVX512
                ? WideMatmul.pack(weight, outputs: outputs, inputs: inputs)
                : SmallMatmul.pack(weight, outputs: outputs, inputs: inputs)
            self.int8 = nil
        case .int8:
            self.weight = []
            self.packed = []
            self.int8 = Int8Matmul.Weights(weight, outputs: outputs, inputs: inputs)
        }
    }

    /// out (m × outputs) = x (m × inputs) · Wᵀ + b.
    public func apply(_ x: UnsafePointer<Float>, rows m: Int, into out: UnsafeMutablePointer<Float>, threads: Int) {
        let (n, k) = (outputs, inputs)
        if let int8 {
            (bias ?? []).withUnsafeBufferPointer { b in
                Int8Matmul.multiply(x, rows: m, int8, inner: k, outputs: n, bias: bias == nil ? nil : b.baseAddress, into: out, threads: threads)
            }
            return
        }
        weight.withUnsafeBufferPointer { w in
            packed.withUnsafeBufferPointer { p in
                (bias ?? []).withUnsafeBufferPointer { b in
                    let pointers = UnsafeTransfer((x: x, w: w.baseAddress!, p: p.baseAddress!, bias: bias == nil ? nil : b.baseAddress, out: out))
                    if m <= SmallMatmul.maxRows {
                        let wide = CPUFeatures.hasAVX512
                        let panel = wide ? WideMatmul.panelWidth : 16
                        let parts = max(1, min(threads, n / 64))
                        Parallel.forEach(parts, threads: parts) { part, _ in
                            let v = pointers.value
                            let start = n / panel * part / parts * panel, end = n / panel * (part + 1) / parts * panel
                            if wide {
                                WideMatmul.multiply(v.x, rows: m, v.p, inner: k, outputs: n, bias: v.bias, into: v.out, columns: start..<end)
                            } else {
                                SmallMatmul.multiply(v.x, rows: m, v.p, inner: k, outputs: n, bias: v.bias, into: v.out, columns: start..<end)
                            }
                        }
                        return
                    }
                    let parts = max(1, min(threads, m / 16))
                    Parallel.forEach(parts, threads: parts) { part, _ in
                        let v = pointers.value
                        let start = m * part / parts, end = m * (part + 1) / parts
                        BLAS.matmulTransposed(v.x + start * k, rows: end - start, v.w, outputs: n, inner: k, bias: v.bias, into: v.out + start * n)
                    }
                }
            }
        }
    }
}
