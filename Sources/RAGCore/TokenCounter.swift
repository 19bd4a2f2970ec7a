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
        for scalar in text.unicodeScalars {
            let props = scalar.properties
            if props.isWhitespace {
                tokens += (wordLength + 3) / 4
                wordLength = 0
            } else if props.isAlphabetic || props.numericType != nil {
                // CJK ideographs are split one per token by BERT's tokenizer.
                if props.isIdeographic {
                    tokens += (wordLength + 3) / 4 + 1
                    wordLength = 0
                } else {
                    wordLength += 1
                }
            } else {
                tokens += (wordLength + 3) / 4 + 1
                wordLength = 0
            }
        }
        return tokens + (wordLength + 3) / 4
    }
}
