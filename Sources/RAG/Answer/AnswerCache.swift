public import Foundation
internal import Synchronization

/// Answers kept by the question's embedding: a new question within `threshold` cosine similarity
/// of a kept one, asked with the same options of the same index revision, gets its answer.
/// Entries expire after `ttl` seconds; a new index revision drops them all; past `capacity` the
/// least recently used go.
public final class AnswerCache: Sendable {
    public let threshold: Double
    public let ttl: TimeInterval
    public let capacity: Int

    struct Entry {
        var vector: [Float]
        var key: String
        var created: Date
        var used: Date
        var result: AskResult
    }
    private struct State {
        var revision: Int64 = -1
        var entries: [Entry] = []
        var hits = 0
        var misses = 0
    }
    private let state = Mutex(State())

    public init(threshold: Double = 0.95, ttl: TimeInterval = 3600, capacity: Int = 256) {
        self.threshold = threshold
        self.ttl = ttl
        self.capacity = capacity
    }

    public var count: Int { state.withLock { $0.entries.count } }
    public var hits: Int { state.withLock { $0.hits } }
    public var misses: Int { state.withLock { $0.misses } }

    /// The kept answer nearest to `vector` for these options and this revision, if close enough.
    public func lookup(_ vector: [Float], key: String, revision: Int64, now: Date = Date()) -> AskResult? {
        state.withLock { state in
            Self.expire(&state, revision: revision, now: now, ttl: ttl)
            var best: (index: Int, similarity: Double)?
            for (i, entry) in state.entries.enumerated() where entry.key == key && entry.vector.count == vector.count {
                let similarity = Double(zip(entry.vector, vector).reduce(Float(0)) { $0 + $1.0 * $1.1 })
                if similarity >= threshold, similarity > (best?.similarity ?? -2) { best = (i, similarity) }
            }
            guard let best else {
                state.misses += 1
                return nil
            }
            state.hits += 1
            state.entries[best.index].used = now
            return state.entries[best.index].result
        }
    }

    public func insert(_ vector: [Float], key: String, revision: Int64, result: AskResult, now: Date = Date()) {
        guard capacity > 0 else { return }
        state.withLock { state in
            Self.expire(&state, revision: revision, now: now, ttl: ttl)
            state.entries.append(Entry(vector: vector, key: key, created: now, used: now, result: result))
            if state.entries.count > capacity, let oldest = state.entries.indices.min(by: { state.entries[$0].used < state.entries[$1].used }) {
                state.entries.remove(at: oldest)
            }
        }
    }

    private static func expire(_ state: inout State, revision: Int64, now: Date, ttl: TimeInterval) {
        if state.revision != revision {
            state.entries.removeAll()
            state.revision = revision
        }
        state.entries.removeAll { now.timeIntervalSince($0.created) > ttl }
    }
}
