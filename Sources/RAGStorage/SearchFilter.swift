public import RAGCore

/// Which documents a search may return: every condition given must hold. Applied inside the
/// search (lexical in SQL, dense during the HNSW walk), so a narrow filter still gets its `k`.
public struct SearchFilter: Sendable, Equatable, Codable {
    /// A shell glob over the document's path: `*` any run of characters (`/` included), `?` one
    /// character, `[abc]`, `[a-z]` and `[!abc]` classes (SQLite's GLOB).
    public var path: String?
    /// Tags the document must carry, each with exactly these values (a document may carry more).
    public var tags: [String: [String]]
    /// Ingested after this moment (seconds since 1970).
    public var ingestedAfter: Double?

    public init(path: String? = nil, tags: [String: [String]] = [:], ingestedAfter: Double? = nil) {
        self.path = path
        self.tags = tags
        self.ingestedAfter = ingestedAfter
    }

    /// Nothing to filter on.
    public var isEmpty: Bool { path == nil && tags.isEmpty && ingestedAfter == nil }

    /// The filter as one line, the same for equal filters (a cache key's part).
    public var key: String {
        let tags = self.tags.tagPairs.map { "\($0.key.count):\($0.key)=\($0.value.count):\($0.value)" }.joined(separator: ",")
        return "path=\(path.map { "\($0.count):\($0)" } ?? "-");tags=\(tags);after=\(ingestedAfter.map { "\($0)" } ?? "-")"
    }

    /// The filter, or what is wrong with it: a path glob of at most 1,000 characters, a finite time.
    public func validated() throws -> SearchFilter {
        if let path, path.unicodeScalars.count > 1000 { throw RAGError(.invalidInput, "the path filter is longer than 1000 characters") }
        if let ingestedAfter, !ingestedAfter.isFinite { throw RAGError(.invalidInput, "the ingested-after time must be a finite number of seconds") }
        return self
    }

    /// One piece of a glob.
    enum GlobPiece: Equatable {
        case anyRun, anyOne, literal(Character)
        case oneOf(String, negated: Bool)
    }

    /// A glob's pieces: a class runs to the next `]` (a `]` first in it is a member), `!` or `^`
    /// first negates it; an unclosed `[` is itself.
    static func pieces(ofGlob glob: String) -> [GlobPiece] {
        var pieces: [GlobPiece] = []
        var characters = glob[...]
        while let c = characters.popFirst() {
            switch c {
            case "*": pieces.append(.anyRun)
            case "?": pieces.append(.anyOne)
            case "[":
                var rest = characters
                let negated = rest.first == "!" || rest.first == "^"
                if negated { rest = rest.dropFirst() }
                guard let close = rest.dropFirst().firstIndex(of: "]") else {
                    pieces.append(.literal("["))
                    continue
                }
                pieces.append(.oneOf(String(rest[..<close]), negated: negated))
                characters = rest[rest.index(after: close)...]
            default: pieces.append(.literal(c))
            }
        }
        return pieces
    }

    /// The path glob as an anchored regular expression with the meaning SQLite's GLOB gives it
    /// (for a database without GLOB), nil when nothing can match it (a class whose only ranges
    /// run downwards, as `[z-a]`).
    public static func regex(fromGlob glob: String) -> String? {
        var body = "^"
        for piece in pieces(ofGlob: glob) {
            switch piece {
            case .anyRun: body += ".*"
            case .anyOne: body += "."
            case .literal(let c): body += escaped(c)
            case .oneOf(let members, let negated):
                // As SQLite reads a class: `a-z` is a range when a character precedes the `-`
                // and one follows it; a range that runs downwards holds nothing.
                let characters = Array(members)
                var parts: [String] = []
                var i = 0
                while i < characters.count {
                    if i + 2 < characters.count, characters[i + 1] == "-" {
                        let (low, high) = (characters[i], characters[i + 2])
                        if low.unicodeScalars.first!.value <= high.unicodeScalars.first!.value { parts.append(escaped(low) + "-" + escaped(high)) }
                        i += 3
                    } else {
                        parts.append(escaped(characters[i]))
                        i += 1
                    }
                }
                if parts.isEmpty {
                    guard negated else { return nil }
                    body += "."
                } else {
                    body += "[" + (negated ? "^" : "") + parts.joined() + "]"
                }
            }
        }
        return body + "$"
    }

    /// A character as a regular expression (in or out of a class) matches it alone.
    private static func escaped(_ c: Character) -> String {
        c.isLetter || c.isNumber || c == "/" || c == "_" || c == " " || !c.isASCII ? String(c) : "\\" + String(c)
    }

    /// The path glob in SQLite's GLOB dialect (`[^…]` negates; a literal `[` is `[[]`).
    public static func sqliteGlob(fromGlob glob: String) -> String {
        pieces(ofGlob: glob).map { piece -> String in
            switch piece {
            case .anyRun: "*"
            case .anyOne: "?"
            case .literal(let c): "*?[".contains(c) ? "[" + String(c) + "]" : String(c)
            case .oneOf(let members, let negated): "[" + (negated ? "^" : "") + members + "]"
            }
        }.joined()
    }
}
