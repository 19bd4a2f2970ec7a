internal import Foundation
internal import Logging
internal import PostgresNIO
public import RAGCore
public import RAGIndex
public import RAGStorage

extension PostgresStore {
    /// Okapi BM25 over the postings, scored as `BM25Index` (and SQLite FTS5's `bm25()`) score:
    /// the same terms (`LexicalAnalyzer`), k1 = 1.2, b = 0.75, N and the average length from
    /// `index_state`, each term's document frequency counted from its postings, IDF at least
    /// 10⁻⁶, a term repeated in the query counted again. Ties by chunk id.
    public func bm25Ranking(_ query: String, limit: Int, filter: SearchFilter?) throws -> [(ChunkID, Double)] {
        let terms = try analyzer.queryTerms(query)
        guard !terms.isEmpty, limit > 0 else { return [] }
        let (k1, b) = (BM25Index.k1, BM25Index.b)
        return try read("search") { connection, logger in
            var query: PostgresQuery = """
                WITH query AS (
                    SELECT term COLLATE "C" AS term, count(*)::float8 AS repeats FROM unnest(\(terms)::text[]) AS term GROUP BY term
                ), collection AS (
                    SELECT lexical_chunks::float8 AS n,
                           CASE WHEN lexical_chunks = 0 THEN 1 ELSE greatest(lexical_tokens::float8 / lexical_chunks, 1e-300) END AS average
                    FROM index_state WHERE id = 1
                ), weighted AS (
                    SELECT query.term, query.repeats * \(k1 + 1) * CASE WHEN idf.value <= 0 THEN 1e-6 ELSE idf.value END AS weight
                    FROM query CROSS JOIN collection,
                         LATERAL (SELECT count(*)::float8 AS hits FROM posting WHERE posting.term = query.term) AS found,
                         LATERAL (SELECT ln((collection.n - found.hits + 0.5) / (found.hits + 0.5)) AS value) AS idf
                    WHERE found.hits > 0
                )
                SELECT posting.chunk_id,
                       sum(weighted.weight * posting.frequency / (posting.frequency + \(k1) * (\(1 - b) + \(b) * posting.length / collection.average)))::float8 AS score
                FROM weighted JOIN posting ON posting.term = weighted.term CROSS JOIN collection
                \(unescaped: Self.filterMarker)
                GROUP BY posting.chunk_id ORDER BY score DESC, posting.chunk_id LIMIT \(limit)
                """
            query.filter(filter, join: "JOIN chunk ON chunk.id = posting.chunk_id JOIN document ON document.id = chunk.document_id", where: "WHERE")
            return try connection.run(query, logger: logger).map { row in
                let (id, score) = try row.decode((Int64, Double).self)
                return (ChunkID(rawValue: id), score)
            }
        }
    }

    /// Through pgvector's HNSW index, `hnsw.ef_search` set to `ef` (pgvector takes at most 1000)
    /// on the connection when it had another: one round trip per search, two when the beam
    /// changes. More than 1000 neighbours, and a filter's, come from pgvector 0.8's iterative
    /// scan: it goes on past the beam until `k` rows pass (or `hnsw.max_scan_tuples` are seen).
    public func nearest(_ query: [Float], k: Int, ef: Int, filter: SearchFilter?) throws -> [(ChunkID, Double)] {
        guard k > 0 else { return [] }
        let beam = min(1000, max(ef, k))
        return try read("search") { connection, logger in
            if pool.efSearch(of: connection) != beam {
                // Strict order: past the beam (more than 1000 wanted), the scan goes on and the
                // rows still come nearest first; within it, nothing changes.
                let iterative = iterativeScans ? ", set_config('hnsw.iterative_scan', 'strict_order', false)" : ""
                _ = try connection.run(PostgresQuery(unsafeSQL: "SELECT set_config('hnsw.ef_search', '\(beam)', false)\(iterative)"), logger: logger)
                pool.setEfSearch(beam, of: connection)
            }
            let vector = PGVector(values: query, psqlType: vectorType)
            do {
                var search: PostgresQuery = """
                    SELECT chunk.id, 1 - (embedding <=> \(vector)) FROM chunk WHERE embedding IS NOT NULL \(unescaped: Self.filterMarker)
                    ORDER BY embedding <=> \(vector) LIMIT \(k)
                    """
                search.filter(filter, join: nil, where: "AND chunk.document_id IN (SELECT document.id FROM document WHERE", close: ")")
                return try connection.run(search, logger: logger).map { row in
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

    /// PostgreSQL keeps the postings in its own buffers: nothing to keep here.
    public func keepBM25IndexInMemory(buildNow: Bool) throws {}

    /// Where a query takes its filter (`PostgresQuery.filter`).
    static let filterMarker = "/* filter */"
}

extension PostgresQuery {
    /// Puts `filter`'s condition on `document` (and its tags) where the query has
    /// `PostgresStore.filterMarker`: `join` and `where` before it, `close` after, its values bound
    /// after the query's own. Nothing at all without a filter.
    mutating func filter(_ filter: SearchFilter?, join: String?, where keyword: String, close: String = "") {
        guard let filter, !filter.isEmpty else {
            sql = sql.replacingOccurrences(of: PostgresStore.filterMarker, with: "")
            return
        }
        var conditions: [String] = []
        func bind(_ value: some PostgresNonThrowingEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let path = filter.path {
            conditions.append(SearchFilter.regex(fromGlob: path).map { "document.path ~ " + bind($0) } ?? "false")
        }
        for (key, value) in filter.tags.tagPairs {
            conditions.append("EXISTS (SELECT 1 FROM document_tag WHERE document_tag.document_id = document.id AND key = \(bind(key)) AND value = \(bind(value)))")
        }
        if let after = filter.ingestedAfter { conditions.append("document.ingested_at > " + bind(after)) }
        let clause = [join, keyword].compactMap { $0 }.joined(separator: " ") + " " + conditions.joined(separator: " AND ") + close
        sql = sql.replacingOccurrences(of: PostgresStore.filterMarker, with: clause)
    }
}
