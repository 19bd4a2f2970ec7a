internal import HTTPTypes
internal import Hummingbird

/// One area of the API: its endpoints, each a method, a path and its handler.
protocol Controller {
    var endpoints: [Endpoint] { get }
}

/// A route as data, so the router and the 404/405 table are both built from the one list.
struct Endpoint: Sendable {
    var method: HTTPRequest.Method
    var path: String
    var handler: @Sendable (Request, APIRequestContext) async throws -> Response

    init<Output: ResponseGenerator>(
        _ method: HTTPRequest.Method, _ path: String, _ handler: @escaping @Sendable (Request, APIRequestContext) async throws -> Output
    ) {
        self.method = method
        self.path = path
        self.handler = { request, context in try await handler(request, context).response(from: request, context: context) }
    }

    static func get<Output: ResponseGenerator>(
        _ path: String, _ handler: @escaping @Sendable (Request, APIRequestContext) async throws -> Output
    ) -> Endpoint { Endpoint(.get, path, handler) }

    static func post<Output: ResponseGenerator>(
        _ path: String, _ handler: @escaping @Sendable (Request, APIRequestContext) async throws -> Output
    ) -> Endpoint { Endpoint(.post, path, handler) }

    static func delete<Output: ResponseGenerator>(
        _ path: String, _ handler: @escaping @Sendable (Request, APIRequestContext) async throws -> Output
    ) -> Endpoint { Endpoint(.delete, path, handler) }
}
