internal import RAGCore
internal import Synchronization

/// GPT-2 byte-level BPE, read from a GGUF's `tokenizer.ggml.*` metadata: special tokens are cut
/// out of the text first, the rest is split into words by the model's pre-tokenizer, each word's
/// UTF-8 bytes are mapped to GPT-2's printable stand-ins, and merges are applied lowest rank first
/// (leftmost on ties) — llama.cpp's `llm_tokenizer_bpe` order, so ids come out the same.
public final class BPETokenizer: Sendable {
    /// ggml's token types.
    public enum TokenType: Int, Sendable {
        case undefined = 0, normal, unknown, control, userDefined, unused, byte
    }

    public let tokens: [String]
    public let types: [TokenType]
    public let preTokenizer: PreTokenizer
    public let bos: Int32?
    public let eos: Int32?
    /// Tokens that end a generation (EOS, end-of-turn and the fill-in-the-middle terminators).
    public let endOfGeneration: Set<Int32>
    public let addBOS: Bool

    private let ids: [String: Int32]
    private let ranks: [String: Int32]
    /// Tokens recognised in text: by first byte, longest first.
    private let specials: [UInt8: [(bytes: [UInt8], id: Int32, control: Bool)]]
    /// The bytes each token stands for (control tokens: their text).
    private let pieces: [[UInt8]]
    private let cache = Mutex<[String: [Int32]]>([:])

    public var vocabularySize: Int { tokens.count }

