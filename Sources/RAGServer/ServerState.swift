internal import Foundation
internal import NIOCore
internal import RAG
internal import RAGCore
internal import RAGLLM
internal import RAGStorage
internal import Synchronization

/// What every controller shares: the service and the stages it loaded (the embedder and the
/// answerer, before the server listens), the generation queue, the metrics, and the checks a
/// request's values go through.
final class ServerState: Sendable {
    let configuration: ServerConfiguration
    let service: RAGService
    let embedder: any Embedder
    let answerer: Answerer
    let queue: GenerationQueue
    let metrics: ServerMetrics
    /// `GET /openapi.json`: the API's description with this server's templates and limits.
    let apiDescription: OpenAPIDocument
    let started = Date()

    init(configuration: ServerConfiguration, service: RAGService) throws {
        self.configuration = configuration
        self.service = service
        embedder = try service.embedder()
        answerer = try service.answerer()
        let metrics = ServerMetrics()
        self.metrics = metrics
        queue = GenerationQueue(slots: answerer.generator.parallel, capacity: configuration.queueCapacity) { metrics.queue(running: $0, waiting: $1) }
        metrics.generation(slots: queue.slots)
        apiDescription = try OpenAPIDocument(
            templates: answerer.templates.names, maxTokens: Self.maxAnswerTokens(configuration, contextLength: answerer.generator.contextLength),
            model: answerer.generator.modelName, embedder: embedder.name, dimensions: embedder.dimensions)
    }

    /// What `/healthz` says of the index, kept so that a health check does no index work on
    /// its request (under load it waited a second and more behind searches and uploads for the
    /// blocking threads): at most a second old, refreshed off the request path, and read again
    /// by this server's own writes.
    private let indexStats = Mutex<(stats: StoreStats, taken: ContinuousClock.Instant, refreshing: Bool)?>(nil)

    var store: any IndexStore { service.store }

    /// The index's counts as of at most about a second ago (another process may be writing).
    func recentStats() async throws -> StoreStats {
        let now = ContinuousClock.now
        let cached: StoreStats? = indexStats.withLock { state in
            guard let current = state else { return nil }
            if !current.refreshing, current.taken.duration(to: now) > .seconds(1) {
                state?.refreshing = true
                let store = self.store
                Task {
                    let fresh = try? await self.blocking { try store.stats() }
                    self.indexStats.withLock { state in
                        if let fresh { state = (fresh, .now, false) } else { state?.refreshing = false }
                    }
                }
            }
            return current.stats
        }
        if let cached { return cached }
        let store = self.store
        let stats = try await blocking { try store.stats() }
        indexStats.withLock { $0 = (stats, .now, false) }
        return stats
    }

    /// This server changed the index: the counts are read again here, on the writer's time,
    /// not on a health check's.
    func indexChanged() async {
        let store = self.store
        guard let stats = try? await blocking({ try store.stats() }) else {
            indexStats.withLock { $0 = nil }
            return
        }
        indexStats.withLock { $0 = (stats, .now, false) }
    }

    /// The most tokens a request may ask for: the configuration's limit, within half the context.
    var maxAnswerTokens: Int { Self.maxAnswerTokens(configuration, contextLength: answerer.generator.contextLength) }

    static func maxAnswerTokens(_ configuration: ServerConfiguration, contextLength: Int) -> Int {
        min(configuration.maxAnswerTokens, contextLength / 2)
    }
    var modelName: String { answerer.generator.modelName }

    /// Runs blocking work (SQLite, the encoder) on a global queue, off the concurrency pool.
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// A question or query: trimmed, not empty, not longer than the configuration allows — in
    /// bytes first (4 per character: one Character can be a megabyte of combining marks, and
    /// counting Characters is itself work), then in characters.
    func checkText(_ text: String, field: String) throws -> String {
        let maxBytes = configuration.maxQuestionCharacters * 4
        guard text.utf8.count <= maxBytes else {
            throw APIError.badRequest(
                "`\(field)` is \(text.utf8.count) bytes of UTF-8; the limit is \(maxBytes) (\(configuration.maxQuestionCharacters) characters)",
                code: "\(field)_too_long")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw APIError.badRequest("`\(field)` is empty", code: "empty_\(field)") }
        guard text.count <= configuration.maxQuestionCharacters else {
            throw APIError.badRequest("`\(field)` has \(text.count) characters; the limit is \(configuration.maxQuestionCharacters)", code: "\(field)_too_long")
        }
        return trimmed
    }

