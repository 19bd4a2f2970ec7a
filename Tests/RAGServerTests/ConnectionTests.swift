import Foundation
import HTTPTypes
import RAG
@testable import RAGServer
import RAGCore
import RAGTesting
import Synchronization
import Testing

/// Clients that hang up, stop reading or stop sending hold neither the generator nor a
/// connection for long. Real sockets: the server on loopback, curl as the client.
@Suite struct ConnectionTests {
    /// Runs a shell command to its end without blocking a thread of the concurrency pool; its
    /// exit status and how long it took.
    static func shell(_ command: String) async throws -> (status: Int32, seconds: Double) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let start = Date()
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        return (process.terminationStatus, Date().timeIntervalSince(start))
    }

    /// Polls `condition` every 50 ms for at most `seconds`.
    static func eventually(within seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    /// curl posting `json` to the server, running until `hangUp` kills it (SIGKILL: the test
    /// process's signal mask, which curl inherits, may hold SIGTERM back); its socket closes.
    final class Curl: Sendable {
        let process: Process
        init(_ port: Int, _ path: String, _ json: String) throws {
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["curl", "-s", "-o", "/dev/null", "-X", "POST", "http://127.0.0.1:\(port)\(path)", "-H", "Content-Type: application/json", "-d", json]
            try process.run()
        }
        var isRunning: Bool { process.isRunning }
        func hangUp() { kill(process.processIdentifier, SIGKILL) }
        deinit { if process.isRunning { hangUp() } }
    }

    /// A whole (not streamed) answer is cancelled when its client hangs up: the generator is
    /// free again at once, not when the answer would have ended (here 40 s later).
    @Test func aClientThatHangsUpOnAWholeAnswerCancelsIt() async throws {
        let long = String(repeating: " word", count: 2000)
        let fixture = try Fixture(cache: false, generator: ScriptedGenerator(contextLength: 4096, tokenDelay: 0.02, script: { _ in long })) {
            $0.maxAnswerTokens = 2000
        }
        let live = try await LiveServer(fixture)
        for (path, json) in [
            ("/v1/ask", #"{"question":"Describe Harbor.","max_tokens":2000,"abstain_below":-1}"#),
            ("/v1/chat/completions", #"{"model":"rag","messages":[{"role":"user","content":"Describe Harbor."}],"max_tokens":2000}"#),
        ] {
            let before = try await live.client.metric("rag_generation_cancelled_total") ?? 0
            let curl = try Curl(live.port, path, json)
            #expect(try await Self.eventually(within: 120) { fixture.state.queue.depth == 1 }, "\(path): the question never reached the generator")
            #expect(curl.isRunning, "\(path): the whole answer came back before the hang-up")
            curl.hangUp()
            let freed = try await Self.eventually(within: 30) {
                try await live.client.metric("rag_generation_cancelled_total") == before + 1 && fixture.state.queue.depth == 0
            }
            #expect(freed, "\(path): the generation went on after the client hung up (depth \(fixture.state.queue.depth))")
        }
    }

    /// A request waiting for its turn gives its place back when its client hangs up.
    @Test func aQueuedClientThatHangsUpLeavesTheQueue() async throws {
        let gate = ScriptedGenerator.Gate()
        defer { gate.open() }
        let fixture = try Fixture(queue: 1, cache: false, generator: ScriptedGenerator(contextLength: 1024, gate: gate))
        let live = try await LiveServer(fixture)
        let first = Task { try await live.client.post("/v1/ask", ["question": "Where does Harbor store its vector index?", "max_tokens": 8]) }
        #expect(try await Self.eventually(within: 120) { fixture.state.queue.depth == 1 }, "the first question never reached the generator")
        // The second waits behind it, then its client hangs up…
        let waiting = try Curl(live.port, "/v1/ask", #"{"question":"Which port does Lantern listen on?"}"#)
        #expect(try await Self.eventually(within: 120) { fixture.state.queue.depth == 2 }, "the second question never queued")
        waiting.hangUp()
        // …and its place is free once it has gone: a third may queue instead of getting 503.
        #expect(try await Self.eventually(within: 30) { fixture.state.queue.depth == 1 }, "depth \(fixture.state.queue.depth) after the hang-up")
        let third = Task { try await live.client.post("/v1/ask", ["question": "What is Lantern?", "max_tokens": 4]) }
        #expect(try await Self.eventually(within: 120) { fixture.state.queue.depth == 2 })
        gate.open()
        #expect(try await first.value.status == 200)
        #expect(try await third.value.status == 200)
    }

    /// A client that stops reading a streamed answer holds neither the generator (the answer
    /// is generated into memory at full speed) nor, once a write has waited for the write
    /// timeout, its connection (reset: its unread bytes are dropped).
    @Test func aClientThatStopsReadingHoldsNeitherTheGeneratorNorItsConnection() async throws {
        // 2,000 tokens of 4 KB: 8 MB of events, far more than the socket buffers hold.
        let word = " " + String(repeating: "w", count: 4095)
        let generator = ScriptedGenerator(contextLength: 4096, script: { _ in String(repeating: word, count: 2000) })
        let fixture = try Fixture(cache: false, generator: generator) {
            $0.writeTimeout = .seconds(1)
            $0.maxAnswerTokens = 2000
        }
        let live = try await LiveServer(fixture)
        // bash's /dev/tcp as the client: it sends the question and never reads.
        let script = fixture.folder.path + "/deaf.sh"
        let body = #"{"question":"Describe Harbor.","max_tokens":2000,"stream":true,"abstain_below":-1}"#
        try Data("""
            exec 3<>/dev/tcp/127.0.0.1/\(live.port)
            printf 'POST /v1/ask HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Type: application/json\\r\\nContent-Length: \(body.utf8.count)\\r\\n\\r\\n%s' '\(body)' >&3
            sleep 120

            """.utf8).write(to: URL(fileURLWithPath: script))
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/bin/bash")
        client.arguments = [script]
        try client.run()
        defer { client.terminate() }
        let generated = try await Self.eventually(within: 120) { generator.prompts.count == 1 && fixture.state.queue.depth == 0 }
        #expect(generated, "the deaf client still holds the generator (\(generator.prompts.count) generations, depth \(fixture.state.queue.depth))")
        let reset = try await Self.eventually(within: 60) { try await live.client.metric("rag_http_write_timeouts_total") == 1 }
        #expect(reset, "the deaf client's connection was not reset after the write timeout")
    }

    /// A request whose body stops arriving is not waited for beyond the idle timeout.
    @Test func aRequestThatStopsArrivingIsClosedAfterTheIdleTimeout() async throws {
        let fixture = try Fixture(cache: false) { $0.idleTimeout = .seconds(1) }
        let live = try await LiveServer(fixture)
        // bash's /dev/tcp as the client: the headers and the first bytes of a body, then nothing;
        // `cat` returns when the server closes the connection.
        let script = fixture.folder.path + "/stall.sh"
        try Data("""
            exec 3<>/dev/tcp/127.0.0.1/\(live.port)
            printf 'POST /v1/ask HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Type: application/json\\r\\nContent-Length: 100\\r\\n\\r\\n{"question":' >&3
            timeout 60 cat <&3 > /dev/null

            """.utf8).write(to: URL(fileURLWithPath: script))
        let (status, seconds) = try await Self.shell("bash " + script)
        #expect(status == 0 && seconds < 30, "the connection was still open after \(Int(seconds)) s (status \(status))")
    }

    /// Any client may ask for `max_tokens` (with `ignore_eos`) up to the server's limit, not more.
    @Test func maxTokensIsLimitedByTheServer() async throws {
        let fixture = try Fixture(cache: false, generator: ScriptedGenerator(contextLength: 65_536)) { $0.maxAnswerTokens = 64 }
        try await fixture.routes { s in
            let over = try await s.post("/v1/ask", ["question": "Describe Harbor.", "max_tokens": 65, "ignore_eos": true])
            #expect(over.status == 400 && over.errorCode == "max_tokens_out_of_range")
            let chat = try await s.post("/v1/chat/completions", ["model": "rag", "messages": [["role": "user", "content": "Hi"]], "max_tokens": 10_000])
            #expect(chat.status == 400 && chat.errorCode == "max_tokens_out_of_range")
            #expect(try await s.post("/v1/ask", ["question": "Describe Harbor.", "max_tokens": 64, "ignore_eos": true]).status == 200)
        }
        // Voting's samples share four longest answers: 15 votes of 64 tokens become 15 of 17.
        #expect(try await fixture.state.askOptions(.init(maxTokens: 64, votes: 15)).answerTokens == 4 * 64 / 15)
        #expect(try await fixture.state.askOptions(.init(maxTokens: 64, votes: 4)).answerTokens == 64)
        #expect(try await fixture.state.askOptions(.init(maxTokens: 64)).answerTokens == 64)
    }
}

@Suite struct CloseWatchTests {
    /// A keep-alive connection keeps one watch per request until it closes: a forgotten watch
    /// lets go of its action (and the task the action holds) at once, and never fires.
    @Test func aForgottenWatchLetsGoOfItsActionAndNeverFires() {
        final class Probe: Sendable {
            let fired = Atomic<Int>(0)
        }
        let probe = Probe()
        weak var released: Probe?
        let forgotten: ClientConnection.CloseWatch
        do {
            let held = Probe()
            released = held
            forgotten = ClientConnection.CloseWatch { _ = held; probe.fired.add(1, ordering: .relaxed) }
        }
        #expect(released != nil)  // the watch (as the connection would) holds what its action captures
        forgotten.forget()
        #expect(released == nil)
        forgotten.fire()
        #expect(probe.fired.load(ordering: .relaxed) == 0)
        let watch = ClientConnection.CloseWatch { probe.fired.add(1, ordering: .relaxed) }
        watch.fire()
        watch.fire()
        #expect(probe.fired.load(ordering: .relaxed) == 1)
    }
}

@Suite struct ServerErrorTests {
    /// A server error's body once carried the error's own words — the index's path, a raw
    /// SQLite or Foundation description. Now it names a reference to the log line instead.
    @Test func serverErrorsTellNoPathsOnlyAReference() throws {
        for error: any Error in [
            RAGError(.storage, "/home/op/secret/index.sqlite: cannot write: disk I/O error"),
            CocoaError(.fileReadNoPermission, userInfo: [NSFilePathErrorKey: "/home/op/secret/notes.md"]),
        ] {
            let api = APIError.from(error)
            #expect(api.status == .internalServerError && api.code == "internal_error")
            #expect(!api.message.contains("/home/op") && api.message.contains("reference"), "\(api.message)")
            let reference = try #require(api.message.split(separator: " ").dropFirst(3).first).prefix { $0 != ")" }
            #expect(api.detail?.contains("[\(reference)]") == true && api.detail?.contains("secret") == true, "\(api.detail ?? "")")
        }
        // Client errors keep their words: they are about the request.
        #expect(APIError.from(RAGError(.invalidInput, "`question` is empty")).message == "`question` is empty")
    }
}
