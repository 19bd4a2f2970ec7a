public import RAGCore

/// A passage of the index as it goes into a prompt and comes back as a citation: one chunk, or neighbouring
/// and overlapping chunks of one document merged.
public struct Passage: Sendable, Codable, Equatable {
    public var n: Int
    public var document: String
    public var heading: String
    public var chunkIDs: [ChunkID]
    public var text: String
}
