/// How `Retriever` finds chunks.
public enum SearchMode: String, Sendable, CaseIterable, Codable {
    /// FTS5 BM25 over chunk text and headings.
    case bm25
    /// Cosine similarity of the query's embedding to the chunks', through the HNSW graph.
    case dense
    /// Both, fused by reciprocal rank.
    case hybrid
}
