internal import Foundation
internal import RAGCore
internal import RAGKernels

/// all-MiniLM-L6-v2 (a 6-layer BERT) as a sentence encoder: token embeddings → 6 encoder layers
/// → mean pooling over the real tokens → L2 normalisation. Projections are `Linear` layers
/// (OpenBLAS sgemm in f32, rag's bf16 or int8 kernels); LayerNorm and GELU (erf form) are rag's
/// SIMD kernels, and each head's attention one fused kernel (`SelfAttention`).
///
/// Sequences in a batch are packed end to end (no padding): every operation but attention works
/// per token, and attention runs per sequence on its own rows.
public final class BertEncoder: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var hidden = 384
        public var layers = 6
        public var heads = 12
        public var intermediate = 1536
        public var vocabulary = 30522
        public var maxPositions = 512
        public var layerNormEpsilon: Float = 1e-12
        public init() {}
    }

    struct Layer: Sendable {
        /// Query, key and value projections stacked: hidden → 3·hidden.
        let qkv: Linear
        let attentionOutput: Linear  // hidden → hidden
        let attentionNormWeight: [Float]
        let attentionNormBias: [Float]
        let intermediate: Linear  // hidden → intermediate
        let output: Linear  // intermediate → hidden
        let outputNormWeight: [Float]
        let outputNormBias: [Float]
    }

    public let configuration: Configuration
    /// Threads for attention (each OpenBLAS call runs on one thread).
    public nonisolated(unsafe) var threads = 2
    /// Output vector length.
    public var dimensions: Int { configuration.hidden }
    let wordEmbeddings: [Float]  // (vocabulary × hidden)
    let positionEmbeddings: [Float]  // (maxPositions × hidden)
    let tokenTypeEmbedding: [Float]  // (hidden): type 0 only
    let embeddingNormWeight: [Float]
    let embeddingNormBias: [Float]
    let layers: [Layer]

    /// How the projections multiply: f32 (OpenBLAS, the exact path, the default), bf16 (weights
    /// rounded to bfloat16 at load, f32 arithmetic: half the bytes to read, so a query, which is
    /// bound by reading the weights, embeds faster) or int8 (weights in int8 with a scale per
    /// row, activations with one per 32 values: a quarter of f32's bytes, and with AVX-512 VNNI
    /// one `vpdpbusd` per four values of sixteen weight rows, the row scales outside the sums;
    /// within cosine 0.9993 of the reference).
    public enum Precision: String, Sendable, CaseIterable {
        case f32, bf16, int8

        var linear: Linear.Precision {
            switch self {
            case .f32: .f32
            case .bf16: .bf16
            case .int8: .int8
            }
        }
    }

    public let precision: Precision

    /// Loads the weights from `model.safetensors` (BERT names, as sentence-transformers saves them).
    public init(weights: SafeTensors, configuration: Configuration = .init(), precision: Precision = .f32) throws {
        self.configuration = configuration
        self.precision = precision
        let h = configuration.hidden, f = configuration.intermediate
        wordEmbeddings = try weights.floats("embeddings.word_embeddings.weight", shape: [configuration.vocabulary, h])
        positionEmbeddings = try weights.floats("embeddings.position_embeddings.weight", shape: [configuration.maxPositions, h])
        tokenTypeEmbedding = Array(try weights.floats("embeddings.token_type_embeddings.weight")[0..<h])
        embeddingNormWeight = try weights.floats("embeddings.LayerNorm.weight", shape: [h])
        embeddingNormBias = try weights.floats("embeddings.LayerNorm.bias", shape: [h])
        layers = try (0..<configuration.layers).map { i in
            let p = "encoder.layer.\(i)."
            return Layer(
                qkv: Linear(
                    weight: try weights.floats(p + "attention.self.query.weight", shape: [h, h])
                        + weights.floats(p + "attention.self.key.weight", shape: [h, h])
                        + weights.floats(p + "attention.self.value.weight", shape: [h, h]),
                    bias: try weights.floats(p + "attention.self.query.bias", shape: [h])
                        + weights.floats(p + "attention.self.key.bias", shape: [h])
                        + weights.floats(p + "attention.self.value.bias", shape: [h]),
                    outputs: 3 * h, inputs: h, precision: precision.linear),
                attentionOutput: Linear(
                    weight: try weights.floats(p + "attention.output.dense.weight", shape: [h, h]),
                    bias: try weights.floats(p + "attention.output.dense.bias", shape: [h]), outputs: h, inputs: h, precision: precision.linear),
                attentionNormWeight: try weights.floats(p + "attention.output.LayerNorm.weight", shape: [h]),
                attentionNormBias: try weights.floats(p + "attention.output.LayerNorm.bias", shape: [h]),
                intermediate: Linear(
                    weight: try weights.floats(p + "intermediate.dense.weight", shape: [f, h]),
                    bias: try weights.floats(p + "intermediate.dense.bias", shape: [f]), outputs: f, inputs: h, precision: precision.linear),
                output: Linear(
                    weight: try weights.floats(p + "output.dense.weight", shape: [h, f]),
                    bias: try weights.floats(p + "output.dense.bias", shape: [h]), outputs: h, inputs: f, precision: precision.linear),
                outputNormWeight: try weights.floats(p + "output.LayerNorm.weight", shape: [h]),
                outputNormBias: try weights.floats(p + "output.LayerNorm.bias", shape: [h]))
        }
    }

    /// Unit-length embeddings of already tokenized sequences (each `[CLS] … [SEP]`, at most
    /// `maxPositions` ids), computed as one packed batch.
    public func embed(tokenized sequences: [[Int32]]) -> [[Float]] {
        let h = configuration.hidden, f = configuration.intermediate
        let heads = configuration.heads, headSize = h / heads
        let lengths = sequences.map(\.count)
        let total = lengths.reduce(0, +)
        guard total > 0 else { return sequences.map { _ in [Float](repeating: 0, count: h) } }
        var starts: [Int] = []
        var running = 0
        for length in lengths {
            starts.append(running)
            running += length
        }
        let offsets = starts
        let longest = lengths.max() ?? 0

        // Activations, row-major: x (total × h); scratch for q|k|v, context, FFN and attention.
        let x = UnsafeMutablePointer<Float>.allocate(capacity: total * h)
        let qkv = UnsafeMutablePointer<Float>.allocate(capacity: total * 3 * h)
        let context = UnsafeMutablePointer<Float>.allocate(capacity: total * h)
        let projected = UnsafeMutablePointer<Float>.allocate(capacity: total * h)
        let ffn = UnsafeMutablePointer<Float>.allocate(capacity: total * f)
        // A short input (a query) runs on the calling thread: a hand-off per product costs more
        // than it saves below ~64 tokens (a 29-token query took 3.3–3.4 ms on two threads, 3.0–3.1
        // on one; 51 tokens 5.2–5.4 against 4.8–5.0), and a server's concurrent queries then use
        // one core each.
        let threads = total < 64 ? 1 : max(1, self.threads)
        let attentionThreads = threads
        let workPerThread = SelfAttention.workCount(rows: longest, headSize: headSize)
        let attentionWork = UnsafeMutablePointer<Float>.allocate(capacity: attentionThreads * workPerThread)
        defer {
            x.deallocate(); qkv.deallocate(); context.deallocate(); projected.deallocate(); ffn.deallocate(); attentionWork.deallocate()
        }

        // Embeddings: word + position + token type 0, then LayerNorm.
        wordEmbeddings.withUnsafeBufferPointer { words in
            positionEmbeddings.withUnsafeBufferPointer { positions in
                for (s, sequence) in sequences.enumerated() {
                    for (position, token) in sequence.enumerated() {
                        let row = x + (offsets[s] + position) * h
                        let id = Int(token) < configuration.vocabulary && token >= 0 ? Int(token) : Int(WordPieceTokenizer.unknown)
                        let w = words.baseAddress! + id * h, p = positions.baseAddress! + min(position, configuration.maxPositions - 1) * h
                        for i in 0..<h { row[i] = w[i] + p[i] + tokenTypeEmbedding[i] }
                    }
                }
            }
        }
        Vector.layerNorm(x, rows: total, count: h, residual: nil, gamma: embeddingNormWeight, beta: embeddingNormBias, epsilon: configuration.layerNormEpsilon)

        let scale = 1 / Float(headSize).squareRoot()
        for layer in layers {
            // q|k|v = x · Wqkvᵀ + b   (total × 3h)
            layer.qkv.apply(x, rows: total, into: qkv, threads: threads)
            // Attention, per sequence and head, over that sequence's rows only (no mask needed).
            let shared = UnsafeTransfer((qkv: qkv, context: context, work: attentionWork))
            Parallel.forEach(sequences.count * heads, threads: attentionThreads) { item, thread in
                let (qkv, context, work) = shared.value
                let sequence = item / heads, head = item % heads
                let n = lengths[sequence], base = offsets[sequence]
                let q = qkv + base * 3 * h + head * headSize
                // context (n × headSize) = softmax(scale · q · kᵀ) · v
                SelfAttention.apply(
                    q: q, k: q + h, v: q + 2 * h, stride: 3 * h, rows: n, headSize: headSize, scale: scale,
                    into: context + base * h + head * headSize, ldo: h, work: work + thread * workPerThread)
            }
            // x = LayerNorm(x + context · Woᵀ + bo)
            layer.attentionOutput.apply(context, rows: total, into: projected, threads: threads)
            Vector.layerNorm(projected, rows: total, count: h, residual: x, gamma: layer.attentionNormWeight, beta: layer.attentionNormBias, epsilon: configuration.layerNormEpsilon)
            // x = LayerNorm(x + GELU(x · W1ᵀ + b1) · W2ᵀ + b2)
            layer.intermediate.apply(projected, rows: total, into: ffn, threads: threads, gelu: true)
            layer.output.apply(ffn, rows: total, into: x, threads: threads)
            Vector.layerNorm(x, rows: total, count: h, residual: projected, gamma: layer.outputNormWeight, beta: layer.outputNormBias, epsilon: configuration.layerNormEpsilon)
        }

        // Mean over each sequence's tokens, then unit length.
        return (0..<sequences.count).map { s in
            var pooled = [Float](repeating: 0, count: h)
            let n = lengths[s]
            guard n > 0 else { return pooled }
            pooled.withUnsafeMutableBufferPointer { out in
                for row in 0..<n {
                    let r = x + (offsets[s] + row) * h
                    for i in 0..<h { out[i] += r[i] }
                }
                let inverse = 1 / Float(n)
                for i in 0..<h { out[i] *= inverse }
                Vector.normalize(out.baseAddress!, count: h)
            }
            return pooled
        }
    }
}
