/// The pre-tokenizer splits of the GPT-2 family: text is cut into words before BPE runs inside each
/// word. Written as scanners equivalent to the regular expressions llama.cpp and Hugging Face use:
///
/// - `gpt2`: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// - `smollm`: every digit on its own first (`\p{N}`), then the `gpt2` expression in the pieces
/// - `qwen2`: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
public enum PreTokenizer: String, Sendable, CaseIterable {
    case gpt2, smollm, qwen2

    /// The name in `tokenizer.ggml.pre`, mapped the way llama.cpp maps it.
    public init?(ggufName: String) {
        switch ggufName {
        case "gpt2", "default", "mpt", "olmo": self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell": self = .smollm
        case "qwen2", "qwen2.5", "qwen-2.5", "deepseek-r1-qwen": self = .qwen2
        default: return nil
        }
    }

    /// The words of `text`, as ranges of its Unicode scalars.
    public func split(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var words: [Range<Int>] = []
        switch self {
        case .gpt2:
            Scanner(text: text, end: text.count).gpt2(from: 0, into: &words)
        case .smollm:
            var start = 0
            for i in text.indices where CharacterClass(text[i]).isNumber {
                if start < i { Scanner(text: text, end: i).gpt2(from: start, into: &words) }
                words.append(i..<i + 1)
                start = i + 1
            }
            if start < text.count { Scanner(text: text, end: text.count).gpt2(from: start, into: &words) }
        case .qwen2:
            Scanner(text: text, end: text.count).llama3(from: 0, digitRun: 1, into: &words)
        }
        return words
    }
}

/// The three classes the expressions test, from the Unicode general category and White_Space.
struct CharacterClass {
    var isLetter = false, isNumber = false, isWhitespace = false

    init(_ scalar: Unicode.Scalar) {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: isLetter = true
        case .decimalNumber, .letterNumber, .otherNumber: isNumber = true
        default: break
        }
        isWhitespace = properties.isWhitespace
    }

    var isOther: Bool { !isLetter && !isNumber && !isWhitespace }
}

/// One pass over `text[..<end]`; nothing past `end` is looked at (look-aheads see the end there).
private struct Scanner {
    let text: [Unicode.Scalar]
    let end: Int

    func cls(_ i: Int) -> CharacterClass? { i < end ? CharacterClass(text[i]) : nil }
    func scalar(_ i: Int) -> Unicode.Scalar? { i < end ? text[i] : nil }

    func isNewline(_ i: Int) -> Bool { scalar(i) == "\r" || scalar(i) == "\n" }

    /// The length of a contraction at `i` ('s 't 're 've 'm 'll 'd), 0 if none.
    func contraction(_ i: Int, ignoringCase: Bool) -> Int {
        guard scalar(i) == "'", let a = scalar(i + 1) else { return 0 }
        func lower(_ s: Unicode.Scalar?) -> Unicode.Scalar? {
            guard let s else { return nil }
            return ignoringCase && s.value >= 65 && s.value <= 90 ? Unicode.Scalar(s.value + 32) : s
        }
        let first = lower(a)
        if first == "s" || first == "t" || first == "m" || first == "d" { return 2 }
        let second = lower(scalar(i + 2))
        if (first == "r" && second == "e") || (first == "v" && second == "e") || (first == "l" && second == "l") { return 3 }
        return 0
    }

    func whitespaceRun(from i: Int) -> Int {
        var n = 0
        while let c = cls(i + n), c.isWhitespace { n += 1 }
        return n
    }

    /// `\s+(?!\S)|\s+` at `i` (there is at least one whitespace there).
    func trailingWhitespace(_ i: Int, run: Int) -> Int {
        run > 1 && i + run < end ? run - 1 : run
    }

    func gpt2(from start: Int, into words: inout [Range<Int>]) {
        var i = start
        while i < end {
            let c = cls(i)!
            let n = contraction(i, ignoringCase: false)
            if n > 0 {
                words.append(i..<i + n); i += n; continue
            }
            let lead = text[i] == " " ? 1 : 0
            if let next = cls(i + lead) {
                var j = i + lead
                if next.isLetter {
                    while let k = cls(j), k.isLetter { j += 1 }
                    words.append(i..<j); i = j; continue
                }
                if next.isNumber {
                    while let k = cls(j), k.isNumber { j += 1 }
                    words.append(i..<j); i = j; continue
                }
                if next.isOther {
                    while let k = cls(j), k.isOther { j += 1 }
                    words.append(i..<j); i = j; continue
                }
            }
            if c.isWhitespace {
                let n = trailingWhitespace(i, run: whitespaceRun(from: i))
                words.append(i..<i + n); i += n; continue
            }
            words.append(i..<i + 1); i += 1
        }
    }

    /// llama-3's expression; `digitRun` is how many digits one word may hold (qwen2: 1).
    func llama3(from start: Int, digitRun: Int, into words: inout [Range<Int>]) {
        var i = start
        while i < end {
            let c = cls(i)!
            let n = contraction(i, ignoringCase: true)
            if n > 0 {
                words.append(i..<i + n); i += n; continue
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            let lead = !isNewline(i) && !c.isLetter && !c.isNumber ? 1 : 0
            if let next = cls(i + lead), next.isLetter, c.isLetter || lead == 1 {
                var j = i + lead
                while let k = cls(j), k.isLetter { j += 1 }
                words.append(i..<j); i = j; continue
            }
            // \p{N}{1,digitRun}
            if c.isNumber {
                var j = i
                while j - i < digitRun, let k = cls(j), k.isNumber { j += 1 }
                words.append(i..<j); i = j; continue
            }
            // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
            let space = text[i] == " " ? 1 : 0
            if let next = cls(i + space), next.isOther {
                var j = i + space
                while let k = cls(j), k.isOther { j += 1 }
                while isNewline(j) { j += 1 }
                words.append(i..<j); i = j; continue
            }
            // \s*[\r\n]+ : the whitespace run up to its last newline
            let run = whitespaceRun(from: i)
            if let lastNewline = (i..<i + run).last(where: { isNewline($0) }) {
                words.append(i..<lastNewline + 1); i = lastNewline + 1; continue
            }
            if run > 0 {
                let n = trailingWhitespace(i, run: run)
                words.append(i..<i + n); i += n; continue
            }
            words.append(i..<i + 1); i += 1
        }
    }
}
