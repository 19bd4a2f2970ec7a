public import Foundation
public import RAGCore
public import RAGLLM
internal import Mustache
internal import RAGStorage
internal import Synchronization

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
    /// Keep the template's fixed prefix (system text, examples) computed once and reuse it.
    public var prefixCache = true
    /// Generate to `answerTokens` even past the model's end of generation (benchmarks, tests).
    public var ignoreEndOfGeneration = false

    public init() {}
}

public enum AskEvent: Sendable {
    /// Answer text as it is generated.
    case text(String)
    case finished(AskResult)
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
    /// Taken from the answer cache (a near-identical question asked before on this index).
    public var cached = false
}

/// Question → retrieval → prompt → local model → answer with numbered citations.
public final class Answerer: Sendable {
    public static let noAnswer = "I don't know — nothing in the index covers this."

    public let retriever: Retriever
    public let generator: Generator
    public let templates: TemplateLibrary
    /// Each template's fixed prefix, as tokens (see `fixedPrefix`).
    private let prefixes = Mutex<[String: [Int32]]>([:])

    /// Answers of earlier questions, found by similarity (nil: every question is answered anew).
    public let cache: AnswerCache?

    public init(retriever: Retriever, generator: Generator, templates: TemplateLibrary, cache: AnswerCache? = nil) {
        self.retriever = retriever
        self.generator = generator
        self.templates = templates
        self.cache = cache
    }

    /// The tokens every prompt of `template` starts with, whatever the question and sources:
    /// the common prefix of two renderings with different questions and sources.
    public func fixedPrefix(_ template: String) throws -> [Int32] {
        if let known = prefixes.withLock({ $0[template] }) { return known }
        let chat = generator.chatTemplate, tokenizer = generator.model.tokenizer
        let renderings = try [("a", "alpha"), ("b", "beta")].map { name, text in
            let (system, user) = try templates.render(template, question: text, sources: [Source(n: 1, document: name, heading: "", chunkIDs: [], text: text)])
            return tokenizer.encode(chat.render([ChatMessage(.system, system), ChatMessage(.user, user)]))
        }
        let common = Array(zip(renderings[0], renderings[1]).prefix { $0 == $1 }.map(\.0))
        prefixes.withLock { $0[template] = common }
        return common
    }

    /// Retrieves, merges and numbers the sources and renders the prompt (no generation).
    public func prepare(
        _ question: String, options: AskOptions, vector: [Float]? = nil
    ) throws -> (prompt: String, sources: [Source], abstain: Bool, retrieveMilliseconds: Double) {
        let question = question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty else { throw RAGError(.invalidInput, "the question is empty") }
        let start = DispatchTime.now().uptimeNanoseconds
        let found = try retriever.retrieve(question, mode: options.mode, topK: options.topK, vector: vector)
        let retrieveMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        let abstain = found.hits.isEmpty || (found.bestSimilarity.map { $0 < options.abstainBelow } ?? false)
        let merged = Self.merge(found.hits)
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

    /// The answer cache's verdict on a question: a kept answer, or where to keep the new one.
    public struct CacheLookup: Sendable {
        public var hit: AskResult?
        var vector: [Float]?
        var key = ""
        var revision: Int64 = 0
    }

    /// Looks the question up in the answer cache (an embedding and one read of the index's
    /// revision); a miss when there is no cache or no embedder.
    public func lookup(_ question: String, options: AskOptions, showReasoning: Bool = false) throws -> CacheLookup {
        guard let cache, options.mode != .bm25 else { return CacheLookup() }
        let start = DispatchTime.now().uptimeNanoseconds
        let question = question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty else { throw RAGError(.invalidInput, "the question is empty") }
        guard let vector = try retriever.embed(question) else { return CacheLookup() }
        let key = "\(generator.model.file.path)|\(options.template)|\(options.topK)|\(options.mode)|\(options.answerTokens)|\(options.abstainBelow)|\(options.sampling)|\(showReasoning)|\(options.ignoreEndOfGeneration)|\(retriever.denseWeight)|\(retriever.bm25Weight)"
        let revision = try retriever.store.revision()
        var hit = cache.lookup(vector, key: key, revision: revision)
        if hit != nil {
            hit!.cached = true
            hit!.retrieveMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }
        return CacheLookup(hit: hit, vector: vector, key: key, revision: revision)
    }

    /// Answers a question, calling `emit` with answer text as it is generated (for templates
    /// that reason first, only what follows "Answer:" is emitted unless `showReasoning`). With
    /// an answer cache, a near-identical question asked before with the same options on the same
    /// revision of the index gets the kept answer (`cached`); pass `lookup` when done already.
    public func ask(
        _ question: String, options: AskOptions, showReasoning: Bool = false, lookup: CacheLookup? = nil,
        emit: @escaping (String) -> Void = { _ in }, cancelled: @escaping () -> Bool = { false }
    ) throws -> AskResult {
        let lookup = try lookup ?? self.lookup(question, options: options, showReasoning: showReasoning)
        if let hit = lookup.hit {
            emit(hit.answer)
            return hit
        }
        let result = try answer(question, options: options, vector: lookup.vector, showReasoning: showReasoning, emit: emit, cancelled: cancelled)
        // A lookup that only carries the question's vector (made without the cache) files nothing.
        if let cache, let vector = lookup.vector, !lookup.key.isEmpty, result.generation?.stopReason != .cancelled {
            cache.insert(vector, key: lookup.key, revision: lookup.revision, result: result)
        }
        return result
    }

    /// `ask` as a stream of events on a thread of its own; dropping the stream (or cancelling
    /// the consuming task) stops the generation at the next token.
    public func stream(
        _ question: String, options: AskOptions, showReasoning: Bool = false, lookup: CacheLookup? = nil
    ) -> AsyncThrowingStream<AskEvent, any Error> {
        ThreadStream.make { yield, cancelled in
            let result = try self.ask(
                question, options: options, showReasoning: showReasoning, lookup: lookup, emit: { yield(.text($0)) }, cancelled: cancelled)
            yield(.finished(result))
        }
    }

    private func answer(
        _ question: String, options: AskOptions, vector: [Float]?, showReasoning: Bool, emit: @escaping (String) -> Void,
        cancelled: @escaping () -> Bool
    ) throws -> AskResult {
        let prepared = try prepare(question, options: options, vector: vector)
        if prepared.abstain {
            emit(Self.noAnswer)
            return AskResult(
                answer: Self.noAnswer, fullText: Self.noAnswer, sources: [], prompt: prepared.prompt, abstained: true,
                retrieveMilliseconds: prepared.retrieveMilliseconds, generation: nil)
        }
        let reasons = options.template == "cot"
        var filter = AnswerFilter(passThrough: showReasoning || !reasons)
        let ids = generator.model.tokenizer.encode(prepared.prompt)
        let keep = options.prefixCache ? zip(ids, try fixedPrefix(options.template)).prefix { $0 == $1 }.count : 0
        let result = try generator.generate(
            prompt: ids, options: GenerationOptions(
                maxTokens: options.answerTokens, sampling: options.sampling, keepPrefix: keep, ignoreEndOfGeneration: options.ignoreEndOfGeneration),
            emit: { piece in if let out = filter.feed(piece) { emit(out) } }, cancelled: cancelled)
        if let rest = filter.finish() { emit(rest) }
        let text = result.text.trimmingCharacters(in: .whitespacesAndNewlines)
        let answer = reasons ? AnswerFilter.finalAnswer(text) : text
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
