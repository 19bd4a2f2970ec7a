internal import COpenBLAS

/// The OpenBLAS calls rag uses, with row-major shapes spelled out.
public enum BLAS {
    /// out (m × n) = a (m × k) · bᵀ, where b is stored (n × k) — PyTorch's Linear weight layout —
    /// plus `bias` (n) on every row when given. Leading dimensions default to the packed widths.
    public static func matmulTransposed(
        _ a: UnsafePointer<Float>, rows m: Int, _ b: UnsafePointer<Float>, outputs n: Int, inner k: Int,
        bias: UnsafePointer<Float>? = nil, into out: UnsafeMutablePointer<Float>,
        lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil
    ) {
        let ldc = ldc ?? n
        if let bias {
            for row in 0..<m { (out + row * ldc).update(from: bias, count: n) }
        }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1,
            a, Int32(lda ?? k), b, Int32(ldb ?? k), bias != nil ? 1 : 0, out, Int32(ldc))
    }

    /// out (m × n) = a (m × k) · b (k × n), all row-major with the given leading dimensions.
    public static func matmul(
        _ a: UnsafePointer<Float>, rows m: Int, _ b: UnsafePointer<Float>, columns n: Int, inner k: Int,
        into out: UnsafeMutablePointer<Float>, lda: Int, ldb: Int, ldc: Int, beta: Float = 0
    ) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, out, Int32(ldc))
    }

    /// Threads OpenBLAS may use for one call.
    public static func setThreads(_ count: Int) { openblas_set_num_threads(Int32(count)) }
}
