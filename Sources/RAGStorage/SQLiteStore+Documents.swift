internal import Foundation
internal import GRDB
public import RAGCore
internal import RAGIndex

/// Writes inside one transaction, handed out by `SQLiteStore.transaction`.
public struct SQLiteTransaction: IndexTransaction {
    let db: Database

    // Reads inside the transaction: what a write decides on cannot change before it commits.

    public func document(id: DocumentID) throws -> DocumentRecord? {
        try Row.fetchOne(
            db, sql: SQLiteStore.documentColumns + " FROM document WHERE id = ?",
            arguments: [id.rawValue]
        ).map(SQLiteStore.documentRecord)
    }

    public func source(path: String) throws -> SourceRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM source WHERE path = ?", arguments: [path]).map(SQLiteStore.sourceRecord)
    }

    public func documentCount(sourceID: SourceID) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM document WHERE source_id = ?", arguments: [sourceID.rawValue]) ?? 0
    }

    /// Inserts or updates the record of a file; returns its id.
    @discardableResult
    public func upsertSource(path: String, format: DocumentFormat, size: Int64, mtime: Double, contentHash: String) throws -> SourceID {
        try db.cachedStatement(sql: """
            INSERT INTO source (path, format, size, mtime, content_hash, ingested_at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (path) DO UPDATE SET format = excluded.format, size = excluded.size, mtime = excluded.mtime,
                content_hash = excluded.content_hash, ingested_at = excluded.ingested_at
            """).execute(arguments: [path, format.rawValue, size, mtime, contentHash, Date().timeIntervalSince1970])
        return SourceID(rawValue: try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM source WHERE path = ?"), arguments: [path])!)
    }

    /// Removes a document, its chunks and their FTS entries.
    public func deleteDocument(path: String) throws {
        try db.cachedStatement(sql: "DELETE FROM document WHERE path = ?").execute(arguments: [path])
    }

    public func deleteDocument(id: DocumentID) throws {
        try db.cachedStatement(sql: "DELETE FROM document WHERE id = ?").execute(arguments: [id.rawValue])
    }

    /// Removes a file's record and everything ingested from it.
    public func deleteSource(id: SourceID) throws {
        try db.cachedStatement(sql: "DELETE FROM source WHERE id = ?").execute(arguments: [id.rawValue])
    }

    /// Inserts a document (replacing any with the same path) without chunks.
    public func insertDocument(_ document: LoadedDocument, sourceID: SourceID, mtime: Double) throws -> DocumentID {
        try deleteDocument(path: document.path)
        try db.cachedStatement(sql: """
            INSERT INTO document (source_id, path, content_hash, size, mtime, format, title, ingested_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                sourceID.rawValue, document.path, document.contentHash, document.size, mtime, document.format.rawValue,
                document.title, Date().timeIntervalSince1970,
            ])
        let id = db.lastInsertedRowID
        for (key, value) in document.tags.tagPairs {
            try db.cachedStatement(sql: "INSERT INTO document_tag (document_id, key, value) VALUES (?, ?, ?)").execute(arguments: [id, key, value])
        }
        return DocumentID(rawValue: id)
    }

    /// Inserts a chunk and, when given, its vector.
    @discardableResult
    public func insertChunk(_ chunk: ChunkDraft, documentID: DocumentID, vector: [Float]?) throws -> ChunkID {
        try db.cachedStatement(sql: """
            INSERT INTO chunk (document_id, ordinal, text, start_offset, end_offset, token_count, heading)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                documentID.rawValue, chunk.ordinal, chunk.text, chunk.start, chunk.end, chunk.tokenCount, chunk.heading,
            ])
        let id = ChunkID(rawValue: db.lastInsertedRowID)
        if let vector {
            let blob = vector.withUnsafeBytes { Data($0) }
            try db.cachedStatement(sql: "INSERT INTO chunk_vector (chunk_id, vector) VALUES (?, ?)").execute(arguments: [id.rawValue, blob])
        }
        return id
    }

    public func setChunkCount(_ count: Int, documentID: DocumentID) throws {
        try db.cachedStatement(sql: "UPDATE document SET chunk_count = ? WHERE id = ?").execute(arguments: [count, documentID.rawValue])
    }

    /// Moves a file's record and its documents to a new path (a rename: no re-chunking).
    public func renameSource(id: SourceID, from oldPath: String, to newPath: String, mtime: Double) throws {
        try db.execute(sql: "UPDATE source SET path = ?, mtime = ? WHERE id = ?", arguments: [newPath, mtime, id.rawValue])
        // Documents are named `FILE` or `FILE#id`: swap the file part. (SQLite's substr counts
        // characters — code points — not bytes.)
        try db.execute(
            sql: "UPDATE document SET path = ? || substr(path, ?), mtime = ? WHERE source_id = ?",
            arguments: [newPath, oldPath.unicodeScalars.count + 1, mtime, id.rawValue])
    }

    /// Records a new modification time for an unchanged file, so the next run skips hashing it.
    public func touchSource(id: SourceID, mtime: Double) throws {
        try db.cachedStatement(sql: "UPDATE source SET mtime = ? WHERE id = ?").execute(arguments: [mtime, id.rawValue])
    }

    /// Clears a file's hash so the next ingest reads it again.
    public func invalidateSource(id: SourceID) throws {
        try db.execute(sql: "UPDATE source SET content_hash = '' WHERE id = ?", arguments: [id.rawValue])
    }

    /// Stores the chunker's and embedder's names; when either changes, every document is marked
    /// for re-chunking (and re-embedding).
    public func setChunker(_ signature: String, embedder: String) throws {
        let row = try Row.fetchOne(db, sql: "SELECT chunker, embedder FROM index_state WHERE id = 1")
        let current: String? = row?["chunker"]
        let currentEmbedder: String = row?["embedder"] ?? ""
        guard current != signature || currentEmbedder != embedder else { return }
        try db.execute(sql: "UPDATE index_state SET embedder = ? WHERE id = 1", arguments: [embedder])
        if current != "" {
            try db.execute(sql: "UPDATE source SET content_hash = ''")
            try db.execute(sql: "UPDATE document SET content_hash = ''")
        }
        try db.execute(
            sql: "UPDATE index_state SET chunker = ?, updated_at = ? WHERE id = 1",
            arguments: [signature, Date().timeIntervalSince1970])
    }
}

