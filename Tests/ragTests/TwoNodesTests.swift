import Foundation
import RAGTesting
import Testing

/// Two `rag serve` processes on one index (a SQLite file, or a PostgreSQL database), as two
/// nodes behind one store: what one writes the
/// other serves at once, and the other's cached answers are dropped (the index's revision moved).
@Suite(.onTestThreads, .enabled(if: ModelFiles.haveEmbedderAndSmallGenerator, "needs the embedding model and the small generator (make models)"))
struct TwoNodesTests {
    /// curl's reply body as JSON.
    static func curl(_ arguments: [String], in dir: TempDir) throws -> [String: Any] {
        let r = try RagBinary.run(["-s", "--max-time", "120"] + arguments, in: dir.url, executable: "/usr/bin/curl")
        return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? ["curl": r.status, "body": r.stdout]
    }

    @Test(arguments: TestBackend.available)
    func anUploadThroughOneNodeIsFoundThroughTheOtherAndDropsItsCachedAnswers(backend: TestBackend) throws {
        let dir = try TempDir()
        try dir.write("docs/harbor.md", "# Harbor\n\nHarbor stores its HNSW vector index inside a SQLite file named harbor.db.")
        let db = backend.newIndex(in: dir.url)
        #expect(try RagBinary.run(["ingest", "docs", "--db", db], in: dir.url).status == 0)
        let a = try CrashTests.Server(dir, db: db), b = try CrashTests.Server(dir, db: db)
        defer { a.killHard(); b.killHard() }
        try #require(a.port > 0 && b.port > 0, "rag serve did not start")
        let ask = ["-H", "Content-Type: application/json", "-d", #"{"question":"Where does Harbor store its index?","abstain_below":-1}"#]
        _ = try Self.curl(ask + ["http://127.0.0.1:\(b.port)/v1/ask"], in: dir)
        #expect(try Self.curl(ask + ["http://127.0.0.1:\(b.port)/v1/ask"], in: dir)["cached"] as? Bool == true, "node B did not cache its answer")

        let upload = try Self.curl(
            ["-X", "POST", "-H", "Content-Type: text/markdown", "--data-binary", "# Tides\n\nThe zanzibar tide table lists spring tides.",
             "http://127.0.0.1:\(a.port)/v1/documents?filename=tides.md"], in: dir)
        #expect((upload["files"] as? [[String: Any]])?.first?["status"] as? String == "added", "\(upload)")
        let uploaded = Date()
        var found = false
        for mode in ["bm25", "dense", "hybrid"] {
            while Date().timeIntervalSince(uploaded) < 30 {
                let search = try Self.curl(
                    ["-H", "Content-Type: application/json", "-d", #"{"query":"zanzibar tide table","mode":"\#(mode)","top_k":1}"#,
                     "http://127.0.0.1:\(b.port)/v1/search"], in: dir)
                found = ((search["results"] as? [[String: Any]])?.first?["document"] as? String)?.hasSuffix("tides.md") == true
                if found { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            #expect(found, "node B's \(mode) search never found the upload through node A")
        }
        print("two nodes (\(backend)): an upload through A found through B after \(Int(Date().timeIntervalSince(uploaded) * 1000)) ms (bm25, dense and hybrid)")
        #expect(try Self.curl(ask + ["http://127.0.0.1:\(b.port)/v1/ask"], in: dir)["cached"] as? Bool == false, "node B answered from a cache older than the upload")
    }
}
