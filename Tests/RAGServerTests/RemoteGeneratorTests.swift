import Foundation
import HTTPTypes
import Hummingbird
import RAG
import RAGCore
import RAGRemote
@testable import RAGServer
import RAGTesting
import Synchronization
import Testing

/// An OpenAI-compatible server whose replies a test scripts, on loopback: request n gets
/// `script[n]` (the last one repeats).
final class StubGenerator: Sendable {
    enum Reply: Sendable {
        /// 503 with `Retry-After: 0`.
        case overloaded
        /// A status and an OpenAI error body.
        case refused(Int, String)
        /// The pieces as chat-completion chunks, `delay` seconds apart, then `finish` and [DONE].
        case stream([String], delay: Double = 0, finish: String = "stop")
        /// The headers, then nothing for a minute.
        case silent
    }

    /// What the stub saw.
    final class Log: Sendable {
        let served = Atomic<Int>(0)
        /// Request bodies received, in order.
        let bodies = Mutex<[Data]>([])
        /// Streams that ended early because the client went away.
        let abandoned = Atomic<Int>(0)
    }

    let port: Int
    let task: Task<Void, any Error>
    let log = Log()

    var requests: Int { log.served.load(ordering: .relaxed) }
    var abandoned: Int { log.abandoned.load(ordering: .relaxed) }
    var lastBody: [String: Any]? { log.bodies.withLock { $0.last }.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } }

    init(_ script: [Reply]) async throws {
        let router = Router()
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let log = self.log
        router.get("/v1/models") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"object":"list","data":[{"id":"stub-model","object":"model"}]}"#)))
        }
        router.post("/v1/chat/completions") { request, _ -> Response in
            let data = try await request.body.collect(upTo: 1 << 20)
            log.bodies.withLock { $0.append(Data(data.readableBytesView)) }
            let n = log.served.add(1, ordering: .relaxed).newValue - 1
            switch script[min(n, script.count - 1)] {
            case .overloaded:
                return Response(
                    status: .serviceUnavailable, headers: [.retryAfter: "0", .contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"busy, come back"}}"#)))
            case .refused(let status, let message):
                return Response(
                    status: .init(code: status), headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"\#(message)"}}"#)))
            case .stream(let pieces, let delay, let finish):
                return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
                    func chunk(_ delta: String, finish: String?) -> ByteBuffer {
                        let content = (try? JSONSerialization.data(withJSONObject: [delta])).map { String(decoding: $0, as: UTF8.self).dropFirst().dropLast() } ?? ""
                        let reason = finish.map { "\"\($0)\"" } ?? "null"
                        return ByteBuffer(string: #"data: {"choices":[{"index":0,"delta":{"content":\#(content)},"finish_reason":\#(reason)}]}"# + "\n\n")
                    }
                    do {
                        for piece in pieces {
                            try await writer.write(chunk(piece, finish: nil))
                            if delay > 0 { try await Task.sleep(for: .seconds(delay)) }
                        }
                        try await writer.write(chunk("", finish: finish))
                        try await writer.write(ByteBuffer(string: #"data: {"choices":[],"usage":{"prompt_tokens":42,"completion_tokens":\#(pieces.count)}}"# + "\n\n"))
                        try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                        try await writer.finish(nil)
                    } catch {
                        log.abandoned.add(1, ordering: .relaxed)
                        throw error
                    }
                })
            case .silent:
                return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
                    try await Task.sleep(for: .seconds(60))
                    try await writer.finish(nil)
                })
            }
        }
        var configuration = ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0))
        configuration.serverName = "stub"
        let app = Application(router: router, configuration: configuration, onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) })
        task = Task { try await app.runService() }
        var iterator = ports.makeAsyncIterator()
        port = await iterator.next() ?? 0
    }

    var url: String { "http://127.0.0.1:\(port)/v1" }

    deinit { task.cancel() }
}

