import ArgumentParser
import Foundation
import RAGCore
import RAGStorage

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Find the chunks that best match a query (BM25).")

    @OptionGroup var store: StoreOptions
    @Argument(help: "What to look for; any text is safe.") var query: String
    @Option(help: "How many results.") var topK = 10
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard (1...1000).contains(topK) else { throw ValidationError("--top-k must be between 1 and 1000 (got \(topK)).") }
    }

    func run() async throws {
        let hits: [SearchHit]
        do {
            hits = try store.open(mode: .mustExist).searchBM25(query, limit: topK)
        } catch {
            throw fail(error)
        }
        if json {
            struct Result: Encodable { var chunk_id: Int64; var document: String; var heading: String; var score: Double; var text: String; var snippet: String }
            struct Output: Encodable { var results: [Result] }
            printJSON(Output(results: hits.map {
                Result(chunk_id: $0.chunkID.rawValue, document: $0.document, heading: $0.heading, score: ($0.score * 10000).rounded() / 10000, text: $0.text, snippet: $0.snippet)
            }))
            return
        }
        if hits.isEmpty {
            print(Store.ftsPattern(query) == nil ? "No searchable words in the query." : "No matches.")
            return
        }
        for (rank, hit) in hits.enumerated() {
            let heading = hit.heading.isEmpty ? "" : " › \(hit.heading)"
            print("\(rank + 1). \(displayPath(hit.document))\(heading)  (score \(String(format: "%.2f", hit.score)))")
            print("   \(hit.snippet)")
        }
    }
}

/// A path relative to the working directory when it lies below it.
func displayPath(_ path: String) -> String {
    let cwd = FileManager.default.currentDirectoryPath + "/"
    return path.hasPrefix(cwd) ? String(path.dropFirst(cwd.count)) : path
}
