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
    @OptionGroup var filter: FilterOptions
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        try fusion.check()
        _ = try filter.searchFilter()
        guard (1...1000).contains(topK) else { throw ValidationError("--top-k must be between 1 and 1000 (got \(topK)).") }
        guard (1...10_000).contains(ef) else { throw ValidationError("--ef must be between 1 and 10000 (got \(ef)).") }
    }

    func run() async throws {
        let hits: [SearchHit]
        do {
            let service = try makeService(db: store.db, .mustExist, embedder: model, fusion: fusion) { $0.ef = ef }
            hits = try service.search(query, mode: mode, topK: topK, filter: filter.searchFilter()).hits
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

/// `--path`, `--tag`, `--after`: which documents a search may return.
struct FilterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Only documents whose path matches this glob (* any run, / included; ? one character; [a-z], [!a-z]).", valueName: "glob")) var path: String?
    @Option(help: ArgumentHelp("Only documents with this tag (repeatable: all must hold).", valueName: "key=value")) var tag: [String] = []
    @Option(help: ArgumentHelp("Only documents ingested after this moment (2026-12-01, or 2026-12-01T09:30:00Z).", valueName: "date")) var after: String?

    /// The filter asked for, nil when none; a malformed one is a validation error.
    func searchFilter() throws -> SearchFilter? {
        var filter = SearchFilter(path: path, tags: try Self.tags(tag))
        if let after {
            guard let date = Self.parseMoment(after) else {
                throw ValidationError("--after \(after): expected a date (2026-12-01) or a moment (2026-12-01T09:30:00Z)")
            }
            filter.ingestedAfter = date.timeIntervalSince1970
        }
        do {
            return filter.isEmpty ? nil : try filter.validated()
        } catch let error as RAGError {
            throw ValidationError(error.message)
        }
    }

    /// `KEY=VALUE` items as tags (a key given twice has both values).
    static func tags(_ items: [String]) throws -> [String: [String]] {
        var tags: [String: [String]] = [:]
        for item in items {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw ValidationError("--tag \(item): expected KEY=VALUE")
            }
            tags.addTag(String(item[..<equals]), String(item[item.index(after: equals)...]))
        }
        return tags
    }

    /// An ISO 8601 moment, or a day (midnight UTC).
    static func parseMoment(_ text: String) -> Date? {
        let moment = ISO8601DateFormatter()
        if let date = moment.date(from: text) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        return day.date(from: text)
    }
}

/// A path relative to the working directory when it lies below it; a database URL without
/// its password.
func displayPath(_ path: String) -> String {
    if PostgresLocation.isURL(path) { return (try? PostgresLocation(url: path).description) ?? path }
    let cwd = FileManager.default.currentDirectoryPath + "/"
    return path.hasPrefix(cwd) ? String(path.dropFirst(cwd.count)) : path
}
