public import Foundation
public import RAGCore
internal import Synchronization

/// A deterministic twin of the GGUF generator for tests: it writes the reply its script gives
/// for the prompt, a piece (a word with the spaces before it) per token, optionally `tokenDelay`
/// seconds apart so a test can hold the generator busy. Chats are rendered as ChatML; tokens
/// are pieces numbered in order of first sight, so the same text always gives the same ids.
/// It honours `maxTokens`, stop strings, `ignoreEndOfGeneration` (filler after the reply) and
/// cancellation, as the real one does. With a `gate`, each generation waits for it to open
/// before its first token, so a test holds the generator busy for exactly as long as it needs.
public final class ScriptedGenerator: TextGenerator {
    public let modelName: String
    public let contextLength: Int
    public let tokenDelay: Double
    public let gate: Gate?
    private let script: @Sendable (_ prompt: String, _ sampling: SamplingOptions) -> String
    private let state = Mutex(State())

    private struct State {
        var ids: [String: Int32] = [:]
        var pieces: [String] = []
        var prompts: [String] = []
    }

    /// A latch a test opens once: generations started before wait for it, later ones pass.
    public final class Gate: Sendable {
        private let opened = Atomic<Bool>(false)
        public init() {}
        public var isOpen: Bool { opened.load(ordering: .acquiring) }
        public func open() { opened.store(true, ordering: .releasing) }
    }

    /// `script` gets the prompt's text and returns the whole reply.
    public convenience init(
        modelName: String = "scripted", contextLength: Int = 2048, tokenDelay: Double = 0, gate: Gate? = nil,
        script: @escaping @Sendable (_ prompt: String) -> String = { _ in "The sources answer this [1]." }
    ) {
        self.init(modelName: modelName, contextLength: contextLength, tokenDelay: tokenDelay, gate: gate, sampled: { prompt, _ in script(prompt) })
    }

    /// `sampled` also gets the sampling options: a twin whose replies differ by seed or temperature.
    public init(
        modelName: String = "scripted", contextLength: Int = 2048, tokenDelay: Double = 0, gate: Gate? = nil,
        sampled: @escaping @Sendable (_ prompt: String, _ sampling: SamplingOptions) -> String
    ) {
        self.modelName = modelName
        self.contextLength = contextLength
        self.tokenDelay = tokenDelay
        self.gate = gate
        self.script = sampled
    }

    /// The prompts generated after, oldest first.
    public var prompts: [String] { state.withLock { $0.prompts } }

    public func renderChat(_ messages: [ChatMessage]) -> String {
        messages.map { "<|im_start|>\($0.role.rawValue)\n\($0.content)<|im_end|>\n" }.joined() + "<|im_start|>assistant\n"
    }

    /// Runs of non-space characters, each with the white space before it.
    static func pieces(_ text: String) -> [String] {
        var pieces: [String] = [], current = ""
        for c in text {
            if !c.isWhitespace, let last = current.last, !last.isWhitespace {
                current.append(c)
            } else if c.isWhitespace, let last = current.last, !last.isWhitespace {
                pieces.append(current)
                current = String(c)
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// `LiteralText` marks are dropped, as the real tokenizer drops them.
    public func tokenize(_ text: String) -> [Int32] {
        let pieces = Self.pieces(LiteralText.strip(text))
        return state.withLock { s in
            pieces.map { piece in
                if let id = s.ids[piece] { return id }
                let id = Int32(s.pieces.count)
                s.ids[piece] = id
                s.pieces.append(piece)
                return id
            }
        }
    }

    public func generate(
        prompt: [Int32], options: GenerationOptions, emit: (String) -> Void, cancelled: @escaping () -> Bool
    ) throws -> GenerationResult {
        guard !prompt.isEmpty else { throw RAGError(.invalidInput, "the prompt is empty: give at least one token") }
        guard prompt.count < contextLength else {
            throw RAGError(.invalidInput, "\(prompt.count) prompt tokens do not fit the context of \(contextLength) tokens")
        }
        let start = Date()
        let text = state.withLock { s in
            let text = prompt.map { s.pieces[Int($0)] }.joined()
            s.prompts.append(text)
            return text
        }
        var reply = Self.pieces(script(text, options.sampling))
        if options.ignoreEndOfGeneration {
            while reply.count < options.maxTokens { reply.append(" more") }
        }
        var result = GenerationResult(
            promptTokens: prompt, reusedPromptTokens: 0, tokens: [], text: "", stopReason: .endOfGeneration,
            timeToFirstToken: 0, promptSeconds: 0, decodeSeconds: 0, decodedTokens: 0)
        while let gate, !gate.isOpen, !cancelled() { Thread.sleep(forTimeInterval: 0.002) }
        for piece in reply {
            if result.tokens.count == options.maxTokens { result.stopReason = .maxTokens; break }
            if cancelled() { result.stopReason = .cancelled; break }
            if tokenDelay > 0 { Thread.sleep(forTimeInterval: tokenDelay) }
            let next = result.text + piece
            if let stop = options.stop.compactMap({ next.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
                let kept = String(next[..<stop.lowerBound])
                if kept.count > result.text.count { emit(String(kept.dropFirst(result.text.count))) }
                result.text = kept
                result.stopReason = .stopString
                break
            }
            result.tokens += tokenize(piece)
            result.text = next
            if result.tokens.count == 1 { result.timeToFirstToken = Date().timeIntervalSince(start) }
            emit(piece)
        }
        result.decodedTokens = max(0, result.tokens.count - 1)
        result.decodeSeconds = Date().timeIntervalSince(start) - result.timeToFirstToken
        return result
    }
}
