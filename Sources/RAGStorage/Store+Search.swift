internal import GRDB
internal import RAGIndex
public import RAGCore

extension Store {
    /// BM25 search over chunk text and headings through FTS5; any user text is safe.
    ///
    /// The query's words are each quoted and joined by OR, so FTS5 syntax in user input
    /// (`AND`, `NEAR(`, `"`, `*`, `col:`) is read as words, never as an operator.
    /// Scores are the negated FTS5 bm25 rank: higher is better.
    public func searchBM25(_ query: String, limit: Int) throws -> [SearchHit] {
        try hits(bm25Ranking(query, limit: limit), highlighting: query)
    }

    /// The ids and BM25 scores (negated FTS5 bm25, higher is better) of the `limit` best chunks.
    /// Only ids and scores are sorted: the chunks' text is read for the hits returned alone.
    /// A process that keeps the inverted index in memory (`keepBM25IndexInMemory()`) ranks
    /// there, with the same scores, when it is current.
    public func bm25Ranking(_ query: String, limit: Int) throws -> [(ChunkID, Double)] {
        guard let pattern = Self.ftsPattern(query), limit > 0 else { return [] }
        return try read { db in
            if let index = try currentBM25Index(db), let terms = try Self.bm25Terms(Self.queryWords(query), db) {
                return index.search(terms, limit: limit).map { (ChunkID(rawValue: $0.label), $0.score) }
            }
            let statement = try db.cachedStatement(sql: """
                SELECT rowid, -bm25(chunk_fts) FROM chunk_fts WHERE chunk_fts MATCH ? ORDER BY bm25(chunk_fts) LIMIT ?
                """)
            return try Row.fetchAll(statement, arguments: [pattern, limit]).map { (ChunkID(rawValue: $0[0]), $0[1]) }
        }
    }

    /// Search hits for the given chunks, each snippet the window of its text around the
    /// query's words (matches in `[` `]`), or the text's start when none of them is in it.
    public func hits(_ scored: [(ChunkID, Double)], highlighting query: String) throws -> [SearchHit] {
        let snippet = Snippet(words: Self.queryWords(query))
        return try hits(scored).map { hit in
            var hit = hit
            if let made = snippet.make(hit.text) { hit.snippet = made }
            return hit
        }
    }

    /// Words so common in English that they say nothing about a document (Lucene's English
    /// stop set). A query leaves them out unless it has no other word: in FTS5 they match
    /// nearly every chunk, which made BM25 score the whole index for every question.
    static let stopWords: Set<String> = [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
        "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
    ]

    /// The query's distinct words, lowercased, stop words left out (unless there is no other),
    /// at most 64 (a pasted page as a query stays fast).
    public static func queryWords(_ text: String) -> [String] {
        var words: [String] = []
        var stop: [String] = []
        var seen = Set<String>()
        for word in text.split(whereSeparator: { !($0.isLetter || $0.isNumber) }) {
            let lowered = word.lowercased()
            guard seen.insert(lowered).inserted else { continue }
            if stopWords.contains(lowered) {
                stop.append(lowered)
            } else {
                words.append(lowered)
                if words.count == 64 { break }
            }
        }
        return words.isEmpty ? Array(stop.prefix(64)) : words
    }

    /// An FTS5 query matching any of the query's words, or nil when it has no word at all.
    public static func ftsPattern(_ text: String) -> String? {
        let words = queryWords(text)
        // Words hold only letters and digits: no quote to escape.
        return words.isEmpty ? nil : words.map { "\"" + $0 + "\"" }.joined(separator: " OR ")
    }
}
