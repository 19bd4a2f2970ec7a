public import Hummingbird
internal import HTTPTypes
internal import NIOCore
public import Logging
public import RAG

/// The HTTP API over one `RAGService`, ready to run: its embedder and answerer loaded, the
/// routes of every controller, the middleware (errors → JSON, metrics, API key, body limit).
/// `onRunning` gets the bound port (0 in the configuration picks a free one).
public func buildApplication(
    service: RAGService, configuration: ServerConfiguration, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    buildApplication(state: try ServerState(configuration: configuration, service: service), onRunning: onRunning)
}

func buildApplication(state: ServerState, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    let configuration = state.configuration
    var logger = Logger(label: "rag")
    logger.logLevel = configuration.logLevel
    return Application(
        router: buildRouter(state),
        // A connection with no request in flight (or one whose request stopped arriving) is
        // closed, and so is one whose client hung up.
        server: .http1(configuration: .init(additionalChannelHandlers: [HangUpHandler()], idleTimeout: TimeAmount(configuration.idleTimeout))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "rag"),
        onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
        logger: logger)
}

/// Every route of the API, one controller per area.
func endpoints(_ state: ServerState) -> [Endpoint] {
    let controllers: [any Controller] = [
        HealthController(state: state), SearchController(state: state), AskController(state: state),
        DocumentsController(state: state), OpenAIController(state: state), PageController(state: state),
    ]
    return controllers.flatMap(\.endpoints)
}

/// The routes behind their middleware.
func buildRouter(_ state: ServerState) -> Router<APIRequestContext> {
    let endpoints = endpoints(state)
    let router = Router(context: APIRequestContext.self)
    // The methods of each path, to tell an unknown path (404) from a known one asked with the wrong method (405).
    let methods = Dictionary(endpoints.map { ($0.path, [$0.method]) }, uniquingKeysWith: +)
    router.add(middleware: ErrorAndMetricsMiddleware(metrics: state.metrics, routes: methods))
    if let key = state.configuration.apiKey {
        router.add(middleware: BearerAuthMiddleware(key: key))
    } else {
        router.add(middleware: SameOriginMiddleware(host: state.configuration.host))
    }
    router.add(middleware: RequestLimitMiddleware(maxBodyBytes: state.configuration.maxBodyBytes, writeTimeout: state.configuration.writeTimeout, metrics: state.metrics))
    for endpoint in endpoints {
        router.on(RouterPath(endpoint.path), method: endpoint.method, use: endpoint.handler)
    }
    return router
}
