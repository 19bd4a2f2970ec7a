internal import Foundation
internal import HTTPTypes
internal import Hummingbird
internal import Logging

/// The outermost layer: every error becomes the API's JSON error, and every request is counted
/// and timed per route.
struct ErrorAndMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics
    /// The routes, to tell an unknown path (404) from a known one asked with the wrong method (405).
    let routes: [String: [HTTPRequest.Method]]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            var api = APIError.from(error)
            if api.status == .notFound, (error as? HTTPError) != nil {
                api = notFound(request)
            }
            if api.status.code >= 500, api.status != .serviceUnavailable {
                context.logger.error("\(request.method) \(request.uri.path): \(api.message)")
            }
            response = api.response()
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        metrics.request(route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: response.status.code, seconds: seconds)
        return response
    }

    private func notFound(_ request: Request) -> APIError {
        let path = request.uri.path
        for (pattern, methods) in routes where Self.matches(pattern, path) {
            return APIError(
                .methodNotAllowed, "\(request.method) is not allowed on \(path); use \(methods.map(\.rawValue).joined(separator: " or "))",
                code: "method_not_allowed", headers: [.allow: methods.map(\.rawValue).joined(separator: ", ")])
        }
        return APIError(.notFound, "no route \(request.method) \(path); see the README's HTTP API section", code: "route_not_found")
    }

    /// `/v1/documents/{id}` matches `/v1/documents/7`.
    static func matches(_ pattern: String, _ path: String) -> Bool {
        let a = pattern.split(separator: "/"), b = path.split(separator: "/")
        return a.count == b.count && zip(a, b).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
    }
}

/// With an API key, every route but `/healthz` needs `Authorization: Bearer KEY`.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path != "/healthz" else { return try await next(request, context) }
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
