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
        // A model that writes nothing leaves the question as it was.
        let silent = Answerer(retriever: Retriever(store: store, embedder: embedder), generator: ScriptedGenerator { _ in "" }, templates: TemplateLibrary())
        #expect(try silent.standalone("and its port?", after: turns) == "and its port?")
    }
}
