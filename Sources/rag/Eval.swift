import ArgumentParser
import Foundation
import RAG
import RAGCore
import RAGStorage

/// `rag eval`: quality on public datasets.
struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate retrieval on a BEIR-format collection.", subcommands: [EvalRetrieval.self])
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
        their best chunk.
        """)

    @Option(help: ArgumentHelp("BEIR corpus.jsonl.", valueName: "file")) var corpus: String
    @Option(help: ArgumentHelp("BEIR queries.jsonl.", valueName: "file")) var queries: String
    @Option(help: ArgumentHelp("qrels TSV (query-id, corpus-id, score).", valueName: "file")) var qrels: String
    @Option(help: "bm25, dense or hybrid.") var mode: SearchMode = .hybrid
    @Option(help: ArgumentHelp("The index file (default: one per corpus in the cache).", valueName: "file")) var db: String?
    @OptionGroup var embedderOptions: EmbedderOptions
    @OptionGroup var fusion: FusionOptions
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws { try fusion.check() }

    func run() async throws {
        do {
            let collection = try BEIRQueries(queriesFile: queries, qrelsFile: qrels)
            guard FileManager.default.fileExists(atPath: corpus) else { throw RAGError(.notFound, "\(corpus): no such corpus file") }
            let path = db ?? Self.cachedIndex(for: corpus)
            let store = try Store(path: path, mode: .createIfMissing)
            let embedder = try embedderOptions.load()
            let bar = stderrIsTerminal && !json ? ProgressBar() : nil
            let report = try Ingestor(store: store, embedder: embedder).run(paths: [corpus]) { bar?.update($0) }
            bar?.finish()
            if !json, report.chunks > 0 { printError("ingested \(report.documents) documents, \(report.chunks) chunks into \(path)") }
            let retriever = Retriever(store: store, embedder: embedder, denseWeight: fusion.denseWeight, bm25Weight: fusion.bm25Weight)
            let result = try RetrievalEvaluation.run(collection, retriever: retriever, mode: mode) { done, total in
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
    static func cachedIndex(for corpus: String) -> String {
        let absolute = URL(fileURLWithPath: corpus).standardizedFileURL.path
        var hasher = SHA256()
        hasher.update(Array(absolute.utf8))
        let name = URL(fileURLWithPath: absolute).deletingLastPathComponent().lastPathComponent
        let cache = (ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? NSHomeDirectory() + "/.cache") + "/rag/eval"
        return "\(cache)/\(name)-\(hasher.finalizeHex().prefix(12)).sqlite"
    }
}
