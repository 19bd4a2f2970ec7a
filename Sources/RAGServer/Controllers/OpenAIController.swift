internal import Foundation
internal import HTTPTypes
internal import Hummingbird
internal import NIOCore
internal import RAG
internal import RAGCore

/// OpenAI-compatible routes, so existing clients work unchanged: chat completions (model `rag`,
/// or `rag:TEMPLATE`: the last user message is answered with retrieval; the generator's own model
/// name: the conversation goes to the model alone, as a plain model server does — so one rag can
/// write the answers of another), embeddings, models.
struct OpenAIController: Controller {
    let state: ServerState

    var endpoints: [Endpoint] {
        [.post("/v1/chat/completions", chatCompletions), .post("/v1/embeddings", embeddings), .get("/v1/models", models)]
    }

    struct ChatRequest: Decodable {
        struct Message: Decodable {
            var role: String
            var content: Content?
        }
        /// A string, or an array of parts of which the text parts count.
        struct Content: Decodable {
            var text: String
            struct Part: Decodable { var type: String; var text: String? }
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) {
                    self.text = text
                } else {
                    let parts = try container.decode([Part].self)
                    text = parts.filter { $0.type == "text" }.compactMap(\.text).joined(separator: "\n")
                }
            }
        }
        struct StreamOptions: Decodable { var includeUsage: Bool? }
        var model: String
        var messages: [Message]
        var stream: Bool?, streamOptions: StreamOptions?
        /// `max_completion_tokens` is the newer name of `max_tokens`; either limits the answer.
        var maxTokens: Int?, maxCompletionTokens: Int?
        var temperature: Double?, seed: UInt64?
        /// Choices: only 1 is served.
        var n: Int?
        /// `json_object` or `json_schema`: the answer is JSON the schema allows.
        var responseFormat: ServerState.ResponseFormatBody?
    }

    struct Usage: Encodable { var promptTokens: Int; var completionTokens: Int; var totalTokens: Int }

    /// What a model name selects: `rag` → retrieval with the default template, `rag:cot` → with
    /// cot; the generator's name → the model alone.
    enum Target: Equatable {
        case retrieval(template: String?)
        case model
    }

    func target(forModel model: String) throws -> Target {
        if model == "rag" { return .retrieval(template: nil) }
        if model.hasPrefix("rag:") { return .retrieval(template: String(model.dropFirst(4))) }
        if model == state.modelName { return .model }
        throw APIError(
            .notFound, "the model `\(model)` does not exist; use `rag` (or `rag:TEMPLATE`, e.g. rag:cot), or `\(state.modelName)` for the model without retrieval",
            code: "model_not_found")
    }

    /// A conversation's turns for the model alone (`developer` is OpenAI's newer `system`).
    static func turns(_ messages: [ChatRequest.Message]) throws -> [ChatMessage] {
        try messages.enumerated().map { index, message in
            let role: ChatMessage.Role
            switch message.role {
            case "system", "developer": role = .system
            case "user": role = .user
            case "assistant": role = .assistant
            default:
                throw APIError.badRequest(
                    "`messages[\(index)].role` is `\(message.role)`; the model takes system, developer, user and assistant turns", code: "unsupported_role")
            }
            return ChatMessage(role, message.content?.text ?? "")
        }
    }

    @Sendable func chatCompletions(_ request: Request, context: APIRequestContext) async throws -> Response {
        let bytes = try await APIRequestDecoder.body(of: request, context: context)
        let body = try JSON.decode(ChatRequest.self, from: bytes)
        let target = try target(forModel: body.model)
        guard !body.messages.isEmpty else { throw APIError.badRequest("`messages` is empty", code: "empty_messages") }
        try ServerState.check(body.n, "n", in: 1...1)
        // Both names are checked, whichever is used.
        try ServerState.check(body.maxTokens, "max_tokens", in: 1...state.maxAnswerTokens)
        try ServerState.check(body.maxCompletionTokens, "max_completion_tokens", in: 1...state.maxAnswerTokens)
        guard let last = body.messages.last(where: { $0.role == "user" }), let content = last.content else {
            throw APIError.badRequest("`messages` holds no user message to answer", code: "no_user_message")
        }
        // A question for retrieval has the questions' limits; a conversation for the model is
        // bounded by the body's size and the context.
        let question: String, template: String?, turns: [ChatMessage]
        switch target {
        case .retrieval(let named):
            // The turns before the last question (user and assistant ones) make a follow-up stand alone.
            let earlier = body.messages[..<body.messages.lastIndex(where: { $0.role == "user" })!].compactMap { message -> ChatMessage? in
                guard let role = ChatMessage.Role(rawValue: message.role), role != .system, let text = message.content?.text else { return nil }
                return ChatMessage(role, text)
            }
            (question, template, turns) = (try state.checkText(content.text, field: "question"), named, Array(earlier.suffix(6)))
        case .model:
            (question, template, turns) = ("", nil, try Self.turns(body.messages))
        }
        var asked = try await state.askOptions(.init(
            template: template, maxTokens: body.maxCompletionTokens ?? body.maxTokens, temperature: body.temperature, seed: body.seed))
        asked.schema = try ServerState.schema(body.responseFormat, body: bytes, answerTokens: asked.answerTokens)
        let state = self.state, connection = context.connection, logger = context.logger, stream = body.stream, model = body.model, options = asked
        let includeUsage = body.streamOptions?.includeUsage ?? false
        // A client that hangs up while waiting for its turn, or for a whole answer, cancels it.
        return try await connection.cancelledOnHangUp {
            let pending = try await target == .model
                ? state.pendingReply(turns, options: options) : state.pendingAnswer(question, options: options, showReasoning: false, after: turns)
            let id = "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let created = Int(Date().timeIntervalSince1970)
            @Sendable func finishReason(_ result: AskResult) -> String {
                result.generation?.stopReason == .maxTokens ? "length" : "stop"
            }
            @Sendable func usage(_ result: AskResult) -> Usage {
                let prompt = result.generation?.promptTokens.count ?? 0, completion = result.generation?.tokens.count ?? 0
                return Usage(promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion)
            }
            if stream != true {
                let result = try await pending.run { _ in }
                struct Message: Encodable { var role = "assistant"; var content: String }
                struct Choice: Encodable { var index = 0; var message: Message; var finishReason: String }
                struct Output: Encodable {
                    var id: String; var object = "chat.completion"; var created: Int; var model: String; var choices: [Choice]
                    var usage: Usage; var citations: [AskReport.Citation]; var cached: Bool
                    /// A follow-up made to stand alone (what retrieval searched with).
                    var standaloneQuestion: String?
                }
                return JSON.response(.ok, Output(
                    id: id, created: created, model: model,
                    choices: [Choice(message: Message(content: result.answer), finishReason: finishReason(result))],
                    usage: usage(result), citations: AskReport.citations(result.sources), cached: result.cached,
                    standaloneQuestion: result.standaloneQuestion))
            }
            struct Delta: Encodable { var role: String?; var content: String? }
            struct Choice: Encodable { var index = 0; var delta: Delta; var finishReason: String? }
            struct Chunk: Encodable {
                var id: String; var object = "chat.completion.chunk"; var created: Int; var model: String; var choices: [Choice]
                var usage: Usage?; var citations: [AskReport.Citation]?; var standaloneQuestion: String?
                // Explicit nulls, as OpenAI sends them.
                enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage, citations, standaloneQuestion }
                func encode(to encoder: any Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(id, forKey: .id); try c.encode(object, forKey: .object); try c.encode(created, forKey: .created)
                    try c.encode(model, forKey: .model); try c.encode(choices, forKey: .choices)
                    try c.encode(usage, forKey: .usage)
                    try c.encodeIfPresent(citations, forKey: .citations)
                    try c.encodeIfPresent(standaloneQuestion, forKey: .standaloneQuestion)
                }
            }
            @Sendable func chunk(_ delta: Delta, finish: String? = nil) -> ByteBuffer {
                ServerSentEvents.event(nil, Chunk(id: id, created: created, model: model, choices: [Choice(delta: delta, finishReason: finish)]))
            }
            return ServerSentEvents.response(connection: connection, logger: logger, failure: { ServerSentEvents.event(nil, $0.body) }) { send in
                send(chunk(Delta(role: "assistant", content: "")))
                let result = try await pending.run { text in send(chunk(Delta(content: text))) }
                var last = Chunk(id: id, created: created, model: model, choices: [Choice(delta: Delta(), finishReason: finishReason(result))])
                last.citations = AskReport.citations(result.sources)
                last.standaloneQuestion = result.standaloneQuestion
                send(ServerSentEvents.event(nil, last))
                if includeUsage {
                    send(ServerSentEvents.event(nil, Chunk(id: id, created: created, model: model, choices: [], usage: usage(result))))
                }
                send(ByteBuffer(string: "data: [DONE]\n\n"))
            }
        }
    }

    struct EmbeddingsRequest: Decodable {
        /// A string or an array of strings (token-id arrays are refused: the ids would be another model's).
        struct Input: Decodable {
            var texts: [String]
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let one = try? container.decode(String.self) {
                    texts = [one]
                } else if let many = try? container.decode([String].self) {
                    texts = many
                } else {
                    throw DecodingError.typeMismatch(
                        String.self, .init(codingPath: decoder.codingPath, debugDescription: "expected a string or an array of strings"))
                }
            }
        }
        var input: Input
        var model: String
        var encodingFormat: String?
        var dimensions: Int?
    }

    static let embeddingModels = ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "rag"]

    struct Embedding: Encodable {
        var object = "embedding"; var index: Int; var embedding: Vector
        enum Vector: Encodable {
            case floats([Float]), base64(String)
            func encode(to encoder: any Encoder) throws {
                var c = encoder.singleValueContainer()
                switch self {
                case .floats(let v): try c.encode(v)
                case .base64(let s): try c.encode(s)
                }
            }
        }
    }
    struct EmbeddingList: ResponseEncodable {
        var object = "list"; var data: [Embedding]; var model: String; var usage: EmbeddingUsage
    }
    struct EmbeddingUsage: Encodable { var promptTokens: Int; var totalTokens: Int }

    @Sendable func embeddings(_ request: Request, context: APIRequestContext) async throws -> EmbeddingList {
        let body = try await request.decode(as: EmbeddingsRequest.self, context: context)
        let embedder = state.embedder
        guard Self.embeddingModels.contains(body.model) || body.model == embedder.name else {
            throw APIError(.notFound, "the embedding model `\(body.model)` does not exist; use all-MiniLM-L6-v2", code: "model_not_found")
        }
        let texts = body.input.texts
        guard !texts.isEmpty else { throw APIError.badRequest("`input` is empty", code: "empty_input") }
        guard texts.count <= 256 else { throw APIError.badRequest("`input` has \(texts.count) texts; the limit is 256", code: "too_many_inputs") }
        for (i, text) in texts.enumerated() {
            guard !text.isEmpty else { throw APIError.badRequest("`input[\(i)]` is empty", code: "empty_input") }
            guard text.count <= 20_000 else { throw APIError.badRequest("`input[\(i)]` is longer than 20000 characters", code: "input_too_long") }
        }
        let format = body.encodingFormat ?? "float"
        guard format == "float" || format == "base64" else {
            throw APIError.badRequest("`encoding_format` must be float or base64", code: "invalid_encoding_format")
        }
        if let dimensions = body.dimensions, dimensions != embedder.dimensions {
            throw APIError.badRequest("`dimensions`: this model gives \(embedder.dimensions)-d vectors only", code: "invalid_dimensions")
        }
        let (vectors, tokens) = try await state.blocking {
            embedder.embedCountingTokens(texts)
        }
        let items = vectors.enumerated().map { i, v in
            Embedding(index: i, embedding: format == "base64"
                ? .base64(v.withUnsafeBytes { Data($0) }.base64EncodedString())  // little-endian f32, as OpenAI sends
                : .floats(v))
        }
        return EmbeddingList(data: items, model: body.model, usage: EmbeddingUsage(promptTokens: tokens, totalTokens: tokens))
    }

    struct Model: Encodable { var id: String; var object = "model"; var created: Int; var ownedBy = "rag" }
    struct ModelList: ResponseEncodable { var object = "list"; var data: [Model] }

    @Sendable func models(_ request: Request, context: APIRequestContext) -> ModelList {
        let created = Int(state.started.timeIntervalSince1970)
        var data = [Model(id: "rag", created: created)]
        data += state.answerer.templates.names.filter { $0 != "default" }.map { Model(id: "rag:\($0)", created: created) }
        data.append(Model(id: state.modelName, created: created))
        data.append(Model(id: state.embedder.name, created: created))
        return ModelList(data: data)
    }
}
