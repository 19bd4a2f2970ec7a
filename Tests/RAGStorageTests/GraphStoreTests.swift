import Foundation
import GRDB
import RAGCore
import RAGIndex
import RAGTesting
import Testing
@testable import RAGStorage

/// Unit vectors near a few directions, deterministic per seed.
func unitVectors(_ count: Int, dimensions: Int = 24, seed: UInt64) -> [[Float]] {
    var state = seed
    func next() -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int(state >> 40) % 20_001 - 10_000) / 10_000
    }
    return (0..<count).map { i in
        var v = (0..<dimensions).map { d in (d == i % dimensions ? 2 : 0) + next() }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for d in v.indices { v[d] /= norm }
        return v
    }
}

/// Adds a document whose chunks carry the given vectors; returns the chunk ids.
@discardableResult
func addDocument(_ store: SQLiteStore, path: String, vectors: [[Float]]) throws -> [ChunkID] {
    try store.transaction { tx in
        let sourceID = try tx.upsertSource(path: path, format: .text, size: 1, mtime: 1, contentHash: "h-\(path)")
        let id = try tx.insertDocument(
            LoadedDocument(path: path, title: nil, format: .text, contentHash: "h", size: 1, sections: []), sourceID: sourceID, mtime: 1)
        let ids = try vectors.enumerated().map { i, v in
            try tx.insertChunk(ChunkDraft(ordinal: i, text: "chunk \(i) of \(path)", start: 0, end: 1, tokenCount: 1, heading: ""), documentID: id, vector: v)
        }
        try tx.setChunkCount(vectors.count, documentID: id)
        return ids
    }
}

func pageBlobs(_ store: SQLiteStore) throws -> [Data] {
    try store.read { try Data.fetchAll($0, sql: "SELECT data FROM hnsw_page ORDER BY page") }
}

@Suite(.onTestThreads) struct GraphStoreTests {
    @Test func theGraphIsWrittenWithTheChunksAndReopenedWithoutARebuild() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("index.sqlite")
        let vectors = unitVectors(700, seed: 1)
        var store = try SQLiteStore(path: path)
        var ids: [ChunkID] = []
        for part in 0..<7 { ids += try addDocument(store, path: "doc\(part)", vectors: Array(vectors[part * 100..<(part + 1) * 100])) }
        let info = try #require(try store.graphInfo())
        #expect(info.nodes == 700 && info.dimensions == 24 && info.m == 16 && info.pendingChanges == 0)
        #expect(info.pages == 3)  // 256 slots a page
        #expect(try store.graphProblems().isEmpty)
        let before = try store.nearest(vectors[42], k: 5, ef: 32)
        #expect(before.first?.0 == ids[42])
        #expect(abs((before.first?.1 ?? 0) - 1) < 1e-5)
        let pages = try pageBlobs(store)
        try store.close()

