internal import Foundation
internal import RAGCore
internal import RAGStorage
internal import RAGText

/// The two threads of a run: the reading thread walks the files (read, hash, skip the
/// unchanged, parse, chunk) and queues chunked batches a few ahead; the calling thread embeds
/// them (batches of several files share encoder calls) and writes one transaction per batch.
extension Ingestor {
    /// What the reading thread queues, in file order.
    enum Work: Sendable {
        /// Chunked documents to embed and write.
        case batch(ChunkedBatch)
        /// A large plain-text file, read, chunked, embedded and written block by block.
        case blocks(FileVersion, existing: SourceRecord?, fileIndex: Int, bytesBefore: Int64)
        /// A file is done with (its batches were queued before this); the reader's report so far.
        case fileDone(index: Int, bytesThrough: Int64, path: String, reader: IngestReport)
        /// The last item: sources whose files disappeared, those re-pointed (renamed), and the
        /// reader's report.
        case end(missing: [SourceRecord], renamed: Set<SourceID>, reader: IngestReport)
    }

    /// Chunks that share one encoder call at most (several batches, several files).
    static let embedBatch = 256

    // MARK: The reading thread

    /// Walks `files`, queueing what is to be embedded and written; ends with `.end`.
    func read(_ files: [FileWalker.Found], directories: [String], chunker: Chunker, options: Options, into queue: BoundedQueue<Work>) throws {
        var report = IngestReport()
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
        var renamed = Set<SourceID>()
        var bytesBefore: Int64 = 0
        for (index, file) in files.enumerated() {
            // A file that cannot be read or parsed is skipped with its reason; an error of the
            // index itself (busy, damaged, disk full) propagates: nothing more would succeed.
            try readFile(
                file, index: index, bytesBefore: bytesBefore, chunker: chunker, options: options, missing: &missing,
                renamed: &renamed, report: &report, queue: queue)
            bytesBefore += file.size
            try queue.push(.fileDone(index: index, bytesThrough: bytesBefore, path: file.path, reader: report))
        }
        try queue.push(.end(missing: missingSources, renamed: renamed, reader: report))
    }

