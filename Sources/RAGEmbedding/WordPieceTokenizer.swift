internal import Foundation
public import RAGCore

/// BERT's uncased WordPiece tokenizer, as all-MiniLM-L6-v2 was trained with: clean text, split
/// CJK ideographs, strip accents (NFD, drop combining marks), lowercase, split on white space and
/// punctuation, then greedy longest-match pieces with `##` continuations.
///
/// Related: HuggingFace tokenizers `BertNormalizer`, `BertPreTokenizer`, `WordPiece`.
public struct WordPieceTokenizer: Sendable, TokenCounter {
    public static let unknown: Int32 = 100
    public static let classification: Int32 = 101
    public static let separator: Int32 = 102
    public static let padding: Int32 = 0
    /// Words longer than this many characters become [UNK].
    public static let maxWordCharacters = 100

    private let vocabulary: [String: Int32]
    public let unknownID: Int32
    public var name: String { "wordpiece-\(vocabulary.count)" }

    public init(vocabularyFile path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw RAGError(.notFound, "\(path): cannot read the WordPiece vocabulary (\(error.localizedDescription)); run `make models`", underlying: error)
        }
        var vocabulary: [String: Int32] = [:]
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }  // the file's final newline
        for (id, line) in lines.enumerated() {
            let token = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
            if vocabulary[token] == nil { vocabulary[token] = Int32(id) }
        }
        guard let unk = vocabulary["[UNK]"], vocabulary["[CLS]"] == Self.classification, vocabulary["[SEP]"] == Self.separator else {
            throw RAGError(.corruptFile, "\(path): not a BERT uncased vocabulary ([UNK]/[CLS]/[SEP] missing or at unexpected ids); run `make models`")
        }
        self.vocabulary = vocabulary
        self.unknownID = unk
    }

    /// Word-piece ids of `text`, without [CLS]/[SEP].
    public func pieces(_ text: Substring) -> [Int32] {
        var ids: [Int32] = []
        for word in Self.words(text) { appendPieces(of: word, to: &ids) }
        return ids
    }

    /// `[CLS] pieces [SEP]`, cut to at most `maxTokens` ids; `truncated` says whether it was cut.
    public func encode(_ text: Substring, maxTokens: Int = 256) -> (ids: [Int32], truncated: Bool) {
        var body = pieces(text)
        let truncated = body.count > maxTokens - 2
        if truncated { body.removeSubrange((maxTokens - 2)...) }
        return ([Self.classification] + body + [Self.separator], truncated)
    }

    public func encode(_ text: String, maxTokens: Int = 256) -> (ids: [Int32], truncated: Bool) {
        encode(text[...], maxTokens: maxTokens)
    }

    /// `TokenCounter`: word pieces, without the two special tokens.
    public func count(_ text: Substring) -> Int { pieces(text).count }

    private func appendPieces(of word: [Unicode.Scalar], to ids: inout [Int32]) {
        if word.count > Self.maxWordCharacters {
            ids.append(unknownID)
            return
        }
        var start = 0
        var found: [Int32] = []
        while start < word.count {
            var end = word.count
            var match: Int32?
            while end > start {
                var piece = start > 0 ? "##" : ""
                piece.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = vocabulary[piece] {
                    match = id
                    break
                }
                end -= 1
            }
            guard let match else {
                ids.append(unknownID)
                return
            }
            found.append(match)
            start = end
        }
        ids.append(contentsOf: found)
    }

    // MARK: - Normalisation and pre-tokenisation

    /// The words of `text` after BERT's normalisation: each a run of scalars, punctuation alone.
    static func words(_ text: Substring) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        var needsNormalising = false  // the current word has non-ASCII scalars
        func finish() {
            guard !current.isEmpty else { return }
            if needsNormalising {
                // Strip accents: NFD, drop nonspacing marks; then lowercase.
                let decomposed = String(String.UnicodeScalarView(current)).decomposedStringWithCanonicalMapping
                let stripped = String(String.UnicodeScalarView(decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }))
                let lowered = Array(stripped.lowercased().unicodeScalars)
                // Lowercasing can produce new combining marks (e.g. 'İ' → 'i̇'): drop those too.
                let clean = lowered.filter { $0.properties.generalCategory != .nonspacingMark }
                if !clean.isEmpty { words.append(clean) }
            } else {
                words.append(current)
            }
            current.removeAll(keepingCapacity: true)
            needsNormalising = false
        }
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v < 128 {
                switch v {
                case 0x09, 0x0A, 0x0D, 0x20:
                    finish()
                case 0x00..<0x20, 0x7F:
                    continue  // control characters are removed
                case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E:
                    finish()
                    words.append([scalar])
                case 0x41...0x5A:
                    current.append(Unicode.Scalar(v + 32)!)
                default:
                    current.append(scalar)
                }
                continue
            }
            if v == 0xFFFD { continue }
            let category = scalar.properties.generalCategory
            switch category {
            case .spaceSeparator, .lineSeparator, .paragraphSeparator:
                finish()
            case .control, .format, .unassigned, .privateUse, .surrogate:
                continue
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                .initialPunctuation, .finalPunctuation, .otherPunctuation:
                finish()
                words.append([scalar])
            default:
                if isCJK(v) {
                    finish()
                    words.append([scalar])
                } else {
                    current.append(scalar)
                    needsNormalising = true
                }
            }
        }
        finish()
        return words
    }

    static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
