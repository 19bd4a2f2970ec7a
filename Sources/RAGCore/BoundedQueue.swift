public import Foundation

/// A first-in first-out hand-over between one producing and one consuming thread, holding at
/// most `capacity` items: a producer that runs ahead waits (back-pressure). The producer ends
/// it with `finish` (or an error the consumer then gets); the consumer can `cancel` it, and
/// the producer's next `push` throws `CancellationError`.
public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    public let capacity: Int
    private let condition = NSCondition()
    private var items: [Element] = []
    private var head = 0
    private var finished = false
    private var cancelled = false
    private var failure: (any Error)?

    public init(capacity: Int) {
        precondition(capacity > 0, "Programmer error: a queue holds at least one item")
        self.capacity = capacity
    }

    /// Waits for room, then appends `item`; throws when the consumer has cancelled.
    public func push(_ item: Element) throws {
        condition.lock()
        defer { condition.unlock() }
        while items.count - head >= capacity && !cancelled { condition.wait() }
        if cancelled { throw CancellationError() }
        items.append(item)
        condition.broadcast()
    }

    /// The producer is done; `error` (if any) is thrown to the consumer after the last item.
    public func finish(throwing error: (any Error)? = nil) {
        condition.lock()
        defer { condition.unlock() }
        finished = true
        failure = error
        condition.broadcast()
    }

    /// The consumer stops: waiting and future pushes throw.
    public func cancel() {
        condition.lock()
        defer { condition.unlock() }
        cancelled = true
        condition.broadcast()
    }

    /// The next item, waiting for one; nil once the producer finished and all were taken.
    public func pop() throws -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !finished { condition.wait() }
        return try take()
    }

    /// The next item if one is waiting, without waiting; nil otherwise.
    public func popIfReady() throws -> Element? {
        condition.lock()
        defer { condition.unlock() }
        return head < items.count ? try take() : nil
    }

    /// Takes the head item (lock held); at the end, the producer's error.
    private func take() throws -> Element? {
        guard head < items.count else {
            if let failure { throw failure }
            return nil
        }
        let item = items[head]
        head += 1
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return item
    }
}
