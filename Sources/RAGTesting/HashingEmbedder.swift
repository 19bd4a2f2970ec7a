public import RAGCore

/// A deterministic twin of the sentence encoder for tests: a text's vector is its bag of words,
/// each lower-cased word hashed (64-bit FNV-1a) to one of `dimensions` slots with a sign, then
/// scaled to unit length. Texts that share words are near (the cosine of their word counts), so
/// retrieval, the answer cache and abstention behave as with a real model, with no model file.
public struct HashingEmbedder: Embedder {
    public let dimensions: Int
    public let maxTokens: Int
    public var name: String { "hashing-\(dimensions)" }
    public var tokenCounter: any TokenCounter { ApproximateTokenCounter() }

    public init(dimensions: Int = 384, maxTokens: Int = 256) {
        self.dimensions = dimensions
        self.maxTokens = maxTokens
    }

    /// The lower-cased runs of letters and digits of a text.
    public static func words(_ text: String) -> [Substring] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }
    }

    public func embed(_ texts: [String]) -> [[Float]] { texts.map(vector) }

    public func embedCountingTokens(_ texts: [String]) -> (vectors: [[Float]], tokens: Int) {
        // As the encoder counts: the words read (up to maxTokens) plus [CLS] and [SEP].
        (embed(texts), texts.reduce(0) { $0 + min(Self.words($1).count, maxTokens - 2) + 2 })
    }

    private func vector(_ text: String) -> [Float] {
        var v = [Float](repeating: 0, count: dimensions)
        for word in Self.words(text).prefix(maxTokens - 2) {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in word.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
            v[Int(h % UInt64(dimensions))] += h >> 63 == 0 ? 1 : -1
        }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        // No words: one fixed unit vector, so every vector stays unit length.
        guard norm > 0 else { v[0] = 1; return v }
        return v.map { $0 / norm }
    }
}
