import ArgumentParser
import Foundation
import RAGCore
import RAGLLM

struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Generator models (GGUF).", subcommands: [ModelList.self, ModelInfo.self])
}

/// `rag model list`: the catalog's generators, and whether each is in the cache and verified.
struct ModelList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "The generators --model names: file, size, tensor types, whether `make models` verified it.")

    @Flag(help: "Print JSON.") var json = false

    struct Row: Encodable {
        var names: [String]; var file: String; var path: String; var present: Bool; var verified: Bool
        var bytes: Int?; var tensorTypes: [String: Int]?; var summary: String; var isDefault: Bool
    }

    func run() async throws {
        let defaultPath = LanguageModel.defaultPath
        let rows = ModelCatalog.entries.map { entry in
            let gguf = try? GGUFFile(path: entry.path)
            let bytes = (try? FileManager.default.attributesOfItem(atPath: entry.path))?[.size] as? Int
            return Row(
                names: entry.names, file: entry.file, path: entry.path, present: gguf != nil, verified: ModelCatalog.isVerified(entry),
                bytes: bytes, tensorTypes: gguf.map { Dictionary(grouping: $0.tensors, by: { $0.type.description }).mapValues(\.count) },
                summary: entry.summary, isDefault: entry.path == defaultPath)
        }
        if json { return printJSON(rows) }
        for row in rows {
            let size = row.bytes.map { String(format: "%.0f MB", Double($0) / 1e6) } ?? "—"
            let types = row.tensorTypes.map { $0.sorted { $0.value > $1.value }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") } ?? "not in the cache (make models)"
            let state = !row.present ? "missing" : row.verified ? "verified" : "NOT verified (sha256 unknown or file changed)"
            print("\(row.names.joined(separator: " / "))\(row.isDefault ? " (default)" : ""): \(row.file), \(size), \(state)")
            print("    \(row.summary); \(types)")
        }
        if !rows.contains(where: \.isDefault) { print("default ($RAG_GENERATOR): \(defaultPath)") }
    }
}

/// `rag model info FILE`: what a GGUF file holds, after the reader's validation.
struct ModelInfo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Read and validate a GGUF model file; print its shape, tensor types and metadata.")

    @Argument(help: "A model name (small, base, default, large) or a .gguf file.") var file: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let gguf: GGUFFile
        let config: ModelConfig
        do {
            gguf = try GGUFFile(path: ModelCatalog.path(for: file))
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
