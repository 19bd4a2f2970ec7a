import Foundation
import RAGLLM

/// llama.cpp's outputs for the three models (copied into Fixtures/llm_reference.json).
struct Reference: Decodable {
    struct Candidate: Decodable { var id: Int32; var logit: Float; var piece: String }
    struct Prompt: Decodable {
        var name: String
        var prompt: String
        var prompt_ids: [Int32]
        var output_ids: [Int32]
        var output_text: String
        var stop: String
        var top5_first_position: [Candidate]
    }
    struct Speed: Decodable { var prompt: String; var prompt_ids: [Int32]; var forced_128_greedy_ids: [Int32] }
    struct Model: Decodable {
        var file: String
        var bos: Int32
        var eos: Int32
        /// nil where the reference does not list them (the 1.5B entry).
        var eog_ids: [Int32]?
        var prompts: [Prompt]
        var speed: Speed?
    }
    var models: [String: Model]

    static let shared: Reference = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/llm_reference.json")
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()

    static let smolLM2 = "smollm2-135m-instruct-q4_1"
    static let qwen = "qwen2.5-coder-0.5b-instruct-q4_k_m"
    static let qwenLarge = "qwen2.5-coder-1.5b-instruct-q4_k_m"
    static let all = [smolLM2, qwen, qwenLarge]

    static let modelsDirectory = ProcessInfo.processInfo.environment["RAG_MODELS_DIR"]
        ?? (ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? NSHomeDirectory() + "/.cache") + "/rag/models"

    static func path(_ model: String) -> String { modelsDirectory + "/gguf/" + shared.models[model]!.file }
}
