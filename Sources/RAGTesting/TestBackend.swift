public import Foundation
public import Testing

/// The index backends a test runs on: a SQLite file always, and PostgreSQL with pgvector when
/// `$RAG_TEST_POSTGRES` names a server (`make test` starts one: scripts/with-postgres.sh).
public enum TestBackend: String, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    /// The backends this run has.
    public static var available: [TestBackend] {
        ProcessInfo.processInfo.environment["RAG_TEST_POSTGRES"] == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    public var testDescription: String { rawValue }

    /// Where a new, empty index goes: a file in `folder`, or a database of its own on the test
    /// server (named uniquely; the store creates it).
    public func newIndex(in folder: URL) -> String {
        switch self {
        case .sqlite:
            return folder.appendingPathComponent("index.sqlite").path
        case .postgres:
            let server = ProcessInfo.processInfo.environment["RAG_TEST_POSTGRES"] ?? "postgres://rag@127.0.0.1:5432/postgres"
            let base = server.hasSuffix("/postgres") ? String(server.dropLast("/postgres".count)) : server
            return base + "/rag_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        }
    }
}
