import Foundation
@testable import RAG
import RAGCore
import RAGTesting
import Testing

/// Follow-up questions: the last question of a conversation made to stand alone before
/// retrieval. Wiring on the model twin (`rag chat` runs the real model in its CLI test).
@Suite(.onTestThreads) struct FollowUpTests {
    @Test func theRewriteTemplateSeesTheTurnsAndIsNotAnAnswerTemplate() throws {
        let library = TemplateLibrary()
        #expect(!library.names.contains("_rewrite") && library.names.contains("default"))
        let (system, user) = try library.render(
            "_rewrite", question: "and how much memory does it save?", sources: [],
            turns: [ChatMessage(.user, "What does the KV cache store?"), ChatMessage(.assistant, "Keys and values.")])
        #expect(system.contains("without the conversation"))
        #expect(LiteralText.strip(user).contains("User: What does the KV cache store?\nAssistant: Keys and values."))
        #expect(LiteralText.strip(user).contains("Last question: and how much memory does it save?"))
    }

    @Test func aFollowUpIsRewrittenAndAFirstQuestionIsNot() throws {
        let (ws, store, embedder) = try lanternIndex()
        defer { _ = ws }
        let generator = ScriptedGenerator { prompt in
            prompt.contains("Last question:") ? "Rewritten question: \"Which port does Lantern listen on?\"\nmore" : "Port 7070 [1]."
        }
        let answerer = Answerer(retriever: Retriever(store: store, embedder: embedder), generator: generator, templates: TemplateLibrary())
        // The first question of a conversation: as it is, no generation.
        #expect(try answerer.standalone("What is Lantern?", after: [ChatMessage(.system, "be brief")]) == "What is Lantern?")
        #expect(generator.prompts.isEmpty)
        let turns = [ChatMessage(.user, "What is Lantern?"), ChatMessage(.assistant, "A caching proxy [1] [2].")]
        #expect(try answerer.standalone("and its port?", after: turns) == "Which port does Lantern listen on?")
        let prompt = try #require(generator.prompts.last)
        // The turns, without the answer's citation markers (they point to sources the rewrite does not see).
        #expect(LiteralText.strip(prompt).contains("Assistant: A caching proxy.") && LiteralText.strip(prompt).contains("Last question: and its port?"))
        // A model that writes nothing, or leaves a reference in: the question is searched with
        // the user's questions before it (the last three).
        let silent = Answerer(retriever: Retriever(store: store, embedder: embedder), generator: ScriptedGenerator { _ in "" }, templates: TemplateLibrary())
        #expect(try silent.standalone("and its port?", after: turns) == "What is Lantern? and its port?")
        let echo = Answerer(retriever: Retriever(store: store, embedder: embedder), generator: ScriptedGenerator { _ in "What are the risks of it?" }, templates: TemplateLibrary())
        let longer = (1...4).flatMap { [ChatMessage(.user, "Question \($0)?"), ChatMessage(.assistant, "Answer \($0).")] }
        #expect(try echo.standalone("What are the risks of it?", after: longer) == "Question 2? Question 3? Question 4? What are the risks of it?")
    }

    @Test func aReferenceLeftInTheRewriteIsNoticed() {
        for leaning in ["How big does it get?", "Which one fits?", "What uses the headings instead?", "Is THAT cheaper?", "What are its limits?"] {
            #expect(Answerer.leansOnTheConversation(leaning), "\(leaning)")
        }
        for standing in ["How big does the KV cache get?", "What is GGUF?", "Which iterations fit?", "Does Lantern listen on port 7070?"] {
            #expect(!Answerer.leansOnTheConversation(standing), "\(standing)")
        }
    }

    /// The answer's prompt carries the recent turns between the system message and the question
    /// with its sources, as chat turns; the answer is to the question made to stand alone.
    @Test func theAnswerPromptCarriesTheRecentTurns() async throws {
        let (ws, store, embedder) = try lanternIndex()
        defer { _ = ws }
        let generator = ScriptedGenerator { prompt in
            prompt.contains("Last question:") ? "Which port does Lantern listen on?" : "Port 7070 [1]."
        }
        let answerer = Answerer(retriever: Retriever(store: store, embedder: embedder), generator: generator, templates: TemplateLibrary())
        let turns = (1...3).flatMap { i in
            [ChatMessage(.user, "Question \(i) about Lantern?"), ChatMessage(.assistant, "Answer \(i) [1].")]
        }
        var options = AskOptions()
        options.abstainBelow = -1
        var result: AskResult?
        for try await event in answerer.stream("and its port?", options: options, after: turns) {
            if case .finished(let r) = event { result = r }
        }
        #expect(result?.standaloneQuestion == "Which port does Lantern listen on?")
        let prompt = LiteralText.strip(try #require(generator.prompts.last))
        // The last four turns, in order, as turns of the chat, before the question's own.
        #expect(!prompt.contains("Question 1 about") && !prompt.contains("Answer 1"))
        let order = ["<|im_start|>user\nQuestion 2 about Lantern?<|im_end|>", "<|im_start|>assistant\nAnswer 2.<|im_end|>",
                     "<|im_start|>user\nQuestion 3 about Lantern?<|im_end|>", "<|im_start|>assistant\nAnswer 3.<|im_end|>",
                     "Question: Which port does Lantern listen on?"]
        let positions = order.map { prompt.range(of: $0)?.lowerBound }
        #expect(positions.allSatisfy { $0 != nil }, "\(prompt)")
        #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted())
    }
}
