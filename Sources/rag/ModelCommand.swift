import ArgumentParser
import Foundation
import RAGCore
import RAGLLM

struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Generator models (GGUF).", subcommands: [ModelInfo.self])
}

/// `rag model info FILE`: what a GGUF file holds, after the reader's validation.
struct ModelInfo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Read and validate a GGUF model file; print its shape, tensor types and metadata.")

    @Argument(help: "A .gguf file.") var file: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let gguf: GGUFFile
        let config: ModelConfig
        do {
            gguf = try GGUFFile(path: file)
            config = try ModelConfig(gguf)
        } catch {
            throw fail(error)
        }
        let types = Dictionary(grouping: gguf.tensors, by: { $0.type.description }).mapValues(\.count)
        if json {
            struct Output: Encodable {
                var version: UInt32, architecture: String, blocks: Int, embedding: Int, feedForward: Int
                var heads: Int, kvHeads: Int, context: Int, vocab: Int, ropeBase: Double, rmsEpsilon: Double
                var tiedEmbeddings: Bool, tensors: Int, tensorTypes: [String: Int], parameters: Int, metadataKeys: [String]
            }
            printJSON(Output(
                version: gguf.version, architecture: config.architecture.rawValue, blocks: config.blockCount,
                embedding: config.embeddingLength, feedForward: config.feedForwardLength, heads: config.headCount,
                kvHeads: config.headCountKV, context: config.contextLength, vocab: config.vocabSize,
                ropeBase: config.ropeFreqBase, rmsEpsilon: config.rmsEpsilon, tiedEmbeddings: config.tiedEmbeddings,
                tensors: gguf.tensors.count, tensorTypes: types, parameters: gguf.tensors.reduce(0) { $0 + $1.elementCount },
                metadataKeys: gguf.keys))
            return
        }
        let name = gguf.metadata["general.name"]?.string ?? (file as NSString).lastPathComponent
        print("\(name): GGUF v\(gguf.version), \(config.architecture.rawValue), \(config.blockCount) blocks × \(config.embeddingLength) wide, \(config.headCount) heads / \(config.headCountKV) KV heads, FFN \(config.feedForwardLength)")
        print("vocab \(config.vocabSize), context \(config.contextLength), RoPE base \(config.ropeFreqBase), RMS eps \(config.rmsEpsilon), \(config.tiedEmbeddings ? "tied" : "separate") output matrix")
        print("\(gguf.tensors.count) tensors (" + types.sorted { $0.value > $1.value }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") + "), \(gguf.tensors.reduce(0) { $0 + $1.elementCount }) parameters")
        for key in gguf.keys where !key.hasPrefix("tokenizer.ggml.") || !(gguf.metadata[key]?.array != nil) {
            print("  \(key) = \(gguf.metadata[key]!)")
        }
    }
}
