import Foundation
@testable import RAG
import RAGCore
import RAGEmbedding
import RAGLLM
import RAGStorage
import RAGTesting
import Testing

@Suite(.onTestThreads) struct TemplateTests {
    static let sources = [
        Passage(n: 1, document: "docs/harbor.md", heading: "Storage", chunkIDs: [ChunkID(rawValue: 7)], text: "Harbor keeps its index in harbor.db."),
        Passage(n: 2, document: "docs/tuning.md", heading: "", chunkIDs: [ChunkID(rawValue: 9), ChunkID(rawValue: 10)], text: "ef_search defaults to 64 & M to 16."),
    ]

    /// Golden files: the rendered system message and user turn of each built-in template, so a
    /// template change shows up as a diff here.
    @Test(arguments: ["default", "cot", "fewshot", "yesno"])
    func builtInTemplatesRenderAsTheGoldenFiles(name: String) throws {
        let (system, user) = try TemplateLibrary(directories: [TemplateLibrary.builtInDirectory!])
            .render(name, question: "Where is the index & what is ef_search?", sources: Self.sources)
        // Shown without the marks that make the question and the sources literal text.
        #expect(user.contains(LiteralText.mark("Where is the index & what is ef_search?")))
        let rendered = "SYSTEM:\n\(LiteralText.strip(system))\nUSER:\n\(LiteralText.strip(user))\n"
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name).golden.txt")
        if ProcessInfo.processInfo.environment["RAG_UPDATE_GOLDEN"] != nil { try rendered.write(to: golden, atomically: true, encoding: .utf8) }
        #expect(rendered == (try String(contentsOf: golden, encoding: .utf8)))
        #expect(LiteralText.strip(user).contains("[2] docs/tuning.md\nef_search defaults to 64 & M to 16."))  // no HTML escaping
    }

    @Test func userTemplatesWinAndBadOnesAreClearErrors() throws {
        let ws = try Workspace()
        try ws.write("t/default.mustache", "S {{question}}\n=== user ===\n{{#sources}}<{{n}}>{{/sources}}")
        try ws.write("t/broken.mustache", "no separator {{question}}")
        let library = TemplateLibrary(directories: [TemplateLibrary.builtInDirectory!, ws.path("t")])
        let (system, user) = try library.render("default", question: "Q", sources: Self.sources)
        #expect(LiteralText.strip(system) == "S Q" && user == "<1><2>")
        #expect(throws: RAGError.self) { try library.render("broken", question: "Q", sources: []) }
        #expect(throws: RAGError.self) { try library.render("../etc/passwd", question: "Q", sources: []) }
        #expect(throws: RAGError.self) { try library.render("missing", question: "Q", sources: []) }
    }
}

@Suite(.onTestThreads) struct MergeTests {
    func hit(_ id: Int64, _ doc: String, _ ordinal: Int, _ start: Int, _ end: Int, _ text: String) -> SearchHit {
        SearchHit(chunkID: ChunkID(rawValue: id), document: doc, heading: "H", score: 1, text: text, snippet: "", ordinal: ordinal, start: start, end: end)
    }

    @Test func neighbouringAndOverlappingChunksOfADocumentMerge() {
        let sources = Answerer.merge([
            hit(2, "a.md", 3, 100, 200, "Second sentence. Third sentence."),
            hit(9, "b.md", 0, 0, 50, "Other document."),
            hit(1, "a.md", 2, 0, 120, "First sentence. Second sentence."),
            hit(5, "a.md", 7, 500, 600, "Far away."),
        ])
        #expect(sources.map(\.n) == [1, 2, 3])
        #expect(sources[0].chunkIDs.map(\.rawValue) == [1, 2] && sources[0].text == "First sentence. Second sentence. Third sentence.")
        #expect(sources[1].document == "b.md" && sources[2].chunkIDs.map(\.rawValue) == [5])
    }

