public import Foundation
public import RAGCore
internal import RAGStorage
internal import Synchronization

/// Question → retrieval → prompt → local model → answer with numbered citations.
public final class Answerer: Sendable {
    public static let noAnswer = "I don't know — nothing in the index covers this."
    /// What an answer says when the model, given sources, finds nothing in them (the templates
    /// ask for exactly this) or ends without a word.
    public static let declined = "I don't know."

    /// Whether an answer declines: it is, or starts with, "I don't know" / "I do not know".
    public static func declines(_ answer: String) -> Bool {
        let words = answer.lowercased().replacingOccurrences(of: "’", with: "'")
            .split(whereSeparator: { !($0.isLetter || $0 == "'") }).prefix(4).joined(separator: " ")
        return words.hasPrefix("i don't know") || words.hasPrefix("i do not know")
    }

    public let retriever: Retriever
    public let generator: any TextGenerator
    public let templates: TemplateLibrary
    /// Renders the prompts and fits their sources into the context.
    public let prompts: PromptBuilder
    /// Each template's fixed prefix, as tokens (see `fixedPrefix`).
    private let prefixes = Mutex<[String: [Int32]]>([:])

    /// Answers of earlier questions, found by similarity (nil: every question is answered anew).
    public let cache: AnswerCache?

    public init(retriever: Retriever, generator: any TextGenerator, templates: TemplateLibrary, cache: AnswerCache? = nil) {
        self.retriever = retriever
        self.generator = generator
        self.templates = templates
        prompts = PromptBuilder(templates: templates, generator: generator)
        self.cache = cache
    }

    /// The tokens every prompt of `template` starts with, whatever the question and sources:
    /// the common prefix of two renderings with different questions and sources.
    public func fixedPrefix(_ template: String) throws -> [Int32] {
        if let known = prefixes.withLock({ $0[template] }) { return known }
        let renderings = try [("a", "alpha"), ("b", "beta")].map { name, text in
            generator.tokenize(try prompts.render(template, question: text, sources: [Passage(n: 1, document: name, heading: "", chunkIDs: [], text: text)]))
        }
        let common = Array(zip(renderings[0], renderings[1]).prefix { $0 == $1 }.map(\.0))
        prefixes.withLock { $0[template] = common }
        return common
    }

    /// The tokens of a conversation's prompt that come before its first non-system turn (the
    /// system text, the template's own default one included): the same in every conversation
    /// that starts the same way, so the generator keeps their KV cache for any slot. The common
    /// prefix of two renderings with other text in that turn (the generator keeps the prompt's
    /// own first tokens, so the whole conversation is not tokenized here as well).
    func systemPrefix(of turns: [ChatMessage]) -> Int {
        guard let first = turns.firstIndex(where: { $0.role != .system }) else { return 0 }
        let renderings = ["alpha", "beta"].map { text in
            var probe = Array(turns[...first])
            probe[first].content = text
            return generator.tokenize(generator.renderChat(probe))
        }
        return zip(renderings[0], renderings[1]).prefix { $0 == $1 }.count
    }

    /// Retrieves, merges and numbers the sources and renders the prompt (no generation); a
    /// conversation's earlier turns (`history`) go into the prompt before the question.
    public func prepare(
        _ question: String, options: AskOptions, vector: [Float]? = nil, history: [ChatMessage] = []
    ) throws -> (prompt: String, messages: [ChatMessage], sources: [Passage], abstain: Bool, retrieveMilliseconds: Double) {
        let question = question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty else { throw RAGError(.invalidInput, "the question is empty") }
        let start = DispatchTime.now().uptimeNanoseconds
        var retriever = self.retriever
        retriever.filter = options.filter
        let found = try retriever.retrieve(question, mode: options.mode, topK: options.topK, vector: vector)
        let retrieveMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        // A structured answer is JSON whatever retrieval found: the model says in it what it can.
        let abstain = options.schema == nil && (found.hits.isEmpty || (found.bestSimilarity.map { $0 < options.abstainBelow } ?? false))
        // The sources that fit the context: what is left after the answer and the template.
        let (prompt, sources) = try prompts.build(
            options.template, question: question, candidates: Self.merge(found.hits), budget: generator.contextLength - options.answerTokens,
            schema: options.schema, history: history)
        let messages = try prompts.messages(options.template, question: question, sources: sources, schema: options.schema, history: history)
        return (prompt, messages, sources, abstain, retrieveMilliseconds)
    }

    /// The answer cache's verdict on a question: a kept answer, or where to keep the new one.
    public struct CacheLookup: Sendable {
        public var hit: AskResult?
        var vector: [Float]?
        var key = ""
        var revision: Int64 = 0

