internal import COpenBLAS
internal import Foundation

/// The OpenBLAS calls rag uses, with row-major shapes spelled out.
///
/// OpenBLAS's thread count is one process-wide setting, read by every call as it runs: a call
/// that raises it while another thread's call is running makes that call split its work with a
/// count it did not start with (wrong results were seen when a generator and an embedder ran at
/// once). So the count stays 1, set under a lock held exclusively; every product holds it
/// shared, so single-threaded products on different threads (the encoder's row blocks and
/// attention heads, one per core) run side by side.
public enum BLAS {
    private static let lock = SharedLock()

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
        lock.lockShared()
        defer { lock.unlock() }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1,
            a, Int32(lda ?? k), b, Int32(ldb ?? k), bias != nil ? 1 : 0, out, Int32(ldc))
    }

    /// out (m × n) = a (m × k) · b (k × n), all row-major with the given leading dimensions.
    public static func matmul(
        _ a: UnsafePointer<Float>, rows m: Int, _ b: UnsafePointer<Float>, columns n: Int, inner k: Int,
        into out: UnsafeMutablePointer<Float>, lda: Int, ldb: Int, ldc: Int, beta: Float = 0
    ) {
        lock.lockShared()
        defer { lock.unlock() }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, out, Int32(ldc))
    }

    /// Sets OpenBLAS's thread count to 1 (what every product here assumes).
    public static func useOneThread() {
        lock.lockExclusive()
        defer { lock.unlock() }
        openblas_set_num_threads(1)
    }
}

/// A readers-writer lock (pthread's): many holders share it, or one holds it alone.
final class SharedLock: @unchecked Sendable {
    private let rwlock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        rwlock = .allocate(capacity: 1)
        pthread_rwlock_init(rwlock, nil)
    }

    deinit {
        pthread_rwlock_destroy(rwlock)
        rwlock.deallocate()
    }

    func lockShared() { pthread_rwlock_rdlock(rwlock) }
    func lockExclusive() { pthread_rwlock_wrlock(rwlock) }
    func unlock() { pthread_rwlock_unlock(rwlock) }
}