        // A new process: the graph is read from its pages, and reading writes nothing.
        store = try SQLiteStore(path: path)
        #expect(try store.nearest(vectors[42], k: 5, ef: 32).map(\.0) == before.map(\.0))
        #expect(try pageBlobs(store) == pages)
        #expect(try store.graphInfo()?.nodes == 700)
    }

    @Test func removingDocumentsRemovesTheirNodesWithoutTombstones() throws {
        let store = try SQLiteStore()
        let vectors = unitVectors(600, seed: 2)
        var byDoc: [[ChunkID]] = []
        for part in 0..<6 { byDoc.append(try addDocument(store, path: "doc\(part)", vectors: Array(vectors[part * 100..<(part + 1) * 100]))) }
        let slots = try #require(try store.graphInfo()).slots
        // A document deleted directly, and a source deleted (its documents go by cascade).
        try store.transaction { try $0.deleteDocument(path: "doc1") }
        let source = try #require(try store.source(path: "doc4"))
        try store.transaction { try $0.deleteSource(id: source.id) }
        let gone = Set(byDoc[1] + byDoc[4])
        #expect(try store.graphInfo()?.nodes == 400)
        #expect(try store.graphProblems().isEmpty)
        for q in vectors.prefix(150) {
            #expect(try store.nearest(q, k: 10, ef: 40).allSatisfy { !gone.contains($0.0) })
        }
        // Re-ingesting reuses the freed slots.
        try addDocument(store, path: "doc1", vectors: Array(vectors[100..<200]))
        try addDocument(store, path: "doc4", vectors: Array(vectors[400..<500]))
        #expect(try store.graphInfo()?.slots == slots)
        #expect(try store.graphInfo()?.nodes == 600)
        #expect(try store.graphProblems().isEmpty)
    }

    @Test func aFailedTransactionLeavesTheGraphAsItWas() throws {
        let store = try SQLiteStore()
        let vectors = unitVectors(200, seed: 3)
        try addDocument(store, path: "a", vectors: Array(vectors[..<100]))
        struct Boom: Error {}
        #expect(throws: (any Error).self) {
            try store.transaction { tx in
                let source = try tx.upsertSource(path: "b", format: .text, size: 1, mtime: 1, contentHash: "x")
                let doc = try tx.insertDocument(LoadedDocument(path: "b", title: nil, format: .text, contentHash: "h", size: 1, sections: []), sourceID: source, mtime: 1)
                for (i, v) in vectors[100...].enumerated() {
                    try tx.insertChunk(ChunkDraft(ordinal: i, text: "t", start: 0, end: 1, tokenCount: 1, heading: ""), documentID: doc, vector: v)
                }
                try tx.deleteDocument(path: "a")
                throw Boom()
            }
        }
        #expect(try store.graphInfo()?.nodes == 100)
        #expect(try store.graphProblems().isEmpty)
        #expect(try store.nearest(vectors[7], k: 1, ef: 16).count == 1)
    }

    @Test func aDamagedPageIsRebuiltFromTheStoredVectorsAndAnnounced() throws {
        let warnings = Warnings()
        let store = try SQLiteStore(warning: { warnings.append($0) })
        let vectors = unitVectors(300, seed: 4)
        let ids = try addDocument(store, path: "a", vectors: vectors)
        try store.write { db in
            // Flip one byte in the middle of page 0 (the checksum no longer matches).
            var page = try [UInt8](#require(try Data.fetchOne(db, sql: "SELECT data FROM hnsw_page WHERE page = 0")))
            page[page.count / 2] ^= 0x5A
            try db.execute(sql: "UPDATE hnsw_page SET data = ? WHERE page = 0", arguments: [Data(page)])
        }
        store.graphCache.clear()  // as a new process would
        let problems = try store.graphProblems()
        #expect(problems.contains { $0.contains("page 0") && $0.contains("damaged") }, "\(problems)")
        // Reads still work (rebuilt in memory), and the rebuild is told to the store's owner …
        #expect(try store.nearest(vectors[9], k: 1, ef: 16).first?.0 == ids[9])
        #expect(warnings.all.contains { $0.hasPrefix("index: ") && $0.contains("rebuilding the vector index") }, "\(warnings.all)")
        // … once: later searches use the rebuilt graph (each search once rebuilt it again) …
        for k in 0..<5 { #expect(try store.nearest(vectors[k], k: 1, ef: 16).first?.0 == ids[k]) }
        #expect(warnings.all.filter { $0.contains("rebuilding the vector index") }.count == 1, "\(warnings.all)")
        // … and the next write stores the rebuilt graph.
        try addDocument(store, path: "b", vectors: unitVectors(5, seed: 5))
        #expect(try store.graphProblems().isEmpty)
        #expect(try store.graphInfo()?.nodes == 305)
    }

    @Test func newParametersRebuildTheGraph() throws {
        let store = try SQLiteStore()
        try addDocument(store, path: "a", vectors: unitVectors(300, seed: 6))
        #expect(try store.graphInfo()?.m == 16)
        let rebuilt = try store.rebuildGraph(parameters: .init(m: 8, efConstruction: 64))
        #expect(rebuilt?.m == 8 && rebuilt?.efConstruction == 64 && rebuilt?.nodes == 300)
        #expect(try store.graphProblems().isEmpty)
        // A rebuild without parameters keeps those the graph has.
        #expect(try store.rebuildGraph()?.m == 8)
    }

    @Test func aDanglingLinkIsReported() throws {
        let store = try SQLiteStore()
        try addDocument(store, path: "a", vectors: unitVectors(50, seed: 7))
        // A vector without a node (written around the triggers' log) is drift: check says so.
        try store.write { db in
            try db.execute(sql: "INSERT INTO chunk (document_id, ordinal, text, start_offset, end_offset, token_count) SELECT id, 99, 'x', 0, 1, 1 FROM document")
            try db.execute(sql: "INSERT INTO chunk_vector (chunk_id, vector) SELECT max(id), (SELECT vector FROM chunk_vector LIMIT 1) FROM chunk")
            try db.execute(sql: "DELETE FROM vector_change")
        }
        store.graphCache.clear()
        #expect(try store.graphProblems().contains { $0.contains("has no node") })
    }
}

/// Warnings a store reported, collected from any thread.
final class Warnings: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func append(_ message: String) { lock.lock(); list.append(message); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return list }
}