        /// No cached answer, and nothing to file one under (a follow-up: the cache is consulted
        /// once it stands alone).
        public static let none = CacheLookup()
    }

    /// Looks the question up in the answer cache (an embedding and one read of the index's
    /// revision); a miss when there is no cache or no embedder.
    public func lookup(_ question: String, options: AskOptions, showReasoning: Bool = false) throws -> CacheLookup {
        guard let cache, options.mode != .bm25 else { return CacheLookup() }
        let start = DispatchTime.now().uptimeNanoseconds
        let question = question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty else { throw RAGError(.invalidInput, "the question is empty") }
        guard let vector = try retriever.embed(question) else { return CacheLookup() }
        let key = "\(generator.modelName)|\(options.template)|\(options.topK)|\(options.mode)|\(options.answerTokens)|\(options.abstainBelow)|\(options.sampling)|\(showReasoning)|\(options.ignoreEndOfGeneration)|\(retriever.denseWeight)|\(retriever.bm25Weight)|\(options.votes)|\(options.voteTemperature)|\(options.filter?.key ?? "")|\(options.schema?.source.text ?? "")"
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
    /// A conversation's earlier turns (`history`) go into the prompt (`PromptBuilder.recent`);
    /// `question` is then the follow-up made to stand alone, which the cache is consulted with.
    public func ask(
        _ question: String, options: AskOptions, showReasoning: Bool = false, lookup: CacheLookup? = nil, history: [ChatMessage] = [],
        emit: @escaping (String) -> Void = { _ in }, cancelled: @escaping () -> Bool = { false }
    ) throws -> AskResult {
        let lookup = try lookup ?? self.lookup(question, options: options, showReasoning: showReasoning)
        if let hit = lookup.hit {
            emit(hit.answer)
            return hit
        }
        let result = try answer(
            question, options: options, vector: lookup.vector, showReasoning: showReasoning, history: history, emit: emit, cancelled: cancelled)
        // A lookup that only carries the question's vector (made without the cache) files nothing.
        if let cache, let vector = lookup.vector, !lookup.key.isEmpty, result.generation?.stopReason != .cancelled {
            cache.insert(vector, key: lookup.key, revision: lookup.revision, result: result)
        }
        return result
    }

    /// `ask` as a stream of events on a thread of its own; dropping the stream (or cancelling
    /// the consuming task) stops the generation at the next token.
    /// With earlier `turns` (a conversation), the question is first made to stand alone
    /// (`standalone`), and the answer cache is consulted with that (`lookup` is then not used).
    public func stream(
        _ question: String, options: AskOptions, showReasoning: Bool = false, lookup: CacheLookup? = nil, after turns: [ChatMessage] = []
    ) -> AsyncThrowingStream<AskEvent, any Error> {
        ThreadStream.make { yield, cancelled in
            let standalone = try self.standalone(question, after: turns, cancelled: cancelled)
            var result = try self.ask(
                standalone, options: options, showReasoning: showReasoning, lookup: standalone == question ? lookup : nil, history: turns,
                emit: { yield(.text($0)) }, cancelled: cancelled)
            if standalone != question { result.standaloneQuestion = standalone }
            yield(.finished(result))
        }
    }

    /// The generator's own reply to a conversation, without retrieval or templates (what a plain
    /// model server does; `rag serve` offers it under the model's name), as a stream of events on
    /// a thread of its own. The turns' text is literal: role markers in it stay text.
    public func converse(_ messages: [ChatMessage], options: AskOptions) -> AsyncThrowingStream<AskEvent, any Error> {
        let generator = self.generator
        return ThreadStream.make { yield, cancelled in
            let turns = messages.map { ChatMessage($0.role, LiteralText.mark($0.content)) }
            let result = try generator.generate(
                chat: turns,
                options: GenerationOptions(
                    maxTokens: options.answerTokens, sampling: options.sampling, keepPrefix: options.prefixCache ? self.systemPrefix(of: turns) : 0,
                    ignoreEndOfGeneration: options.ignoreEndOfGeneration, speculate: options.speculate, schema: options.schema),
                emit: { yield(.text($0)) }, cancelled: cancelled)
            yield(.finished(AskResult(
                answer: result.text, fullText: result.text, sources: [], prompt: LiteralText.strip(generator.renderChat(turns)), abstained: false,
                retrieveMilliseconds: 0, generation: result)))
        }
    }

    private func answer(
        _ question: String, options: AskOptions, vector: [Float]?, showReasoning: Bool, history: [ChatMessage], emit: @escaping (String) -> Void,
        cancelled: @escaping () -> Bool
    ) throws -> AskResult {
        let prepared = try prepare(question, options: options, vector: vector, history: history)
        if prepared.abstain {
            emit(Self.noAnswer)
            return AskResult(
                answer: Self.noAnswer, fullText: Self.noAnswer, sources: [], prompt: LiteralText.strip(prepared.prompt), abstained: true,
                retrieveMilliseconds: prepared.retrieveMilliseconds, generation: nil)
        }
        let reasons = options.template == "cot" && options.schema == nil
        let ids = generator.tokenize(prepared.prompt)
        let keep = options.prefixCache ? zip(ids, try fixedPrefix(options.template)).prefix { $0 == $1 }.count : 0
        func sample(_ sampling: SamplingOptions, emit: @escaping (String) -> Void) throws -> (result: GenerationResult, text: String) {
            var filter = AnswerFilter(passThrough: showReasoning || !reasons)
            let result = try generator.generate(
                chat: prepared.messages, options: GenerationOptions(
                    maxTokens: options.answerTokens, sampling: sampling, keepPrefix: keep, ignoreEndOfGeneration: options.ignoreEndOfGeneration,
                    speculate: options.speculate, schema: options.schema),
                emit: { piece in if let out = filter.feed(piece) { emit(out) } }, cancelled: cancelled)
            if let rest = filter.finish() { emit(rest) }
            let text = result.text.trimmingCharacters(in: .whitespacesAndNewlines)
            return (result, text)
        }
        var chosen: (result: GenerationResult, text: String)
        var votes: VoteReport?
        if options.votes > 1 {
            // Every sample after the first reuses the whole prompt from the cache; nothing is
            // streamed until the vote is decided, then the winner is.
            let start = DispatchTime.now().uptimeNanoseconds
            var vote = SelfConsistency(samples: options.votes)
            var candidates: [(result: GenerationResult, text: String)] = []
            while !vote.isDecided {
                // The first vote is the answer without voting (greedy by default), then samples.
                var sampling = options.sampling
                if vote.taken > 0 {
                    sampling.temperature = options.voteTemperature
                    sampling.seed = options.sampling.seed &+ UInt64(vote.taken)
                }
                let candidate = try sample(sampling) { _ in }
                vote.add(reasons ? AnswerFilter.finalAnswer(candidate.text) : candidate.text)
                candidates.append(candidate)
            }
            chosen = candidates[vote.first[vote.leader!]]
            votes = vote.report(temperature: options.voteTemperature, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            emit(showReasoning || !reasons ? chosen.text : AnswerFilter.finalAnswer(chosen.text))
        } else {
            chosen = try sample(options.sampling, emit: emit)
        }
        if options.schema != nil {
            // JSON as generated: markers are not repaired (that could break it); the sources
            // stay numbered for a citations field.
            return AskResult(
                answer: chosen.result.text, fullText: chosen.result.text, sources: prepared.sources, prompt: LiteralText.strip(prepared.prompt),
                abstained: false, retrieveMilliseconds: prepared.retrieveMilliseconds, generation: chosen.result, votes: votes)
        }
        var final = reasons ? AnswerFilter.finalAnswer(chosen.text) : chosen.text
        // Markers checked against the sources and repaired (see CitationCheck).
        var checked = CitationCheck(final, sources: prepared.sources.map(\.text))
        // A model that ends before saying anything (or says only blanks, or markers to no source)
        // has declined; say so rather than print nothing.
        if checked.text.allSatisfy(\.isWhitespace) && chosen.result.stopReason != .cancelled {
            final = Self.declined
            emit(final)
            let removed = checked.removed
            checked = CitationCheck(final, sources: prepared.sources.map(\.text))
            checked.removed = removed
        }
        var answer = AskResult(
            answer: checked.text, fullText: chosen.text, sources: prepared.sources, prompt: LiteralText.strip(prepared.prompt), abstained: false,
            retrieveMilliseconds: prepared.retrieveMilliseconds, generation: chosen.result)
        answer.declined = Self.declines(final)
        answer.citationSpans = checked.citations
        answer.removedCitations = checked.removed
        answer.votes = votes
        return answer
    }

    /// Hits of one document that are neighbours (consecutive chunks) or overlap become one
    /// source, in the rank of their best hit; the sentence shared by overlapping chunks is kept once.
    public static func merge(_ hits: [SearchHit]) -> [Passage] {
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
            return Passage(
                n: i + 1, document: group[0].document, heading: headings.joined(separator: " · "),
                chunkIDs: ordered.map(\.chunkID), text: text)
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
