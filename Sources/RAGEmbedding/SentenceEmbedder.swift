internal import Foundation
public import RAGCore
internal import RAGKernels

/// Text in, unit vectors out: the WordPiece tokenizer and the BERT encoder behind one call,
/// batching length-sorted inputs so that sequences of similar length run together.
public final class SentenceEmbedder: Embedder {
    public let tokenizer: WordPieceTokenizer
    public let encoder: BertEncoder
    /// Most tokens per sequence, [CLS] and [SEP] included (sentence-transformers' max_seq_length).
    public let maxTokens: Int
    /// Sequences per encoder call.
    public let batchSize: Int
    public var dimensions: Int { encoder.dimensions }
    /// The model, and the precision when it is not f32: an index records it, so vectors of
    /// another precision are never mixed into it.
    public var name: String { encoder.precision == .f32 ? "all-MiniLM-L6-v2" : "all-MiniLM-L6-v2-\(encoder.precision.rawValue)" }

    /// The precision of a new index unless one is asked for: the fastest that passes the accuracy
    /// gate (cosine ≥ 0.999 to the reference, retrieval within 0.005 of f32; docs/evaluation.md).
    /// Both bf16 and int8 pass; int8 is the faster where the CPU has AVX-512 VNNI (one
    /// `vpdpbusd` per four values of sixteen weight rows). Elsewhere bf16: without VNNI int8
    /// takes `vpmaddubsw` and `vpmaddwd` per 32 products, and was measured no faster than f32 on
    /// AVX2 (docs/benchmarks.md, 2026-12-06).
    public static let defaultPrecision: BertEncoder.Precision = CPUFeatures.hasAVX512 ? .int8 : .bf16

    /// The precision of the vectors an index records (`SQLiteStore.embedder()`: "NAME/DIMENSIONS"),
    /// nil when they are not this model's.
    public static func precision(recordedAs recorded: String) -> BertEncoder.Precision? {
        let name = recorded.split(separator: "/").first.map(String.init) ?? ""
        guard name.hasPrefix("all-MiniLM-L6-v2") else { return nil }
        let suffix = name.dropFirst("all-MiniLM-L6-v2".count)
        return suffix.isEmpty ? .f32 : suffix.first == "-" ? BertEncoder.Precision(rawValue: String(suffix.dropFirst())) : nil
    }

    public init(tokenizer: WordPieceTokenizer, encoder: BertEncoder, maxTokens: Int = 256, batchSize: Int = 32) {
        // The encoder splits its matrix products over its own threads; OpenBLAS threads inside
        // each call would oversubscribe the cores (and spin between calls).
        BLAS.useOneThread()
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.maxTokens = maxTokens
        self.batchSize = batchSize
    }

    /// The default model folder: `$RAG_EMBEDDER`, else `${XDG_CACHE_HOME:-~/.cache}/rag/models/all-MiniLM-L6-v2`.
    public static var defaultDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["RAG_EMBEDDER"], !path.isEmpty { return path }
        return ModelCache.directory + "/all-MiniLM-L6-v2"
    }

    /// Loads `vocab.txt` and `model.safetensors` from a model folder.
    public convenience init(directory: String = SentenceEmbedder.defaultDirectory, precision: BertEncoder.Precision = SentenceEmbedder.defaultPrecision) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RAGError(.notFound, "\(directory): no embedding model here; run `make models` (or pass --embedder DIR)")
        }
        let tokenizer = try WordPieceTokenizer(vocabularyFile: directory + "/vocab.txt")
        let encoder = try BertEncoder(weights: SafeTensors(path: directory + "/model.safetensors"), precision: precision)
        self.init(tokenizer: tokenizer, encoder: encoder)
    }

    /// Token ids for each text (`[CLS] … [SEP]`, cut to `maxTokens`) and whether it was cut.
    public func tokenize(_ texts: [String]) -> [(ids: [Int32], truncated: Bool)] {
        texts.map { tokenizer.encode($0, maxTokens: maxTokens) }
    }

    public func embed(_ texts: [String]) -> [[Float]] {
        embed(tokenized: tokenize(texts).map(\.ids))
    }

    public var tokenCounter: any TokenCounter { tokenizer }

    public func embedCountingTokens(_ texts: [String]) -> (vectors: [[Float]], tokens: Int) {
        let tokenized = tokenize(texts)
        return (embed(tokenized: tokenized.map(\.ids)), tokenized.reduce(0) { $0 + $1.ids.count })
    }

    /// Embeds token sequences in batches of `batchSize`, longest first, results in input order.
    public func embed(tokenized: [[Int32]]) -> [[Float]] {
        let order = tokenized.indices.sorted { tokenized[$0].count > tokenized[$1].count }
        var vectors = [[Float]](repeating: [], count: tokenized.count)
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let batch = order[start..<min(start + batchSize, order.count)]
            let output = encoder.embed(tokenized: batch.map { tokenized[$0] })
            for (index, vector) in zip(batch, output) { vectors[index] = vector }
        }
        return vectors
    }
}
