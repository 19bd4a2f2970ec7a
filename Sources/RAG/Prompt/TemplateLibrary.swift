public import Foundation
public import RAGCore
internal import Mustache

/// Prompt templates: Mustache files whose text above a line `=== user ===` is the system message
/// and below it the user turn. Values: `question`, `sources` (n, document, heading, text),
/// `turns` (a conversation's earlier turns: user, text) and, when a file `NAME.examples.json`
/// sits next to `NAME.mustache`, `examples`. A name that starts with `_` is a task's template
/// (`_rewrite`: a follow-up question made to stand alone), not an answer's: `names` leaves it out.
public struct TemplateLibrary: Sendable {
    public let directories: [String]

    /// `$RAG_TEMPLATES` when set, the built-in templates, then the user's folder, which wins on
    /// equal names.
    public init(user: String? = nil) {
        var directories: [String] = []
        if let root = ProcessInfo.processInfo.environment["RAG_TEMPLATES"] { directories.append(root) }
        if let builtIn = Self.builtInDirectory { directories.append(builtIn) }
        if let user { directories.append(user) }
        self.directories = directories
    }

    public init(directories: [String]) { self.directories = directories }

    /// The built-in templates: `templates/` of the RAG target's resource bundle, which the build
    /// puts beside the executable (`rag_RAG.resources`; an installed rag keeps it there). Found
    /// from the executable's own folder, so rag finds them from any working directory; nil when
    /// the bundle is missing (then only `$RAG_TEMPLATES` and the user's folder are searched, and
    /// an unknown template's error lists the folders).
    public static let builtInDirectory: String? = {
        var folders: [URL] = []
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() { folders.append(executable.deletingLastPathComponent()) }
        folders.append(Bundle.main.bundleURL)
        for folder in folders {
            let templates = folder.appendingPathComponent("rag_RAG.resources/templates").path
            if FileManager.default.fileExists(atPath: templates + "/default.mustache") { return templates }
        }
        return nil
    }()

    public var names: [String] {
        var names = Set<String>()
        for d in directories {
            for f in (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? [] where f.hasSuffix(".mustache") && !f.hasPrefix("_") {
                names.insert(String(f.dropLast(".mustache".count)))
            }
        }
        return names.sorted()
    }

    /// Throws unless `name` is a template here that renders (valid Mustache, the user-turn line,
    /// readable examples): what every command and route checks before any work.
    public func check(_ name: String) throws {
        guard names.contains(name) else {
            throw RAGError(.invalidInput, "no template \"\(name)\"; the templates are \(names.joined(separator: ", "))")
        }
        _ = try render(name, question: "?", sources: [])
    }

    func file(_ name: String, _ suffix: String) -> String? {
        for d in directories.reversed() {
            let path = d + "/" + name + suffix
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }

    /// The system message and user turn for a question, its sources and the conversation before it.
    public func render(_ name: String, question: String, sources: [Passage], turns: [ChatMessage] = []) throws -> (system: String, user: String) {
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), let path = file(name, ".mustache") else {
            throw RAGError(.notFound, "no template \"\(name)\"; available: \(names.joined(separator: ", ")) (in \(directories.joined(separator: ", ")))")
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        // The template is cut at its user-turn line before anything is put in it, so no
        // question or document can move the cut.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let cuts = lines.indices.filter { lines[$0].trimmingCharacters(in: .whitespaces) == Self.userTurnLine }
        guard cuts.count == 1, let cut = cuts.first else {
            throw RAGError(.invalidInput, "\(path): needs one line \"\(Self.userTurnLine)\" between the system message and the user turn (found \(cuts.count))")
        }
        let halves: [MustacheTemplate]
        do {
            halves = try [lines[..<cut], lines[(cut + 1)...]].map { try MustacheTemplate(string: $0.joined(separator: "\n")) }
        } catch {
            throw RAGError(.invalidInput, "\(path): not a valid Mustache template on both sides of \"\(Self.userTurnLine)\" (\(error))")
        }
        // What comes from outside — the question, the documents — is marked literal: a chat
        // control token written in it stays text (`LiteralText`).
        var values: [String: Any] = [
            "question": LiteralText.mark(question),
            // An empty heading is left out: Mustache sections treat "" as present.
            "sources": sources.map { s -> [String: Any] in
                var v: [String: Any] = ["n": s.n, "document": LiteralText.mark(s.document), "text": LiteralText.mark(s.text)]
                if !s.heading.isEmpty { v["heading"] = LiteralText.mark(s.heading) }
                return v
            },
        ]
        if !turns.isEmpty {
            values["turns"] = turns.map { ["user": $0.role == .user, "text": LiteralText.mark($0.content)] as [String: Any] }
        }
        if let examplesPath = file(name, ".examples.json") {
            guard let data = FileManager.default.contents(atPath: examplesPath),
                  let examples = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
                throw RAGError(.invalidInput, "\(examplesPath): expected a JSON array of examples ({question, sources, answer})")
            }
            values["examples"] = examples
        }
        let rendered = halves.map { $0.render(values).trimmingCharacters(in: .whitespacesAndNewlines) }
        return (rendered[0], rendered[1])
    }

    /// The line between a template's system message and its user turn.
    static let userTurnLine = "=== user ==="
}
