public import RAGCore
internal import Foundation

/// Renders a question and its sources into a prompt that fits the context: the template's
/// system message and user turn in the generator's chat format, with as many sources (in rank
/// order, numbered from 1) as leave `budget` tokens or fewer.
///
/// The budget is counted incrementally: each candidate source is rendered into the prompt, and
/// only the text it adds (between what the prompt had before and after it) is tokenized — each
/// source once, not the whole prompt per candidate. Token counts of pieces need not add up
/// exactly (a merge across a boundary), so the chosen prompt is counted once whole, and sources
/// leave from the end while it is over.
public struct PromptBuilder: Sendable {
    public let templates: TemplateLibrary
    public let generator: any TextGenerator

    public init(templates: TemplateLibrary, generator: any TextGenerator) {
        self.templates = templates
        self.generator = generator
    }

    /// The template's system message and user turn for `sources` as they are (no budget); with
    /// a schema, the user turn ends asking for JSON that matches it (`instruction(for:)`). The
    /// turns of a conversation before the question (`history`) come between the two, as they
    /// were said (see `recent(_:)`).
    public func messages(
        _ template: String, question: String, sources: [Passage], schema: JSONSchema? = nil, history: [ChatMessage] = []
    ) throws -> [ChatMessage] {
        let (system, user) = try templates.render(template, question: question, sources: sources)
        return [ChatMessage(.system, system)] + Self.recent(history)
            + [ChatMessage(.user, user + (schema.map { "\n\n" + Self.instruction(for: $0) } ?? ""))]
    }

    /// The turns an answer's prompt carries: the last four user and assistant turns, each cut
    /// to 600 characters, an answer's citation markers left out (they point to sources of their
    /// own prompt), the text literal. What is left of the context after them goes to the sources.
    public static func recent(_ history: [ChatMessage]) -> [ChatMessage] {
        history.filter { $0.role != .system && !$0.content.allSatisfy(\.isWhitespace) }.suffix(4).map { turn in
            let text = turn.role == .assistant ? turn.content.replacingOccurrences(of: #"\s?\[\d+\]"#, with: "", options: .regularExpression) : turn.content
            return ChatMessage(turn.role, LiteralText.mark(String(text.prefix(600))))
        }
    }

    /// What a structured answer's prompt asks for: the schema as written.
    public static func instruction(for schema: JSONSchema) -> String {
        "Reply with JSON only, matching this JSON schema (where it has a field for citations, give the numbers of the sources used):\n\(LiteralText.mark(schema.source.text))"
    }

    /// The prompt text for `sources` as they are (no budget).
    public func render(
        _ template: String, question: String, sources: [Passage], schema: JSONSchema? = nil, history: [ChatMessage] = []
    ) throws -> String {
        generator.renderChat(try messages(template, question: question, sources: sources, schema: schema, history: history))
    }

    public func build(
        _ template: String, question: String, candidates: [Passage], budget: Int, schema: JSONSchema? = nil, history: [ChatMessage] = []
    ) throws -> (prompt: String, sources: [Passage]) {
        var chosen: [Passage] = []
        var prompt = try render(template, question: question, sources: [], schema: schema, history: history)
        var tokens = generator.tokenize(prompt).count
        for candidate in candidates {
            var next = candidate
            next.n = chosen.count + 1
            let longer = try render(template, question: question, sources: chosen + [next], schema: schema, history: history)
            let added = generator.tokenize(Self.insertion(from: prompt, to: longer)).count
            if tokens + added > budget {
                if chosen.isEmpty, let cut = try truncated(next, template: template, question: question, budget: budget, schema: schema, history: history) {
                    chosen = [cut]
                    prompt = try render(template, question: question, sources: chosen, schema: schema, history: history)
                }
                break
            }
            chosen.append(next)
            prompt = longer
            tokens += added
        }
        while !chosen.isEmpty, generator.tokenize(prompt).count > budget {
            chosen.removeLast()
            prompt = try render(template, question: question, sources: chosen, schema: schema, history: history)
        }
        return (prompt, chosen)
    }

    /// Even one source is too long: as much of its text as fits (cut by quarters), or nil.
    private func truncated(_ source: Passage, template: String, question: String, budget: Int, schema: JSONSchema?, history: [ChatMessage]) throws -> Passage? {
        var cut = source
        while !cut.text.isEmpty, generator.tokenize(try render(template, question: question, sources: [cut], schema: schema, history: history)).count > budget {
            cut.text = String(cut.text.prefix(cut.text.count * 3 / 4))
        }
        return cut.text.isEmpty ? nil : cut
    }

    /// The text `after` holds that `before` lacks: what lies between their common prefix and
    /// their common suffix (bytes; a character split at the edge costs a token at most).
    static func insertion(from before: String, to after: String) -> String {
        let a = Array(before.utf8), b = Array(after.utf8)
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix, a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }
        return String(decoding: b[prefix..<(b.count - suffix)], as: UTF8.self)
    }
}
