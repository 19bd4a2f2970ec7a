internal import Foundation
internal import Logging
internal import PostgresNIO
public import RAGCore
public import RAGStorage

/// Reads and writes inside one transaction of a `PostgresStore` (on the connection that holds
/// the writer's lock). Remembers whether anything changed, for the revision.
final class PostgresTransaction: IndexTransaction {
    let store: PostgresStore
    let connection: PostgresConnection
    let logger: Logger
    private(set) var changed = false
    /// The vector column's dimensions as this transaction left them (nil: not read yet).
    private var dimensions: Int??

    init(store: PostgresStore, connection: PostgresConnection, logger: Logger) {
        self.store = store
        self.connection = connection
        self.logger = logger
    }

    @discardableResult
    func run(_ query: PostgresQuery) throws -> PostgresQueryResult {
        let result = try connection.run(query, logger: logger)
        if let rows = result.metadata.rows, rows > 0, ["INSERT", "UPDATE", "DELETE"].contains(result.metadata.command) { changed = true }
        return result
    }

    func document(id: DocumentID) throws -> DocumentRecord? {
        try run("\(unescaped: PostgresStore.documentColumns) FROM document WHERE id = \(id.rawValue)").first.map(PostgresStore.documentRecord)
    }

    func source(path: String) throws -> SourceRecord? {
        try run("\(unescaped: PostgresStore.sourceColumns) FROM source WHERE path = \(path)").first.map(PostgresStore.sourceRecord)
    }

    func documentCount(sourceID: SourceID) throws -> Int {
        try run("SELECT count(*) FROM document WHERE source_id = \(sourceID.rawValue)").first?.decode(Int.self) ?? 0
    }

    @discardableResult
    func upsertSource(path: String, format: DocumentFormat, size: Int64, mtime: Double, contentHash: String) throws -> SourceID {
        let now = Date().timeIntervalSince1970
        let id = try run("""
            INSERT INTO source (path, format, size, mtime, content_hash, ingested_at) VALUES (\(path), \(format.rawValue), \(size), \(mtime), \(contentHash), \(now))
            ON CONFLICT (path) DO UPDATE SET format = excluded.format, size = excluded.size, mtime = excluded.mtime,
                content_hash = excluded.content_hash, ingested_at = excluded.ingested_at
            RETURNING id
            """).first?.decode(Int64.self)
        guard let id else { throw RAGError(.storage, "\(store.location): the source \(path) was not written") }
        return SourceID(rawValue: id)
    }

    func deleteDocument(path: String) throws {
        try run("DELETE FROM document WHERE path = \(path)")
    }

    func deleteDocument(id: DocumentID) throws {
        try run("DELETE FROM document WHERE id = \(id.rawValue)")
    }

    func deleteSource(id: SourceID) throws {
        try run("DELETE FROM source WHERE id = \(id.rawValue)")
    }

    func insertDocument(_ document: LoadedDocument, sourceID: SourceID, mtime: Double) throws -> DocumentID {
        try deleteDocument(path: document.path)
        let id = try run("""
            INSERT INTO document (source_id, path, content_hash, size, mtime, format, title, ingested_at)
            VALUES (\(sourceID.rawValue), \(document.path), \(document.contentHash), \(Int64(document.size)), \(mtime), \(document.format.rawValue),
                    \(document.title), \(Date().timeIntervalSince1970))
            RETURNING id
            """).first?.decode(Int64.self)
        guard let id else { throw RAGError(.storage, "\(store.location): the document \(document.path) was not written") }
        if !document.tags.isEmpty {
            let tags = document.tags.tagPairs
            try run("""
                INSERT INTO document_tag (document_id, key, value) SELECT \(id), * FROM unnest(\(tags.map(\.key))::text[], \(tags.map(\.value))::text[])
                """)
        }
        return DocumentID(rawValue: id)
    }

    @discardableResult
    func insertChunk(_ chunk: ChunkDraft, documentID: DocumentID, vector: [Float]?) throws -> ChunkID {
        try insertChunks([chunk], documentID: documentID, vectors: vector.map { [$0][...] })[0]
    }

    /// Chunks per statement: 9 parameters each, within the protocol's 65,535.
    static let chunksPerStatement = 1000

