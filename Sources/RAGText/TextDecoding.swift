internal import Foundation
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
        bytes.withContiguousStorageIfAvailable { buffer in
            buffer.baseAddress.map { memchr($0, 0, buffer.count) != nil } ?? false
        } ?? bytes.contains(0)
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
        // Works on UTF-8 bytes: Character iteration is far too slow for large files.
        var text = text
        return text.withUTF8 { unwrap($0) }
    }

    private static func unwrap(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var blankRun = false
        var lineStart = 0
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0B || b == 0x0C }
        func isLower(_ b: UInt8) -> Bool { b >= 0x61 && b <= 0x7A }
        while lineStart <= bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != 0x0A { lineEnd += 1 }
            var lower = lineStart, upper = lineEnd
            while lower < upper, isSpace(bytes[lower]) { lower += 1 }
            while upper > lower, isSpace(bytes[upper - 1]) { upper -= 1 }
            if lower == upper {
                blankRun = true
            } else {
                if !out.isEmpty {
                    if blankRun {
                        out.append(0x0A)
                        out.append(0x0A)
                    } else if out.last == UInt8(ascii: "-"), out.count >= 2, isLower(out[out.count - 2]), isLower(bytes[lower]) {
                        out.removeLast()  // "exam-\nple" → "example"
                    } else {
                        out.append(0x20)
                    }
                }
                out.append(contentsOf: bytes[lower..<upper])
                blankRun = false
            }
            lineStart = lineEnd + 1
        }
        return String(decoding: out, as: UTF8.self)
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
