internal import Hummingbird

/// The request context of every route: JSON bodies decoded and encoded as the API spells them
/// (snake-case keys, errors that name the field), up to the configured size.
struct APIRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// Largest JSON body a route decodes; `RequestLimitMiddleware` sets the configuration's.
    var maxBodyBytes = ServerConfiguration.defaultMaxBodyBytes

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    var maxUploadSize: Int { maxBodyBytes }
    var requestDecoder: APIRequestDecoder { APIRequestDecoder() }
    var responseEncoder: APIResponseEncoder { APIResponseEncoder() }
}

/// Gives each request the configuration's body limit.
struct RequestLimitMiddleware: RouterMiddleware {
    let maxBodyBytes: Int

    func handle(_ request: Request, context: APIRequestContext, next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        var context = context
        context.maxBodyBytes = maxBodyBytes
        return try await next(request, context)
    }
}
