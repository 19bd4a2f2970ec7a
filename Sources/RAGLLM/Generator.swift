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
        var prefixes: [KVSnapshot] = []
    }
    private let state: Mutex<State>

    public init(model: LanguageModel, contextLength: Int = 2048, threads: Int? = nil, keptPrefixes: Int = 8) {
        self.model = model
        self.contextLength = contextLength
        self.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        self.keptPrefixes = keptPrefixes
        state = Mutex(State())
    }

    /// The prefixes kept (token counts, most recently used first).
    public var keptPrefixLengths: [Int] { state.withLock { $0.prefixes.map(\.tokens.count) } }

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

    private func run(
        _ session: Session, prompt: [Int32], options: GenerationOptions, prefixes: inout [KVSnapshot],
        cancelled: () -> Bool, emit: (String) -> Void
    ) throws -> GenerationResult {
        let start = DispatchTime.now().uptimeNanoseconds
        func seconds(since t: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9 }
        // Reuse the cached prefix, but always recompute the last prompt token (its logits).
        let usable = prompt.count - 1
        var shared = 0
        while shared < min(session.history.count, usable), session.history[shared] == prompt[shared] { shared += 1 }
        // A kept prefix that covers more of the prompt than the session's history does.
        if let best = prefixes.indices.filter({ prefixes[$0].tokens.count > shared && prefixes[$0].tokens.count <= usable && prompt.starts(with: prefixes[$0].tokens) })
            .max(by: { prefixes[$0].tokens.count < prefixes[$1].tokens.count }) {
            let snapshot = prefixes.remove(at: best)
            prefixes.insert(snapshot, at: 0)
            session.restore(snapshot)
            shared = snapshot.tokens.count
        } else {
            session.truncate(to: shared)
        }
        do {
            try session.evaluate(Array(prompt[shared...]), cancelled: cancelled)
        } catch {
            session.truncate(to: 0)
            throw error
        }
        let keep = min(options.keepPrefix, usable)
        if keep > 0, !prefixes.contains(where: { $0.tokens.count == keep && prompt.starts(with: $0.tokens) }) {
            prefixes.insert(session.snapshot(count: keep), at: 0)
            if prefixes.count > keptPrefixes { prefixes.removeLast(prefixes.count - keptPrefixes) }
        }
        let promptSeconds = seconds(since: start)
        var result = GenerationResult(
            promptTokens: prompt, reusedPromptTokens: shared, tokens: [], text: "", stopReason: .maxTokens,
            timeToFirstToken: 0, promptSeconds: promptSeconds, decodeSeconds: 0, decodedTokens: 0)
        var sampler = Sampler(options.sampling)
        var text = TextAssembler(stop: options.stop)
        let budget = min(options.maxTokens, contextLength - prompt.count)
        var decodeStart: UInt64 = 0
        while true {
            if cancelled() { result.stopReason = .cancelled; break }
            let next: Int32
            if options.ignoreEndOfGeneration {
                var logits = session.logits
                for id in model.tokenizer.endOfGeneration where Int(id) < logits.count { logits[Int(id)] = -.infinity }
                next = sampler.sample(logits, history: session.history[...])
            } else {
                next = sampler.sample(session.logits, history: session.history[...])
            }
            if result.tokens.isEmpty {
                result.timeToFirstToken = seconds(since: start)
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
        if decodeStart > 0 { result.decodeSeconds = seconds(since: decodeStart) }
        if let rest = text.finish() { emit(rest) }
        result.text = text.text
        return result
    }

    /// The same as a stream of events; cancelling the consuming task (or dropping the stream)
    /// stops the generation at the next token.
    public func stream(prompt: [Int32], options: GenerationOptions) -> AsyncThrowingStream<GenerationEvent, any Error> {
        ThreadStream.make { yield, cancelled in
            let result = try self.generate(prompt: prompt, options: options, emit: { yield(.text($0)) }, cancelled: cancelled)
            yield(.finished(result))
        }
    }
}

/// Turns token bytes into text pieces that are whole UTF-8 characters and hold back anything that
/// could still become a stop string.
struct TextAssembler {
    let stop: [[UInt8]]
    private var bytes: [UInt8] = []
    private var emitted = 0
    private(set) var stopped = false

    init(stop: [String]) {
        self.stop = stop.filter { !$0.isEmpty }.map { Array($0.utf8) }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Adds a token's bytes; returns the text that became final, if any.
    mutating func append(_ piece: [UInt8]) -> String? {
        bytes += piece
        // A stop string anywhere in the unemitted tail ends the text where it starts.
        let searchFrom = max(0, emitted - (stop.map(\.count).max() ?? 0))
        for s in stop {
            if let at = find(s, from: searchFrom) {
                bytes.removeSubrange(at...)
                stopped = true
                return flush(upTo: bytes.count)
            }
        }
        // Hold back a tail that is a prefix of some stop string.
        var safe = bytes.count
        for s in stop {
            for length in stride(from: min(s.count - 1, bytes.count), through: 1, by: -1)
            where bytes[(bytes.count - length)...].elementsEqual(s[..<length]) {
                safe = min(safe, bytes.count - length)
                break
            }
        }
        return flush(upTo: safe)
    }

    mutating func finish() -> String? {
        flush(upTo: bytes.count, final: true)
    }

    private func find(_ needle: [UInt8], from: Int) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= bytes.count {
            if bytes[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// Emits bytes[emitted..<limit], cut back to a UTF-8 character boundary unless final.
    private mutating func flush(upTo limit: Int, final: Bool = false) -> String? {
        var end = limit
        if !final {
            // Back off an incomplete trailing character.
            var k = end - 1, continuation = 0
            while k >= emitted, k >= 0, bytes[k] & 0xC0 == 0x80, continuation < 3 { k -= 1; continuation += 1 }
            if k >= emitted, k >= 0 {
                let lead = bytes[k]
                let needed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
                if end - k < needed { end = k }
            }
        }
        guard end > emitted else { return nil }
        defer { emitted = end }
        return String(decoding: bytes[emitted..<end], as: UTF8.self)
    }
}
