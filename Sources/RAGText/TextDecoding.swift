/// Decodes file bytes as UTF-8: a byte-order mark is dropped, invalid sequences become U+FFFD
/// and are reported, so a damaged file still ingests.
public enum TextDecoding {
    public static func decodeUTF8<Bytes: Collection>(_ bytes: Bytes) -> (text: String, invalid: Bool)
    where Bytes.Element == UInt8 {
        var slice = bytes[...]
        if slice.starts(with: [0xEF, 0xBB, 0xBF]) { slice = slice.dropFirst(3) }
        if let valid = String(validating: slice, as: UTF8.self) { return (valid, false) }
        return (String(decoding: slice, as: UTF8.self), true)
    }

    /// Whether the bytes look binary (a NUL byte anywhere): such files are skipped.
    public static func looksBinary<Bytes: Collection>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        bytes.contains(0)
    }

    /// `\r\n` and lone `\r` become `\n`.
    static func normalizeNewlines(_ text: String) -> String {
        guard text.utf8.contains(0x0D) else { return text }
        return text.replacing("\r\n", with: "\n").replacing("\r", with: "\n")
    }

    /// Paragraphs of hard-wrapped text: single newlines inside a paragraph become spaces (so the
    /// sentence splitter does not cut at every line end), blank lines separate paragraphs.
    /// A word hyphenated at a line end ("exam-\nple") is joined.
    static func unwrapParagraphs(_ text: String) -> String {
        var out = String()
        out.reserveCapacity(text.utf8.count)
        var blankRun = 0
        var first = true
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingSpaces()
            if trimmed.isEmpty {
                blankRun += 1
                continue
            }
            if !first {
                if blankRun > 0 {
                    out += "\n\n"
                } else if out.hasSuffix("-"), let last = out.dropLast().last, last.isLowercase,
                    let next = trimmed.first, next.isLowercase
                {
                    out.removeLast()
                } else {
                    out += " "
                }
            }
            out += trimmed
            first = false
            blankRun = 0
        }
        return out
    }
}

extension StringProtocol {
    /// The text without leading and trailing white space.
    func trimmingSpaces() -> SubSequence {
        guard let start = firstIndex(where: { !$0.isWhitespace }) else { return self[endIndex...] }
        let end = lastIndex(where: { !$0.isWhitespace })!
        return self[start...end]
    }
}
