import ArgumentParser
import Foundation
import RAGCore
import RAGLLM

/// `rag bench kv`: what the KV cache's storage and the attention kernel do to greedy decoding.
/// For each prompt (token ids), `--n-gen` greedy tokens (end of generation ignored) with standard
/// attention over an f16 cache (llama.cpp's arithmetic without flash attention), tiled attention
/// over f16, and tiled attention over Q8_0; prints the tokens and the first position where each
/// departs from the standard f16 run (and Q8_0 from tiled f16), as one JSON object.
struct KVBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kv", abstract: "Greedy divergence of the KV cache types and attention kernels.")

    @OptionGroup var generator: GeneratorOptions
    @Option(help: ArgumentHelp("A JSON list of prompts: [{\"name\": …, \"ids\": [token ids]}].", valueName: "file")) var prompts: String
    @Option(name: .customLong("n-gen"), help: "Greedy tokens per prompt.") var nGen = 128
    @Option(help: "Threads.") var threads = 2

    struct Prompt: Codable {
        var name: String
        var ids: [Int32]
    }

    struct Row: Encodable {
        var name: String
        var promptTokens: Int
        var standardF16: [Int32]
        var tiledF16: [Int32]
        var tiledQ8_0: [Int32]
        /// First generated position where the run departs (nil: none within n-gen).
        var tiledF16DepartsFromStandard: Int?
        var q8_0DepartsFromStandard: Int?
        var q8_0DepartsFromTiledF16: Int?
    }

    func run() async throws {
        do {
            guard let data = FileManager.default.contents(atPath: prompts) else { throw RAGError(.notFound, "\(prompts): cannot read the prompts file") }
            let list: [Prompt]
            do { list = try JSONDecoder().decode([Prompt].self, from: data) } catch {
                throw RAGError(.invalidInput, "\(prompts): not a JSON list of {\"name\", \"ids\"} (\(error.localizedDescription))")
            }
            let model = try generator.load()
            let context = (list.map(\.ids.count).max() ?? 0) + nGen
            let runs: [(kv: KVCacheType, attention: Session.Attention)] = [(.f16, .standard), (.f16, .tiled), (.q8_0, .tiled)]
            let sessions = runs.map { Session(model: model, contextLength: context, threads: threads, kvType: $0.kv, attention: $0.attention) }
            var rows: [Row] = []
            for prompt in list {
                var outputs: [[Int32]] = []
                for session in sessions {
                    session.truncate(to: 0)
                    try session.evaluate(prompt.ids)
                    var out: [Int32] = []
                    for _ in 0..<nGen {
                        let next = Sampler.argmax(session.logits)
                        out.append(next)
                        try session.evaluate([next])
                    }
                    outputs.append(out)
                    session.rest()
                }
                func departure(_ a: [Int32], _ b: [Int32]) -> Int? { a.indices.first { $0 < b.count && a[$0] != b[$0] } }
                rows.append(Row(
                    name: prompt.name, promptTokens: prompt.ids.count, standardF16: outputs[0], tiledF16: outputs[1], tiledQ8_0: outputs[2],
                    tiledF16DepartsFromStandard: departure(outputs[0], outputs[1]), q8_0DepartsFromStandard: departure(outputs[0], outputs[2]),
                    q8_0DepartsFromTiledF16: departure(outputs[1], outputs[2])))
                FileHandle.standardError.write(Data("\(prompt.name): tiled f16 departs at \(rows.last!.tiledF16DepartsFromStandard.map(String.init) ?? "—"), q8_0 at \(rows.last!.q8_0DepartsFromStandard.map(String.init) ?? "—") (from tiled f16: \(rows.last!.q8_0DepartsFromTiledF16.map(String.init) ?? "—"))\n".utf8))
            }
            printJSON(rows)
        } catch {
            throw fail(error)
        }
    }
}
