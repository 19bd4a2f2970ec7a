import Foundation
import RAGCore
import RAGLLM
import RAGTesting
import Testing

/// Writes GGUF files byte by byte, so each test can break exactly one thing.
struct GGUFWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); bytes += Array(s.utf8) }
    mutating func key(_ k: String, type: UInt32) { string(k); u32(type) }
    mutating func pad(to alignment: Int) { while bytes.count % alignment != 0 { bytes.append(0) } }

    struct Tensor { var name: String; var shape: [UInt64]; var type: UInt32; var offset: UInt64; var data: [UInt8] }

    /// A complete small file: header, the given metadata writer, tensor infos, aligned data.
    static func file(
        version: UInt32 = 3, magic: UInt32 = 0x4655_4747, keyCount: UInt64, metadata: (inout GGUFWriter) -> Void,
        tensors: [Tensor] = [], alignment: Int = 32
    ) -> [UInt8] {
        var w = GGUFWriter()
        w.u32(magic)
        w.u32(version)
        w.u64(UInt64(tensors.count))
        w.u64(keyCount)
        metadata(&w)
        for t in tensors {
            w.string(t.name)
            w.u32(UInt32(t.shape.count))
            for d in t.shape { w.u64(d) }
            w.u32(t.type)
            w.u64(t.offset)
        }
        w.pad(to: alignment)
        let start = w.bytes.count
        for t in tensors {
            let end = start + Int(t.offset) + t.data.count
            if w.bytes.count < end { w.bytes += [UInt8](repeating: 0, count: end - w.bytes.count) }
            w.bytes.replaceSubrange(start + Int(t.offset)..<end, with: t.data)
        }
        return w.bytes
    }

    /// A tiny llama-shaped model's metadata (every key ModelConfig needs).
    static func llamaMetadata(_ w: inout GGUFWriter, skipping skipped: String? = nil) {
        func int(_ k: String, _ v: UInt32) { if k != skipped { w.key(k, type: 4); w.u32(v) } }
        if skipped != "general.architecture" { w.key("general.architecture", type: 8); w.string("llama") }
        int("llama.block_count", 2)
        int("llama.embedding_length", 64)
        int("llama.feed_forward_length", 128)
        int("llama.attention.head_count", 4)
        int("llama.attention.head_count_kv", 2)
        int("llama.context_length", 2048)
        if skipped != "llama.attention.layer_norm_rms_epsilon" {
            w.key("llama.attention.layer_norm_rms_epsilon", type: 6); w.u32(Float(1e-5).bitPattern)
        }
        w.key("tokenizer.ggml.tokens", type: 9); w.u32(8); w.u64(3)
        for t in ["<s>", "a", "b"] { w.string(t) }
    }
}

func writeTemporary(_ bytes: [UInt8]) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("rag-gguf-\(UUID().uuidString).gguf").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

func expectError(_ bytes: [UInt8], _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let path = try writeTemporary(bytes)
    defer { try? FileManager.default.removeItem(atPath: path) }
    do {
        let file = try GGUFFile(path: path)
        _ = try ModelConfig(file)
        Issue.record("no error; expected one mentioning \(fragments)", sourceLocation: sourceLocation)
    } catch let error as RAGError {
        for fragment in fragments {
            #expect(error.message.contains(fragment), "\(error.message) should mention \(fragment)", sourceLocation: sourceLocation)
        }
        #expect(error.message.contains(path), sourceLocation: sourceLocation)
    }
}

@Suite(.onTestThreads) struct GGUFTests {
    static let q8Block = [UInt8](repeating: 1, count: 34)

