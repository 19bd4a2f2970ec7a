internal import Foundation
internal import Logging
internal import PostgresNIO
internal import RAGCore
public import RAGStorage

extension PostgresStore {
    /// Vectors stay in their row (compressed first, moved out only when the row would not fit a
    /// page); `ALTER COLUMN … TYPE` resets it, so it follows each.
    static let vectorsInline = "ALTER TABLE chunk ALTER COLUMN embedding SET STORAGE MAIN"

    /// Append-only, named migrations: never edit one that shipped, add another. Each is a list
    /// of statements (the extended protocol takes one at a time); all that are missing are
    /// applied in one transaction under the writer's lock, so two processes creating one index
    /// at once wait for each other instead of colliding (PostgreSQL's DDL is transactional).
    static let migrations: [(name: String, statements: [String])] = [
        ("v1-documents-chunks-vectors", [
            "CREATE EXTENSION IF NOT EXISTS vector",
            """
            CREATE TABLE index_state (
                id integer PRIMARY KEY CHECK (id = 1),
                format_version integer NOT NULL,
                chunker text NOT NULL DEFAULT '',
                embedder text NOT NULL DEFAULT '',
                revision bigint NOT NULL DEFAULT 0,
                dimensions integer,
                hnsw_m integer NOT NULL DEFAULT 16,
                hnsw_ef_construction integer NOT NULL DEFAULT 200,
                created_at double precision NOT NULL,
                updated_at double precision NOT NULL
            )
            """,
            """
            CREATE TABLE source (
                id bigserial PRIMARY KEY,
                path text NOT NULL UNIQUE,
                format text NOT NULL,
                size bigint NOT NULL,
                mtime double precision NOT NULL,
                content_hash text NOT NULL,
                ingested_at double precision NOT NULL
            )
            """,
            """
            CREATE TABLE document (
                id bigserial PRIMARY KEY,
                source_id bigint NOT NULL REFERENCES source(id) ON DELETE CASCADE,
                path text NOT NULL UNIQUE,
                content_hash text NOT NULL,
                size bigint NOT NULL,
                mtime double precision NOT NULL,
                format text NOT NULL,
                title text,
                chunk_count bigint NOT NULL DEFAULT 0,
                ingested_at double precision NOT NULL
            )
            """,
            "CREATE INDEX document_source ON document(source_id)",
            // The vector column gets its dimensions (and its HNSW index) with the first vector.
            """
            CREATE TABLE chunk (
                id bigserial PRIMARY KEY,
                document_id bigint NOT NULL REFERENCES document(id) ON DELETE CASCADE,
                ordinal bigint NOT NULL,
                text text NOT NULL,
                start_offset bigint NOT NULL,
                end_offset bigint NOT NULL,
                token_count bigint NOT NULL,
                heading text NOT NULL DEFAULT '',
                embedding vector,
                lexemes tsvector GENERATED ALWAYS AS (
                    setweight(to_tsvector('english', heading), 'A') || setweight(to_tsvector('english', text), 'B')
                ) STORED,
                UNIQUE (document_id, ordinal)
            )
            """,
            "CREATE INDEX chunk_lexemes ON chunk USING gin (lexemes)",
        ]),
        // BM25 as SQLite's index scores it: FTS5's terms (`LexicalAnalyzer`) in postings of our
        // own, the collection's size and length kept by triggers; the tsvector goes.
        ("v2-bm25-postings", [
            "ALTER TABLE chunk ADD COLUMN lexical_length integer NOT NULL DEFAULT 0",
            """
            CREATE TABLE posting (
                term text COLLATE "C" NOT NULL,
                chunk_id bigint NOT NULL REFERENCES chunk(id) ON DELETE CASCADE,
                frequency integer NOT NULL,
                length integer NOT NULL,
                PRIMARY KEY (term, chunk_id)
            )
            """,
            "CREATE INDEX posting_chunk ON posting(chunk_id)",
            "ALTER TABLE index_state ADD COLUMN lexical_chunks bigint NOT NULL DEFAULT 0, ADD COLUMN lexical_tokens bigint NOT NULL DEFAULT 0",
            """
            CREATE FUNCTION rag_chunks_added() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE index_state SET lexical_chunks = lexical_chunks + (SELECT count(*) FROM added),
                    lexical_tokens = lexical_tokens + (SELECT coalesce(sum(lexical_length), 0) FROM added) WHERE id = 1;
                RETURN NULL;
            END $$
            """,
            """
            CREATE FUNCTION rag_chunks_removed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE index_state SET lexical_chunks = lexical_chunks - (SELECT count(*) FROM removed),
                    lexical_tokens = lexical_tokens - (SELECT coalesce(sum(lexical_length), 0) FROM removed) WHERE id = 1;
                RETURN NULL;
            END $$
            """,
            "CREATE TRIGGER chunk_added AFTER INSERT ON chunk REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION rag_chunks_added()",
            "CREATE TRIGGER chunk_removed AFTER DELETE ON chunk REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION rag_chunks_removed()",
            "DROP INDEX chunk_lexemes",
            "ALTER TABLE chunk DROP COLUMN lexemes",
            // pgvector stores vectors out of line once a row passes 2 kB (a chunk's text and a
            // 384-d vector do): the planner then prices a sequential scan below the HNSW index and
            // pays a TOAST fetch per row (20 ms for 4,000 chunks). Kept in the row, they are not.
            PostgresStore.vectorsInline,
        ]),
        // What `SearchFilter.tags` selects documents by.
        ("v3-document-tags", [
            """
            CREATE TABLE document_tag (
                document_id bigint NOT NULL REFERENCES document(id) ON DELETE CASCADE,
                key text NOT NULL,
                value text NOT NULL,
                PRIMARY KEY (document_id, key)
            )
            """,
            "CREATE INDEX document_tag_value ON document_tag(key, value)",
        ]),
        // A key may carry several values (front matter's `tags: [a, b]`).
        ("v4-tag-values", [
            "ALTER TABLE document_tag DROP CONSTRAINT document_tag_pkey, ADD PRIMARY KEY (document_id, key, value)",
        ]),
    ]

