internal import CQuantDot

/// Dense layers in int8: weights quantized once per output row, activations per row as they
/// come, products summed in i32 over the whole row (C kernels: `vpmaddubsw`/`vpmaddwd` on AVX2,
/// `vpdpbusd` with AVX-512 VNNI), one float multiply per output. A quarter of f32's bytes to
/// read, and on AVX2 twice the multiply-adds per instruction.
public enum Int8Matmul {
    /// A weight matrix (n × k) as int8 in [−127, 127], w ≈ scales[o] · q[o · k + i].
    public struct Weights: Sendable {
        public let q: [Int8]
        public let scales: [Float]

        /// Quantizes a PyTorch-layout weight (outputs × inputs), each row to its own scale.
        public init(_ weight: [Float], outputs n: Int, inputs k: Int) {
            precondition(weight.count == n * k && k % 32 == 0 && n % 2 == 0, "Programmer error: Int8Matmul shapes \(n) × \(k)")
            var q = [Int8](repeating: 0, count: n * k)
            var scales = [Float](repeating: 0, count: n)
            for o in 0..<n {
                let row = weight[(o * k)..<(o * k + k)]
                let top = row.reduce(Float(0)) { max($0, abs($1)) }
                scales[o] = top / 127
                let inverse = top > 0 ? 127 / top : 0
                for (i, value) in row.enumerated() {
                    q[o * k + i] = Int8(max(-127, min(127, (value * inverse).rounded(.toNearestOrEven))))
                }
            }
            self.q = q
            self.scales = scales
        }
    }

    /// out (m × n) = x (m × k) · Wᵀ + bias, x quantized row by row on the way in; the rows (or,
    /// for a few rows, the outputs) split over `threads`.
    public static func multiply(
        _ x: UnsafePointer<Float>, rows m: Int, _ w: Weights, inner k: Int, outputs n: Int,
        bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: m * k)
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: m)
        defer { q.deallocate(); scales.deallocate() }
        let wide = CPUFeatures.hasAVX512
        w.q.withUnsafeBufferPointer { wq in
            w.scales.withUnsafeBufferPointer { ws in
                let p = UnsafeTransfer(Operands(x: x, q: q, scales: scales, wq: wq.baseAddress!, ws: ws.baseAddress!, bias: bias, out: out, k: k, n: n, wide: wide))
                if m >= 8 * threads {
                    // Many rows: each thread quantizes and multiplies its own block of rows (multiples of 4).
                    let parts = max(1, threads)
                    Parallel.forEach(parts, threads: parts) { part, _ in
                        let v = p.value
                        let start = part == 0 ? 0 : (m * part / parts) & ~3, end = part == parts - 1 ? m : (m * (part + 1) / parts) & ~3
                        rag_quantize_rows_s8(v.x + start * k, Int32(end - start), Int32(k), v.q + start * k, v.scales + start)
                        v.gemm(rows: start..<end, columns: 0..<n)
                    }
                } else {
                    // A few rows (a query): the outputs split over the threads, 64 at a time.
                    rag_quantize_rows_s8(x, Int32(m), Int32(k), q, scales)
                    let blocks = (n + 63) / 64
                    let parts = max(1, min(threads, blocks))
                    Parallel.forEach(parts, threads: parts) { part, _ in
                        p.value.gemm(rows: 0..<m, columns: min(n, blocks * part / parts * 64)..<min(n, blocks * (part + 1) / parts * 64))
                    }
                }
            }
        }
    }

    /// One call's pointers and shapes.
    struct Operands {
        let x: UnsafePointer<Float>, q: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>
        let wq: UnsafePointer<Int8>, ws: UnsafePointer<Float>, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>
        let k: Int, n: Int, wide: Bool

        /// The kernel on a block of rows and outputs (quantized rows already in `q`).
        func gemm(rows: Range<Int>, columns: Range<Int>) {
            let first = rows.lowerBound
            let call = wide ? rag_gemm_s8_vnni : rag_gemm_s8_avx2
            call(q + first * k, scales + first, Int32(rows.count), wq, ws, bias, Int32(columns.lowerBound), Int32(columns.upperBound), Int32(k), out + first * n, n)
        }
    }
}
