internal import GRDB

/// Text as BM25 counts it: the terms SQLite FTS5's `porter unicode61 remove_diacritics 2`
/// tokenizer makes (the one `chunk_fts` indexes with), for a store that keeps postings of its
/// own (PostgreSQL). Both backends then count the same terms in the same chunks and score them
/// with the same formula (`BM25Index`), so a question ranks the same whichever holds the index.
///
/// FTS5's tokenizers run inside an SQLite connection: this one is in memory and serves no table.
/// Calls are serialised on it; tokenizing is microseconds per chunk.
public final class LexicalAnalyzer: @unchecked Sendable {
    // Both are only touched inside `queue`'s serial access.
    private let queue: DatabaseQueue
    private let tokenizer: any FTS5Tokenizer

    public init() throws {
        queue = try DatabaseQueue()
        tokenizer = try queue.inDatabase { try $0.makeTokenizer(.porter(wrapping: .unicode61(diacritics: .remove))) }
    }

    /// A document's terms with their frequencies, and its length |D|: every token of every field
    /// (a chunk's text and heading, as FTS5 counts its columns).
    public func documentTerms(_ fields: [String]) throws -> (frequencies: [String: Int32], length: Int32) {
        try queue.inDatabase { _ in
            var frequencies: [String: Int32] = [:]
            var length: Int32 = 0
            for field in fields where !field.isEmpty {
                for (token, _) in try tokenizer.tokenize(document: field) {
                    frequencies[token, default: 0] += 1
                    length += 1
                }
            }
            return (frequencies, length)
        }
    }

    /// The terms of a query's words (`LexicalQuery.words`), in order; a word FTS5 splits in two
    /// gives both.
    public func queryTerms(_ query: String) throws -> [String] {
        let words = LexicalQuery.words(query)
        guard !words.isEmpty else { return [] }
        return try queue.inDatabase { _ in
            try words.flatMap { try tokenizer.tokenize(query: $0).map(\.token) }
        }
    }
}
