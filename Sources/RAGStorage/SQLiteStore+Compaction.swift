internal import Foundation
internal import GRDB
internal import RAGCore

/// Compaction after heavy deletion. Rows deleted from the middle of a table leave half-empty
/// pages that new rows (with higher ids) never fill, FTS5 keeps deletion markers until segments
/// merge, and a vector graph repaired around many removed nodes searches a little worse than one
/// built fresh. So when the chunks deleted (or replaced) since the last compaction reach a
/// quarter of those that remain, the writer that crossed the line compacts: the graph is rebuilt
/// from the stored vectors, the full-text index merged, and the file vacuumed. The work is
/// proportional to the index, and comes after deletions of at least a quarter of it.
extension SQLiteStore {
    /// Chunks deleted or replaced since the last compaction, and the chunks there are.
    public func churn() throws -> (deleted: Int, chunks: Int) {
        try read { db in
            // AUTOINCREMENT ids are never reused: the ids handed out minus the rows left is what went.
            let issued = try Int.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'chunk'") ?? 0
            let chunks = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chunk") ?? 0
            let mark = try Int.fetchOne(db, sql: "SELECT churn_mark FROM index_state WHERE id = 1") ?? 0
            return (max(0, issued - chunks - mark), chunks)
        }
    }

    /// Compacts when the chunks deleted since the last compaction are at least a quarter of
    /// those that remain; returns whether it did.
    @discardableResult
    public func compactIfChurned() throws -> Bool {
        let churn = try churn()
        guard churn.deleted > 0, churn.deleted * 4 >= churn.chunks else { return false }
        try compact()
        return true
    }

    /// Rebuilds the vector graph, merges the full-text index's segments, vacuums the file; then
    /// marks the deletions so far as compacted (not before: a compaction that fails — another
    /// process reading, a full disk — is tried again by the next deletion).
    public func compact() throws {
        if try graphInfo() != nil { _ = try rebuildGraph() }
        try write { db in try db.execute(sql: "INSERT INTO chunk_fts (chunk_fts) VALUES ('optimize')") }
        do {
            try writer.vacuum()
        } catch {
            throw Self.mapError(error, path: path, doing: "vacuum")
        }
        try write { db in
            try db.execute(sql: """
                UPDATE index_state SET churn_mark =
                    (SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'chunk'), 0) - (SELECT COUNT(*) FROM chunk))
                WHERE id = 1
                """)
        }
    }
}
