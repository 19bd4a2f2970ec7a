public import ArgumentParser
import Foundation
import RAGCore
public import RAGLLM

extension KVCacheType: ExpressibleByArgument {}
extension Session.Attention: ExpressibleByArgument {}

/// `--model`, shared by the commands that load a generator.
struct GeneratorOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The generator: small, base, default (= large) or a .gguf file (default: default, or $RAG_GENERATOR); `rag model list` shows them.", valueName: "name|file"))
    var model: String?
    @Option(name: .customLong("draft-model"), help: ArgumentHelp("A smaller model of the same vocabulary drafting for --model (speculative decoding; e.g. base for large) instead of drafts from the prompt.", valueName: "name|file"))
    var draftModel: String?
    @Flag(name: .customLong("no-speculate"), help: "Decode one token at a time (no draft tokens; the output is the same, only speed differs).")
    var noSpeculate = false
    @Option(name: .customLong("kv-type"), help: ArgumentHelp("How the KV cache stores keys and values: f16, or q8_0 (about half the bytes; answers differ slightly).", valueName: "f16|q8_0"))
    var kvType = KVCacheType.f16

    func validate() throws {
        for value in [model, draftModel].compactMap({ $0 }) {
            do { _ = try ModelCatalog.path(for: value) } catch let error as RAGError { throw ValidationError(error.message) }
        }
        if noSpeculate && draftModel != nil { throw ValidationError("--draft-model and --no-speculate contradict each other; give one") }
    }

    var path: String { Self.resolve(model) ?? LanguageModel.defaultPath }
    var draftPath: String? { Self.resolve(draftModel) }

    private static func resolve(_ value: String?) -> String? { value.map { (try? ModelCatalog.path(for: $0)) ?? $0 } }

    func load() throws -> LanguageModel {
        try LanguageModel.open(path)
    }

    /// The generator these options describe (with its draft model, if any).
    func generator(contextLength: Int, threads: Int? = nil) throws -> Generator {
        let model = try load()
        let context = contextLength
        try Generator.check(model: model, contextLength: context, kvType: kvType)
        guard let draftPath else { return Generator(model: model, contextLength: context, threads: threads, kvType: kvType) }
        return try Generator(model: model, draft: LanguageModel.open(draftPath), contextLength: context, threads: threads, kvType: kvType)
    }
}

/// `rag tokenize`: the model's token ids for a text (special tokens parsed, as prompts are).
struct Tokenize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a model's token ids for a text.")

    @OptionGroup var generator: GeneratorOptions
    @Argument(help: "The text (special tokens such as <|im_start|> are recognised).") var text: String
    @Flag(help: "Print JSON: {\"ids\":[…],\"pieces\":[…]}.") var json = false

    func run() async throws {
        do {
            let gguf = try GGUFFile(path: generator.path)
            let tokenizer = try BPETokenizer(gguf)
            let ids = tokenizer.encode(text)
            let pieces = ids.map { String(decoding: tokenizer.piece($0, special: true), as: UTF8.self) }
            if json {
                struct Output: Encodable { var ids: [Int32]; var pieces: [String] }
                printJSON(Output(ids: ids, pieces: pieces))
            } else {
                for (id, piece) in zip(ids, pieces) { print("\(id)\t\(piece.debugDescription)") }
                printError("\(ids.count) tokens")
            }
        } catch {
            throw fail(error)
        }
    }
}

