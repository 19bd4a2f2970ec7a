internal import Foundation
internal import Hummingbird
internal import RAG
internal import RAGCore

/// `POST /v1/search`: the chunks that best match a query (bm25, dense or hybrid).
struct SearchController: Controller {
    let state: ServerState

    var endpoints: [Endpoint] { [.post("/v1/search", search)] }

    struct SearchRequest: Decodable { var query: String; var topK: Int?; var mode: String?; var filter: ServerState.FilterBody? }

    struct SearchResult: Encodable {
        var rank: Int; var chunkId: Int64; var document: String; var heading: String; var score: Double
        var text: String; var snippet: String; var start: Int; var end: Int
    }

    struct SearchResponse: ResponseEncodable { var results: [SearchResult]; var mode: String; var tookMs: Double }

    @Sendable func search(_ request: Request, context: APIRequestContext) async throws -> SearchResponse {
        let body = try await request.decode(as: SearchRequest.self, context: context)
        let query = try state.checkText(body.query, field: "query")
        try ServerState.check(body.topK, "top_k", in: 1...100)
        let mode = try await state.mode(body.mode)
        let topK = body.topK ?? 10
        let filter = try ServerState.searchFilter(body.filter)
        let service = state.service
        let start = DispatchTime.now().uptimeNanoseconds
        let hits = try await state.blocking { try service.search(query, mode: mode, topK: topK, filter: filter).hits }
        let took = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        state.metrics.retrieved(milliseconds: took)
        return SearchResponse(
            results: hits.enumerated().map { i, h in
                SearchResult(
                    rank: i + 1, chunkId: h.chunkID.rawValue, document: h.document, heading: h.heading, score: h.score,
                    text: h.text, snippet: h.snippet, start: h.start, end: h.end)
            },
            mode: mode.rawValue, tookMs: took.rounded(places: 1))
    }
}