    /// Brings the database's schema up to date (or checks that it is there) and returns the id
    /// of pgvector's `vector` type and whether its HNSW scans can go on past `hnsw.ef_search`
    /// (`hnsw.iterative_scan`, pgvector 0.8).
    static func prepare(pool: ConnectionPool, location: PostgresLocation, mode: IndexOpenMode) throws -> (PostgresDataType, iterativeScans: Bool) {
        let logger = pool.logger
        do {
            return try pool.withConnection { connection in
                let hasIndex = try connection.run("SELECT to_regclass('index_state') IS NOT NULL", logger: logger).first?.decode(Bool.self) ?? false
                if !hasIndex {
                    guard mode == .createIfMissing else {
                        throw RAGError(.notFound, "\(location.description): no index here; create one with `rag ingest DIR --db URL`")
                    }
                    let others = try connection.run(
                        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN ('source', 'document', 'chunk')",
                        logger: logger
                    ).first?.decode(Int.self) ?? 0
                    if others > 0 {
                        throw RAGError(.invalidInput, "\(location.description): the database has tables of another application; give rag a database of its own. Nothing was changed")
                    }
                }
                _ = try connection.run("BEGIN", logger: logger)
                do {
                    _ = try connection.run("SELECT pg_advisory_xact_lock(\(writerLock))", logger: logger)
                    try migrate(connection, logger: logger, location: location)
                    _ = try connection.run("COMMIT", logger: logger)
                } catch {
                    _ = try? connection.run("ROLLBACK", logger: logger)
                    throw error
                }
                guard let row = try connection.run(
                    "SELECT 'vector'::regtype::oid::int8, extversion FROM pg_extension WHERE extname = 'vector'", logger: logger).first
                else {
                    throw RAGError(.storage, "\(location.description): pgvector's vector type is missing")
                }
                let (oid, version) = try row.decode((Int64, String).self)
                let parts = version.split(separator: ".").compactMap { Int($0) }
                return (PostgresDataType(UInt32(oid)), parts.lexicographicallyPrecedes([0, 8]) == false)
            }
        } catch let error as RAGError where error.code == .notFound && mode == .mustExist {
            throw RAGError(.notFound, "\(location.description): no index here; create one with `rag ingest DIR --db URL`", underlying: error)
        } catch {
            throw mapError(error, location: location, doing: "prepare the index")
        }
    }