/// `rag generate`: run the local model on a prompt and stream its text.
struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text with a local GGUF model (streamed; timings on stderr).",
        discussion: "Without --chat the prompt is used as it is (special tokens parsed). With --chat it becomes the user turn of a ChatML conversation (the model's default system message, then the assistant's turn).")

    @OptionGroup var generator: GeneratorOptions
    @Argument(help: "The prompt.") var prompt: String?
    @Option(name: .customLong("prompt-file"), help: ArgumentHelp("Read the prompt from a file, byte for byte.", valueName: "file")) var promptFile: String?
    @Flag(help: "Wrap the prompt in the chat template (ChatML).") var chat = false
    @Option(help: ArgumentHelp("A system message for --chat.", valueName: "text")) var system: String?
    @Option(name: .customLong("max-tokens"), help: "Most tokens to generate.") var maxTokens = 256
    @Option(help: "Sampling temperature; 0 = greedy (deterministic).") var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0: all).") var topK = 40
    @Option(name: .customLong("top-p"), help: "Keep the most likely tokens up to this total probability.") var topP: Float = 0.95
    @Option(name: .customLong("min-p"), help: "Drop tokens less likely than this fraction of the best one.") var minP: Float = 0.05
    @Option(name: .customLong("repeat-penalty"), help: "Penalty for tokens among the last 64 (1: off).") var repeatPenalty: Float = 1
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
    @Option(help: ArgumentHelp("Stop before this text (repeatable).", valueName: "text")) var stop: [String] = []
    @Option(help: "Context size in tokens (prompt + answer).") var context = 2048
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Flag(help: "Print one JSON object at the end instead of streaming.") var json = false

    func validate() throws {
        guard (prompt == nil) != (promptFile == nil) else { throw ValidationError("give a PROMPT or --prompt-file FILE (one of them)") }
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be at least 1") }
        guard temperature >= 0, topP > 0, topP <= 1, minP >= 0, minP < 1, repeatPenalty > 0 else {
            throw ValidationError("sampling options out of range: temperature ≥ 0, 0 < top-p ≤ 1, 0 ≤ min-p < 1, repeat-penalty > 0")
        }
        guard context >= 16 else { throw ValidationError("--context must be at least 16") }
    }

    func run() async throws {
        do {
            var text: String
            if let promptFile {
                guard let data = FileManager.default.contents(atPath: promptFile) else {
                    throw RAGError(.notFound, "\(promptFile): cannot read the prompt file")
                }
                text = String(decoding: data, as: UTF8.self)
            } else {
                text = prompt!
            }
            let engine = try generator.generator(contextLength: context, threads: threads)
            let model = engine.model
            if chat {
                var messages: [ChatMessage] = []
                if let system { messages.append(ChatMessage(.system, system)) }
                messages.append(ChatMessage(.user, text))
                text = engine.chatTemplate.render(messages)
            }
            let ids = model.tokenizer.encode(text)
            let options = GenerationOptions(
                maxTokens: maxTokens,
                sampling: SamplingOptions(temperature: temperature, topK: topK, topP: topP, minP: minP, repeatPenalty: repeatPenalty, seed: seed),
                stop: stop, speculate: !generator.noSpeculate)
            var result: GenerationResult? = nil
            for try await event in engine.stream(prompt: ids, options: options) {
                switch event {
                case .text(let piece):
                    if !json { FileHandle.standardOutput.write(Data(piece.utf8)) }
                case .finished(let r):
                    result = r
                }
            }
            guard let result else { return }
            if json {
                struct Timings: Encodable { var ttftMs: Double; var promptTokS: Double; var decodeTokS: Double }
                struct Output: Encodable {
                    var promptTokens: [Int32]; var tokens: [Int32]; var text: String; var stop: String; var timings: Timings
                    var speculation: SpeculationReport
                }
                printJSON(Output(
                    promptTokens: result.promptTokens, tokens: result.tokens, text: result.text, stop: result.stopReason.rawValue,
                    timings: Timings(
                        ttftMs: (result.timeToFirstToken * 1000).rounded(places: 1), promptTokS: result.promptTokensPerSecond.rounded(places: 1),
                        decodeTokS: result.decodeTokensPerSecond.rounded(places: 1)),
                    speculation: result.speculation))
            } else {
                FileHandle.standardOutput.write(Data("\n".utf8))
                printError(String(
                    format: "%d prompt tokens, time to first token %.0f ms, prompt %.1f tok/s, generation %d tokens at %.1f tok/s (stop: %@)%@",
                    result.promptTokens.count, result.timeToFirstToken * 1000, result.promptTokensPerSecond, result.tokens.count,
                    result.decodeTokensPerSecond, result.stopReason.rawValue, result.speculation.summary))
            }
        } catch {
            throw fail(error)
        }
    }
}

