internal import Foundation
internal import PostgresNIO
public import RAGCore
public import RAGStorage

extension PostgresStore {
    static let sourceColumns = "SELECT id, path, format, size, mtime, content_hash"
    static let documentColumns = """
        SELECT id, path, title, format, size, content_hash, chunk_count, ingested_at,
            (SELECT json_agg(json_build_array(key, value) ORDER BY key, value)::text FROM document_tag WHERE document_id = document.id)
        """

    static func sourceRecord(_ row: PostgresRow) throws -> SourceRecord {
        let (id, path, format, size, mtime, hash) = try row.decode((Int64, String, String, Int64, Double, String).self)
        return SourceRecord(id: SourceID(rawValue: id), path: path, format: format, size: size, mtime: mtime, contentHash: hash)
    }

    static func documentRecord(_ row: PostgresRow) throws -> DocumentRecord {
        let (id, path, title, format, size, hash, chunks, ingestedAt, tags) = try row.decode((Int64, String, String?, String, Int64, String, Int, Double, String?).self)
        return DocumentRecord(
            id: DocumentID(rawValue: id), path: path, title: title, format: format, size: size, contentHash: hash, chunkCount: chunks,
            ingestedAt: ingestedAt, tags: DocumentRecord.tags(fromPairs: tags))
    }

    public func source(path: String) throws -> SourceRecord? {
        try read { connection, logger in
            try connection.run("\(unescaped: Self.sourceColumns) FROM source WHERE path = \(path)", logger: logger).first.map(Self.sourceRecord)
        }
    }

    /// Paths are ordered bytewise (`COLLATE "C"`), as SQLite orders them, whatever the database's locale.
    public func sources(under path: String) throws -> [SourceRecord] {
        let prefix = path.hasSuffix("/") ? path : path + "/"
        return try read { connection, logger in
            try connection.run(
                "\(unescaped: Self.sourceColumns) FROM source WHERE path = \(path) OR starts_with(path, \(prefix)) ORDER BY path COLLATE \"C\"",
                logger: logger
            ).map(Self.sourceRecord)
        }
    }

    public func allSources() throws -> [SourceRecord] {
        try read { connection, logger in
            try connection.run("\(unescaped: Self.sourceColumns) FROM source ORDER BY path COLLATE \"C\"", logger: logger).map(Self.sourceRecord)
        }
    }

    public func documentHashes(sourceID: SourceID) throws -> [String: String] {
        try read { connection, logger in
            var hashes: [String: String] = [:]
            for row in try connection.run("SELECT path, content_hash FROM document WHERE source_id = \(sourceID.rawValue)", logger: logger) {
                let (path, hash) = try row.decode((String, String).self)
                hashes[path] = hash
            }
            return hashes
        }
    }

    public func documentCount(sourceID: SourceID) throws -> Int {
        try read { connection, logger in
            try connection.run("SELECT count(*) FROM document WHERE source_id = \(sourceID.rawValue)", logger: logger).first?.decode(Int.self) ?? 0
        }
    }

    public func documents(under path: String?) throws -> [DocumentRecord] {
        try read { connection, logger in
            let query: PostgresQuery
            if let path {
                let prefix = path.hasSuffix("/") ? path : path + "/"
                query = """
                    \(unescaped: Self.documentColumns) FROM document
                    WHERE path = \(path) OR starts_with(path, \(prefix)) OR starts_with(path, \(path + "#")) ORDER BY path COLLATE "C"
                    """
            } else {
                query = "\(unescaped: Self.documentColumns) FROM document ORDER BY path COLLATE \"C\""
            }
            return try connection.run(query, logger: logger).map(Self.documentRecord)
        }
    }

    public func chunks(documentPath: String) throws -> [ChunkDraft] {
        try read { connection, logger in
            try connection.run("""
                SELECT chunk.ordinal, chunk.text, chunk.start_offset, chunk.end_offset, chunk.token_count, chunk.heading
                FROM chunk JOIN document ON document.id = chunk.document_id WHERE document.path = \(documentPath) ORDER BY ordinal
                """, logger: logger
            ).map { row in
                let (ordinal, text, start, end, tokens, heading) = try row.decode((Int, String, Int, Int, Int, String).self)
                return ChunkDraft(ordinal: ordinal, text: text, start: start, end: end, tokenCount: tokens, heading: heading)
            }
        }
    }

    /// `fileBytes` is the database's size on the server's disk.
    public func stats() throws -> StoreStats {
        try read { connection, logger in
            let row = try connection.run("""
                SELECT (SELECT count(*) FROM source), (SELECT count(*) FROM document), (SELECT count(*) FROM chunk),
                       (SELECT count(*) FROM chunk WHERE embedding IS NOT NULL), embedder,
                       (SELECT coalesce(sum(size), 0)::bigint FROM document), pg_database_size(current_database()), format_version, chunker
                FROM index_state WHERE id = 1
                """, logger: logger
            ).first
            guard let row else { throw RAGError(.corruptFile, "\(location): the index's state row is missing") }
            let (sources, documents, chunks, vectors, embedder, documentBytes, fileBytes, format, chunker) =
                try row.decode((Int, Int, Int, Int, String, Int64, Int64, Int, String).self)
            return StoreStats(
                sources: sources, documents: documents, chunks: chunks, vectors: vectors, embedder: embedder, documentBytes: documentBytes,
                fileBytes: fileBytes, formatVersion: format, chunker: chunker)
        }
    }

    public func embedder() throws -> String {
        try read { connection, logger in
            try connection.run("SELECT embedder FROM index_state WHERE id = 1", logger: logger).first?.decode(String.self) ?? ""
        }
    }

    public func chunker() throws -> String {
        try read { connection, logger in
            try connection.run("SELECT chunker FROM index_state WHERE id = 1", logger: logger).first?.decode(String.self) ?? ""
        }
    }

    public func hits(_ scored: [(ChunkID, Double)]) throws -> [SearchHit] {
        guard !scored.isEmpty else { return [] }
        let ids = scored.map(\.0.rawValue)
        let scores = Dictionary(scored.map { ($0.0.rawValue, $0.1) }, uniquingKeysWith: { first, _ in first })
        let rank = Dictionary(ids.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        return try read { connection, logger in
            var hits: [SearchHit] = []
            hits.reserveCapacity(scored.count)
            for row in try connection.run("""
                SELECT chunk.id, document.path, chunk.heading, chunk.text, chunk.ordinal, chunk.start_offset, chunk.end_offset
                FROM chunk JOIN document ON document.id = chunk.document_id WHERE chunk.id = ANY(\(ids))
                """, logger: logger) {
                let (id, path, heading, text, ordinal, start, end) = try row.decode((Int64, String, String, String, Int, Int, Int).self)
                hits.append(SearchHit(
                    chunkID: ChunkID(rawValue: id), document: path, heading: heading, score: scores[id] ?? 0, text: text,
                    snippet: String(text.prefix(240)), ordinal: ordinal, start: start, end: end))
            }
            // In the order asked for; chunks deleted meanwhile are left out.
            return hits.sorted { rank[$0.chunkID.rawValue]! < rank[$1.chunkID.rawValue]! }
        }
    }
}
