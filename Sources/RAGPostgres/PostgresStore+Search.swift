internal import Foundation
internal import Logging
internal import PostgresNIO
public import RAGCore
public import RAGIndex
public import RAGStorage

extension PostgresStore {
    /// Lexical search: the query's words (`LexicalQuery`) joined by `or` for
    /// `websearch_to_tsquery` (any word matches; nothing in user text is an operator), ranked by
    /// `ts_rank_cd` (cover density, normalised by the log of the chunk's length).
    public func bm25Ranking(_ query: String, limit: Int) throws -> [(ChunkID, Double)] {
        let words = LexicalQuery.words(query)
        guard !words.isEmpty, limit > 0 else { return [] }
        let text = words.joined(separator: " or ")
        return try read("search") { connection, logger in
            try connection.run("""
                SELECT id, ts_rank_cd(lexemes, query, 1)::float8 AS rank
                FROM chunk, websearch_to_tsquery('english', \(text)) AS query
                WHERE lexemes @@ query ORDER BY rank DESC, id LIMIT \(limit)
                """, logger: logger
            ).map { row in
                let (id, rank) = try row.decode((Int64, Double).self)
                return (ChunkID(rawValue: id), rank)
            }
        }
    }

    /// Through pgvector's HNSW index, `hnsw.ef_search` set to `ef` (pgvector takes at most 1000)
    /// on the connection when it had another: one round trip per search, two when the beam
    /// changes.
    public func nearest(_ query: [Float], k: Int, ef: Int) throws -> [(ChunkID, Double)] {
        guard k > 0 else { return [] }
        let beam = min(1000, max(ef, k))
        return try read("search") { connection, logger in
            if pool.efSearch(of: connection) != beam {
                _ = try connection.run(PostgresQuery(unsafeSQL: "SET hnsw.ef_search = \(beam)"), logger: logger)
                pool.setEfSearch(beam, of: connection)
            }
            let vector = PGVector(values: query, psqlType: vectorType)
            do {
                return try connection.run("""
                    SELECT id, 1 - (embedding <=> \(vector)) FROM chunk WHERE embedding IS NOT NULL
                    ORDER BY embedding <=> \(vector) LIMIT \(k)
                    """, logger: logger
                ).map { row in
                    let (id, similarity) = try row.decode((Int64, Double).self)
                    return (ChunkID(rawValue: id), similarity)
                }
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "22000" {
                // pgvector: "different vector dimensions".
                let dimensions = try connection.run("SELECT dimensions FROM index_state WHERE id = 1", logger: logger).first?.decode(Int?.self) ?? nil
                throw RAGError(.invalidInput, "a \(query.count)-d query against a \(dimensions ?? 0)-d vector index; use the embedder the index was built with")
            }
        }
    }

    /// Builds the HNSW index on the vector column with the parameters asked for (else the
    /// stored ones), inside the caller's transaction.
    func createVectorIndex(_ connection: PostgresConnection, logger: Logger) throws {
        let stored = try connection.run("SELECT hnsw_m, hnsw_ef_construction FROM index_state WHERE id = 1", logger: logger).first?.decode((Int, Int).self)
        let parameters = requestedParameters.withLock { $0 } ?? stored.map { HNSWGraph.Parameters(m: $0.0, efConstruction: $0.1) } ?? HNSWGraph.Parameters()
        _ = try connection.run(
            "UPDATE index_state SET hnsw_m = \(parameters.m), hnsw_ef_construction = \(parameters.efConstruction) WHERE id = 1", logger: logger)
        _ = try connection.run("DROP INDEX IF EXISTS chunk_embedding", logger: logger)
        _ = try connection.run(PostgresQuery(unsafeSQL: """
            CREATE INDEX chunk_embedding ON chunk USING hnsw (embedding vector_cosine_ops)
            WITH (m = \(parameters.m), ef_construction = \(parameters.efConstruction))
            """), logger: logger)
    }

    /// pgvector does not tell its graph's levels: `maxLevel` is 0 and `space` says whose index it is.
    public func graphInfo() throws -> GraphInfo? {
        try read { connection, logger in
            let row = try connection.run("""
                SELECT (SELECT count(*) FROM chunk WHERE embedding IS NOT NULL), dimensions, hnsw_m, hnsw_ef_construction,
                       coalesce(pg_relation_size(to_regclass('chunk_embedding')), 0)
                FROM index_state WHERE id = 1
                """, logger: logger
            ).first
            guard let row else { return nil }
            let (nodes, dimensions, m, efConstruction, bytes) = try row.decode((Int, Int?, Int, Int, Int64).self)
            guard let dimensions, nodes > 0 else { return nil }
            return GraphInfo(
                nodes: nodes, slots: nodes, dimensions: dimensions, space: "cosine, pgvector", m: m, efConstruction: efConstruction, maxLevel: 0,
                pages: Int(bytes / 8192), pageBytes: bytes, pendingChanges: 0)
        }
    }

    /// Parameters for the vector index; when they differ from those of the existing index, it
    /// is rebuilt now.
    public func setGraphParameters(_ parameters: HNSWGraph.Parameters) throws {
        let parameters = try parameters.validated()
        requestedParameters.withLock { $0 = parameters }
        if let info = try graphInfo(), info.m != parameters.m || info.efConstruction != parameters.efConstruction {
            _ = try rebuildGraph(parameters: parameters)
        }
    }

    public func rebuildGraph(parameters: HNSWGraph.Parameters?) throws -> GraphInfo? {
        if let parameters { requestedParameters.withLock { $0 = parameters } }
        try sqlTransaction({ connection, logger in
            let dimensions = try connection.run("SELECT dimensions FROM index_state WHERE id = 1", logger: logger).first?.decode(Int?.self) ?? nil
            if dimensions != nil {
                _ = try connection.run("SET LOCAL maintenance_work_mem = '256MB'", logger: logger)
                try createVectorIndex(connection, logger: logger)
            }
            return ((), dimensions != nil)
        })
        return try graphInfo()
    }

    public func graphProblems() throws -> [String] {
        try read { connection, logger in
            var problems: [String] = []
            let row = try connection.run("""
                SELECT embedder, dimensions, (SELECT count(*) FROM chunk WHERE embedding IS NULL), (SELECT count(*) FROM chunk WHERE embedding IS NOT NULL),
                       (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('chunk_embedding'))
                FROM index_state WHERE id = 1
                """, logger: logger
            ).first
            guard let row else { return ["the index's state row is missing"] }
            let (embedder, dimensions, missing, vectors, valid) = try row.decode((String, Int?, Int, Int, Bool?).self)
            if !embedder.isEmpty, missing > 0 { problems.append("\(missing) chunks without a vector") }
            if vectors > 0, dimensions == nil { problems.append("\(vectors) vectors but no dimensions recorded") }
            if vectors > 0, valid == nil { problems.append("\(vectors) vectors but no vector index") }
            if valid == false { problems.append("the vector index is not valid (an interrupted build); rebuild it") }
            return problems
        }
    }

    /// PostgreSQL's autovacuum does the compaction: nothing to do here.
    public func compactIfChurned() throws -> Bool { false }

    /// PostgreSQL keeps its GIN index in its own buffers: nothing to keep here.
    public func keepBM25IndexInMemory(buildNow: Bool) throws {}
}
