public import RAGCore

/// Packs whole sentences into chunks of at most `tokenBudget` tokens, with about one sentence of
/// overlap between neighbours. Chunks never cross a change of heading. Deterministic.
///
/// A sentence longer than the budget is cut at word boundaries (a "word" longer than the budget —
/// a base64 blob, say — at character boundaries), so no chunk ever exceeds the budget.
///
/// Text costs at least one token per `maxBytesPerToken` bytes, whatever the counter says:
/// WordPiece counts any word over 100 characters as one [UNK], so a megabyte-long run of
/// letters would otherwise be a "1-token" chunk that every prompt retrieving it must carry.
public struct Chunker: Sendable {
    public struct Configuration: Sendable, Equatable, Codable {
        /// Most tokens in one chunk. 200 leaves headroom under the embedder's 256-token window
        /// for the heading and the special tokens.
        public var tokenBudget: Int = 200
        /// The previous chunk's last sentence opens the next chunk when it costs at most this
        /// fraction of the budget.
        public var overlapFraction: Double = 0.35

        public init(tokenBudget: Int = 200, overlapFraction: Double = 0.35) {
            self.tokenBudget = tokenBudget
            self.overlapFraction = overlapFraction
        }
    }

    public var configuration: Configuration
    public var counter: any TokenCounter

    public init(configuration: Configuration = .init(), counter: any TokenCounter = ApproximateTokenCounter()) {
        precondition(configuration.tokenBudget >= 8, "Programmer error: a token budget below 8 cannot hold a word")
        self.configuration = configuration
        self.counter = counter
    }

    /// The floor of `cost`: 16 bytes a token is four times English's usual and leaves the
    /// counter's word in charge of any real text.
    public static let maxBytesPerToken = 16

    /// Tokens the budget charges for `text`: the counter's, or one per `maxBytesPerToken` bytes
    /// if that is more. (Additive over words like the counter, up to the rounding, which only
    /// over-charges.)
    func cost(_ text: Substring) -> Int {
        max(counter.count(text), (text.utf8.count + Self.maxBytesPerToken - 1) / Self.maxBytesPerToken)
    }

    /// A sentence (or a piece of an over-long one) with its place in the document.
    struct Piece {
        var text: Substring
        var start: Int
        var end: Int
        var tokens: Int
    }

    /// Chunks `sections`, handing each chunk to `emit` as soon as it is complete, so a large
    /// document never holds all its chunks in memory.
    ///
    /// Offsets count UTF-8 bytes in the document's extracted text: the sections' texts joined by
    /// a blank line ("\n\n").
    public func chunk(_ sections: [Section], emit: (ChunkDraft) throws -> Void) throws {
        var ordinal = 0
        var sectionOffset = 0
        var current: [Piece] = []
        var currentHeading = ""
        var lastEmittedEnd = -1

        func flush(keepOverlap: Bool) throws {
            guard !current.isEmpty else { return }
            let text = current.map { normalizeSpace($0.text) }.joined(separator: " ")
            try emit(ChunkDraft(
                ordinal: ordinal, text: text, start: current.first!.start, end: current.last!.end,
                tokenCount: counter.count(text), heading: currentHeading))
            ordinal += 1
            lastEmittedEnd = current.last!.end
            let last = current.last!
            current.removeAll(keepingCapacity: true)
            if keepOverlap, current.isEmpty, Double(last.tokens) <= Double(configuration.tokenBudget) * configuration.overlapFraction {
                current.append(last)
            }
        }

        for section in sections {
            let heading = section.headings.joined(separator: " › ")
            if heading != currentHeading {
                try flush(keepOverlap: false)
                current.removeAll()
                currentHeading = heading
            }
            let text = section.text
            let utf8 = text.utf8
            for range in try SentenceSplitter.sentenceRanges(in: text) {
                let lower = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
                let upper = utf8.index(lower, offsetBy: range.count)
                let sentence = Piece(
                    text: text[lower..<upper], start: sectionOffset + range.lowerBound,
                    end: sectionOffset + range.upperBound, tokens: 0)
                for piece in split(sentence) {
                    // Token counts add up over white-space-joined pieces, so the sum is exact.
                    if !current.isEmpty, current.reduce(0, { $0 + $1.tokens }) + piece.tokens > configuration.tokenBudget {
                        let onlyOverlap = current.count == 1 && ordinal > 0 && current[0].start < lastEmittedEnd
                        if onlyOverlap {
                            current.removeAll()  // The overlap sentence and this piece do not fit together.
                        } else {
                            try flush(keepOverlap: true)
                            if let overlap = current.first, overlap.tokens + piece.tokens > configuration.tokenBudget {
                                current.removeAll()
                            }
                        }
                    }
                    current.append(piece)
                }
            }
            sectionOffset += utf8.count + 2
        }
        try flush(keepOverlap: false)
    }

