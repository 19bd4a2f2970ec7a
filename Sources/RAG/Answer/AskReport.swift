public import RAGCore

/// An answer as `rag ask --json` and `POST /v1/ask` give it (keys in snake case when encoded
/// with `.convertToSnakeCase`).
public struct AskReport: Encodable, Sendable {
    public struct Citation: Encodable, Sendable {
        public var n: Int
        public var document: String
        public var heading: String
        public var chunkId: Int64
        public var chunkIds: [Int64]
        public var text: String
    }
    public struct Timings: Encodable, Sendable {
        public var retrieveMs: Double
        public var promptTokens: Int
        public var reusedPromptTokens: Int
        public var ttftMs: Double
        public var decodeTokS: Double
        public var completionTokens: Int
    }
    public var answer: String
    public var reasoning: String?
    public var citations: [Citation]
    /// Each marker in the answer: the source's number, the sentence it stands for and the
    /// marker's own span (code-point offsets), and whether the check added it.
    public var citationSpans: [CitationCheck.Citation]
    /// Markers the model wrote that point to no source (removed from the answer).
    public var removedCitations: [Int]
    public var timings: Timings
    public var cached: Bool
    public var abstained: Bool
    /// The model answered that the sources do not say ("I don't know").
    public var declined: Bool
    /// Why generation stopped: eog, stop, length, cancelled; nil when the model was not called.
    public var stop: String?
    /// How speculative decoding went; nil when the model was not called.
    public var speculation: SpeculationReport?
    /// Self-consistency voting; nil for a single answer.
    public var votes: VoteReport?
    /// A follow-up's question made to stand alone (what retrieval searched with); nil otherwise.
    public var standaloneQuestion: String?

    public init(_ result: AskResult, showReasoning: Bool) {
        let g = result.generation
        answer = result.answer
        reasoning = showReasoning && result.fullText != result.answer ? result.fullText : nil
        citations = Self.citations(result.sources)
        citationSpans = result.citationSpans
        removedCitations = result.removedCitations
        timings = Timings(
            retrieveMs: result.retrieveMilliseconds.rounded(places: 1), promptTokens: g?.promptTokens.count ?? 0,
            reusedPromptTokens: g?.reusedPromptTokens ?? 0, ttftMs: ((g?.timeToFirstToken ?? 0) * 1000).rounded(places: 1),
            decodeTokS: (g?.decodeTokensPerSecond ?? 0).rounded(places: 1), completionTokens: g?.tokens.count ?? 0)
        cached = result.cached
        abstained = result.abstained
        declined = result.declined
        stop = g?.stopReason.rawValue
        speculation = g?.speculation
        votes = result.votes
        standaloneQuestion = result.standaloneQuestion
    }

    public static func citations(_ sources: [Passage]) -> [Citation] {
        sources.map { Citation(n: $0.n, document: $0.document, heading: $0.heading, chunkId: $0.chunkIDs.first?.rawValue ?? 0, chunkIds: $0.chunkIDs.map { $0.rawValue }, text: $0.text) }
    }
}