    @Test func everyMetadataTypeAndTensorInfosAreRead() throws {
        let bytes = GGUFWriter.file(keyCount: 13 + 9, metadata: { w in
            GGUFWriter.llamaMetadata(&w)
            w.key("u8", type: 0); w.u8(200)
            w.key("i8", type: 1); w.u8(0xFF)
            w.key("u16", type: 2); w.bytes += [0x34, 0x12]
            w.key("i16", type: 3); w.bytes += [0xFE, 0xFF]
            w.key("i32", type: 5); w.u32(UInt32(bitPattern: -7))
            w.key("f64", type: 12); w.u64(2.5.bitPattern)
            w.key("b", type: 7); w.u8(1)
            w.key("u64", type: 10); w.u64(1 << 40)
            w.key("i64", type: 11); w.u64(UInt64(bitPattern: -(1 << 40)))
            w.key("nested", type: 9); w.u32(9); w.u64(2)
            w.u32(4); w.u64(2); w.u32(1); w.u32(2)
            w.u32(8); w.u64(1); w.string("x")
            w.key("empty", type: 9); w.u32(4); w.u64(0)
            w.key("general.alignment", type: 4); w.u32(64)
            w.key("general.name", type: 8); w.string("tiny ü")
        }, tensors: [
            .init(name: "token_embd.weight", shape: [32, 3], type: 8, offset: 0, data: Array(repeating: Self.q8Block, count: 3).flatMap { $0 }),
            .init(name: "norm", shape: [64], type: 0, offset: 128, data: [UInt8](repeating: 0, count: 256)),
        ], alignment: 64)
        let path = try writeTemporary(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        #expect(file.version == 3 && file.alignment == 64 && file.dataOffset % 64 == 0)
        #expect(file.metadata["u8"] == .uint(200) && file.metadata["i8"] == .int(-1) && file.metadata["u16"] == .uint(0x1234))
        #expect(file.metadata["i16"] == .int(-2) && file.metadata["i32"] == .int(-7) && file.metadata["f64"] == .float(2.5))
        #expect(file.metadata["b"] == .bool(true) && file.metadata["u64"] == .uint(1 << 40) && file.metadata["i64"] == .int(-(1 << 40)))
        #expect(file.metadata["nested"] == .array([.array([.uint(1), .uint(2)]), .array([.string("x")])]))
        #expect(file.metadata["empty"] == .array([]) && file.metadata["general.name"] == .string("tiny ü"))
        #expect(file.keys.first == "general.architecture" && file.keys.count == 22)
        let embd = try #require(file.tensor("token_embd.weight"))
        #expect(embd.shape == [32, 3] && embd.type == .q8_0 && embd.byteCount == 102 && embd.offset == file.dataOffset)
        #expect(Array(file.bytes(of: embd).prefix(3)) == [1, 1, 1])
        #expect(file.tensor("norm")?.offset == file.dataOffset + 128)
        let config = try ModelConfig(file)
        #expect(config.architecture == .llama && config.blockCount == 2 && config.headCountKV == 2 && config.vocabSize == 3)
        #expect(config.tiedEmbeddings && config.ropeLayout == .normal && config.headDimension == 16 && abs(config.rmsEpsilon - 1e-5) < 1e-9)
    }

    @Test func badMagic() throws {
        try expectError(GGUFWriter.file(magic: 0x4C4C_4747, keyCount: 0, metadata: { _ in }), ["not a GGUF file", "\"GGUF\"", "GGLL"])
    }

    @Test(arguments: [UInt32(1), 4])
    func unsupportedVersion(_ version: UInt32) throws {
        try expectError(GGUFWriter.file(version: version, keyCount: 0, metadata: { _ in }), ["version \(version)", "versions 2 and 3"])
    }

    @Test func truncatedHeaderMetadataAndData() throws {
        let good = GGUFWriter.file(keyCount: 9, metadata: { GGUFWriter.llamaMetadata(&$0) }, tensors: [
            .init(name: "w", shape: [32, 4], type: 8, offset: 0, data: Array(repeating: Self.q8Block, count: 4).flatMap { $0 }),
        ])
        try expectError(Array(good.prefix(10)), ["truncated", "tensor count", "offset 8"])
        try expectError(Array(good.prefix(60)), ["truncated"])
        try expectError(Array(good.dropLast(5)), ["truncated", "tensor w", "file ends at \(good.count - 5)"])
    }

    @Test func misalignedTensor() throws {
        try expectError(GGUFWriter.file(keyCount: 9, metadata: { GGUFWriter.llamaMetadata(&$0) }, tensors: [
            .init(name: "w", shape: [32], type: 8, offset: 8, data: Self.q8Block),
        ]), ["tensor w", "offset 8", "alignment 32"])
    }

    @Test func overlappingTensors() throws {
        try expectError(GGUFWriter.file(keyCount: 9, metadata: { GGUFWriter.llamaMetadata(&$0) }, tensors: [
            .init(name: "a", shape: [32, 2], type: 8, offset: 0, data: Self.q8Block + Self.q8Block),
            .init(name: "b", shape: [32], type: 8, offset: 64, data: Self.q8Block),
        ]), ["tensors a", "and b", "overlap"])
    }

    @Test func unknownTensorType() throws {
        try expectError(GGUFWriter.file(keyCount: 9, metadata: { GGUFWriter.llamaMetadata(&$0) }, tensors: [
            .init(name: "w", shape: [32], type: 99, offset: 0, data: Self.q8Block),
        ]), ["tensor w", "unknown type 99", "Q4_K"])
    }

    @Test func unsupportedArchitecture() throws {
        var bytes = GGUFWriter.file(keyCount: 8, metadata: { GGUFWriter.llamaMetadata(&$0) })
        // "llama" → "gemma" in the architecture value (the keys keep their llama. prefix).
        let at = try #require(bytes.indices.first { Array(bytes[$0..<min($0 + 5, bytes.count)]) == Array("llama".utf8) && bytes[$0 - 8] == 5 })
        bytes.replaceSubrange(at..<at + 5, with: Array("gemma".utf8))
        try expectError(bytes, ["architecture \"gemma\"", "llama and qwen2"])
    }

    @Test(arguments: ["general.architecture", "llama.block_count", "llama.attention.layer_norm_rms_epsilon"])
    func missingRequiredKey(_ key: String) throws {
        try expectError(GGUFWriter.file(keyCount: 8, metadata: { GGUFWriter.llamaMetadata(&$0, skipping: key) }), ["\"\(key)\"", "missing"])
    }

    @Test func rowsThatAreNotWholeBlocks() throws {
        try expectError(GGUFWriter.file(keyCount: 9, metadata: { GGUFWriter.llamaMetadata(&$0) }, tensors: [
            .init(name: "w", shape: [33], type: 8, offset: 0, data: Self.q8Block + Self.q8Block),
        ]), ["tensor w", "33", "Q8_0 blocks of 32"])
    }

    /// Dimensions whose product overflows Int trapped the reader; now the file is refused.
    @Test func shapesLargerThanAnyFileAreClearErrors() throws {
        try expectError(GGUFWriter.file(keyCount: 9, metadata: { GGUFWriter.llamaMetadata(&$0) }, tensors: [
            .init(name: "w", shape: [32, 1 << 31, 1 << 31, 1 << 31], type: 8, offset: 0, data: Self.q8Block),
        ]), ["tensor w", "larger than any file"])
    }

    /// An array whose count the remaining bytes cannot hold (counted in its element type's
    /// smallest size), or past any model's, is refused before anything is allocated for it.
    @Test func arrayCountsAreBoundedByTheirElementsSize() throws {
        let padding = [UInt8](repeating: 0, count: 4096)
        // 4096 bytes follow: room for 4096 uint8 values, not for 4096 uint64 values.
        try expectError(GGUFWriter.file(keyCount: 1, metadata: { w in
            w.key("big", type: 9); w.u32(10); w.u64(4096); w.bytes += padding
        }), ["the length of \"big\"", "4096", "more than the file can hold"])
        try expectError(GGUFWriter.file(keyCount: 1, metadata: { w in
            w.key("huge", type: 9); w.u32(0); w.u64(5 << 20); w.bytes += [UInt8](repeating: 0, count: 5 << 20)
        }), ["the length of \"huge\"", "more than the file can hold"])
    }

    static let models = ProcessInfo.processInfo.environment["RAG_MODELS_DIR"]
        ?? (ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? NSHomeDirectory() + "/.cache") + "/rag/models"

    /// Decoded weights of a real tensor look like trained weights: finite, centred, small.
    func expectPlausible(_ file: GGUFFile, _ name: String, type: GGMLType, rows: Int = 4) throws {
        let tensor = try #require(file.tensor(name))
        #expect(tensor.type == type, "\(name)")
        let count = tensor.shape[0] * rows
        var values = [Float](repeating: .nan, count: count)
        values.withUnsafeMutableBufferPointer { tensor.type.dequantize(file.bytes(of: tensor).baseAddress!, count: count, into: $0.baseAddress!) }
        let mean = values.reduce(0, +) / Float(count)
        let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(count)).squareRoot()
        #expect(values.allSatisfy(\.isFinite) && values.allSatisfy { abs($0) < 20 }, "\(name)")
        #expect(abs(mean) < 0.05 && sd > 1e-3 && sd < 1, "\(name): mean \(mean), sd \(sd)")
    }

