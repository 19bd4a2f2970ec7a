internal import Foundation
internal import Hummingbird
internal import RAG

/// `POST /v1/ask`: the answer as JSON (as `rag ask --json`), or with `"stream":true` as
/// Server-Sent Events: `token` events (`{"text":…}`), one `sources` event
/// (`{"citations":[…]}`), then `done` (the rest of the JSON answer); `error` if it fails.
struct AskController: Controller {
    let state: ServerState

    var endpoints: [Endpoint] { [.post("/v1/ask", ask)] }

    struct AskRequest: Decodable {
        var question: String
        /// template, top_k, max_tokens, temperature, seed, mode, abstain_below, votes, vote_temperature.
        var parameters: ServerState.AnswerParameters
        var stream: Bool?
        var showReasoning: Bool?
        /// Generate `max_tokens` whatever the model says (as llama.cpp's server option).
        var ignoreEos: Bool?

        private enum CodingKeys: String, CodingKey { case question, stream, showReasoning, ignoreEos }

        /// The answer's parameters stand beside the question in the same object.
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            question = try c.decode(String.self, forKey: .question)
            stream = try c.decodeIfPresent(Bool.self, forKey: .stream)
            showReasoning = try c.decodeIfPresent(Bool.self, forKey: .showReasoning)
            ignoreEos = try c.decodeIfPresent(Bool.self, forKey: .ignoreEos)
            parameters = try ServerState.AnswerParameters(from: decoder)
        }
    }

    struct Token: Encodable { var text: String }
    struct Sources: Encodable { var citations: [AskReport.Citation] }

    @Sendable func ask(_ request: Request, context: APIRequestContext) async throws -> Response {
        let bytes = try await APIRequestDecoder.body(of: request, context: context)
        let body = try JSON.decode(AskRequest.self, from: bytes)
        let question = try state.checkText(body.question, field: "question")
        var asked = try await state.askOptions(body.parameters)
        asked.schema = try ServerState.schema(body.parameters.responseFormat, body: bytes, answerTokens: asked.answerTokens)
        asked.ignoreEndOfGeneration = body.ignoreEos ?? false
        let options = asked, showReasoning = body.showReasoning ?? false, state = self.state, connection = context.connection, logger = context.logger
        // A client that hangs up while waiting for its turn, or for a whole answer, cancels it.
        return try await connection.cancelledOnHangUp {
            let pending = try await state.pendingAnswer(question, options: options, showReasoning: showReasoning)
            guard body.stream == true else {
                let result = try await pending.run { _ in }
                return JSON.response(.ok, AskReport(result, showReasoning: showReasoning))
            }
            return ServerSentEvents.response(connection: connection, logger: logger, failure: { ServerSentEvents.event("error", $0.body) }) { send in
                let result = try await pending.run { text in send(ServerSentEvents.event("token", Token(text: text))) }
                send(ServerSentEvents.event("sources", Sources(citations: AskReport.citations(result.sources))))
                send(ServerSentEvents.event("done", AskReport(result, showReasoning: showReasoning)))
            }
        }
    }
}
