public import Foundation
public import RAGCore

/// The model files `make models` fetches, for the tests of the real engines: a suite that needs
/// one is enabled only when it is there (`.enabled(if: ModelFiles.haveEmbedder, …)`), and Swift
/// Testing reports it as skipped with the reason, never as passed.
public enum ModelFiles {
    /// The sentence encoder's folder (`$RAG_EMBEDDER`, else the model cache's).
    public static var embedder: String {
        ProcessInfo.processInfo.environment["RAG_EMBEDDER"].flatMap { $0.isEmpty ? nil : $0 } ?? ModelCache.directory + "/all-MiniLM-L6-v2"
    }

    /// A GGUF file of the model cache by its file name.
    public static func generator(_ file: String) -> String { ModelCache.directory + "/gguf/" + file }

    public static let smallGenerator = generator("SmolLM2-135M-Instruct.Q4_1.gguf")
    public static let generators = [
        "SmolLM2-135M-Instruct.Q4_1.gguf", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    ].map(generator)

    public static var haveEmbedder: Bool { FileManager.default.fileExists(atPath: embedder + "/model.safetensors") }
    public static var haveSmallGenerator: Bool { FileManager.default.fileExists(atPath: smallGenerator) }
    public static var haveGenerators: Bool { generators.allSatisfy { FileManager.default.fileExists(atPath: $0) } }
    public static var haveEmbedderAndSmallGenerator: Bool { haveEmbedder && haveSmallGenerator }

}