    @Test func chainOfThoughtShowsOnlyTheAnswer() {
        var filter = AnswerFilter(passThrough: false)
        var out = ""
        for piece in ["Source [1] says so.", "\nAns", "wer: Port", " 7070 [1]."] { out += filter.feed(piece) ?? "" }
        #expect(out == "Port 7070 [1].")
        #expect(AnswerFilter.finalAnswer("a\nb\nAnswer: c [2]") == "c [2]")
        #expect(AnswerFilter.finalAnswer("no marker\nlast line") == "last line")
    }
}

/// The whole pipeline on a small corpus with the real embedder and the small model.
@Suite(.onTestThreads, .serialized, .enabled(if: ModelFiles.haveEmbedderAndSmallGenerator, "needs the embedding model and the small generator (make models)")) struct AnswererTests {
    static let model: LanguageModel = {
        let models = ProcessInfo.processInfo.environment["RAG_MODELS_DIR"]
            ?? (ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? NSHomeDirectory() + "/.cache") + "/rag/models"
        return try! LanguageModel(path: models + "/gguf/SmolLM2-135M-Instruct.Q4_1.gguf")
    }()

    nonisolated(unsafe) static let setup: (Workspace, SQLiteStore, Answerer) = {
        let ws = try! Workspace()
        try! ws.write("docs/harbor.md", "# Harbor\n\nHarbor is a retrieval service. Harbor stores its HNSW vector index inside a SQLite file named harbor.db.\n\n## Tuning\n\nThe default ef_search value is 64 and M is 16.\n")
        try! ws.write("docs/lantern.md", "# Lantern\n\nLantern is a caching proxy. It listens on port 7070 unless --port is given.\n")
        let store = try! SQLiteStore(path: ws.path("index.sqlite"))
        let embedder = try! SentenceEmbedder()
        _ = try! Ingestor(store: store, embedder: embedder).run(paths: [ws.docs], options: Ingestor.Options())
        let answerer = Answerer(
            retriever: Retriever(store: store, embedder: embedder), generator: Generator(model: model, contextLength: 1024),
            templates: TemplateLibrary(directories: [TemplateLibrary.builtInDirectory!]))
        return (ws, store, answerer)
    }()

    @Test func answersWithNumberedSourcesFromTheIndex() throws {
        let answerer = Self.setup.2
        var options = AskOptions()
        options.answerTokens = 48
        var streamed = ""
        let result = try answerer.ask("Where does Harbor store its vector index?", options: options) { streamed += $0 }
        #expect(!result.abstained && result.generation != nil)
        #expect(result.sources.first?.document.hasSuffix("harbor.md") == true && result.sources.map(\.n) == Array(1...result.sources.count))
        #expect(result.prompt.contains("[1] ") && result.prompt.contains("harbor.db") && result.prompt.hasSuffix("<|im_start|>assistant\n"))
        // What streamed is the model's text; the answer is that text with its markers checked
        // and repaired, and every marker left points to a source.
        #expect(streamed.trimmingCharacters(in: .whitespacesAndNewlines) == result.fullText && !result.answer.isEmpty)
        #expect(result.answer == CitationCheck(result.fullText, sources: result.sources.map(\.text)).text)
        #expect(result.citationSpans.allSatisfy { (1...result.sources.count).contains($0.n) })
    }

    /// Nothing in the index is near the question: "I don't know" without calling the model.
    @Test func abstainsWithoutCallingTheModel() throws {
        let result = try Self.setup.2.ask("What is the best recipe for lasagna?", options: AskOptions())
        #expect(result.abstained && result.generation == nil && result.answer == Answerer.noAnswer && result.sources.isEmpty)
    }

    @Test func sourcesFitTheContextBudget() throws {
        var options = AskOptions()
        options.answerTokens = 1024 - 140  // leaves room for the template and little else
        let prepared = try Self.setup.2.prepare("What is the default ef_search?", options: options)
        let tokens = Self.setup.2.generator.tokenize(prepared.prompt).count
        #expect(tokens <= 140 && prepared.sources.count <= 1)
    }
}

