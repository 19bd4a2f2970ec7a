internal import Foundation
internal import Hummingbird
internal import NIOCore
internal import RAGCore
internal import RAGStorage

/// `GET /healthz` (what the index holds, which models, the queue) and `GET /metrics`
/// (Prometheus text).
struct HealthController: Controller {
    let state: ServerState

    var endpoints: [Endpoint] { [.get("/healthz", health), .get("/metrics", metrics)] }

    struct Health: ResponseEncodable {
        var status: String; var documents: Int; var chunks: Int; var model: String; var embedder: String
        var queueDepth: Int; var uptimeSeconds: Int
    }

    @Sendable func health(_ request: Request, context: APIRequestContext) async throws -> Health {
        let stats = try await state.recentStats()
        return Health(
            status: "ok", documents: stats.documents, chunks: stats.chunks, model: state.modelName, embedder: state.embedder.name,
            queueDepth: state.queue.depth, uptimeSeconds: Int(Date().timeIntervalSince(state.started)))
    }

    @Sendable func metrics(_ request: Request, context: APIRequestContext) async throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: state.metrics.text())))
    }
}
