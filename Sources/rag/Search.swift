public import ArgumentParser
import Foundation
import RAGCore
import RAGStorage
import RAGPostgres
public import RAG
import RAGEmbedding

extension SearchMode: ExpressibleByArgument {}
extension Fusion.Method: ExpressibleByArgument {}

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find the chunks that best match a query.",
        discussion: "Modes: bm25 (words), dense (meaning, by embedding), hybrid (both, reciprocal-rank fusion with k = 60; the default when the index holds vectors).")

    @OptionGroup var store: StoreOptions
    @OptionGroup var model: EmbedderOptions
    @Option(help: ArgumentHelp("bm25, dense or hybrid.", valueName: "mode")) var mode: SearchMode?
    @Argument(help: "What to look for; any text is safe.") var query: String
    @Option(help: "How many results.") var topK = 10
    @Option(help: "HNSW search beam for dense and hybrid search (raised to the results needed).") var ef = 64
    @OptionGroup var fusion: FusionOptions
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        try fusion.check()
        guard (1...1000).contains(topK) else { throw ValidationError("--top-k must be between 1 and 1000 (got \(topK)).") }
        guard (1...10_000).contains(ef) else { throw ValidationError("--ef must be between 1 and 10000 (got \(ef)).") }
    }

    func run() async throws {
        let hits: [SearchHit]
        do {
            let service = try makeService(db: store.db, .mustExist, embedder: model, fusion: fusion) { $0.ef = ef }
            hits = try service.search(query, mode: mode, topK: topK).hits
        } catch {
            throw fail(error)
        }
        if json {
            struct Result: Encodable { var chunk_id: Int64; var document: String; var heading: String; var score: Double; var text: String; var snippet: String }
            struct Output: Encodable { var results: [Result] }
            printJSON(Output(results: hits.map {
                Result(chunk_id: $0.chunkID.rawValue, document: $0.document, heading: $0.heading, score: $0.score.rounded(places: 6), text: $0.text, snippet: $0.snippet)
            }))
            return
        }
        if hits.isEmpty {
            print(LexicalQuery.words(query).isEmpty ? "No searchable words in the query." : "No matches.")
            return
        }
        for (rank, hit) in hits.enumerated() {
            let heading = hit.heading.isEmpty ? "" : " › \(hit.heading)"
            print("\(rank + 1). \(displayPath(hit.document))\(heading)  (score \(String(format: "%.4f", hit.score)))")
            print("   \(hit.snippet)")
        }
    }
}

/// `--dense-weight` / `--bm25-weight`: the weights of the two lists in hybrid fusion.
struct FusionOptions: ParsableArguments {
    @Option(help: "Hybrid fusion: minmax (scores min-max normalised, convex weights), zscore (standardised scores) or rrf (reciprocal ranks).") var fusion: Fusion.Method = .minMax
    @Option(name: .customLong("dense-weight"), help: "Weight of the dense list in hybrid fusion (default: 0.5 for minmax and zscore, 1 for rrf).") var denseWeight: Double?
    @Option(name: .customLong("bm25-weight"), help: "Weight of the BM25 list in hybrid fusion (default: 0.5 for minmax and zscore, 1 for rrf).") var bm25Weight: Double?

    func check() throws {
        let denseWeight = self.denseWeight ?? fusion.defaultWeights.dense, bm25Weight = self.bm25Weight ?? fusion.defaultWeights.bm25
        guard denseWeight >= 0, bm25Weight >= 0, denseWeight + bm25Weight > 0, denseWeight.isFinite, bm25Weight.isFinite else {
            throw ValidationError("--dense-weight and --bm25-weight must be ≥ 0 and not both 0")
        }
    }
}

/// A path relative to the working directory when it lies below it; a database URL without
/// its password.
func displayPath(_ path: String) -> String {
    if PostgresLocation.isURL(path) { return (try? PostgresLocation(url: path).description) ?? path }
    let cwd = FileManager.default.currentDirectoryPath + "/"
    return path.hasPrefix(cwd) ? String(path.dropFirst(cwd.count)) : path
}
