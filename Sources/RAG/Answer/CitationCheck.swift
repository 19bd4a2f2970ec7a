public import Foundation

/// An answer's `[n]` markers checked against its sources after generation, and repaired:
/// a marker that points to no source is removed; a sentence without a marker whose words come
/// from one source (most of its content words are in that source, and more of them than in any
/// other) gets that source's marker before its final punctuation, and so does a short fragment
/// that a source contains word for word or whose key words all stand in one source — post-hoc attribution, so every sentence that uses a
/// source ends with its number. Spans are offsets in Unicode code
/// points (as Python and most JSON readers index a string), end exclusive.
public struct CitationCheck: Sendable {
    public struct Citation: Sendable, Encodable, Equatable {
        /// The source's number.
        public var n: Int
        /// The sentence the marker stands for.
        public var start: Int
        public var end: Int
        /// The marker itself, `[n]` (or the bracket it shares with other numbers).
        public var markerStart: Int
        public var markerEnd: Int
        /// Whether the check added the marker (the model had not cited the sentence).
        public var added: Bool
    }

    /// The answer with its markers repaired.
    public var text: String
    public var citations: [Citation]
    /// Numbers the model wrote that point to no source (removed).
    public var removed: [Int]

    /// The share of a sentence's content words that must be in a source for it to be attributed.
    public static let attributionThreshold = 0.6

    /// Checks and repairs `answer` against sources numbered 1…`sources.count` (their texts).
    public init(_ answer: String, sources: [String]) {
        var removed: [Int] = []
        // 1. Markers that point to no source go; brackets left empty go with their space.
        var text = ""
        var rest = Substring(answer)
        while let range = rest.range(of: #"\s*\[\s*\d+(\s*[,;]\s*\d+)*\s*\]"#, options: .regularExpression) {
            text += rest[..<range.lowerBound]
            let marker = rest[range]
            let numbers = marker.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            let valid = numbers.filter { $0 >= 1 && $0 <= sources.count }
            removed += numbers.filter { $0 < 1 || $0 > sources.count }
            if !valid.isEmpty {
                let lead = marker.prefix { $0.isWhitespace }
                text += lead + "[" + valid.map(String.init).joined(separator: ", ") + "]"
            }
            rest = rest[range.upperBound...]
        }
        text += rest
        // 2. Sentences without a marker that one source supports get its marker.
        let vocabularies = sources.map(Self.contentWords)
        let sourceWords = sources.map(Self.words)
        let phrases = sourceWords.map { " " + $0 + " " }
        let tokens = sourceWords.map { Set($0.split(separator: " ")) }
        var repaired = ""
        for sentence in Self.sentences(text) {
            var piece = sentence
            if !sources.isEmpty, !Self.hasMarker(sentence), !Answerer.declines(sentence),
               let n = Self.attribute(sentence, vocabularies) ?? Self.quotation(sentence, phrases) ?? Self.cover(sentence, tokens) {
                let body = piece.trimmingTrailing { $0.isWhitespace }
                let trailing = String(piece[body.endIndex...])
                let punctuation = body.reversed().prefix { ".!?:;".contains($0) }.count
                piece = String(body.dropLast(punctuation)) + " [\(n)]" + String(body.suffix(punctuation)) + trailing
            }
            repaired += piece
        }
        self.text = repaired
        self.removed = removed
        citations = Self.locate(repaired, original: text)
    }

    /// The answer's sentences, each with the whitespace after it (they join back to the text):
    /// a sentence ends at . ! or ? (with closing quotes or brackets, and markers written after
    /// the period) before whitespace or the end — so not inside "3.5" or "e.g.," mid-sentence.
    static func sentences(_ text: String) -> [String] {
        let ns = text as NSString
        var out: [String] = []
        for match in sentenceEnd.matches(in: text, range: NSRange(location: 0, length: ns.length)) where match.range.length > 0 {
            out.append(ns.substring(with: match.range))
        }
        return out
    }

