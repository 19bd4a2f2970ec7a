import Foundation
import GRDB
import RAG
import RAGCore
import RAGStorage
import RAGText
import RAGEmbedding
import RAGTesting
import Testing

/// A temporary folder of documents, removed when the test ends.
final class Workspace {
    let root: URL
    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("rag-ingest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: root) }

    var docs: String { root.appendingPathComponent("docs").path }
    func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    @discardableResult
    func write(_ relative: String, _ text: String, mtime: Date? = nil) throws -> String {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        if let mtime { try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: url.path) }
        return url.path
    }
}

@Suite(.onTestThreads) struct IngestorTests {
    func ingest(_ store: SQLiteStore, _ paths: [String], prune: Bool = true) throws -> IngestReport {
        var options = Ingestor.Options()
        options.prune = prune
        return try Ingestor(store: store).run(paths: paths, options: options)
    }

    @Test func addModifyRenameDeleteAreIncremental() throws {
        let ws = try Workspace()
        let store = try SQLiteStore()
        try ws.write("docs/a.md", "# Alpha\n\nAlpha talks about quantization.")
        try ws.write("docs/sub/b.txt", "Bravo is about batching.")
        try ws.write("docs/c.html", "<h1>Charlie</h1><p>Charlie covers caching.</p>")
        try ws.write("docs/.hidden/secret.md", "Never read.")

        // First run adds everything but the hidden folder
        var report = try ingest(store, [ws.docs])
        #expect((report.added, report.updated, report.unchanged, report.removed) == (3, 0, 0, 0))
        #expect(try store.documents().map(\.path) == [ws.path("docs/a.md"), ws.path("docs/c.html"), ws.path("docs/sub/b.txt")])
        let chunkIDs = try store.searchBM25("alpha", limit: 5).map(\.chunkID)

        // Second run: nothing changed, nothing written
        report = try ingest(store, [ws.docs])
        #expect((report.added, report.updated, report.unchanged, report.chunks) == (0, 0, 3, 0))

        // Touching a file without changing it costs a hash, not a re-chunk
        try ws.write("docs/a.md", "# Alpha\n\nAlpha talks about quantization.", mtime: Date(timeIntervalSince1970: 1_000_000))
        report = try ingest(store, [ws.docs])
        #expect((report.updated, report.unchanged, report.chunks) == (0, 3, 0))
        #expect(try store.searchBM25("alpha", limit: 5).map(\.chunkID) == chunkIDs)

        // Modify one file: it alone is replaced
        try ws.write("docs/sub/b.txt", "Bravo is now about speculative decoding.")
        report = try ingest(store, [ws.docs])
        #expect((report.added, report.updated, report.unchanged) == (0, 1, 2))
        #expect(try store.searchBM25("batching", limit: 5).isEmpty)
        #expect(try store.searchBM25("speculative", limit: 5).first?.document == ws.path("docs/sub/b.txt"))

        // Rename one file: re-pointed, not re-chunked
        try FileManager.default.moveItem(atPath: ws.path("docs/c.html"), toPath: ws.path("docs/sub/renamed.html"))
        report = try ingest(store, [ws.docs])
        #expect((report.added, report.renamed, report.removed, report.chunks) == (0, 1, 0, 0))
        #expect(try store.searchBM25("caching", limit: 5).first?.document == ws.path("docs/sub/renamed.html"))

        // Delete one file: its documents go (unless --no-prune)
        try FileManager.default.removeItem(atPath: ws.path("docs/a.md"))
        report = try ingest(store, [ws.docs], prune: false)
        #expect(report.removed == 0)
        #expect(try store.documents().count == 3)
        report = try ingest(store, [ws.docs])
        #expect(report.removed == 1)
        #expect(try store.searchBM25("quantization", limit: 5).isEmpty)
        #expect(try store.integrityProblems() == [])
    }

    @Test func nonASCIIFolderNamesPruneAndRename() throws {
        let ws = try Workspace()
        let store = try SQLiteStore()
        try ws.write("docs/dökümanlar/ä.md", "Erster Text über Quantisierung.")
        try ws.write("docs/dökümanlar/b.md", "Zweiter Text über Destillation.")
        _ = try ingest(store, [ws.docs])
        try FileManager.default.moveItem(atPath: ws.path("docs/dökümanlar/ä.md"), toPath: ws.path("docs/dökümanlar/ö.md"))
        try FileManager.default.removeItem(atPath: ws.path("docs/dökümanlar/b.md"))
        let report = try ingest(store, [ws.docs])
        #expect((report.renamed, report.removed) == (1, 1))
        #expect(try store.documents().map(\.path) == [ws.path("docs/dökümanlar/ö.md")])
        #expect(try store.documents(under: ws.path("docs/dökümanlar")).count == 1)
    }

