internal import Foundation
internal import RAGCore

/// A smaller model of the same vocabulary that drafts for the target (speculative decoding,
/// Leviathan et al. 2023; Chen et al. 2023): it proposes greedily, stopping early when its own
/// top probability falls below `minProbability` (a guess the target would likely reject costs
/// a verification row), and keeps its KV cache in step with the target's history.
final class DraftModel: @unchecked Sendable {
    let model: LanguageModel
    let session: Session
    let minProbability: Float
    let maxDraft: Int

    init(model: LanguageModel, contextLength: Int, threads: Int, minProbability: Float = 0.5, maxDraft: Int = 8) {
        self.model = model
        session = Session(model: model, contextLength: contextLength, threads: threads)
        self.minProbability = minProbability
        self.maxDraft = maxDraft
    }

    /// Refuses a draft whose tokens are not the target's: its ids would mean other text.
    static func check(_ draft: LanguageModel, for target: LanguageModel) throws {
        guard draft.tokenizer.tokens == target.tokenizer.tokens else {
            throw RAGError(.invalidInput, "the draft model \(draft.file.path) has another vocabulary (\(draft.tokenizer.vocabularySize) tokens) than the target \(target.file.path) (\(target.tokenizer.vocabularySize)); a draft must share the target's tokenizer (e.g. base drafting for large)")
        }
    }

    /// Brings the draft's cache to `tokens` (all evaluated but the last, which is evaluated too
    /// so its logits are there): the common prefix is kept, the rest evaluated.
    func follow(_ tokens: [Int32]) throws {
        var shared = 0
        let history = session.history
        while shared < min(history.count, tokens.count - 1), history[shared] == tokens[shared] { shared += 1 }
        session.truncate(to: shared)
        try session.evaluate(Array(tokens[shared...]))
    }

    /// Up to `limit` draft tokens after `tokens` (the target's history and its chosen next
    /// token); the draft's workers are parked afterwards, as the target runs next.
    func propose(after tokens: [Int32], limit: Int) throws -> [Int32] {
        defer { session.rest() }
        try follow(tokens)
        var draft: [Int32] = []
        let vocabulary = model.tokenizer.vocabularySize
        while draft.count < min(limit, maxDraft) {
            let (best, probability) = Self.top(session.logits, count: vocabulary)
            guard probability >= minProbability, !model.tokenizer.endOfGeneration.contains(best) else { break }
            draft.append(best)
            if draft.count == min(limit, maxDraft) { break }
            try session.evaluate([best])
        }
        return draft
    }

    /// The most likely token among the first `count` and its softmax probability.
    static func top(_ logits: [Float], count: Int) -> (Int32, Float) {
        var best = 0
        for i in 1..<count where logits[i] > logits[best] { best = i }
        var sum: Float = 0
        let top = logits[best]
        for i in 0..<count { sum += expf(logits[i] - top) }
        return (Int32(best), 1 / sum)
    }
}
