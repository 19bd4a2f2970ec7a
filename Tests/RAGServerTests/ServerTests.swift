import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import RAG
import RAGCore
@testable import RAGServer
import RAGStorage
import RAGTesting
import Testing
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import Logging

/// A folder removed when the test process lets go of it.
final class Folder: Sendable {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("rag-server-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path + "/docs", withIntermediateDirectories: true)
    }
    func write(_ name: String, _ text: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: path + "/docs/" + name)) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A real index of two small documents behind the API, with the model twins (a hashing
/// embedder, a scripted generator: no model file, answers in milliseconds). `routes` sends
/// requests through HummingbirdTesting's router (no socket); `LiveServer` puts the same API on
/// a real port for what needs one. The real models behind a real server are tested end to end
/// by scripts/test-clients.sh (openai, curl).
final class Fixture: Sendable {
    let folder: Folder
    let store: SQLiteStore
    let state: ServerState

    static let embedder = HashingEmbedder()

    init(
        apiKey: String? = nil, queue: Int = 8, cache: Bool = true, maxUploadBytes: Int = 1 << 20,
        generator: any TextGenerator = ScriptedGenerator(contextLength: 1024, script: { _ in "Harbor keeps its vector index in harbor.db [1]." }),
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) throws {
        folder = try Folder()
        try folder.write("harbor.md", "# Harbor\n\nHarbor is a retrieval service. Harbor stores its HNSW vector index inside a SQLite file named harbor.db.\n\n## Tuning\n\nThe default ef_search value is 64 and M is 16.\n")
        try folder.write("lantern.md", "# Lantern\n\nLantern is a caching proxy. It listens on port 7070 unless --port is given.\n")
        store = try SQLiteStore(path: folder.path + "/index.sqlite")
        _ = try Ingestor(store: store, embedder: Self.embedder).run(paths: [folder.path + "/docs"])
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.apiKey = apiKey
        configuration.queueCapacity = queue
        configuration.maxUploadBytes = maxUploadBytes
        configuration.defaults.answerTokens = 16
        configuration.logLevel = .critical  // the tests provoke errors on purpose
        configure(&configuration)
        var settings = RAGService.Configuration(database: folder.path + "/index.sqlite")
        settings.contextLength = 1024
        settings.answerCacheCapacity = cache ? 256 : 0
        let service = try RAGService(settings, store: store, embedder: Self.embedder, generator: generator)
        state = try ServerState(configuration: configuration, service: service)
    }

    /// Runs `test` with a client of the application's router: every route and middleware, no socket.
    func routes(_ test: @escaping @Sendable (Client) async throws -> Void) async throws {
        try await buildApplication(state: state).test(.router) { client in
            try await test(Client { method, path, headers, body in
                let response = try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) })
                var fields: [String: String] = [:]
                for field in response.headers { fields[field.name.canonicalName] = field.value }
                return Reply(status: Int(response.status.code), headers: fields, data: Data(response.body.readableBytesView))
            })
        }
    }
}

/// The fixture's API on 127.0.0.1 (a free port), requests through URLSession, a real HTTP client.
final class LiveServer: Sendable {
    let fixture: Fixture
    let port: Int
    let client: Client
    let task: Task<Void, any Error>

    init(_ fixture: Fixture) async throws {
        self.fixture = fixture
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(state: fixture.state) { continuation.yield($0) }
        task = Task { try await app.runService() }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        self.port = port
        client = Client { method, path, headers, body in
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            request.httpMethod = method.rawValue
            // Generous: a gated answer waits on purpose, and the model suites may share both cores.
            request.timeoutInterval = 600
            request.httpBody = body
            for field in headers { request.setValue(field.value, forHTTPHeaderField: field.name.rawName) }
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as! HTTPURLResponse
            var fields: [String: String] = [:]
            for (k, v) in http.allHeaderFields { fields[String(describing: k).lowercased()] = String(describing: v) }
            return Reply(status: http.statusCode, headers: fields, data: data)
        }
    }

    deinit { task.cancel() }
}

struct Reply {
    var status: Int
    var headers: [String: String]
    var data: Data
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:] }
    var text: String { String(decoding: data, as: UTF8.self) }
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
}

/// Requests as the tests write them, through the router or a socket.
struct Client: Sendable {
    let send: @Sendable (HTTPRequest.Method, String, HTTPFields, Data?) async throws -> Reply

    func request(_ method: String, _ path: String, json: Any? = nil, body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        var fields = HTTPFields()
        var body = body
        if let json {
            body = try JSONSerialization.data(withJSONObject: json)
            fields[.contentType] = "application/json"
        }
        for (k, v) in headers { fields[HTTPField.Name(k)!] = v }
        return try await send(HTTPRequest.Method(rawValue: method)!, path, fields, body)
    }

