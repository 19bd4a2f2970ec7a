internal import Foundation
public import RAGCore
public import RAGStorage
public import RAGText
public import RAGEmbedding

/// The ingest recipe: walk → read → (skip if unchanged) → load → chunk → embed → write, one
/// transaction per file (per batch of records for JSONL), so a crash leaves every document whole
/// or absent. Reading, parsing and chunking run on a thread of their own, a few batches ahead of
/// embedding and writing (see Ingestor+Pipeline.swift), so the encoder has both cores and waits
/// for no file.
public struct Ingestor: Sendable {
    public struct Options: Sendable {
        public var include: [String] = []
        public var exclude: [String] = []
        /// Remove documents whose file disappeared from an ingested folder.
        public var prune = true
        public var chunker = Chunker.Configuration()
        /// JSONL records per transaction (and per embedding call).
        public var batchSize = 64
        /// Plain-text files larger than this are read, chunked, embedded and written block by
        /// block (in one transaction), so memory stays bounded whatever the file's size.
        public var streamingThreshold: Int64 = 16 << 20
        /// The block size for those files.
        public var blockSize = 4 << 20
        /// Tags for every document of this run (`rag ingest --tag`); a key given here replaces
        /// the document's own values of it. They count as content: a file ingested again with
        /// other tags is ingested again.
        public var tags: [String: [String]] = [:]

        public init() {}

        /// A content hash with the tags folded in: `HASH+TAGS` (the first 16 hex digits of the
        /// tags' own hash), or the hash alone without tags, so an unchanged file still matches
        /// its record without being read.
        func tagged(_ hash: String) -> String {
            guard !tags.isEmpty, !hash.isEmpty else { return hash }
            return hash + tagSuffix
        }

        /// `+` and the tags' hash, empty without tags.
        var tagSuffix: String {
            guard !tags.isEmpty else { return "" }
            var hasher = SHA256()
            hasher.update(Array(tags.tagPairs.map { "\($0.key)=\($0.value)\n" }.joined().utf8))
            return "+" + hasher.finalizeHex().prefix(16)
        }

        /// Whether a stored hash was made with these tags (no suffix without tags).
        func matchesTags(_ storedHash: String) -> Bool {
            let suffix = tagSuffix
            return suffix.isEmpty ? !storedHash.contains("+") : storedHash.hasSuffix(suffix)
        }
    }

    public let store: any IndexStore
    public var loader = DocumentLoader()
    public var counter: any TokenCounter
    /// Embeds every chunk when set; its tokenizer then counts the chunker's tokens.
    public var embedder: (any Embedder)?

    public init(store: any IndexStore, embedder: (any Embedder)? = nil) {
        self.store = store
        self.embedder = embedder
        self.counter = embedder?.tokenCounter ?? ApproximateTokenCounter()
    }

    /// The document with the run's tags (over its own, such as front matter's), and its hash
    /// with the tags folded in. `document.contentHash` must not be tagged yet.
    static func tagged(_ document: LoadedDocument, _ options: Options) -> LoadedDocument {
        var document = document
        document.tags.merge(options.tags) { _, run in run }
        if !options.tags.isEmpty, !document.contentHash.hasSuffix(options.tagSuffix) { document.contentHash = options.tagged(document.contentHash) }
        return document
    }

    /// Stored with the index: a change of any of these re-chunks every document.
    func chunkerSignature(_ configuration: Chunker.Configuration) -> String {
        "{\"token_budget\":\(configuration.tokenBudget),\"overlap_fraction\":\(configuration.overlapFraction),\"counter\":\"\(counter.name)\"}"
    }

    public func run(
        paths: [String], options: Options = Options(), progress: (@Sendable (IngestProgress) -> Void)? = nil
    ) throws -> IngestReport {
        let started = Date()
        var report = IngestReport()
        let roots = paths.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let walker = FileWalker(include: options.include, exclude: options.exclude)
        let (files, walkSkipped, directories) = walker.walk(roots)
        report.skipped = walkSkipped
        report.files = files.count
        let chunker = Chunker(configuration: options.chunker, counter: counter)
        let embedderName = embedder.map { "\($0.name)/\($0.dimensions)" } ?? ""
        try store.transaction { try $0.setChunker(chunkerSignature(options.chunker), embedder: embedderName) }

        let bytesTotal = files.reduce(Int64(0)) { $0 + $1.size }
        let tick = { (report: IngestReport, filesDone: Int, bytesDone: Int64, path: String) -> Void in
            progress?(IngestProgress(
                filesDone: filesDone, filesTotal: files.count, documents: report.documents, chunks: report.chunks,
                bytesDone: bytesDone, bytesTotal: bytesTotal, elapsed: Date().timeIntervalSince(started), currentPath: path))
        }
        let queue = BoundedQueue<Work>(capacity: 8)
        let readerDone = DispatchSemaphore(value: 0)
        let reader = Thread { [self] in
            defer { readerDone.signal() }
            do {
                try read(files, directories: directories, chunker: chunker, options: options, into: queue)
                queue.finish()
            } catch {
                queue.finish(throwing: error)
            }
        }
        reader.stackSize = 8 << 20
        reader.start()
        var missingSources: [SourceRecord] = []
        var renamedIDs = Set<SourceID>()
        do {
            (missingSources, renamedIDs) = try embedAndWrite(queue, chunker: chunker, options: options, report: &report, tick: tick)
        } catch {
            queue.cancel()
            readerDone.wait()
            throw error
        }
        readerDone.wait()

        if options.prune {
            let gone = missingSources.filter { !renamedIDs.contains($0.id) }
            if !gone.isEmpty {
                var removed = 0
                for source in gone { removed += try store.documentCount(sourceID: source.id) }
                try store.transaction { tx in
                    for source in gone { try tx.deleteSource(id: source.id) }
                }
                report.removed += removed
            }
        }
        if report.removed + report.updated > 0 {
            // The documents are in; a compaction that cannot run now is tried after the next deletion.
            do {
                report.compacted = try store.compactIfChurned()
            } catch {
                report.warnings.append("the index was not compacted this time: \(error)")
            }
        }
        report.seconds = Date().timeIntervalSince(started)
        progress?(IngestProgress(
            filesDone: files.count, filesTotal: files.count,
            documents: report.documents, chunks: report.chunks,
            bytesDone: bytesTotal, bytesTotal: bytesTotal, elapsed: report.seconds, currentPath: ""))
        return report
    }

