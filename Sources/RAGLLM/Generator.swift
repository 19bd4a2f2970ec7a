internal import Foundation
public import RAGCore
internal import Synchronization

/// Runs generations on one model, one at a time, keeping the last session: a prompt that starts
/// with the tokens of the previous one reuses their KV cache. Fixed prefixes the caller marks
/// (`GenerationOptions.keepPrefix`: a template's system text and examples) are kept apart, up to
/// `keptPrefixes` of them, most recently used first, and restored for any prompt that starts
/// with one.
public final class Generator: TextGenerator {
    public let model: LanguageModel
    public let contextLength: Int
    public let threads: Int
    public let keptPrefixes: Int
    private struct State {
        var session: Session?
        var prefixes: PrefixCache
    }
    private let state: Mutex<State>

    public init(model: LanguageModel, contextLength: Int = 2048, threads: Int? = nil, keptPrefixes: Int = 8) {
        self.model = model
        self.contextLength = contextLength
        self.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        self.keptPrefixes = keptPrefixes
        state = Mutex(State(prefixes: PrefixCache(capacity: keptPrefixes)))
    }

    /// The prefixes kept (token counts, most recently used first).
    public var keptPrefixLengths: [Int] { state.withLock { $0.prefixes.lengths } }

    public var chatTemplate: ChatTemplate { ChatTemplate(ggufTemplate: model.chatTemplate) }

    public var modelName: String { URL(fileURLWithPath: model.file.path).deletingPathExtension().lastPathComponent }

    public func renderChat(_ messages: [ChatMessage]) -> String { chatTemplate.render(messages) }

    public func tokenize(_ text: String) -> [Int32] { model.tokenizer.encode(text) }

    /// Generates after `prompt` (token ids), calling `emit` with final text pieces as they
    /// come. `cancelled` is polled between batches and tokens.
    public func generate(
        prompt: [Int32], options: GenerationOptions, emit: (String) -> Void = { _ in }, cancelled: @escaping () -> Bool = { false }
    ) throws -> GenerationResult {
        guard !prompt.isEmpty else { throw RAGError(.invalidInput, "the prompt is empty: give at least one token") }
        guard !model.file.changedOnDisk else {
            throw RAGError(.model, "\(model.file.path) changed on disk after it was loaded (written, truncated, replaced or removed); load the model again (restart rag) rather than compute with weights that moved under it")
        }
        guard prompt.count < contextLength else {
            throw RAGError(.invalidInput, "the prompt has \(prompt.count) tokens; the context holds \(contextLength) (prompt and answer together): shorten the prompt or raise --context")
        }
        return try state.withLock { state in
            let session: Session
            if let existing = state.session, existing.contextLength == contextLength {
                session = existing
            } else {
                session = Session(model: model, contextLength: contextLength, threads: threads)
                state.session = session
            }
            return try run(session, prompt: prompt, options: options, prefixes: &state.prefixes, cancelled: cancelled, emit: emit)
        }
    }

    /// The prompt after the longest prefix already known (the session's history or a kept
    /// prefix), then the answer.
    private func run(
        _ session: Session, prompt: [Int32], options: GenerationOptions, prefixes: inout PrefixCache,
        cancelled: () -> Bool, emit: (String) -> Void
    ) throws -> GenerationResult {
        let start = DispatchTime.now().uptimeNanoseconds
        let reused = prefixes.prepare(session, for: prompt)
        do {
            try session.evaluate(Array(prompt[reused...]), cancelled: cancelled)
        } catch {
            session.truncate(to: 0)
            throw error
        }
        prefixes.keep(session, prompt: prompt, count: options.keepPrefix)
        var result = GenerationResult(
            promptTokens: prompt, reusedPromptTokens: reused, tokens: [], text: "", stopReason: .maxTokens,
            timeToFirstToken: 0, promptSeconds: Self.seconds(since: start), decodeSeconds: 0, decodedTokens: 0)
        try decode(session, options: options, budget: min(options.maxTokens, contextLength - prompt.count), start: start, into: &result, cancelled: cancelled, emit: emit)
        return result
    }

    /// Samples, emits and evaluates token after token until the end of generation, a stop
    /// string, the budget or cancellation.
    private func decode(
        _ session: Session, options: GenerationOptions, budget: Int, start: UInt64, into result: inout GenerationResult,
        cancelled: () -> Bool, emit: (String) -> Void
    ) throws {
        var sampler = Sampler(options.sampling)
        var text = TextAssembler(stop: options.stop)
        var decodeStart: UInt64 = 0
        while true {
            if cancelled() { result.stopReason = .cancelled; break }
            let next: Int32
            if options.ignoreEndOfGeneration {
                var logits = session.logits  // a copy only then
                for id in model.tokenizer.endOfGeneration where Int(id) < logits.count { logits[Int(id)] = -.infinity }
                next = sampler.sample(logits, history: session.history[...])
            } else {
                next = sampler.sample(session.logits, history: session.history[...])
            }
            if result.tokens.isEmpty {
                result.timeToFirstToken = Self.seconds(since: start)
                decodeStart = DispatchTime.now().uptimeNanoseconds
            }
            if model.tokenizer.endOfGeneration.contains(next) { result.stopReason = .endOfGeneration; break }
            result.tokens.append(next)
            if let piece = text.append(model.tokenizer.piece(next)) { emit(piece) }
            if text.stopped { result.stopReason = .stopString; break }
            if result.tokens.count >= budget { result.stopReason = .maxTokens; break }
            try session.evaluate([next], cancelled: cancelled)
            result.decodedTokens += 1
        }
        if decodeStart > 0 { result.decodeSeconds = Self.seconds(since: decodeStart) }
        if let rest = text.finish() { emit(rest) }
        result.text = text.text
    }

    private static func seconds(since t: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9 }

    /// The same as a stream of events; cancelling the consuming task (or dropping the stream)
    /// stops the generation at the next token.
    public func stream(prompt: [Int32], options: GenerationOptions) -> AsyncThrowingStream<GenerationEvent, any Error> {
        ThreadStream.make { yield, cancelled in
            let result = try self.generate(prompt: prompt, options: options, emit: { yield(.text($0)) }, cancelled: cancelled)
            yield(.finished(result))
        }
    }
}
