internal import GRDB
internal import RAGIndex
public import RAGCore

extension SQLiteStore {
    /// The ids and BM25 scores (negated FTS5 bm25, higher is better) of the `limit` best chunks.
    /// Only ids and scores are sorted: the chunks' text is read for the hits returned alone.
    /// A process that keeps the inverted index in memory (`keepBM25IndexInMemory()`) ranks
    /// there, with the same scores, when it is current.
    public func bm25Ranking(_ query: String, limit: Int, filter: SearchFilter?) throws -> [(ChunkID, Double)] {
        guard let pattern = Self.ftsPattern(query), limit > 0 else { return [] }
        return try read { db in
            let filter = filter.flatMap { $0.isEmpty ? nil : $0 }
            if let index = try currentBM25Index(db), let terms = try Self.bm25Terms(LexicalQuery.words(query), db) {
                let passing = try filter.map { try Self.passingChunks($0, db) }
                return index.search(terms, limit: limit, among: passing).map { (ChunkID(rawValue: $0.label), $0.score) }
            }
            guard let filter else {
                let statement = try db.cachedStatement(sql: """
                    SELECT rowid, -bm25(chunk_fts) FROM chunk_fts WHERE chunk_fts MATCH ? ORDER BY bm25(chunk_fts) LIMIT ?
                    """)
                return try Row.fetchAll(statement, arguments: [pattern, limit]).map { (ChunkID(rawValue: $0[0]), $0[1]) }
            }
            let (condition, arguments) = Self.filterCondition(filter)
            return try Row.fetchAll(db, sql: """
                SELECT rowid, -bm25(chunk_fts) FROM chunk_fts
                WHERE chunk_fts MATCH ? AND rowid IN (SELECT chunk.id FROM chunk JOIN document ON document.id = chunk.document_id WHERE \(condition))
                ORDER BY bm25(chunk_fts) LIMIT ?
                """, arguments: [pattern] + arguments + [limit]
            ).map { (ChunkID(rawValue: $0[0]), $0[1]) }
        }
    }

    /// The filter as an SQL condition on `document` (and its tags), with its arguments.
    static func filterCondition(_ filter: SearchFilter) -> (String, StatementArguments) {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let path = filter.path {
            conditions.append("document.path GLOB ?")
            arguments += [SearchFilter.sqliteGlob(fromGlob: path)]
        }
        for (key, value) in filter.tags.tagPairs {
            conditions.append("EXISTS (SELECT 1 FROM document_tag WHERE document_tag.document_id = document.id AND key = ? AND value = ?)")
            arguments += [key, value]
        }
        if let after = filter.ingestedAfter {
            conditions.append("document.ingested_at > ?")
            arguments += [after]
        }
        return (conditions.isEmpty ? "1" : conditions.joined(separator: " AND "), arguments)
    }

    /// The ids of the chunks whose documents the filter passes.
    static func passingChunks(_ filter: SearchFilter, _ db: Database) throws -> Set<Int64> {
        let (condition, arguments) = filterCondition(filter)
        return try Set(Int64.fetchAll(
            db, sql: "SELECT chunk.id FROM chunk JOIN document ON document.id = chunk.document_id WHERE \(condition)", arguments: arguments))
    }

    /// An FTS5 query matching any of the query's words, or nil when it has no word at all.
    public static func ftsPattern(_ text: String) -> String? {
        let words = LexicalQuery.words(text)
        // Words hold only letters and digits: no quote to escape.
        return words.isEmpty ? nil : words.map { "\"" + $0 + "\"" }.joined(separator: " OR ")
    }
}
