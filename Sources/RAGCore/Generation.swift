// What a text generator is asked and what it gives back: the vocabulary every generator
// (the local GGUF engine, a remote one, a test twin) and its callers share.

/// A chat turn.
public struct ChatMessage: Sendable, Equatable, Codable {
    public enum Role: String, Sendable, Codable { case system, user, assistant }
    public var role: Role
    public var content: String

    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }
}

/// How the next token is chosen. `temperature` 0 is greedy (argmax, lowest id on ties — what
/// llama.cpp's greedy sampler does). Otherwise llama.cpp's default chain, in its order:
/// repetition penalty → top-k → top-p → min-p → temperature → a draw from the seeded generator.
public struct SamplingOptions: Sendable, Equatable {
    public var temperature: Float = 0
    public var topK = 40
    public var topP: Float = 0.95
    public var minP: Float = 0.05
    /// > 1 discourages tokens seen in the last `repeatLastN` tokens (1: off).
    public var repeatPenalty: Float = 1
    public var repeatLastN = 64
    public var seed: UInt64 = 0

    public init(temperature: Float = 0, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05, repeatPenalty: Float = 1, repeatLastN: Int = 64, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repeatPenalty = repeatPenalty
        self.repeatLastN = repeatLastN
        self.seed = seed
    }
}

public struct GenerationOptions: Sendable {
    public var maxTokens = 256
    public var sampling = SamplingOptions()
    /// Generation stops before any of these strings (they are not part of the text).
    public var stop: [String] = []

    /// The first `keepPrefix` prompt tokens are a fixed prefix (a template's system text and
    /// examples): their KV cache is kept apart and reused by later prompts that start with them,
    /// whatever ran in between.
    public var keepPrefix = 0
    /// Never choose an end-of-generation token: run to `maxTokens` or a stop string (for
    /// benchmarks and tests, as llama.cpp's `ignore_eos`).
    public var ignoreEndOfGeneration = false
    /// Speculative decoding: draft tokens (from the prompt, or a draft model where the generator
    /// has one) verified by the model in one pass. The output is the same token for token; only
    /// the speed changes, and a generator turns it off for a request where it does not pay.
    public var speculate = true
    /// Structured output: the text is JSON this schema allows (sampling is constrained to it,
    /// and the generation ends where the JSON does). Stop strings do not apply then.
    public var schema: JSONSchema?

    public init(
        maxTokens: Int = 256, sampling: SamplingOptions = SamplingOptions(), stop: [String] = [], keepPrefix: Int = 0,
        ignoreEndOfGeneration: Bool = false, speculate: Bool = true, schema: JSONSchema? = nil
    ) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stop = stop
        self.keepPrefix = keepPrefix
        self.ignoreEndOfGeneration = ignoreEndOfGeneration
        self.speculate = speculate
        self.schema = schema
    }
}

/// How speculative decoding went in one generation.
public struct SpeculationReport: Sendable, Equatable, Encodable {
    /// Where drafts came from: "prompt-lookup", a draft model's name, or "off".
    public var drafter = "off"
    /// Passes that verified a draft, tokens proposed, and tokens of them accepted.
    public var passes = 0
    public var drafted = 0
    public var accepted = 0
    /// Matches of prompt lookup not drafted because they would not have paid.
    public var declined = 0
    /// Whether it had turned itself off by the end (drafts did not pay).
    public var switchedOff = false

    public init(drafter: String = "off") { self.drafter = drafter }

    /// The share of draft tokens accepted.
    public var acceptanceRate: Double { drafted > 0 ? Double(accepted) / Double(drafted) : 0 }
    /// Tokens a verification pass produced on average (the accepted ones and the model's own).
    public var tokensPerPass: Double { passes > 0 ? Double(accepted + passes) / Double(passes) : 0 }

    private enum CodingKeys: String, CodingKey { case drafter, passes, drafted, accepted, acceptanceRate, tokensPerPass, declined, switchedOff }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(drafter, forKey: .drafter)
        try c.encode(passes, forKey: .passes)
        try c.encode(drafted, forKey: .drafted)
        try c.encode(accepted, forKey: .accepted)
        try c.encode(acceptanceRate.rounded(places: 3), forKey: .acceptanceRate)
        try c.encode(tokensPerPass.rounded(places: 2), forKey: .tokensPerPass)
        try c.encode(declined, forKey: .declined)
        try c.encode(switchedOff, forKey: .switchedOff)
    }

    /// ", drafts (prompt-lookup): 40 of 60 accepted, 2.1 tokens a pass" for a terminal; empty
    /// when off.
    public var summary: String {
        guard drafter != "off" else { return "" }
        return ", drafts (\(drafter)): \(accepted) of \(drafted) accepted, \((tokensPerPass * 10).rounded() / 10) tokens a pass" + (switchedOff ? ", switched off" : "")
    }
}

public struct GenerationResult: Sendable {
    public enum StopReason: String, Sendable { case endOfGeneration = "eog", stopString = "stop", maxTokens = "length", cancelled }
    public var promptTokens: [Int32]
    /// Prompt tokens taken from a cache (the previous generation's or a kept prefix), not recomputed.
    public var reusedPromptTokens: Int
    public var tokens: [Int32]
    public var text: String
    public var stopReason: StopReason
    /// Seconds from the start to the first token chosen (prompt processing included).
    public var timeToFirstToken: Double
    public var promptSeconds: Double
    public var decodeSeconds: Double
    /// Tokens evaluated after the prompt (one at a time, or several in a verification pass).
    public var decodedTokens: Int
    public var speculation = SpeculationReport()
    /// Structured output: how often the sampled token was refused and the vocabulary masked,
    /// and the seconds the constraint took in all (checks and masks).
    public var constraintMasks = 0
    public var constraintSeconds = 0.0

    public init(
        promptTokens: [Int32], reusedPromptTokens: Int, tokens: [Int32], text: String, stopReason: StopReason,
        timeToFirstToken: Double, promptSeconds: Double, decodeSeconds: Double, decodedTokens: Int
    ) {
        self.promptTokens = promptTokens
        self.reusedPromptTokens = reusedPromptTokens
        self.tokens = tokens
        self.text = text
        self.stopReason = stopReason
        self.timeToFirstToken = timeToFirstToken
        self.promptSeconds = promptSeconds
        self.decodeSeconds = decodeSeconds
        self.decodedTokens = decodedTokens
    }

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens.count - reusedPromptTokens) / promptSeconds : 0 }
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(decodedTokens) / decodeSeconds : 0 }
}

public enum GenerationEvent: Sendable {
    /// Text that is final: whole UTF-8 characters, never part of a stop string.
    case text(String)
    case finished(GenerationResult)
}
