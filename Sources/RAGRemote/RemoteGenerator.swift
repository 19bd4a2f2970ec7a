internal import AsyncHTTPClient
public import Foundation
internal import NIOCore
internal import NIOHTTP1
public import RAGCore

/// The answer written by a model on another machine: any server with OpenAI's chat-completions
/// route (vLLM, llama.cpp's llama-server, Ollama, another `rag serve`), streamed as it is written.
///
/// rag still retrieves, builds the prompt from its templates, checks the citations and caches the
/// answer; only the generation moves. The turns are sent as they are (the server applies its
/// model's chat template). The remote model's token ids are not known here: `tokenize` estimates
/// how many there are (one per three bytes of UTF-8, more than BPE vocabularies need for prose),
/// which is all the prompt's budget needs, and a result carries the server's token counts.
///
/// A request the server cannot take yet — it cannot be reached, or answers 429, 502, 503 or 504 —
/// is tried again after a pause that doubles (0.5 s, 1 s, …; a `Retry-After` of at most 30 s is
/// followed), as long as no text of it has arrived; then it is a clear error naming the server.
public final class RemoteGenerator: TextGenerator {
    /// Where the server is and how to talk to it.
    public struct Endpoint: Sendable {
        /// The API's base, e.g. `http://gpu-box:8000/v1` (`/chat/completions` is added).
        public var url: URL
        /// The model to ask for; nil: the first the server lists at `/models` (past another
        /// rag's retrieval models).
        public var model: String?
        /// Sent as `Authorization: Bearer …`.
        public var key: String?
        /// Seconds without a byte from the server before a request is given up (the first token
        /// included: a long prompt on a busy server takes a while).
        public var timeout: Double = 120
        /// Attempts after the first (see the type's note).
        public var retries = 2

        /// Checks `url` (http or https, a host) and keeps it without a trailing slash.
        public init(url: String, model: String? = nil, key: String? = nil, timeout: Double = 120, retries: Int = 2) throws {
            let trimmed = url.hasSuffix("/") ? String(url.dropLast()) : url
            guard let parsed = URL(string: trimmed), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil else {
                throw RAGError(.invalidInput, "--generator-url \(url): not an http(s) address; give the API's base, e.g. http://gpu-box:8000/v1")
            }
            guard timeout > 0, (0...10).contains(retries) else {
                throw RAGError(.invalidInput, "the generator's timeout must be positive and its retries between 0 and 10")
            }
            self.url = parsed
            self.model = model.flatMap { $0.isEmpty ? nil : $0 }
            self.key = key.flatMap { $0.isEmpty ? nil : $0 }
            self.timeout = timeout
            self.retries = retries
        }
    }

    public let endpoint: Endpoint
    public let contextLength: Int
    public let modelName: String

    /// Connects to the server's model: the one named, else the first it lists (asked once, here).
    public init(_ endpoint: Endpoint, contextLength: Int) throws {
        self.endpoint = endpoint
        self.contextLength = contextLength
        if let model = endpoint.model {
            modelName = model
        } else {
            modelName = try Self.firstModel(endpoint)
        }
    }

    // MARK: TextGenerator

    /// The turns as plain text, for counting and for showing the prompt.
    public func renderChat(_ messages: [ChatMessage]) -> String {
        messages.map { "\($0.role.rawValue): \(LiteralText.strip($0.content))" }.joined(separator: "\n\n") + "\n\nassistant: "
    }

    /// As many placeholder ids as the text would take at most (see the type's note).
    public func tokenize(_ text: String) -> [Int32] {
        Array(repeating: 0, count: Self.estimatedTokens(text))
    }

    static func estimatedTokens(_ text: String) -> Int { (text.utf8.count + 2) / 3 }

    /// Token ids are another model's here: only chat turns can be sent.
    public func generate(
        prompt: [Int32], options: GenerationOptions, emit: (String) -> Void, cancelled: @escaping () -> Bool
    ) throws -> GenerationResult {
        throw RAGError(.invalidInput, "the generator at \(endpoint.url) takes chat turns, not token ids; run this without --generator-url")
    }

