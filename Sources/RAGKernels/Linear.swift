internal import RAGKernelsAVX512

/// A dense layer y = x · Wᵀ + b. In f32 the weight is kept twice: in PyTorch's (out × in)
/// layout for OpenBLAS (many rows, split by rows over the threads) and packed for `SmallMatmul`
/// (few rows, split by columns); in bf16 twice at half the bytes (`BF16Matmul`); in int8 once,
/// quantized with a scale per row (`Int8Matmul`).
public struct Linear: Sendable {
    /// How a layer stores its weight and multiplies.
    public enum Precision: String, Sendable, CaseIterable {
        case f32, bf16, int8
    }

    public let inputs: Int
    public let outputs: Int
    public let precision: Precision
    /// (outputs × inputs), row-major (f32 only).
    let weight: [Float]
    /// `SmallMatmul.pack(weight)`, or `WideMatmul.pack(weight)` on AVX-512 processors (f32 only).
    let packed: [Float]
    let int8: Int8Matmul.Weights?
    let bf16: BF16Matmul.Weights?
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
            self.bf16 = nil
        case .bf16:
            self.weight = []
            self.packed = []
            self.int8 = nil
            self.bf16 = BF16Matmul.Weights(weight, outputs: outputs, inputs: inputs)
        case .int8:
            self.weight = []
            self.packed = []
            self.int8 = Int8Matmul.Weights(weight, outputs: outputs, inputs: inputs)
            self.bf16 = nil
        }
    }

    /// out (m × outputs) = x (m × inputs) · Wᵀ + b, then GELU (erf form) of it if `gelu`: the int8
    /// kernels apply it while the outputs are in registers, the others after the product.
    public func apply(_ x: UnsafePointer<Float>, rows m: Int, into out: UnsafeMutablePointer<Float>, threads: Int, gelu: Bool = false) {
        if let int8 {
            (bias ?? []).withUnsafeBufferPointer { b in
                Int8Matmul.multiply(x, rows: m, int8, inner: inputs, outputs: outputs, bias: bias == nil ? nil : b.baseAddress, gelu: gelu, into: out, threads: threads)
            }
            return
        }
        product(x, rows: m, into: out, threads: threads)
        if gelu { Vector.gelu(out, count: m * outputs) }
    }

    /// out = x · Wᵀ + b in f32 or bf16.
    private func product(_ x: UnsafePointer<Float>, rows m: Int, into out: UnsafeMutablePointer<Float>, threads: Int) {
        let (n, k) = (outputs, inputs)
        if let bf16 {
            (bias ?? []).withUnsafeBufferPointer { b in
                BF16Matmul.multiply(x, rows: m, bf16, inner: k, outputs: n, bias: bias == nil ? nil : b.baseAddress, into: out, threads: threads)
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
