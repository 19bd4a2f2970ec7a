import Foundation
import Testing

/// `rag tokenize` and `rag generate` on the small model that `make models` fetches.
@Suite struct GenerateCLITests {
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
        let long = String(repeating: "word ", count: 300)
        let tooLong = try RagBinary.run(["generate", "--model", Self.model, "--context", "64", long], in: dir.url)
        #expect(tooLong.status != 0 && tooLong.stderr.contains("context"))
    }
}
