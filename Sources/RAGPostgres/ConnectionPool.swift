internal import Foundation
internal import Logging
internal import NIOCore
internal import NIOPosix
internal import PostgresNIO
internal import RAGCore
internal import Synchronization

/// Connections to one database for a store whose calls block: a call takes an idle connection
/// (or opens one), runs its statements on it alone, and gives it back. A transaction holds its
/// connection until it commits; connections that broke are dropped, not given back.
final class ConnectionPool: Sendable {
    let location: PostgresLocation
    /// Idle connections kept for the next call; more are closed when given back.
    let keep = 4
    private let idle = Mutex<[PostgresConnection]>([])
    private let opened = Atomic<Int>(0)
    /// `hnsw.ef_search` as each connection (by id) has it set, so a search sets it only when it changes.
    private let beams = Mutex<[Int: Int]>([:])

    func efSearch(of connection: PostgresConnection) -> Int? { beams.withLock { $0[connection.id] } }
    func setEfSearch(_ ef: Int, of connection: PostgresConnection) { beams.withLock { $0[connection.id] = ef } }
    let logger: Logger = {
        var logger = Logger(label: "rag.postgres")
        logger.logLevel = .warning
        return logger
    }()

    init(location: PostgresLocation) {
        self.location = location
    }

    /// Runs `body` with a connection of its own.
    func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        // A connection the server closed while it waited here (a restart, an administrator, an
        // idle timeout) is dropped, not used.
        let connection = try idle.withLock { idle in
            while let connection = idle.popLast() {
                if !connection.isClosed { return connection }
            }
            return nil
        } ?? open()
        defer { giveBack(connection) }
        return try body(connection)
    }

    private func giveBack(_ connection: PostgresConnection) {
        guard !connection.isClosed else {
            _ = beams.withLock { $0.removeValue(forKey: connection.id) }
            return
        }
        let kept = idle.withLock { idle -> Bool in
            guard idle.count < keep else { return false }
            idle.append(connection)
            return true
        }
        if !kept {
            _ = beams.withLock { $0.removeValue(forKey: connection.id) }
            _ = try? connection.close().wait()
        }
    }

    /// A new connection to the database (or to `database` instead).
    func open(database: String? = nil) throws -> PostgresConnection {
        let id = opened.wrappingAdd(1, ordering: .relaxed).newValue
        do {
            let connection = try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: location.configuration(database: database), id: id, logger: logger
            ).wait()
            connection.closeFuture.whenComplete { _ in PendingStatement.fail(on: connection) }
            return connection
        } catch {
            throw PostgresStore.mapError(error, location: location, doing: "connect")
        }
    }

    func close() {
        let connections = idle.withLock { idle in
            defer { idle.removeAll() }
            return idle
        }
        for connection in connections { _ = try? connection.close().wait() }
    }
}

/// The connection closed before the statement's answer came.
struct ConnectionClosed: Error {}

/// The statement each connection of a pool is waiting on, failed when the connection closes (a
/// statement handed to a connection that is closing is otherwise never answered, and its wait
/// would never end). One callback per connection, registered when it opens: one per statement
/// would pile up on a connection that lives for days.
enum PendingStatement {
    private static let waiting = Mutex<[ObjectIdentifier: EventLoopPromise<PostgresQueryResult>]>([:])

    static func wait(for answer: EventLoopPromise<PostgresQueryResult>, on connection: PostgresConnection) throws -> PostgresQueryResult {
        let key = ObjectIdentifier(connection)
        waiting.withLock { $0[key] = answer }
        defer { _ = waiting.withLock { $0.removeValue(forKey: key) } }
        // Closed before it was registered: the callback has run already.
        if connection.isClosed { answer.fail(ConnectionClosed()) }
        return try answer.futureResult.wait()
    }

    static func fail(on connection: PostgresConnection) {
        waiting.withLock { $0.removeValue(forKey: ObjectIdentifier(connection)) }?.fail(ConnectionClosed())
    }
}

extension PostgresConnection {
    /// Runs one statement and waits for all its rows, or until the connection closes (on a
    /// connection a `ConnectionPool` opened).
    func run(_ query: PostgresQuery, logger: Logger) throws -> PostgresQueryResult {
        let answer = eventLoop.makePromise(of: PostgresQueryResult.self)
        self.query(query, logger: logger).cascade(to: answer)
        return try PendingStatement.wait(for: answer, on: self)
    }
}
