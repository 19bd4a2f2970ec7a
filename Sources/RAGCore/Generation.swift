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

    public init(
        maxTokens: Int = 256, sampling: SamplingOptions = SamplingOptions(), stop: [String] = [], keepPrefix: Int = 0,
        ignoreEndOfGeneration: Bool = false
    ) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stop = stop
        self.keepPrefix = keepPrefix
        self.ignoreEndOfGeneration = ignoreEndOfGeneration
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
    /// Tokens evaluated one at a time after the prompt.
    public var decodedTokens: Int

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