    @Test func jsonlRecordsAreIncrementalOneByOne() throws {
        let ws = try Workspace()
        let store = try SQLiteStore()
        let file = try ws.write("corpus.jsonl", """
            {"_id":"1","title":"One","text":"First record about pruning."}
            {"_id":"2","title":"Two","text":"Second record about distillation."}
            {"_id":"3","title":"Three","text":"Third record about ensembles."}
            """)
        var report = try ingest(store, [file])
        #expect(report.added == 3)
        try ws.write("corpus.jsonl", """
            {"_id":"1","title":"One","text":"First record about pruning."}
            {"_id":"3","title":"Three","text":"Third record about voting ensembles."}
            {"_id":"4","title":"Four","text":"Fourth record about BLEU."}
            """)
        report = try ingest(store, [file])
        #expect((report.added, report.updated, report.unchanged, report.removed) == (1, 1, 1, 1))
        #expect(try store.documents().map(\.path) == ["\(file)#1", "\(file)#3", "\(file)#4"])
        #expect(try store.searchBM25("distillation", limit: 5).isEmpty)
        #expect(try store.chunks(documentPath: "\(file)#3").first?.heading == "Three")
    }

    @Test func badInputIsReportedAndTheRestStillIngests() throws {
        let ws = try Workspace()
        let store = try SQLiteStore()
        try ws.write("docs/good.md", "Good content about evaluation.")
        try ws.write("docs/binary.txt", "abc\u{0}def")
        try ws.write("docs/photo.jpg", "not read")
        // A file that cannot be read, even by root: a link to /proc/self/mem (reads fail with EIO).
        let unreadable = ws.path("docs/unreadable.txt")
        if geteuid() == 0 {
            try FileManager.default.createSymbolicLink(atPath: unreadable, withDestinationPath: "/proc/self/mem")
        } else {
            try ws.write("docs/unreadable.txt", "secret")
            chmod(unreadable, 0)
        }
        let report = try ingest(store, [ws.docs, ws.path("does-not-exist")])
        #expect(report.added == 1)
        let reasons = Dictionary(uniqueKeysWithValues: report.skipped.map { ($0.path, $0.reason) })
        #expect(reasons[ws.path("does-not-exist")] == "no such file or folder")
        #expect(reasons[ws.path("docs/binary.txt")]?.contains("binary") == true)
        #expect(reasons[ws.path("docs/photo.jpg")] == "unsupported file type '.jpg'")
        // As root the link leads out of the folder, which is refused before any read.
        #expect(reasons[unreadable]?.contains(geteuid() == 0 ? "outside the folders being ingested" : "cannot read") == true)
        #expect(report.ingestedAnything)
    }

    @Test func aFolderWithNothingReadableIngestsNothing() throws {
        let ws = try Workspace()
        try ws.write("docs/a.png", "x")
        let report = try ingest(try SQLiteStore(), [ws.docs])
        #expect(!report.ingestedAnything)
        #expect(report.skipped.count == 1)
    }

    @Test func symlinkLoopsAreFollowedOnce() throws {
        let ws = try Workspace()
        try ws.write("docs/a.md", "Loop test document.")
        try FileManager.default.createSymbolicLink(atPath: ws.path("docs/loop"), withDestinationPath: ws.docs)
        let report = try ingest(try SQLiteStore(), [ws.docs])
        #expect(report.added == 1)
    }

