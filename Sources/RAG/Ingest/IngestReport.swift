/// What one `rag ingest` run did. Counts are of documents (a JSONL file holds many).
public struct IngestReport: Sendable, Codable, Equatable {
    public struct Skip: Sendable, Codable, Equatable {
        public var path: String
        public var reason: String
    }

    public var added = 0
    public var updated = 0
    public var unchanged = 0
    public var removed = 0
    /// Documents whose file moved with unchanged content: re-pointed, not re-chunked.
    public var renamed = 0
    public var skipped: [Skip] = []
    /// Problems that did not stop a file (invalid UTF-8 replaced, bad JSONL lines skipped).
    public var warnings: [String] = []
    /// Chunks written in this run.
    public var chunks = 0
    public var files = 0
    public var seconds = 0.0

    /// Documents the given paths hold in the index after this run (written, kept or moved).
    public var documents: Int { added + updated + unchanged + renamed }

    /// Whether anything at all is indexed from the given paths after this run.
    public var ingestedAnything: Bool { documents > 0 }

    public init() {}
}

/// Where an ingest stands, for a progress bar.
public struct IngestProgress: Sendable {
    public var filesDone: Int
    public var filesTotal: Int
    public var documents: Int
    public var chunks: Int
    /// Bytes of the files done so far (a JSONL file counts record by record) and in all.
    public var bytesDone: Int64
    public var bytesTotal: Int64
    /// Seconds since the run started.
    public var elapsed: Double
    public var currentPath: String
}