    private static let sentenceEnd = try! NSRegularExpression(pattern: #"(?s).*?(?:[.!?]+["')]*(?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s|$)|$)\s*"#)

    static func hasMarker(_ sentence: String) -> Bool {
        sentence.range(of: #"\[\d+(\s*,\s*\d+)*\]"#, options: .regularExpression) != nil
    }

    /// Lower-case words of three or more letters or digits that carry content (no stop words).
    /// Plural and -ing/-ed forms are folded ("speeds", "verifying" → "speed", "verify").
    static func contentWords(_ text: String) -> Set<String> {
        Set(text.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).map(String.init).filter {
            $0.count >= 3 && !stopWords.contains($0)
        }.map(stem))
    }

    /// A light suffix fold: a final "s" (not "ss"), then "ing" or "ed" when four letters remain.
    static func stem(_ word: String) -> String {
        var w = Substring(word)
        if w.count > 3, w.hasSuffix("s"), !w.hasSuffix("ss") { w = w.dropLast() }
        for suffix in ["ing", "ed"] where w.hasSuffix(suffix) && w.count - suffix.count >= 4 {
            w = w.dropLast(suffix.count)
            break
        }
        return String(w)
    }

    /// The source most of the sentence's content words come from, if it reaches the threshold.
    static func attribute(_ sentence: String, _ sources: [Set<String>]) -> Int? {
        let words = contentWords(sentence)
        guard words.count >= 3 else { return nil }
        let shares = sources.map { Double(words.intersection($0).count) / Double(words.count) }
        guard let best = shares.indices.max(by: { shares[$0] < shares[$1] }), shares[best] >= attributionThreshold else { return nil }
        return best + 1
    }

    /// For a fragment too short to attribute by its words ("2-bromopalmitic acid", "65 %
    /// similarity"): the first source that contains it word for word, if it has a letter or
    /// two digits (a lone "3" says nothing about where it came from).
    static func quotation(_ fragment: String, _ phrases: [String]) -> Int? {
        let phrase = words(fragment)
        guard contentWords(fragment).count < 3, phrase.contains(where: \.isLetter) || phrase.filter(\.isNumber).count >= 2 else { return nil }
        return phrases.firstIndex { $0.contains(" " + phrase + " ") }.map { $0 + 1 }
    }

    /// For a fragment whose words a source holds, but not in one run ("68% and 66% similarity,
    /// respectively" from "68% and 66% sequence similarity to …, respectively"): the first source
    /// that has every one of its key words — two or more, besides function words, at least one of
    /// them a word of four letters or a number of two digits.
    static func cover(_ fragment: String, _ tokens: [Set<Substring>]) -> Int? {
        let keys = words(fragment).split(separator: " ").filter { word in
            word.contains(where: \.isNumber) || (word.count >= 3 && !stopWords.contains(String(word)))
        }
        guard contentWords(fragment).count < 3, keys.count >= 2,
              keys.contains(where: { $0.count >= 4 || ($0.allSatisfy(\.isNumber) && $0.count >= 2) }) else { return nil }
        return tokens.firstIndex { source in keys.allSatisfy(source.contains) }.map { $0 + 1 }
    }

    /// The text's lower-case words (runs of letters or digits) joined by single spaces.
    static func words(_ text: String) -> String {
        text.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).joined(separator: " ")
    }

    /// Every marker's number, its span and its sentence's span in `text`; `original` tells
    /// which markers the model wrote.
    static func locate(_ text: String, original: String) -> [Citation] {
        var citations: [Citation] = []
        var offset = 0
        var written = Set<String>()
        for sentence in sentences(original) where hasMarker(sentence) { written.insert(normalise(sentence)) }
        for sentence in sentences(text) {
            let scalars = Array(sentence.unicodeScalars)
            let trimmed = scalars.count - (sentence.reversed().prefix { $0.isWhitespace }.reduce(0) { $0 + $1.unicodeScalars.count })
            let added = !written.contains(normalise(sentence))
            let string = String(String.UnicodeScalarView(scalars))
            let ns = string as NSString
            let expression = try! NSRegularExpression(pattern: #"\[\d+(\s*,\s*\d+)*\]"#)
            for match in expression.matches(in: string, range: NSRange(location: 0, length: ns.length)) {
                let marker = ns.substring(with: match.range)
                let before = ns.substring(to: match.range.location).unicodeScalars.count
                let length = marker.unicodeScalars.count
                for n in marker.split(whereSeparator: { !$0.isNumber }).compactMap({ Int($0) }) {
                    citations.append(Citation(
                        n: n, start: offset, end: offset + trimmed, markerStart: offset + before, markerEnd: offset + before + length, added: added))
                }
            }
            offset += scalars.count
        }
        return citations
    }

    private static func normalise(_ sentence: String) -> String { sentence.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// English function words, which say nothing about where a sentence came from.
    static let stopWords: Set<String> = [
        "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was", "one", "our", "out", "has",
        "his", "how", "its", "may", "new", "now", "own", "see", "two", "way", "who", "did", "get", "let", "say", "she", "too",
        "use", "that", "with", "this", "from", "they", "have", "were", "been", "than", "them", "then", "what", "when", "will",
        "into", "also", "each", "more", "most", "only", "such", "some", "very", "which", "their", "there", "these", "those",
        "would", "could", "should", "about", "other", "while", "where", "after", "before", "being", "both", "does", "over",
        "under", "between", "through", "because", "source", "sources", "answer", "question",
    ]
}

extension StringProtocol {
    fileprivate func trimmingTrailing(while predicate: (Character) -> Bool) -> SubSequence {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return self[..<end]
    }
}
