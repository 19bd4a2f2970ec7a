public import Foundation
internal import Logging
internal import NIOCore
internal import PostgresNIO
public import RAGCore
public import RAGIndex
public import RAGStorage
internal import Synchronization

/// The index in a PostgreSQL database with pgvector, for a team: several `rag serve` nodes and
/// ingesting processes share one database. The same tables as the SQLite file (source,
/// document, chunk, index_state), and:
/// - vectors in a `vector(N)` column of `chunk` with an HNSW index (`vector_cosine_ops`; m and
///   ef_construction from the same options as rag's own graph, `hnsw.ef_search` from `--ef`),
///   sent in pgvector's binary format;
/// - lexical search by Okapi BM25 over postings of FTS5's terms (`LexicalAnalyzer`), with the
///   scores SQLite's index gives (`bm25Ranking`); fusion is rag's, as with SQLite;
/// - one writer at a time: every write transaction first takes a transaction-scoped advisory
///   lock (`pg_advisory_xact_lock`), as SQLite's write lock does, so two ingesting processes
///   never interleave within a document; unique paths (source, document) and the foreign keys
///   are the backstop. A writer waits for the lock up to the busy timeout, then fails with
///   `RAGError.Code.busy`.
///
/// One index per database. Calls block the calling thread (each waits on its connection).
public struct PostgresStore: IndexStore {
    /// The schema's format; a database with a higher one was written by a newer rag and is refused.
    public static let formatVersion = 1
    /// The advisory lock every writer holds for its transaction.
    static let writerLock: Int64 = 0x7261_6700  // "rag\0"

    public let url: PostgresLocation
    public var location: String { url.description }
    let pool: ConnectionPool
    /// How long a write waits for another writer, in seconds.
    let busyTimeout: TimeInterval
    /// pgvector's `vector` type, whose id each database gives it when the extension is created.
    let vectorType: PostgresDataType
    /// Whether pgvector's HNSW scans go on past `hnsw.ef_search` when asked for more rows (0.8).
    let iterativeScans: Bool
    /// FTS5's terms, for the BM25 postings and queries.
    let analyzer: LexicalAnalyzer
    /// HNSW parameters asked for by this process (`setGraphParameters`), applied when the vector
    /// index is built.
    let requestedParameters = Requested()

    final class Requested: Sendable {
        private let parameters = Mutex<HNSWGraph.Parameters?>(nil)
        func withLock<T>(_ body: (inout HNSWGraph.Parameters?) -> T) -> T { parameters.withLock { body(&$0) } }
    }

    /// Opens the index in the database `url` names; with `.createIfMissing`, creates the
    /// database (when the user may) and the tables when missing.
    public init(url: String, mode: IndexOpenMode = .createIfMissing, busyTimeout: TimeInterval = 5) throws {
        try self.init(location: PostgresLocation(url: url), mode: mode, busyTimeout: busyTimeout)
    }

    public init(location: PostgresLocation, mode: IndexOpenMode = .createIfMissing, busyTimeout: TimeInterval = 5) throws {
        self.url = location
        self.pool = ConnectionPool(location: location)
        self.busyTimeout = busyTimeout
        self.analyzer = try LexicalAnalyzer()
        let pool = self.pool
        do {
            _ = try pool.withConnection { _ in () }
        } catch let error as RAGError where error.code == .notFound {
            guard mode == .createIfMissing else {
                throw RAGError(.notFound, "\(location.description): no index here (no database \(location.database)); create one with `rag ingest DIR --db URL`", underlying: error)
            }
            try Self.createDatabase(location, pool: pool)
        }
        (vectorType, iterativeScans) = try Self.prepare(pool: pool, location: location, mode: mode)
    }

    /// Creates the database itself (`CREATE DATABASE`), through the server's `postgres` database.
    static func createDatabase(_ location: PostgresLocation, pool: ConnectionPool) throws {
        let admin = try pool.open(database: "postgres")
        defer { _ = try? admin.close().wait() }
        let name = "\"" + location.database.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        do {
            _ = try admin.run(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: pool.logger)
        } catch let error as PSQLError where ["42P04", "23505"].contains(error.serverInfo?[.sqlState]) {
            // Another process created it a moment ago (or is creating it: then the catalog's
            // unique index, not CREATE DATABASE's own check, says so).
        } catch {
            throw mapError(error, location: location, doing: "create the database (create it yourself, or give the user CREATEDB)")
        }
    }

