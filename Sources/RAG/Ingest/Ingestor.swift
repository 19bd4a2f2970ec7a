internal import Foundation
public import RAGCore
public import RAGStorage
public import RAGText
public import RAGEmbedding

/// The ingest recipe: walk → read → (skip if unchanged) → load → chunk → write, one transaction
/// per file (per batch of records for JSONL), so a crash leaves every document whole or absent.
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

        public init() {}
    }

    public let store: Store
    public var loader = DocumentLoader()
    public var counter: any TokenCounter
    /// Embeds every chunk when set; its tokenizer then counts the chunker's tokens.
    public var embedder: (any Embedder)?

    public init(store: Store, embedder: (any Embedder)? = nil) {
        self.store = store
        self.embedder = embedder
        self.counter = embedder?.tokenCounter ?? ApproximateTokenCounter()
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

        // Files recorded under the folders that no longer exist: candidates for renames, then pruning.
        let fm = FileManager.default
        var missing: [String: [SourceRecord]] = [:]
        var missingSources: [SourceRecord] = []
        for directory in directories {
            for source in try store.sources(under: directory) where !fm.fileExists(atPath: source.path) {
                missingSources.append(source)
                if !source.contentHash.isEmpty { missing[source.contentHash, default: []].append(source) }
            }
        }
        var renamedIDs = Set<SourceID>()

        let bytesTotal = files.reduce(Int64(0)) { $0 + $1.size }
        var bytesBefore: Int64 = 0
        for (index, file) in files.enumerated() {
            // Reports where the run stands; `within` is how far into this file it is.
            let tick = { (report: IngestReport, within: Int64) -> Void in
                progress?(IngestProgress(
                    filesDone: index, filesTotal: files.count,
                    documents: report.documents, chunks: report.chunks,
                    bytesDone: bytesBefore + within, bytesTotal: bytesTotal,
                    elapsed: Date().timeIntervalSince(started), currentPath: file.path))
            }
            tick(report, 0)
            defer { bytesBefore += file.size }
            // A file that cannot be read or parsed is skipped with its reason; an error of the
            // index itself (busy, damaged, disk full) propagates: nothing more would succeed.
            try ingestFile(file, chunker: chunker, options: options, missing: &missing, renamed: &renamedIDs, report: &report, tick: tick)
        }

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

    /// Vectors for the drafts, in order; nil when the ingest has no embedder.
    private func embed(_ drafts: [ChunkDraft]) -> [[Float]]? {
        guard let embedder else { return nil }
        return embedder.embed(drafts.map { Self.embeddingText($0, tokenizer: embedder.tokenCounter, maxTokens: embedder.maxTokens) })
    }

    /// A large plain-text file: one document, written in one transaction, but read, chunked and
    /// embedded block by block, so only one block's text and chunks are in memory at a time.
    private func ingestInBlocks(
        _ file: FileVersion, existing: SourceRecord?, chunker: Chunker, options: Options, report: inout IngestReport,
        tick: (IngestReport, Int64) -> Void
    ) throws {
        let title = loader.plainTextTitle(path: file.path)
        let wasPresent = try existing.map { try store.documentHashes(sourceID: $0.id)[file.path] != nil } ?? false
        var running = report
        var invalidUTF8 = false
        let chunks = try store.transaction { tx -> Int in
            let sourceID = try tx.upsertSource(path: file.path, format: .text, size: file.size, mtime: file.mtime, contentHash: file.contentHash)
            let documentID = try tx.insertDocument(
                LoadedDocument(path: file.path, title: title, format: .text, contentHash: file.contentHash, size: file.size, sections: []),
                sourceID: sourceID, mtime: file.mtime)
            var ordinal = 0
            var offset = 0
            try loader.textBlocks(path: file.path, blockSize: options.blockSize) { text, bytesRead, invalid in
                invalidUTF8 = invalidUTF8 || invalid
                var drafts: [ChunkDraft] = []
                try chunker.chunk([Section(text: text)]) { draft in
                    var draft = draft
                    draft.ordinal += ordinal
                    draft.start += offset
                    draft.end += offset
                    drafts.append(draft)
                }
                let vectors = embed(drafts)
                for (i, draft) in drafts.enumerated() { try tx.insertChunk(draft, documentID: documentID, vector: vectors?[i]) }
                ordinal += drafts.count
                offset += text.utf8.count + 2  // blocks join with a blank line
                running.chunks += drafts.count
                tick(running, bytesRead)
            }
            try tx.setChunkCount(ordinal, documentID: documentID)
            return ordinal
        }
        report.chunks += chunks
        if wasPresent { report.updated += 1 } else { report.added += 1 }
        if invalidUTF8 { report.warnings.append("\(file.path): invalid UTF-8 replaced with U+FFFD") }
    }

    /// The error's message without a leading "PATH: " (the report names the path already).
    static func reason(_ error: RAGError, path: String) -> String {
        error.message.hasPrefix(path + ": ") ? String(error.message.dropFirst(path.count + 2)) : error.message
    }

    private func ingestFile(
        _ file: FileWalker.Found, chunker: Chunker, options: Options,
        missing: inout [String: [SourceRecord]], renamed: inout Set<SourceID>, report: inout IngestReport,
        tick: (IngestReport, Int64) -> Void
    ) throws {
        func skip(_ error: RAGError) {
            report.skipped.append(.init(path: file.path, reason: Self.reason(error, path: file.path)))
        }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file.path) else {
            return skip(RAGError(.io, "\(file.path): cannot read the file's attributes"))
        }
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let existing = try store.source(path: file.path)

        // Same size and modification time as last time: unchanged, not even read.
        if let existing, !existing.contentHash.isEmpty, existing.size == size, existing.mtime == mtime {
            report.unchanged += try store.documentCount(sourceID: existing.id)
            return
        }
        let streaming = file.format == .text && size > options.streamingThreshold
        let source: SourceFile?
        let contentHash: String
        do {
            if streaming {
                source = nil
                contentHash = try loader.hashFile(path: file.path)
            } else {
                let read = try loader.read(path: file.path, format: file.format)
                source = read
                contentHash = read.contentHash
            }
        } catch let error as RAGError {
            return skip(error)
        }
        if let existing, existing.contentHash == contentHash {
            try store.transaction { try $0.touchSource(id: existing.id, mtime: mtime) }
            report.unchanged += try store.documentCount(sourceID: existing.id)
            return
        }
        if existing == nil, var candidates = missing[contentHash], let moved = candidates.popLast() {
            missing[contentHash] = candidates
            try store.transaction { try $0.renameSource(id: moved.id, from: moved.path, to: file.path, mtime: mtime) }
            renamed.insert(moved.id)
            report.renamed += try store.documentCount(sourceID: moved.id)
            return
        }

        let version = FileVersion(path: file.path, format: file.format, size: size, mtime: mtime, contentHash: contentHash)
        guard let source else {
            do {
                try ingestInBlocks(version, existing: existing, chunker: chunker, options: options, report: &report, tick: tick)
            } catch let error as RAGError where error.code == .io || error.code == .unsupported {
                skip(error)  // the file failed part-way: its transaction rolled back, the index is as it was
            }
            return
        }
        let documents: [LoadedDocument]
        do {
            documents = try loader.load(source)
        } catch let error as RAGError {
            return skip(error)
        }
        try write(documents, of: version, existing: existing, chunker: chunker, options: options, report: &report, tick: tick)
    }

    /// Chunks, embeds and writes a file's documents in batches of transactions; the file's hash
    /// is recorded with the last, so a crash in between makes the next run look at it again.
    func write(
        _ documents: [LoadedDocument], of file: FileVersion, existing: SourceRecord?, chunker: Chunker, options: Options,
        report: inout IngestReport, tick: (IngestReport, Int64) -> Void
    ) throws {
        for document in documents { report.warnings += document.warnings }
        let previous = try existing.map { try store.documentHashes(sourceID: $0.id) } ?? [:]
        let fresh = documents.filter { previous[$0.path] != $0.contentHash }
        report.unchanged += documents.count - fresh.count
        let keep = Set(documents.map(\.path))
        let stale = previous.keys.filter { !keep.contains($0) }

        // Batches of documents, each one transaction. Until the last commits, the file's hash is
        // left empty, so a crash in between makes the next run look at the file again.
        var bytesDone: Int64 = 0
        var batches = stride(from: 0, to: fresh.count, by: options.batchSize).map { fresh[$0..<min($0 + options.batchSize, fresh.count)] }
        if batches.isEmpty { batches = [[]] }
        for (number, batch) in batches.enumerated() {
            let last = number == batches.count - 1
            // Chunk and embed outside the transaction (the write lock is held only to write).
            var drafts: [[ChunkDraft]] = []
            for document in batch {
                var list: [ChunkDraft] = []
                try chunker.chunk(document.sections) { list.append($0) }
                drafts.append(list)
            }
            let vectors = embed(drafts.flatMap { $0 })
            let written = try store.transaction { tx -> (chunks: Int, added: Int, updated: Int) in
                let sourceID = try tx.upsertSource(
                    path: file.path, format: file.format, size: file.size, mtime: file.mtime,
                    contentHash: last ? file.contentHash : "")
                var result = (chunks: 0, added: 0, updated: 0)
                var vectorIndex = 0
                for (document, chunks) in zip(batch, drafts) {
                    let documentID = try tx.insertDocument(document, sourceID: sourceID, mtime: file.mtime)
                    for draft in chunks {
                        try tx.insertChunk(draft, documentID: documentID, vector: vectors?[vectorIndex])
                        vectorIndex += 1
                    }
                    try tx.setChunkCount(chunks.count, documentID: documentID)
                    result.chunks += chunks.count
                    if previous[document.path] == nil { result.added += 1 } else { result.updated += 1 }
                }
                if last {
                    for path in stale { try tx.deleteDocument(path: path) }
                }
                return result
            }
            report.chunks += written.chunks
            report.added += written.added
            report.updated += written.updated
            bytesDone += batch.reduce(0) { $0 + $1.size }
            tick(report, bytesDone)
        }
        report.removed += stale.count
    }
}
