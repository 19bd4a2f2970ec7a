/// The KV caches of fixed prompt prefixes (a template's system text and examples, as the caller
/// marks them), most recently used first, at most `capacity`: a prompt that starts with one
/// skips evaluating it.
struct PrefixCache {
    let capacity: Int
    private var snapshots: [KVSnapshot] = []

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The token counts of the prefixes kept, most recently used first.
    var lengths: [Int] { snapshots.map(\.tokens.count) }

    /// Brings `session` to the longest known start of `prompt` — its own history, or a kept
    /// prefix that covers more — but never its last token, whose logits are needed. Returns the
    /// tokens reused.
    mutating func prepare(_ session: Session, for prompt: [Int32]) -> Int {
        let usable = prompt.count - 1
        var shared = 0
        while shared < min(session.history.count, usable), session.history[shared] == prompt[shared] { shared += 1 }
        let covering = snapshots.indices.filter { i in
            let count = snapshots[i].tokens.count
            return count > shared && count <= usable && prompt.starts(with: snapshots[i].tokens)
        }
        guard let best = covering.max(by: { snapshots[$0].tokens.count < snapshots[$1].tokens.count }) else {
            session.truncate(to: shared)
            return shared
        }
        let snapshot = snapshots.remove(at: best)
        snapshots.insert(snapshot, at: 0)
        session.restore(snapshot)
        return snapshot.tokens.count
    }

    /// Keeps the first `count` tokens of `prompt`, just evaluated in `session` (not its last
    /// token), unless that prefix is kept already.
    mutating func keep(_ session: Session, prompt: [Int32], count: Int) {
        let keep = min(count, prompt.count - 1)
        guard keep > 0, !snapshots.contains(where: { $0.tokens.count == keep && prompt.starts(with: $0.tokens) }) else { return }
        snapshots.insert(session.snapshot(count: keep), at: 0)
        if snapshots.count > capacity { snapshots.removeLast(snapshots.count - capacity) }
    }
}
