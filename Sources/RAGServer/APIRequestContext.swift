internal import Hummingbird

/// The request context of every route: JSON bodies decoded and encoded as the API spells them
/// (snake-case keys, errors that name the field), up to the configured size, and the client's
/// connection (hang-ups cancel, slow writes close).
struct APIRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// Largest JSON body a route decodes; `RequestLimitMiddleware` sets the configuration's.
    var maxBodyBytes = ServerConfiguration.defaultMaxBodyBytes
    let connection: ClientConnection
    /// Set when no API key guards the server (`SameOriginMiddleware`): bodies must carry a
    /// Content-Type that a cross-site web form cannot send (JSON for the JSON routes).
    var refusesFormContentTypes = false

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        connection = ClientConnection(channel: source.channel)
    }

    var maxUploadSize: Int { maxBodyBytes }
    var requestDecoder: APIRequestDecoder { APIRequestDecoder() }
    var responseEncoder: APIResponseEncoder { APIResponseEncoder() }
}

/// Gives each request the configuration's body limit, and each response a deadline per write:
/// a client that stops reading has its connection reset after `writeTimeout`.
struct RequestLimitMiddleware: RouterMiddleware {
    let maxBodyBytes: Int
    let writeTimeout: Duration
    let metrics: ServerMetrics

    func handle(_ request: Request, context: APIRequestContext, next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        var context = context
        context.maxBodyBytes = maxBodyBytes
        var response = try await next(request, context)
        let body = response.body, connection = context.connection, timeout = writeTimeout, metrics = self.metrics
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            try await body.write(ClientConnection.DeadlineWriter(
                base: writer, connection: connection, timeout: timeout, onTimeout: { metrics.writeTimedOut() }))
        }
        return response
    }
}
