internal import Dispatch
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
    /// Whether the run's deletions (with earlier ones) reached a quarter of the index, which was
    /// then compacted (`SQLiteStore.compactIfChurned`).
    public var compacted = false
    /// Seconds spent in each stage.
    public var stages = Stages()

    /// Seconds per stage: reading and parsing files, chunking, embedding, writing transactions.
    public struct Stages: Sendable, Codable, Equatable {
        public var load = 0.0
        public var chunk = 0.0
        public var embed = 0.0
        public var write = 0.0

        public init() {}

        /// Runs `body`, adding its wall time to `stage`.
        static func time<T>(_ stage: WritableKeyPath<Stages, Double>, of report: inout IngestReport, _ body: () throws -> T) rethrows -> T {
            let start = DispatchTime.now().uptimeNanoseconds
            let result = try body()
            report.stages[keyPath: stage] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            return result
        }
    }

    /// Documents the given paths hold in the index after this run (written, kept or moved).
    public var documents: Int { added + updated + unchanged + renamed }

    /// Whether anything at all is indexed from the given paths after this run.
    public var ingestedAnything: Bool { documents > 0 }

    public init() {}

    /// Adds what another part of the same run did (the reading thread's part, say).
    public mutating func merge(_ other: IngestReport) {
        added += other.added
        updated += other.updated
        unchanged += other.unchanged
        removed += other.removed
        renamed += other.renamed
        skipped += other.skipped
        warnings += other.warnings
        chunks += other.chunks
        stages.load += other.stages.load
        stages.chunk += other.stages.chunk
        stages.embed += other.stages.embed
        stages.write += other.stages.write
    }
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