    /// The text each chunk is embedded as: its heading path, then its text — or the text alone
    /// when the heading would push it past the encoder's window (no chunk text is ever cut).
    static func embeddingText(_ draft: ChunkDraft, tokenizer: any TokenCounter, maxTokens: Int) -> String {
        guard !draft.heading.isEmpty else { return draft.text }
        let headingTokens = tokenizer.count(draft.heading[...])
        return headingTokens + draft.tokenCount + 3 <= maxTokens ? draft.heading + ": " + draft.text : draft.text
    }

    /// Vectors for the drafts, in order; nil when the ingest has no embedder. A text embedded
    /// before in this run (`seen`) is not embedded again, nor twice in one call.
    func embed(_ drafts: [ChunkDraft], seen: inout [String: [Float]]) -> [[Float]]? {
        guard let embedder else { return nil }
        let texts = drafts.map { Self.embeddingText($0, tokenizer: embedder.tokenCounter, maxTokens: embedder.maxTokens) }
        var fresh: [String] = []
        var queued = Set<String>()
        for text in texts where seen[text] == nil && queued.insert(text).inserted { fresh.append(text) }
        var made: [String: [Float]] = [:]
        for (text, vector) in zip(fresh, embedder.embed(fresh)) { made[text] = vector }
        let vectors = texts.map { made[$0] ?? seen[$0]! }
        // Remembered up to a bound, so a huge run's memory stays in proportion to its batches.
        if seen.count + made.count > 50_000 { seen.removeAll(keepingCapacity: true) }
        seen.merge(made) { old, _ in old }
        return vectors
    }

    /// A large plain-text file: one document, written in one transaction, but read, chunked and
    /// embedded block by block, so only one block's text and chunks are in memory at a time.
    func ingestInBlocks(
        _ file: FileVersion, existing: SourceRecord?, chunker: Chunker, options: Options, report: inout IngestReport,
        tick: (IngestReport, Int64) -> Void
    ) throws {
        let title = loader.plainTextTitle(path: file.path)
        let wasPresent = try existing.map { try store.documentHashes(sourceID: $0.id)[file.path] != nil } ?? false
        var running = report
        var invalidUTF8 = false
        var seen: [String: [Float]] = [:]
        let chunks = try store.transaction { tx -> Int in
            let sourceID = try tx.upsertSource(path: file.path, format: .text, size: file.size, mtime: file.mtime, contentHash: file.contentHash)
            let documentID = try tx.insertDocument(
                Self.tagged(LoadedDocument(path: file.path, title: title, format: .text, contentHash: file.contentHash, size: file.size, sections: []), options),
                sourceID: sourceID, mtime: file.mtime)
            var ordinal = 0
            var offset = 0
            try loader.textBlocks(path: file.path, blockSize: options.blockSize) { text, bytesRead, invalid in
                invalidUTF8 = invalidUTF8 || invalid
                var drafts: [ChunkDraft] = []
                try IngestReport.Stages.time(\.chunk, of: &running) {
                    try chunker.chunk([Section(text: text)]) { draft in
                        var draft = draft
                        draft.ordinal += ordinal
                        draft.start += offset
                        draft.end += offset
                        drafts.append(draft)
                    }
                }
                let vectors = IngestReport.Stages.time(\.embed, of: &running) { embed(drafts, seen: &seen) }
                try IngestReport.Stages.time(\.write, of: &running) {
                    try tx.insertChunks(drafts, documentID: documentID, vectors: vectors?[...])
                }
                ordinal += drafts.count
                offset += text.utf8.count + 2  // blocks join with a blank line
                running.chunks += drafts.count
                tick(running, bytesRead)
            }
            try tx.setChunkCount(ordinal, documentID: documentID)
            return ordinal
        }
        report.stages = running.stages
        report.chunks += chunks
        if wasPresent { report.updated += 1 } else { report.added += 1 }
        if invalidUTF8 { report.warnings.append("\(file.path): invalid UTF-8 replaced with U+FFFD") }
    }

    /// The error's message without a leading "PATH: " (the report names the path already).
    static func reason(_ error: RAGError, path: String) -> String {
        error.message.hasPrefix(path + ": ") ? String(error.message.dropFirst(path.count + 2)) : error.message
    }

    /// Chunks, embeds and writes a file's documents in batches of transactions, on this thread
    /// (an upload); the file's hash is recorded with the last batch.
    func write(
        _ documents: [LoadedDocument], of file: FileVersion, existing: SourceRecord?, chunker: Chunker, options: Options,
        report: inout IngestReport, tick: (IngestReport, Int64) -> Void
    ) throws {
        var chunked = IngestReport(), written = IngestReport()
        var seen: [String: [Float]] = [:]
        try chunk(documents, of: file, existing: existing, chunker: chunker, options: options, fileIndex: 0, bytesBefore: 0, report: &chunked) { batch in
            try commit([batch], seen: &seen, report: &written)
            var shown = report
            shown.merge(written)
            tick(shown, batch.bytesThrough)
        }
        report.merge(chunked)
        report.merge(written)
    }
}
