import Foundation
import RAG
import RAGCore
import RAGStorage
import RAGTesting
import Testing

@Suite(.onTestThreads, .serialized, .enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) struct CrashTests {
    /// `kill -9` in the middle of an ingest of thousands of documents, at several moments: each
    /// time the index opens, every document is whole or absent, and the next run finishes the job.
    @Test(arguments: TestBackend.available)
    func killedIngestLeavesEveryDocumentWholeOrAbsent(backend: TestBackend) throws {
        let dir = try TempDir()
        // Given 1,200 Markdown files and a 1,800-record JSONL file (chunks are embedded too); a
        // quarter of that for PostgreSQL, whose writes take longer
        let files = backend == .sqlite ? 1200 : 300, records = files * 3 / 2, documents = files + records
        for i in 0..<files {
            let body = (0..<3).map { "Document \(i) sentence \($0) talks about cache line \(i * 7 % 97)." }.joined(separator: " ")
            try dir.write("docs/d\(i / 100)/doc\(i).md", "# Doc \(i)\n\n\(body)\n\n## More\n\n\(body)")
        }
        var lines = ""
        for i in 0..<records { lines += "{\"_id\":\"r\(i)\",\"title\":\"Record \(i)\",\"text\":\"Record \(i) studies latency \(i % 13) and throughput.\"}\n" }
        try dir.write("docs/records.jsonl", lines)

        // The reference: one uninterrupted ingest into another index
        let started = Date()
        let cleanIndex = backend == .sqlite ? dir.url.appendingPathComponent("clean.sqlite").path : backend.newIndex(in: dir.url)
        var r = try RagBinary.run(["ingest", "docs", "--db", cleanIndex, "--json"], in: dir.url)
        let duration = Date().timeIntervalSince(started)
        #expect(r.status == 0)
        #expect(r.json["added"] as? Int == documents)
        let clean = try RAGService.openStore(cleanIndex, mode: .mustExist)
        let expected = Dictionary(uniqueKeysWithValues: try clean.documents().map { ($0.path, $0.chunkCount) })

        // When ingests are killed at several moments
        let db = backend == .sqlite ? dir.url.appendingPathComponent("crash.sqlite").path : backend.newIndex(in: dir.url)
        var partialStates = 0
        // Kill points spread over the ingest (its clean duration scales them to this machine).
        for delay in [0.1, 0.25, 0.45, 0.65, 0.85].map({ $0 * duration }) {
            let (process, _, _) = try RagBinary.start(["ingest", "docs", "--db", db], in: dir.url)
            Thread.sleep(forTimeInterval: delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            // Then the index opens and every document present is complete
            guard let store = try? RAGService.openStore(db, mode: .mustExist) else { continue }  // killed before it was created
            #expect(try Self.problems(store) == [])
            let present = try store.documents()
            if !present.isEmpty && present.count < expected.count { partialStates += 1 }
            for document in present {
                #expect(expected[document.path] == document.chunkCount, "\(document.path) after kill at \(delay) s")
            }
            try store.close()
        }
        #expect(partialStates >= 2, "the kills should land in the middle of the ingest")
        // And the next run finishes the job
        r = try RagBinary.run(["ingest", "docs", "--db", db, "--json"], in: dir.url)
        #expect(r.status == 0)
        let store = try RAGService.openStore(db, mode: .mustExist)
        let finished = Dictionary(uniqueKeysWithValues: try store.documents().map { ($0.path, $0.chunkCount) })
        #expect(finished == expected)
        #expect(try store.stats().chunks == clean.stats().chunks)
        #expect(try Self.problems(store) == [])
        // and an ingest after that has nothing to do
        r = try RagBinary.run(["ingest", "docs", "--db", db, "--json"], in: dir.url)
        #expect(r.json["unchanged"] as? Int == documents && r.json["chunks"] as? Int == 0)
    }

    /// The store's own check: SQLite's integrity check and the graph's, or the vector index's.
    static func problems(_ store: any IndexStore) throws -> [String] {
        if let sqlite = store as? SQLiteStore { return try sqlite.integrityProblems() }
        return try store.graphProblems()
    }

    /// Two `rag ingest` processes on one index at the same time (different folders, the same
    /// file): both finish, and every document of both is in it, whole.
    @Test(arguments: TestBackend.available)
    func twoIngestsAtOnceBothFinishAndLoseNothing(backend: TestBackend) throws {
        let dir = try TempDir()
        for folder in ["a", "b"] {
            for i in 0..<150 {
                try dir.write("\(folder)/doc\(i).md", "# \(folder) \(i)\n\nDocument \(i) of folder \(folder) talks about cache line \(i % 17) and batch \(i % 5).")
            }
        }
        final class Results: @unchecked Sendable { var items: [RagBinary.Result?] = [nil, nil] }
        let db = backend == .sqlite ? dir.url.appendingPathComponent("shared.sqlite").path : backend.newIndex(in: dir.url)
        let results = Results(), lock = NSLock(), folders = ["a", "b"], url = dir.url
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let result = try? RagBinary.run(["ingest", folders[i], "--db", db, "--json"], in: url)
            lock.lock(); results.items[i] = result; lock.unlock()
        }
        for result in results.items {
            #expect(result?.status == 0 && result?.json["added"] as? Int == 150, "\(result?.status ?? -1): \(result?.stderr.suffix(300) ?? "")")
        }
        let store = try RAGService.openStore(db, mode: .mustExist)
        let documents = try store.documents()
        #expect(documents.count == 300 && documents.allSatisfy { $0.chunkCount > 0 })
        #expect(try Self.problems(store) == [])
    }