    /// The real small model that `make models` fetches (MODELS.md lists its tensor types).
    @Test(.enabled(if: ModelFiles.haveSmallGenerator, "needs the small generator, SmolLM2 (make models)")) func theSmolLM2FileReads() throws {
        let file = try GGUFFile(path: Self.models + "/gguf/SmolLM2-135M-Instruct.Q4_1.gguf")
        let config = try ModelConfig(file)
        #expect(config.architecture == .llama && config.blockCount == 30 && config.embeddingLength == 576)
        #expect(config.headCount == 9 && config.headCountKV == 3 && config.feedForwardLength == 1536 && config.vocabSize == 49_152)
        #expect(config.tiedEmbeddings && abs(config.ropeFreqBase - 100_000) < 1)
        let counts = Dictionary(grouping: file.tensors, by: \.type).mapValues(\.count)
        #expect(counts == [.q4_1: 210, .q8_0: 1, .f32: 61])
        #expect(file.tensor("token_embd.weight")?.type == .q8_0)
        try expectPlausible(file, "token_embd.weight", type: .q8_0)
        try expectPlausible(file, "blk.0.attn_q.weight", type: .q4_1)
        try expectPlausible(file, "blk.29.ffn_down.weight", type: .q4_1)
    }

    /// The default generator: qwen2, with Q4_K, Q6_K, Q5_0 and Q8_0 tensors.
    @Test(.enabled(if: ModelFiles.haveGenerators, "needs the three generators (make models)")) func theQwenFileReads() throws {
        let file = try GGUFFile(path: Self.models + "/gguf/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
        let config = try ModelConfig(file)
        #expect(config.architecture == .qwen2 && config.blockCount == 24 && config.embeddingLength == 896)
        #expect(config.headCount == 14 && config.headCountKV == 2 && config.vocabSize == 151_936 && !config.tiedEmbeddings)
        #expect(config.ropeLayout == .neox && abs(config.ropeFreqBase - 1_000_000) < 1)
        let counts = Dictionary(grouping: file.tensors, by: \.type).mapValues(\.count)
        #expect(counts == [.q5_0: 133, .q8_0: 13, .q6_K: 12, .q4_K: 12, .f32: 121])
        for type in [GGMLType.q4_K, .q6_K, .q5_0, .q8_0] {
            let name = try #require(file.tensors.first { $0.type == type }?.name)
            try expectPlausible(file, name, type: type)
        }
    }
}
