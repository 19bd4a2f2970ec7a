public import RAGCore

/// Markdown to sections: markup is stripped, headings become the section path, code blocks are
/// kept as text, a YAML front matter `title:` (or else the first heading) names the document and
/// its fields become the document's tags.
public enum MarkdownParser {
    public static func parse(_ source: String) -> (title: String?, sections: [Section], tags: [String: [String]]) {
        let (frontMatter, lines) = FrontMatter.split(TextDecoding.normalizeNewlines(source).split(separator: "\n", omittingEmptySubsequences: false)[...])
        var title = frontMatter?.fields["title"]?.first

        var sections: [Section] = []
        var headings: [(level: Int, text: String)] = []
        var paragraph: [String] = []  // lines of the current block, already stripped
        var body = ""  // text of the current section

        func endBlock() {
            guard !paragraph.isEmpty else { return }
            if !body.isEmpty { body += "\n\n" }
            body += paragraph.joined(separator: " ")
            paragraph.removeAll()
        }
        func endSection() {
            endBlock()
            if !body.isEmpty { sections.append(Section(headings: headings.map(\.text), text: body)) }
            body = ""
        }
        func openHeading(level: Int, text: String) {
            endSection()
            while let last = headings.last, last.level >= level { headings.removeLast() }
            let clean = stripInline(text)
            headings.append((level, clean))
            if title == nil, level == 1 { title = clean }
        }

        var fence: Substring?  // the opening fence while inside a code block
        var previousWasParagraphLine = false
        for line in lines {
            let trimmed = line.trimmingSpaces()
            if let open = fence {
                if trimmed.hasPrefix(open) && trimmed.allSatisfy({ $0 == open.first }) {
                    fence = nil
                    endBlock()
                } else if !trimmed.isEmpty {
                    // Code lines stay lines: each is its own unit for the sentence splitter.
                    endBlock()
                    paragraph.append(String(trimmed))
                    endBlock()
                }
                continue
            }
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                endBlock()
                fence = trimmed.prefix(while: { $0 == trimmed.first })
                previousWasParagraphLine = false
                continue
            }
            if trimmed.isEmpty {
                endBlock()
                previousWasParagraphLine = false
                continue
            }
            // ATX heading: up to 3 spaces of indent, 1–6 '#', a space, text, optional closing #s.
            if line.prefix(while: { $0 == " " }).count <= 3, trimmed.first == "#" {
                let level = trimmed.prefix(while: { $0 == "#" }).count
                let rest = trimmed.dropFirst(level)
                if level <= 6, rest.isEmpty || rest.first == " " {
                    var text = rest.trimmingSpaces()
                    while text.last == "#" { text = text.dropLast() }
                    openHeading(level: level, text: String(text.trimmingSpaces()))
                    previousWasParagraphLine = false
                    continue
                }
            }
            // Setext heading: a paragraph line underlined with === or ---.
            if previousWasParagraphLine, paragraph.count == 1, trimmed.allSatisfy({ $0 == "=" }) || trimmed.allSatisfy({ $0 == "-" }) {
                let text = paragraph.removeLast()
                openHeading(level: trimmed.first == "=" ? 1 : 2, text: text)
                previousWasParagraphLine = false
                continue
            }
            // Thematic break.
            if trimmed.count >= 3, let c = trimmed.first, "-*_".contains(c), trimmed.allSatisfy({ $0 == c || $0 == " " }) {
                endBlock()
                previousWasParagraphLine = false
                continue
            }
            // Table delimiter row `|---|:--:|`.
            if trimmed.contains("-"), trimmed.allSatisfy({ "|-: ".contains($0) }) {
                previousWasParagraphLine = false
                continue
            }
            // Link reference definition `[id]: url`.
            if trimmed.first == "[", let close = trimmed.firstIndex(of: "]"), trimmed[close...].hasPrefix("]:") {
                continue
            }
            var content = trimmed
            while content.first == ">" { content = content.dropFirst().trimmingSpaces() }
            // A list item or table row starts a new line of its own.
            var startsItem = false
            if let marker = listMarkerLength(content) {
                content = content.dropFirst(marker).trimmingSpaces()
                startsItem = true
            }
            if content.first == "|" {
                startsItem = true
            }
            let stripped = stripInline(String(content))
            if startsItem { endBlock() }
            if !stripped.isEmpty { paragraph.append(stripped) }
            if content.first == "|" { endBlock() }
            previousWasParagraphLine = !startsItem
        }
        endSection()
        return (title, sections, frontMatter?.fields ?? [:])
    }

    /// Length of a list marker (`- `, `* `, `+ `, `1. `, `2) `) at the start of `line`, if any.
    static func listMarkerLength(_ line: Substring) -> Int? {
        guard let first = line.first else { return nil }
        if "-*+".contains(first), line.dropFirst().first == " " { return 2 }
        let digits = line.prefix(while: \.isNumber)
        if !digits.isEmpty, digits.count <= 9 {
            let after = line.dropFirst(digits.count)
            if let d = after.first, d == "." || d == ")", after.dropFirst().first == " " { return digits.count + 2 }
        }
        return nil
    }

    /// Inline markup removed: emphasis, code spans, links and images (their text kept), HTML
    /// tags, autolinks (their address kept), table pipes, escapes.
    ///
    /// Linear in the text's length: a search for a closing `]` or `)` that fails is remembered,
    /// so a line of ten thousand `[` is not rescanned to its end for each, and code spans find
    /// their closing run in a list of the runs made once.
    public static func stripInline(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        let n = bytes.count
        // No `]` (`)`) at or after this position.
        var noBracketFrom = Int.max, noParenFrom = Int.max
        // Where each length of backtick run starts, in order, and the next one not yet passed.
        var tickRuns: [Int: [Int]] = [:], nextTickRun: [Int: Int] = [:]
        var r = 0
        while r < n {
            guard bytes[r] == UInt8(ascii: "`") else { r += 1; continue }
            var run = 0
            while r + run < n, bytes[r + run] == UInt8(ascii: "`") { run += 1 }
            tickRuns[run, default: []].append(r)
            r += run
        }
        func first(_ byte: UInt8, from start: Int, unless noneFrom: inout Int) -> Int? {
            guard start < noneFrom else { return nil }
            guard let found = bytes[start...].firstIndex(of: byte) else {
                noneFrom = start
                return nil
            }
            return found
        }
        func isWordByte(_ b: UInt8) -> Bool { b >= 0x80 || (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) }
        while i < n {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "\\") where i + 1 < n && bytes[i + 1] < 0x80 && !isWordByte(bytes[i + 1]) && bytes[i + 1] != 0x20:
                out.append(bytes[i + 1])
                i += 2
            case UInt8(ascii: "`"):
                // Code span: keep its content verbatim.
                var ticks = 0
                while i + ticks < n, bytes[i + ticks] == b { ticks += 1 }
                // The next run of exactly as many backticks closes it.
                let closers = tickRuns[ticks, default: []]
                var k = nextTickRun[ticks, default: 0]
                while k < closers.count, closers[k] <= i { k += 1 }
                nextTickRun[ticks] = k + 1
                if k < closers.count {
                    let j = closers[k]
                    out.append(contentsOf: bytes[(i + ticks)..<j])
                    i = j + ticks
                } else {
                    i += ticks
                }
            case UInt8(ascii: "!") where i + 1 < n && bytes[i + 1] == UInt8(ascii: "["):
                i += 1  // An image: keep its alt text like a link's text.
            case UInt8(ascii: "["):
                // [text](url) or [text][ref] → text
                if let close = first(UInt8(ascii: "]"), from: i + 1, unless: &noBracketFrom) {
                    let inner = bytes[(i + 1)..<close]
                    var next = close + 1
                    if next < n, bytes[next] == UInt8(ascii: "("), let end = first(UInt8(ascii: ")"), from: next, unless: &noParenFrom) {
                        next = end + 1
                    } else if next < n, bytes[next] == UInt8(ascii: "["), let end = first(UInt8(ascii: "]"), from: next, unless: &noBracketFrom) {
                        next = end + 1
                    }
                    out.append(contentsOf: Array(stripInline(String(decoding: inner, as: UTF8.self)).utf8))
                    i = next
                } else {
                    out.append(b)
                    i += 1
                }
            case UInt8(ascii: "<"):
                // <https://…> keeps the address; <tag …> goes.
                if let close = bytes[(i + 1)..<min(n, i + 512)].firstIndex(of: UInt8(ascii: ">")) {
                    let inner = bytes[(i + 1)..<close]
                    let s = String(decoding: inner, as: UTF8.self)
                    if s.hasPrefix("http://") || s.hasPrefix("https://") || s.hasPrefix("mailto:") {
                        out.append(contentsOf: inner)
                        i = close + 1
                    } else if let first = inner.first, first == UInt8(ascii: "/") || first == UInt8(ascii: "!") || (first | 0x20 >= 0x61 && first | 0x20 <= 0x7A) {
                        i = close + 1
                    } else {
                        out.append(b)
                        i += 1
                    }
                } else {
                    out.append(b)
                    i += 1
                }
            case UInt8(ascii: "*"), UInt8(ascii: "_"), UInt8(ascii: "~"):
                // Emphasis delimiters: a run that touches a word on one side only, or `*` runs
                // anywhere; an underscore inside a word (snake_case) stays.
                var run = 0
                while i + run < n, bytes[i + run] == b { run += 1 }
                let before = i > 0 ? bytes[i - 1] : 0x20
                let after = i + run < n ? bytes[i + run] : 0x20
                let intraword = isWordByte(before) && isWordByte(after)
                if (b == UInt8(ascii: "_") && intraword) || (b == UInt8(ascii: "~") && run == 1) || (b == UInt8(ascii: "*") && before == 0x20 && after == 0x20) {
                    out.append(contentsOf: bytes[i..<(i + run)])
                }
                i += run
            case UInt8(ascii: "|"):
                if let last = out.last, last != 0x20 { out.append(0x20) }
                i += 1
            default:
                out.append(b)
                i += 1
            }
        }
        let decoded = HTMLEntities.decode(String(decoding: out, as: UTF8.self)[...])
        return String(decoded.split(whereSeparator: \.isWhitespace).joined(separator: " "))
    }
}