    /// A document's chunks in one statement (a thousand at a time), then their BM25 postings
    /// (`LexicalAnalyzer`'s terms, each with its frequency and the chunk's length) in another:
    /// two round trips where a chunk at a time took one per chunk.
    @discardableResult
    func insertChunks(_ chunks: [ChunkDraft], documentID: DocumentID, vectors: ArraySlice<[Float]>?) throws -> [ChunkID] {
        if let vectors {
            guard vectors.count == chunks.count else {
                throw RAGError(.invalidInput, "\(store.location): \(vectors.count) vectors for \(chunks.count) chunks")
            }
            for vector in vectors { try prepareVectors(dimensions: vector.count) }
        }
        var ids: [ChunkID] = []
        ids.reserveCapacity(chunks.count)
        for start in stride(from: 0, to: chunks.count, by: Self.chunksPerStatement) {
            let part = start..<min(chunks.count, start + Self.chunksPerStatement)
            let analyzed = try part.map { try store.analyzer.documentTerms([chunks[$0].text, chunks[$0].heading]) }
            var bindings = PostgresBindings(capacity: 1 + 8 * part.count)
            bindings.append(documentID.rawValue)
            var rows: [String] = []
            rows.reserveCapacity(part.count)
            for (i, terms) in zip(part, analyzed) {
                let chunk = chunks[i]
                let first = bindings.count + 1
                rows.append("($1, " + (first..<first + 8).map { "$\($0)" }.joined(separator: ", ") + ")")
                bindings.append(chunk.ordinal)
                bindings.append(chunk.text)
                bindings.append(chunk.start)
                bindings.append(chunk.end)
                bindings.append(chunk.tokenCount)
                bindings.append(chunk.heading)
                bindings.append(vectors.map { PGVector(values: $0[$0.startIndex + i], psqlType: store.vectorType) })
                bindings.append(terms.length)
            }
            let result = try run(PostgresQuery(unsafeSQL: """
                INSERT INTO chunk (document_id, ordinal, text, start_offset, end_offset, token_count, heading, embedding, lexical_length)
                VALUES \(rows.joined(separator: ", "))
                RETURNING id, ordinal
                """, binds: bindings))
            // Matched by ordinal: RETURNING's order is not promised.
            var idOfOrdinal: [Int: Int64] = [:]
            for row in result {
                let (id, ordinal) = try row.decode((Int64, Int).self)
                idOfOrdinal[ordinal] = id
            }
            var terms: [String] = [], chunkIDs: [Int64] = [], frequencies: [Int32] = [], lengths: [Int32] = []
            for (i, analysis) in zip(part, analyzed) {
                guard let id = idOfOrdinal[chunks[i].ordinal] else {
                    throw RAGError(.storage, "\(store.location): chunk \(chunks[i].ordinal) of document \(documentID.rawValue) was not written")
                }
                ids.append(ChunkID(rawValue: id))
                for (term, frequency) in analysis.frequencies {
                    terms.append(term)
                    chunkIDs.append(id)
                    frequencies.append(frequency)
                    lengths.append(analysis.length)
                }
            }
            if !terms.isEmpty {
                try run("""
                    INSERT INTO posting (term, chunk_id, frequency, length)
                    SELECT * FROM unnest(\(terms)::text[], \(chunkIDs)::int8[], \(frequencies)::int4[], \(lengths)::int4[])
                    """)
            }
        }
        return ids
    }

    /// The first vector fixes the column's dimensions and builds the (empty) HNSW index; a vector
    /// of other dimensions is refused.
    private func prepareVectors(dimensions count: Int) throws {
        if dimensions == nil {
            dimensions = .some(try run("SELECT dimensions FROM index_state WHERE id = 1").first?.decode(Int?.self) ?? nil)
        }
        if let stored = dimensions ?? nil {
            guard stored == count else {
                throw RAGError(.invalidInput, "\(store.location): a \(count)-d vector for an index of \(stored)-d vectors; use the embedder the index was built with")
            }
            return
        }
        guard (1...2000).contains(count) else {
            throw RAGError(.unsupported, "\(store.location): pgvector's HNSW index takes vectors of at most 2000 dimensions (got \(count))")
        }
        try run("UPDATE index_state SET dimensions = \(count) WHERE id = 1")
        try run(PostgresQuery(unsafeSQL: "ALTER TABLE chunk ALTER COLUMN embedding TYPE vector(\(count))"))
        try run(PostgresQuery(unsafeSQL: PostgresStore.vectorsInline))
        try store.createVectorIndex(connection, logger: logger)
        dimensions = .some(count)
    }

    func setChunkCount(_ count: Int, documentID: DocumentID) throws {
        try run("UPDATE document SET chunk_count = \(count) WHERE id = \(documentID.rawValue)")
    }

    func renameSource(id: SourceID, from oldPath: String, to newPath: String, mtime: Double) throws {
        try run("UPDATE source SET path = \(newPath), mtime = \(mtime) WHERE id = \(id.rawValue)")
        // Documents are named `FILE` or `FILE#id`: swap the file part (substr counts characters).
        let rest = oldPath.count + 1
        try run("UPDATE document SET path = \(newPath) || substr(path, \(rest)::integer), mtime = \(mtime) WHERE source_id = \(id.rawValue)")
    }

    func touchSource(id: SourceID, mtime: Double) throws {
        try run("UPDATE source SET mtime = \(mtime) WHERE id = \(id.rawValue)")
    }

    func invalidateSource(id: SourceID) throws {
        try run("UPDATE source SET content_hash = '' WHERE id = \(id.rawValue)")
    }

    func setChunker(_ signature: String, embedder: String) throws {
        guard let row = try run("SELECT chunker, embedder FROM index_state WHERE id = 1").first else { return }
        let (current, currentEmbedder) = try row.decode((String, String).self)
        guard current != signature || currentEmbedder != embedder else { return }
        if currentEmbedder != embedder, !currentEmbedder.isEmpty {
            // Other vectors are coming: the old ones (and their dimensions) go.
            try run("DROP INDEX IF EXISTS chunk_embedding")
            try run("UPDATE chunk SET embedding = NULL WHERE embedding IS NOT NULL")
            try run("ALTER TABLE chunk ALTER COLUMN embedding TYPE vector")
            try run(PostgresQuery(unsafeSQL: PostgresStore.vectorsInline))
            try run("UPDATE index_state SET dimensions = NULL WHERE id = 1")
            dimensions = .some(nil)
        }
        try run("UPDATE index_state SET embedder = \(embedder) WHERE id = 1")
        if current != "" {
            try run("UPDATE source SET content_hash = ''")
            try run("UPDATE document SET content_hash = ''")
        }
        try run("UPDATE index_state SET chunker = \(signature), updated_at = \(Date().timeIntervalSince1970) WHERE id = 1")
    }
}