/// The template's fixed prefix is kept apart: a later question with the same template reuses it
/// even when another template ran in between.
@Suite(.onTestThreads, .serialized, .enabled(if: ModelFiles.haveEmbedderAndSmallGenerator, "needs the embedding model and the small generator (make models)")) struct PrefixCacheTests {
    @Test func aTemplatesFixedPrefixIsComputedOnceAndReused() throws {
        let (_, _, shared) = AnswererTests.setup
        let generator = Generator(model: AnswererTests.model, contextLength: 1024)
        let answerer = Answerer(retriever: shared.retriever, generator: generator, templates: shared.templates)
        let prefix = try answerer.fixedPrefix("fewshot")
        let examples = try answerer.fixedPrefix("default")
        #expect(prefix.count > examples.count + 100)  // the worked examples are part of the fixed prefix
        var options = AskOptions()
        options.answerTokens = 4
        options.template = "fewshot"
        let first = try answerer.ask("Where does Harbor store its vector index?", options: options)
        #expect(first.generation?.reusedPromptTokens == 0)
        #expect(generator.keptPrefixLengths == [prefix.count])
        options.template = "default"
        _ = try answerer.ask("What port does Lantern listen on?", options: options)
        options.template = "fewshot"
        let third = try answerer.ask("What is the default ef_search value?", options: options)
        #expect(third.generation?.reusedPromptTokens == prefix.count)
        #expect(Set(generator.keptPrefixLengths) == [prefix.count, examples.count])
        // Without the cache: the whole prompt is computed.
        options.prefixCache = false
        let freshGenerator = Generator(model: AnswererTests.model, contextLength: 1024)
        let fresh = Answerer(retriever: shared.retriever, generator: freshGenerator, templates: shared.templates)
        let cold = try fresh.ask("What is the default ef_search value?", options: options)
        #expect(cold.generation?.reusedPromptTokens == 0 && freshGenerator.keptPrefixLengths.isEmpty)
        #expect(cold.generation?.tokens == third.generation?.tokens)
    }

    /// A conversation sent to the model alone keeps its system part (the template's default
    /// system text here): the same for every conversation that starts the same way, whatever
    /// its questions and turns, and kept for any slot.
    @Test func aConversationsSystemPartIsKept() async throws {
        let (_, _, shared) = AnswererTests.setup
        let generator = Generator(model: AnswererTests.model, contextLength: 1024, parallel: 2)
        let answerer = Answerer(retriever: shared.retriever, generator: generator, templates: shared.templates)
        let first: [ChatMessage] = [ChatMessage(.user, "Where does Harbor store its index?")]
        let keep = answerer.systemPrefix(of: first)
        let system = generator.tokenize(generator.renderChat(first)).prefix(keep)
        #expect(keep > 0 && generator.model.tokenizer.decode(Array(system)).hasSuffix("user\n"))
        let followUp = first + [ChatMessage(.assistant, "In harbor.db."), ChatMessage(.user, "And its port?")]
        #expect(answerer.systemPrefix(of: [ChatMessage(.user, "What port does Lantern use?")]) == keep && answerer.systemPrefix(of: followUp) == keep)
        #expect(answerer.systemPrefix(of: [ChatMessage(.system, "Answer in one word.")] + first) != keep)
        #expect(answerer.systemPrefix(of: [ChatMessage(.system, "Only a system turn.")]) == 0)
        var options = AskOptions()
        options.answerTokens = 4
        func reply(_ turns: [ChatMessage], on answerer: Answerer) async throws -> AskResult? {
            for try await event in answerer.converse(turns, options: options) { if case .finished(let result) = event { return result } }
            return nil
        }
        let answered = try await reply(first, on: answerer)
        #expect(answered?.generation?.reusedPromptTokens == 0 && generator.keptPrefixLengths == [keep])
        // Without the prefix cache nothing is kept, and the reply is the same.
        options.prefixCache = false
        let fresh = Generator(model: AnswererTests.model, contextLength: 1024)
        let cold = try await reply(first, on: Answerer(retriever: shared.retriever, generator: fresh, templates: shared.templates))
        #expect(fresh.keptPrefixLengths.isEmpty && cold?.generation?.tokens == answered?.generation?.tokens)
    }
}

