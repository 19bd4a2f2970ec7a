public import RAGCore

/// Holds a generation to a grammar (a `ByteAutomaton`), token by token: a token is allowed when
/// its bytes take the automaton on and leave a way to acceptance within the tokens left (every
/// byte is a token of its own, so `distance` bytes always fit in as many tokens); an
/// end-of-generation token only where the text is complete. The sampled token is checked
/// first; only when it is refused is the vocabulary masked and the choice made again (as
/// llama.cpp does), so a model that follows the grammar by itself pays almost nothing.
public struct TokenConstraint {
    public let automaton: ByteAutomaton
    let tokenizer: BPETokenizer
    public private(set) var state: Int32 = 0
    /// Vocabulary masks made (the sampled token was refused).
    public private(set) var masks = 0

    public init(_ automaton: ByteAutomaton, tokenizer: BPETokenizer) {
        self.automaton = automaton
        self.tokenizer = tokenizer
    }

    /// The fewest bytes (so at most this many tokens) still needed.
    public var distance: Int { automaton.distance(state) }

    /// The text is complete and nothing may follow it.
    public var complete: Bool { automaton.accepts(state) && !automaton.continues(state) }

    /// Whether `token` may come next with `remaining` tokens left, this one included.
    public func allows(_ token: Int32, remaining: Int) -> Bool {
        if tokenizer.endOfGeneration.contains(token) { return automaton.accepts(state) }
        let piece = tokenizer.piece(token)
        guard !piece.isEmpty else { return false }
        let next = automaton.next(state, piece)
        return next >= 0 && automaton.distance(next) <= remaining - 1
    }

    /// Sets every token that may not come next to −∞; false when none may.
    public mutating func mask(_ logits: inout [Float], remaining: Int) -> Bool {
        masks += 1
        var firstBytes = [Bool](repeating: false, count: 256)
        for b in 0..<256 { firstBytes[b] = automaton.next(state, UInt8(b)) >= 0 }
        var any = false
        for id in logits.indices where logits[id] > -.infinity {
            let token = Int32(id)
            let allowed: Bool
            if tokenizer.endOfGeneration.contains(token) {
                allowed = automaton.accepts(state)
            } else {
                let piece = tokenizer.piece(token)
                allowed = !piece.isEmpty && firstBytes[Int(piece[0])] && {
                    let next = automaton.next(state, piece)
                    return next >= 0 && automaton.distance(next) <= remaining - 1
                }()
            }
            if allowed { any = true } else { logits[id] = -.infinity }
        }
        return any
    }

    /// Takes `token` (one `allows` said yes to; an end of generation leaves the state as it is).
    public mutating func advance(_ token: Int32) {
        guard !tokenizer.endOfGeneration.contains(token) else { return }
        state = automaton.next(state, tokenizer.piece(token))
        precondition(state >= 0, "a token the grammar refuses was taken")
    }
}
