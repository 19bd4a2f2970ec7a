internal import CQuantDot

/// Dense layers with bfloat16 weights and f32 arithmetic: half of f32's bytes to read, and a
/// weight's rounding error (at most 2⁻⁹ of it) far below what moves a sentence vector. A few
/// rows (a query) are bound by the bytes read: a C kernel widens each panel's bf16 weights in
/// registers (a 16-bit shift) and multiplies in f32, 6 rows × 16 columns a block. Many rows are
/// bound by arithmetic: the weights are widened to f32 once per call (a few per cent of the
/// product's time) and OpenBLAS multiplies.
public enum BF16Matmul {
    /// A weight matrix (n × k) in bf16, row-major (for OpenBLAS, widened) and packed in panels
    /// of 16 columns for the few-rows kernel (`rag_gemm_bf16_panels`' layout).
    public struct Weights: Sendable {
        public let rows: [UInt16]
        public let panels: [UInt16]

        /// Rounds a PyTorch-layout weight (outputs × inputs) to bf16 (nearest, ties to even).
        public init(_ weight: [Float], outputs n: Int, inputs k: Int) {
            precondition(weight.count == n * k && n % 16 == 0, "Programmer error: BF16Matmul shapes \(n) × \(k)")
            var rows = [UInt16](repeating: 0, count: n * k)
            weight.withUnsafeBufferPointer { w in rows.withUnsafeMutableBufferPointer { rag_bf16_from_f32(w.baseAddress!, n * k, $0.baseAddress!) } }
            var panels = [UInt16](repeating: 0, count: n * k)
            let order = (0..<16).map { Int(rag_bf16_panel_order(Int32($0))) }
            for block in 0..<(n / 16) {
                for i in 0..<k {
                    for position in 0..<16 { panels[(block * k + i) * 16 + position] = rows[(block * 16 + order[position]) * k + i] }
                }
            }
            self.rows = rows
            self.panels = panels
        }

        /// The weights widened to f32, row-major (n × k).
        func widened(into out: UnsafeMutablePointer<Float>) {
            rows.withUnsafeBufferPointer { rag_f32_from_bf16($0.baseAddress!, $0.count, out) }
        }
    }

    /// out (m × n) = x (m × k) · Wᵀ + bias; a few rows split by columns over `threads`, many
    /// rows by rows.
    public static func multiply(
        _ x: UnsafePointer<Float>, rows m: Int, _ w: Weights, inner k: Int, outputs n: Int,
        bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>, threads: Int
    ) {
        if m <= SmallMatmul.maxRows {
            w.panels.withUnsafeBufferPointer { panels in
                let p = UnsafeTransfer((x: x, panels: panels.baseAddress!, bias: bias, out: out))
                let parts = max(1, min(threads, n / 64))
                Parallel.forEach(parts, threads: parts) { part, _ in
                    let v = p.value
                    let start = n / 16 * part / parts * 16, end = n / 16 * (part + 1) / parts * 16
                    rag_gemm_bf16_panels(v.x, Int32(m), Int32(k), v.panels, Int32(n), v.bias, v.out, Int32(start), Int32(end))
                }
            }
            return
        }
        let widened = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
        defer { widened.deallocate() }
        w.widened(into: widened)
        let p = UnsafeTransfer((x: x, w: UnsafePointer(widened), bias: bias, out: out))
        let parts = max(1, min(threads, m / 16))
        Parallel.forEach(parts, threads: parts) { part, _ in
            let v = p.value
            let start = m * part / parts, end = m * (part + 1) / parts
            BLAS.matmulTransposed(v.x + start * k, rows: end - start, v.w, outputs: n, inner: k, bias: v.bias, into: v.out + start * n)
        }
    }
}
