internal import Foundation
internal import RAGCore
internal import RAGKernels

/// A llama- or qwen2-family transformer with its weights in place in the memory-mapped GGUF
/// (quantized as stored: no f32 copy), its tokenizer and its chat template. Immutable and
/// shareable; each generation runs in its own `Session` (KV cache and scratch).
public final class LanguageModel: @unchecked Sendable {
    public let file: GGUFFile
    public let config: ModelConfig
    public let tokenizer: BPETokenizer
    /// `tokenizer.chat_template` from the file, if any (we render ChatML ourselves).
    public let chatTemplate: String?

    struct Layer {
        var attentionNorm: [Float]
        var query, key, value, attentionOutput: Matrix
        var queryBias, keyBias, valueBias: [Float]?
        var feedForwardNorm: [Float]
        var gate, up, down: Matrix
    }

    let embedding: Matrix
    let layers: [Layer]
    let outputNorm: [Float]
    let output: Matrix

    public convenience init(path: String) throws {
        try self.init(GGUFFile(path: path))
    }

    public init(_ file: GGUFFile) throws {
        self.file = file
        let config = try ModelConfig(file)
        self.config = config
        tokenizer = try BPETokenizer(file)
        chatTemplate = file.metadata["tokenizer.chat_template"]?.string
        let d = config.embeddingLength, kv = config.headCountKV * config.headDimension, ff = config.feedForwardLength
        embedding = try Matrix(file, "token_embd.weight", rows: config.vocabSize, columns: d)

        func vector(_ name: String, _ count: Int, required: Bool = true) throws -> [Float]? {
            guard let info = file.tensor(name) else {
                if required { throw RAGError(.corruptFile, "\(file.path): tensor \"\(name)\" is missing") }
                return nil
            }
            guard info.elementCount == count, info.type.isDecodable else {
                throw RAGError(.corruptFile, "\(file.path): tensor \"\(name)\" holds \(info.elementCount) \(info.type) values, expected \(count)")
            }
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBufferPointer { info.type.dequantize(file.bytes(of: info).baseAddress!, count: count, into: $0.baseAddress!) }
            return values
        }

        var layers: [Layer] = []
        for i in 0..<config.blockCount {
            let p = "blk.\(i)."
            layers.append(Layer(
                attentionNorm: try vector(p + "attn_norm.weight", d)!,
                query: try Matrix(file, p + "attn_q.weight", rows: d, columns: d),
                key: try Matrix(file, p + "attn_k.weight", rows: kv, columns: d),
                value: try Matrix(file, p + "attn_v.weight", rows: kv, columns: d),
                attentionOutput: try Matrix(file, p + "attn_output.weight", rows: d, columns: d),
                queryBias: try vector(p + "attn_q.bias", d, required: false),
                keyBias: try vector(p + "attn_k.bias", kv, required: false),
                valueBias: try vector(p + "attn_v.bias", kv, required: false),
                feedForwardNorm: try vector(p + "ffn_norm.weight", d)!,
                gate: try Matrix(file, p + "ffn_gate.weight", rows: ff, columns: d),
                up: try Matrix(file, p + "ffn_up.weight", rows: ff, columns: d),
                down: try Matrix(file, p + "ffn_down.weight", rows: d, columns: ff)))
        }
        self.layers = layers
        outputNorm = try vector("output_norm.weight", d)!
        output = config.tiedEmbeddings ? embedding : try Matrix(file, "output.weight", rows: config.vocabSize, columns: d)
        guard embedding.activationFormat != nil || embedding.type == .f32 || embedding.type == .f16 else {
            throw RAGError(.unsupported, "\(file.path): token_embd.weight is \(embedding.type)")
        }
    }

    /// The same model with every layer's matrices requantized to Q8_0 by our own quantizer (the
    /// embedding and output matrices as stored), and with `feedForwardPruning` > 0 the smallest
    /// weights of each feed-forward row (that fraction of them, by magnitude) set to zero before
    /// (magnitude pruning, Han et al. 2015). Requantizing cannot restore what the stored
    /// quantization lost; it measures what Q8_0 weights cost and what the kernels do with them.
    /// Rows split over `threads`; the result holds its weights in memory (about 1.1 bytes a weight).
    public func requantizedQ8_0(feedForwardPruning: Double = 0, threads: Int = 2) -> LanguageModel {
        precondition((0..<1).contains(feedForwardPruning), "Programmer error: pruning \(feedForwardPruning)")
        let layers = layers.map { layer in
            var out = layer
            for path in [\Layer.query, \Layer.key, \Layer.value, \Layer.attentionOutput] { out[keyPath: path] = layer[keyPath: path].requantizedQ8_0(threads: threads) }
            for path in [\Layer.gate, \Layer.up, \Layer.down] {
                out[keyPath: path] = layer[keyPath: path].requantizedQ8_0(pruning: feedForwardPruning, threads: threads)
            }
            return out
        }
        return LanguageModel(of: self, layers: layers)
    }

    private init(of model: LanguageModel, layers: [Layer]) {
        file = model.file
        config = model.config
        tokenizer = model.tokenizer
        chatTemplate = model.chatTemplate
        embedding = model.embedding
        self.layers = layers
        outputNorm = model.outputNorm
        output = model.output
    }

    /// Bytes of weights read per generated token (every matrix once, the output matrix included).
    public var weightBytesPerToken: Int {
        var total = output.rowBytes * output.rows
        for l in layers {
            for m in [l.query, l.key, l.value, l.attentionOutput, l.gate, l.up, l.down] { total += m.rowBytes * m.rows }
        }
        return total
    }
}

extension LanguageModel {
    /// The default generator (`ModelCatalog.defaultPath`: `$RAG_GENERATOR`, else the 1.5B).
    public static var defaultPath: String { ModelCatalog.defaultPath }

    /// The small model (tests, quick runs).
    public static var smallPath: String { ModelCatalog.entry(named: "small")!.path }

    /// Opens a model file with an error that says what to do when it is not there.
    public static func open(_ path: String) throws -> LanguageModel {
        guard FileManager.default.fileExists(atPath: path) else {
            throw RAGError(.notFound, "\(path): no such model file; run `make models`, or pass --model with a name (\(ModelCatalog.names.joined(separator: ", "))) or a .gguf file")
        }
        return try LanguageModel(path: path)
    }
}
