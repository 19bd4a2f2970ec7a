internal import Foundation
internal import RAGCore
internal import Synchronization

public struct GenerationOptions: Sendable {
    public var maxTokens = 256
    public var sampling = SamplingOptions()
    /// Generation stops before any of these strings (they are not part of the text).
    public var stop: [String] = []

    public init(maxTokens: Int = 256, sampling: SamplingOptions = SamplingOptions(), stop: [String] = []) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stop = stop
    }
}

public struct GenerationResult: Sendable {
    public enum StopReason: String, Sendable { case endOfGeneration = "eog", stopString = "stop", maxTokens = "length", cancelled }
    public var promptTokens: [Int32]
    /// Prompt tokens taken from the cache of the previous generation (not recomputed).
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

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens.count - reusedPromptTokens) / promptSeconds : 0 }
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(decodedTokens) / decodeSeconds : 0 }
}

public enum GenerationEvent: Sendable {
    /// Text that is final: whole UTF-8 characters, never part of a stop string.
    case text(String)
    case finished(GenerationResult)
}

/// Runs generations on one model, one at a time, keeping the last session: a prompt that starts
/// with the tokens of the previous one (a shared system prompt or template prefix) reuses their
/// KV cache.
public final class Generator: Sendable {
    public let model: LanguageModel
    public let contextLength: Int
    public let threads: Int
    private let session: Mutex<Session?>

    public init(model: LanguageModel, contextLength: Int = 2048, threads: Int? = nil) {
        self.model = model
        self.contextLength = contextLength
        self.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        session = Mutex(nil)
    }

    public var chatTemplate: ChatTemplate { ChatTemplate(ggufTemplate: model.chatTemplate) }

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
        return try session.withLock { cached in
            let session: Session
            if let existing = cached, existing.contextLength == contextLength {
                session = existing
            } else {
                session = Session(model: model, contextLength: contextLength, threads: threads)
                cached = session
            }
            return try run(session, prompt: prompt, options: options, cancelled: cancelled, emit: emit)
        }
    }

    private func run(
        _ session: Session, prompt: [Int32], options: GenerationOptions, cancelled: () -> Bool, emit: (String) -> Void
    ) throws -> GenerationResult {
        let start = DispatchTime.now().uptimeNanoseconds
        func seconds(since t: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9 }
        // Reuse the cached prefix, but always recompute the last prompt token (its logits).
        var shared = 0
        while shared < min(session.history.count, prompt.count - 1), session.history[shared] == prompt[shared] { shared += 1 }
        session.truncate(to: shared)
        do {
            try session.evaluate(Array(prompt[shared...]), cancelled: cancelled)
        } catch {
            session.truncate(to: 0)
            throw error
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
            let next = sampler.sample(session.logits, history: session.history[...])
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
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: GenerationEvent.self, throwing: (any Error).self)
        let flag = CancelFlag()
        continuation.onTermination = { _ in flag.set() }
        let thread = Thread { [self] in
            do {
                let result = try generate(prompt: prompt, options: options, emit: { continuation.yield(.text($0)) }, cancelled: { flag.isSet })
                continuation.yield(.finished(result))
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        thread.stackSize = 8 << 20
        thread.start()
        return stream
    }
}

/// A cancel flag shared between the stream's termination handler and the generating thread.
final class CancelFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
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