    /// Links are followed only to places inside the ingested folders, and only regular files
    /// are read: a link to a secret elsewhere, a link to a folder elsewhere and a FIFO named
    /// `*.txt` (whose read once blocked the ingest forever) are skipped with their reason;
    /// sizes are the targets'.
    @Test func linksStayInsideTheFoldersAndOnlyRegularFilesAreRead() throws {
        let ws = try Workspace()
        try ws.write("docs/a.md", "Inside the folder.")
        try ws.write("docs/sub/b.md", "Also inside, reached through a link.")
        let secret = try ws.write("elsewhere/secret.md", "Outside the folder: never ingested.")
        try FileManager.default.createSymbolicLink(atPath: ws.path("docs/secret.md"), withDestinationPath: secret)
        try FileManager.default.createSymbolicLink(atPath: ws.path("docs/away"), withDestinationPath: ws.path("elsewhere"))
        try FileManager.default.createSymbolicLink(atPath: ws.path("docs/inner.md"), withDestinationPath: ws.path("docs/sub/b.md"))
        try FileManager.default.createSymbolicLink(atPath: ws.path("docs/c.md"), withDestinationPath: ws.path("docs/sub/b.md"))
        #expect(mkfifo(ws.path("docs/pipe.txt"), 0o644) == 0)
        let store = try SQLiteStore()
        let report = try ingest(store, [ws.docs])
        let reasons = Dictionary(uniqueKeysWithValues: report.skipped.map { ($0.path, $0.reason) })
        #expect(reasons[ws.path("docs/secret.md")]?.contains("outside the folders being ingested") == true)
        #expect(reasons[ws.path("docs/away")]?.contains("outside the folders being ingested") == true)
        #expect(reasons[ws.path("docs/pipe.txt")]?.contains("not a regular file (a FIFO)") == true)
        let documents = try store.documents(under: ws.root.path).map(\.path)
        #expect(documents.count == 2 && !documents.contains { $0.hasSuffix("secret.md") }, "\(documents)")
        // An explicitly named file is the user's choice, link or not.
        #expect(try ingest(store, [ws.path("docs/secret.md")], prune: false).added == 1)
    }

