internal import GRDB
internal import RAGIndex
public import RAGCore

extension SQLiteStore {
    /// The ids and BM25 scores (negated FTS5 bm25, higher is better) of the `limit` best chunks.
    /// Only ids and scores are sorted: the chunks' text is read for the hits returned alone.
    /// A process that keeps the inverted index in memory (`keepBM25IndexInMemory()`) ranks
    /// there, with the same scores, when it is current.
    public func bm25Ranking(_ query: String, limit: Int) throws -> [(ChunkID, Double)] {
        guard let pattern = Self.ftsPattern(query), limit > 0 else { return [] }
        return try read { db in
            if let index = try currentBM25Index(db), let terms = try Self.bm25Terms(LexicalQuery.words(query), db) {
                return index.search(terms, limit: limit).map { (ChunkID(rawValue: $0.label), $0.score) }
            }
            let statement = try db.cachedStatement(sql: """
                SELECT rowid, -bm25(chunk_fts) FROM chunk_fts WHERE chunk_fts MATCH ? ORDER BY bm25(chunk_fts) LIMIT ?
                """)
            return try Row.fetchAll(statement, arguments: [pattern, limit]).map { (ChunkID(rawValue: $0[0]), $0[1]) }
        }
    }

    /// An FTS5 query matching any of the query's words, or nil when it has no word at all.
    public static func ftsPattern(_ text: String) -> String? {
        let words = LexicalQuery.words(text)
        // Words hold only letters and digits: no quote to escape.
        return words.isEmpty ? nil : words.map { "\"" + $0 + "\"" }.joined(separator: " OR ")
    }
}
