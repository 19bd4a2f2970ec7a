internal import Foundation
internal import Hummingbird
internal import RAG

/// `POST /v1/ask`: the answer as JSON (as `rag ask --json`), or with `"stream":true` as
/// Server-Sent Events: `token` events (`{"text":…}`), one `sources` event
/// (`{"citations":[…]}`), then `done` (the rest of the JSON answer); `error` if it fails.
struct AskController: Controller {
    let state: ServerState

    func register(_ routes: RouteCollection<APIRequestContext>) {
        routes.post("/v1/ask", use: ask)
    }

    struct AskRequest: Decodable {
        var question: String
        var topK: Int?
        var template: String?
        var maxTokens: Int?
        var temperature: Float?
        var seed: UInt64?
        var mode: String?
        var abstainBelow: Double?
        /// Self-consistency: sample this many answers (at `vote_temperature`) and return the most frequent.
        var votes: Int?
        var voteTemperature: Float?
        var stream: Bool?
        var showReasoning: Bool?
        /// Generate `max_tokens` whatever the model says (as llama.cpp's server option).
        var ignoreEos: Bool?
    }

    struct Token: Encodable { var text: String }
    struct Sources: Encodable { var citations: [AskReport.Citation] }

    @Sendable func ask(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = try await request.decode(as: AskRequest.self, context: context)
        let question = try state.checkText(body.question, field: "question")
        var options = try await state.askOptions(.init(
            template: body.template, topK: body.topK, maxTokens: body.maxTokens, temperature: body.temperature, seed: body.seed,
            mode: body.mode, abstainBelow: body.abstainBelow, votes: body.votes, voteTemperature: body.voteTemperature))
        options.ignoreEndOfGeneration = body.ignoreEos ?? false
        let showReasoning = body.showReasoning ?? false
        let pending = try await state.pendingAnswer(question, options: options, showReasoning: showReasoning)
        guard body.stream == true else {
            let result = try await pending.run { _ in }
            return JSON.response(.ok, AskReport(result, showReasoning: showReasoning))
        }
        return ServerSentEvents.response(failure: { ServerSentEvents.event("error", $0.body) }) { send in
            let result = try await pending.run { text in try await send(ServerSentEvents.event("token", Token(text: text))) }
            try await send(ServerSentEvents.event("sources", Sources(citations: AskReport.citations(result.sources))))
            try await send(ServerSentEvents.event("done", AskReport(result, showReasoning: showReasoning)))
        }
    }
}
