import Foundation
import GRDB
import RAGCore
import RAGTesting
import Synchronization
import Testing
@testable import RAGStorage

/// A temporary folder removed when the test ends.
final class TemporaryFolder {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("rag-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

func addDocument(_ store: SQLiteStore, path: String, chunks: [String], heading: String = "") throws {
    try store.transaction { tx in
        let sourceID = try tx.upsertSource(path: path, format: .text, size: 1, mtime: 1, contentHash: "h-\(path)")
        let id = try tx.insertDocument(
            LoadedDocument(path: path, title: nil, format: .text, contentHash: "h", size: 1, sections: []),
            sourceID: sourceID, mtime: 1)
        for (i, text) in chunks.enumerated() {
            try tx.insertChunk(ChunkDraft(ordinal: i, text: text, start: 0, end: text.utf8.count, tokenCount: 1, heading: heading), documentID: id)
        }
        try tx.setChunkCount(chunks.count, documentID: id)
    }
}

@Suite(.onTestThreads) struct MigrationTests {
    @Test func aNewIndexHasTheSchemaAndItsState() throws {
        let folder = try TemporaryFolder()
        let store = try SQLiteStore(path: folder.path("sub/dir/index.sqlite"))
        let tables = try store.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') AND name NOT LIKE 'sqlite_%' AND name NOT IN ('chunk_fts_data', 'chunk_fts_idx', 'chunk_fts_docsize', 'chunk_fts_config') ORDER BY name")
        }
        #expect(tables == [
            "chunk", "chunk_fts", "chunk_fts_delete", "chunk_fts_insert", "chunk_fts_instance", "chunk_fts_update", "chunk_vector",
            "chunk_vector_added", "chunk_vector_removed", "document", "document_tag", "grdb_migrations", "hnsw_page", "index_state",
            "source", "vector_change",
        ])
        #expect(try store.stats().formatVersion == SQLiteStore.formatVersion)
        #expect(try store.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
        // Reopening applies nothing twice.
        try store.close()
        let again = try SQLiteStore(path: folder.path("sub/dir/index.sqlite"))
        #expect(try again.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM grdb_migrations") } == 8)
    }

    /// An index whose tags were one value per key keeps them, and takes several afterwards.
    @Test func tagsOfAnOlderIndexSurviveTheMoveToSeveralValues() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("index.sqlite")
        let queue = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(queue, upTo: "v7-document-tags")
        try queue.write { db in
            try db.execute(sql: "INSERT INTO source (id, path, format, size, mtime, content_hash, ingested_at) VALUES (1, 'a.md', 'markdown', 1, 1, 'h', 1)")
            try db.execute(sql: "INSERT INTO document (id, source_id, path, content_hash, size, mtime, format, ingested_at) VALUES (1, 1, 'a.md', 'h', 1, 1, 'markdown', 1)")
            try db.execute(sql: "INSERT INTO document_tag (document_id, key, value) VALUES (1, 'team', 'ml')")
        }
        try queue.close()
        let store = try SQLiteStore(path: path)
        #expect(try store.documents().map(\.tags) == [["team": ["ml"]]])
        try store.transaction { tx in
            let sourceID = try tx.upsertSource(path: "b.md", format: .markdown, size: 1, mtime: 1, contentHash: "h")
            _ = try tx.insertDocument(
                LoadedDocument(path: "b.md", title: nil, format: .markdown, contentHash: "h", size: 1, sections: [], tags: ["tags": ["b", "a"]]),
                sourceID: sourceID, mtime: 1)
        }
        #expect(try store.documents().map(\.tags) == [["team": ["ml"]], ["tags": ["a", "b"]]])
        #expect(try store.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM document_tag") } == 3)
    }

    @Test func theRevisionGrowsWithEveryChangeAndOnlyThen() throws {
        let store = try SQLiteStore()
        let start = try store.revision()
        try addDocument(store, path: "a.txt", chunks: ["one", "two"])
        let afterAdd = try store.revision()
        #expect(afterAdd == start + 1)
        try store.transaction { _ in }  // wrote nothing
        #expect(try store.revision() == afterAdd)
        try store.transaction { try $0.deleteDocument(path: "a.txt") }
        #expect(try store.revision() == afterAdd + 1)
    }

    @Test func aFileThatIsNotSQLiteIsRefusedAndLeftUntouched() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("notes.sqlite")
        let bytes = Data("PK\u{3}\u{4} definitely a zip file, not a database".utf8)
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect { try SQLiteStore(path: path) } throws: { error in
            let e = error as? RAGError
            return e?.code == .corruptFile && e!.message.contains("not a SQLite database") && e!.message.contains(path)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func anIndexFromANewerRagIsRefusedAndLeftUntouched() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("index.sqlite")
        try SQLiteStore(path: path).close()
        let queue = try DatabaseQueue(path: path)
        try queue.write { try $0.execute(sql: "UPDATE index_state SET format_version = 99") }
        try queue.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect { try SQLiteStore(path: path) } throws: { error in
            (error as? RAGError)?.code == .unsupported && (error as? RAGError)!.message.contains("format 99")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func anotherApplicationsDatabaseIsRefused() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("app.db")
        let queue = try DatabaseQueue(path: path)
        try queue.write { try $0.execute(sql: "CREATE TABLE player (id INTEGER PRIMARY KEY, name TEXT)") }
        try queue.close()
        #expect { try SQLiteStore(path: path) } throws: { ($0 as? RAGError)?.message.contains("not a rag index") == true }
    }

    /// Another rag creating the index writes GRDB's table of migrations before the first
    /// migration: a second opener that looks at that moment goes on (it once refused the file
    /// as "not a rag index"), and so does one after a creation stopped there.
    @Test func anIndexWhoseCreationStoppedBeforeItsFirstMigrationOpens() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("index.sqlite")
        let queue = try DatabaseQueue(path: path)
        try queue.write { try $0.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)") }
        try queue.close()
        let store = try SQLiteStore(path: path)
        #expect(try store.stats().formatVersion == SQLiteStore.formatVersion)
        #expect(try store.integrityProblems().isEmpty)
    }

    @Test func aMissingIndexIsAClearErrorWhenItMustExist() throws {
        let folder = try TemporaryFolder()
        #expect { try SQLiteStore(path: folder.path("none.sqlite"), mode: .mustExist) } throws: {
            ($0 as? RAGError)?.code == .notFound && ($0 as? RAGError)!.message.contains("rag ingest")
        }
        #expect(!FileManager.default.fileExists(atPath: folder.path("none.sqlite")))
    }
}

