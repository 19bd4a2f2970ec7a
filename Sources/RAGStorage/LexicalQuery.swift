/// A user's text as lexical search reads it: its distinct words, with English stop words left
/// out. Both stores match these words (FTS5 as an OR of quoted words, PostgreSQL as their
/// terms' postings), so no syntax in user input is ever an operator.
public enum LexicalQuery {
    /// Words so common in English that they say nothing about a document (Lucene's English
    /// stop set). A query leaves them out unless it has no other word: in FTS5 they match
    /// nearly every chunk, which made BM25 score the whole index for every question.
    public static let stopWords: Set<String> = [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
        "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
    ]

    /// The query's distinct words, lowercased, stop words left out (unless there is no other),
    /// at most 64 (a pasted page as a query stays fast).
    public static func words(_ text: String) -> [String] {
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
}
