internal import Foundation
internal import HTTPTypes
internal import Hummingbird
internal import NIOCore
internal import RAG
internal import RAGCore
internal import RAGStorage

/// A question on its way to an answer: taken from the answer cache, or holding a turn at the
/// generator. Decided before any byte of the response is sent, so a full queue is still a 503.
struct Turn: Sendable {
    let server: APIServer
    let question: String
    let options: AskOptions
    let showReasoning: Bool
    let lookup: Answerer.CacheLookup
    let ticket: GenerationQueue.Ticket?

    /// Runs the generation (unless cached), handing answer text to `onText` as it comes. When
    /// `onText` throws (the client went away) the generation stops at its next token.
    func run(_ onText: (String) async throws -> Void) async throws -> AskResult {
        defer { ticket?.release() }
        if let hit = lookup.hit {
            try await onText(hit.answer)
            return hit
        }
        var result: AskResult?
        do {
            for try await event in server.answerer.stream(question, options: options, showReasoning: showReasoning, lookup: lookup) {
                switch event {
                case .text(let text): try await onText(text)
                case .finished(let finished): result = finished
                }
            }
        } catch let error where !(error is RAGError) && !(error is APIError) {
            server.metrics.cancelledByClient()
            throw error
        }
        guard let result, result.generation?.stopReason != .cancelled else {
            // No answer, or one cut short: this task was cancelled (the client hung up).
            server.metrics.cancelledByClient()
            throw CancellationError()
        }
        server.metrics.retrieved(milliseconds: result.retrieveMilliseconds)
        if let g = result.generation {
            server.metrics.generated(prefillPerSecond: g.promptTokensPerSecond, decodePerSecond: g.decodeTokensPerSecond, firstToken: g.timeToFirstToken)
        }
        return result
    }
}

extension APIServer {
    /// Looks the question up in the answer cache, else waits for a turn at the generator
    /// (503 at once when the queue is full).
    func turn(_ question: String, options: AskOptions, showReasoning: Bool) async throws -> Turn {
        let answerer = self.answerer
        let lookup = try await blocking { try answerer.lookup(question, options: options, showReasoning: showReasoning) }
        if answerer.cache != nil, lookup.hit != nil || options.mode != .bm25 { metrics.cache(hit: lookup.hit != nil) }
        if lookup.hit != nil {
            return Turn(server: self, question: question, options: options, showReasoning: showReasoning, lookup: lookup, ticket: nil)
        }
        let ticket: GenerationQueue.Ticket
        do {
            ticket = try await queue.enter()
        } catch let error as APIError {
            metrics.rejectedByQueue()
            throw error
        }
        return Turn(server: self, question: question, options: options, showReasoning: showReasoning, lookup: lookup, ticket: ticket)
    }

    /// The options of one request: the server's defaults, overridden by what the request says
    /// (each checked).
    func askOptions(template: String?, topK: Int?, maxTokens: Int?, temperature: Float?, seed: UInt64?, mode: String?, abstainBelow: Double?) async throws -> AskOptions {
        var options = configuration.defaults
        try Self.check(topK, "top_k", in: 1...50)
        let context = answerer.generator.contextLength
        try Self.check(maxTokens, "max_tokens", in: 1...(context / 2))
        try Self.check(temperature, "temperature", in: 0...2)
        try Self.check(abstainBelow, "abstain_below", in: -1...1)
        if let template {
            do {
                try answerer.templates.check(template)
            } catch let error as RAGError {
                throw APIError.badRequest(error.message, code: "unknown_template")
            }
            options.template = template
        }
        options.mode = try await self.mode(mode)
        if let topK { options.topK = topK }
        if let maxTokens { options.answerTokens = maxTokens }
        if let temperature { options.sampling.temperature = temperature }
        if let seed { options.sampling.seed = seed }
        if let abstainBelow { options.abstainBelow = abstainBelow }
        return options
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
        var stream: Bool?
        var showReasoning: Bool?
        /// Generate `max_tokens` whatever the model says (as llama.cpp's server option).
        var ignoreEos: Bool?
    }

    /// `POST /v1/ask`: the answer as JSON (as `rag ask --json`), or with `"stream":true` as
    /// Server-Sent Events: `token` events (`{"text":…}`), one `sources` event
    /// (`{"citations":[…]}`), then `done` (the rest of the JSON answer); `error` if it fails.
    func ask(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        var request = request
        let body = try await body(AskRequest.self, &request)
        let question = try checkText(body.question, field: "question")
        var options = try await askOptions(
            template: body.template, topK: body.topK, maxTokens: body.maxTokens, temperature: body.temperature, seed: body.seed,
            mode: body.mode, abstainBelow: body.abstainBelow)
        options.ignoreEndOfGeneration = body.ignoreEos ?? false
        let showReasoning = body.showReasoning ?? false
        let turn = try await turn(question, options: options, showReasoning: showReasoning)
        guard body.stream == true else {
            let result = try await turn.run { _ in }
            return JSON.response(.ok, AskReport(result, showReasoning: showReasoning))
        }
        struct Token: Encodable { var text: String }
        struct Sources: Encodable { var citations: [AskReport.Citation] }
        return Self.eventStream(failure: { Self.sse("error", $0.body) }) { send in
            let result = try await turn.run { text in try await send(Self.sse("token", Token(text: text))) }
            try await send(Self.sse("sources", Sources(citations: AskReport.citations(result.sources))))
            try await send(Self.sse("done", AskReport(result, showReasoning: showReasoning)))
        }
    }
}
