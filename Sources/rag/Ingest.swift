import ArgumentParser
import Foundation
import RAG
import RAGCore
import RAGStorage
import RAGIndex
import RAGText
import RAGEmbedding

/// `--chunk-tokens N --chunk-overlap F`, shared by `rag ingest`, `rag eval retrieval` and `rag eval qa`.
struct ChunkingOptions: ParsableArguments {
    @Option(help: "Most tokens in one chunk.") var chunkTokens = 200
    @Option(help: "Neighbouring chunks share their boundary sentence when it is at most this fraction of --chunk-tokens (0: no overlap).")
    var chunkOverlap = 0.35

    func validate() throws {
        guard (16...256).contains(chunkTokens) else {
            throw ValidationError("--chunk-tokens must be between 16 and 256 (got \(chunkTokens)).")
        }
        guard (0...0.5).contains(chunkOverlap) else {
            throw ValidationError("--chunk-overlap must be between 0 and 0.5 (got \(chunkOverlap)).")
        }
    }

    var configuration: Chunker.Configuration { Chunker.Configuration(tokenBudget: chunkTokens, overlapFraction: chunkOverlap) }

    /// Names the chunking in a cached index's file name: `-c200`, `-c128-o0` (the default
    /// overlap is left out, so older names stay valid).
    var cacheSuffix: String {
        "-c\(chunkTokens)" + (chunkOverlap == Chunker.Configuration().overlapFraction ? "" : "-o\(Int((chunkOverlap * 100).rounded()))")
    }
}

struct Ingest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load, chunk and index files and folders (incremental: only what changed).",
        discussion: """
            Reads .txt, .md/.markdown, .html/.htm, .pdf (needs pdftotext) and BEIR-style .jsonl \
            (one document per line with _id, title, text). Folders are walked recursively; hidden \
            entries are skipped. An unchanged file costs nothing; a changed one is replaced in one \
            transaction; a file gone from an ingested folder is removed (unless --no-prune).
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var model: EmbedderOptions
    @Argument(help: "Files or folders to ingest.") var paths: [String]
    @Flag(help: "Index for BM25 only: no embeddings (faster; no dense or hybrid search).") var noEmbed = false
    @Option(help: ArgumentHelp("Only files matching this glob (repeatable).", valueName: "glob")) var include: [String] = []
    @Option(help: ArgumentHelp("Skip files matching this glob (repeatable).", valueName: "glob")) var exclude: [String] = []
    @Flag(help: "Keep documents whose files disappeared.") var noPrune = false
    @Option(help: ArgumentHelp("Tag every document of this run (repeatable); `rag search --tag` selects by it. A file ingested again with other tags is ingested again.", valueName: "key=value")) var tag: [String] = []
    @OptionGroup var chunking: ChunkingOptions
    @Option(help: "HNSW links per node for a new vector index (default 16; a different value rebuilds an existing one).") var m: Int?
    @Option(help: "HNSW build beam width for a new vector index (default 200; a different value rebuilds an existing one).") var efConstruction: Int?
    @Flag(help: "Print one JSON object instead of a summary.") var json = false

    func validate() throws {
        _ = try FilterOptions.tags(tag)
    }

    func run() async throws {
        let report: IngestReport
        do {
            let service = try makeService(db: store.db, .createIfMissing, embedder: model)
            try service.setGraphParameters(m: m, efConstruction: efConstruction)
            var options = Ingestor.Options()
            options.include = include
            options.exclude = exclude
            options.prune = !noPrune
            options.chunker = chunking.configuration
            options.tags = try FilterOptions.tags(tag)
            let bar = stderrIsTerminal ? ProgressBar() : nil
            report = try service.ingest(paths, options: options, embed: !noEmbed) { progress in bar?.update(progress) }
            bar?.finish()
        } catch {
            throw fail(error)
        }
        if json {
            printJSON(JSONReport(report))
        } else {
            for skip in report.skipped { printError("skipped \(skip.path): \(skip.reason)") }
            for warning in report.warnings { printError("warning: \(warning)") }
            let rate = report.seconds > 0 ? Double(report.chunks) / report.seconds : 0
            print("""
                \(report.files) files in \(String(format: "%.2f", report.seconds)) s: \(report.added) added, \
                \(report.updated) updated, \(report.unchanged) unchanged, \(report.removed) removed\
                \(report.renamed > 0 ? ", \(report.renamed) renamed" : ""), \(report.skipped.count) skipped; \
                \(report.chunks) chunks written (\(Int(rate)) chunks/s) → \(displayPath(store.db))
                """)
        }
        if !report.ingestedAnything && !report.skipped.isEmpty {
            if !json { printError("rag: error: nothing could be ingested from \(paths.joined(separator: " "))") }
            throw ExitCode.failure
        }
    }

    /// The `--json` shape: `{"added":N,"updated":N,"unchanged":N,"removed":N,"skipped":[…],"chunks":N,"seconds":S,
    /// "stages":{"load":S,"chunk":S,"embed":S,"write":S}}`. Stages overlap (reading and chunking
    /// run beside embedding and writing), so their seconds may add up to more than `seconds`.
    struct JSONReport: Encodable {
        var added, updated, unchanged, removed, renamed, chunks, files: Int
        var skipped: [IngestReport.Skip]
        var warnings: [String]
        var seconds: Double
        var stages: IngestReport.Stages
        init(_ r: IngestReport) {
            (added, updated, unchanged, removed, renamed, chunks, files) = (r.added, r.updated, r.unchanged, r.removed, r.renamed, r.chunks, r.files)
            skipped = r.skipped
            warnings = r.warnings
            seconds = r.seconds.rounded(places: 3)
            stages = r.stages
            for stage in [\IngestReport.Stages.load, \.chunk, \.embed, \.write] { stages[keyPath: stage] = stages[keyPath: stage].rounded(places: 3) }
        }
    }
}

/// A one-line progress bar on stderr: files, chunks, rate, ETA. Redrawn at most 10 times a second.
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private var lastDraw = 0.0
    private var drawn = false

    func update(_ p: IngestProgress) {
        lock.lock(); defer { lock.unlock() }
        guard p.elapsed - lastDraw >= 0.1 || p.bytesDone == p.bytesTotal else { return }
        lastDraw = p.elapsed
        let width = 24
        let fraction = p.bytesTotal > 0 ? min(1, Double(p.bytesDone) / Double(p.bytesTotal)) : 1
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let rates = rate(p)
        let eta = rates.bytes > 0 ? Double(p.bytesTotal - p.bytesDone) / rates.bytes : 0
        let line = "\r\(bar) \(p.filesDone)/\(p.filesTotal) files  \(p.documents) docs (\(Int(rates.documents))/s)  \(p.chunks) chunks (\(Int(rates.chunks))/s)  ETA \(Int(eta.rounded())) s "
        FileHandle.standardError.write(Data((line + "\u{1B}[K").utf8))
        drawn = true
    }

    /// Rates over the last few seconds (the current rate, not the run's average: the ETA follows
    /// what the ingest does now).
    private var samples: [IngestProgress] = []
    private func rate(_ p: IngestProgress) -> (documents: Double, chunks: Double, bytes: Double) {
        samples.append(p)
        while samples.count > 2, p.elapsed - samples[1].elapsed >= 5 { samples.removeFirst() }
        guard let first = samples.first, p.elapsed - first.elapsed > 0.05 else { return (0, 0, 0) }
        let seconds = p.elapsed - first.elapsed
        return (Double(p.documents - first.documents) / seconds, Double(p.chunks - first.chunks) / seconds, Double(p.bytesDone - first.bytesDone) / seconds)
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
