import ArgumentParser
import Foundation
import RAGCore
import RAGStorage

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what the index holds.")

    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let stats: StoreStats
        do {
            stats = try store.open(mode: .mustExist).stats()
        } catch {
            throw fail(error)
        }
        if json {
            printJSON(stats)
            return
        }
        print("""
            index:      \(displayPath(store.db)) (format \(stats.formatVersion), \(formatBytes(stats.fileBytes)) on disk)
            files:      \(stats.sources)
            documents:  \(stats.documents) (\(formatBytes(stats.documentBytes)))
            chunks:     \(stats.chunks)
            vectors:    \(stats.vectors)\(stats.embedder.isEmpty ? " (BM25 only)" : " (\(stats.embedder))")
            chunker:    \(stats.chunker)
            """)
    }
}

func formatBytes(_ bytes: Int64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}
