import Foundation
import RAGEmbedding
import RAGStorage
import RAGTesting
import Testing

/// Runs the built `rag` binary (RAG_BIN, or .build/debug/rag of this package).
struct RagBinary {
    static let path: String = {
        if let path = ProcessInfo.processInfo.environment["RAG_BIN"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        #if DEBUG
        return root.appendingPathComponent(".build/debug/rag").path
        #else
        return root.appendingPathComponent(".build/release/rag").path
        #endif
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any] ?? [:]
        }
    }

    static func start(_ arguments: [String], in directory: URL, executable: String = path) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, out, err)
    }

    @discardableResult
    static func run(_ arguments: [String], in directory: URL, executable: String = path) throws -> Result {
        let (process, out, err) = try start(arguments, in: directory, executable: executable)
        let errData = ErrBox()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { errData.data = err.fileHandleForReading.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData.data, as: UTF8.self))
    }

    final class ErrBox: @unchecked Sendable { var data = Data() }
}

final class TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("rag-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func write(_ relative: String, _ text: String) throws {
        let file = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
    }
}

@Suite(.onTestThreads) struct CLITests {
    @Test(.enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) func ingestSearchStatsDocsEndToEnd() throws {
        let dir = try TempDir()
        try dir.write("docs/kv.md", "# KV cache\n\nThe KV cache keeps keys and values of past tokens so decoding does not recompute them.")
        try dir.write("docs/spec.html", "<title>Speculative</title><p>A draft model proposes tokens; the target model verifies them.</p>")
        try dir.write("docs/notes.txt", "Continuous batching admits new requests whenever a sequence finishes.")

        // ingest --json: the documented shape, into the default index under indexes/
        var r = try RagBinary.run(["ingest", "docs", "--json"], in: dir.url)
        #expect(r.status == 0, "\(r.stderr)")
        var json = r.json
        #expect(json["added"] as? Int == 3)
        #expect(json["chunks"] as? Int == 3)
        #expect((json["skipped"] as? [Any])?.isEmpty == true)
        #expect(json["seconds"] is Double)
        #expect(FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("indexes/default.sqlite").path))

        // again: unchanged
        r = try RagBinary.run(["ingest", "docs", "--json"], in: dir.url)
        #expect(r.json["unchanged"] as? Int == 3)

        // search --json, in every mode; dense finds meaning without shared words
        for mode in ["bm25", "dense", "hybrid"] {
            r = try RagBinary.run(["search", "draft model verifies", "--json", "--top-k", "2", "--mode", mode], in: dir.url)
            #expect(r.status == 0, "\(mode): \(r.stderr)")
            let results = r.json["results"] as? [[String: Any]] ?? []
            #expect((results.first?["document"] as? String)?.hasSuffix("docs/spec.html") == true, "\(mode)")
            #expect(results.first?["chunk_id"] is Int && results.first?["score"] is Double && results.first?["heading"] is String)
        }
        r = try RagBinary.run(["search", "remembering attention state of earlier words", "--json", "--mode", "dense", "--top-k", "1"], in: dir.url)
        #expect(((r.json["results"] as? [[String: Any]])?.first?["document"] as? String)?.hasSuffix("docs/kv.md") == true)

        // embed --json
        r = try RagBinary.run(["embed", "The quick brown fox jumps over the lazy dog.", "--json"], in: dir.url)
        #expect((r.json["tokens"] as? [[Int]])?.first == [101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102])
        #expect((r.json["vectors"] as? [[Double]])?.first?.count == 384)
        // a 100k-character text is cut to 256 tokens, with a warning in the JSON
        r = try RagBinary.run(["embed", String(repeating: "token ", count: 16_700), "", "   ", "--json"], in: dir.url)
        #expect(r.status == 0)
        #expect((r.json["tokens"] as? [[Int]])?.map(\.count) == [256, 2, 2])
        #expect((r.json["warnings"] as? [String])?.first?.contains("longer than 256 tokens") == true)

        // a hostile query is just words
        r = try RagBinary.run(["search", "\"NEAR( AND * col:x"], in: dir.url)
        #expect(r.status == 0)

        // stats --json
        r = try RagBinary.run(["stats", "--json"], in: dir.url)
        json = r.json
        #expect(json["documents"] as? Int == 3 && json["chunks"] as? Int == 3 && json["vectors"] as? Int == 3)
        #expect(json["embedder"] as? String == "all-MiniLM-L6-v2-\(SentenceEmbedder.defaultPrecision.rawValue)/384")

        // docs list / rm
        r = try RagBinary.run(["docs", "list", "--json"], in: dir.url)
        #expect((r.json["documents"] as? [Any])?.count == 3)
        r = try RagBinary.run(["docs", "rm", "docs/notes.txt"], in: dir.url)
        #expect(r.status == 0 && r.stdout.contains("1 documents removed"))
        r = try RagBinary.run(["docs", "rm", "docs/notes.txt"], in: dir.url)
        #expect(r.status != 0 && r.stderr.contains("not in the index"))
        r = try RagBinary.run(["stats", "--json"], in: dir.url)
        #expect(r.json["documents"] as? Int == 2)
    }