    /// The sentence as one piece, or cut into pieces that fit the budget.
    ///
    /// Token counts add up over white-space-separated words (WordPiece splits on white space
    /// first), so each word is counted once.
    func split(_ sentence: Piece) -> [Piece] {
        var sentence = sentence
        sentence.tokens = cost(sentence.text)
        guard sentence.tokens > configuration.tokenBudget else { return [sentence] }
        let budget = configuration.tokenBudget
        let text = sentence.text
        var pieces: [Piece] = []
        func offset(_ i: Substring.Index) -> Int { sentence.start + text.utf8.distance(from: text.startIndex, to: i) }
        func emit(_ range: Range<Substring.Index>, tokens: Int) {
            pieces.append(Piece(text: text[range], start: offset(range.lowerBound), end: offset(range.upperBound), tokens: tokens))
        }
        var pieceStart: Substring.Index? = nil
        var pieceEnd = text.startIndex
        var pieceTokens = 0
        for word in text.split(whereSeparator: \.isWhitespace) {
            let tokens = cost(word)
            if tokens > budget {
                // One word longer than the budget: flush, then cut it by characters.
                if let start = pieceStart { emit(start..<pieceEnd, tokens: pieceTokens) }
                pieceStart = nil
                pieceTokens = 0
                var cutStart = word.startIndex
                while cutStart < word.endIndex {
                    // Binary search over a window of characters for the longest prefix that fits.
                    var ends: [Substring.Index] = []
                    var i = cutStart
                    while i < word.endIndex, ends.count < budget * 8 {
                        i = word.index(after: i)
                        ends.append(i)
                    }
                    var low = 0, high = ends.count - 1
                    while low < high {
                        let mid = (low + high + 1) / 2
                        if cost(word[cutStart..<ends[mid]]) <= budget { low = mid } else { high = mid - 1 }
                    }
                    emit(cutStart..<ends[low], tokens: cost(word[cutStart..<ends[low]]))
                    cutStart = ends[low]
                }
                continue
            }
            if pieceStart != nil, pieceTokens + tokens > budget {
                emit(pieceStart!..<pieceEnd, tokens: pieceTokens)
                pieceStart = nil
                pieceTokens = 0
            }
            if pieceStart == nil { pieceStart = word.startIndex }
            pieceEnd = word.endIndex
            pieceTokens += tokens
        }
        if let start = pieceStart { emit(start..<pieceEnd, tokens: pieceTokens) }
        return pieces
    }
}

/// `text` with every run of white space folded to one space, sharing storage when nothing changes.
func normalizeSpace(_ text: Substring) -> Substring {
    var needsWork = false
    var previousSpace = false
    for byte in text.utf8 {
        let space = byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D
        if space && (previousSpace || byte != 0x20) { needsWork = true; break }
        previousSpace = space
    }
    guard needsWork else { return text }
    var out: [UInt8] = []
    out.reserveCapacity(text.utf8.count)
    var pendingSpace = false
    for byte in text.utf8 {
        if byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D {
            pendingSpace = !out.isEmpty
        } else {
            if pendingSpace { out.append(0x20) }
            pendingSpace = false
            out.append(byte)
        }
    }
    return Substring(String(decoding: out, as: UTF8.self))
}