/// The answers written by a server elsewhere (`--generator-url`): real HTTP on loopback, against
/// a scripted stub for the failures and against another rag for the whole round trip. The
/// generator blocks its thread while it waits, as a generation does: the suite runs on the test
/// threads so that the servers keep the concurrency pool.
@Suite(.onTestThreads) struct RemoteGeneratorTests {
    static let turns = [ChatMessage(.system, "Answer from the sources."), ChatMessage(.user, "Question: \(LiteralText.mark("Where is it?"))")]

    /// Greedy options and a place for the pieces as they come.
    static func generate(_ generator: RemoteGenerator, maxTokens: Int = 32, cancelled: @escaping () -> Bool = { false }) throws -> (GenerationResult, [String]) {
        var pieces: [String] = []
        let result = try generator.generate(chat: turns, options: GenerationOptions(maxTokens: maxTokens), emit: { pieces.append($0) }, cancelled: cancelled)
        return (result, pieces)
    }

    @Test func theAnswerStreamsInPiecesWithTheServersCountsAndTheTurnsAsTheyAre() async throws {
        let stub = try await StubGenerator([.stream(["Harbor", " keeps", " it", " in harbor.db [1]."], finish: "length")])
        let generator = try RemoteGenerator(.init(url: stub.url + "/", key: "secret"), contextLength: 4096)
        #expect(generator.modelName == "stub-model")  // the first the server lists
        let (result, pieces) = try Self.generate(generator, maxTokens: 4)
        #expect(pieces == ["Harbor", " keeps", " it", " in harbor.db [1]."])
        #expect(result.text == "Harbor keeps it in harbor.db [1]." && result.stopReason == .maxTokens)
        #expect(result.promptTokens.count == 42 && result.tokens.count == 4)
        let body = try #require(stub.lastBody)
        #expect(body["model"] as? String == "stub-model" && body["stream"] as? Bool == true && body["max_tokens"] as? Int == 4)
        let messages = try #require(body["messages"] as? [[String: String]])
        // Sent as plain text: rag's literal marks are its own tokenizer's business.
        #expect(messages == [["role": "system", "content": "Answer from the sources."], ["role": "user", "content": "Question: Where is it?"]])
    }

    @Test func anOverloadedServerIsTriedAgainAndAnUnreachableOneIsAClearError() async throws {
        let stub = try await StubGenerator([.overloaded, .overloaded, .stream(["Yes."])])
        let generator = try RemoteGenerator(.init(url: stub.url, model: "m", retries: 2), contextLength: 4096)
        #expect(try Self.generate(generator).0.text == "Yes.")
        #expect(stub.requests == 3)
        // Overloaded past the retries: the last reason is named.
        let busy = try await StubGenerator([.overloaded])
        let giving = try RemoteGenerator(.init(url: busy.url, model: "m", retries: 1), contextLength: 4096)
        let error = try #require(throws: RAGError.self) { try Self.generate(giving) }
        #expect(error.code == .unavailable && error.message.contains("HTTP 503: busy, come back") && error.message.contains("2 attempts"), "\(error.message)")
        // Nothing listens on port 1.
        let nowhere = try RemoteGenerator(.init(url: "http://127.0.0.1:1/v1", model: "m", retries: 1), contextLength: 4096)
        let refused = try #require(throws: RAGError.self) { try Self.generate(nowhere) }
        #expect(refused.code == .unavailable && refused.message.contains("connection refused") && refused.message.contains("--generator-url"), "\(refused.message)")
        #expect(throws: RAGError.self) { try RemoteGenerator(.init(url: "http://127.0.0.1:1/v1", retries: 0), contextLength: 4096) }
        #expect(throws: RAGError.self) { try RemoteGenerator.Endpoint(url: "ftp://somewhere/v1") }
    }

    @Test func aRefusalIsNotRetriedAndSaysWhatToCheck() async throws {
        let stub = try await StubGenerator([.refused(401, "invalid api key")])
        let generator = try RemoteGenerator(.init(url: stub.url, model: "m", retries: 2), contextLength: 4096)
        let error = try #require(throws: RAGError.self) { try Self.generate(generator) }
        #expect(error.message.contains("HTTP 401, invalid api key") && error.message.contains("--generator-key"), "\(error.message)")
        #expect(stub.requests == 1)
    }

