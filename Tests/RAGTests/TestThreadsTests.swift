import Foundation
import RAGTesting
import Testing

/// The heavy suites run on `TestThreads`, so that the server tests find Swift's concurrency
/// pool free (see `TestThreads`).
@Suite(.onTestThreads) struct TestThreadsTests {
    static var threadName: String? { Thread.current.name }

    @Test func aMarkedSuiteRunsOnTheTestThreadsBeforeAndAfterItAwaits() async throws {
        #expect(Self.threadName?.hasPrefix("test thread") == true, "\(Self.threadName ?? "an unnamed thread")")
        try await Task.sleep(for: .milliseconds(10))
        #expect(Self.threadName?.hasPrefix("test thread") == true, "\(Self.threadName ?? "an unnamed thread")")
    }

    /// A test that waits without awaiting, as a model test computes, holds a test thread, not
    /// one of the pool's: a task on the pool runs meanwhile.
    @Test func aTestThatBlocksLeavesThePoolFree() {
        let ran = DispatchSemaphore(value: 0)
        Task.detached { ran.signal() }
        #expect(ran.wait(timeout: .now() + 30) == .success)
        #expect(Self.threadName?.hasPrefix("test thread") == true)
    }
}