    /// A disk that fills during a large file (SQLite's max_page_count plays the disk) stops
    /// the run with a clear error; it was reported as that one file skipped, and the run went
    /// on. The index is as it was before.
    @Test func aFullDiskStopsTheIngestAndChangesNothing() throws {
        let ws = try Workspace()
        try ws.write("docs/small.md", "A small document that fits.")
        var text = ""
        for p in 0..<3_000 { text += "Paragraph \(p) talks about caches, batches and the sizes of both in some detail.\n\n" }
        try ws.write("docs/zbig.txt", text)
        let store = try SQLiteStore(path: ws.path("index.sqlite"))
        _ = try ingest(store, [ws.path("docs/small.md")])
        let before = try store.documents().map(\.path)
        let pages = try store.write { db in try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0 }
        try store.write { db in try db.execute(sql: "PRAGMA max_page_count = \(pages + 8)") }
        var options = Ingestor.Options()
        options.streamingThreshold = 1_000
        options.blockSize = 4_096
        #expect { try Ingestor(store: store).run(paths: [ws.docs], options: options) } throws: {
            ($0 as? RAGError)?.message.contains("disk full") == true
        }
        #expect(try store.documents().map(\.path) == before)
    }

    @Test func includeAndExcludeGlobs() throws {
        let ws = try Workspace()
        try ws.write("docs/a.md", "A.")
        try ws.write("docs/b.txt", "B.")
        try ws.write("docs/drafts/c.md", "C.")
        let store = try SQLiteStore()
        var options = Ingestor.Options()
        options.include = ["*.md"]
        options.exclude = ["drafts/*"]
        let report = try Ingestor(store: store).run(paths: [ws.docs], options: options)
        #expect(report.added == 1)
        #expect(try store.documents().map(\.path) == [ws.path("docs/a.md")])
    }

    /// The hashing twin, counting the texts it is asked to embed.
    final class CountingEmbedder: Embedder, @unchecked Sendable {
        let inner = HashingEmbedder()
        private let lock = NSLock()
        private(set) var texts: [String] = []
        var dimensions: Int { inner.dimensions }
        var name: String { inner.name }
        var maxTokens: Int { inner.maxTokens }
        var tokenCounter: any TokenCounter { inner.tokenCounter }
        func embed(_ texts: [String]) -> [[Float]] {
            lock.withLock { self.texts += texts }
            return inner.embed(texts)
        }
        func embedCountingTokens(_ texts: [String]) -> (vectors: [[Float]], tokens: Int) { (embed(texts), 0) }
    }

    @Test func identicalChunksAreEmbeddedOnceAndEveryChunkGetsItsVector() throws {
        // 40 files, 20 distinct texts: each text twice, in files far apart (other batches).
        let ws = try Workspace()
        for i in 0..<40 { try ws.write("docs/f\(String(format: "%02d", i)).txt", "Note number \(i % 20) about caches and batching.") }
        let store = try SQLiteStore()
        let embedder = CountingEmbedder()
        let report = try Ingestor(store: store, embedder: embedder).run(paths: [ws.docs])
        #expect(report.added == 40 && report.chunks == 40)
        #expect(embedder.texts.count == 20 && Set(embedder.texts).count == 20)
        let stats = try store.stats()
        #expect(stats.vectors == 40 && stats.chunks == 40)
        #expect(report.stages.embed >= 0 && report.stages.write > 0)
    }

    @Test(.enabled(if: ModelFiles.haveEmbedder, "needs the embedding model (make models)")) func embeddedIngestStoresAVectorPerChunkAndSearchesByMeaning() throws {
        let ws = try Workspace()
        let store = try SQLiteStore()
        let embedder = try SentenceEmbedder()
        try ws.write("docs/kv.md", "# KV cache\n\nThe cache keeps keys and values of earlier tokens so they are not recomputed.")
        try ws.write("docs/q.md", "# Quantization\n\nWeights stored in four bits take an eighth of the memory of floats.")
        try ws.write("docs/long.md", "# " + String(repeating: "very long heading ", count: 60) + "\n\n" + String(repeating: "Tokens and more tokens. ", count: 120))
        let report = try Ingestor(store: store, embedder: embedder).run(paths: [ws.docs])
        #expect(report.added == 3)
        let stats = try store.stats()
        #expect(stats.vectors == stats.chunks && stats.embedder == "all-MiniLM-L6-v2-\(SentenceEmbedder.defaultPrecision.rawValue)/384")
        #expect(try store.integrityProblems() == [])
        // Chunks are counted with the embedder's own tokenizer: none exceeds the window.
        for document in try store.documents() {
            for chunk in try store.chunks(documentPath: document.path) {
                #expect(chunk.tokenCount <= 200 && embedder.tokenizer.encode(chunk.text).ids.count <= 256)
            }
        }
        let retriever = Retriever(store: store, embedder: embedder)
        #expect(try retriever.search("how much smaller are low-precision parameters", mode: .dense, topK: 1).first?.document == ws.path("docs/q.md"))
        #expect(try retriever.search("recomputing attention for previous tokens", mode: .hybrid, topK: 1).first?.document == ws.path("docs/kv.md"))
        // Re-ingesting with a changed file replaces its vectors too.
        try ws.write("docs/q.md", "# Quantization\n\nEight-bit integers replace floats.")
        _ = try Ingestor(store: store, embedder: embedder).run(paths: [ws.docs])
        #expect(try store.integrityProblems() == [])
        #expect(try store.stats().vectors == store.stats().chunks)
    }

    @Test func largeTextFilesGoBlockByBlockWithTheSameChunks() throws {
        // Given a text file of numbered sentences in paragraphs, ingested whole and in 4 KB blocks
        let ws = try Workspace()
        var text = "A long log\n\n"
        for p in 0..<150 {
            text += (0..<6).map { "Paragraph \(p) sentence \($0) mentions cache and batch sizes." }.joined(separator: " ") + "\n\n"
        }
        let file = try ws.write("big/log.txt", text)
        let whole = try SQLiteStore(), blocks = try SQLiteStore()
        _ = try ingest(whole, [file])
        var options = Ingestor.Options()
        options.streamingThreshold = 1_000
        options.blockSize = 4_096
        let report = try Ingestor(store: blocks).run(paths: [file], options: options)
        #expect(report.added == 1)
        // Then every sentence is in a chunk, ordinals and spans run in order, and the chunking
        // differs from the whole-file one at most at the block seams.
        let chunks = try blocks.chunks(documentPath: file)
        #expect(chunks.map(\.ordinal) == Array(0..<chunks.count))
        #expect(zip(chunks, chunks.dropFirst()).allSatisfy { $0.start <= $1.start && $0.end <= $1.end })
        let joined = chunks.map(\.text).joined(separator: " ")
        let missing = (0..<150).filter { p in !(0..<6).allSatisfy { joined.contains("Paragraph \(p) sentence \($0) ") } }
        #expect(missing.isEmpty)
        let reference = try whole.chunks(documentPath: file)
        #expect(abs(chunks.count - reference.count) <= text.utf8.count / 4_096 + 1)
        #expect(try blocks.documents().first?.title == "A long log")
        // and a second run skips it unchanged; a changed file is replaced whole
        #expect(try Ingestor(store: blocks).run(paths: [file], options: options).unchanged == 1)
        try ws.write("big/log.txt", text + "One more paragraph at the end.\n")
        let again = try Ingestor(store: blocks).run(paths: [file], options: options)
        #expect(again.updated == 1)
        #expect(try blocks.searchBM25("more paragraph end", limit: 1).first?.document == file)
        #expect(try blocks.integrityProblems() == [])
    }

    @Test func reciprocalRankFusion() {
        let a = ChunkID(rawValue: 1), b = ChunkID(rawValue: 2), c = ChunkID(rawValue: 3)
        let fused = Fusion.reciprocalRank([[a, b, c], [c, a]], k: 60)
        #expect(fused.map(\.0) == [a, c, b])
        #expect(abs(fused[0].1 - (1.0 / 61 + 1.0 / 62)) < 1e-12)
        #expect(abs(fused[1].1 - (1.0 / 63 + 1.0 / 61)) < 1e-12)
        // Weights scale each list's contribution: with the first list at 0 the second decides.
        let weighted = Fusion.reciprocalRank([[a, b, c], [c, a]], k: 60, weights: [0, 1])
        #expect(weighted.prefix(2).map(\.0) == [c, a] && weighted[2].1 == 0)
        #expect(abs(Fusion.reciprocalRank([[a], [a]], weights: [2, 0.5])[0].1 - 2.5 / 61) < 1e-12)
    }

    /// Min-max fusion: each list's scores to [0, 1] by its own range, then the weighted mean;
    /// a chunk one list misses gets 0 from it, a list of equal scores counts 1 for each.
    @Test func minMaxFusion() {
        let a = ChunkID(rawValue: 1), b = ChunkID(rawValue: 2), c = ChunkID(rawValue: 3)
        let dense = [(a, 0.9), (b, 0.5), (c, 0.1)], bm25 = [(c, 30.0), (a, 10.0)]
        let fused = Fusion.minMax([dense, bm25], weights: [0.55, 0.45])
        #expect(fused.map(\.0) == [a, c, b])
        #expect(abs(fused[0].1 - 0.55) < 1e-12)  // a: 1 dense, 0 BM25
        #expect(abs(fused[1].1 - 0.45) < 1e-12)  // c: 0 dense, 1 BM25
        #expect(abs(fused[2].1 - 0.55 * 0.5) < 1e-12)
        // BM25 weighted up, c comes first; weights are normalised, so 0.45/0.55 = 9/11.
        #expect(Fusion.minMax([dense, bm25], weights: [0.45, 0.55]).first?.0 == c)
        #expect(abs(Fusion.minMax([dense, bm25], weights: [5.5, 4.5])[0].1 - 0.55) < 1e-12)
        #expect(Fusion.minMax([[(b, 2.0)], []]).map(\.1) == [0.5])
    }

    /// Z-score fusion: dense 0.9, 0.5, 0.1 are z = +1.2247, 0, −1.2247; BM25 30, 10 are +1, −1;
    /// b, which BM25 misses, gets BM25's lowest (−1).
    @Test func zScoreFusion() {
        let a = ChunkID(rawValue: 1), b = ChunkID(rawValue: 2), c = ChunkID(rawValue: 3)
        let dense = [(a, 0.9), (b, 0.5), (c, 0.1)], bm25 = [(c, 30.0), (a, 10.0)]
        let fused = Fusion.zScore([dense, bm25], weights: [1, 1])
        let z = 1.5.squareRoot()
        #expect(fused.map(\.0) == [a, c, b])
        #expect(abs(fused[0].1 - (z - 1) / 2) < 1e-12 && abs(fused[1].1 - (1 - z) / 2) < 1e-12 && abs(fused[2].1 - -0.5) < 1e-12)
    }

    @Test func changingTheChunkBudgetRechunksEverything() throws {
        let ws = try Workspace()
        let store = try SQLiteStore()
        try ws.write("docs/a.md", String(repeating: "Sentence about memory bandwidth limits. ", count: 60))
        _ = try ingest(store, [ws.docs])
        let before = try store.stats().chunks
        var options = Ingestor.Options()
        options.chunker.tokenBudget = 40
        let report = try Ingestor(store: store).run(paths: [ws.docs], options: options)
        #expect(report.updated == 1)
        #expect(try store.stats().chunks > before)
        #expect(try store.stats().chunker.contains("\"token_budget\":40"))
    }
}
