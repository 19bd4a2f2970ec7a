import Foundation
import HTTPTypes
import RAG
@testable import RAGServer
import Testing

/// `openapi.yaml` stays true to the server: it names every route the router has and no other,
/// and `/openapi.json` serves it with this server's templates and limits. (scripts/test-api.sh
/// checks the answers against it with schemathesis.)
@Suite struct OpenAPITests {
    @Test func theDescriptionNamesEveryRouteAndNoOther() async throws {
        let fixture = try Fixture { $0.maxAnswerTokens = 96 }
        let routes = Set(endpoints(fixture.state).map { "\($0.method.rawValue) \($0.path)" })
        try await fixture.routes { s in
            let reply = try await s.request("GET", "/openapi.json")
            #expect(reply.status == 200 && reply.headers["content-type"] == "application/json")
            let document = reply.json
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            var described = Set<String>()
            var operationIDs: [String] = []
            for (path, item) in paths {
                for (method, operation) in item where ["get", "post", "put", "delete", "patch"].contains(method) {
                    described.insert("\(method.uppercased()) \(path)")
                    let id = (operation as? [String: Any])?["operationId"] as? String
                    #expect(id != nil, "\(method) \(path) has no operationId")
                    operationIDs.append(id ?? "")
                }
            }
            #expect(described == routes, "described but not routed: \(described.subtracting(routes)); routed but not described: \(routes.subtracting(described))")
            #expect(Set(operationIDs).count == operationIDs.count)

            // This server's truth: its templates, its max_tokens limit, its embedder.
            let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
            let parameters = try #require(schemas["AnswerParameters"]?["properties"] as? [String: [String: Any]])
            #expect(parameters["max_tokens"]?["maximum"] as? Int == 96)
            let templates = (parameters["template"]?["enum"] as? [Any])?.compactMap { $0 as? String }
            #expect(templates == fixture.state.answerer.templates.names.sorted())
            let chat = try #require(schemas["ChatRequest"]?["properties"] as? [String: [String: Any]])
            #expect(chat["max_completion_tokens"]?["maximum"] as? Int == 96)
            #expect((chat["model"]?["pattern"] as? String)?.contains("cot") == true)
            let seed = parameters["seed"]?["maximum"] as? NSNumber
            #expect(seed?.uint64Value == UInt64.max)
        }
        // Served without the key, like the page.
        let keyed = try Fixture(apiKey: "k")
        try await keyed.routes { s in
            let description = try await s.request("GET", "/openapi.json")
            let models = try await s.request("GET", "/v1/models")
            #expect(description.status == 200 && models.status == 401)
        }
    }
}
