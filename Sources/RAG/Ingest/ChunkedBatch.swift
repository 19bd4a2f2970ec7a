internal import RAGCore

/// A file's batch of documents, chunked: what the reading thread hands to the embedding and
/// writing one. Each batch is one transaction; the file's hash is recorded with its last.
struct ChunkedBatch: Sendable {
    let file: FileVersion
    let documents: [LoadedDocument]
    /// Each document's chunks.
    let drafts: [[ChunkDraft]]
    /// The file's documents before this run (path → content hash).
    let previous: [String: String]
    /// Documents of the file that are gone: removed with the last batch.
    let stale: [String]
    let last: Bool
    /// Where the run stands after this batch, for progress.
    let fileIndex: Int
    let bytesThrough: Int64

    var chunkCount: Int { drafts.reduce(0) { $0 + $1.count } }
}
