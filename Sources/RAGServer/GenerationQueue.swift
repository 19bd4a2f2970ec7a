internal import Foundation
internal import Synchronization
internal import HTTPTypes

/// Up to `slots` generations at a time (the generator's parallel slots), the rest waiting in
/// arrival order, at most `capacity` of them: past that, `enter` fails at once (the route
/// answers 503 with Retry-After).
final class GenerationQueue: Sendable {
    let slots: Int
    let capacity: Int
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }
    private struct State {
        var running = 0
        var waiting: [Waiter] = []
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())
    /// Called with the requests running and waiting whenever they change.
    let onChange: @Sendable (_ running: Int, _ waiting: Int) -> Void

    init(slots: Int = 1, capacity: Int, onChange: @escaping @Sendable (_ running: Int, _ waiting: Int) -> Void = { _, _ in }) {
        self.slots = max(1, slots)
        self.capacity = capacity
        self.onChange = onChange
    }

    /// Requests running or waiting.
    var depth: Int { state.withLock { $0.running + $0.waiting.count } }

    private func changed() {
        let (running, waiting) = state.withLock { ($0.running, $0.waiting.count) }
        onChange(running, waiting)
    }

    /// Waits for the turn of this request; the ticket gives it back (when released or dropped).
    func enter() async throws -> Ticket {
        let id = state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
        enum Action { case run, wait, full, cancelled }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let action: Action = state.withLock { s in
                    // Cancelled before it could wait (the handler below then found nothing to remove).
                    if Task.isCancelled { return .cancelled }
                    if s.running < slots {
                        s.running += 1
                        return .run
                    }
                    if s.waiting.count >= capacity { return .full }
                    s.waiting.append(Waiter(id: id, continuation: continuation))
                    return .wait
                }
                switch action {
                case .run: continuation.resume()
                case .wait: break
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .full:
                    continuation.resume(throwing: APIError(
                        .serviceUnavailable, "the generation queue is full (\(capacity) waiting); retry later",
                        code: "queue_full", headers: [.retryAfter: "5"]))
                }
            }
        } onCancel: {
            let waiter = state.withLock { s -> Waiter? in
                guard let i = s.waiting.firstIndex(where: { $0.id == id }) else { return nil }
                return s.waiting.remove(at: i)
            }
            waiter?.continuation.resume(throwing: CancellationError())
            changed()
        }
        changed()
        return Ticket(queue: self)
    }

    fileprivate func leave() {
        let next = state.withLock { s -> Waiter? in
            // The slot passes to the first waiter, if any.
            if s.waiting.isEmpty {
                s.running -= 1
                return nil
            }
            return s.waiting.removeFirst()
        }
        next?.continuation.resume()
        changed()
    }

    /// A turn at the generator: released once, explicitly or when dropped.
    final class Ticket: Sendable {
        private let queue: GenerationQueue
        private let released = Atomic<Bool>(false)
        fileprivate init(queue: GenerationQueue) { self.queue = queue }
        func release() {
            if !released.exchange(true, ordering: .acquiringAndReleasing) { queue.leave() }
        }
        deinit { release() }
    }
}
