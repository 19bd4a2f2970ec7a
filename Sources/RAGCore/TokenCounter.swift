/// Counts the tokens a text costs. The chunker packs sentences against it.
///
/// The embedder's WordPiece tokenizer is the exact counter; `ApproximateTokenCounter` stands in
/// where no tokenizer is loaded.
public protocol TokenCounter: Sendable {
    /// Tokens in `text`, without any special tokens the model adds around a sequence.
    func count(_ text: Substring) -> Int
    /// A short name stored with the index, so a change of counter is noticed.
    var name: String { get }
}

extension TokenCounter {
    public func count(_ text: String) -> Int { count(text[...]) }
}

/// A WordPiece-shaped estimate that errs high: every punctuation mark is a token, and a word
/// costs one token per started 4 characters (BERT's vocabulary splits rare words into pieces of
/// about that length; common words are one piece, so the estimate is usually above the truth).
public struct ApproximateTokenCounter: TokenCounter {
    public init() {}
    public var name: String { "approx-v1" }

    public func count(_ text: Substring) -> Int {
        var tokens = 0
        var wordLength = 0
        // ASCII is classified by a table; only other scalars consult Unicode properties (slow).
        for scalar in text.unicodeScalars {
            let kind: UInt8
            if scalar.value < 128 {
                kind = Self.asciiKind[Int(scalar.value)]
            } else {
                let props = scalar.properties
                if props.isWhitespace {
                    kind = 0
                } else if props.isIdeographic {
                    kind = 3
                } else if props.isAlphabetic || props.numericType != nil || props.generalCategory == .nonspacingMark {
                    kind = 1
                } else {
                    kind = 2
                }
            }
            switch kind {
            case 0:  // white space ends a word
                tokens += (wordLength + 3) / 4
                wordLength = 0
            case 1:  // letter or digit
                wordLength += 1
            default:  // punctuation, symbols and CJK ideographs are a token each
                tokens += (wordLength + 3) / 4 + 1
                wordLength = 0
            }
        }
        return tokens + (wordLength + 3) / 4
    }

    /// 0 white space, 1 letter or digit, 2 punctuation or symbol.
    private static let asciiKind: [UInt8] = (0..<128).map { value -> UInt8 in
        switch value {
        case 0x09...0x0D, 0x20: return 0
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return 1
        case 0x00...0x1F, 0x7F: return 0  // other control characters count as nothing
        default: return 2
        }
    }
}
