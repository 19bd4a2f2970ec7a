import Foundation
import RAGStorage
import RAGTesting
import Testing

@Suite(.serialized, .enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) struct CrashTests {
    /// `kill -9` in the middle of an ingest of thousands of documents, at several moments: each
    /// time the index opens, every document is whole or absent, and the next run finishes the job.
    @Test func killedIngestLeavesEveryDocumentWholeOrAbsent() throws {
        let dir = try TempDir()
        // Given 1,200 Markdown files and a 1,800-record JSONL file (chunks are embedded too)
        for i in 0..<1200 {
            let body = (0..<3).map { "Document \(i) sentence \($0) talks about cache line \(i * 7 % 97)." }.joined(separator: " ")
            try dir.write("docs/d\(i / 100)/doc\(i).md", "# Doc \(i)\n\n\(body)\n\n## More\n\n\(body)")
        }
        var lines = ""
        for i in 0..<1800 { lines += "{\"_id\":\"r\(i)\",\"title\":\"Record \(i)\",\"text\":\"Record \(i) studies latency \(i % 13) and throughput.\"}\n" }
        try dir.write("docs/records.jsonl", lines)

        // The reference: one uninterrupted ingest into another index
        let started = Date()
        var r = try RagBinary.run(["ingest", "docs", "--db", "clean.sqlite", "--json"], in: dir.url)
        let duration = Date().timeIntervalSince(started)
        #expect(r.status == 0)
        #expect(r.json["added"] as? Int == 3000)
        let clean = try Store(path: dir.url.appendingPathComponent("clean.sqlite").path, mode: .mustExist)
        let expected = Dictionary(uniqueKeysWithValues: try clean.documents().map { ($0.path, $0.chunkCount) })

        // When ingests are killed at several moments
        let db = dir.url.appendingPathComponent("crash.sqlite").path
        var partialStates = 0
        // Kill points spread over the ingest (its clean duration scales them to this machine).
        for delay in [0.1, 0.25, 0.45, 0.65, 0.85].map({ $0 * duration }) {
            let (process, _, _) = try RagBinary.start(["ingest", "docs", "--db", "crash.sqlite"], in: dir.url)
            Thread.sleep(forTimeInterval: delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            // Then the index opens and every document present is complete
            guard FileManager.default.fileExists(atPath: db) else { continue }  // killed before it was created
            let store = try Store(path: db, mode: .mustExist)
            #expect(try store.integrityProblems() == [])
            let present = try store.documents()
            if !present.isEmpty && present.count < expected.count { partialStates += 1 }
            for document in present {
                #expect(expected[document.path] == document.chunkCount, "\(document.path) after kill at \(delay) s")
            }
            try store.close()
        }
        #expect(partialStates >= 2, "the kills should land in the middle of the ingest")
        // And the next run finishes the job
        r = try RagBinary.run(["ingest", "docs", "--db", "crash.sqlite", "--json"], in: dir.url)
        #expect(r.status == 0)
        let store = try Store(path: db, mode: .mustExist)
        let finished = Dictionary(uniqueKeysWithValues: try store.documents().map { ($0.path, $0.chunkCount) })
        #expect(finished == expected)
        #expect(try store.stats().chunks == clean.stats().chunks)
        #expect(try store.integrityProblems() == [])
        // and an ingest after that has nothing to do
        r = try RagBinary.run(["ingest", "docs", "--db", "crash.sqlite", "--json"], in: dir.url)
        #expect(r.json["unchanged"] as? Int == 3000 && r.json["chunks"] as? Int == 0)
    }

    /// Two `rag ingest` processes on one index at the same time (different folders, the same
    /// file): both finish, and every document of both is in it, whole.
    @Test func twoIngestsAtOnceBothFinishAndLoseNothing() throws {
        let dir = try TempDir()
        for folder in ["a", "b"] {
            for i in 0..<150 {
                try dir.write("\(folder)/doc\(i).md", "# \(folder) \(i)\n\nDocument \(i) of folder \(folder) talks about cache line \(i % 17) and batch \(i % 5).")
            }
        }
        final class Results: @unchecked Sendable { var items: [RagBinary.Result?] = [nil, nil] }
        let results = Results(), lock = NSLock(), folders = ["a", "b"], url = dir.url
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let result = try? RagBinary.run(["ingest", folders[i], "--db", "shared.sqlite", "--json"], in: url)
            lock.lock(); results.items[i] = result; lock.unlock()
        }
        for result in results.items {
            #expect(result?.status == 0 && result?.json["added"] as? Int == 150, "\(result?.status ?? -1): \(result?.stderr.suffix(300) ?? "")")
        }
        let store = try Store(path: dir.url.appendingPathComponent("shared.sqlite").path, mode: .mustExist)
        let documents = try store.documents()
        #expect(documents.count == 300 && documents.allSatisfy { $0.chunkCount > 0 })
        #expect(try store.integrityProblems() == [])
    }
}
