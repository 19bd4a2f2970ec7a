import Foundation
import RAGTesting
import Testing

/// `rag tokenize` and `rag generate` on the small model that `make models` fetches.
@Suite(.onTestThreads, .enabled(if: ModelFiles.haveSmallGenerator, "needs the small generator, SmolLM2 (make models)")) struct GenerateCLITests {
    static let model: String = {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["RAG_MODELS_DIR"] ?? ((environment["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/rag/models")
        return cache + "/gguf/SmolLM2-135M-Instruct.Q4_1.gguf"
    }()

    @Test func tokenizeParsesSpecialTokens() throws {
        let dir = try TempDir()
        let r = try RagBinary.run(["tokenize", "--model", Self.model, "--json", "<|im_start|>user\nHi 2024<|im_end|>"], in: dir.url)
        #expect(r.status == 0, "\(r.stderr)")
        let ids = r.json["ids"] as? [Int] ?? []
        let pieces = r.json["pieces"] as? [String] ?? []
        #expect(ids.first == 1 && ids.last == 2)  // <|im_start|>, <|im_end|>
        #expect(pieces.contains("2") && pieces.contains("4") && pieces.joined() == "<|im_start|>user\nHi 2024<|im_end|>")
    }

    /// The prompt file is read byte for byte (its trailing newlines are prompt tokens) and the
    /// JSON has the fields the issue names.
    @Test func generateJSONFromAPromptFile() throws {
        let dir = try TempDir()
        try dir.write("prompt.txt", "The three primary colors are\n\n")
        let r = try RagBinary.run(["generate", "--model", Self.model, "--prompt-file", "prompt.txt", "--max-tokens", "8", "--json"], in: dir.url)
        #expect(r.status == 0, "\(r.stderr)")
        let prompt = r.json["prompt_tokens"] as? [Int] ?? []
        let tokens = r.json["tokens"] as? [Int] ?? []
        let timings = r.json["timings"] as? [String: Double] ?? [:]
        #expect(prompt.count >= 6)
        #expect(tokens.count >= 1 && tokens.count <= 8)
        #expect((r.json["text"] as? String)?.isEmpty == false)
        #expect((timings["ttft_ms"] ?? 0) > 0 && (timings["prompt_tok_s"] ?? 0) > 0 && timings["decode_tok_s"] != nil)
        let same = try RagBinary.run(["tokenize", "--model", Self.model, "--json", "The three primary colors are\n\n"], in: dir.url)
        #expect(same.json["ids"] as? [Int] == prompt)
    }

    @Test func generateChatStreamsTextAndTimings() throws {
        let dir = try TempDir()
        let r = try RagBinary.run(["generate", "--model", Self.model, "--chat", "--max-tokens", "12", "What is the capital of France? Answer in one sentence."], in: dir.url)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("The capital of France is Paris."))
        #expect(r.stderr.contains("prompt tokens") && r.stderr.contains("tok/s"))
    }

    @Test func badModelsAndArgumentsAreClearErrors() throws {
        let dir = try TempDir()
        try dir.write("not.gguf", "this is not a model")
        let missing = try RagBinary.run(["generate", "--model", "nope.gguf", "hi"], in: dir.url)
        #expect(missing.status != 0 && missing.stderr.contains("make models"))
        let garbage = try RagBinary.run(["generate", "--model", "not.gguf", "hi"], in: dir.url)
        #expect(garbage.status != 0 && garbage.stderr.contains("not.gguf") && garbage.stderr.contains("magic"))
        let both = try RagBinary.run(["generate", "--model", Self.model, "--prompt-file", "x", "hi"], in: dir.url)
        #expect(both.status != 0 && both.stderr.contains("one of them"))
        let unknown = try RagBinary.run(["generate", "--model", "huge", "hi"], in: dir.url)
        #expect(unknown.status != 0 && unknown.stderr.contains("small, base, default, large"))
        let contradiction = try RagBinary.run(["generate", "--model", "small", "--draft-model", "base", "--no-speculate", "hi"], in: dir.url)
        #expect(contradiction.status != 0 && contradiction.stderr.contains("contradict"))
        let otherVocabulary = try RagBinary.run(["generate", "--model", "small", "--draft-model", Self.model.replacingOccurrences(of: "SmolLM2-135M-Instruct.Q4_1", with: "qwen2.5-coder-0.5b-instruct-q4_k_m"), "hi"], in: dir.url)
        #expect(otherVocabulary.status != 0)
        let long = String(repeating: "word ", count: 300)
        let tooLong = try RagBinary.run(["generate", "--model", Self.model, "--context", "64", long], in: dir.url)
        #expect(tooLong.status != 0 && tooLong.stderr.contains("context"))
    }
}

/// `--model` names and `rag model list`.
@Suite(.onTestThreads, .enabled(if: ModelFiles.haveSmallGenerator, "needs the small generator, SmolLM2 (make models)")) struct ModelNameCLITests {
    @Test func namesMeanTheCacheFilesAndTheListSaysWhatIsThere() throws {
        let dir = try TempDir()
        let byName = try RagBinary.run(["generate", "--model", "small", "--max-tokens", "4", "--json", "Hello"], in: dir.url)
        let byPath = try RagBinary.run(["generate", "--model", GenerateCLITests.model, "--max-tokens", "4", "--json", "Hello"], in: dir.url)
        #expect(byName.status == 0 && byPath.status == 0, "\(byName.stderr)")
        #expect(byName.json["tokens"] as? [Int] == byPath.json["tokens"] as? [Int])
        let list = try RagBinary.run(["model", "list", "--json"], in: dir.url)
        #expect(list.status == 0, "\(list.stderr)")
        let rows = (try JSONSerialization.jsonObject(with: Data(list.stdout.utf8))) as? [[String: Any]] ?? []
        #expect(rows.map { $0["names"] as? [String] ?? [] } == [["small"], ["base"], ["large", "default"]])
        let small = try #require(rows.first)
        #expect(small["present"] as? Bool == true && small["verified"] as? Bool == true)
        #expect((small["tensor_types"] as? [String: Int])?["Q4_1"] == 210)
        #expect(rows.filter { $0["is_default"] as? Bool == true }.count <= 1)
        let text = try RagBinary.run(["model", "list"], in: dir.url)
        #expect(text.status == 0 && text.stdout.contains("small: SmolLM2-135M-Instruct.Q4_1.gguf") && text.stdout.contains("verified"))
    }
}

/// `rag ask` end to end: ingest a folder, ask, read the JSON.
@Suite(.onTestThreads, .enabled(if: ModelFiles.haveEmbedderAndSmallGenerator, "needs the embedding model and the small generator (make models)")) struct AskCLITests {
    @Test func askAnswersWithCitationsAndAbstainsOffTopic() throws {
        let dir = try TempDir()
        try dir.write("docs/harbor.md", "# Harbor\n\nHarbor stores its HNSW vector index inside a SQLite file named harbor.db. The default ef_search is 64.\n")
        try dir.write("docs/lantern.md", "# Lantern\n\nLantern is a caching proxy that listens on port 7070.\n")
        let ingest = try RagBinary.run(["ingest", "docs", "--db", "i.sqlite", "--json"], in: dir.url)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let r = try RagBinary.run(
            ["ask", "Where does Harbor store its vector index?", "--db", "i.sqlite", "--model", GenerateCLITests.model, "--max-tokens", "24", "--json"],
            in: dir.url)
        #expect(r.status == 0, "\(r.stderr)")
        let citations = r.json["citations"] as? [[String: Any]] ?? []
        #expect((citations.first?["document"] as? String)?.hasSuffix("harbor.md") == true && citations.first?["n"] as? Int == 1)
        #expect(citations.first?["chunk_id"] is Int && (citations.first?["text"] as? String)?.contains("harbor.db") == true)
        #expect((r.json["answer"] as? String)?.isEmpty == false && r.json["cached"] as? Bool == false)
        let timings = r.json["timings"] as? [String: Double] ?? [:]
        #expect(timings["retrieve_ms"] != nil && (timings["prompt_tokens"] ?? 0) > 20 && (timings["ttft_ms"] ?? 0) > 0)

        let off = try RagBinary.run(["ask", "What is the best recipe for lasagna?", "--db", "i.sqlite", "--model", GenerateCLITests.model, "--json"], in: dir.url)
        #expect(off.status == 0 && off.json["abstained"] as? Bool == true && (off.json["answer"] as? String)?.hasPrefix("I don't know") == true)

        let streamed = try RagBinary.run(["ask", "Which port does Lantern listen on?", "--db", "i.sqlite", "--model", GenerateCLITests.model, "--max-tokens", "16"], in: dir.url)
        #expect(streamed.status == 0 && streamed.stdout.contains("Sources:\n[1] docs/lantern.md"))

        let bad = try RagBinary.run(["ask", "x", "--db", "i.sqlite", "--model", GenerateCLITests.model, "--template", "nope"], in: dir.url)
        #expect(bad.status != 0 && bad.stderr.contains("no template \"nope\""))
        let weights = try RagBinary.run(["search", "harbor", "--db", "i.sqlite", "--dense-weight", "0", "--bm25-weight", "0"], in: dir.url)
        #expect(weights.status != 0 && weights.stderr.contains("not both 0"))
        let lexicalOnly = try RagBinary.run(["search", "harbor index", "--db", "i.sqlite", "--dense-weight", "0", "--json"], in: dir.url)
        #expect(lexicalOnly.status == 0 && ((lexicalOnly.json["results"] as? [[String: Any]])?.first?["document"] as? String)?.hasSuffix("harbor.md") == true)
        let empty = try RagBinary.run(["ask", "  ", "--db", "i.sqlite"], in: dir.url)
        #expect(empty.status != 0 && empty.stderr.contains("empty"))
    }

    /// One rag writes the answers of another, the real model on both sides: `rag ask
    /// --generator-url` against `rag serve --model small` (its model found past its retrieval
    /// models) answers as `rag ask --model small` does, greedy, token for token.
    @Test func aRemoteGeneratorAnswersAsTheLocalModelDoes() throws {
        let dir = try TempDir()
        try dir.write("docs/harbor.md", "# Harbor\n\nHarbor stores its HNSW vector index inside a SQLite file named harbor.db. The default ef_search is 64.\n")
        try dir.write("docs/lantern.md", "# Lantern\n\nLantern is a caching proxy that listens on port 7070.\n")
        #expect(try RagBinary.run(["ingest", "docs", "--db", "i.sqlite"], in: dir.url).status == 0)
        let question = "Where does Harbor store its vector index?"
        let local = try RagBinary.run(["ask", question, "--db", "i.sqlite", "--model", GenerateCLITests.model, "--max-tokens", "24", "--json"], in: dir.url)
        #expect(local.status == 0, "\(local.stderr)")
        let server = try CrashTests.Server(dir)
        defer { server.killHard() }
        try #require(server.port > 0, "rag serve did not start")
        let remote = try RagBinary.run(
            ["ask", question, "--db", "i.sqlite", "--generator-url", "http://127.0.0.1:\(server.port)/v1", "--max-tokens", "24", "--json"], in: dir.url)
        #expect(remote.status == 0, "\(remote.stderr)")
        #expect((remote.json["answer"] as? String)?.isEmpty == false)
        #expect(remote.json["answer"] as? String == local.json["answer"] as? String, "\(remote.stdout)\n\(local.stdout)")
        let gone = try RagBinary.run(
            ["ask", question, "--db", "i.sqlite", "--generator-url", "http://127.0.0.1:1/v1", "--generator-model", "m", "--generator-retries", "0"], in: dir.url)
        #expect(gone.status != 0 && gone.stderr.contains("connection refused"), "\(gone.stderr)")
    }
}