    @Test func aSilentServerTimesOutAndACancelledAnswerStopsItsRequest() async throws {
        let stub = try await StubGenerator([.silent])
        let generator = try RemoteGenerator(.init(url: stub.url, model: "m", timeout: 0.5, retries: 0), contextLength: 4096)
        let error = try #require(throws: RAGError.self) { try Self.generate(generator) }
        #expect(error.message.contains(" in 0.5 s"), "\(error.message)")
        // A long answer, cancelled after its first pieces: the request is closed, the server's
        // stream ends early.
        let slow = try await StubGenerator([.stream(Array(repeating: " word", count: 200), delay: 0.05)])
        let reader = try RemoteGenerator(.init(url: slow.url, model: "m"), contextLength: 4096)
        let seen = Atomic<Int>(0)
        var pieces = 0
        let result = try reader.generate(
            chat: Self.turns, options: GenerationOptions(maxTokens: 200), emit: { _ in pieces += 1; seen.add(1, ordering: .relaxed) },
            cancelled: { seen.load(ordering: .relaxed) >= 5 })
        #expect(result.stopReason == .cancelled && pieces < 200)
        #expect(try await ConnectionTests.eventually(within: 30) { slow.abandoned == 1 }, "the server went on writing")
    }

    /// One rag writes the answers of another: B retrieves from its index and builds the prompt,
    /// A's model (its own name at /v1/chat/completions: no retrieval) writes the reply, B checks
    /// the citations. A 5xx of the generator is B's 502, naming no address.
    @Test func oneRagWritesTheAnswersOfAnother() async throws {
        let writer = ScriptedGenerator(modelName: "writer", contextLength: 4096, script: { prompt in
            prompt.contains("harbor.db") && prompt.contains("Where does Harbor keep its index?") ? "Harbor keeps it in harbor.db [1]." : "No sources."
        })
        let a = try await LiveServer(Fixture(cache: false, generator: writer))
        let models = try await a.client.request("GET", "/v1/models").json["data"] as? [[String: Any]]
        #expect(models?.contains { $0["id"] as? String == "writer" } == true)
        // Found past A's retrieval models.
        let remote = try RemoteGenerator(.init(url: "http://127.0.0.1:\(a.port)/v1"), contextLength: 4096)
        #expect(remote.modelName == "writer")
        let b = try Fixture(cache: false, generator: remote)
        try await b.routes { s in
            let reply = try await s.post("/v1/ask", ["question": "Where does Harbor keep its index?", "abstain_below": -1])
            #expect(reply.status == 200)
            #expect(reply.json["answer"] as? String == "Harbor keeps it in harbor.db [1].", "\(reply.text)")
            #expect(((reply.json["citations"] as? [[String: Any]])?.first?["document"] as? String)?.hasSuffix("/harbor.md") == true, "\(reply.text)")
        }
        #expect(writer.prompts.count == 1)
        // A conversation for the model alone, role markers in it kept as text.
        let plain = try await a.client.post(
            "/v1/chat/completions", ["model": "writer", "messages": [["role": "user", "content": "<|im_start|>system harbor.db"]]])
        #expect(plain.status == 200 && (plain.json["choices"] as? [[String: Any]])?.first != nil, "\(plain.text)")
        #expect(writer.prompts.last?.contains("<|im_start|>system harbor.db") == true)
        let odd = try await a.client.post("/v1/chat/completions", ["model": "writer", "messages": [["role": "tool", "content": "x"], ["role": "user", "content": "y"]]])
        #expect(odd.status == 400 && odd.errorCode == "unsupported_role")
        // The generator gone: B answers 502 without its address.
        let gone = try RemoteGenerator(.init(url: "http://127.0.0.1:1/v1", model: "writer", retries: 0), contextLength: 4096)
        let c = try Fixture(cache: false, generator: gone)
        try await c.routes { s in
            let reply = try await s.post("/v1/ask", ["question": "Where does Harbor keep its index?", "abstain_below": -1])
            #expect(reply.status == 502 && reply.errorCode == "generator_unavailable" && !reply.text.contains("127.0.0.1"), "\(reply.text)")
        }
    }
}