@Suite(.onTestThreads) struct SearchTests {
    @Test func bm25FindsTheRightChunkFirstWithStemmingAndDiacritics() throws {
        let store = try SQLiteStore()
        try addDocument(store, path: "/a.md", chunks: ["Speculative decoding drafts tokens with a small model.", "Unrelated text about gardens."])
        try addDocument(store, path: "/b.md", chunks: ["Quantization stores weights in fewer bits."], heading: "Café")
        let hits = try store.searchBM25("how does speculative decoding draft?", limit: 5)
        #expect(hits.first?.document == "/a.md")
        #expect(hits.first?.snippet.contains("[Speculative]") == true)
        #expect(try store.searchBM25("quantize", limit: 5).first?.document == "/b.md")  // porter stemming
        #expect(try store.searchBM25("cafe", limit: 5).first?.heading == "Café")  // diacritics removed
        #expect(hits.map(\.score) == hits.map(\.score).sorted(by: >))
    }

    @Test(arguments: [
        "\"", "\"unbalanced", "AND", "OR NOT", "NEAR(a b", "text:foo", "heading:*", "*", "^start", "a AND (b OR", "'; DROP TABLE chunk; --",
        "", "   ", "🙂🙂", "\u{0}", "col:val -x +y", String(repeating: "long ", count: 5000), "((((((", "ünïcödé",
    ])
    func hostileQueriesNeverFail(query: String) throws {
        let store = try SQLiteStore()
        try addDocument(store, path: "/a.md", chunks: ["text foo long and start values"])
        _ = try store.searchBM25(query, limit: 10)
        #expect(try store.stats().chunks == 1)
    }

    @Test func deletingADocumentRemovesItsChunksFromTheFullTextIndex() throws {
        let store = try SQLiteStore()
        try addDocument(store, path: "/a.md", chunks: ["alpha beta", "gamma"])
        try store.transaction { try $0.deleteDocument(path: "/a.md") }
        #expect(try store.searchBM25("alpha", limit: 5).isEmpty)
        #expect(try store.integrityProblems() == [])
    }
}

@Suite(.onTestThreads) struct ConcurrencyTests {
    // A second writer that waits too long: IndexStoreTests, on both backends.

    /// Two processes creating one index at the same moment both open it (two connections here,
    /// on two threads; once one of them failed with "table source already exists").
    @Test func twoOpeningsOfANewIndexAtOnceBothSucceed() throws {
        let folder = try TemporaryFolder()
        for round in 0..<20 {
            let path = folder.path("new-\(round).sqlite")
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                do { _ = try SQLiteStore(path: path) } catch { failures.withLock { $0.append("\(error) \(String(describing: (error as? RAGError)?.underlying))") } }
            }
            #expect(failures.withLock { $0 }.isEmpty, "round \(round): \(failures.withLock { $0 })")
            #expect(try SQLiteStore(path: path).integrityProblems().isEmpty)
        }
    }

    @Test func readersSeeTheLastCommittedState() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("index.sqlite")
        let writer = try SQLiteStore(path: path)
        let reader = try SQLiteStore(path: path)
        try addDocument(writer, path: "/a", chunks: ["one"])
        try writer.transaction { tx in
            try tx.deleteDocument(path: "/a")
            // Inside the uncommitted transaction, another connection still sees the document.
            #expect(try reader.documents().count == 1)
        }
        #expect(try reader.documents().isEmpty)
    }
}