    @Test(.enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) func badInputGivesClearErrorsAndStatuses() throws {
        let dir = try TempDir()
        // a path that does not exist: named, non-zero (nothing ingested)
        var r = try RagBinary.run(["ingest", "nowhere"], in: dir.url)
        #expect(r.status != 0)
        #expect(r.stderr.contains("nowhere") && r.stderr.contains("no such file or folder"))

        // a folder with no readable files
        try dir.write("empty/picture.png", "x")
        r = try RagBinary.run(["ingest", "empty", "--json"], in: dir.url)
        #expect(r.status != 0)
        #expect((r.json["skipped"] as? [[String: Any]])?.first?["reason"] as? String == "unsupported file type '.png'")

        // a missing path next to a good one: exit 0, the good one ingested
        try dir.write("good/a.md", "Fine.")
        r = try RagBinary.run(["ingest", "good", "nowhere", "--json"], in: dir.url)
        #expect(r.status == 0)
        #expect(r.json["added"] as? Int == 1)

        // an index file that is not SQLite: clear error, file untouched
        try dir.write("fake.sqlite", "hello, not a database")
        r = try RagBinary.run(["ingest", "good", "--db", "fake.sqlite"], in: dir.url)
        #expect(r.status != 0)
        #expect(r.stderr.contains("fake.sqlite: not a rag index"))
        #expect(try String(contentsOf: dir.url.appendingPathComponent("fake.sqlite"), encoding: .utf8) == "hello, not a database")

        // a BM25-only index refuses dense search clearly
        r = try RagBinary.run(["ingest", "good", "--db", "plain.sqlite", "--no-embed"], in: dir.url)
        #expect(r.status == 0)
        r = try RagBinary.run(["search", "fine", "--db", "plain.sqlite", "--mode", "dense"], in: dir.url)
        #expect(r.status != 0 && r.stderr.contains("holds no vectors"))
        r = try RagBinary.run(["search", "fine", "--db", "plain.sqlite", "--json"], in: dir.url)
        #expect((r.json["results"] as? [Any])?.count == 1)

        // another chunk overlap re-chunks the unchanged file; one out of range is a usage error
        r = try RagBinary.run(["ingest", "good", "--db", "plain.sqlite", "--no-embed", "--chunk-overlap", "0", "--json"], in: dir.url)
        #expect(r.status == 0 && (r.json["chunks"] as? Int ?? 0) > 0)
        r = try RagBinary.run(["ingest", "good", "--db", "plain.sqlite", "--no-embed", "--chunk-overlap", "0.9"], in: dir.url)
        #expect(r.status == 64 && r.stderr.contains("--chunk-overlap must be between 0 and 0.5"))

        // a missing embedding model names `make models`
        r = try RagBinary.run(["ingest", "good", "--db", "x.sqlite", "--embedder", "/nonexistent"], in: dir.url)
        #expect(r.status != 0 && r.stderr.contains("make models"))

        // search without an index
        r = try RagBinary.run(["search", "x", "--db", "none.sqlite"], in: dir.url)
        #expect(r.status != 0 && r.stderr.contains("no index here"))
        #expect(!FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("none.sqlite").path))

        // bad flags: a usage error (exit 64)
        r = try RagBinary.run(["search", "x", "--top-k", "0"], in: dir.url)
        #expect(r.status == 64 && r.stderr.contains("--top-k"))
    }

    @Test func helpListsEveryCommand() throws {
        let r = try RagBinary.run(["--help"], in: FileManager.default.temporaryDirectory)
        for command in ["ingest", "search", "stats", "docs"] { #expect(r.stdout.contains(command)) }
    }

    /// The built-in templates travel with the binary (its resource bundle beside it), not with
    /// the source tree: a copy of rag in another folder, run from a third, still finds them.
    @Test func aCopiedRagFindsItsBuiltInTemplatesFromAnyFolder() throws {
        let dir = try TempDir()
        let bin = dir.url.appendingPathComponent("bin"), work = dir.url.appendingPathComponent("work")
        for folder in [bin, work] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        let built = URL(fileURLWithPath: RagBinary.path)
        try FileManager.default.copyItem(at: built, to: bin.appendingPathComponent("rag"))
        try FileManager.default.copyItem(
            at: built.deletingLastPathComponent().appendingPathComponent("rag_RAG.resources"), to: bin.appendingPathComponent("rag_RAG.resources"))
        try Data("# Harbor\n\nHarbor listens on port 9090.\n".utf8).write(to: work.appendingPathComponent("harbor.md"))
        let rag = bin.appendingPathComponent("rag").path
        let ingest = try RagBinary.run(["ingest", "harbor.md", "--db", "i.sqlite", "--no-embed"], in: work, executable: rag)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let ask = try RagBinary.run(["ask", "Which port?", "--db", "i.sqlite", "--template", "nope"], in: work, executable: rag)
        #expect(ask.status != 0 && ask.stderr.contains("the templates are cot, default, fewshot, yesno"), "\(ask.stderr)")
    }
}