    /// Runs `body` on a connection of its own, outside any transaction; errors say what failed.
    func read<T>(_ doing: String = "read", _ body: (PostgresConnection, Logger) throws -> T) throws -> T {
        do {
            return try pool.withConnection { try body($0, pool.logger) }
        } catch {
            throw Self.mapError(error, location: url, doing: doing)
        }
    }

    /// Runs `body` in one transaction holding the writer's lock; a transaction that changed
    /// anything moves the revision before it commits.
    public func transaction<T>(_ body: (any IndexTransaction) throws -> T) throws -> T {
        try sqlTransaction({ connection, logger in
            let transaction = PostgresTransaction(store: self, connection: connection, logger: logger)
            let result = try body(transaction)
            return (result, transaction.changed)
        })
    }

    /// A write transaction of the store's own: `body` says whether it changed anything.
    func sqlTransaction<T>(_ body: (PostgresConnection, Logger) throws -> (T, changed: Bool)) throws -> T {
        try read("write") { connection, logger in
            _ = try connection.run("BEGIN", logger: logger)
            do {
                let milliseconds = max(1, Int(busyTimeout * 1000))
                _ = try connection.run(PostgresQuery(unsafeSQL: "SET LOCAL lock_timeout = \(milliseconds)"), logger: logger)
                _ = try connection.run("SELECT pg_advisory_xact_lock(\(Self.writerLock))", logger: logger)
                let (result, changed) = try body(connection, logger)
                if changed {
                    _ = try connection.run(
                        "UPDATE index_state SET revision = revision + 1, updated_at = \(Date().timeIntervalSince1970) WHERE id = 1", logger: logger)
                }
                _ = try connection.run("COMMIT", logger: logger)
                return result
            } catch {
                _ = try? connection.run("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    public func revision() throws -> Int64 {
        try read { connection, logger in
            try connection.run("SELECT revision FROM index_state WHERE id = 1", logger: logger).first?.decode(Int64.self) ?? 0
        }
    }

    public func close() throws { pool.close() }

    /// A PostgreSQL (or connection) error as a `RAGError` that says what to do.
    static func mapError(_ error: any Error, location: PostgresLocation, doing: String) -> RAGError {
        if let error = error as? RAGError { return error }
        let at = location.description
        if error is ConnectionClosed {
            return RAGError(.unavailable, "\(at): the PostgreSQL server closed the connection while trying to \(doing); try again (is the server restarting?)", underlying: error)
        }
        guard let error = error as? PSQLError else {
            return RAGError(.storage, "\(at): cannot \(doing): \(error)", underlying: error)
        }
        if let state = error.serverInfo?[.sqlState] {
            let message = error.serverInfo?[.message] ?? "\(error.code)"
            switch state {
            case "3D000":
                return RAGError(.notFound, "\(at): no such database (\(message)); create it, or run `rag ingest DIR --db URL` as a user who may", underlying: error)
            case "28P01", "28000":
                return RAGError(.io, "\(at): the server refused the login (\(message)); check the user and password (in the URL or $PGPASSWORD)", underlying: error)
            case "55P03", "40P01":
                return RAGError(.busy, "\(at): another process is writing to this index and did not finish in time; wait for it (or stop it) and try again", underlying: error)
            case "53100":
                return RAGError(.storage, "\(at): the database server's disk is full while trying to \(doing); nothing was changed", underlying: error)
            case "42501":
                return RAGError(.io, "\(at): permission denied while trying to \(doing) (\(message)); grant the user rights on the database", underlying: error)
            default:
                return RAGError(.storage, "\(at): cannot \(doing): \(message) (SQLSTATE \(state))", underlying: error)
            }
        }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
            let cause = error.underlying.map { " (\($0))" } ?? ""
            return RAGError(.unavailable, "\(at): cannot reach the PostgreSQL server\(cause); is it running, and is the host and port right?", underlying: error)
        default:
            return RAGError(.storage, "\(at): cannot \(doing): \(error.code)", underlying: error)
        }
    }
}