@Suite(.onTestThreads) struct AnswerCacheTests {
    static func result(_ answer: String) -> AskResult {
        AskResult(answer: answer, fullText: answer, sources: [], prompt: "", abstained: false, retrieveMilliseconds: 1, generation: nil)
    }
    static func unit(_ v: [Float]) -> [Float] {
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return v.map { $0 / n }
    }

    @Test func nearQuestionsHitOnlyWithTheSameOptionsRevisionAndAge() {
        let cache = AnswerCache(threshold: 0.95, ttl: 60, capacity: 2)
        let t0 = Date(timeIntervalSince1970: 1000)
        let q = Self.unit([1, 0, 0]), near = Self.unit([1, 0.2, 0]), far = Self.unit([1, 1, 0])
        cache.insert(q, key: "k", revision: 1, result: Self.result("A"), now: t0)
        #expect(cache.lookup(near, key: "k", revision: 1, now: t0)?.answer == "A")  // cosine 0.98
        #expect(cache.lookup(far, key: "k", revision: 1, now: t0) == nil)  // cosine 0.71
        #expect(cache.lookup(q, key: "other options", revision: 1, now: t0) == nil)
        #expect(cache.lookup(q, key: "k", revision: 1, now: t0 + 61) == nil)  // expired
        #expect(cache.count == 0)
        cache.insert(q, key: "k", revision: 1, result: Self.result("A"), now: t0)
        #expect(cache.lookup(q, key: "k", revision: 2, now: t0) == nil)  // the index changed: all dropped
        #expect(cache.count == 0)
        cache.insert(Self.unit([1, 0, 0]), key: "k", revision: 2, result: Self.result("1"), now: t0)
        cache.insert(Self.unit([0, 1, 0]), key: "k", revision: 2, result: Self.result("2"), now: t0 + 1)
        _ = cache.lookup(Self.unit([1, 0, 0]), key: "k", revision: 2, now: t0 + 2)  // "1" used last
        cache.insert(Self.unit([0, 0, 1]), key: "k", revision: 2, result: Self.result("3"), now: t0 + 3)
        #expect(cache.count == 2 && cache.lookup(Self.unit([0, 1, 0]), key: "k", revision: 2, now: t0 + 3) == nil)
        #expect(cache.hits == 2)
    }

    /// Wiring, on the model twins (no model file).
    @Test func theAnswererServesARephrasedQuestionFromTheCacheUntilTheIndexChanges() throws {
        let (ws, store, embedder) = try lanternIndex()
        let answerer = Answerer(
            retriever: Retriever(store: store, embedder: embedder), generator: ScriptedGenerator { _ in "Port 7070 [1]." },
            templates: TemplateLibrary(), cache: AnswerCache())
        var options = AskOptions()
        options.answerTokens = 8
        let first = try answerer.ask("Which port does Lantern listen on?", options: options)
        #expect(!first.cached && first.generation != nil)
        var streamed = ""
        let again = try answerer.ask("Which port does Lantern listen on", options: options) { streamed += $0 }
        #expect(again.cached && again.answer == first.answer && streamed == first.answer)
        options.answerTokens = 9  // other options: not the same answer
        #expect(try !answerer.ask("Which port does Lantern listen on?", options: options).cached)
        options.answerTokens = 8
        try ws.write("docs/extra.md", "# Extra\n\nA new document changes the index.\n")
        _ = try Ingestor(store: store, embedder: embedder).run(paths: [ws.docs])
        #expect(try !answerer.ask("Which port does Lantern listen on?", options: options).cached)
    }
}

/// What the answerer makes of replies that say nothing or only quote: on the model twin.
@Suite(.onTestThreads) struct AnswerCheckTests {
    func ask(_ reply: String) throws -> (result: AskResult, streamed: String) {
        let (ws, store, embedder) = try lanternIndex()
        defer { _ = ws }
        let answerer = Answerer(
            retriever: Retriever(store: store, embedder: embedder), generator: ScriptedGenerator { _ in reply }, templates: TemplateLibrary())
        var streamed = ""
        let result = try answerer.ask("Which port does Lantern listen on?", options: AskOptions()) { streamed += $0 }
        return (result, streamed)
    }