extension SQLiteStore {
    /// Runs `body` as one transaction: everything it writes commits together, or nothing does.
    /// The HNSW graph follows the vectors written, in the same transaction.
    @discardableResult
    public func transaction<T>(_ body: (any IndexTransaction) throws -> T) throws -> T {
        try sqlTransaction({ db in try body(SQLiteTransaction(db: db)) })
    }

    /// A transaction of SQL of the store's own (upkeep), the graph synced before it commits.
    @discardableResult
    func sqlTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        var synced: (HNSWGraph, Int64)?
        let result = try write { db in
            let result = try body(db)
            synced = try syncGraph(db)
            return result
        }
        if let (graph, version) = synced { graphCache.put(graph, version: version) }
        return result
    }

    public func source(path: String) throws -> SourceRecord? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM source WHERE path = ?", arguments: [path]).map(Self.sourceRecord)
        }
    }

    /// Every file recorded at `path` or below it (when `path` is a folder). Prefixes are compared
    /// with substr, which counts code points: hence `unicodeScalars.count`, and no LIKE escaping.
    public func sources(under path: String) throws -> [SourceRecord] {
        let prefix = path.hasSuffix("/") ? path : path + "/"
        return try read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM source WHERE path = ? OR substr(path, 1, ?) = ? ORDER BY path",
                arguments: [path, prefix.unicodeScalars.count, prefix]
            ).map(Self.sourceRecord)
        }
    }

    public func allSources() throws -> [SourceRecord] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM source ORDER BY path").map(Self.sourceRecord) }
    }

    static func sourceRecord(_ row: Row) -> SourceRecord {
        SourceRecord(id: SourceID(rawValue: row["id"]), path: row["path"], format: row["format"], size: row["size"], mtime: row["mtime"], contentHash: row["content_hash"])
    }

    /// Content hash of each document of a file, by document path.
    public func documentHashes(sourceID: SourceID) throws -> [String: String] {
        try read { db in
            var hashes: [String: String] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT path, content_hash FROM document WHERE source_id = ?", arguments: [sourceID.rawValue])
            while let row = try rows.next() { hashes[row["path"]] = row["content_hash"] }
            return hashes
        }
    }

    public func documentCount(sourceID: SourceID) throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM document WHERE source_id = ?", arguments: [sourceID.rawValue]) ?? 0 }
    }

    /// Documents, ordered by path; those at or under `path` when given.
    public func documents(under path: String?) throws -> [DocumentRecord] {
        try read { db in
            var sql = Self.documentColumns + " FROM document"
            var arguments: StatementArguments = []
            if let path {
                let prefix = path.hasSuffix("/") ? path : path + "/"
                sql += " WHERE path = ? OR substr(path, 1, ?) = ? OR substr(path, 1, ?) = ?"
                arguments = [path, prefix.unicodeScalars.count, prefix, path.unicodeScalars.count + 1, path + "#"]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY path", arguments: arguments).map(Self.documentRecord)
        }
    }

    /// A document record's columns (its tags as JSON pairs), to be followed by `FROM document`.
    static let documentColumns = """
        SELECT id, path, title, format, size, content_hash, chunk_count, ingested_at,
            (SELECT json_group_array(json_array(key, value)) FROM document_tag WHERE document_id = document.id) AS tags
        """

    static func documentRecord(_ row: Row) -> DocumentRecord {
        DocumentRecord(
            id: DocumentID(rawValue: row["id"]), path: row["path"], title: row["title"], format: row["format"],
            size: row["size"], contentHash: row["content_hash"], chunkCount: row["chunk_count"],
            ingestedAt: row["ingested_at"], tags: DocumentRecord.tags(fromPairs: row["tags"]))
    }

    /// Chunks of one document in order (text, heading, span), for inspection and tests.
    public func chunks(documentPath: String) throws -> [ChunkDraft] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT chunk.* FROM chunk JOIN document ON document.id = chunk.document_id
                WHERE document.path = ? ORDER BY ordinal
                """, arguments: [documentPath]
            ).map { row in
                ChunkDraft(
                    ordinal: row["ordinal"], text: row["text"], start: row["start_offset"], end: row["end_offset"],
                    tokenCount: row["token_count"], heading: row["heading"])
            }
        }
    }

    public func stats() throws -> StoreStats {
        var stats = try read { db in
            StoreStats(
                sources: try Int.fetchOne(db, sql: "SELECT count(*) FROM source") ?? 0,
                documents: try Int.fetchOne(db, sql: "SELECT count(*) FROM document") ?? 0,
                chunks: try Int.fetchOne(db, sql: "SELECT count(*) FROM chunk") ?? 0,
                vectors: try Int.fetchOne(db, sql: "SELECT count(*) FROM chunk_vector") ?? 0,
                embedder: try String.fetchOne(db, sql: "SELECT embedder FROM index_state WHERE id = 1") ?? "",
                documentBytes: try Int64.fetchOne(db, sql: "SELECT coalesce(sum(size), 0) FROM document") ?? 0,
                fileBytes: 0,
                formatVersion: try Int.fetchOne(db, sql: "SELECT format_version FROM index_state WHERE id = 1") ?? 0,
                chunker: try String.fetchOne(db, sql: "SELECT chunker FROM index_state WHERE id = 1") ?? "")
        }
        if let path {
            for file in [path, path + "-wal"] {
                let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)??.int64Value ?? 0
                stats.fileBytes += size
            }
        }
        return stats
    }

    /// The name of the model whose vectors the index holds, "" when it holds none.
    public func embedder() throws -> String {
        try read { db in try String.fetchOne(db, sql: "SELECT embedder FROM index_state WHERE id = 1") ?? "" }
    }

    /// Search hits for the given chunk ids (with `score`s), in the given order.
    public func hits(_ scored: [(ChunkID, Double)]) throws -> [SearchHit] {
        guard !scored.isEmpty else { return [] }
        return try read { db in
            // One statement for any number of ids (a JSON array), prepared once per connection.
            let statement = try db.cachedStatement(sql: """
                SELECT chunk.id AS id, document.path AS path, chunk.heading AS heading, chunk.text AS text,
                       chunk.ordinal AS ordinal, chunk.start_offset AS start, chunk.end_offset AS end
                FROM chunk JOIN document ON document.id = chunk.document_id
                WHERE chunk.id IN (SELECT value FROM json_each(?))
                """)
            let rows = try Row.fetchAll(statement, arguments: ["[" + scored.map { String($0.0.rawValue) }.joined(separator: ",") + "]"])
            var byID: [Int64: Row] = [:]
            for row in rows { byID[row["id"]] = row }
            return scored.compactMap { id, score in
                byID[id.rawValue].map { row in
                    let text: String = row["text"]
                    return SearchHit(
                        chunkID: id, document: row["path"], heading: row["heading"], score: score, text: text,
                        snippet: String(text.prefix(240)), ordinal: row["ordinal"], start: row["start"], end: row["end"])
                }
            }
        }
    }

    /// The chunker parameters stored with the index (JSON), "" for a new index.
    public func chunker() throws -> String {
        try read { db in try String.fetchOne(db, sql: "SELECT chunker FROM index_state WHERE id = 1") ?? "" }
    }

    /// Runs SQLite's integrity check, the FTS5 index's own (against the chunk table) and the
    /// vector index's; returns the problems found. Takes the write lock: FTS5's check is
    /// spelled as an INSERT.
    public func integrityProblems() throws -> [String] {
        try sqliteProblems() + graphProblems()
    }

    private func sqliteProblems() throws -> [String] {
        try write { db in
            var problems = try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
            do {
                try db.execute(sql: "INSERT INTO chunk_fts (chunk_fts, rank) VALUES ('integrity-check', 1)")
            } catch {
                problems.append("chunk_fts: \(error)")
            }
            let orphans = try Int.fetchOne(db, sql: "SELECT count(*) FROM chunk WHERE document_id NOT IN (SELECT id FROM document)") ?? 0
            if orphans > 0 { problems.append("\(orphans) chunks without a document") }
            let mismatched = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM document WHERE chunk_count != (SELECT count(*) FROM chunk WHERE chunk.document_id = document.id)
                """) ?? 0
            if mismatched > 0 { problems.append("\(mismatched) documents whose chunk count does not match their chunks") }
            return problems  // chunks without a vector: `graphProblems`
        }
    }
}