    private static func migrate(_ connection: PostgresConnection, logger: Logger, location: PostgresLocation) throws {
        _ = try connection.run("CREATE TABLE IF NOT EXISTS rag_migration (name text PRIMARY KEY, applied_at double precision NOT NULL)", logger: logger)
        var applied = Set<String>()
        for row in try connection.run("SELECT name FROM rag_migration", logger: logger) { applied.insert(try row.decode(String.self)) }
        let known = Set(migrations.map(\.name))
        if !applied.isSubset(of: known) {
            throw RAGError(.unsupported, "\(location.description): written by a newer rag (unknown migrations \(applied.subtracting(known).sorted().joined(separator: ", "))); upgrade rag. Nothing was changed")
        }
        let now = Date().timeIntervalSince1970
        for migration in migrations where !applied.contains(migration.name) {
            for statement in migration.statements {
                do {
                    _ = try connection.run(PostgresQuery(unsafeSQL: statement), logger: logger)
                } catch let error as PSQLError where statement.contains("EXTENSION") {
                    let message = error.serverInfo?[.message] ?? "\(error.code)"
                    throw RAGError(.unsupported, "\(location.description): the database lacks pgvector (\(message)); install it on the server, or have a superuser run CREATE EXTENSION vector in this database", underlying: error)
                }
            }
            if migration.name == "v1-documents-chunks-vectors" {
                _ = try connection.run(
                    "INSERT INTO index_state (id, format_version, created_at, updated_at) VALUES (1, \(formatVersion), \(now), \(now))", logger: logger)
            }
            if migration.name == "v2-bm25-postings" { try indexChunksLexically(connection, logger: logger) }
            _ = try connection.run("INSERT INTO rag_migration (name, applied_at) VALUES (\(migration.name), \(now))", logger: logger)
        }
        if let version = try connection.run("SELECT format_version FROM index_state WHERE id = 1", logger: logger).first?.decode(Int.self), version > formatVersion {
            throw RAGError(.unsupported, "\(location.description): index format \(version) was written by a newer rag; upgrade rag. Nothing was changed")
        }
    }

    /// The postings and lengths of chunks written before there were postings, their vectors
    /// rewritten into the row (v2).
    private static func indexChunksLexically(_ connection: PostgresConnection, logger: Logger) throws {
        let analyzer = try LexicalAnalyzer()
        var lastID: Int64 = 0
        while true {
            let rows = try connection.run("SELECT id, text, heading FROM chunk WHERE id > \(lastID) ORDER BY id LIMIT 1000", logger: logger)
            var ids: [Int64] = [], lengths: [Int32] = []
            var terms: [String] = [], chunkIDs: [Int64] = [], frequencies: [Int32] = [], postingLengths: [Int32] = []
            for row in rows {
                let (id, text, heading) = try row.decode((Int64, String, String).self)
                let analysis = try analyzer.documentTerms([text, heading])
                ids.append(id)
                lengths.append(analysis.length)
                for (term, frequency) in analysis.frequencies {
                    terms.append(term)
                    chunkIDs.append(id)
                    frequencies.append(frequency)
                    postingLengths.append(analysis.length)
                }
            }
            guard let last = ids.last else { break }
            lastID = last
            _ = try connection.run("""
                UPDATE chunk SET lexical_length = given.length, embedding = chunk.embedding::real[]::vector
                FROM unnest(\(ids)::int8[], \(lengths)::int4[]) AS given(id, length)
                WHERE chunk.id = given.id
                """, logger: logger)
            _ = try connection.run("""
                INSERT INTO posting (term, chunk_id, frequency, length)
                SELECT * FROM unnest(\(terms)::text[], \(chunkIDs)::int8[], \(frequencies)::int4[], \(postingLengths)::int4[])
                """, logger: logger)
        }
        _ = try connection.run("""
            UPDATE index_state SET lexical_chunks = (SELECT count(*) FROM chunk), lexical_tokens = (SELECT coalesce(sum(lexical_length), 0) FROM chunk)
            WHERE id = 1
            """, logger: logger)
    }
}
