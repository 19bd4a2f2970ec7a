#if canImport(Glibc)
internal import Glibc
#endif
internal import Synchronization

/// The niceness of the threads that run long computations (a generation and its worker
/// threads). `rag serve` raises it so that, when the two cores are saturated, the short requests
/// (`/healthz`, searches, uploads) preempt a generation instead of queueing behind its spinning
/// threads; alone on the machine a niced thread runs as fast. 0 (the default) leaves threads as
/// they are.
public enum ThreadPriority {
    private static let backgroundNice = Atomic<Int32>(0)

    /// The niceness (0–19) given to computation threads started from now on.
    public static var background: Int32 {
        get { backgroundNice.load(ordering: .relaxed) }
        set { backgroundNice.store(max(0, min(19, newValue)), ordering: .relaxed) }
    }

    /// Gives the calling thread the background niceness (Linux sets niceness per thread).
    public static func applyBackground() {
        let nice = background
        guard nice > 0 else { return }
        #if os(Linux)
        // Linux keeps niceness per thread; `who` 0 is the calling thread (setpriority(2), BUGS).
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
        #endif
    }
}