    func post(_ path: String, _ json: Any, headers: [String: String] = [:]) async throws -> Reply {
        try await request("POST", path, json: json, headers: headers)
    }

    /// The value of a Prometheus series (the first line that starts with `series`).
    func metric(_ series: String) async throws -> Double? {
        let text = try await request("GET", "/metrics").text
        return text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }

    /// Server-Sent Events of a body: (event, data JSON) pairs.
    static func events(_ text: String) -> [(event: String, data: [String: Any])] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var event = "message", data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            guard !data.isEmpty, data != "[DONE]" else { return data == "[DONE]" ? ("done-marker", [:]) : nil }
            return (event, (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:])
        }
    }
}

@Suite(.serialized) struct ServerRouteTests {
    /// One index for the suite, made by the first test that asks (no thread blocks on it: the
    /// concurrency pool has as many threads as cores).
    static let shared = Task { try Fixture() }

    @Test func healthAndModelsAnswer() async throws {
        let fixture = try await Self.shared.value
        try await fixture.routes { s in
            let health = try await s.request("GET", "/healthz")
            #expect(health.status == 200 && health.json["status"] as? String == "ok" && health.json["documents"] as? Int == 2)
            let models = try await s.request("GET", "/v1/models")
            let ids = (models.json["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
            #expect(ids.contains("rag") && ids.contains("rag:cot") && ids.contains(Fixture.embedder.name))
        }
    }

    @Test func searchFindsTheChunkAndIsCounted() async throws {
        let fixture = try await Self.shared.value
        try await fixture.routes { s in
            let reply = try await s.post("/v1/search", ["query": "Which port does Lantern listen on?", "top_k": 2])
            #expect(reply.status == 200 && reply.headers["content-type"] == "application/json")
            let results = reply.json["results"] as? [[String: Any]] ?? []
            #expect(results.count == 2 && (results[0]["document"] as? String)?.hasSuffix("lantern.md") == true)
            #expect((results[0]["text"] as? String)?.contains("7070") == true && results[0]["rank"] as? Int == 1)
            let bm25 = try await s.post("/v1/search", ["query": "harbor.db", "mode": "bm25"])
            #expect(((bm25.json["results"] as? [[String: Any]])?.first?["document"] as? String)?.hasSuffix("harbor.md") == true)
            #expect(try await s.metric(#"rag_http_requests_total{route="/v1/search",method="POST",status="200"}"#) ?? 0 >= 2)
            // A filter: only documents that pass, in every mode; an answer's sources too.
            for mode in ["bm25", "dense", "hybrid"] {
                let filtered = try await s.post("/v1/search", ["query": "Where do Lantern and Harbor keep their index?", "mode": mode, "filter": ["path": "*harbor*"]])
                let documents = (filtered.json["results"] as? [[String: Any]] ?? []).compactMap { $0["document"] as? String }
                #expect(filtered.status == 200 && !documents.isEmpty && documents.allSatisfy { $0.hasSuffix("harbor.md") }, "\(mode): \(filtered.text)")
            }
            let none = try await s.post("/v1/search", ["query": "Lantern", "filter": ["tags": ["team=nobody"], "ingested_after": 0]])
            #expect(none.status == 200 && (none.json["results"] as? [Any])?.isEmpty == true, "\(none.text)")
            let sourced = try await s.post("/v1/ask", ["question": "Which port does Lantern listen on?", "max_tokens": 4, "filter": ["path": "*harbor.md"]])
            let cited = (sourced.json["citations"] as? [[String: Any]] ?? []).compactMap { $0["document"] as? String }
            #expect(sourced.status == 200 && cited.allSatisfy { $0.hasSuffix("harbor.md") }, "\(sourced.text)")
            #expect(try await s.post("/v1/search", ["query": "Lantern", "filter": ["tags": ["no-equals"]]]).errorCode == "invalid_filter")
            #expect(try await s.post("/v1/search", ["query": "Lantern", "filter": ["path": String(repeating: "*", count: 1001)]]).errorCode == "invalid_filter")
        }
    }

    @Test func askAnswersWithCitationsThenFromTheCache() async throws {
        let fixture = try await Self.shared.value
        try await fixture.routes { s in
            let question = "Where does Harbor keep its vector index?"
            let reply = try await s.post("/v1/ask", ["question": question, "max_tokens": 12])
            #expect(reply.status == 200)
            #expect((reply.json["answer"] as? String)?.isEmpty == false && reply.json["cached"] as? Bool == false)
            let citations = reply.json["citations"] as? [[String: Any]] ?? []
            #expect(citations.first?["n"] as? Int == 1 && (citations.first?["document"] as? String)?.hasSuffix("harbor.md") == true)
            let timings = reply.json["timings"] as? [String: Any] ?? [:]
            #expect((timings["prompt_tokens"] as? Int ?? 0) > 50 && timings["ttft_ms"] != nil && timings["retrieve_ms"] != nil)
            let again = try await s.post("/v1/ask", ["question": "Where does Harbor keep its vector index", "max_tokens": 12])
            #expect(again.json["cached"] as? Bool == true && again.json["answer"] as? String == reply.json["answer"] as? String)
            #expect(try await s.metric("rag_answer_cache_hits_total") ?? 0 >= 1)
            #expect(try await s.metric("rag_decode_tokens_per_second_count") ?? 0 >= 1)
        }
    }

    @Test func askStreamsTokensThenSourcesThenDone() async throws {
        let fixture = try await Self.shared.value
        try await fixture.routes { s in
            let reply = try await s.post("/v1/ask", ["question": "What is the default ef_search value?", "max_tokens": 10, "stream": true])
            #expect(reply.status == 200 && reply.headers["content-type"] == "text/event-stream; charset=utf-8")
            let events = Client.events(reply.text)
            let names = events.map(\.event)
            #expect(names.first == "token" && Array(names.suffix(2)) == ["sources", "done"])
            #expect(!names.dropLast(2).contains { $0 != "token" })
            let streamed = events.filter { $0.event == "token" }.compactMap { $0.data["text"] as? String }.joined()
            let done = events.last!.data
            #expect(streamed.trimmingCharacters(in: .whitespacesAndNewlines) == done["answer"] as? String)
            #expect((events[names.count - 2].data["citations"] as? [[String: Any]])?.isEmpty == false)
        }
    }

    @Test func openAIChatCompletionsAndEmbeddings() async throws {
        let fixture = try await Self.shared.value
        try await fixture.routes { s in
            let chat = try await s.post("/v1/chat/completions", [
                "model": "rag", "max_tokens": 8,
                "messages": [["role": "system", "content": "Be brief."], ["role": "user", "content": "Which port does Lantern listen on?"]],
            ])
            #expect(chat.status == 200 && chat.json["object"] as? String == "chat.completion")
            let choice = (chat.json["choices"] as? [[String: Any]])?.first
            #expect(((choice?["message"] as? [String: Any])?["content"] as? String)?.isEmpty == false)
            #expect(["stop", "length"].contains(choice?["finish_reason"] as? String ?? ""))
            #expect(((chat.json["usage"] as? [String: Any])?["total_tokens"] as? Int ?? 0) > 0)

            let stream = try await s.post("/v1/chat/completions", [
                "model": "rag:default", "max_tokens": 6, "stream": true, "stream_options": ["include_usage": true],
                "messages": [["role": "user", "content": [["type": "text", "text": "What is M in Harbor's tuning?"]]]],
            ])
            let events = Client.events(stream.text)
            #expect(events.last?.event == "done-marker" && events.first?.data["object"] as? String == "chat.completion.chunk")
            #expect(events.dropLast().last?.data["usage"] as? [String: Any] != nil)

            let floats = try await s.post("/v1/embeddings", ["model": "all-MiniLM-L6-v2", "input": ["Lantern", "Harbor"]])
            let data = floats.json["data"] as? [[String: Any]] ?? []
            let vector = (data.first?["embedding"] as? [Double]) ?? []
            #expect(data.count == 2 && vector.count == 384)
            let base64 = try await s.post("/v1/embeddings", ["model": "all-MiniLM-L6-v2", "input": "Lantern", "encoding_format": "base64"])
            let encoded = ((base64.json["data"] as? [[String: Any]])?.first?["embedding"] as? String).flatMap { Data(base64Encoded: $0) } ?? Data()
            let decoded = encoded.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            #expect(decoded.count == 384 && zip(decoded, vector).allSatisfy { abs(Double($0) - $1) < 1e-6 })
        }
    }

    /// `response_format` reaches the answer: the schema as written (keys not rewritten) is in
    /// the prompt, the answer is the JSON; a keyword outside the subset or a malformed format
    /// is a 400 that says which. (The constraint itself is tested on the real model, in RAGLLM.)
    @Test func structuredAnswersTakeTheSchemaAsWritten() async throws {
        let generator = ScriptedGenerator(contextLength: 1024, script: { _ in #"{"first_name": "Harbor", "citations": [1]}"# })
        let fixture = try Fixture(generator: generator)
        try await fixture.routes { s in
            let schema: [String: Any] = [
                "type": "object", "properties": ["first_name": ["type": "string"], "citations": ["type": "array", "items": ["type": "integer"]]],
                "required": ["first_name", "citations"],
            ]
            let chat = try await s.post("/v1/chat/completions", [
                "model": "rag", "messages": [["role": "user", "content": "Where does Harbor keep its index?"]], "max_tokens": 64,
                "response_format": ["type": "json_schema", "json_schema": ["name": "answer", "schema": schema]],
            ])
            #expect(chat.status == 200)
            // The shortest JSON the schema allows, {"first_name":"","citations":[]}, is 32 bytes: more than 16 tokens may hold.
            let tooShort = try await s.post("/v1/chat/completions", [
                "model": "rag", "messages": [["role": "user", "content": "Where?"]], "max_tokens": 16,
                "response_format": ["type": "json_schema", "json_schema": ["name": "answer", "schema": schema]],
            ])
            #expect(tooShort.status == 400 && tooShort.errorCode == "unsupported_schema" && tooShort.text.contains("max_tokens"))
            let content = ((chat.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String ?? ""
            #expect(try JSONValue.parse(content)["first_name"] == .string("Harbor"))
            #expect((chat.json["citations"] as? [[String: Any]])?.isEmpty == false)
            #expect(generator.prompts.last?.contains(#""first_name":{"type":"string"}"#) == true)
            #expect(generator.prompts.last?.contains("Reply with JSON only") == true)

            let ask = try await s.post("/v1/ask", ["question": "Where does Harbor keep its index?", "response_format": ["type": "json_object"]])
            #expect(ask.status == 200 && (ask.json["answer"] as? String)?.hasPrefix("{") == true)

            let unsupported = try await s.post("/v1/chat/completions", [
                "model": "rag", "messages": [["role": "user", "content": "Where?"]],
                "response_format": ["type": "json_schema", "json_schema": ["name": "a", "schema": ["type": "string", "pattern": "^a"]]],
            ])
            #expect(unsupported.status == 400 && unsupported.errorCode == "unsupported_schema")
            #expect(unsupported.text.contains("pattern"))
            for (format, code): ([String: Any], String) in [
                (["type": "xml"], "invalid_response_format"), (["type": "json_schema"], "invalid_response_format"),
                (["type": "json_schema", "json_schema": ["name": "a"]], "invalid_json"), (["type": "text", "json_schema": ["schema": [1]]], "invalid_json"),
            ] {
                let bad = try await s.post("/v1/ask", ["question": "Where?", "response_format": format])
                #expect(bad.status == 400 && bad.errorCode == code, "\(format)")
            }
        }
    }

    /// Each bad request gets its 4xx JSON error; none changes the index or stops the server.
    @Test func badInputGetsAClearErrorAndChangesNothing() async throws {
        let fixture = try await Self.shared.value
        try await fixture.routes { s in
            let revision = try fixture.store.revision()
            let documents = try fixture.store.documents().count
            func expect(_ reply: Reply, _ status: Int, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) {
                #expect(reply.status == status, "\(reply.text)", sourceLocation: sourceLocation)
                #expect(reply.errorCode == code, "\(reply.text)", sourceLocation: sourceLocation)
                let error = reply.json["error"] as? [String: Any]
                #expect((error?["message"] as? String)?.isEmpty == false && error?["type"] is String, sourceLocation: sourceLocation)
            }
            expect(try await s.request("POST", "/v1/ask", body: Data("{\"question\": ".utf8), headers: ["Content-Type": "application/json"]), 400, "invalid_json")
            expect(try await s.request("POST", "/v1/ask", body: Data(), headers: ["Content-Type": "application/json"]), 400, "empty_body")
            expect(try await s.post("/v1/ask", ["question": 5]), 400, "invalid_json")
            expect(try await s.post("/v1/ask", ["top_k": 3]), 400, "invalid_json")
            expect(try await s.post("/v1/ask", ["question": "  \n "]), 400, "empty_question")
            expect(try await s.post("/v1/ask", ["question": String(repeating: "why ", count: 1001)]), 400, "question_too_long")
            // One Character of 100,000 combining marks (200 KB) was within a 4,000-character limit.
            let heavy = "a" + String(repeating: "\u{301}", count: 100_000)
            expect(try await s.post("/v1/ask", ["question": heavy]), 400, "question_too_long")
            expect(try await s.post("/v1/search", ["query": heavy]), 400, "query_too_long")
            expect(try await s.post("/v1/ask", ["question": "Lantern?", "top_k": 0]), 400, "top_k_out_of_range")
            expect(try await s.post("/v1/ask", ["question": "Lantern?", "max_tokens": 100_000]), 400, "max_tokens_out_of_range")
            expect(try await s.post("/v1/ask", ["question": "Lantern?", "votes": 0]), 400, "votes_out_of_range")

            expect(try await s.post("/v1/ask", ["question": "Lantern?", "template": "../../etc/passwd"]), 400, "unknown_template")
            expect(try await s.post("/v1/search", ["query": "Lantern", "top_k": 101]), 400, "top_k_out_of_range")
            expect(try await s.post("/v1/search", ["query": "Lantern", "mode": "magic"]), 400, "invalid_mode")
            expect(try await s.post("/v1/search", ["query": "Lantern", "top_k": "ten"]), 400, "invalid_json")
            expect(try await s.request("POST", "/v1/search", body: Data(repeating: 0x20, count: 2 << 20), headers: ["Content-Type": "application/json"]), 413, "body_too_large")
            expect(try await s.request("GET", "/v1/nothing-here"), 404, "route_not_found")
            let wrongMethod = try await s.request("PUT", "/v1/search")
            expect(wrongMethod, 405, "method_not_allowed")
            #expect(wrongMethod.headers["allow"] == "POST")
            expect(try await s.post("/v1/chat/completions", ["model": "gpt-4o", "messages": [["role": "user", "content": "hi"]]]), 404, "model_not_found")
            expect(try await s.post("/v1/chat/completions", ["model": "rag", "messages": [] as [Any]]), 400, "empty_messages")
            expect(try await s.post("/v1/chat/completions", ["model": "rag", "messages": [["role": "system", "content": "x"]]]), 400, "no_user_message")
            expect(try await s.post("/v1/embeddings", ["model": "all-MiniLM-L6-v2", "input": [] as [String]]), 400, "empty_input")
            expect(try await s.post("/v1/embeddings", ["model": "all-MiniLM-L6-v2", "input": [1, 2, 3]]), 400, "invalid_json")
            expect(try await s.request("POST", "/v1/documents?filename=tool.exe", body: Data("MZ".utf8), headers: ["Content-Type": "application/octet-stream"]), 415, "unsupported_file_type")
            expect(try await s.request("POST", "/v1/documents", body: Data("text".utf8), headers: ["Content-Type": "application/octet-stream"]), 400, "no_filename")
            expect(try await s.request("POST", "/v1/documents?filename=big.txt", body: Data(repeating: 0x61, count: (1 << 20) + 1), headers: ["Content-Type": "application/octet-stream"]), 413, "body_too_large")
            expect(try await s.request("DELETE", "/v1/documents/abc"), 400, "invalid_id")
            expect(try await s.request("DELETE", "/v1/documents/999999"), 404, "document_not_found")
            #expect(try fixture.store.revision() == revision && fixture.store.documents().count == documents)
            #expect(try await s.request("GET", "/healthz").status == 200)
        }
    }

    /// Uploaded files are stored by content: a file name with a path in it names nothing on disk.
    @Test func uploadsAreIngestedByContentListedAndDeleted() async throws {
        let fixture = try await Self.shared.value
        try await fixture.routes { s in
            let boundary = "rag-test-boundary"
            var form = Data()
            form += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../etc/passwd.md\"\r\nContent-Type: text/markdown\r\n\r\n".utf8)
            form += Data("# Beacon\n\nBeacon is a tide gauge that reports every 90 seconds.\n".utf8)
            form += Data("\r\n--\(boundary)--\r\n".utf8)
            let upload = try await s.request("POST", "/v1/documents", body: form, headers: ["Content-Type": "multipart/form-data; boundary=\(boundary)"])
            #expect(upload.status == 201, "\(upload.text)")
            let file = (upload.json["files"] as? [[String: Any]])?.first ?? [:]
            let path = file["path"] as? String ?? ""
            #expect(path.hasPrefix("upload/") && path.hasSuffix("/passwd.md") && !path.contains("..") && file["status"] as? String == "added")
            #expect(!FileManager.default.fileExists(atPath: "passwd.md") && !FileManager.default.fileExists(atPath: "upload"))
            let again = try await s.request("POST", "/v1/documents", body: form, headers: ["Content-Type": "multipart/form-data; boundary=\(boundary)"])
            #expect(again.status == 200 && (again.json["files"] as? [[String: Any]])?.first?["status"] as? String == "unchanged")
            let found = try await s.post("/v1/search", ["query": "tide gauge reporting interval", "top_k": 1])
            #expect((found.json["results"] as? [[String: Any]])?.first?["document"] as? String == path)
            let raw = try await s.request("POST", "/v1/documents?filename=notes.txt", body: Data("Notes about the quay.".utf8), headers: ["Content-Type": "text/markdown"])
            #expect(raw.status == 201)

            let list = try await s.request("GET", "/v1/documents")
            let listed = list.json["documents"] as? [[String: Any]] ?? []
            let id = listed.first { $0["path"] as? String == path }?["id"] as? Int
            #expect(list.json["total"] as? Int == 4 && id != nil)
            let deleted = try await s.request("DELETE", "/v1/documents/\(id ?? 0)")
            #expect(deleted.status == 200 && (deleted.json["deleted"] as? [String: Any])?["path"] as? String == path)
            let gone = try await s.post("/v1/search", ["query": "tide gauge reporting interval", "top_k": 3])
            #expect(!((gone.json["results"] as? [[String: Any]]) ?? []).contains { $0["document"] as? String == path })
            let rawID = (raw.json["files"] as? [[String: Any]])?.first.flatMap { ($0["documents"] as? [[String: Any]])?.first?["id"] as? Int }
            #expect(try await s.request("DELETE", "/v1/documents/\(rawID ?? 0)").status == 200)
            #expect(try await s.request("GET", "/v1/documents").json["total"] as? Int == 2)
        }
    }
}

@Suite struct ServerAccessTests {
    @Test func anAPIKeyGuardsEveryRouteButHealth() async throws {
        try await Fixture(apiKey: "s3cret").routes { s in
            #expect(try await s.request("GET", "/healthz").status == 200)
            let none = try await s.post("/v1/search", ["query": "Lantern"])
            #expect(none.status == 401 && none.errorCode == "missing_api_key" && none.headers["www-authenticate"] == "Bearer")
            #expect(try await s.post("/v1/search", ["query": "Lantern"], headers: ["Authorization": "Bearer wrong"]).errorCode == "invalid_api_key")
            #expect(try await s.request("GET", "/metrics").status == 401)
            #expect(try await s.post("/v1/search", ["query": "Lantern"], headers: ["Authorization": "Bearer s3cret"]).status == 200)
            #expect(try await s.request("GET", "/v1/documents", headers: ["Authorization": "Bearer s3cret"]).status == 200)
            // The web page's files need no key: the page asks for it.
            #expect(try await s.request("GET", "/").status == 200)
            #expect(try await s.request("GET", "/assets/app.js").status == 200)
            #expect(try await s.request("GET", "/v1/chunks/1").status == 401)
        }
    }

    /// With no key, a hostile web page cannot drive the server: a Host that does not name this
    /// machine (DNS rebinding) and an Origin that is not the server's own are refused (403);
    /// clients without an Origin (curl, SDKs) and the page itself are served.
    @Test func withoutAKeyOnlyThisMachineAndItsOwnPageAreServed() async throws {
        let fixture = try await ServerRouteTests.shared.value
        try await fixture.routes { s in
            let search = ["query": "Lantern"]
            #expect(try await s.post("/v1/search", search, headers: ["Host": "127.0.0.1:8080"]).status == 200)
            #expect(try await s.post("/v1/search", search, headers: ["Host": "localhost:8080"]).status == 200)
            #expect(try await s.post("/v1/search", search, headers: ["Host": "[::1]:8080"]).status == 200)
            let rebound = try await s.post("/v1/search", search, headers: ["Host": "attacker.example:8080"])
            #expect(rebound.status == 403 && rebound.errorCode == "host_not_allowed")
            let same = ["Host": "127.0.0.1:8080", "Origin": "http://127.0.0.1:8080"]
            #expect(try await s.post("/v1/search", search, headers: same).status == 200)
            let crossSite = try await s.post("/v1/ask", ["question": "x"], headers: ["Host": "127.0.0.1:8080", "Origin": "https://attacker.example"])
            #expect(crossSite.status == 403 && crossSite.errorCode == "cross_origin")
            let otherPort = try await s.request("DELETE", "/v1/documents/1", headers: ["Host": "127.0.0.1:8080", "Origin": "http://127.0.0.1:9999"])
            #expect(otherPort.status == 403 && otherPort.errorCode == "cross_origin")
            #expect(try await s.request("GET", "/", headers: ["Host": "attacker.example"]).status == 403)
        }
    }

    /// With no key, bodies a cross-site form could send (text/plain, form-urlencoded; multipart
    /// is left to the Origin check) are refused with 415 before they are read: JSON routes take
    /// JSON only, a raw upload needs a type a form cannot send.
    @Test func withoutAKeyBodiesAWebFormCouldSendAreRefused() async throws {
        let fixture = try await ServerRouteTests.shared.value
        let revision = try fixture.store.revision()
        try await fixture.routes { s in
            let question = Data(#"{"question":"Lantern?"}"#.utf8)
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
                for path in ["/v1/ask", "/v1/search", "/v1/chat/completions", "/v1/embeddings"] {
                    let reply = try await s.request("POST", path, body: question, headers: ["Content-Type": type])
                    #expect(reply.status == 415 && reply.errorCode == "unsupported_content_type", "\(path) \(type): \(reply.text)")
                }
            }
            let none = try await s.request("POST", "/v1/search", body: Data(#"{"query":"Lantern"}"#.utf8))
            #expect(none.status == 415 && none.text.contains("application/json"))
            let charset = try await s.request("POST", "/v1/search", body: Data(#"{"query":"Lantern"}"#.utf8), headers: ["Content-Type": "Application/JSON; charset=utf-8"])
            #expect(charset.status == 200)
            for type in ["text/plain", "application/x-www-form-urlencoded", "TEXT/PLAIN; charset=utf-8"] {
                let upload = try await s.request("POST", "/v1/documents?filename=csrf.txt", body: Data("planted".utf8), headers: ["Content-Type": type])
                #expect(upload.status == 415 && upload.errorCode == "unsupported_content_type", "\(type): \(upload.text)")
            }
            let untyped = try await s.request("POST", "/v1/documents?filename=csrf.txt", body: Data("planted".utf8))
            #expect(untyped.status == 415 && untyped.text.contains("multipart/form-data"))
        }
        #expect(try fixture.store.revision() == revision)
        // With a key the key is the guard: any type is read (curl -d sends form-urlencoded).
        let keyed = try Fixture(apiKey: "k")
        try await keyed.routes { s in
            let reply = try await s.request(
                "POST", "/v1/search", body: Data(#"{"query":"Lantern"}"#.utf8),
                headers: ["Content-Type": "application/x-www-form-urlencoded", "Authorization": "Bearer k"])
            #expect(reply.status == 200, "\(reply.text)")
        }
    }

    /// `GET /` and its script: our own, from this origin only (CSP), small; the chunk route
    /// the page opens a citation with.
    @Test func theWebPageAndAChunkWithItsNeighbours() async throws {
        let fixture = try await ServerRouteTests.shared.value
        try await fixture.routes { s in
            let page = try await s.request("GET", "/")
            #expect(page.status == 200 && page.headers["content-type"]?.hasPrefix("text/html") == true)
            #expect(page.headers["content-security-policy"]?.contains("default-src 'self'") == true)
            #expect(page.text.contains("<script src=\"/assets/app.js\" defer></script>") && !page.text.contains("http"))
            // The inline style sheet is allowed by its hash, nothing else inline is.
            let style = try #require(page.text.range(of: "<style>").flatMap { start in
                page.text.range(of: "</style>").map { String(page.text[start.upperBound..<$0.lowerBound]) } })
            #expect(!style.isEmpty && page.headers["content-security-policy"]?.contains("style-src 'self' 'sha256-") == true)
            let script = try await s.request("GET", "/assets/app.js")
            #expect(script.status == 200 && script.headers["content-type"]?.hasPrefix("text/javascript") == true)
            #expect(script.headers["x-content-type-options"] == "nosniff")
            #expect(page.data.count + script.data.count < 100_000, "the page weighs \(page.data.count + script.data.count) bytes")

            let hit = try #require((try await s.post("/v1/search", ["query": "Harbor vector index", "mode": "bm25"]).json["results"] as? [[String: Any]])?.first)
            let id = try #require(hit["chunk_id"] as? Int)
            let chunk = try await s.request("GET", "/v1/chunks/\(id)")
            #expect(chunk.status == 200 && chunk.json["text"] as? String == hit["text"] as? String)
            #expect(chunk.json["document"] as? String == hit["document"] as? String && chunk.json["ordinal"] as? Int != nil)
            let neighbours = [chunk.json["previous"], chunk.json["next"]].compactMap { $0 as? [String: Any] }
            #expect(neighbours.allSatisfy { ($0["ordinal"] as? Int).map { abs($0 - (chunk.json["ordinal"] as! Int)) == 1 } == true })
            #expect(try await s.request("GET", "/v1/chunks/999999").errorCode == "chunk_not_found")
            #expect(try await s.request("GET", "/v1/chunks/abc").errorCode == "invalid_id")
        }
    }

    /// One generation at a time and no queue: a second question while the first is answered is
    /// refused with 503 and Retry-After, then served once the generator is free.
    @Test func aFullQueueIsA503WithRetryAfter() async throws {
        let gate = ScriptedGenerator.Gate()
        defer { gate.open() }
        let fixture = try Fixture(queue: 0, cache: false, generator: ScriptedGenerator(contextLength: 1024, gate: gate))
        let live = try await LiveServer(fixture)
        let s = live.client
        let first = Task { try await s.post("/v1/ask", ["question": "Where does Harbor store its vector index?", "max_tokens": 8]) }
        for _ in 0..<12_000 where fixture.state.queue.depth == 0 { try await Task.sleep(for: .milliseconds(5)) }
        try #require(fixture.state.queue.depth == 1, "the first question never reached the generator")
        let second = try await s.post("/v1/ask", ["question": "Which port does Lantern listen on?", "max_tokens": 4])
        #expect(second.status == 503 && second.errorCode == "queue_full" && second.headers["retry-after"] != nil)
        gate.open()
        #expect(try await first.value.status == 200)
        #expect(try await s.post("/v1/ask", ["question": "Which port does Lantern listen on?", "max_tokens": 4]).status == 200)
        #expect(try await s.metric("rag_generation_rejected_total") == 1)
        // One slot (the scripted generator runs one generation at a time), none running now.
        let slots = try await s.metric("rag_generation_slots"), running = try await s.metric("rag_generation_running")
        #expect(slots == 1 && running == 0)
    }

    /// curl reads a few events of a long answer and hangs up: the generation stops and the
    /// generator is free for the next question.
    @Test func aClientThatDisconnectsCancelsItsGeneration() async throws {
        // 2,000 tokens at 20 ms: forty seconds, far longer than noticing the hang-up takes even
        // when the model tests load both cores (a 10-second answer once ended before it was noticed).
        let fixture = try Fixture(cache: false, generator: ScriptedGenerator(contextLength: 4096, tokenDelay: 0.02)) { $0.maxAnswerTokens = 2000 }
        let live = try await LiveServer(fixture)
        let s = live.client
        // As a user would: `curl … | head -c 200` — head exits after the first events and curl
        // dies at its next write. The test polls without blocking a thread of the concurrency pool.
        let out = fixture.folder.path + "/curl.out"
        let body = #"{"question":"Describe Harbor in detail.","max_tokens":2000,"stream":true,"abstain_below":-1,"ignore_eos":true}"#
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "curl -sN -X POST http://127.0.0.1:\(live.port)/v1/ask -H 'Content-Type: application/json' -d '\(body)' | head -c 200 > \(out)"]
        try shell.run()
        while shell.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        let seen = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        #expect(seen.contains("event: token") && !seen.contains("event: done"), "\(seen)")
        var cancelled = 0.0
        for _ in 0..<1_200 {
            cancelled = try await s.metric("rag_generation_cancelled_total") ?? 0
            if cancelled > 0, fixture.state.queue.depth == 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(cancelled == 1 && fixture.state.queue.depth == 0, "cancelled \(cancelled), depth \(fixture.state.queue.depth), seen \(seen.count) bytes")
        let next = try await s.post("/v1/ask", ["question": "Which port does Lantern listen on?", "max_tokens": 4])
        #expect(next.status == 200)
    }
}

@Suite struct QueueTests {
    @Test func turnsAreGivenInArrivalOrderAndThePastCapacityIsRefused() async throws {
        let queue = GenerationQueue(capacity: 2)
        let first = try await queue.enter()
        let order = OrderLog()
        var waiters: [Task<Void, any Error>] = []
        for n in 1...2 {
            waiters.append(Task {
                let ticket = try await queue.enter()
                order.append(n)
                ticket.release()
            })
            // The next one arrives only once this one waits (polled: the machine may be busy).
            for _ in 0..<1000 where queue.depth < n + 1 { try await Task.sleep(for: .milliseconds(10)) }
        }
        try #require(queue.depth == 3)
        await #expect(throws: APIError.self) { _ = try await queue.enter() }
        first.release()
        for w in waiters { try await w.value }
        #expect(order.values == [1, 2] && queue.depth == 0)
        // A dropped ticket gives its turn back.
        do { _ = try await queue.enter() }
        #expect(queue.depth == 0)
    }

    /// Two slots: two requests run at once, the third waits for either to leave.
    @Test func severalSlotsRunTogetherAndTheNextWaitsForOne() async throws {
        let queue = GenerationQueue(slots: 2, capacity: 1)
        let first = try await queue.enter(), second = try await queue.enter()
        #expect(queue.depth == 2)
        let third = Task { try await queue.enter() }
        for _ in 0..<1000 where queue.depth < 3 { try await Task.sleep(for: .milliseconds(10)) }
        try #require(queue.depth == 3)
        await #expect(throws: APIError.self) { _ = try await queue.enter() }
        second.release()
        let ticket = try await third.value
        #expect(queue.depth == 2)
        ticket.release()
        first.release()
        #expect(queue.depth == 0)
    }

    final class OrderLog: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [Int] = []
        func append(_ n: Int) { lock.lock(); list.append(n); lock.unlock() }
        var values: [Int] { lock.lock(); defer { lock.unlock() }; return list }
    }
}

@Suite struct UploadPathTests {
    @Test func uploadPathsKeepOnlyACleanLastComponent() {
        #expect(Ingestor.uploadPath(name: "../../etc/passwd", contentHash: "abcdef0123456789ff") == "upload/abcdef0123456789/passwd")
        #expect(Ingestor.uploadPath(name: "..\\..\\x.md", contentHash: "00") == "upload/00/x.md")
        #expect(Ingestor.uploadPath(name: "..", contentHash: "00") == "upload/00/upload")
        #expect(Ingestor.uploadPath(name: "a#b\u{0}.md", contentHash: "00") == "upload/00/ab.md")
    }
}
