import Foundation
import RAGTesting
import Testing

/// TEXMEX .fvecs / .ivecs bytes.
func vecsFile<T>(_ rows: [[T]], bits: (T) -> UInt32) -> Data {
    var data = Data()
    for row in rows {
        withUnsafeBytes(of: UInt32(row.count).littleEndian) { data.append(contentsOf: $0) }
        for value in row { withUnsafeBytes(of: bits(value).littleEndian) { data.append(contentsOf: $0) } }
    }
    return data
}

@Suite(.onTestThreads) struct IndexCLITests {
    @Test(.enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) func indexInfoCheckRebuildAndSearchesDuringAnIngest() throws {
        let dir = try TempDir()
        for i in 0..<40 {
            try dir.write("docs/a\(i).md", "# Note \(i)\n\nTopic \(i % 7): the quick brown fox \(i) jumps over lazy dog number \(i * 3). Retrieval note \(i).")
        }
        var r = try RagBinary.run(["ingest", "docs", "--json", "--m", "12"], in: dir.url)
        #expect(r.status == 0, "\(r.stderr)")
        let chunks = r.json["chunks"] as? Int ?? -1
        r = try RagBinary.run(["index", "info", "--json"], in: dir.url)
        #expect(r.json["nodes"] as? Int == chunks && r.json["m"] as? Int == 12 && r.json["dimensions"] as? Int == 384)
        r = try RagBinary.run(["index", "check", "--json"], in: dir.url)
        #expect(r.status == 0 && r.json["ok"] as? Bool == true, "\(r.stdout) \(r.stderr)")

        // A second folder is ingested while searches run: every search succeeds on the last
        // committed state, and the graph is sound afterwards.
        for i in 0..<400 {
            try dir.write("more/b\(i).txt", "Paragraph \(i) about harbour logistics, container cranes and berth \(i % 13). " + String(repeating: "Shipping schedules change with the tide. ", count: 3))
        }
        let (ingest, _, _) = try RagBinary.start(["ingest", "more", "--json"], in: dir.url)
        var searches = 0
        while ingest.isRunning || searches < 3 {
            let s = try RagBinary.run(["search", "quick brown fox", "--mode", "dense", "--json", "--top-k", "3"], in: dir.url)
            #expect(s.status == 0, "\(s.stderr)")
            #expect((s.json["results"] as? [Any])?.isEmpty == false)
            searches += 1
        }
        ingest.waitUntilExit()
        #expect(ingest.terminationStatus == 0)
        r = try RagBinary.run(["index", "check", "--json"], in: dir.url)
        #expect(r.status == 0 && r.json["ok"] as? Bool == true, "\(r.stdout) \(r.stderr)")
        let nodes = r.json["nodes"] as? Int ?? 0
        #expect(nodes > chunks)

        // Removing documents removes their nodes.
        r = try RagBinary.run(["docs", "rm", "more"], in: dir.url)
        #expect(r.status == 0)
        r = try RagBinary.run(["index", "check", "--json"], in: dir.url)
        #expect(r.status == 0 && r.json["nodes"] as? Int == chunks)

        // Rebuild with new parameters.
        r = try RagBinary.run(["index", "rebuild", "--m", "8", "--ef-construction", "50", "--json"], in: dir.url)
        #expect(r.status == 0, "\(r.stderr)")
        let index = r.json["index"] as? [String: Any]
        #expect(index?["m"] as? Int == 8 && index?["ef_construction"] as? Int == 50 && index?["nodes"] as? Int == chunks)
        r = try RagBinary.run(["search", "fox jumps", "--mode", "hybrid", "--ef", "16", "--json"], in: dir.url)
        #expect(r.status == 0 && (r.json["results"] as? [Any])?.count == 10)
        r = try RagBinary.run(["search", "fox", "--ef", "0"], in: dir.url)
        #expect(r.status != 0 && r.stderr.contains("--ef"))
    }

    @Test func indexBenchOnSmallVectorFiles() throws {
        let dir = try TempDir()
        var state: UInt64 = 99
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) % 2001 - 1000) / 1000
        }
        let base = (0..<300).map { _ in (0..<8).map { _ in next() } }
        let queries = (0..<20).map { _ in (0..<8).map { _ in next() } }
        let truth = queries.map { q in
            base.indices.sorted { a, b in
                zip(base[a], q).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) < zip(base[b], q).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            }.prefix(10).map(Int32.init)
        }
        try vecsFile(base, bits: \.bitPattern).write(to: dir.url.appendingPathComponent("base.fvecs"))
        try vecsFile(queries, bits: \.bitPattern).write(to: dir.url.appendingPathComponent("query.fvecs"))
        try vecsFile(truth, bits: { UInt32(bitPattern: $0) }).write(to: dir.url.appendingPathComponent("gt.ivecs"))
        let r = try RagBinary.run([
            "index", "bench", "--base", "base.fvecs", "--query", "query.fvecs", "--groundtruth", "gt.ivecs",
            "--space", "l2", "--ef", "10,300", "--json",
        ], in: dir.url)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.map { $0["ef"] as? Int } == [10, 300])
        #expect(lines.last?["recall"] as? Double == 1.0)
        #expect(lines.allSatisfy { ($0["qps"] as? Double ?? 0) > 0 && $0["build_s"] is Double })

        try Data([1, 2, 3]).write(to: dir.url.appendingPathComponent("bad.fvecs"))
        let bad = try RagBinary.run(["index", "bench", "--base", "bad.fvecs", "--query", "query.fvecs", "--groundtruth", "gt.ivecs"], in: dir.url)
        #expect(bad.status != 0 && bad.stderr.contains("bad.fvecs") && bad.stderr.contains("not a .fvecs file"))
    }
}