    @Test func aModelThatEndsAtOnceHasDeclined() throws {
        let (result, streamed) = try ask("")
        #expect(result.answer == Answerer.declined && streamed == Answerer.declined)
        #expect(result.declined && !result.abstained && result.citationSpans.isEmpty)
        let report = AskReport(result, showReasoning: false)
        #expect(report.declined && report.answer == "I don't know.")
        #expect(try ask("I don't know.").result.declined)
        #expect(try !ask("Port 7070 [1].").result.declined)
        // Blanks, or only a marker to no source, say nothing either.
        for reply in ["\n ", "[9]"] {
            let (said, _) = try ask(reply)
            #expect(said.declined && said.answer == Answerer.declined && said.removedCitations == (reply == "[9]" ? [9] : []))
        }
    }

    @Test func aQuotedFragmentIsCitedByItsSource() throws {
        let (result, streamed) = try ask("port 7070")
        #expect(streamed == "port 7070" && result.answer == "port 7070 [1]")
        #expect(result.citationSpans.map(\.n) == [1] && result.citationSpans[0].added)
    }
}

/// A workspace whose index (on the hashing embedder) holds one document about Lantern.
func lanternIndex() throws -> (Workspace, SQLiteStore, HashingEmbedder) {
    let embedder = HashingEmbedder()
    let ws = try Workspace()
    try ws.write("docs/lantern.md", "# Lantern\n\nLantern is a caching proxy. It listens on port 7070 unless --port is given.\n")
    let store = try SQLiteStore(path: ws.path("index.sqlite"))
    _ = try Ingestor(store: store, embedder: embedder).run(paths: [ws.docs])
    return (ws, store, embedder)
}

/// Self-consistency voting: the tally, the early decision and the answer returned.
@Suite(.onTestThreads) struct SelfConsistencyTests {
    @Test func answersVoteWithTheirLabelOrTheirNormalisedText() {
        #expect(SelfConsistency.key("Yes. The trial shows it [1].") == "yes")
        #expect(SelfConsistency.key("Maybe, the sources disagree [1][2]") == "maybe")
        #expect(SelfConsistency.key("There is no evidence [2].") == "there is no evidence")
        #expect(SelfConsistency.key("Port 7070 [1].") == SelfConsistency.key("port  7070"))
    }

    @Test func theVoteEndsWhenNoSampleLeftCanChangeTheWinner() {
        var vote = SelfConsistency(samples: 5)
        for answer in ["yes [1]", "no [2]", "Yes."] {
            vote.add(answer)
            #expect(!vote.isDecided)  // 2 against 1 with 2 left: not yet
        }
        vote.add("yes, because [1]")
        #expect(vote.isDecided && vote.taken == 4 && vote.first[vote.leader!] == 0)
        let report = vote.report(temperature: 0.7, seconds: 1)
        #expect(report.winner == "yes" && report.tally == [.init(answer: "yes", votes: 3), .init(answer: "no", votes: 1)])
        #expect(report.confidence == 0.75 && !report.tie && report.samples == 5)

        var tied = SelfConsistency(samples: 2)
        tied.add("no")
        tied.add("yes")
        #expect(tied.isDecided && tied.tally[tied.leader!].answer == "no" && tied.report(temperature: 0.7, seconds: 0).tie)
    }

