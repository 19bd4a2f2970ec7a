import Foundation
import RAGCore
@testable import RAGServer
import RAGTesting
import Testing

/// A conversation through the OpenAI route: the last question, a follow-up, is made to stand
/// alone before retrieval, and the answer says what it searched with.
@Suite struct FollowUpRouteTests {
    @Test func aFollowUpIsAnsweredForTheQuestionItStandsFor() async throws {
        let generator = ScriptedGenerator(contextLength: 1024, script: { prompt in
            if prompt.contains("Last question:") { return "Which port does Lantern listen on?" }
            return prompt.contains("Question: Which port does Lantern listen on?") ? "Lantern listens on port 7070 [1]." : "Not that question."
        })
        let fixture = try Fixture(cache: false, generator: generator)
        try await fixture.routes { s in
            let conversation: [[String: String]] = [
                ["role": "system", "content": "Be brief."], ["role": "user", "content": "What is Lantern?"],
                ["role": "assistant", "content": "A caching proxy [1]."], ["role": "user", "content": "and its port?"],
            ]
            let reply = try await s.post("/v1/chat/completions", ["model": "rag", "messages": conversation])
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json["standalone_question"] as? String == "Which port does Lantern listen on?", "\(reply.text)")
            let message = ((reply.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
            #expect(message == "Lantern listens on port 7070 [1].")
            #expect(((reply.json["citations"] as? [[String: Any]])?.first?["document"] as? String)?.hasSuffix("lantern.md") == true, "\(reply.text)")
            // Streamed: the last chunk carries it too.
            let streamed = try await s.post("/v1/chat/completions", ["model": "rag", "messages": conversation, "stream": true])
            #expect(streamed.text.contains(#""standalone_question":"Which port does Lantern listen on?""#), "\(streamed.text)")
            // A first question goes as it is, and says nothing of it.
            let first = try await s.post("/v1/chat/completions", ["model": "rag", "messages": [["role": "user", "content": "Which port does Lantern listen on?"]]])
            #expect(first.status == 200 && first.json["standalone_question"] == nil, "\(first.text)")
        }
        #expect(generator.prompts.filter { $0.contains("Last question:") }.count == 2)
    }
}
