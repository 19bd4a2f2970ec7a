public import RAGStorage
public import RAGCore

public struct AskOptions: Sendable {
    public var topK = 5
    public var template = "default"
    public var mode: SearchMode = .hybrid
    /// Tokens kept for the answer; the sources get the context minus this and the template.
    public var answerTokens = 256
    /// Below this cosine similarity between the question and its nearest chunk, nothing in the
    /// index is taken to cover the question and the model is not called.
    public var abstainBelow = 0.3
    public var sampling = SamplingOptions()
    /// Keep the template's fixed prefix (system text, examples) computed once and reuse it.
    public var prefixCache = true
    /// Generate to `answerTokens` even past the model's end of generation (benchmarks, tests).
    public var ignoreEndOfGeneration = false
    /// Speculative decoding (the same answer, sooner when drafts are accepted).
    public var speculate = true
    /// Self-consistency: more than 1 takes up to this many answers, the usual one and samples at
    /// `voteTemperature` (seeds `sampling.seed` + 1, + 2, …), and returns the most frequent
    /// (see SelfConsistency).
    public var votes = 1
    public var voteTemperature: Float = 0.7
    /// Only sources from the documents this passes (path glob, tags, ingestion time).
    public var filter: SearchFilter?
    /// A structured answer: JSON this schema allows, always (sampling is constrained to it).
    /// The sources stay numbered in the result for a citations field to point to.
    public var schema: JSONSchema?

    public init() {}
}

public enum AskEvent: Sendable {
    /// Answer text as it is generated.
    case text(String)
    case finished(AskResult)
}

public struct AskResult: Sendable {
    public var answer: String
    /// The model's whole text (with the reasoning, for chain-of-thought templates).
    public var fullText: String
    public var sources: [Passage]
    public var prompt: String
    /// Retrieval found nothing close enough, so the model was not called.
    public var abstained: Bool
    /// The model, given sources, answered that they do not say ("I don't know").
    public var declined = false
    public var retrieveMilliseconds: Double
    public var generation: GenerationResult?
    /// Taken from the answer cache (a near-identical question asked before on this index).
    public var cached = false
    /// Each `[n]` of the answer with the span of the sentence it stands for (after the check).
    public var citationSpans: [CitationCheck.Citation] = []
    /// Numbers the model cited that point to no source (removed from the answer).
    public var removedCitations: [Int] = []
    /// How the answer was voted for (nil: one answer, no vote).
    public var votes: VoteReport?
    /// A follow-up's question as it was made to stand alone and searched with (nil: the
    /// question as asked).
    public var standaloneQuestion: String?
}
