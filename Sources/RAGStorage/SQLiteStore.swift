public import Foundation
public import GRDB
internal import RAGCore

/// The index file: one SQLite database holding sources, documents, chunks and their FTS5 index
/// (and, in later formats, vectors and the HNSW graph), so they can never drift apart.
///
/// Opened as a WAL `DatabasePool`: readers see the last committed state while one writer works.
public struct SQLiteStore: IndexStore {
    /// The file's format. A file with a higher version was written by a newer rag and is refused.
    public static let formatVersion = 1

    public typealias OpenMode = IndexOpenMode

    /// nil for an in-memory store.
    public let path: String?
    public var location: String { path ?? "in-memory index" }
    let writer: any DatabaseWriter
    /// Told what the store does on its own that a user should know (the vector index rebuilt,
    /// vectors left out), as "PATH: what happened"; nil: nobody is told.
    public let warning: (@Sendable (String) -> Void)?
    /// The HNSW graph as this process last read or wrote it.
    let graphCache = GraphCache()
    /// The in-memory BM25 index, when this process keeps one (`keepBM25IndexInMemory()`).
    let bm25Cache = BM25Cache()

    /// Opens (or creates) the index at `path`.
    ///
    /// - Parameter busyTimeout: how long a write waits for another process's write lock before
    ///   failing with `RAGError.Code.busy`.
    public init(path: String, mode: OpenMode = .createIfMissing, busyTimeout: TimeInterval = 5, warning: (@Sendable (String) -> Void)? = nil) throws {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = fileManager.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists, isDirectory.boolValue {
            throw RAGError(.invalidInput, "\(path): is a folder, not an index file; pass a file path to --db")
        }
        if !exists {
            guard mode == .createIfMissing else {
                throw RAGError(.notFound, "\(path): no index here; create one with `rag ingest DIR --db \(path)`")
            }
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty, !fileManager.fileExists(atPath: folder) {
                do {
                    try fileManager.createDirectory(atPath: folder, withIntermediateDirectories: true)
                } catch {
                    throw RAGError(.io, "\(folder): cannot create the index folder (\(error.localizedDescription))", underlying: error)
                }
            }
        } else {
            try Self.checkExistingFile(path, busyTimeout: busyTimeout)
        }

        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            // WAL + NORMAL: a crash of the process (kill -9) loses no committed transaction.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // 8 KB pages hold five 384-d vectors (1.5 KB each) with little slack; 4 KB pages hold
            // two and waste a quarter. Takes effect when the file is created.
            try db.execute(sql: "PRAGMA page_size = 8192")
        }
        let pool: DatabasePool
        let deadline = Date().addingTimeInterval(busyTimeout)
        while true {
            do {
                pool = try DatabasePool(path: path, configuration: configuration)
                break
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && Date() < deadline {
                // Turning a new file to WAL needs it alone for a moment, and SQLite answers a
                // second process opening it in that moment with SQLITE_BUSY at once (no busy
                // handler for that pragma): try again until the busy timeout.
                Thread.sleep(forTimeInterval: 0.02)
            } catch {
                throw Self.mapError(error, path: path, doing: "open the index")
            }
        }
        self.path = path
        self.writer = pool
        self.warning = warning
        try migrate()
    }

    /// An in-memory store, for tests.
    public init(warning: (@Sendable (String) -> Void)? = nil) throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        self.path = nil
        self.warning = warning
        self.writer = try DatabaseQueue(configuration: configuration)
        try migrate()
    }

    /// Refuses a file that is not a SQLite database, is some other application's database, or
    /// was written by a newer rag — before anything could write to it.
    static func checkExistingFile(_ path: String, busyTimeout: TimeInterval = 5) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw RAGError(.io, "\(path): cannot read the index file (permission denied?)")
        }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        try? handle.close()
        if header.isEmpty { return }  // An empty file is an empty database.
        guard header == Data("SQLite format 3\0".utf8) else {
            throw RAGError(.corruptFile, "\(path): not a rag index (not a SQLite database); the file was left untouched — pass another --db or move it away")
        }
        var configuration = Configuration()
        configuration.readonly = true
        // A WAL reader can meet a lock held for a moment (another process's checkpoint or WAL
        // recovery): wait for it like every other connection instead of failing at once.
        configuration.busyMode = .timeout(busyTimeout)
        let probe: DatabaseQueue
        do {
            probe = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw mapError(error, path: path, doing: "open the index")
        }
        let (tables, version): ([String], Int?) = try probe.read { db in
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            let version = tables.contains("index_state")
                ? try Int.fetchOne(db, sql: "SELECT format_version FROM index_state WHERE id = 1") : nil
            return (tables, version)
        }
        try probe.close()
        // Only GRDB's table of migrations: another rag is creating this index right now (it
        // writes that table before the first migration).
        if !tables.isEmpty, !tables.contains("index_state"), tables != ["grdb_migrations"] {
            throw RAGError(.invalidInput, "\(path): a SQLite database, but not a rag index (tables: \(tables.prefix(5).joined(separator: ", "))); the file was left untouched — pass another --db")
        }
        if let version, version > formatVersion {
            throw RAGError(.unsupported, "\(path): index format \(version) was written by a newer rag; this rag reads format \(formatVersion) and older. Upgrade rag; the file was left untouched")
        }
    }

    /// A GRDB error as a `RAGError` that says what to do.
    static func mapError(_ error: any Error, path: String?, doing: String) -> RAGError {
        let where_ = path ?? "in-memory index"
        if let error = error as? RAGError { return error }
        if let db = error as? DatabaseError {
            switch db.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                return RAGError(.busy, "\(where_): another process is writing to this index and did not finish in time; wait for it (or stop it) and try again", underlying: error)
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return RAGError(.corruptFile, "\(where_): the index file is damaged (\(db.message ?? "corrupt")); restore it or ingest again into a new --db", underlying: error)
            case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM:
                return RAGError(.io, "\(where_): cannot \(doing): \(db.message ?? "permission denied"); check the file's permissions", underlying: error)
            case .SQLITE_FULL:
                // .storage, not .io: a full disk stops the run; it is not one file's problem to skip.
                return RAGError(.storage, "\(where_): disk full while trying to \(doing); nothing was changed; free some space and run again", underlying: error)
            default:
                return RAGError(.storage, "\(where_): cannot \(doing): \(db.message ?? "\(db.resultCode)")", underlying: error)
            }
        }
        return RAGError(.storage, "\(where_): cannot \(doing): \(error)", underlying: error)
    }

    /// Runs `body` in one IMMEDIATE transaction: all of it commits, or none.
    public func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    let before = db.totalChangesCount
                    result = try body(db)
                    // Any change bumps the revision, which caches of answers compare against.
                    if db.totalChangesCount != before {
                        try db.execute(sql: "UPDATE index_state SET revision = revision + 1 WHERE id = 1")
                    }
                    return .commit
                }
                return result!
            }
        } catch {
            throw Self.mapError(error, path: path, doing: "write")
        }
    }

    /// A number that grows with every transaction that changed the index (from any process).
    public func revision() throws -> Int64 {
        try read { db in try Int64.fetchOne(db, sql: "SELECT revision FROM index_state WHERE id = 1") ?? 0 }
    }

    /// Runs `body` on a snapshot of the last committed state.
    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.read(body)
        } catch {
            throw Self.mapError(error, path: path, doing: "read")
        }
    }

    /// Closes the file's connections (a `DatabasePool` also closes when released).
    public func close() throws {
        try (writer as? DatabasePool)?.close()
    }
}
