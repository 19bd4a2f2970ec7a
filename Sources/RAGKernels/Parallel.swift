internal import Dispatch

/// A value handed to worker threads on the caller's promise that the threads touch disjoint
/// parts of it (raw pointers into scratch buffers, mostly).
public struct UnsafeTransfer<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}

public enum Parallel {
    /// Runs `body(item)` for every item in `0..<count` on up to `threads` threads, items strided
    /// over the threads; `body` also gets the thread's index (for per-thread scratch).
    public static func forEach(_ count: Int, threads: Int, _ body: @Sendable (_ item: Int, _ thread: Int) -> Void) {
        let threads = max(1, min(threads, count))
        if threads == 1 {
            for item in 0..<count { body(item, 0) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            var item = thread
            while item < count {
                body(item, thread)
                item += threads
            }
        }
    }
}
