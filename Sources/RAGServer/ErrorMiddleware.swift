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
                context.logger.error("\(request.method) \(request.uri.path): \(api.detail ?? api.message)")
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