    /// A `rag serve` process on a free port of 127.0.0.1, its stderr in a file.
    final class Server {
        let process: Process
        let port: Int
        init(_ dir: TempDir, db: String = "index.sqlite") throws {
            let log = dir.url.appendingPathComponent("serve-\(UUID().uuidString).log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            process = Process()
            process.executableURL = URL(fileURLWithPath: RagBinary.path)
            process.arguments = ["serve", "--port", "0", "--db", db, "--model", ModelFiles.smallGenerator, "--context", "512", "--max-tokens", "8"]
            process.currentDirectoryURL = dir.url
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: log)
            process.standardInput = FileHandle.nullDevice
            try process.run()
            var port = 0
            for _ in 0..<600 where port == 0 {
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                if let range = text.range(of: "listening on http://127.0.0.1:") {
                    port = Int(text[range.upperBound...].prefix { $0.isNumber }) ?? 0
                } else if !process.isRunning {
                    break
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
            self.port = port
            if port == 0 { process.terminate() }
        }

        /// curl sending a request in the background (the reply is not awaited).
        func send(_ arguments: [String]) throws -> Process {
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            curl.arguments = ["-s", "-o", "/dev/null", "--max-time", "120"] + arguments.map { $0.replacingOccurrences(of: "BASE", with: "http://127.0.0.1:\(port)") }
            curl.standardOutput = FileHandle.nullDevice
            curl.standardError = FileHandle.nullDevice
            try curl.run()
            return curl
        }

        func killHard() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// `kill -9` of `rag serve` while it ingests an upload and while it deletes a document, at
    /// several moments: each time the index passes `rag index check` and its integrity check,
    /// and the document is whole (every chunk) or absent, never half there.
    @Test(.enabled(if: ModelFiles.haveSmallGenerator, "needs the small generator (make models)"))
    func killedServerDuringUploadOrDeleteLeavesTheIndexWhole() throws {
        let dir = try TempDir()
        try dir.write("docs/small.md", "# Small\n\nA small document so the index exists before the server starts.")
        #expect(try RagBinary.run(["ingest", "docs", "--db", "index.sqlite"], in: dir.url).status == 0)
        // A Markdown file of about 150 KB: its ingest (embedding every chunk) takes seconds.
        var text = "# Big\n\n"
        for i in 0..<1500 { text += "Sentence \(i) of the big upload is about harbor \(i % 97), tide \(i % 13) and lantern \(i % 31). " }
        try dir.write("big.md", text)
        let upload = ["-X", "POST", "-H", "Content-Type: text/markdown", "--data-binary", "@" + dir.url.appendingPathComponent("big.md").path, "BASE/v1/documents?filename=big.md"]
        let db = dir.url.appendingPathComponent("index.sqlite").path

        func bigDocument() throws -> (id: Int64, chunks: Int)? {
            let store = try SQLiteStore(path: db, mode: .mustExist)
            defer { try? store.close() }
            return try store.documents().first { $0.path.hasSuffix("/big.md") }.map { ($0.id.rawValue, $0.chunkCount) }
        }
        func checkIndex(_ moment: String) throws {
            let check = try RagBinary.run(["index", "check", "--db", "index.sqlite"], in: dir.url)
            #expect(check.status == 0, "rag index check after a kill \(moment): \(check.stderr)")
            let store = try SQLiteStore(path: db, mode: .mustExist)
            #expect(try store.integrityProblems() == [], "after a kill \(moment)")
            #expect(try store.documents().contains { $0.path.hasSuffix("/small.md") })
            try store.close()
        }

        // The reference: an upload that finishes, and how long it takes; then its delete.
        var server = try Server(dir)
        try #require(server.port > 0, "rag serve did not start")
        var started = Date()
        let finished = try server.send(upload)
        finished.waitUntilExit()
        let uploadSeconds = Date().timeIntervalSince(started)
        let whole = try #require(try bigDocument(), "the reference upload was not ingested")
        #expect(whole.chunks > 100)
        started = Date()
        try server.send(["-X", "DELETE", "BASE/v1/documents/\(whole.id)"]).waitUntilExit()
        let deleteSeconds = Date().timeIntervalSince(started)
        #expect(try bigDocument() == nil)
        server.killHard()

        // Kills during the upload.
        var killedBeforeTheEnd = 0
        for fraction in [0.2, 0.5, 0.8] {
            server = try Server(dir)
            try #require(server.port > 0)
            let curl = try server.send(upload)
            Thread.sleep(forTimeInterval: fraction * uploadSeconds)
            server.killHard()
            curl.waitUntilExit()
            try checkIndex("at \(fraction) of an upload")
            if let document = try bigDocument() {
                #expect(document.chunks == whole.chunks, "half an upload after a kill at \(fraction)")
            } else {
                killedBeforeTheEnd += 1
            }
        }
        #expect(killedBeforeTheEnd >= 1, "the kills should land during the upload (\(uploadSeconds) s)")

        // Kills during a delete (the upload first, whole).
        for fraction in [0.0, 0.3, 0.6] {
            server = try Server(dir)
            try #require(server.port > 0)
            if try bigDocument() == nil { try server.send(upload).waitUntilExit() }
            let document = try #require(try bigDocument())
            let curl = try server.send(["-X", "DELETE", "BASE/v1/documents/\(document.id)"])
            Thread.sleep(forTimeInterval: fraction * deleteSeconds)
            server.killHard()
            curl.waitUntilExit()
            try checkIndex("at \(fraction) of a delete")
            if let after = try bigDocument() { #expect(after.chunks == whole.chunks, "half a delete after a kill at \(fraction)") }
        }
        print("kill -9 of rag serve: upload \(uploadSeconds) s (\(whole.chunks) chunks), delete \(deleteSeconds) s; \(killedBeforeTheEnd) of 3 upload kills landed before its commit")
    }
}
