import Foundation
import GRDB
import RAG
import RAGCore
import RAGIndex
import RAGStorage
import RAGTesting
import Testing

/// Delete churn: ten rounds of deleting half the documents and adding them back leave an index
/// that searches as well as one built fresh from the same documents (HNSW recall@10 against an
/// exact search, within 0.01) and is about as large (within 10 %). Without compaction it was
/// not: recall at ef 64 fell from 0.997 to 0.982 (the graph repaired around half its nodes at
/// once) and the file grew 45 % (half-empty B-tree pages that rows with new ids never fill,
/// FTS5 deletion markers); `SQLiteStore.compactIfChurned` rebuilds, merges and vacuums.
@Suite(.onTestThreads) struct ChurnTests {
    static let documents = 400

    /// Documents of a few sentences each over a shared vocabulary, so neighbours are close calls.
    static func write(_ workspace: Workspace, only indices: some Sequence<Int>) throws {
        var random = SeededGenerator(seed: 7)
        let words = (0..<300).map { "w\($0)" }
        var texts: [Int: String] = [:]
        for i in 0..<documents {
            let sentences = (0..<6).map { _ in
                (0..<12).map { _ in words[Int(random.next() % UInt64(words.count))] }.joined(separator: " ") + "."
            }
            texts[i] = "# Document \(i)\n\n" + sentences.joined(separator: " ")
        }
        for i in indices { try workspace.write("docs/d\(i).md", texts[i]!) }
    }

    /// Each stored vector with its chunk's identity (document path, ordinal): ids differ between indexes.
    static func vectors(_ store: SQLiteStore) throws -> [(key: String, id: Int64, vector: [Float])] {
        try store.read { db in
            try Row.fetchAll(db, sql: """
                SELECT c.id, d.path, c.ordinal, v.vector FROM chunk_vector v
                JOIN chunk c ON c.id = v.chunk_id JOIN document d ON d.id = c.document_id
                """).map { row in
                let blob: Data = row["vector"]
                let vector = blob.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                return (key: "\(row["path"] as String)#\(row["ordinal"] as Int)", id: row["id"], vector: vector)
            }
        }
    }

    /// HNSW recall@10 at a small beam (ef 16, where misses show) against exact search.
    static func recall(_ store: SQLiteStore, queries: [[Float]], ef: Int = 16) throws -> Double {
        let stored = try vectors(store)
        var exact = BruteForceIndex(dimensions: stored[0].vector.count, space: .cosine)
        for item in stored { exact.insert(item.vector, label: item.id) }
        var found = 0, total = 0
        for query in queries {
            let truth = Set(exact.search(query, k: 10).map(\.label))
            let approximate = try store.nearest(query, k: 10, ef: ef).map(\.0.rawValue)
            found += approximate.filter(truth.contains).count
            total += truth.count
        }
        return Double(found) / Double(total)
    }

    static func fileSize(_ path: String) throws -> Int64 {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
    }

    @Test func tenRoundsOfDeletingHalfAndReAddingKeepRecallAndSize() throws {
        let embedder = HashingEmbedder()
        let workspace = try Workspace()
        try Self.write(workspace, only: 0..<Self.documents)
        let queries = embedder.embed((0..<200).map { i in (0..<8).map { "w\(($0 * 37 + i * 11) % 300)" }.joined(separator: " ") })

        // The fresh index.
        let freshPath = workspace.path("fresh.sqlite")
        var store = try SQLiteStore(path: freshPath)
        _ = try Ingestor(store: store, embedder: embedder).run(paths: [workspace.docs])
        let freshRecall = try Self.recall(store, queries: queries)
        let freshRecall64 = try Self.recall(store, queries: queries, ef: 64)
        let chunks = try store.stats().chunks
        try store.close()
        let freshSize = try Self.fileSize(freshPath)

        // The churned one: the same documents, then ten rounds of half deleted and re-added.
        let churnedPath = workspace.path("churned.sqlite")
        store = try SQLiteStore(path: churnedPath)
        let ingestor = Ingestor(store: store, embedder: embedder)
        _ = try ingestor.run(paths: [workspace.docs])
        // A few deletions (5 %) do not compact.
        for i in 0..<20 { try FileManager.default.removeItem(atPath: workspace.path("docs/d\(i).md")) }
        let few = try ingestor.run(paths: [workspace.docs])
        #expect(few.removed == 20 && !few.compacted)
        try Self.write(workspace, only: 0..<20)
        _ = try ingestor.run(paths: [workspace.docs])
        var random = SeededGenerator(seed: 11)
        for round in 0..<10 {
            let half = Set((0..<Self.documents).shuffled(using: &random).prefix(Self.documents / 2))
            for i in half { try FileManager.default.removeItem(atPath: workspace.path("docs/d\(i).md")) }
            let deleted = try ingestor.run(paths: [workspace.docs])
            #expect(deleted.removed == Self.documents / 2, "round \(round)")
            // Half the chunks deleted: past the quarter that triggers a compaction.
            #expect(deleted.compacted, "round \(round)")
            try Self.write(workspace, only: half)
            let added = try ingestor.run(paths: [workspace.docs])
            #expect(added.added == Self.documents / 2, "round \(round)")
        }
        #expect(try store.stats().chunks == chunks)
        #expect(try store.graphProblems() == [])
        let churnedRecall = try Self.recall(store, queries: queries)
        let churnedRecall64 = try Self.recall(store, queries: queries, ef: 64)
        try store.close()
        let churnedSize = try Self.fileSize(churnedPath)

        print("churn: recall@10 fresh \(freshRecall) (ef 16), \(freshRecall64) (ef 64); after 10 rounds \(churnedRecall), \(churnedRecall64); file \(freshSize) → \(churnedSize) bytes")
        #expect(churnedRecall >= freshRecall - 0.01, "recall@10 (ef 16) fresh \(freshRecall), churned \(churnedRecall)")
        #expect(churnedRecall64 >= freshRecall64 - 0.01, "recall@10 (ef 64) fresh \(freshRecall64), churned \(churnedRecall64)")
        #expect(Double(churnedSize) <= Double(freshSize) * 1.10, "file size fresh \(freshSize), churned \(churnedSize)")
    }
}
