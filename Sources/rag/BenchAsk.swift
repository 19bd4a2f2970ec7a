import ArgumentParser
import Foundation
import RAG
import RAGCore
import RAGLLM
import RAGStorage

/// `rag bench ask`: the questions of a file answered through one pipeline, twice — each with a
/// fresh generator (the whole prompt computed), then with one shared generator whose KV cache
/// keeps the prompt prefix the questions share (the template's system text and the start of the
/// user turn). Reports retrieval ms, time to first token with and without the prefix cache,
/// decode tok/s and end-to-end seconds.
struct AskBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ask", abstract: "End-to-end ask latency, with and without the prefix cache.")

    @OptionGroup var store: StoreOptions
    @OptionGroup var embedderOptions: EmbedderOptions
    @OptionGroup var generatorOptions: GeneratorOptions
    @Option(help: "A file with one question per line.") var questions: String
    @Option(help: "Template name.") var template = "default"
    @Option(name: .customLong("max-tokens"), help: "Most tokens per answer.") var maxTokens = 64

    func run() async throws {
        do {
            guard let text = try? String(contentsOfFile: questions, encoding: .utf8) else {
                throw RAGError(.notFound, "\(questions): cannot read the questions")
            }
            let list = text.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            guard !list.isEmpty else { throw RAGError(.invalidInput, "\(questions): no questions") }
            let service = try makeService(db: store.db, .mustExist, embedder: embedderOptions, generator: generatorOptions)
            var options = AskOptions()
            options.template = template
            options.answerTokens = maxTokens
            options.mode = try service.mode()
            options.speculate = !generatorOptions.noSpeculate
            struct Pass { var ttft: [Double] = []; var retrieve: [Double] = []; var decode: [Double] = []; var reused: [Int] = []; var seconds = 0.0; var promptTokens: [Int] = [] }
            var passes = [Pass(), Pass()]
            for (p, reuse) in [false, true].enumerated() {
                let start = Date()
                for q in list {
                    let answerer = try service.makeAnswerer(freshGenerator: !reuse)
                    let r = try answerer.ask(q, options: options)
                    passes[p].retrieve.append(r.retrieveMilliseconds)
                    if let g = r.generation {
                        passes[p].ttft.append(g.timeToFirstToken * 1000)
                        passes[p].decode.append(g.decodeTokensPerSecond)
                        passes[p].reused.append(g.reusedPromptTokens)
                        passes[p].promptTokens.append(g.promptTokens.count)
                    }
                }
                passes[p].seconds = Date().timeIntervalSince(start)
            }
            func median(_ x: [Double]) -> Double { x.isEmpty ? 0 : x.sorted()[x.count / 2] }
            let result: [String: Any] = [
                "questions": list.count, "template": template, "max_tokens": maxTokens,
                "retrieve_ms_p50": median(passes[1].retrieve).rounded(places: 1),
                "prompt_tokens_p50": median(passes[1].promptTokens.map(Double.init)),
                "ttft_ms_p50_without_prefix_cache": median(passes[0].ttft).rounded(places: 1),
                "ttft_ms_p50_with_prefix_cache": median(passes[1].ttft).rounded(places: 1),
                "reused_prompt_tokens_p50": median(passes[1].reused.map(Double.init)),
                "decode_tok_s_p50": median(passes[1].decode).rounded(places: 1),
                "seconds_without_prefix_cache": passes[0].seconds.rounded(places: 1), "seconds_with_prefix_cache": passes[1].seconds.rounded(places: 1),
            ]
            let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: json, as: UTF8.self))
        } catch {
            throw fail(error)
        }
    }
}
