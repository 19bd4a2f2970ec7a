import Foundation
import RAGCore
import RAGIndex
import RAGTesting
import Testing
@testable import RAGStorage

/// The in-memory BM25 index against FTS5's own bm25() on the same real SQLite file: the same
/// chunks, the same scores.
@Suite(.onTestThreads) struct BM25IndexTests {
    /// A corpus with what trips a reimplementation: repeated words, words sharing a stem,
    /// diacritics, headings (a second column), chunks of very different lengths, a chunk with
    /// no token at all, and words in nearly every chunk (IDF at its floor).
    static func corpus() -> [(path: String, chunks: [String], heading: String)] {
        let vocabulary = [
            "cell", "cells", "protein", "proteins", "binding", "bound", "receptor", "café", "cafe", "naïve", "gene", "expression",
            "expressed", "tumour", "tumor", "mouse", "mice", "signal", "signalling", "pathway", "dose", "doses", "trial", "placebo",
            "2001", "covid19", "β", "x2", "common", "common", "common", "common",
        ]
        var seed: UInt64 = 42
        func next(_ n: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(seed >> 33) % n
        }
        var documents: [(String, [String], String)] = []
        for d in 0..<40 {
            var chunks: [String] = []
            for _ in 0..<(1 + next(6)) {
                // Lengths from 1 to ~120 words, skewed so that a few draw most tokens.
                let length = 1 + next(1 + next(120))
                chunks.append((0..<length).map { _ in vocabulary[min(next(vocabulary.count), next(vocabulary.count))] }.joined(separator: " ") + ".")
            }
            if d == 7 { chunks.append("— … !") }  // no token
            documents.append(("/doc\(d).md", chunks, d % 3 == 0 ? "Cell signalling \(d)" : ""))
        }
        return documents
    }

    static let queries = [
        "cell", "cells and cell", "protein binding receptor", "café naïve", "common", "common cell", "Tumour tumor mice dose",
        "β x2 2001", "covid19 placebo trial", "nothing matches zzz", "the of and", "expression of expressed genes in mouse cells",
        "signalling pathway", "Cell signalling 3",
    ]

    @Test func theInMemoryIndexScoresAsFTS5Does() throws {
        let folder = try TemporaryFolder()
        let store = try SQLiteStore(path: folder.path("index.sqlite"))
        for document in Self.corpus() { try addDocument(store, path: document.path, chunks: document.chunks, heading: document.heading) }
        let (index, revision) = try store.buildBM25Index()
        #expect(revision == (try store.revision()))
        #expect(index.documentCount == (try store.stats().chunks))
        for query in Self.queries {
            let fts = try store.bm25Ranking(query, limit: 1000)
            let terms = try #require(try store.read { try SQLiteStore.bm25Terms(LexicalQuery.words(query), $0) })
            let memory = index.search(terms, limit: 1000)
            #expect(memory.count == fts.count, "\(query): \(memory.count) hits in memory, \(fts.count) in FTS5")
            for (a, b) in zip(memory, fts) {
                #expect(abs(a.score - b.1) <= 1e-9 * max(1, abs(b.1)), "\(query): score \(a.score) in memory, \(b.1) in FTS5")
            }
            // The same chunks in the same order, ties (equal scores) aside.
            let fused = Dictionary(fts.map { ($0.0.rawValue, $0.1) }, uniquingKeysWith: { a, _ in a })
            for hit in memory { #expect(fused[hit.label].map { abs($0 - hit.score) <= 1e-9 * max(1, abs($0)) } == true, "\(query): chunk \(hit.label)") }
            if let best = memory.first, fts.count > 1, fts[0].1 != fts[1].1 { #expect(best.label == fts[0].0.rawValue) }
        }
        // Only the best `limit`, in the same order as the full list.
        let terms = try #require(try store.read { try SQLiteStore.bm25Terms(["cell", "protein"], $0) })
        #expect(index.search(terms, limit: 5).map(\.label) == Array(index.search(terms, limit: 1000).prefix(5)).map(\.label))
    }

    @Test func aProcessThatKeepsTheIndexFollowsEveryWrite() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("index.sqlite")
        let server = try SQLiteStore(path: path)
        let plain = try SQLiteStore(path: path)
        for document in Self.corpus().prefix(20) { try addDocument(server, path: document.path, chunks: document.chunks, heading: document.heading) }
        try server.keepBM25IndexInMemory()
        try await Self.waitUntilCurrent(server)
        for query in Self.queries {
            #expect(Self.same(try server.bm25Ranking(query, limit: 10), try plain.bm25Ranking(query, limit: 10)), "\(query)")
        }
        // Another process writes: the next query is answered by FTS5 (never stale), and the
        // index is rebuilt in the background.
        try addDocument(plain, path: "/new.md", chunks: ["zeppelin airships zeppelin"])
        #expect(try !server.bm25IndexIsCurrent())
        #expect(try server.bm25Ranking("zeppelin", limit: 3).map(\.0) == plain.bm25Ranking("zeppelin", limit: 3).map(\.0))
        try await Self.waitUntilCurrent(server)
        #expect(Self.same(try server.bm25Ranking("zeppelin airship", limit: 3), try plain.bm25Ranking("zeppelin airship", limit: 3)))
        try server.transaction { try $0.deleteDocument(path: "/new.md") }
        #expect(try server.bm25Ranking("zeppelin", limit: 3).isEmpty)
    }

    /// The same scores, in the same order, to rounding (the sums run in another order).
    static func same(_ a: [(ChunkID, Double)], _ b: [(ChunkID, Double)]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0.1 - $1.1) <= 1e-9 * max(1, abs($1.1)) }
    }

    static func waitUntilCurrent(_ store: SQLiteStore) async throws {
        for _ in 0..<500 {
            _ = try store.bm25Ranking("cell", limit: 1)  // a query starts the rebuild if none runs
            if try store.bm25IndexIsCurrent() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the in-memory BM25 index did not become current within 10 s")
    }
}

/// The index on its own: occurrences in any order, ties, limits.
@Suite(.onTestThreads) struct BM25IndexBuilderTests {
    @Test func occurrencesInAnyOrderGiveTheSameIndex() {
        var ordered = BM25Index.Builder(documentCount: 4), shuffled = BM25Index.Builder(documentCount: 4)
        let occurrences: [(String, Int64)] = [("a", 10), ("a", 10), ("a", 11), ("b", 11), ("b", 12), ("c", 12), ("a", 12)]
        for (term, document) in occurrences.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) { ordered.add(term: term, document: document) }
        for (term, document) in occurrences.reversed() { shuffled.add(term: term, document: document) }
        let (x, y) = (ordered.build(), shuffled.build())
        for query in [["a"], ["b"], ["a", "b"], ["a", "a", "c"], ["d"]] {
            let (p, q) = (x.search(query, limit: 10), y.search(query, limit: 10))
            #expect(p.map(\.label) == q.map(\.label))
            #expect(zip(p, q).allSatisfy { abs($0.score - $1.score) < 1e-12 })
        }
        #expect(x.documentFrequency("a") == 3 && x.documentFrequency("d") == 0)
        #expect(x.documentCount == 4)
        // "a" twice in document 10 (the shortest) ranks it first; equal scores go by label.
        #expect(x.search(["a"], limit: 1).map(\.label) == [10])
        #expect(x.search(["c"], limit: 3).map(\.label) == [12])
        #expect(x.search(["a"], limit: 0).isEmpty)
    }
}
