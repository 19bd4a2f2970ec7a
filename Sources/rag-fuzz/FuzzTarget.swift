import Foundation
import RAGCore
import RAGEmbedding
import RAGLLM
import RAGStorage
import RAGText

/// What `make fuzz` throws bytes at: each parser of outside input. A target returns normally
/// for any input — a clear error is a pass; a trap, a sanitizer report, a hang or a broken
/// invariant (`violated`) is a finding.
enum FuzzTarget: String, CaseIterable {
    case gguf, safetensors, markdown, html, text, jsonl, multipart, fts, bpe, wordpiece

    func run(_ data: Data) {
        switch self {
        case .gguf: Self.gguf(data)
        case .safetensors: Self.safetensors(data)
        case .markdown: Self.load(data, name: "x.md")
        case .html: Self.load(data, name: "x.html")
        case .text: Self.load(data, name: "x.txt")
        case .jsonl: Self.load(data, name: "x.jsonl")
        case .multipart: Self.multipart(data)
        case .fts: Self.fts(data)
        case .bpe: Self.bpe(data)
        case .wordpiece: Self.wordpiece(data)
        }
    }

    static func violated(_ what: String) -> Never { fatalError("fuzz: \(what)") }

    /// The readers take paths: each input is written to one file in memory (/dev/shm) first.
    static let scratch = "/dev/shm/rag-fuzz-\(getpid())"
    static func file(_ data: Data) -> String {
        FileManager.default.createFile(atPath: scratch, contents: data)
        return scratch
    }

    /// A model file: its tensors, its configuration, its tokenizer.
    static func gguf(_ data: Data) {
        guard let file = try? GGUFFile(path: file(data)) else { return }
        for tensor in file.tensors { _ = file.bytes(of: tensor).count }
        _ = try? ModelConfig(file)
        if let tokenizer = try? BPETokenizer(file) { _ = tokenizer.decode(tokenizer.encode("Hello <|im_start|> world")) }
    }

    /// A safetensors file: its header, then every tensor read as floats.
    static func safetensors(_ data: Data) {
        guard let file = try? SafeTensors(path: file(data)) else { return }
        for name in file.tensors.keys { _ = try? file.floats(name) }
    }

    /// A document through its loader, then the chunker: chunks stay within the budget.
    static func load(_ data: Data, name: String) {
        let format = DocumentFormat(fileName: name)!
        guard let documents = try? DocumentLoader().load(SourceFile(path: name, format: format, bytes: data)) else { return }
        let chunker = Chunker(configuration: .init(tokenBudget: 64))
        for document in documents {
            try? chunker.chunk(document.sections) { chunk in
                if chunk.text.utf8.count > 64 * Chunker.maxBytesPerToken + 64 { violated("a chunk of \(chunk.text.utf8.count) bytes") }
            }
        }
    }

    /// The first byte is the boundary's length (mod 80, so some are too long), then the boundary.
    static func multipart(_ data: Data) {
        guard let first = data.first else { return }
        let length = Int(first) % 80
        guard data.count > length else { return }
        let boundary = String(decoding: data.dropFirst().prefix(length), as: UTF8.self)
        guard !boundary.isEmpty else { return }
        _ = try? Multipart.parse(Data(data.dropFirst(1 + length)), boundary: boundary)
    }

    /// Any text as a BM25 query: never an FTS5 syntax error (user text is words, not operators).
    static let store: SQLiteStore = {
        let store = try! SQLiteStore()
        try! store.transaction { tx in
            let source = try tx.upsertSource(path: "a.md", format: .markdown, size: 1, mtime: 0, contentHash: "h")
            let document = try tx.insertDocument(
                LoadedDocument(path: "a.md", title: nil, format: .markdown, contentHash: "h", size: 1, sections: [Section(text: "Harbor keeps its index.")]),
                sourceID: source, mtime: 0)
            _ = try tx.insertChunk(ChunkDraft(ordinal: 0, text: "Harbor keeps its index in harbor.db.", start: 0, end: 10, tokenCount: 8, heading: "H"), documentID: document)
        }
        return store
    }()
    static func fts(_ data: Data) {
        let query = String(decoding: data, as: UTF8.self)
        do { _ = try store.searchBM25(query, limit: 5) } catch { violated("BM25 search of \(query.debugDescription) threw \(error)") }
    }

    /// The generator's tokenizer (from the model cache): text comes back from its ids.
    static let models = ProcessInfo.processInfo.environment["RAG_MODELS_DIR"] ?? NSHomeDirectory() + "/.cache/rag/models"
    static let bpeTokenizer = try! BPETokenizer(GGUFFile(path: models + "/gguf/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"))
    static func bpe(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        let ids = bpeTokenizer.encode(text, addBOS: false)
        let plain = LiteralText.strip(text)
        if bpeTokenizer.decode(ids, special: true) != plain { violated("BPE does not round-trip \(plain.debugDescription)") }
    }

    static let wordPiece = try! WordPieceTokenizer(vocabularyFile: models + "/all-MiniLM-L6-v2/vocab.txt")
    static func wordpiece(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        _ = wordPiece.count(text)
        _ = wordPiece.encode(text, maxTokens: 256)
    }
}
