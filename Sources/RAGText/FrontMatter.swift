internal import Foundation
internal import RAGCore

/// The YAML front matter at the top of a Markdown file (`---` … `---`), read as flat fields:
/// `key: value`, `key: [a, b]`, a block list (`key:` then `- a` lines) and a folded or literal
/// scalar (`key: >` then indented lines, joined with spaces). Nested maps, anchors and the rest
/// of YAML are skipped, never an error: front matter names and tags a document, nothing more.
public struct FrontMatter: Sendable, Equatable {
    /// Each field's values in order without repeats (a scalar is one value), keys as written.
    public var fields: [String: [String]] = [:]

    /// At most this many fields, values per field and characters per value are kept.
    static let maximumFields = 32, maximumValues = 64, maximumLength = 500
    /// Fields whose plain scalar is a comma-separated list (`tags: rust, async`).
    static let listFields: Set<String> = ["tags", "categories", "keywords", "aliases"]

    public init(fields: [String: [String]] = [:]) {
        self.fields = fields
    }

    /// The front matter opening `lines` and the lines after it, or nil and `lines` as they are
    /// when they do not open with `---` closed by `---` or `...`.
    public static func split(_ lines: ArraySlice<Substring>) -> (FrontMatter?, ArraySlice<Substring>) {
        guard lines.first?.trimmingSpaces() == "---",
              let close = lines.dropFirst().firstIndex(where: { $0.trimmingSpaces() == "---" || $0.trimmingSpaces() == "..." })
        else { return (nil, lines) }
        return (parse(lines[(lines.startIndex + 1)..<close]), lines[(close + 1)...])
    }

    /// The fields of the front matter's lines (without its `---` lines).
    public static func parse(_ lines: ArraySlice<Substring>) -> FrontMatter {
        var matter = FrontMatter()
        var index = lines.startIndex
        while index < lines.endIndex {
            let line = lines[index]
            index += 1
            guard let (key, rest) = field(line) else { continue }
            // The indented lines under the key: a block list, a block scalar, or a nested map.
            var block: [Substring] = []
            while index < lines.endIndex {
                let next = lines[index]
                let indented = next.first == " " || next.first == "\t"
                // A block list may sit at the key's own indentation.
                guard indented || (rest.isEmpty && (next.hasPrefix("- ") || next == "-")) else { break }
                block.append(next.trimmingSpaces())
                index += 1
            }
            var values: [String]
            if rest.isEmpty {
                // Only a list's items count; a nested map's `key: value` lines do not.
                values = block.filter { $0.hasPrefix("- ") }.map { scalar($0.dropFirst(2)) }
            } else if rest == ">" || rest == "|" || rest.hasPrefix(">-") || rest.hasPrefix("|-") || rest.hasPrefix(">+") || rest.hasPrefix("|+") {
                values = [block.filter { !$0.isEmpty }.joined(separator: " ")]
            } else if rest.first == "[" {
                values = flowList(rest)
            } else if rest.first == "{" || rest.first == "&" || rest.first == "*" || rest.first == "!" {
                values = []
            } else if listFields.contains(key.lowercased()), !rest.hasPrefix("\""), !rest.hasPrefix("'") {
                values = withoutComment(rest).split(separator: ",").map { scalar($0) }
            } else {
                values = [scalar(rest)]
            }
            values = values.filter { !$0.isEmpty && $0 != "~" && $0 != "null" && $0.count <= maximumLength }
            guard !values.isEmpty, matter.fields[key] != nil || matter.fields.count < maximumFields else { continue }
            for value in values.prefix(maximumValues) { matter.fields.addTag(key, value) }
        }
        return matter
    }

    /// `key: rest` at the start of a line: a plain key (letters, digits, `_`, `-`, `.`), the
    /// rest trimmed; nil for anything else (an indented line, a comment, a quoted key).
    static func field(_ line: Substring) -> (String, Substring)? {
        guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else { return nil }
        let key = line[..<colon]
        guard key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }), key.first != "-" else { return nil }
        let rest = line[line.index(after: colon)...]
        guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { return nil }
        return (String(key), rest.trimmingSpaces())
    }

    /// `[a, "b, c", 'd']`: the items, quotes respected.
    static func flowList(_ text: Substring) -> [String] {
        var items: [String] = []
        var current = ""
        var quote: Character?
        for c in text.dropFirst() {
            if let open = quote {
                current.append(c)
                if c == open { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
                current.append(c)
            } else if c == "," || c == "]" {
                items.append(scalar(current[...]))
                current = ""
                if c == "]" { break }
            } else {
                current.append(c)
            }
        }
        return items
    }

    /// A scalar's text: quotes taken off (`''` in single quotes is one `'`, `\"` in double
    /// quotes one `"`), or a plain scalar without its trailing `# comment`.
    static func scalar(_ text: Substring) -> String {
        let text = text.trimmingSpaces()
        if text.count >= 2, text.first == "\"", text.last == "\"" {
            return String(text.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
        }
        if text.count >= 2, text.first == "'", text.last == "'" {
            return String(text.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
        }
        return String(withoutComment(text).trimmingSpaces())
    }

    /// A plain scalar up to ` #` (YAML's comment needs the space before it).
    static func withoutComment(_ text: Substring) -> Substring {
        guard let hash = text.firstRange(of: " #") else { return text }
        return text[..<hash.lowerBound]
    }
}
