internal import RAGCore

/// One version of an ingested file, as the store records it: where, what kind, how large,
/// when modified, and the hash of its bytes.
struct FileVersion {
    var path: String
    var format: DocumentFormat
    var size: Int64
    /// Modification time, seconds since 1970.
    var mtime: Double
    var contentHash: String
}
