import Foundation
import RAGCore
import RAGTesting
import Testing
@testable import RAGEmbedding

/// The reference sentences, ids and vectors (fp32 onnxruntime) copied from shared/reference.
struct Reference: Decodable {
    struct Sentence: Decodable {
        var text: String
        var input_ids: [Int32]
        var embedding: [Float]
    }
    struct ReadmeCheck: Decodable {
        var sentences: [String]
        var expected_from_sbert_readme: [[Double]]
    }
    var sentences: [Sentence]
    var sbert_readme_check: ReadmeCheck

    static let shared: Reference = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/embed_reference.json")
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()
}

/// The real model, as `make models` fetched it, in f32 (the exact path) and int8. Loading fails
/// with a message naming `make models`.
enum Model {
    static let embedder: Result<SentenceEmbedder, any Error> = Result { try SentenceEmbedder(precision: .f32) }
    static let int8: Result<SentenceEmbedder, any Error> = Result { try SentenceEmbedder(precision: .int8) }
    static let bf16: Result<SentenceEmbedder, any Error> = Result { try SentenceEmbedder(precision: .bf16) }
    static func load() throws -> SentenceEmbedder { try embedder.get() }
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for i in a.indices {
        dot += Double(a[i]) * Double(b[i])
        na += Double(a[i]) * Double(a[i])
        nb += Double(b[i]) * Double(b[i])
    }
    return dot / (na.squareRoot() * nb.squareRoot())
}

@Suite(.onTestThreads, .enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) struct TokenizerTests {
    @Test func referenceIdsExactly() throws {
        let tokenizer = try Model.load().tokenizer
        for sentence in Reference.shared.sentences {
            #expect(tokenizer.encode(sentence.text).ids == sentence.input_ids, "\(sentence.text)")
        }
    }

    @Test func normalisationEdgeCases() throws {
        let tokenizer = try Model.load().tokenizer
        #expect(tokenizer.encode("").ids == [101, 102])
        #expect(tokenizer.encode(" \t\n ").ids == [101, 102])
        // Control characters vanish; U+FFFD vanishes; NBSP separates words.
        #expect(tokenizer.encode("the\u{0}\u{7}\u{FFFD} cat").ids == tokenizer.encode("the cat").ids)
        #expect(tokenizer.encode("the\u{00A0}cat").ids == tokenizer.encode("the cat").ids)
        // A word over 100 characters is one [UNK].
        #expect(tokenizer.encode(String(repeating: "a", count: 101)).ids == [101, 100, 102])
        // Long inputs are cut to 256 ids and say so.
        let long = tokenizer.encode(String(repeating: "word ", count: 20_000))
        #expect(long.ids.count == 256 && long.truncated && long.ids.last == 102)
    }
}

@Suite(.onTestThreads) struct EncoderTests {
    @Test(.enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) func referenceVectorsWithinTolerance() throws {
        let embedder = try Model.load()
        let sentences = Reference.shared.sentences
        let vectors = embedder.embed(sentences.map(\.text))
        for (sentence, vector) in zip(sentences, vectors) {
            let maxDelta = zip(sentence.embedding, vector).map { abs($0 - $1) }.max() ?? 1
            #expect(cosine(sentence.embedding, vector) >= 0.99999, "\(sentence.text)")
            #expect(maxDelta <= 1e-4, "\(sentence.text): max |Δ| \(maxDelta)")
        }
    }

    /// The int8 encoder (weights one scale per row, activations one per 32 values) passes the
    /// accuracy gate: cosine ≥ 0.999 to the reference for every sentence (0.99932 worst when
    /// written; 0.99956 with a scale per 32 weights too, 0.9964 with one per row and per token),
    /// batched or alone alike (each row's arithmetic does not depend on the rows beside it).
    @Test(.enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) func int8VectorsStayCloseToTheReference() throws {
        let embedder = try Model.int8.get()
        #expect(embedder.name == "all-MiniLM-L6-v2-int8")
        let vectors = Self.checkAgainstReference(embedder, minimum: 0.999)
        for (sentence, vector) in zip(Reference.shared.sentences.prefix(4), vectors) {
            #expect(embedder.embed([sentence.text])[0] == vector)
        }
    }

    /// Every reference sentence's vector within `minimum` cosine of the reference; the vectors.
    static func checkAgainstReference(_ embedder: SentenceEmbedder, minimum: Double) -> [[Float]] {
        let sentences = Reference.shared.sentences
        let vectors = embedder.embed(sentences.map(\.text))
        var worst = 1.0
        for (sentence, vector) in zip(sentences, vectors) {
            let similarity = cosine(sentence.embedding, vector)
            worst = min(worst, similarity)
            #expect(similarity >= minimum, "\(embedder.name): \(sentence.text): cosine \(similarity)")
        }
        print("\(embedder.name): worst cosine to the reference \(worst) over \(sentences.count) sentences")
        return vectors
    }

