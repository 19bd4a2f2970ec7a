import ArgumentParser
import Foundation
import RAG
import RAGCore
import RAGStorage

struct Docs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or remove documents.", subcommands: [List.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the documents in the index.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Only documents at or below this path.") var path: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let documents: [DocumentRecord]
            do {
                documents = try store.open(mode: .mustExist).documents(under: path.map(absolute))
            } catch {
                throw fail(error)
            }
            if json {
                struct Output: Encodable { var documents: [DocumentRecord] }
                printJSON(Output(documents: documents))
                return
            }
            for d in documents {
                let tags = d.tags.tagPairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                print("\(displayPath(d.path))\t\(d.format)\t\(d.chunkCount) chunks\t\(formatBytes(d.size))\t\(d.title ?? "")\(tags.isEmpty ? "" : "\t" + tags)")
            }
            printError("\(documents.count) documents")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm",
            abstract: "Remove documents: a document path, a file, or everything below a folder.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Paths to remove.") var paths: [String]
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            var removed = 0
            var missing: [String] = []
            do {
                let service = try makeService(db: store.db, .mustExist)
                for path in paths.map(absolute) {
                    let count = try service.remove(path)
                    if count == 0 { missing.append(path) }
                    removed += count
                }
            } catch {
                throw fail(error)
            }
            if json {
                struct Output: Encodable { var removed: Int; var not_found: [String] }
                printJSON(Output(removed: removed, not_found: missing))
            } else {
                for path in missing { printError("not in the index: \(path)") }
                print("\(removed) documents removed")
            }
            if removed == 0 { throw ExitCode.failure }
        }
    }
}

/// A user's path as the index records it: absolute, standardized; `FILE#id` kept as it is.
func absolute(_ path: String) -> String {
    if let hash = path.lastIndex(of: "#"), !FileManager.default.fileExists(atPath: path) {
        return URL(fileURLWithPath: String(path[..<hash])).standardizedFileURL.path + path[hash...]
    }
    return URL(fileURLWithPath: path).standardizedFileURL.path
}
