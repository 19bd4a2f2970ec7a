internal import RAGCore

/// The hyperparameters of a llama- or qwen2-family model, read from its GGUF metadata.
public struct ModelConfig: Sendable, Equatable {
    public enum Architecture: String, Sendable {
        case llama, qwen2
    }

    /// How RoPE pairs dimensions: adjacent pairs (llama) or the two halves (NeoX; qwen2).
    public enum RopeLayout: Sendable {
        case normal, neox
    }

    public var architecture: Architecture
    public var blockCount: Int
    public var embeddingLength: Int
    public var feedForwardLength: Int
    public var headCount: Int
    public var headCountKV: Int
    public var contextLength: Int
    public var ropeFreqBase: Double
    public var rmsEpsilon: Double
    public var vocabSize: Int
    public var ropeLayout: RopeLayout
    /// No `output.weight`: the token embedding matrix is the output matrix too.
    public var tiedEmbeddings: Bool

    public var headDimension: Int { embeddingLength / headCount }

    public init(_ file: GGUFFile) throws {
        let name = try file.requireString("general.architecture")
        guard let architecture = Architecture(rawValue: name) else {
            throw RAGError(.unsupported, "\(file.path): architecture \"\(name)\"; this rag runs llama and qwen2 models")
        }
        let a = architecture.rawValue
        self.architecture = architecture
        blockCount = try file.requireInt("\(a).block_count")
        embeddingLength = try file.requireInt("\(a).embedding_length")
        feedForwardLength = try file.requireInt("\(a).feed_forward_length")
        headCount = try file.requireInt("\(a).attention.head_count")
        headCountKV = try file.metadata["\(a).attention.head_count_kv"].map { _ in try file.requireInt("\(a).attention.head_count_kv") } ?? headCount
        contextLength = try file.requireInt("\(a).context_length")
        ropeFreqBase = file.metadata["\(a).rope.freq_base"]?.double ?? 10_000
        guard let epsilon = try file.require("\(a).attention.layer_norm_rms_epsilon").double else {
            throw RAGError(.corruptFile, "\(file.path): metadata \"\(a).attention.layer_norm_rms_epsilon\" should be a number")
        }
        rmsEpsilon = epsilon
        guard let tokens = try file.require("tokenizer.ggml.tokens").array else {
            throw RAGError(.corruptFile, "\(file.path): metadata \"tokenizer.ggml.tokens\" should be an array of strings")
        }
        vocabSize = tokens.count
        ropeLayout = architecture == .qwen2 ? .neox : .normal
        tiedEmbeddings = file.tensor("output.weight") == nil
        guard headCount > 0, headCountKV > 0, headCount % headCountKV == 0, embeddingLength % headCount == 0, blockCount > 0 else {
            throw RAGError(.corruptFile, "\(file.path): inconsistent shape: \(embeddingLength) wide, \(headCount) heads, \(headCountKV) KV heads, \(blockCount) blocks")
        }
    }
}