    public func generate(
        chat messages: [ChatMessage], options: GenerationOptions, emit: (String) -> Void, cancelled: @escaping () -> Bool
    ) throws -> GenerationResult {
        let body = try requestBody(messages, options: options)
        var pause = 0.5
        var why = ""
        for attempt in 0...endpoint.retries {
            if attempt > 0 {
                let end = Date().addingTimeInterval(pause)
                while Date() < end {
                    if cancelled() { return Self.cancelledResult(estimatedPrompt: body.count / 3) }
                    Thread.sleep(forTimeInterval: min(0.05, max(0, end.timeIntervalSinceNow)))
                }
                pause *= 2
            }
            switch try attemptGeneration(body, emit: emit, cancelled: cancelled) {
            case .done(let result):
                return result
            case .retry(let reason, let retryAfter):
                why = reason
                if let retryAfter { pause = min(retryAfter, 30) }
            }
        }
        let attempts = endpoint.retries + 1
        throw RAGError(
            .unavailable,
            "the generator at \(endpoint.url) did not answer (\(why)) in \(attempts) attempt\(attempts == 1 ? "" : "s"); is it running, and is --generator-url right?")
    }

    // MARK: One request

    private enum Outcome {
        case done(GenerationResult)
        /// Nothing was emitted; the request may be sent again (after `retryAfter` seconds, if the server said).
        case retry(String, retryAfter: Double?)
    }

    private func attemptGeneration(_ body: Data, emit: (String) -> Void, cancelled: @escaping () -> Bool) throws -> Outcome {
        let start = Date()
        let (stream, task) = send(path: "chat/completions", body: body)
        defer { task.cancel() }
        let idle = endpoint.timeout
        let status: Int, retryAfter: String?
        switch stream.next(idleTimeout: idle, cancelled: cancelled) {
        case .head(let code, let after): (status, retryAfter) = (code, after)
        case .end(let error): return .retry(Self.describe(error), retryAfter: nil)
        case .idle: return .retry("no answer in \(Self.seconds(idle)) s", retryAfter: nil)
        case .cancelled: return .done(Self.cancelledResult(estimatedPrompt: body.count / 3))
        case .line: return .retry("a body before the headers", retryAfter: nil)
        }
        guard status == 200 else {
            let message = Self.errorMessage(stream.rest(idleTimeout: idle, cancelled: cancelled))
            if [429, 502, 503, 504].contains(status) {
                return .retry("HTTP \(status)\(message.isEmpty ? "" : ": " + message)", retryAfter: retryAfter.flatMap(Double.init))
            }
            let hint = switch status {
            case 401, 403: " (check --generator-key)"
            case 404: " (check --generator-url and --generator-model)"
            default: ""
            }
            throw RAGError(.unavailable, "the generator at \(endpoint.url) refused the request: HTTP \(status)\(message.isEmpty ? "" : ", " + message)\(hint)")
        }
        var text = ""
        var chunks = 0
        var firstToken: Date?
        var finish: String?
        var usage: (prompt: Int, completion: Int, cached: Int)?
        var stop = GenerationResult.StopReason.endOfGeneration
        reading: while true {
            switch stream.next(idleTimeout: idle, cancelled: cancelled) {
            case .line(let line):
                guard line.hasPrefix("data:") else { continue }
                let payload = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
                if payload == "[DONE]" { break reading }
                let event = try Self.parse(payload, from: endpoint.url)
                if let error = event.error {
                    if text.isEmpty, chunks == 0 { return .retry(error, retryAfter: nil) }
                    throw RAGError(.unavailable, "the generator at \(endpoint.url) failed in the middle of the answer: \(error)")
                }
                if let piece = event.content, !piece.isEmpty {
                    firstToken = firstToken ?? Date()
                    chunks += 1
                    text += piece
                    emit(piece)
                }
                finish = event.finishReason ?? finish
                usage = event.usage ?? usage
            case .end(let error):
                guard let error else { break reading }
                if text.isEmpty { return .retry(Self.describe(error), retryAfter: nil) }
                throw RAGError(.unavailable, "the connection to the generator at \(endpoint.url) broke in the middle of the answer (\(Self.describe(error)))")
            case .idle:
                if text.isEmpty { return .retry("no token in \(Self.seconds(idle)) s", retryAfter: nil) }
                throw RAGError(.unavailable, "the generator at \(endpoint.url) sent nothing for \(Self.seconds(idle)) s in the middle of the answer")
            case .cancelled:
                stop = .cancelled
                break reading
            case .head:
                continue
            }
        }
        if stop != .cancelled {
            stop = finish == "length" ? .maxTokens : .endOfGeneration
        }
        let end = Date()
        let first = firstToken ?? end
        let completion = usage?.completion ?? chunks
        return .done(GenerationResult(
            promptTokens: Array(repeating: 0, count: usage?.prompt ?? body.count / 3), reusedPromptTokens: usage?.cached ?? 0,
            tokens: Array(repeating: 0, count: completion), text: text, stopReason: stop,
            timeToFirstToken: first.timeIntervalSince(start), promptSeconds: first.timeIntervalSince(start),
            decodeSeconds: end.timeIntervalSince(first), decodedTokens: max(0, completion - 1)))
    }

