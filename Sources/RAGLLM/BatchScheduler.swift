internal import Foundation
internal import RAGCore

/// Iteration-level scheduling (Orca, Yu et al. 2022; "continuous batching"): the generations
/// running on a model's slots hand each evaluation they need — the next token, a draft to
/// verify, their prompt — to the scheduler, and every forward pass takes what all of them have
/// pending, so the weights are read once for all of them. A generation that joins or leaves
/// does so between two passes.
///
/// A prompt is taken `chunk` tokens a pass while other sequences decode (chunked prefill,
/// Sarathi, Agrawal et al. 2023): their tokens ride along in the prompt's passes instead of
/// waiting for all of it. Alone, a prompt goes in passes as large as the engine takes.
///
/// No thread of its own: the submitter that finds the pass ready runs it (on the engine
/// session's workers) while the others wait. A pass is ready when every running generation has
/// something pending, or when `gather` has passed since the oldest request or the last pass,
/// whichever is later (one that is still sampling or emitting text does not hold the others up
/// longer).
final class BatchScheduler: @unchecked Sendable {
    /// The session whose threads and scratch buffers run every pass (the slots make it on
    /// first use).
    private let makeEngine: () -> Session
    /// Most prompt tokens a pass takes while other sequences decode.
    let chunk: Int
    /// Longest a pass waits for a running generation that has nothing pending, in seconds.
    let gather: Double

    private final class Request {
        let session: Session
        var tokens: ArraySlice<Int32>
        let logits: Session.LogitRows
        let prompt: Bool
        let arrived = Date()
        /// In the pass running now.
        var taken = 0
        var done = false
        var error: (any Error)?

        init(_ item: Session.BatchItem, prompt: Bool) {
            session = item.session
            tokens = item.tokens[...]
            logits = item.logits
            self.prompt = prompt
        }
    }

    private let condition = NSCondition()
    private var pending: [Request] = []
    private var passRunning = false
    /// When the last pass ended: the generations in it are choosing their next tokens, so the
    /// next pass waits for them from then on, not from when the others' requests arrived
    /// (which was during that pass: without this, two generations fall into turns).
    private var lastPass = Date.distantPast
    /// Generations between `begin()` and `end()`.
    private var running = 0
    /// Passes run, and rows in them (for the benchmark and the tests).
    private(set) var passes = 0, rows = 0, widest = 0

    init(engine: @escaping () -> Session, chunk: Int = 64, gather: Double = 0.005) {
        makeEngine = engine
        self.chunk = max(1, chunk)
        self.gather = gather
    }

    /// The session that runs the passes.
    var engine: Session { makeEngine() }

    /// A generation starts on a slot: passes wait for it too from now on.
    func begin() {
        condition.lock()
        running += 1
        condition.unlock()
    }

    /// The generation of a slot ended.
    func end() {
        condition.lock()
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Generations running now.
    var runningCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return running
    }

    /// What the pass counters say: (passes, rows, most rows in one pass).
    var counters: (passes: Int, rows: Int, widest: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (passes, rows, widest)
    }

    /// Evaluates `item` in the coming passes (all of it in one unless `prompt`, which may be
    /// taken in chunks) and returns when it is done. `cancelled` is polled while it waits; a
    /// cancelled prompt may have been evaluated in part (the caller truncates).
    func evaluate(_ item: Session.BatchItem, prompt: Bool = false, cancelled: () -> Bool = { false }) throws {
        guard !item.tokens.isEmpty else { return }
        let request = Request(item, prompt: prompt)
        condition.lock()
        defer { condition.unlock() }
        pending.append(request)
        condition.broadcast()
        while !request.done {
            if request.taken == 0, cancelled() {
                pending.removeAll { $0 === request }
                throw CancellationError()
            }
            let now = Date()
            if !passRunning, let batch = nextPass(now: now) {
                run(batch)
                continue
            }
            // Wake for the gathering deadline, or to poll `cancelled`.
            let since = max(pending.first?.arrived ?? now, lastPass)
            _ = condition.wait(until: min(now.addingTimeInterval(0.05), max(now.addingTimeInterval(0.0005), since.addingTimeInterval(gather))))
        }
        if let error = request.error { throw error }
    }

    /// The requests of the next pass and the tokens each gives it, once the pass is ready.
    private func nextPass(now: Date) -> [(Request, Int)]? {
        guard let oldest = pending.first else { return nil }
        guard pending.count >= running || now.timeIntervalSince(max(oldest.arrived, lastPass)) >= gather else { return nil }
        let engine = self.engine
        var batch: [(Request, Int)] = []
        var rows = 0
        for request in pending where !request.prompt {
            let count = min(request.tokens.count, engine.batchSize - rows)
            guard count == request.tokens.count else { continue }
            batch.append((request, count))
            rows += count
        }
        // Prompts in arrival order: a chunk while others decode, else what the engine takes. A
        // prompt within half a chunk of its end is taken whole: its few last tokens would cost
        // the others a pass of their own.
        let prompts = pending.filter(\.prompt)
        var room = engine.batchSize - rows
        var budget = min(room, running > prompts.count ? chunk : engine.batchSize)
        for request in prompts where budget > 0 {
            let count = request.tokens.count <= min(room, budget + chunk / 2) ? request.tokens.count : min(request.tokens.count, budget)
            batch.append((request, count))
            budget -= count
            room -= count
        }
        return batch.isEmpty ? nil : batch
    }

    /// Runs one pass (the lock released meanwhile) and settles its requests.
    private func run(_ batch: [(Request, Int)]) {
        passRunning = true
        let items = batch.map { request, count in
            request.taken = count
            let last = count == request.tokens.count
            return Session.BatchItem(request.session, Array(request.tokens.prefix(count)), logits: last ? request.logits : .none)
        }
        let engine = self.engine
        condition.unlock()
        var failure: (any Error)?
        do { try engine.evaluate(items) } catch { failure = error }
        condition.lock()
        passRunning = false
        lastPass = Date()
        passes += 1
        let width = items.reduce(0) { $0 + $1.tokens.count }
        rows += width
        widest = max(widest, width)
        for (request, count) in batch {
            request.taken = 0
            request.tokens = request.tokens.dropFirst(count)
            if failure != nil || request.tokens.isEmpty {
                request.done = true
                request.error = failure
                pending.removeAll { $0 === request }
            }
        }
        condition.broadcast()
    }
}