    public init(_ file: GGUFFile) throws {
        let path = file.path
        let model = try file.requireString("tokenizer.ggml.model")
        guard model == "gpt2" else {
            throw RAGError(.unsupported, "\(path): tokenizer \"\(model)\"; this rag reads GPT-2 byte-level BPE (tokenizer.ggml.model = gpt2)")
        }
        let preName = file.metadata["tokenizer.ggml.pre"]?.string ?? "default"
        guard let pre = PreTokenizer(ggufName: preName) else {
            throw RAGError(.unsupported, "\(path): pre-tokenizer \"\(preName)\"; supported: gpt2, smollm, qwen2")
        }
        preTokenizer = pre
        guard let tokenValues = try file.require("tokenizer.ggml.tokens").array else {
            throw RAGError(.corruptFile, "\(path): tokenizer.ggml.tokens should be an array of strings")
        }
        tokens = tokenValues.map { $0.string ?? "" }
        let typeValues = file.metadata["tokenizer.ggml.token_type"]?.array ?? []
        types = tokens.indices.map { i in i < typeValues.count ? TokenType(rawValue: typeValues[i].int ?? 1) ?? .normal : .normal }
        guard let mergeValues = try file.require("tokenizer.ggml.merges").array else {
            throw RAGError(.corruptFile, "\(path): tokenizer.ggml.merges should be an array of strings")
        }
        var ranks: [String: Int32] = [:]
        ranks.reserveCapacity(mergeValues.count)
        for (rank, merge) in mergeValues.enumerated() {
            guard let text = merge.string else { continue }
            if ranks[text] == nil { ranks[text] = Int32(rank) }
        }
        self.ranks = ranks
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() { ids[token] = Int32(id) }
        self.ids = ids

        func id(_ key: String) -> Int32? {
            guard let v = file.metadata[key]?.int, v >= 0, v < tokenValues.count else { return nil }
            return Int32(v)
        }
        bos = id("tokenizer.ggml.bos_token_id")
        eos = id("tokenizer.ggml.eos_token_id")
        addBOS = { if case .bool(let b)? = file.metadata["tokenizer.ggml.add_bos_token"] { b } else { false } }()

        var specials: [UInt8: [(bytes: [UInt8], id: Int32, control: Bool)]] = [:]
        var pieces: [[UInt8]] = []
        pieces.reserveCapacity(tokens.count)
        for (i, token) in tokens.enumerated() {
            switch types[i] {
            case .control, .userDefined, .unknown:
                let bytes = Array(token.utf8)
                if let first = bytes.first {
                    specials[first, default: []].append((bytes, Int32(i), types[i] != .userDefined))
                }
                pieces.append(bytes)
            default:
                pieces.append(ByteLevel.decode(token))
            }
        }
        for key in specials.keys { specials[key]!.sort { $0.bytes.count > $1.bytes.count } }
        self.specials = specials
        self.pieces = pieces

        // llama.cpp's end-of-generation set: EOS, EOT, EOM and the tokens whose text ends a turn
        // or a fill-in-the-middle document (matched by text, whatever their type).
        let enders: Set<String> = [
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>",
            "<｜end▁of▁sentence｜>", "<|end_of_text|>", "</s>",
            "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", "<|file_sep|>",
        ]
        var eog: Set<Int32> = []
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
            if let v = id(key) { eog.insert(v) }
        }
        for (i, token) in tokens.enumerated() where enders.contains(token) { eog.insert(Int32(i)) }
        endOfGeneration = eog
    }

    /// Token ids of `text`. `special`: recognise control tokens (`<|im_start|>` …) written in the
    /// text, except inside `LiteralText` marks; user-defined tokens are always recognised. The
    /// marks give no tokens and split nothing: marked text is tokenized as it would be unmarked.
    /// `addBOS` is honoured only when the model asks for it (`tokenizer.ggml.add_bos_token`), as
    /// llama.cpp does.
    public func encode(_ text: String, special: Bool = true, addBOS: Bool = true) -> [Int32] {
        var out: [Int32] = []
        if addBOS, self.addBOS, let bos { out.append(bos) }
        let (bytes, literal) = Self.unmarked(text)
        var start = 0, i = 0
        while i < bytes.count {
            if let candidates = specials[bytes[i]],
               let match = candidates.first(where: {
                   (special && !(literal?[i] ?? false) || !$0.control) && matches($0.bytes, bytes, at: i)
               }) {
                if start < i { encodeOrdinary(bytes[start..<i], into: &out) }
                out.append(match.id)
                i += match.bytes.count
                start = i
            } else {
                i += 1
            }
        }
        if start < bytes.count { encodeOrdinary(bytes[start..<bytes.count], into: &out) }
        return out
    }

    /// The text's bytes without `LiteralText` marks, and (when it had any) which bytes lay
    /// between an open and a close mark.
    static func unmarked(_ text: String) -> (bytes: [UInt8], literal: [Bool]?) {
        let marked = Array(text.utf8)
        guard marked.contains(0xEE) else { return (marked, nil) }
        var bytes: [UInt8] = [], literal: [Bool] = []
        bytes.reserveCapacity(marked.count)
        literal.reserveCapacity(marked.count)
        var inside = false, i = 0
        while i < marked.count {
            if marked[i] == 0xEE, i + 2 < marked.count, marked[i + 1] == 0x80, marked[i + 2] == 0x80 || marked[i + 2] == 0x81 {
                inside = marked[i + 2] == 0x80
                i += 3
                continue
            }
            bytes.append(marked[i])
            literal.append(inside)
            i += 1
        }
        return (bytes, literal)
    }

    private func matches(_ needle: [UInt8], _ haystack: [UInt8], at i: Int) -> Bool {
        guard i + needle.count <= haystack.count else { return false }
        for k in needle.indices where haystack[i + k] != needle[k] { return false }
        return true
    }

    private func encodeOrdinary(_ bytes: ArraySlice<UInt8>, into out: inout [Int32]) {
        let scalars = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
        for word in preTokenizer.split(scalars) {
            var utf8: [UInt8] = []
            for s in scalars[word] { utf8.append(contentsOf: String(s).utf8) }
            let encoded = ByteLevel.encode(utf8)
            if let cached = cache.withLock({ $0[encoded] }) {
                out.append(contentsOf: cached)
                continue
            }
            let merged = bpe(encoded)
            cache.withLock { if $0.count < 50_000, encoded.utf8.count <= 256 { $0[encoded] = merged } }
            out.append(contentsOf: merged)
        }
    }

    /// Merges the symbols of one word, lowest merge rank first, leftmost first on ties. A
    /// rescan per merge is quadratic in the word's length; past a few dozen symbols the pairs
    /// wait in a heap instead (same order, n log n: a megabyte-long "word" takes a second, not
    /// days).
    func bpe(_ word: String, heapAbove: Int = 48) -> [Int32] {
        var symbols = word.unicodeScalars.map { String($0) }
        if symbols.count > heapAbove {
            symbols = mergedByHeap(symbols)
        } else {
            while symbols.count > 1 {
                var best: (rank: Int32, at: Int)? = nil
                for k in 0..<symbols.count - 1 {
                    if let rank = ranks[symbols[k] + " " + symbols[k + 1]], rank < (best?.rank ?? .max) {
                        best = (rank, k)
                    }
                }
                guard let best else { break }
                symbols[best.at] += symbols[best.at + 1]
                symbols.remove(at: best.at + 1)
            }
        }
        var out: [Int32] = []
        for symbol in symbols {
            if let id = ids[symbol] {
                out.append(id)
            } else {
                // Not in the vocabulary: fall back to one token per byte stand-in.
                for scalar in symbol.unicodeScalars { if let id = ids[String(scalar)] { out.append(id) } }
            }
        }
        return out
    }

    /// The merges of `bpe` over a linked list of symbols with a min-heap of candidate pairs
    /// keyed (rank, position); a pair whose symbols changed since it was queued is skipped.
    private func mergedByHeap(_ start: [String]) -> [String] {
        var symbols = start
        var next = Array(1...symbols.count), previous = Array(-1..<(symbols.count - 1))
        var version = [Int](repeating: 0, count: symbols.count)
        var heap = PairHeap()
        func queue(_ left: Int) {
            let right = next[left]
            guard left >= 0, right < symbols.count, let rank = ranks[symbols[left] + " " + symbols[right]] else { return }
            heap.push(.init(rank: rank, left: left, leftVersion: version[left], rightVersion: version[right]))
        }
        for k in 0..<(symbols.count - 1) { queue(k) }
        while let pair = heap.pop() {
            let left = pair.left, right = next[left]
            guard right < symbols.count, version[left] == pair.leftVersion, version[right] == pair.rightVersion else { continue }
            symbols[left] += symbols[right]
            version[left] += 1
            version[right] = -1  // gone
            next[left] = next[right]
            if next[left] < symbols.count { previous[next[left]] = left }
            if previous[left] >= 0 { queue(previous[left]) }
            queue(left)
        }
        var out: [String] = []
        var k = 0
        while k < symbols.count {
            out.append(symbols[k])
            k = next[k]
        }
        return out
    }

    /// The bytes a token stands for. Control tokens give their text only when `special` is set.
    public func piece(_ id: Int32, special: Bool = false) -> [UInt8] {
        guard id >= 0, Int(id) < pieces.count else { return [] }
        if types[Int(id)] == .control && !special { return [] }
        return pieces[Int(id)]
    }

    /// The text of a token sequence (invalid UTF-8 replaced by U+FFFD).
    public func decode(_ ids: [Int32], special: Bool = false) -> String {
        String(decoding: ids.flatMap { piece($0, special: special) }, as: UTF8.self)
    }

    public func isControl(_ id: Int32) -> Bool { id >= 0 && Int(id) < types.count && types[Int(id)] == .control }
}

/// GPT-2's reversible map from bytes to printable characters: printable Latin-1 bytes stand for
/// themselves, the others (controls, space, 0x7F–0xA0, 0xAD) take U+0100 onwards in byte order.
enum ByteLevel {
    static let encoder: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    static let decoder: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, s) in encoder.enumerated() { map[s.value] = UInt8(b) }
        return map
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(encoder[Int(b)]) }
        return String(s)
    }

    /// The bytes behind a token's text; characters outside the map stand for their own UTF-8.
    static func decode(_ token: String) -> [UInt8] {
        var out: [UInt8] = []
        for s in token.unicodeScalars {
            if let b = decoder[s.value] { out.append(b) } else { out.append(contentsOf: String(s).utf8) }
        }
        return out
    }
}
