public import RAGCore

/// HTML to sections: scripts, styles and comments dropped, entities decoded, `<title>` kept as
/// the title, `<h1>`–`<h6>` as the section path, block elements as paragraph breaks.
///
/// A forgiving scanner, not a validating parser: real pages are rarely well-formed.
public enum HTMLParser {
    /// Elements whose content is never text for a reader.
    static let skipped: Set<String> = ["script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas", "math"]
    /// Elements that end a paragraph.
    static let blocks: Set<String> = [
        "p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "section", "article", "header",
        "footer", "nav", "aside", "main", "blockquote", "pre", "hr", "figure", "figcaption", "form", "fieldset",
        "address", "details", "summary", "caption", "thead", "tbody", "tfoot", "body", "html",
    ]

    public static func parse(_ source: String) -> (title: String?, sections: [Section]) {
        let html = Substring(TextDecoding.normalizeNewlines(source))
        var title: String?
        var sections: [Section] = []
        var headings: [(level: Int, text: String)] = []
        var body = ""
        var line = ""  // the paragraph being collected, raw (entities not decoded)
        var headingLevel: Int?  // inside <hN>
        var headingText = ""
        var preDepth = 0

        func endParagraph() {
            let text = HTMLEntities.decode(line[...])
            line = ""
            let clean = preDepth > 0 ? text.trimmingSpaces() : Substring(text.split(whereSeparator: \.isWhitespace).joined(separator: " "))
            guard !clean.isEmpty else { return }
            if !body.isEmpty { body += "\n\n" }
            body += clean
        }
        func endSection() {
            endParagraph()
            if !body.isEmpty { sections.append(Section(headings: headings.map(\.text), text: body)) }
            body = ""
        }

        var index = html.startIndex
        while index < html.endIndex {
            guard let lt = html[index...].firstIndex(of: "<") else {
                if headingLevel != nil { headingText += html[index...] } else { line += html[index...] }
                break
            }
            if headingLevel != nil { headingText += html[index..<lt] } else { line += html[index..<lt] }
            index = lt
            let rest = html[lt...]
            if rest.hasPrefix("<!--") {
                index = rest.range(of: "-->").map(\.upperBound) ?? html.endIndex
                continue
            }
            guard let gt = rest.firstIndex(of: ">") else {
                line += rest  // A stray '<' with no tag after it is text.
                break
            }
            let tag = html[html.index(after: lt)..<gt]
            index = html.index(after: gt)
            let closing = tag.first == "/"
            let name = (closing ? tag.dropFirst() : tag).prefix(while: { $0.isLetter || $0.isNumber }).lowercased()
            if name.isEmpty {
                if !(tag.first == "!" || tag.first == "?" || closing) { line += "<" + tag + ">" }
                continue
            }
            if !closing, name == "title" {
                let end = html[index...].range(of: "</title", options: .caseInsensitive)
                let text = html[index..<(end?.lowerBound ?? html.endIndex)]
                let decoded = HTMLEntities.decode(text).split(whereSeparator: \.isWhitespace).joined(separator: " ")
                if !decoded.isEmpty { title = decoded }
                index = end.flatMap { e in html[e.upperBound...].firstIndex(of: ">").map(html.index(after:)) } ?? html.endIndex
                continue
            }
            if !closing, skipped.contains(name), name != "head" {
                let end = html[index...].range(of: "</" + name, options: .caseInsensitive)
                index = end.flatMap { e in html[e.upperBound...].firstIndex(of: ">").map(html.index(after:)) } ?? html.endIndex
                continue
            }
            if name.count == 2, name.first == "h", let level = Int(name.dropFirst()), (1...6).contains(level) {
                if !closing {
                    endSection()
                    headingLevel = level
                    headingText = ""
                } else if let open = headingLevel {
                    let text = HTMLEntities.decode(headingText[...]).split(whereSeparator: \.isWhitespace).joined(separator: " ")
                    while let last = headings.last, last.level >= open { headings.removeLast() }
                    if !text.isEmpty {
                        headings.append((open, text))
                        if title == nil, open == 1 { title = text }
                    }
                    headingLevel = nil
                }
                continue
            }
            if name == "pre" { preDepth = max(0, preDepth + (closing ? -1 : 1)) }
            // Block elements end a paragraph; table cells are separated by a space; inline
            // elements such as <a> or <em> join their words without a break.
            if name == "td" || name == "th" {
                line += " "
            } else if blocks.contains(name), headingLevel == nil {
                endParagraph()
            }
        }
        endSection()
        return (title, sections)
    }
}

extension Substring {
    func range(of needle: String, options: CaseOptions = []) -> Range<Index>? {
        if options.isEmpty {
            return self.firstRange(of: needle)
        }
        let lowered = needle.lowercased()
        var i = startIndex
        while i < endIndex {
            if let end = self.index(i, offsetBy: needle.count, limitedBy: endIndex), self[i..<end].lowercased() == lowered {
                return i..<end
            }
            guard let next = self[index(after: i)...].firstIndex(where: { $0.lowercased() == String(lowered.first!) }) else { return nil }
            i = next
        }
        return nil
    }

    struct CaseOptions: OptionSet {
        let rawValue: Int
        static let caseInsensitive = CaseOptions(rawValue: 1)
    }
}
