import ArgumentParser
import Foundation
import RAG
import RAGCore
import RAGLLM
import RAGStorage

/// `rag bench techniques`: the field's speed techniques that change what the model computes,
/// measured here rather than assumed — answer quality and speed side by side on the first
/// `--limit` questions of COVID-QA (token F1) and PubMedQA (accuracy), as `rag eval qa` answers
/// them (greedy, no speculation, one generation at a time, so speed is the technique's alone).
///
/// - layer skipping at decode: the last k blocks, or k blocks alternating around the middle
///   (k = 1…4); the prompt still runs every block;
/// - magnitude pruning of the feed-forward weights at load (10/20/30 % of each row), on the model
///   requantized to Q8_0 (there is no Q4_K encoder here), so it faces the Q8_0 row;
/// - Q8_0 weights, requantized from the stored Q4_K/Q6_K by our own quantizer;
/// - a Q8_0 KV cache against f16.
struct TechniquesBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "techniques", abstract: "Quality and speed of layer skipping, pruning, Q8_0 weights and a Q8_0 KV cache on QA sets.")

    @OptionGroup var generator: GeneratorOptions
    @OptionGroup var embedderOptions: EmbedderOptions
    @OptionGroup var chunking: ChunkingOptions
    @Option(help: ArgumentHelp("The COVID-QA folder (qa.jsonl, docs/).", valueName: "dir")) var covidqa = "../shared/data/covidqa"
    @Option(help: ArgumentHelp("The PubMedQA folder (qa.jsonl, docs/).", valueName: "dir")) var pubmedqa = "../shared/data/pubmedqa"
    @Option(help: "Questions per dataset (the first N after --offset).") var limit = 20
    @Option(help: "Questions skipped at the start of each dataset (a later slice, to add to an earlier run's).") var offset = 0
    @Option(help: ArgumentHelp("Only these techniques (comma-separated names; default: all).", valueName: "name,…")) var only: String?
    @Option(help: "Threads.") var threads = 2
    @Flag(help: "Print one JSON object.") var json = false

    /// One configuration of the model.
    struct Technique {
        var name: String
        var skipped: (Int) -> Set<Int> = { _ in [] }
        var pruning: Double? = nil  // nil: the stored weights; 0: requantized to Q8_0
        var kvType = KVCacheType.f16
    }

    /// Every technique, the baseline first. `blocks` is the model's block count.
    static func techniques() -> [Technique] {
        var list = [Technique(name: "baseline")]
        for k in 1...4 { list.append(Technique(name: "skip-last-\(k)", skipped: { blocks in Set(blocks - k..<blocks) })) }
        for k in 1...4 { list.append(Technique(name: "skip-middle-\(k)", skipped: { blocks in middle(k, of: blocks) })) }
        list.append(Technique(name: "q8_0-weights", pruning: 0))
        for percent in [10, 20, 30] { list.append(Technique(name: "prune-ffn-\(percent)", pruning: Double(percent) / 100)) }
        list.append(Technique(name: "q8_0-kv", kvType: .q8_0))
        return list
    }

    /// k blocks, every other one, centred on the middle block (28 blocks, k = 3: 12, 14, 16).
    static func middle(_ k: Int, of blocks: Int) -> Set<Int> {
        let first = blocks / 2 - (k - 1)
        return Set((0..<k).map { first + 2 * $0 })
    }

    struct Row: Encodable {
        var technique: String
        var skippedBlocks: [Int]
        var covidqaF1: Double
        var pubmedqaAccuracy: Double
        var decodeTokS: Double
        var secondsPerQuestion: Double
        var loadSeconds: Double
    }

    struct Output: Encodable {
        var model: String
        var questionsPerDataset: Int
        var rows: [Row]
    }

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1 (questions per dataset)") }
        guard offset >= 0 else { throw ValidationError("--offset must be 0 or more (questions skipped at the start)") }
    }

    func run() async throws {
        do {
            let wanted = only.map { Set($0.split(separator: ",").map(String.init)) }
            let list = Self.techniques().filter { wanted?.contains($0.name) ?? true }
            if let wanted, list.count < wanted.count {
                let known = Self.techniques().map(\.name)
                throw RAGError(.invalidInput, "--only: unknown technique \(wanted.subtracting(known).sorted().joined(separator: ", ")); known: \(known.joined(separator: ", "))")
            }
            let model = try generator.load()
            let blocks = model.config.blockCount
            // The two datasets: ingested once into the cached indexes `rag eval qa` uses.
            var sets: [(name: String, data: QADataset, service: RAGService, options: AskOptions)] = []
            for (name, directory) in [("COVID-QA", covidqa), ("PubMedQA", pubmedqa)] {
                var data = try QADataset(directory: directory)
                data.items = Array(data.items.dropFirst(offset).prefix(limit))
                let path = EvalRetrieval.cachedIndex(for: data.directory + "/qa.jsonl", suffix: chunking.cacheSuffix)
                let service = try makeService(db: path, .createIfMissing, embedder: embedderOptions)
                var ingestOptions = Ingestor.Options()
                ingestOptions.chunker = chunking.configuration
                let report = try service.ingest([data.documents], options: ingestOptions)
                if report.chunks > 0 { printError("ingested \(report.documents) documents, \(report.chunks) chunks into \(path)") }
                var options = AskOptions()
                options.speculate = false
                if data.isLabelled {
                    (options.template, options.topK, options.answerTokens) = ("yesno", 3, 48)
                } else {
                    options.answerTokens = 96
                }
                sets.append((name, data, service, options))
            }
            var requantized: LanguageModel?
            var rows: [Row] = []
            // Rows go out unbuffered, each as soon as it is measured (the run takes a while).
            func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
            if !json { emit("technique          skipped blocks   COVID-QA F1  PubMedQA acc  decode tok/s  s/question") }
            for technique in list {
                let start = Date()
                let variant: LanguageModel
                switch technique.pruning {
                case nil: variant = model
                case 0?:
                    requantized = requantized ?? model.requantizedQ8_0(threads: threads)
                    variant = requantized!
                case let fraction?: variant = model.requantizedQ8_0(feedForwardPruning: fraction, threads: threads)
                }
                let loadSeconds = Date().timeIntervalSince(start)
                let skipped = technique.skipped(blocks)
                var scores: [Double] = [], decode: [Double] = [], seconds: [Double] = []
                for set in sets {
                    let engine = Generator(model: variant, contextLength: 2048, threads: threads, kvType: technique.kvType, skippedLayersAtDecode: skipped)
                    let answerer = try set.service.makeAnswerer(generator: engine)
                    let (result, _) = try QAEvaluation.run(set.data, answerer: answerer, options: set.options) { _, done, total in
                        if stderrIsTerminal && !json { FileHandle.standardError.write(Data("\r\(technique.name) \(set.name) \(done)/\(total)   ".utf8)) }
                    }
                    scores.append((set.data.isLabelled ? result.accuracy : result.f1) ?? 0)
                    decode.append(result.decodeTokS)
                    seconds.append(result.secondsPerQuestion)
                }
                if stderrIsTerminal && !json { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                let row = Row(
                    technique: technique.name, skippedBlocks: skipped.sorted(), covidqaF1: scores[0].rounded(places: 4), pubmedqaAccuracy: scores[1].rounded(places: 4),
                    decodeTokS: (decode.reduce(0, +) / Double(decode.count)).rounded(places: 2),
                    secondsPerQuestion: (seconds.reduce(0, +) / Double(seconds.count)).rounded(places: 2), loadSeconds: loadSeconds.rounded(places: 1))
                rows.append(row)
                if !json {
                    let blocksList = row.skippedBlocks.map(String.init).joined(separator: ",")
                    emit(
                        row.technique.padding(toLength: 19, withPad: " ", startingAt: 0) + blocksList.padding(toLength: 16, withPad: " ", startingAt: 0)
                            + String(format: " %11.4f  %12.4f  %12.2f  %10.2f", row.covidqaF1, row.pubmedqaAccuracy, row.decodeTokS, row.secondsPerQuestion))
                }
            }
            if json { printJSON(Output(model: URL(fileURLWithPath: generator.path).lastPathComponent, questionsPerDataset: limit, rows: rows)) }
        } catch {
            throw fail(error)
        }
    }
}
