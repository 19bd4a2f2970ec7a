public import Foundation
public import Testing

/// Threads of their own for the tests that compute, sleep or wait without awaiting.
///
/// Swift's concurrency pool has one thread per core: two here. A test body that runs a model
/// for a minute, or sleeps, holds one of them for that long, and all tests share one process:
/// two such tests at once left the server tests' handlers and hang-up watches waiting minutes
/// for a thread (in CI a question took over 120 s to reach a generator that was free). A suite
/// marked `.onTestThreads` runs each of its tests with `TestThreads.executor` as its task
/// executor, so the pool stays free for the work that awaits.
public final class TestThreads: TaskExecutor, @unchecked Sendable {
    /// As many threads as the pool has: the heavy tests run two at a time, as they did on it.
    public static let executor = TestThreads(count: max(2, ProcessInfo.processInfo.activeProcessorCount))

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init(count: Int) {
        for index in 0..<count {
            // The name is set by the thread itself: set before `start()` it is lost on Linux.
            Thread { [unowned self] in
                Thread.current.name = "test thread \(index + 1)"
                self.run()
            }.start()
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Runs each test of a suite on `TestThreads.executor` instead of Swift's concurrency pool.
public struct OnTestThreads: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? { testCase == nil ? nil : self }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(TestThreads.executor) { try await function() }
    }
}

extension Trait where Self == OnTestThreads {
    /// The suite's tests run on threads of their own (`TestThreads`), not Swift's concurrency pool.
    public static var onTestThreads: Self { OnTestThreads() }
}
