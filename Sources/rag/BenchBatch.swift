import ArgumentParser
import Foundation
import RAGCore
import RAGLLM

/// `rag bench batch`: what continuous batching buys at the model: N sequences, each after its
/// own prompt (different lengths), decoded together for `--n-gen` steps (`Session.decode`: one
/// pass over the weights per step for all N) against the same N decoded one after another.
/// Greedy, end-of-generation ignored; prefill not timed. Aggregate and per-sequence tokens/s per
/// N, and the aggregate's ratio to the first N measured (1 by default). Then prefill in chunks
/// (`--chunks`): a 512-token prompt evaluated C tokens a pass, as the server takes a prompt while
/// other sequences decode: tokens/s per C, and the pass's time (what a decoding sequence waits).
struct BatchBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "batch", abstract: "Decode speed of N sequences stepped together (continuous batching).")

    @OptionGroup var generator: GeneratorOptions
    @Option(help: ArgumentHelp("Batch sizes to measure.", valueName: "n,n,…")) var sequences = "1,2,4,8"
    @Option(name: .customLong("n-gen"), help: "Decode steps per sequence.") var nGen = 64
    @Option(help: ArgumentHelp("Prefill chunk sizes to measure (0: none).", valueName: "c,c,…")) var chunks = "16,32,64,128,512"
    @Option(help: "Threads.") var threads = 2
    @Option(help: "Repetitions (medians are reported).") var reps = 3
    @Flag(help: "Print one JSON object.") var json = false

    /// A RAG-shaped prompt; sequence i asks its own question about it, so lengths differ.
    static func prompt(_ i: Int) -> String {
        let source = "The Harbor service keeps its vector index in the same SQLite file as the chunks, in a table of graph pages, and rebuilds the graph incrementally when documents change."
        return "<|im_start|>user\nAnswer from the source and cite it as [1].\n\n[1] \(String(repeating: source + " ", count: 3 + i))\n\nQuestion \(i + 1): where is the index kept?<|im_end|>\n<|im_start|>assistant\n"
    }

    struct Row: Encodable {
        var sequences: Int
        var aggregateTokensPerSecond: Double
        var perSequenceTokensPerSecond: Double
        var stepMilliseconds: Double
        var ratioToOne: Double
    }

    struct ChunkRow: Encodable {
        var chunk: Int
        var prefillTokensPerSecond: Double
        var passMilliseconds: Double
    }

    func run() async throws {
        do {
            let sizes = sequences.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !sizes.isEmpty, sizes.allSatisfy({ (1...64).contains($0) }) else {
                throw RAGError(.invalidInput, "--sequences \(sequences): expected batch sizes from 1 to 64, such as 1,2,4,8")
            }
            let model = try generator.load()
            let prompts = (0..<sizes.max()!).map { model.tokenizer.encode(Self.prompt($0)) }
            let context = prompts.map(\.count).max()! + nGen + 1
            let runner = Session(model: model, contextLength: context, batchSize: max(64, sizes.max()!), threads: threads)
            // The sequences' own sessions only prefill (on one thread each, then parked).
            let sessions = prompts.map { _ in Session(model: model, contextLength: context, threads: 1) }
            func median(_ x: [Double]) -> Double { x.sorted()[x.count / 2] }
            var rows: [Row] = []
            for n in sizes {
                var times: [Double] = []
                for _ in 0..<reps {
                    for (session, prompt) in zip(sessions.prefix(n), prompts) {
                        session.truncate(to: 0)
                        try session.evaluate(prompt)
                        session.rest()
                    }
                    let batch = Array(sessions.prefix(n))
                    let start = DispatchTime.now().uptimeNanoseconds
                    for _ in 0..<nGen {
                        try runner.decode(batch, tokens: batch.map { Sampler.argmax($0.logits) })
                    }
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                runner.rest()
                let seconds = median(times)
                let aggregate = Double(n * nGen) / seconds
                rows.append(Row(
                    sequences: n, aggregateTokensPerSecond: aggregate.rounded(places: 2), perSequenceTokensPerSecond: (Double(nGen) / seconds).rounded(places: 2),
                    stepMilliseconds: (seconds / Double(nGen) * 1000).rounded(places: 2),
                    ratioToOne: rows.first.map { (aggregate / $0.aggregateTokensPerSecond).rounded(places: 2) } ?? 1))
                if !json {
                    let r = rows.last!
                    print("\(n) sequences: \(r.aggregateTokensPerSecond) tok/s in all, \(r.perSequenceTokensPerSecond) each, \(r.stepMilliseconds) ms a step, \(r.ratioToOne)× one sequence's")
                }
            }
            let chunkRows = try prefillChunks(model, threads: threads)
            if json {
                struct Output: Encodable { var model: String; var threads: Int; var nGen: Int; var rows: [Row]; var prefillChunks: [ChunkRow] }
                printJSON(Output(model: URL(fileURLWithPath: generator.path).lastPathComponent, threads: threads, nGen: nGen, rows: rows, prefillChunks: chunkRows))
            }
        } catch {
            throw fail(error)
        }
    }

    /// A 512-token prompt prefilled `c` tokens a pass, for each `c` of `--chunks`.
    func prefillChunks(_ model: LanguageModel, threads: Int) throws -> [ChunkRow] {
        let sizes = chunks.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }
        guard !sizes.isEmpty else { return [] }
        var prompt: [Int32] = []
        var i = 0
        while prompt.count < 512 { prompt += model.tokenizer.encode(Self.prompt(i)); i += 1 }
        prompt = Array(prompt.prefix(512))
        let runner = Session(model: model, contextLength: 513, batchSize: 512, threads: threads)
        let sequence = Session(model: model, contextLength: 513, batchSize: 1, threads: 1)
        var rows: [ChunkRow] = []
        for c in sizes {
            var times: [Double] = []
            for _ in 0..<reps {
                sequence.truncate(to: 0)
                let start = DispatchTime.now().uptimeNanoseconds
                var at = 0
                while at < prompt.count {
                    let end = min(prompt.count, at + c)
                    try runner.evaluate([Session.BatchItem(sequence, Array(prompt[at..<end]), logits: end == prompt.count ? .last : .none)])
                    at = end
                }
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            runner.rest()
            let seconds = times.sorted()[times.count / 2]
            let passes = (prompt.count + c - 1) / c
            rows.append(ChunkRow(
                chunk: c, prefillTokensPerSecond: (Double(prompt.count) / seconds).rounded(places: 1),
                passMilliseconds: (seconds / Double(passes) * 1000).rounded(places: 1)))
            if !json { print("prefill in chunks of \(c): \(rows.last!.prefillTokensPerSecond) tok/s, \(rows.last!.passMilliseconds) ms a pass") }
        }
        return rows
    }
}