    /// The bf16 encoder (weights rounded to bfloat16, f32 arithmetic) passes the accuracy gate a
    /// default must pass: cosine ≥ 0.999 to the reference for every sentence; a query alone (the
    /// few-rows kernel) and in a batch (OpenBLAS on the widened weights) agree to rounding.
    @Test(.enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) func bf16VectorsPassTheAccuracyGate() throws {
        let embedder = try Model.bf16.get()
        #expect(embedder.name == "all-MiniLM-L6-v2-bf16")
        let vectors = Self.checkAgainstReference(embedder, minimum: 0.999)
        for (sentence, vector) in zip(Reference.shared.sentences.prefix(4), vectors) {
            #expect(cosine(embedder.embed([sentence.text])[0], vector) > 0.99999)
        }
    }

    @Test(.enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) func sentenceTransformersReadmeSimilarities() throws {
        let check = Reference.shared.sbert_readme_check
        let v = try Model.load().embed(check.sentences)
        for i in 0..<3 {
            for j in 0..<3 { #expect(abs(cosine(v[i], v[j]) - check.expected_from_sbert_readme[i][j]) < 5e-4) }
        }
    }

    @Test(.enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) func batchedEqualsOneByOne() throws {
        let embedder = try Model.load()
        let texts = Reference.shared.sentences.map(\.text) + ["short", "a much longer sentence about the key value cache of transformers"]
        let batched = embedder.embed(texts)
        for (text, vector) in zip(texts, batched) {
            let single = embedder.embed([text])[0]
            #expect(zip(single, vector).map { abs($0 - $1) }.max()! < 1e-5)
        }
    }

    @Test(.enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) func oddInputsGiveUnitVectors() throws {
        let embedder = try Model.load()
        let vectors = embedder.embed(["", "   ", String(repeating: "x y ", count: 30_000), "\u{1}\u{2}", "🙂"])
        for v in vectors {
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(v.count == 384 && abs(norm - 1) < 1e-4 && v.allSatisfy(\.isFinite))
        }
    }

    @Test func aMissingModelFolderNamesMakeModels() {
        #expect { try SentenceEmbedder(directory: "/nonexistent/model") } throws: {
            ($0 as? RAGError)?.message.contains("make models") == true
        }
    }
}

@Suite(.onTestThreads) struct SafeTensorsTests {
    func write(_ bytes: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString).safetensors").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func file(header: String, data: [UInt8]) -> [UInt8] {
        let h = Array(header.utf8)
        return withUnsafeBytes(of: UInt64(h.count).littleEndian, Array.init) + h + data
    }

    @Test func readsF32F16BF16AndI64() throws {
        let header = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[1],"data_offsets":[8,10]},"c":{"dtype":"BF16","shape":[1],"data_offsets":[10,12]},"d":{"dtype":"I64","shape":[1],"data_offsets":[12,20]}}"#
        var data: [UInt8] = []
        for f: Float in [1.5, -2] { data += withUnsafeBytes(of: f.bitPattern.littleEndian, Array.init) }
        data += withUnsafeBytes(of: Float16(0.25).bitPattern.littleEndian, Array.init)
        data += withUnsafeBytes(of: UInt16(Float(3).bitPattern >> 16).littleEndian, Array.init)
        data += withUnsafeBytes(of: Int64(7).littleEndian, Array.init)
        let st = try SafeTensors(path: write(file(header: header, data: data)))
        #expect(try st.floats("a", shape: [2]) == [1.5, -2])
        #expect(try st.floats("b") == [0.25])
        #expect(try st.floats("c") == [3])
        #expect(try st.floats("d") == [7])
        #expect { try st.floats("a", shape: [3]) } throws: { ($0 as? RAGError)?.message.contains("expected [3]") == true }
        #expect { try st.floats("zzz") } throws: { ($0 as? RAGError)?.message.contains("missing") == true }
    }

    @Test(arguments: [
        ([UInt8]([1, 2, 3]), "truncated"),
        ([UInt8](withUnsafeBytes(of: UInt64(1000).littleEndian, Array.init) + Array("{}".utf8)), "truncated"),
        ([UInt8](withUnsafeBytes(of: UInt64(3).littleEndian, Array.init) + Array("[1]".utf8)), "not a JSON object"),
    ])
    func malformedFilesAreClearErrors(bytes: [UInt8], message: String) throws {
        let path = try write(bytes)
        #expect { try SafeTensors(path: path) } throws: { ($0 as? RAGError)?.message.contains(message) == true }
    }

    @Test func tensorsOutsideTheDataOrOfUnknownTypeAreRefused() throws {
        let outside = file(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [0, 0, 0, 0])
        #expect { try SafeTensors(path: write(outside)) } throws: { ($0 as? RAGError)?.message.contains("truncated") == true }
        let unknown = file(header: #"{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}}"#, data: [0])
        #expect { try SafeTensors(path: write(unknown)) } throws: { ($0 as? RAGError)?.message.contains("Q9") == true }
        let mismatch = file(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        #expect { try SafeTensors(path: write(mismatch)) } throws: { ($0 as? RAGError)?.message.contains("needs 12 bytes") == true }
    }

    /// Shapes whose products overflow (or go negative) once trapped; now they are clear errors.
    @Test(arguments: ["[4294967296,4294967296,4294967296]", "[-1,-4]", "[3037000500,3037000500]"])
    func craftedShapesAreClearErrors(shape: String) throws {
        let crafted = file(header: #"{"a":{"dtype":"F32","shape":"# + shape + #","data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        #expect { try SafeTensors(path: write(crafted)) } throws: { ($0 as? RAGError)?.message.contains("no file can hold") == true }
    }
}