    /// Wiring, on the model twins: the first vote is greedy, the others are sampled at the vote
    /// temperature with their own seeds; the winner is returned (its first sample's text).
    @Test func theAnswererReturnsTheMajorityAnswer() throws {
        let (ws, store, embedder) = try lanternIndex()
        defer { withExtendedLifetime(ws) {} }
        let generator = ScriptedGenerator { _, sampling in
            sampling.temperature == 0 ? "maybe [1]" : ["yes, it listens on 7070 [1].", "no [1]", "Yes [1]", "yes"][Int(sampling.seed - 1) % 4]
        }
        let answerer = Answerer(retriever: Retriever(store: store, embedder: embedder), generator: generator, templates: TemplateLibrary())
        var options = AskOptions()
        options.template = "yesno"
        options.answerTokens = 16
        #expect(try answerer.ask("Does Lantern listen on port 7070?", options: options).answer.hasPrefix("maybe"))
        options.votes = 5
        var streamed = ""
        let voted = try answerer.ask("Does Lantern listen on port 7070?", options: options) { streamed += $0 }
        // Greedy "maybe", then yes, no, yes: not decided with one left (2 against 1 + 1); the
        // fifth, yes, decides it.
        #expect(voted.answer == "yes, it listens on 7070 [1]." && streamed == voted.fullText)
        #expect(voted.votes?.votes == ["maybe", "yes", "no", "yes", "yes"] && voted.votes?.winner == "yes" && voted.votes?.confidence == 0.6)
        #expect(generator.prompts.count == 1 + 5)
        // What fewer votes would have given, from the same samples.
        #expect(SelfConsistency.winner(of: voted.votes!.votes, first: 1) == "maybe")
        #expect(SelfConsistency.winner(of: voted.votes!.votes, first: 3) == "maybe")  // a three-way tie: the greedy one
        #expect(SelfConsistency.winner(of: ["no", "yes", "yes", "no", "no"], first: 3) == "yes")
    }
}

/// The metrics on cases worked by hand.
@Suite(.onTestThreads) struct RetrievalMetricsTests {
    @Test func ndcgUsesGradedGainsALog2DiscountAndTheIdealOrder() {
        let judged = ["a": 2, "b": 1, "c": 0]
        // Ranked b, x, a: DCG = 1/log2(2) + 0 + 2/log2(4) = 2; ideal a, b: 2 + 1/log2(3) = 2.6309.
        #expect(abs(RetrievalMetrics.ndcg(["b", "x", "a"], judged, k: 10) - 2 / (2 + 1 / log2(3.0))) < 1e-12)
        #expect(RetrievalMetrics.ndcg(["a", "b"], judged, k: 10) == 1)
        #expect(RetrievalMetrics.ndcg(["x", "a"], judged, k: 1) == 0)  // cut at k
        #expect(RetrievalMetrics.ndcg(["a"], ["c": 0], k: 10) == 0)  // nothing relevant judged
    }

    @Test func recallAndReciprocalRank() {
        let judged = ["a": 1, "b": 1, "c": 0]
        #expect(RetrievalMetrics.recall(["c", "a", "x"], judged, k: 100) == 0.5)
        #expect(RetrievalMetrics.recall(["c", "a", "b"], judged, k: 2) == 0.5)
        #expect(RetrievalMetrics.reciprocalRank(["c", "x", "b"], judged, k: 10) == 1.0 / 3)
        #expect(RetrievalMetrics.reciprocalRank(["c", "x", "b"], judged, k: 2) == 0)
        #expect(RetrievalMetrics.percentile([5, 1, 3, 2, 4], 0.5) == 3 && RetrievalMetrics.percentile([5, 1, 3, 2, 4], 0.95) == 5)
    }

    @Test func documentsRankByTheirBestChunkPlusAShareOfTheOthers() {
        func hit(_ doc: String, _ score: Double) -> SearchHit {
            SearchHit(chunkID: ChunkID(rawValue: 1), document: "c.jsonl#\(doc)", heading: "", score: score, text: "", snippet: "", ordinal: 0, start: 0, end: 0)
        }
        let hits = [hit("a", 0.9), hit("b", 0.8), hit("b", 0.7), hit("c", 0.5), hit("b", 0.4)]
        #expect(RetrievalEvaluation.documents(hits) == ["a", "b", "c"])
        // b: 0.8 + 0.25 × (0.7 + 0.4) = 1.075 > a's 0.9.
        #expect(RetrievalEvaluation.documents(hits, share: 0.25) == ["b", "a", "c"])
        #expect(RetrievalEvaluation.documents(hits, share: 0.05) == ["a", "b", "c"])
    }