    private func readFile(
        _ file: FileWalker.Found, index: Int, bytesBefore: Int64, chunker: Chunker, options: Options,
        missing: inout [String: [SourceRecord]], renamed: inout Set<SourceID>, report: inout IngestReport, queue: BoundedQueue<Work>
    ) throws {
        func skip(_ error: RAGError) {
            report.skipped.append(.init(path: file.path, reason: Self.reason(error, path: file.path)))
        }
        // The target's size and time for a link (its own would hide a changed target).
        guard let (size, mtime) = FileWalker.sizeAndModificationTime(file.path) else {
            return skip(RAGError(.io, "\(file.path): cannot read the file's attributes"))
        }
        let existing = try store.source(path: file.path)

        // Same size and modification time as last time: unchanged, not even read.
        if let existing, !existing.contentHash.isEmpty, existing.size == size, existing.mtime == mtime, options.matchesTags(existing.contentHash) {
            report.unchanged += try store.documentCount(sourceID: existing.id)
            return
        }
        let streaming = file.format == .text && size > options.streamingThreshold
        let source: SourceFile?
        let contentHash: String
        do {
            (source, contentHash) = try IngestReport.Stages.time(\.load, of: &report) {
                if streaming { return (nil, options.tagged(try loader.hashFile(path: file.path))) }
                let read = try loader.read(path: file.path, format: file.format)
                return (read, options.tagged(read.contentHash))
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
            return try queue.push(.blocks(version, existing: existing, fileIndex: index, bytesBefore: bytesBefore))
        }
        let documents: [LoadedDocument]
        do {
            documents = try IngestReport.Stages.time(\.load, of: &report) { try loader.load(source).map { Self.tagged($0, options) } }
        } catch let error as RAGError {
            return skip(error)
        }
        try chunk(documents, of: version, existing: existing, chunker: chunker, options: options, fileIndex: index, bytesBefore: bytesBefore, report: &report) {
            try queue.push(.batch($0))
        }
    }

    /// Splits a file's new and changed documents into batches of `options.batchSize`, chunks
    /// each and hands it to `emit`; counts the unchanged ones.
    func chunk(
        _ documents: [LoadedDocument], of file: FileVersion, existing: SourceRecord?, chunker: Chunker, options: Options,
        fileIndex: Int, bytesBefore: Int64, report: inout IngestReport, emit: (ChunkedBatch) throws -> Void
    ) throws {
        for document in documents { report.warnings += document.warnings }
        let previous = try existing.map { try store.documentHashes(sourceID: $0.id) } ?? [:]
        let fresh = documents.filter { previous[$0.path] != $0.contentHash }
        report.unchanged += documents.count - fresh.count
        let keep = Set(documents.map(\.path))
        let stale = previous.keys.filter { !keep.contains($0) }

        // Until the last batch commits, the file's hash is left empty, so a crash in between
        // makes the next run look at the file again.
        var bytesDone = bytesBefore
        var batches = stride(from: 0, to: fresh.count, by: options.batchSize).map { fresh[$0..<min($0 + options.batchSize, fresh.count)] }
        if batches.isEmpty { batches = [[]] }
        for (number, batch) in batches.enumerated() {
            let drafts = try IngestReport.Stages.time(\.chunk, of: &report) {
                try batch.map { document in
                    var list: [ChunkDraft] = []
                    try chunker.chunk(document.sections) { list.append($0) }
                    return list
                }
            }
            bytesDone += batch.reduce(0) { $0 + $1.size }
            try emit(ChunkedBatch(
                file: file, documents: Array(batch), drafts: drafts, previous: previous, stale: stale,
                last: number == batches.count - 1, fileIndex: fileIndex, bytesThrough: bytesDone))
        }
    }

    // MARK: The embedding and writing thread

    /// Takes the reader's work off `queue` until its end; returns the sources whose files
    /// disappeared and those the reader re-pointed. `report` gets both threads' counts.
    func embedAndWrite(
        _ queue: BoundedQueue<Work>, chunker: Chunker, options: Options, report: inout IngestReport,
        tick: (IngestReport, _ filesDone: Int, _ bytesDone: Int64, _ path: String) -> Void
    ) throws -> (missing: [SourceRecord], renamed: Set<SourceID>) {
        var reader = IngestReport()  // the reading thread's part, as of its last word
        var written = IngestReport()
        var seen: [String: [Float]] = [:]
        var held: Work?
        func show(_ running: IngestReport, _ filesDone: Int, _ bytesDone: Int64, _ path: String) {
            var shown = report
            shown.merge(reader)
            shown.merge(running)
            tick(shown, filesDone, bytesDone, path)
        }
        while let work = try held ?? queue.pop() {
            held = nil
            switch work {
            case .batch(let first):
                // Batches already waiting join this one, so several files share encoder calls.
                var batches = [first]
                var count = first.chunkCount
                while count < Self.embedBatch, let next = try queue.popIfReady() {
                    guard case .batch(let batch) = next else {
                        held = next
                        break
                    }
                    batches.append(batch)
                    count += batch.chunkCount
                }
                try commit(batches, seen: &seen, report: &written)
                show(written, batches[batches.count - 1].fileIndex, batches[batches.count - 1].bytesThrough, first.file.path)
            case .blocks(let file, let existing, let index, let bytesBefore):
                do {
                    try ingestInBlocks(file, existing: existing, chunker: chunker, options: options, report: &written) { running, within in
                        show(running, index, bytesBefore + within, file.path)
                    }
                } catch let error as RAGError where error.code == .io || error.code == .unsupported {
                    // The file failed part-way: its transaction rolled back, the index is as it was.
                    written.skipped.append(.init(path: file.path, reason: Self.reason(error, path: file.path)))
                }
            case .fileDone(let index, let bytesThrough, let path, let snapshot):
                reader = snapshot
                show(written, index + 1, bytesThrough, path)
            case .end(let missing, let renamed, let snapshot):
                report.merge(snapshot)
                report.merge(written)
                return (missing, renamed)
            }
        }
        preconditionFailure("Programmer error: the reading thread ended without its report")
    }

    /// Embeds the batches' chunks in one call, then writes each batch in its own transaction.
    func commit(_ batches: [ChunkedBatch], seen: inout [String: [Float]], report: inout IngestReport) throws {
        let drafts = batches.flatMap { $0.drafts.joined() }
        let vectors = IngestReport.Stages.time(\.embed, of: &report) { embed(drafts, seen: &seen) }
        var offset = 0
        for batch in batches {
            let count = batch.chunkCount
            let mine = vectors?[offset..<offset + count]
            offset += count
            let written = try IngestReport.Stages.time(\.write, of: &report) { try write(batch, vectors: mine) }
            report.chunks += written.chunks
            report.added += written.added
            report.updated += written.updated
            if batch.last { report.removed += batch.stale.count }
        }
    }

    /// One batch's transaction: its source, documents and chunks (and, with the last batch,
    /// the file's hash and the removal of its documents that are gone).
    private func write(_ batch: ChunkedBatch, vectors: ArraySlice<[Float]>?) throws -> (chunks: Int, added: Int, updated: Int) {
        try store.transaction { tx in
            let file = batch.file
            let sourceID = try tx.upsertSource(
                path: file.path, format: file.format, size: file.size, mtime: file.mtime,
                contentHash: batch.last ? file.contentHash : "")
            var result = (chunks: 0, added: 0, updated: 0)
            var vectorIndex = vectors?.startIndex ?? 0
            for (document, chunks) in zip(batch.documents, batch.drafts) {
                let documentID = try tx.insertDocument(document, sourceID: sourceID, mtime: file.mtime)
                try tx.insertChunks(chunks, documentID: documentID, vectors: vectors?[vectorIndex..<vectorIndex + chunks.count])
                vectorIndex += chunks.count
                try tx.setChunkCount(chunks.count, documentID: documentID)
                result.chunks += chunks.count
                if batch.previous[document.path] == nil { result.added += 1 } else { result.updated += 1 }
            }
            if batch.last {
                for path in batch.stale { try tx.deleteDocument(path: path) }
            }
            return result
        }
    }
}
