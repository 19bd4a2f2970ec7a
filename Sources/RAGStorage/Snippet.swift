/// A window of a chunk's text around a query's words, the matches in `[` `]` and `…` where the
/// window cuts the text: what FTS5's `snippet()` gives, made in memory for the hits returned
/// (FTS5 would run the whole query again to place it, which cost more than the search).
///
/// A word matches a query word when the two are equal ignoring case, or share a prefix of at
/// least four characters that leaves at most two of the shorter word's over ("quantize" ~
/// "quantization", "cells" ~ "cell"): a stand-in for FTS5's Porter stemmer, for highlighting only.
public struct Snippet: Sendable {
    /// The query's words, lowercased, as UTF-8.
    let words: [[UInt8]]
    /// How many words the window holds.
    public var length: Int

    public init(words: [String], length: Int = 24) {
        self.words = words.map { Array($0.lowercased().utf8) }
        self.length = length
    }

    /// The snippet of `text`, or nil when none of the query's words is in it.
    public func make(_ text: String) -> String? {
        guard !words.isEmpty else { return nil }
        let bytes = Array(text.utf8)
        let spans = Self.wordSpans(text)
        // Which query word each matching word matches.
        var matches: [(span: Int, word: Int)] = []
        for (index, span) in spans.enumerated() {
            if let word = words.firstIndex(where: { Self.matches(bytes[span], $0) }) { matches.append((index, word)) }
        }
        guard !matches.isEmpty else { return nil }

        // The window with the most distinct query words (then the most matches), starting two
        // words before one of its matches.
        var best = (start: 0, distinct: -1, count: 0)
        for first in matches.indices {
            let start = max(0, min(matches[first].span - 2, spans.count - length))
            var seen = Set<Int>()
            var count = 0
            for match in matches[first...] where match.span < start + length {
                seen.insert(match.word)
                count += 1
            }
            if (seen.count, count) > (best.distinct, best.count) { best = (start, seen.count, count) }
        }
        let end = min(spans.count, best.start + length)
        let highlighted = Set(matches.map(\.span))
        var out: [UInt8] = best.start > 0 ? Array("…".utf8) : []
        var cursor = spans[best.start].lowerBound
        for index in best.start..<end {
            let span = spans[index]
            out += bytes[cursor..<span.lowerBound]
            if highlighted.contains(index) {
                out.append(UInt8(ascii: "["))
                out += bytes[span]
                out.append(UInt8(ascii: "]"))
            } else {
                out += bytes[span]
            }
            cursor = span.upperBound
        }
        if end < spans.count { out += Array("…".utf8) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The UTF-8 byte ranges of the words (runs of letters and digits) of `text`.
    static func wordSpans(_ text: String) -> [Range<Int>] {
        var spans: [Range<Int>] = []
        var offset = 0
        var start: Int?
        for scalar in text.unicodeScalars {
            // ASCII by value: Unicode's property tables cost more than the rest of a snippet.
            let value = scalar.value
            let isWord = scalar.isASCII
                ? ((value | 0x20) >= 0x61 && (value | 0x20) <= 0x7A) || (value >= 0x30 && value <= 0x39)
                : (scalar.properties.isAlphabetic || scalar.properties.numericType != nil)
            if isWord, start == nil { start = offset }
            if !isWord, let first = start {
                spans.append(first..<offset)
                start = nil
            }
            offset += scalar.utf8.count
        }
        if let first = start { spans.append(first..<offset) }
        return spans
    }

    /// Whether a word of the text (any case) matches a lowercased query word.
    static func matches(_ word: ArraySlice<UInt8>, _ query: [UInt8]) -> Bool {
        var common = 0
        for (a, b) in zip(word, query) {
            let lower = (a >= 65 && a <= 90) ? a + 32 : a
            guard lower == b else { break }
            common += 1
        }
        let shorter = min(word.count, query.count)
        if common == word.count && common == query.count { return true }
        return common >= 4 && common >= shorter - 2
    }
}