    /// The request as OpenAI's API takes it; sampling as rag's options say (greedy: temperature 0).
    private func requestBody(_ messages: [ChatMessage], options: GenerationOptions) throws -> Data {
        var body: [String: Any] = [
            "model": modelName,
            "messages": messages.map { ["role": $0.role.rawValue, "content": LiteralText.strip($0.content)] },
            "stream": true,
            "stream_options": ["include_usage": true],
            "max_tokens": options.maxTokens,
            "temperature": Double(options.sampling.temperature),
        ]
        if options.sampling.temperature > 0 {
            body["top_p"] = Double(options.sampling.topP)
            body["seed"] = options.sampling.seed & 0x7FFF_FFFF
        }
        if !options.stop.isEmpty { body["stop"] = Array(options.stop.prefix(4)) }
        if options.ignoreEndOfGeneration { body["ignore_eos"] = true }
        guard let schema = options.schema else { return try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]) }
        // The schema goes as written (its properties' order is the order they are generated
        // in, which a dictionary would lose): a placeholder, then its text in its place.
        let placeholder = "rag-schema-\(UUID().uuidString)"
        body["response_format"] = ["type": "json_schema", "json_schema": ["name": "answer", "strict": true, "schema": placeholder]]
        let text = String(decoding: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]), as: UTF8.self)
        return Data(text.replacingOccurrences(of: "\"\(placeholder)\"", with: schema.source.text).utf8)
    }

    /// The HTTP client of every remote generator: a connection that cannot be made fails its
    /// request at once (the generator tries again on its own terms, above).
    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10)))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// Starts a request; its events come through the returned stream, and cancelling the task
    /// closes it.
    private func send(path: String, body: Data?) -> (ResponseStream, Task<Void, Never>) {
        var request = HTTPClientRequest(url: endpoint.url.appendingPathComponent(path).absoluteString)
        request.method = body == nil ? .GET : .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: body == nil ? "application/json" : "text/event-stream")
        if let key = endpoint.key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let stream = ResponseStream()
        let task = Task {
            do {
                // The stream's idle timeout governs; a deadline would end a long answer.
                let response = try await Self.client.execute(request, timeout: .hours(24))
                stream.receive(status: Int(response.status.code), retryAfter: response.headers.first(name: "Retry-After"))
                for try await buffer in response.body { stream.receive(buffer.readableBytesView) }
                stream.finish(nil)
            } catch {
                stream.finish(error)
            }
        }
        return (stream, task)
    }

    /// The server's first model (`GET /models`), tried as often as a generation would be.
    private static func firstModel(_ endpoint: Endpoint) throws -> String {
        let probe = RemoteGenerator(unchecked: endpoint)
        var why = ""
        for attempt in 0...endpoint.retries {
            if attempt > 0 { Thread.sleep(forTimeInterval: 0.5 * Double(1 << (attempt - 1))) }
            let (stream, task) = probe.send(path: "models", body: nil)
            defer { task.cancel() }
            switch stream.next(idleTimeout: endpoint.timeout, cancelled: { false }) {
            case .head(let status, _):
                let body = stream.rest(idleTimeout: endpoint.timeout, cancelled: { false })
                guard status == 200 else {
                    if [429, 502, 503, 504].contains(status) {
                        why = "HTTP \(status)"
                        continue
                    }
                    throw RAGError(.unavailable, "the generator at \(endpoint.url) refused to list its models: HTTP \(status) \(errorMessage(body)); name one with --generator-model")
                }
                let list = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
                let ids = (list?["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
                // Another rag lists its retrieval first (`rag`, `rag:TEMPLATE`): that would answer
                // this prompt as a question of its own index. Its model follows.
                guard let first = ids.first(where: { $0 != "rag" && !$0.hasPrefix("rag:") }) else {
                    throw RAGError(.unavailable, "the generator at \(endpoint.url) lists no model at /models; name one with --generator-model")
                }
                return first
            case .end(let error): why = describe(error)
            case .idle: why = "no answer in \(seconds(endpoint.timeout)) s"
            case .line, .cancelled: why = "no headers"
            }
        }
        throw RAGError(.unavailable, "the generator at \(endpoint.url) did not answer (\(why)); is it running, and is --generator-url right?")
    }

    private init(unchecked endpoint: Endpoint) {
        self.endpoint = endpoint
        contextLength = 0
        modelName = ""
    }

    // MARK: Reading the server's words

    struct Event {
        var content: String?
        var finishReason: String?
        var usage: (prompt: Int, completion: Int, cached: Int)?
        var error: String?
    }

    /// One `data:` payload of the stream.
    static func parse(_ payload: String, from url: URL) throws -> Event {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any] else {
            throw RAGError(.unavailable, "the generator at \(url) sent an event that is not a JSON object: \(payload.prefix(200))")
        }
        var event = Event()
        if let error = object["error"] {
            event.error = (error as? [String: Any])?["message"] as? String ?? "\(error)"
            return event
        }
        if let choice = (object["choices"] as? [[String: Any]])?.first {
            event.content = (choice["delta"] as? [String: Any])?["content"] as? String
            event.finishReason = choice["finish_reason"] as? String
        }
        if let usage = object["usage"] as? [String: Any], let prompt = usage["prompt_tokens"] as? Int, let completion = usage["completion_tokens"] as? Int {
            let cached = (usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? 0
            event.usage = (prompt, completion, cached)
        }
        return event
    }

    /// An error body's message (OpenAI's `{"error":{"message":…}}`), else its first 200 characters.
    static func errorMessage(_ body: String) -> String {
        let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        if let error = object?["error"] as? [String: Any], let message = error["message"] as? String { return message }
        if let message = object?["error"] as? String { return message }
        return String(body.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200))
    }

    /// 0.5 → "0.5", 120 → "120".
    static func seconds(_ value: Double) -> String { String(format: "%g", value) }

    static func describe(_ error: (any Error)?) -> String {
        guard let error else { return "the connection closed" }
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "no connection in 10 s"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: return error.description
            }
        }
        return text
    }

    private static func cancelledResult(estimatedPrompt: Int) -> GenerationResult {
        GenerationResult(
            promptTokens: Array(repeating: 0, count: estimatedPrompt), reusedPromptTokens: 0, tokens: [], text: "", stopReason: .cancelled,
            timeToFirstToken: 0, promptSeconds: 0, decodeSeconds: 0, decodedTokens: 0)
    }
}