    static func check<T: Comparable>(_ value: T?, _ field: String, in range: ClosedRange<T>) throws {
        if let value, !range.contains(value) {
            throw APIError.badRequest("`\(field)` must be between \(range.lowerBound) and \(range.upperBound) (got \(value))", code: "\(field)_out_of_range")
        }
    }

    /// The request's search mode, or the service's default for this index when it names none.
    func mode(_ name: String?) async throws -> SearchMode {
        guard let name else {
            let service = self.service
            return try await blocking { try service.mode() }
        }
        guard let mode = SearchMode(rawValue: name) else {
            throw APIError.badRequest("`mode` must be bm25, dense or hybrid (got \"\(name)\")", code: "invalid_mode")
        }
        return mode
    }

    /// What a request may set of an answer's options; nil keeps the server's default.
    struct AnswerParameters: Decodable {
        var template: String?
        var topK: Int?
        var maxTokens: Int?
        /// Doubles, as JSON has them: a tiny value (1e-300) is a temperature too, though no Float holds it.
        var temperature: Double?
        var seed: UInt64?
        var mode: String?
        var abstainBelow: Double?
        /// Self-consistency: sample this many answers (at `vote_temperature`) and return the most frequent.
        var votes: Int?
        var voteTemperature: Double?
        /// Only sources from the documents this passes.
        var filter: FilterBody?
        /// Structured answers, as OpenAI's API asks for them; the schema itself is read from
        /// the body as written (`schema(_:body:)`).
        var responseFormat: ResponseFormatBody?
    }

    /// `response_format` as far as the snake-case decoding may read it: its `json_schema`'s
    /// `schema` is only checked to be an object here and read as written by `schema(_:body:answerTokens:)`.
    struct ResponseFormatBody: Decodable {
        var type: String
        var jsonSchema: JSONSchemaBody?

        struct JSONSchemaBody: Decodable {
            var name: String?
            var strict: Bool?
            var schema: SomeObject
        }

        /// Any JSON object (its members are not decoded).
        struct SomeObject: Decodable {
            struct Key: CodingKey {
                var stringValue: String
                var intValue: Int? { nil }
                init(stringValue: String) { self.stringValue = stringValue }
                init?(intValue: Int) { nil }
            }
            init(from decoder: any Decoder) throws { _ = try decoder.container(keyedBy: Key.self) }
        }
    }

    /// The schema a `response_format` asks for: `text` none, `json_object` any object,
    /// `json_schema` its `json_schema.schema` — read from the body's own text, since the
    /// snake-case decoding rewrites keys. 400 `invalid_response_format` for a malformed one,
    /// `unsupported_schema` for a keyword outside the subset rag holds answers to.
    /// The schema is built into its automaton here, so a schema too large, or whose shortest
    /// JSON does not fit `answerTokens`, is refused before the request waits for its turn.
    static func schema(_ format: ResponseFormatBody?, body: ByteBuffer, answerTokens: Int) throws -> JSONSchema? {
        let schema: JSONSchema, field: String
        switch format?.type {
        case nil, "text": return nil
        case "json_object": (schema, field) = (.anyObject, "`response_format` json_object")
        case "json_schema":
            guard format?.jsonSchema != nil, let value = try? JSONValue.parse(Array(body.readableBytesView)),
                  let source = value["response_format"]?["json_schema"]?["schema"] else {
                throw APIError.badRequest("`response_format.json_schema.schema` is missing: give the JSON schema the answer must match", code: "invalid_response_format")
            }
            do {
                (schema, field) = (try JSONSchema(source), "`response_format.json_schema.schema`")
            } catch let error as RAGError {
                throw APIError.badRequest("`response_format.json_schema.schema`: \(error.message)", code: "unsupported_schema")
            }
        case let other?:
            throw APIError.badRequest("`response_format.type` is `\(other)`; use text, json_object or json_schema", code: "invalid_response_format")
        }
        do {
            let shortest = try JSONGrammar(schema).automaton.distance(0)
            guard shortest <= answerTokens else {
                throw RAGError(.invalidInput, "its shortest JSON takes up to \(shortest) tokens and the answer may have \(answerTokens): raise max_tokens or ask for less")
            }
            return schema
        } catch let error as RAGError {
            throw APIError.badRequest("\(field): \(error.message)", code: "unsupported_schema")
        }
    }

    /// A filter as requests spell it: `tags` as `KEY=VALUE` strings (an object's keys would be
    /// rewritten by the snake-case decoding), `ingested_after` in seconds since 1970.
    struct FilterBody: Decodable {
        var path: String?
        var tags: [String]?
        var ingestedAfter: Double?
    }