    @Test func aSmallBEIRCollectionIsEvaluatedEndToEnd() throws {
        let ws = try Workspace()
        try ws.write("c/corpus.jsonl", """
            {"_id": "d1", "title": "Lantern", "text": "Lantern is a caching proxy listening on port 7070."}
            {"_id": "d2", "title": "Harbor", "text": "Harbor stores its vector index in harbor.db."}
            {"_id": "d3", "title": "Beacon", "text": "Beacon is a tide gauge that reports every 90 seconds."}
            """)
        try ws.write("c/queries.jsonl", """
            {"_id": "q1", "text": "which port does the caching proxy use"}
            {"_id": "q2", "text": "tide gauge reporting interval"}
            {"_id": "q3", "text": "unjudged query"}
            """)
        try ws.write("c/qrels.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t2\n")
        let collection = try BEIRQueries(queriesFile: ws.path("c/queries.jsonl"), qrelsFile: ws.path("c/qrels.tsv"))
        #expect(collection.queries.map(\.id) == ["q1", "q2"])
        let store = try SQLiteStore(path: ws.path("index.sqlite"))
        _ = try Ingestor(store: store).run(paths: [ws.path("c/corpus.jsonl")])
        let result = try RetrievalEvaluation.run(collection, retriever: Retriever(store: store, embedder: nil), mode: .bm25)
        #expect(result.queries == 2 && result.ndcg10 == 1 && result.recall100 == 1 && result.mrr10 == 1)
        #expect(throws: RAGError.self) { try BEIRQueries(queriesFile: ws.path("c/queries.jsonl"), qrelsFile: ws.path("c/corpus.jsonl")) }
    }
}

@Suite(.onTestThreads) struct QAMetricsTests {
    @Test func exactMatchAndTokenF1UseSQuADNormalisation() {
        #expect(QAMetrics.normalize("The  Cat, sat!") == ["cat", "sat"])
        #expect(QAMetrics.exactMatch("the cat sat.", "Cat sat") == 1)
        #expect(QAMetrics.exactMatch("a cat sat down", "cat sat") == 0)
        // prediction: cat sat on mat (4), gold: cat sat (2); shared 2 → P 0.5, R 1, F1 2/3.
        #expect(abs(QAMetrics.tokenF1("The cat sat on the mat", "cat sat") - 2.0 / 3) < 1e-12)
        // Multiplicity: "cat cat" vs "cat": shared 1 → P 0.5, R 1.
        #expect(abs(QAMetrics.tokenF1("cat cat", "cat") - 2.0 / 3) < 1e-12)
        #expect(QAMetrics.tokenF1("dog", "cat") == 0 && QAMetrics.tokenF1("", "") == 1)
    }

    @Test func rougeLIsTheLongestCommonSubsequenceFMeasure() {
        // "the cat was found under the bed" vs "the cat was under the bed": LCS 6, P 6/7, R 6/6.
        let f = QAMetrics.rougeL("the cat was found under the bed", "The cat was under the bed.")
        #expect(abs(f - 2 * (6.0 / 7) / (6.0 / 7 + 1)) < 1e-12)
        #expect(QAMetrics.rougeL("x y", "a b") == 0 && QAMetrics.rougeL("", "a") == 0)
        // Order matters: "b a" vs "a b" shares a subsequence of one.
        #expect(QAMetrics.rougeL("b a", "a b") == 0.5)
    }

    @Test func labelsAndMacroF1() {
        #expect(QAMetrics.label("Yes, the trial shows it [1].") == "yes")
        #expect(QAMetrics.label("Maybe: the results are mixed, no clear effect") == "maybe")
        #expect(QAMetrics.label("I don't know.") == nil && QAMetrics.label("Nobody knows") == nil)
        #expect(QAMetrics.withoutCitations("Port 7070 [1], set by --port [2, 3].") == "Port 7070, set by --port.")
        // gold y y n m, predicted y n n nil: yes F1 2/3, no 2/3, maybe 0 → 4/9.
        let f1 = QAMetrics.macroF1(gold: ["yes", "yes", "no", "maybe"], predicted: ["yes", "no", "no", nil])
        #expect(abs(f1 - 4.0 / 9) < 1e-12)
    }

