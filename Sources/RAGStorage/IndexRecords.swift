public import RAGCore
internal import Foundation

/// A file on disk that was ingested.
public struct SourceRecord: Sendable, Equatable {
    public var id: SourceID
    public var path: String
    public var format: String
    public var size: Int64
    /// Modification time, seconds since 1970.
    public var mtime: Double
    public var contentHash: String

    public init(id: SourceID, path: String, format: String, size: Int64, mtime: Double, contentHash: String) {
        self.id = id
        self.path = path
        self.format = format
        self.size = size
        self.mtime = mtime
        self.contentHash = contentHash
    }
}

/// A document as the index lists it.
public struct DocumentRecord: Sendable, Equatable, Codable {
    public var id: DocumentID
    public var path: String
    public var title: String?
    public var format: String
    public var size: Int64
    public var contentHash: String
    public var chunkCount: Int
    /// Seconds since 1970.
    public var ingestedAt: Double
    /// The document's tags, each key's values sorted.
    public var tags: [String: [String]]

    public init(
        id: DocumentID, path: String, title: String?, format: String, size: Int64, contentHash: String, chunkCount: Int, ingestedAt: Double,
        tags: [String: [String]] = [:]
    ) {
        self.id = id
        self.path = path
        self.title = title
        self.format = format
        self.size = size
        self.contentHash = contentHash
        self.chunkCount = chunkCount
        self.ingestedAt = ingestedAt
        self.tags = tags
    }

    /// Tags from a JSON array of `[key, value]` pairs, as the stores select them; none from
    /// anything else.
    public static func tags(fromPairs json: String?) -> [String: [String]] {
        guard let json, let pairs = try? JSONDecoder().decode([[String]].self, from: Data(json.utf8)) else { return [:] }
        var tags: [String: [String]] = [:]
        for pair in pairs where pair.count == 2 { tags.addTag(pair[0], pair[1]) }
        return tags
    }
}

/// What `IndexStore.stats()` reports.
public struct StoreStats: Sendable, Codable, Equatable {
    public var sources: Int
    public var documents: Int
    public var chunks: Int
    /// Chunks with a stored vector.
    public var vectors: Int
    /// The embedding model of those vectors, "" when none.
    public var embedder: String
    /// Bytes of the ingested documents' sources.
    public var documentBytes: Int64
    /// Bytes on disk: the index file and its write-ahead log, or the database's tables and indexes.
    public var fileBytes: Int64
    public var formatVersion: Int
    /// The chunker's parameters, as stored (JSON).
    public var chunker: String

    public init(
        sources: Int, documents: Int, chunks: Int, vectors: Int, embedder: String, documentBytes: Int64, fileBytes: Int64, formatVersion: Int,
        chunker: String
    ) {
        self.sources = sources
        self.documents = documents
        self.chunks = chunks
        self.vectors = vectors
        self.embedder = embedder
        self.documentBytes = documentBytes
        self.fileBytes = fileBytes
        self.formatVersion = formatVersion
        self.chunker = chunker
    }
}

/// What `IndexStore.graphInfo()` reports of the vector index. pgvector's index does not tell
/// its levels or slots: there `maxLevel` is 0, `slots` the node count, and `space` names it.
public struct GraphInfo: Sendable, Codable, Equatable {
    public var nodes: Int
    public var slots: Int
    public var dimensions: Int
    public var space: String
    public var m: Int
    public var efConstruction: Int
    public var maxLevel: Int
    public var pages: Int
    public var pageBytes: Int64
    public var pendingChanges: Int

    public init(
        nodes: Int, slots: Int, dimensions: Int, space: String, m: Int, efConstruction: Int, maxLevel: Int, pages: Int, pageBytes: Int64,
        pendingChanges: Int
    ) {
        self.nodes = nodes
        self.slots = slots
        self.dimensions = dimensions
        self.space = space
        self.m = m
        self.efConstruction = efConstruction
        self.maxLevel = maxLevel
        self.pages = pages
        self.pageBytes = pageBytes
        self.pendingChanges = pendingChanges
    }
}
