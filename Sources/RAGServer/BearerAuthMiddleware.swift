internal import HTTPTypes
internal import Hummingbird

/// With an API key, every route but `/healthz`, the web page's files and the API's description needs
/// `Authorization: Bearer KEY`.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path != "/healthz", !PageController.publicPaths.contains(request.uri.path) else {
            return try await next(request, context)
        }
        let header = request.headers[.authorization] ?? ""
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), Self.constantTimeEqual(Array(header.utf8.dropFirst(prefix.utf8.count)), Array(key.utf8)) else {
            throw APIError(
                .unauthorized, header.isEmpty ? "missing API key: send Authorization: Bearer KEY" : "wrong API key",
                code: header.isEmpty ? "missing_api_key" : "invalid_api_key", headers: [.wwwAuthenticate: "Bearer"])
        }
        return try await next(request, context)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
