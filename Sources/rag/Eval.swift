import ArgumentParser
import Foundation
import RAG
import RAGCore
import RAGLLM
import RAGStorage
import RAGText

/// `rag eval`: quality on public datasets.
struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate retrieval (BEIR collections) and answers (QA datasets).",
        subcommands: [EvalRetrieval.self, EvalQA.self, EvalStructured.self, EvalFollowUps.self])
}

/// `rag eval retrieval`: nDCG@10, recall@100, MRR@10 and query latency over every judged query.
struct EvalRetrieval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrieval",
        abstract: "nDCG@10, recall@100, MRR@10 and latency of BEIR queries.",
        discussion: """
        Ingests --corpus (BEIR corpus.jsonl: one document per line) into --db, or into an index in \
        the cache named after the corpus (reused: re-ingesting an unchanged corpus costs nothing), \
        then runs every query of --queries that has judgments in --qrels. Documents are ranked by \
        their best chunk plus --other-chunks-share of their other retrieved chunks' scores.
        """)

    @Option(help: ArgumentHelp("BEIR corpus.jsonl.", valueName: "file")) var corpus: String
    @Option(help: ArgumentHelp("BEIR queries.jsonl.", valueName: "file")) var queries: String
    @Option(help: ArgumentHelp("qrels TSV (query-id, corpus-id, score).", valueName: "file")) var qrels: String
    @Option(help: "bm25, dense or hybrid.") var mode: SearchMode = .hybrid
    @Option(help: ArgumentHelp("The index file (default: one per corpus in the cache).", valueName: "file")) var db: String?
    @OptionGroup var chunking: ChunkingOptions
    @OptionGroup var embedderOptions: EmbedderOptions
    @OptionGroup var fusion: FusionOptions
    @Option(name: .customLong("other-chunks-share"), help: "How much a document's other retrieved chunks add to its best chunk's score (0: the best chunk alone).") var otherChunksShare = 0.0
    @Option(help: ArgumentHelp("Chunks retrieved per query, scored as the documents they fold into; 10 times queries as `rag search` runs them.", valueName: "n")) var depth = 300
    @Option(help: "HNSW search beam (raised to the chunks retrieved).") var ef = 64
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard (1...10_000).contains(depth) else { throw ValidationError("--depth must be between 1 and 10000 (got \(depth)).") }
        guard ef >= 1 else { throw ValidationError("--ef must be at least 1 (got \(ef)).") }
        try fusion.check()
        guard (0...1).contains(otherChunksShare) else { throw ValidationError("--other-chunks-share must be between 0 and 1 (got \(otherChunksShare)).") }
    }

    func run() async throws {
        do {
            let collection = try BEIRQueries(queriesFile: queries, qrelsFile: qrels)
            guard FileManager.default.fileExists(atPath: corpus) else { throw RAGError(.notFound, "\(corpus): no such corpus file") }
            // One cached index per corpus and chunking (the default chunking keeps the older name).
            let defaults = chunking.configuration == Chunker.Configuration()
            let path = db ?? Self.cachedIndex(for: corpus, suffix: defaults ? "" : chunking.cacheSuffix)
            let service = try makeService(db: path, .createIfMissing, embedder: embedderOptions, fusion: fusion) { $0.ef = ef }
            let bar = stderrIsTerminal && !json ? ProgressBar() : nil
            var ingestOptions = Ingestor.Options()
            ingestOptions.chunker = chunking.configuration
            let report = try service.ingest([corpus], options: ingestOptions) { bar?.update($0) }
            bar?.finish()
            if !json, report.chunks > 0 { printError("ingested \(report.documents) documents, \(report.chunks) chunks into \(path)") }
            // Queries are timed as the server answers them: BM25 from the index in memory.
            try service.store.keepBM25IndexInMemory(buildNow: true)
            let result = try RetrievalEvaluation.run(
                collection, retriever: service.retriever(for: mode), mode: mode, depth: depth, otherChunksShare: otherChunksShare) { done, total in
                if !json, stderrIsTerminal, done % 20 == 0 || done == total {
                    FileHandle.standardError.write(Data("\r\(done)/\(total) queries".utf8))
                    if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
                }
            }
            if json {
                printJSON(result)
            } else {
                print(String(
                    format: "%@ over %d queries: nDCG@10 %.4f · recall@100 %.4f · MRR@10 %.4f · latency p50 %.1f ms, p95 %.1f ms",
                    mode.rawValue, result.queries, result.ndcg10, result.recall100, result.mrr10, result.p50Ms, result.p95Ms))
            }
        } catch {
            throw fail(error)
        }
    }

    /// `~/.cache/rag/eval/NAME-HASH.sqlite`, the hash of the corpus's absolute path.
    static func cachedIndex(for corpus: String, suffix: String = "") -> String {
        let absolute = URL(fileURLWithPath: corpus).standardizedFileURL.path
        var hasher = SHA256()
        hasher.update(Array(absolute.utf8))
        let name = URL(fileURLWithPath: absolute).deletingLastPathComponent().lastPathComponent
        let cache = (ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? NSHomeDirectory() + "/.cache") + "/rag/eval"
        return "\(cache)/\(name)-\(hasher.finalizeHex().prefix(12))\(suffix).sqlite"
    }
}

