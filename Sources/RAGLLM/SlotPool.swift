internal import Foundation
internal import RAGCore

/// The sessions a generator's generations run on, one each at a time (llama.cpp's server calls
/// them slots): each holds its own KV cache, so a generation that follows another on the same
/// slot reuses the tokens their prompts share. Made on first use. Slot 0 is the engine of the
/// batched passes (its threads and scratch buffers run them all); the others are caches only.
final class SlotPool: @unchecked Sendable {
    let count: Int
    private let make: (_ index: Int) -> Session
    private let condition = NSCondition()
    private var sessions: [Session] = []
    private var busy: [Bool]

    init(count: Int, make: @escaping (_ index: Int) -> Session) {
        self.count = max(1, count)
        self.make = make
        busy = Array(repeating: false, count: self.count)
    }

    /// Slot 0, made if need be: the session that runs the passes.
    var engine: Session {
        condition.lock()
        defer { condition.unlock() }
        made()
        return sessions[0]
    }

    private func made() {
        if sessions.isEmpty { sessions = (0..<count).map(make) }
    }

    /// A free slot for `prompt` — the one whose cached tokens share the longest start with it —
    /// waiting for one to be released when all are busy (`cancelled` polled meanwhile).
    func acquire(for prompt: [Int32], cancelled: () -> Bool) throws -> (index: Int, session: Session) {
        condition.lock()
        defer { condition.unlock() }
        made()
        while true {
            let free = busy.indices.filter { !busy[$0] }
            if let best = free.max(by: { shared(sessions[$0].history, prompt) < shared(sessions[$1].history, prompt) }) {
                busy[best] = true
                return (best, sessions[best])
            }
            if cancelled() { throw CancellationError() }
            _ = condition.wait(until: Date().addingTimeInterval(0.05))
        }
    }

    func release(_ index: Int) {
        condition.lock()
        busy[index] = false
        condition.signal()
        condition.unlock()
    }

    private func shared(_ a: [Int32], _ b: [Int32]) -> Int {
        var n = 0
        while n < min(a.count, b.count), a[n] == b[n] { n += 1 }
        return n
    }
}
