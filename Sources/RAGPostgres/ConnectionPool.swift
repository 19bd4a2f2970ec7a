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
        do {
            let result = try body(connection)
            giveBack(connection)
            return result
        } catch {
            giveBack(connection)
            throw error
        }
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
            return try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: location.configuration(database: database), id: id, logger: logger
            ).wait()
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

extension PostgresConnection {
    /// Runs one statement and waits for all its rows, or until the connection closes: a
    /// statement handed to a connection that is closing is otherwise never answered, and the
    /// wait would never end.
    func run(_ query: PostgresQuery, logger: Logger) throws -> PostgresQueryResult {
        let answer = eventLoop.makePromise(of: PostgresQueryResult.self)
        self.query(query, logger: logger).cascade(to: answer)
        closeFuture.whenComplete { _ in answer.fail(ConnectionClosed()) }  // no effect once answered
        return try answer.futureResult.wait()
    }
}
