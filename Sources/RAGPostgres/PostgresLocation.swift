internal import Foundation
public import PostgresNIO
public import RAGCore

/// A PostgreSQL database named by a URL — `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` or
/// `postgresql://…` — as `--db` and `$RAG_DB` take it. The password may come from `$PGPASSWORD`
/// instead of the URL; `?sslmode=require` asks for TLS (default: none, for loopback and private
/// networks).
public struct PostgresLocation: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var requiresTLS: Bool

    /// Whether `text` names a PostgreSQL database rather than a SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    public init(host: String = "127.0.0.1", port: Int = 5432, user: String, password: String? = nil, database: String, requiresTLS: Bool = false) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.requiresTLS = requiresTLS
    }

    public init(url text: String, environment: [String: String]? = nil) throws {
        let environment = environment ?? ProcessInfo.processInfo.environment
        guard Self.isURL(text), let url = URLComponents(string: text) else {
            throw RAGError(.invalidInput, "\(Self.redacted(text)): not a PostgreSQL URL; write postgres://USER@HOST:PORT/DATABASE")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard !database.isEmpty, !database.contains("/") else {
            throw RAGError(.invalidInput, "\(Self.redacted(text)): the URL names no database; write postgres://USER@HOST:PORT/DATABASE")
        }
        guard let user = url.user, !user.isEmpty else {
            throw RAGError(.invalidInput, "\(Self.redacted(text)): the URL names no user; write postgres://USER@HOST:PORT/DATABASE")
        }
        var requiresTLS = false
        for item in url.queryItems ?? [] {
            switch (item.name, item.value ?? "") {
            case ("sslmode", "require"), ("sslmode", "verify-full"): requiresTLS = true
            case ("sslmode", "disable"), ("sslmode", "prefer"), ("sslmode", "allow"): requiresTLS = false
            default:
                throw RAGError(.invalidInput, "\(Self.redacted(text)): unknown URL parameter \(item.name)=\(item.value ?? ""); rag takes sslmode=disable or sslmode=require")
            }
        }
        self.init(
            host: url.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1", port: url.port ?? 5432, user: user,
            password: url.password ?? environment["PGPASSWORD"], database: database.removingPercentEncoding ?? database,
            requiresTLS: requiresTLS)
    }

    /// The URL without its password: what messages and logs show.
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    /// `text` with any password in it replaced by `***`.
    static func redacted(_ text: String) -> String {
        guard var url = URLComponents(string: text), url.password != nil else { return text }
        url.password = "***"
        return url.string ?? text
    }

    func configuration(database: String? = nil) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        if requiresTLS {
            do {
                tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            } catch {
                throw RAGError(.io, "\(description): cannot set up TLS (\(error))", underlying: error)
            }
        } else {
            tls = .disable
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database ?? self.database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }
}
