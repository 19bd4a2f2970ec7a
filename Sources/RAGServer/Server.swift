public import Foundation
internal import HTTPTypes
public import Hummingbird
public import Logging
internal import NIOCore
public import RAG
internal import RAGCore
public import RAGStorage

/// What `rag serve` is told on its command line.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// When set, every route but /healthz needs `Authorization: Bearer KEY`.
    public var apiKey: String?
    /// Generations waiting behind the running one before requests are refused with 503.
    public var queueCapacity = 8
    /// Largest JSON body, bytes.
    public var maxBodyBytes = 1 << 20
    /// Largest upload, bytes.
    public var maxUploadBytes = 32 << 20
    public var maxQuestionCharacters = 4000
    /// Defaults of /v1/ask and chat completions.
    public var defaults = AskOptions()
    /// Server errors (5xx) are logged at `.error`.
    public var logLevel = Logger.Level.warning
    public init() {}
}

/// The HTTP API over one `RAGService`: its index, embedder and answerer, plus the generation
/// queue and the metrics.
public final class APIServer: Sendable {
    public let configuration: ServerConfiguration
    public let service: RAGService
    let store: Store
    let embedder: any Embedder
    let answerer: Answerer
    let queue: GenerationQueue
    let metrics: ServerMetrics
    let started = Date()

    /// Loads the service's embedder and answerer (the server needs both before it listens).
    public init(configuration: ServerConfiguration, service: RAGService) throws {
        self.configuration = configuration
        self.service = service
        store = service.store
        embedder = try service.embedder()
        answerer = try service.answerer()
        let metrics = ServerMetrics()
        self.metrics = metrics
        queue = GenerationQueue(capacity: configuration.queueCapacity) { metrics.queue(depth: $0) }
    }

    var modelName: String { answerer.generator.modelName }

    /// The router with every route and the middleware (errors → JSON, metrics, API key).
    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let routes: [String: [HTTPRequest.Method]] = [
            "/healthz": [.get], "/metrics": [.get], "/v1/search": [.post], "/v1/ask": [.post],
            "/v1/documents": [.get, .post], "/v1/documents/{id}": [.delete], "/v1/chat/completions": [.post],
            "/v1/embeddings": [.post], "/v1/models": [.get],
        ]
        router.add(middleware: ErrorAndMetricsMiddleware(metrics: metrics, routes: routes))
        if let key = configuration.apiKey { router.add(middleware: BearerAuthMiddleware(key: key)) }
        router.get("/healthz") { _, _ in try await self.health() }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: self.metrics.text())))
        }
        router.post("/v1/search") { request, context in try await self.search(request, context) }
        router.post("/v1/ask") { request, context in try await self.ask(request, context) }
        router.get("/v1/documents") { request, _ in try await self.listDocuments(request) }
        router.post("/v1/documents") { request, context in try await self.upload(request, context) }
        router.delete("/v1/documents/{id}") { _, context in try await self.deleteDocument(context) }
        router.post("/v1/chat/completions") { request, context in try await self.chatCompletions(request, context) }
        router.post("/v1/embeddings") { request, context in try await self.embeddings(request, context) }
        router.get("/v1/models") { _, _ in self.models() }
        return router
    }

    /// Runs the server until the process is told to stop; `onRunning` gets the bound port.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var logger = Logger(label: "rag")
        logger.logLevel = configuration.logLevel
        let app = Application(
            router: router(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "rag"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.runService()
    }

    // MARK: - Helpers

    /// Runs blocking work (SQLite, the encoder) on a global queue, off the concurrency pool.
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Collects and decodes the body.
    func body<T: Decodable>(_ type: T.Type, _ request: inout Request, limit: Int? = nil) async throws -> T {
        let buffer = try await request.body.collect(upTo: limit ?? configuration.maxBodyBytes)
        return try JSON.decode(T.self, from: buffer)
    }

    func checkText(_ text: String, field: String) throws -> String {
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

    static func sse(_ event: String?, _ value: some Encodable) -> ByteBuffer {
        var text = event.map { "event: \($0)\n" } ?? ""
        text += "data: " + String(decoding: JSON.data(value), as: UTF8.self) + "\n\n"
        return ByteBuffer(string: text)
    }

    static let sseHeaders: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"]

    /// A Server-Sent Events response: `events` writes them through `send`; if it throws, the
    /// error goes out as the event `failure` makes of it, and the stream ends either way. (A
    /// write to a client that hung up fails, which stops a generation at its next token.)
    static func eventStream(
        failure: @escaping @Sendable (APIError) -> ByteBuffer,
        _ events: @escaping @Sendable (_ send: (ByteBuffer) async throws -> Void) async throws -> Void
    ) -> Response {
        Response(status: .ok, headers: sseHeaders, body: ResponseBody { writer in
            do {
                try await events { try await writer.write($0) }
            } catch {
                try? await writer.write(failure(APIError.from(error)))
            }
            try await writer.finish(nil)
        })
    }

    // MARK: - Health

    func health() async throws -> Response {
        struct Health: Encodable {
            var status: String; var documents: Int; var chunks: Int; var model: String; var embedder: String
            var queueDepth: Int; var uptimeSeconds: Int
        }
        let stats = try await blocking { try self.store.stats() }
        return JSON.response(.ok, Health(
            status: "ok", documents: stats.documents, chunks: stats.chunks, model: modelName, embedder: embedder.name,
            queueDepth: queue.depth, uptimeSeconds: Int(Date().timeIntervalSince(started))))
    }

    // MARK: - Search

    struct SearchRequest: Decodable {
        var query: String
        var topK: Int?
        var mode: String?
    }

    struct SearchResult: Encodable {
        var rank: Int; var chunkId: Int64; var document: String; var heading: String; var score: Double
        var text: String; var snippet: String; var start: Int; var end: Int
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

    func search(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        var request = request
        let body = try await body(SearchRequest.self, &request)
        let query = try checkText(body.query, field: "query")
        try Self.check(body.topK, "top_k", in: 1...100)
        let mode = try await mode(body.mode)
        let topK = body.topK ?? 10
        let service = self.service
        let start = DispatchTime.now().uptimeNanoseconds
        let hits = try await blocking { try service.search(query, mode: mode, topK: topK).hits }
        let took = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        metrics.retrieved(milliseconds: took)
        struct Output: Encodable { var results: [SearchResult]; var mode: String; var tookMs: Double }
        return JSON.response(.ok, Output(
            results: hits.enumerated().map { i, h in
                SearchResult(rank: i + 1, chunkId: h.chunkID.rawValue, document: h.document, heading: h.heading, score: h.score,
                             text: h.text, snippet: h.snippet, start: h.start, end: h.end)
            },
            mode: mode.rawValue, tookMs: (took * 10).rounded() / 10))
    }
}
