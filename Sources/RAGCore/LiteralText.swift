/// Text from outside (a question, a document) inside a prompt, marked so that the tokenizer
/// reads it as plain text: a control token written in it (`<|im_start|>`, `<|im_end|>` …) stays
/// characters and cannot open or close a turn. The marks are two private-use characters that
/// produce no tokens; the text between them is tokenized exactly as it would be unmarked.
public enum LiteralText {
    public static let open: Unicode.Scalar = "\u{E000}"
    public static let close: Unicode.Scalar = "\u{E001}"
    /// Their UTF-8: EE 80 80 and EE 80 81.
    public static let openBytes: [UInt8] = [0xEE, 0x80, 0x80]
    public static let closeBytes: [UInt8] = [0xEE, 0x80, 0x81]

    /// `text` marked as literal (marks already in it are removed first: it cannot close early).
    public static func mark(_ text: String) -> String {
        String(open) + strip(text) + String(close)
    }

    /// `text` without marks (what a user sees of a prompt).
    public static func strip(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0 == open || $0 == close }) else { return text }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: text.unicodeScalars.lazy.filter { $0 != open && $0 != close })
        return String(scalars)
    }
}
