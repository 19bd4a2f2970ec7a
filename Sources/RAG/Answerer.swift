public import Foundation
public import RAGCore
public import RAGLLM
internal import Mustache

/// A source as it goes into a prompt and comes back as a citation: one chunk, or neighbouring
/// and overlapping chunks of one document merged.
public struct Source: Sendable, Codable, Equatable {
    public var n: Int
    public var document: String
    public var heading: String
    public var chunkIDs: [Int64]
    public var text: String
}

/// Prompt templates: Mustache files whose text above a line `=== user ===` is the system message
/// and below it the user turn. Values: `question`, `sources` (n, document, heading, text) and,
/// when a file `NAME.examples.json` sits next to `NAME.mustache`, `examples`.
public struct TemplateLibrary: Sendable {
    public let directories: [String]

    /// The project's `templates/` (found next to the executable's package, or `$RAG_TEMPLATES`)
    /// and then the user's folder, which wins on equal names.
    public init(user: String? = nil) {
        var directories: [String] = []
        if let root = ProcessInfo.processInfo.environment["RAG_TEMPLATES"] { directories.append(root) }
        directories.append(Self.builtInDirectory)
        if let user { directories.append(user) }
        self.directories = directories
    }

    public init(directories: [String]) { self.directories = directories }

    /// `templates/` of the source tree this binary was built from.
    static var builtInDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("templates").path
    }

    public var names: [String] {
        var names = Set<String>()
        for d in directories {
            for f in (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? [] where f.hasSuffix(".mustache") {
                names.insert(String(f.dropLast(".mustache".count)))
            }
        }
        return names.sorted()
    }

    func file(_ name: String, _ suffix: String) -> String? {
        for d in directories.reversed() {
            let path = d + "/" + name + suffix
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }

    /// The system message and user turn for a question and its sources.
    public func render(_ name: String, question: String, sources: [Source]) throws -> (system: String, user: String) {
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), let path = file(name, ".mustache") else {
            throw RAGError(.notFound, "no template \"\(name)\"; available: \(names.joined(separator: ", ")) (in \(directories.joined(separator: ", ")))")
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let template: MustacheTemplate
        do {
            template = try MustacheTemplate(string: text)
        } catch {
            throw RAGError(.invalidInput, "\(path): not a valid Mustache template (\(error))")
        }
        var values: [String: Any] = [
            "question": question,
            // An empty heading is left out: Mustache sections treat "" as present.
            "sources": sources.map { s -> [String: Any] in
                var v: [String: Any] = ["n": s.n, "document": s.document, "text": s.text]
                if !s.heading.isEmpty { v["heading"] = s.heading }
                return v
            },
        ]
        if let examplesPath = file(name, ".examples.json") {
            guard let data = FileManager.default.contents(atPath: examplesPath),
                  let examples = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
                throw RAGError(.invalidInput, "\(examplesPath): expected a JSON array of examples ({question, sources, answer})")
            }
            values["examples"] = examples
        }
        let rendered = template.render(values)
        let parts = rendered.components(separatedBy: "=== user ===")
        guard parts.count == 2 else {
            throw RAGError(.invalidInput, "\(path): needs one line \"=== user ===\" between the system message and the user turn")
        }
        return (parts[0].trimmingCharacters(in: .whitespacesAndNewlines), parts[1].trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

public struct AskOptions: Sendable {
    public var topK = 5
    public var template = "default"
    public var mode: SearchMode = .hybrid
    /// Tokens kept for the answer; the sources get the context minus this and the template.
    public var answerTokens = 256
    /// Below this cosine similarity between the question and its nearest chunk, nothing in the
    /// index is taken to cover the question and the model is not called.
    public var abstainBelow = 0.3
    public var sampling = SamplingOptions()

    public init() {}
}

public struct AskResult: Sendable {
    public var answer: String
    /// The model's whole text (with the reasoning, for chain-of-thought templates).
    public var fullText: String
    public var sources: [Source]
    public var prompt: String
    public var abstained: Bool
    public var retrieveMilliseconds: Double
    public var generation: GenerationResult?
}

/// Question → retrieval → prompt → local model → answer with numbered citations.
public final class Answerer: Sendable {
    public static let noAnswer = "I don't know — nothing in the index covers this."

    public let retriever: Retriever
    public let generator: Generator
    public let templates: TemplateLibrary

    public init(retriever: Retriever, generator: Generator, templates: TemplateLibrary) {
        self.retriever = retriever
        self.generator = generator
        self.templates = templates
    }

    /// Retrieves, merges and numbers the sources and renders the prompt (no generation).
    public func prepare(_ question: String, options: AskOptions) throws -> (prompt: String, sources: [Source], abstain: Bool, retrieveMilliseconds: Double) {
        let question = question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty else { throw RAGError(.invalidInput, "the question is empty") }
        let start = DispatchTime.now().uptimeNanoseconds
        let hits = try retriever.search(question, mode: options.mode, topK: options.topK)
        let best = options.mode == .bm25 ? nil : try retriever.bestSimilarity(question)
        let retrieveMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        let abstain = hits.isEmpty || (best.map { $0 < options.abstainBelow } ?? false)
        let merged = Self.merge(hits)
        // Fit the sources into the context: what is left after the answer and the template.
        let tokenizer = generator.model.tokenizer
        let chat = generator.chatTemplate
        func render(_ sources: [Source]) throws -> String {
            let (system, user) = try templates.render(options.template, question: question, sources: sources)
            return chat.render([ChatMessage(.system, system), ChatMessage(.user, user)])
        }
        let budget = generator.contextLength - options.answerTokens
        var sources: [Source] = []
        for candidate in merged {
            var next = candidate
            next.n = sources.count + 1
            if tokenizer.encode(try render(sources + [next])).count > budget {
                if sources.isEmpty {
                    // Even one source is too long: keep as much of its text as fits.
                    var text = next.text
                    while !text.isEmpty, tokenizer.encode(try render([Source(n: 1, document: next.document, heading: next.heading, chunkIDs: next.chunkIDs, text: text)])).count > budget {
                        text = String(text.prefix(text.count * 3 / 4))
                    }
                    next.text = text
                    if !text.isEmpty { sources.append(next) }
                }
                break
            }
            sources.append(next)
        }
        return (try render(sources), sources, abstain, retrieveMilliseconds)
    }

    /// Answers a question, calling `emit` with answer text as it is generated (for templates
    /// that reason first, only what follows "Answer:" is emitted unless `showReasoning`).
    public func ask(
        _ question: String, options: AskOptions, showReasoning: Bool = false, emit: @escaping (String) -> Void = { _ in },
        cancelled: @escaping () -> Bool = { false }
    ) throws -> AskResult {
        let prepared = try prepare(question, options: options)
        if prepared.abstain {
            emit(Self.noAnswer)
            return AskResult(
                answer: Self.noAnswer, fullText: Self.noAnswer, sources: [], prompt: prepared.prompt, abstained: true,
                retrieveMilliseconds: prepared.retrieveMilliseconds, generation: nil)
        }
        let reasons = options.template == "cot"
        var filter = AnswerFilter(passThrough: showReasoning || !reasons)
        let ids = generator.model.tokenizer.encode(prepared.prompt)
        let result = try generator.generate(
            prompt: ids, options: GenerationOptions(maxTokens: options.answerTokens, sampling: options.sampling),
            emit: { piece in if let out = filter.feed(piece) { emit(out) } }, cancelled: cancelled)
        if let rest = filter.finish() { emit(rest) }
        let text = result.text.trimmingCharacters(in: .whitespacesAndNewlines)
        let answer = reasons && !showReasoning ? AnswerFilter.finalAnswer(text) : text
        return AskResult(
            answer: answer, fullText: text, sources: prepared.sources, prompt: prepared.prompt, abstained: false,
            retrieveMilliseconds: prepared.retrieveMilliseconds, generation: result)
    }

    /// Hits of one document that are neighbours (consecutive chunks) or overlap become one
    /// source, in the rank of their best hit; the sentence shared by overlapping chunks is kept once.
    public static func merge(_ hits: [SearchHit]) -> [Source] {
        var groups: [[SearchHit]] = []
        for hit in hits {
            if let g = groups.firstIndex(where: { group in
                group[0].document == hit.document && group.contains { abs($0.ordinal - hit.ordinal) <= 1 || ($0.start < hit.end && hit.start < $0.end) }
            }) {
                groups[g].append(hit)
            } else {
                groups.append([hit])
            }
        }
        return groups.enumerated().map { i, group in
            let ordered = group.sorted { $0.ordinal < $1.ordinal }
            var text = ordered[0].text
            for next in ordered.dropFirst() { text = joinOverlapping(text, next.text) }
            let headings = ordered.map(\.heading).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            return Source(
                n: i + 1, document: group[0].document, heading: headings.joined(separator: " · "),
                chunkIDs: ordered.map(\.chunkID.rawValue), text: text)
        }
    }

    /// `a` then `b` without the longest suffix of `a` that `b` starts with.
    static func joinOverlapping(_ a: String, _ b: String) -> String {
        let a = Array(a), b = Array(b)
        var k = min(a.count, b.count)
        while k > 0 {
            if a[(a.count - k)...].elementsEqual(b[..<k]) { break }
            k -= 1
        }
        return String(a) + (k > 0 ? "" : " ") + String(b[k...])
    }
}

/// Holds back a chain-of-thought answer's reasoning: passes through only what follows the last
/// "Answer:" seen so far (or everything, when told to).
struct AnswerFilter {
    let passThrough: Bool
    private var buffer = ""
    private var emitted = 0

    init(passThrough: Bool) { self.passThrough = passThrough }

    mutating func feed(_ piece: String) -> String? {
        if passThrough { return piece }
        buffer += piece
        guard let range = buffer.range(of: "Answer:", options: .backwards) else { return nil }
        let after = String(buffer[range.upperBound...])
        // Text after the marker; a marker still arriving ("Ans") is not emitted early.
        let trimmed = String(after.drop { $0 == " " })
        let all = Array(trimmed)
        guard all.count > emitted else { return nil }
        let out = String(all[emitted...])
        emitted = all.count
        return out
    }

    mutating func finish() -> String? {
        guard !passThrough, emitted == 0 else { return nil }
        let answer = Self.finalAnswer(buffer)
        return answer.isEmpty ? nil : answer
    }

    /// The text after the last "Answer:", or the last non-empty line when there is none.
    static func finalAnswer(_ text: String) -> String {
        if let range = text.range(of: "Answer:", options: .backwards) {
            return text[range.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return text.split(separator: "\n").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
    }
}