/// `rag eval qa`: answers a QA dataset's questions with `rag ask`'s pipeline and scores them.
struct EvalQA: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qa",
        abstract: "Answer a QA dataset's questions and score the answers and the retrieval.",
        discussion: """
        --dataset is a folder with qa.jsonl (question, answer, source, optional long_answer) and \
        docs/. docs/ is ingested (into --db or an index in the cache, reused), every question is \
        answered as `rag ask` would, and scored: yes/no/maybe accuracy and macro-F1 when every gold \
        answer is one of them (the label is the answer's first yes, no or maybe), else exact match \
        and token F1 (SQuAD normalisation); ROUGE-L against long_answer (or answer); the gold \
        source's hit rate in the first k documents (ranked by their best chunk) and in the prompt; \
        seconds per question, prompt tokens, decode tok/s. --no-generate scores retrieval only.
        """)

    @Option(help: ArgumentHelp("The dataset folder (qa.jsonl, docs/).", valueName: "dir")) var dataset: String
    @Option(help: "Only the first N questions.") var limit: Int?
    @OptionGroup var answer: AnswerOptions
    @Option(help: "The cut-off of the source hit rate (documents).") var k = 5
    @OptionGroup var chunking: ChunkingOptions
    @Option(help: "bm25, dense or hybrid.") var mode: SearchMode = .hybrid
    @Option(help: ArgumentHelp("The index file (default: one per dataset and chunking in the cache).", valueName: "file")) var db: String?
    @Option(help: ArgumentHelp("Write one JSON line per question here.", valueName: "file")) var out: String?
    @Flag(name: .customLong("no-generate"), help: "Score retrieval only; do not call the model.") var noGenerate = false
    @OptionGroup var embedderOptions: EmbedderOptions
    @OptionGroup var generatorOptions: GeneratorOptions
    @OptionGroup var remote: RemoteGeneratorOptions
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard (1...50).contains(k) else { throw ValidationError("--k must be between 1 and 50 (got \(k)).") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        do {
            var data = try QADataset(directory: dataset)
            if let limit { data.items = Array(data.items.prefix(limit)) }
            let path = db ?? EvalRetrieval.cachedIndex(for: data.directory + "/qa.jsonl", suffix: chunking.cacheSuffix)
            let service = try makeService(
                db: path, .createIfMissing, embedder: embedderOptions, generator: generatorOptions, remote: remote, fusion: answer.fusion, answer.configure)
            try service.checkTemplate(answer.template)  // an unknown template fails before any work
            var ingestOptions = Ingestor.Options()
            ingestOptions.chunker = chunking.configuration
            let bar = stderrIsTerminal && !json ? ProgressBar() : nil
            let report = try service.ingest([data.documents], options: ingestOptions) { bar?.update($0) }
            bar?.finish()
            if !json, report.chunks > 0 { printError("ingested \(report.documents) documents, \(report.chunks) chunks into \(path)") }
            let answerer = try service.answerer()
            let options = answer.askOptions(mode: mode, speculate: !generatorOptions.noSpeculate)

            let output: FileHandle?
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: nil), let handle = FileHandle(forWritingAtPath: out) else {
                    throw RAGError(.io, "\(out): cannot create the file")
                }
                output = handle
            } else {
                output = nil
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let labelled = data.isLabelled
            var progressRecords: [QARecord] = []
            let showProgress = stderrIsTerminal && !json
            let started = Date()
            let (result, _) = try QAEvaluation.run(data, answerer: answerer, options: options, k: k, generate: !noGenerate) { record, done, total in
                if let output, let line = try? encoder.encode(record) { output.write(line + Data("\n".utf8)) }
                progressRecords.append(record)
                guard showProgress else { return }
                let so_far = QAEvaluation.summarize(progressRecords, labelled: labelled && !noGenerate, generated: !noGenerate, k: k)
                let elapsed = Date().timeIntervalSince(started)
                let eta = elapsed / Double(done) * Double(total - done)
                let width = 24, filled = width * done / total
                var line = "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(total)"
                if let a = so_far.accuracy { line += String(format: " · accuracy %.3f", a) }
                if let f = so_far.f1 { line += String(format: " · F1 %.3f", f) }
                line += String(format: " · hit@%d %.3f · %.1f s/question · ETA %.0f s  ", k, so_far.sourceHitK, so_far.secondsPerQuestion, eta)
                FileHandle.standardError.write(Data(line.utf8))
                if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
            }
            try output?.close()
            if json {
                printJSON(result)
                return
            }
            var lines = ["\(result.questions) questions (\(noGenerate ? "retrieval only" : "template \(answer.template), top-k \(answer.topK)"), \(mode.rawValue), chunks of \(chunking.chunkTokens) tokens, overlap \(chunking.chunkOverlap))"]
            if let a = result.accuracy, let m = result.macroF1 {
                lines.append(String(format: "yes/no/maybe: accuracy %.4f · macro-F1 %.4f · %d without a label", a, m, result.unlabelled ?? 0))
            }
            if let em = result.exactMatch, let f1 = result.f1 { lines.append(String(format: "exact match %.4f · token F1 %.4f", em, f1)) }
            if let r = result.rougeL { lines.append(String(format: "ROUGE-L %.4f", r)) }
            lines.append(String(format: "source: hit@1 %.4f · hit@%d %.4f · MRR@10 %.4f · in the prompt %.4f", result.sourceHit1, k, result.sourceHitK, result.mrr10, result.sourceInContext))
            lines.append(String(format: "cost: %.2f s/question · %.0f prompt tokens · %.1f decode tok/s · %d abstained · %d declined",
                                result.secondsPerQuestion, result.promptTokens, result.decodeTokS, result.abstained, result.declined ?? 0))
            if let cited = result.cited {
                lines.append(String(format: "citations: %.4f of answers cite a source · first citation the gold document in %.4f", cited, result.firstCitationGold ?? 0))
            }
            if let rate = result.acceptanceRate {
                lines.append(String(format: "speculation: %.3f of draft tokens accepted · %.2f tokens a pass", rate, result.tokensPerPass ?? 0))
            }
            if let samples = result.samplesPerAnswer {
                lines.append(String(format: "votes: %d asked · %.2f samples taken per answer · winner's share %.3f", answer.voting.votes, samples, result.voteConfidence ?? 0))
                for point in result.byVotes ?? [] {
                    let quality = point.accuracy.map { String(format: "accuracy %.4f · macro-F1 %.4f", $0, point.macroF1 ?? 0) } ?? String(format: "token F1 %.4f", point.f1 ?? 0)
                    lines.append("  the first \(point.votes) vote\(point.votes == 1 ? "" : "s"): \(quality)")
                }
            }
            print(lines.joined(separator: "\n"))
        } catch {
            throw fail(error)
        }
    }
}
