/// The formats rag can read. The raw value is what the index stores.
public enum DocumentFormat: String, Sendable, Codable, CaseIterable {
    case text, markdown, html, pdf, jsonl

    /// The format a file name implies, or nil when rag does not read such files.
    public init?(fileName: String) {
        guard let dot = fileName.lastIndex(of: "."), dot != fileName.startIndex else { return nil }
        switch fileName[fileName.index(after: dot)...].lowercased() {
        case "txt", "text": self = .text
        case "md", "markdown": self = .markdown
        case "html", "htm": self = .html
        case "pdf": self = .pdf
        case "jsonl": self = .jsonl
        default: return nil
        }
    }
}

/// A piece of a document's extracted text under one heading path.
///
/// Loaders produce sections in reading order; the chunker packs their sentences.
public struct Section: Sendable, Equatable {
    /// Headings from the outermost to the innermost, e.g. `["Install", "From source"]`.
    public var headings: [String]
    public var text: String

    public init(headings: [String] = [], text: String) {
        self.headings = headings
        self.text = text
    }
}

/// One document as a loader extracted it, before chunking.
public struct LoadedDocument: Sendable {
    /// The document's path in the index: the file path, or `FILE#<_id>` for a JSONL record.
    public var path: String
    public var title: String?
    public var format: DocumentFormat
    /// Hex SHA-256 of the document's source bytes (for a JSONL record, of its line).
    public var contentHash: String
    /// Size of the source in bytes.
    public var size: Int64
    public var sections: [Section]
    /// Problems worth telling the user that did not stop the load (invalid UTF-8, …).
    public var warnings: [String]
    /// Tags a filter can select the document by, each key with one or more values (in order,
    /// no repeats): `rag ingest --tag`, Markdown front matter (`tags: [a, b]` is two values).
    public var tags: [String: [String]]

    public init(
        path: String, title: String?, format: DocumentFormat, contentHash: String, size: Int64,
        sections: [Section], warnings: [String] = [], tags: [String: [String]] = [:]
    ) {
        self.path = path
        self.title = title
        self.format = format
        self.contentHash = contentHash
        self.size = size
        self.sections = sections
        self.warnings = warnings
        self.tags = tags
    }
}

extension Dictionary where Key == String, Value == [String] {
    /// Adds `value` to `key`'s tag values, unless it is there already.
    public mutating func addTag(_ key: String, _ value: String) {
        if self[key]?.contains(value) != true { self[key, default: []].append(value) }
    }

    /// Every `(key, value)` pair, keys in order, each key's values as given.
    public var tagPairs: [(key: String, value: String)] {
        sorted { $0.key < $1.key }.flatMap { key, values in values.map { (key, $0) } }
    }
}

/// A chunk as the chunker produced it, ready to store.
public struct ChunkDraft: Sendable, Equatable {
    /// Position of the chunk in its document, from 0.
    public var ordinal: Int
    public var text: String
    /// Span of the chunk in the document's extracted text, in UTF-8 bytes, `[start, end)`.
    public var start: Int
    public var end: Int
    /// Tokens by the index's token counter.
    public var tokenCount: Int
    /// Heading path joined with " › ", empty when the chunk sits under no heading.
    public var heading: String

    public init(ordinal: Int, text: String, start: Int, end: Int, tokenCount: Int, heading: String) {
        self.ordinal = ordinal
        self.text = text
        self.start = start
        self.end = end
        self.tokenCount = tokenCount
        self.heading = heading
    }
}

/// Typed row id of a chunk.
public struct ChunkID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
}

/// Typed row id of an ingested file (one file may hold several documents, e.g. a JSONL corpus).
public struct SourceID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
}

/// Typed row id of a document.
public struct DocumentID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
}

/// One search result.
public struct SearchHit: Sendable, Codable, Equatable {
    public var chunkID: ChunkID
    public var document: String
    public var heading: String
    /// Higher is better. For BM25 this is the negated FTS5 rank.
    public var score: Double
    public var text: String
    /// The chunk text around the matched terms, matches in `[` `]`.
    public var snippet: String
    /// The chunk's place in its document: its number and its character span.
    public var ordinal: Int
    public var start: Int
    public var end: Int

    public init(
        chunkID: ChunkID, document: String, heading: String, score: Double, text: String, snippet: String,
        ordinal: Int = 0, start: Int = 0, end: Int = 0
    ) {
        self.chunkID = chunkID
        self.document = document
        self.heading = heading
        self.score = score
        self.text = text
        self.snippet = snippet
        self.ordinal = ordinal
        self.start = start
        self.end = end
    }
}