    /// A QA folder answered end to end with the real models: labels parsed, the gold source found,
    /// per-question records, bad datasets refused with the file and line.
    @Test(.enabled(if: ModelFiles.haveEmbedderAndSmallGenerator, "needs the embedding model and the small generator (make models)")) func aSmallQADatasetIsAnsweredAndScored() throws {
        let ws = try Workspace()
        try ws.write("qa/docs/lantern.txt", "Lantern is a caching proxy. It listens on port 7070 unless --port is given.")
        try ws.write("qa/docs/harbor.txt", "Harbor is a retrieval service. It stores its vector index in a SQLite file named harbor.db.")
        try ws.write("qa/docs/beacon.txt", "Beacon is a tide gauge on the north pier. It reports the water level every 90 seconds.")
        try ws.write("qa/qa.jsonl", """
            {"question": "Does Lantern listen on port 7070 by default?", "answer": "yes", "source": "docs/lantern.txt", "id": 1}
            {"question": "Does Harbor keep its vector index in a SQLite file?", "answer": "yes", "source": "docs/harbor.txt", "long_answer": "Harbor stores its index in harbor.db."}
            """)
        let dataset = try QADataset(directory: ws.path("qa"))
        #expect(dataset.isLabelled && dataset.items.map(\.id) == ["1", nil])
        let store = try SQLiteStore(path: ws.path("qa.sqlite"))
        let embedder = try SentenceEmbedder()
        _ = try Ingestor(store: store, embedder: embedder).run(paths: [dataset.documents])
        let answerer = Answerer(
            retriever: Retriever(store: store, embedder: embedder),
            generator: Generator(model: AnswererTests.model, contextLength: 1024),
            templates: TemplateLibrary(directories: [TemplateLibrary.builtInDirectory!]))
        var options = AskOptions()
        options.template = "yesno"
        options.answerTokens = 16
        var seen: [Int] = []
        let (result, records) = try QAEvaluation.run(dataset, answerer: answerer, options: options, k: 1) { _, done, _ in seen.append(done) }
        #expect(seen == [1, 2] && records.count == 2 && result.questions == 2)
        #expect(result.sourceHit1 == 1 && result.sourceHitK == 1 && result.sourceInContext == 1)
        #expect(records.allSatisfy { $0.promptTokens > 0 && !$0.answer.isEmpty && $0.correct == ($0.label == "yes") })
        #expect(result.accuracy == Double(records.filter { $0.correct == true }.count) / 2)
        #expect(result.exactMatch == nil && result.rougeL != nil)
        let json = String(decoding: try JSONEncoder().encode(result), as: UTF8.self)
        #expect(json.contains("\"source_hit@1\":1") && json.contains("\"accuracy\"") && json.contains("\"seconds_per_question\""))

        // Retrieval only: no model call, the same hit rate.
        let retrieval = try QAEvaluation.run(dataset, answerer: answerer, options: options, k: 1, generate: false)
        #expect(retrieval.result.sourceHit1 == 1 && retrieval.result.accuracy == nil && retrieval.records.allSatisfy { $0.promptTokens == 0 })
        // A scored label question's line always has "label" (null when none); retrieval-only lines do not.
        let scored = String(decoding: try JSONEncoder().encode(records[0]), as: UTF8.self)
        let unscored = String(decoding: try JSONEncoder().encode(retrieval.records[0]), as: UTF8.self)
        #expect(scored.contains("\"label\":") && scored.contains("\"source_rank\":1") && !unscored.contains("\"label\""))

        try ws.write("bad/qa.jsonl", "{\"question\": \"q\", \"answer\": \"a\", \"source\": \"docs/x.txt\"}\n{\"question\": 5}\n")
        try ws.write("bad/docs/x.txt", "x")
        #expect { try QADataset(directory: ws.path("bad")) } throws: { ($0 as? RAGError)?.message.contains("qa.jsonl:2:") == true }
        #expect(throws: RAGError.self) { try QADataset(directory: ws.path("qa/docs")) }
    }
}
