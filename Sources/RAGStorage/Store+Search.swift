internal import GRDB
public import RAGCore

extension Store {
    /// BM25 search over chunk text and headings through FTS5; any user text is safe.
    ///
    /// The query's words are each quoted and joined by OR, so FTS5 syntax in user input
    /// (`AND`, `NEAR(`, `"`, `*`, `col:`) is read as words, never as an operator.
    /// Scores are the negated FTS5 bm25 rank: higher is better.
    public func searchBM25(_ query: String, limit: Int) throws -> [SearchHit] {
        guard let pattern = Self.ftsPattern(query), limit > 0 else { return [] }
        return try read { db in
            try Row.fetchAll(db, sql: """
                SELECT chunk.id AS id, document.path AS path, chunk.heading AS heading, chunk.text AS text,
                       chunk.ordinal AS ordinal, chunk.start_offset AS start, chunk.end_offset AS end,
                       -bm25(chunk_fts) AS score,
                       snippet(chunk_fts, 0, '[', ']', '…', 24) AS snippet
                FROM chunk_fts
                JOIN chunk ON chunk.id = chunk_fts.rowid
                JOIN document ON document.id = chunk.document_id
                WHERE chunk_fts MATCH ?
                ORDER BY bm25(chunk_fts)
                LIMIT ?
                """, arguments: [pattern, limit]
            ).map { row in
                SearchHit(
                    chunkID: ChunkID(rawValue: row["id"]), document: row["path"], heading: row["heading"],
                    score: row["score"], text: row["text"], snippet: row["snippet"],
                    ordinal: row["ordinal"], start: row["start"], end: row["end"])
            }
        }
    }

    /// An FTS5 query matching any word of `text`, or nil when it has no word at all.
    /// At most 64 distinct words are used (a pasted page as a query stays fast).
    public static func ftsPattern(_ text: String) -> String? {
        var words: [String] = []
        var seen = Set<String>()
        for word in text.split(whereSeparator: { !($0.isLetter || $0.isNumber) }) {
            let lowered = word.lowercased()
            guard seen.insert(lowered).inserted else { continue }
            words.append("\"" + lowered + "\"")  // Words hold only letters and digits: no quote to escape.
            if words.count == 64 { break }
        }
        return words.isEmpty ? nil : words.joined(separator: " OR ")
    }
}