    /// The filter a request asked for, checked (400 `invalid_filter`); nil when it asked none.
    static func searchFilter(_ body: FilterBody?) throws -> SearchFilter? {
        guard let body else { return nil }
        var filter = SearchFilter(path: body.path, ingestedAfter: body.ingestedAfter)
        let tags = body.tags ?? []
        guard tags.count <= 32 else { throw APIError.badRequest("`filter.tags` holds at most 32 tags (got \(tags.count))", code: "invalid_filter") }
        for item in tags {
            // By scalars: a combining mark after `=` does not hide it.
            let scalars = item.unicodeScalars
            guard scalars.count <= 1000, let equals = scalars.firstIndex(of: "="), equals != scalars.startIndex else {
                throw APIError.badRequest("`filter.tags` holds KEY=VALUE strings of at most 1000 characters (got \"\(item.prefix(100))\")", code: "invalid_filter")
            }
            filter.tags.addTag(String(scalars[..<equals]), String(scalars[scalars.index(after: equals)...]))
        }
        do {
            return filter.isEmpty ? nil : try filter.validated()
        } catch let error as RAGError {
            throw APIError.badRequest(error.message, code: "invalid_filter")
        }
    }

    /// The options of one request: the server's defaults, overridden by what the request says
    /// (each checked).
    func askOptions(_ parameters: AnswerParameters) async throws -> AskOptions {
        var options = configuration.defaults
        try Self.check(parameters.topK, "top_k", in: 1...50)
        try Self.check(parameters.maxTokens, "max_tokens", in: 1...maxAnswerTokens)
        try Self.check(parameters.temperature, "temperature", in: 0...2)
        try Self.check(parameters.abstainBelow, "abstain_below", in: -1...1)
        try Self.check(parameters.votes, "votes", in: 1...15)
        try Self.check(parameters.voteTemperature, "vote_temperature", in: 0.01...2)
        if let template = parameters.template {
            do {
                try answerer.templates.check(template)
            } catch let error as RAGError {
                throw APIError.badRequest(error.message, code: "unknown_template")
            }
            options.template = template
        }
        options.mode = try await mode(parameters.mode)
        if let topK = parameters.topK { options.topK = topK }
        if let maxTokens = parameters.maxTokens { options.answerTokens = maxTokens }
        if let temperature = parameters.temperature { options.sampling.temperature = Float(temperature) }
        if let seed = parameters.seed { options.sampling.seed = seed }
        if let abstainBelow = parameters.abstainBelow { options.abstainBelow = abstainBelow }
        if let votes = parameters.votes { options.votes = votes }
        if let voteTemperature = parameters.voteTemperature { options.voteTemperature = Float(voteTemperature) }
        options.filter = try Self.searchFilter(parameters.filter)
        // Voting generates `votes` answers: together they hold the generator for at most four
        // answers of the longest length, so each sample is that budget divided by `votes` long.
        if options.votes > 1 {
            options.answerTokens = min(options.answerTokens, max(1, 4 * maxAnswerTokens / options.votes))
        }
        return options
    }

    /// Looks the question up in the answer cache, else waits for a turn at the generator
    /// (503 at once when the queue is full).
    func pendingAnswer(_ question: String, options: AskOptions, showReasoning: Bool, after turns: [ChatMessage] = []) async throws -> PendingAnswer {
        let answerer = self.answerer
        // A follow-up consults the cache once it stands alone, on the generator's turn.
        let followUp = turns.contains { $0.role == .user }
        let lookup = followUp ? .none : try await blocking { try answerer.lookup(question, options: options, showReasoning: showReasoning) }
        if answerer.cache != nil, lookup.hit != nil || options.mode != .bm25 { metrics.cache(hit: lookup.hit != nil) }
        var ticket: GenerationQueue.Ticket?
        if lookup.hit == nil {
            do {
                ticket = try await queue.enter()
            } catch let error as APIError {
                metrics.rejectedByQueue()
                throw error
            }
        }
        return PendingAnswer(
            state: self, work: .question(question, showReasoning: showReasoning, lookup: lookup, turns: followUp ? turns : []), options: options,
            ticket: ticket)
    }

    /// A conversation for the model alone, holding its place at the generator.
    func pendingReply(_ messages: [ChatMessage], options: AskOptions) async throws -> PendingAnswer {
        do {
            return PendingAnswer(state: self, work: .conversation(messages), options: options, ticket: try await queue.enter())
        } catch let error as APIError {
            metrics.rejectedByQueue()
            throw error
        }
    }
}
