import ArgumentParser
import Foundation
import RAGCore
import RAGEmbedding
import RAGKernels
import RAGIndex
import RAGStorage

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (run a release build).", subcommands: [EmbedBench.self, IndexOpenBench.self, LLMBench.self, BatchBench.self, KVBench.self, TechniquesBench.self, AskBench.self])
}

/// Same protocol as ../shared/anchors/embed_ort.py, so the two can be divided.
struct EmbedBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embedding throughput: sentences/s and tokens/s over a file, and one-query latency.")

    @OptionGroup var model: EmbedderOptions
    @Argument(help: "A file with one sentence per line.") var file: String
    @Option(help: "Sequences per encoder call.") var batch = 32
    @Option(help: "Threads (OpenBLAS and attention).") var threads = 2
    @Option(help: "Timed passes over the file (the median is reported).") var reps = 3
    @Option(help: "Also time this one text alone.") var query: String?
    @Option(help: "Calls for the query latency.") var queryReps = 200

    func run() async throws {
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw fail(RAGError(.notFound, "\(file): cannot read (\(error.localizedDescription))")) }
        let sentences = text.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        let loaded: SentenceEmbedder
        do { loaded = try model.load() } catch { throw fail(error) }
        let embedder = SentenceEmbedder(tokenizer: loaded.tokenizer, encoder: loaded.encoder, batchSize: batch)
        embedder.encoder.threads = threads
        // Warm-up, then timed passes (tokenise + encode + pool, all batches).
        _ = embedder.embed(Array(sentences.prefix(batch * 3)))
        var runs: [Double] = []
        var tokens = 0
        for _ in 0..<reps {
            let start = DispatchTime.now().uptimeNanoseconds
            let tokenized = embedder.tokenize(sentences).map(\.ids)
            _ = embedder.embed(tokenized: tokenized)
            runs.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            tokens = tokenized.reduce(0) { $0 + $1.count }
        }
        let median = runs.sorted()[runs.count / 2]
        var result: [String: Any] = [
            "runtime": "rag", "model": embedder.name, "threads": threads, "batch": batch, "kernels": CPUFeatures.kernels,
            "sentences": sentences.count, "tokens": tokens,
            "sentences_per_s": (Double(sentences.count) / median).rounded(places: 2),
            "tokens_per_s": (Double(tokens) / median).rounded(places: 1),
            "median_s": median.rounded(places: 4), "runs_s": runs.map { $0.rounded(places: 4) },
        ]
        if let query {
            for _ in 0..<20 { _ = embedder.embed([query]) }
            var times: [Double] = []
            for _ in 0..<queryReps {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = embedder.embed([query])
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            times.sort()
            result["query_tokens"] = embedder.tokenize([query])[0].ids.count
            result["query_latency_ms_p50"] = times[times.count / 2].rounded(places: 3)
            result["query_latency_ms_p90"] = times[times.count * 9 / 10].rounded(places: 3)
        }
        result["peak_rss_mib"] = peakRSSMiB().rounded(places: 1)
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

/// Peak resident set size of this process (VmHWM), MiB.
func peakRSSMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Double(line.split(separator: " ").dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
    }
    return 0
}

/// Builds a persisted index of synthetic unit vectors, then times opening it the way a new
/// process does (pages, vectors, checks) and reports its size against the raw vectors + links.
struct IndexOpenBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index-open", abstract: "Time opening a persisted vector index of N vectors; its size on disk.")

    @Option(help: "Vectors in the index.") var vectors = 100_000
    @Option(help: "Dimensions.") var dimensions = 384
    @Option(help: "Keep the index file here (default: a temporary file, removed); when it exists, only open it.") var keep: String?

    func run() async throws {
        do {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rag-open-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let path = keep ?? folder.appendingPathComponent("index.sqlite").path
            let exists = FileManager.default.fileExists(atPath: path)
            var store = try SQLiteStore(path: path)
            var state: UInt64 = 7
            func next() -> Float {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int(state >> 40) % 20_001 - 10_000) / 10_000
            }
            let centres = (0..<64).map { _ in (0..<dimensions).map { _ in next() } }
            let buildStart = DispatchTime.now().uptimeNanoseconds
            let perTransaction = 10_000
            var written = 0
            while written < vectors, !exists {
                let n = min(perTransaction, vectors - written)
                try store.transaction { tx in
                    let source = try tx.upsertSource(path: "synthetic-\(written)", format: .text, size: 1, mtime: 0, contentHash: "h")
                    let doc = try tx.insertDocument(LoadedDocument(path: "synthetic-\(written)", title: nil, format: .text, contentHash: "h", size: 1, sections: []), sourceID: source, mtime: 0)
                    for i in 0..<n {
                        var v = centres[(written + i) % 64].map { $0 + 0.5 * next() }
                        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                        for d in v.indices { v[d] /= norm }
                        try tx.insertChunk(ChunkDraft(ordinal: i, text: "c", start: 0, end: 1, tokenCount: 1, heading: ""), documentID: doc, vector: v)
                    }
                    try tx.setChunkCount(n, documentID: doc)
                }
                written += n
                if stderrIsTerminal { printError("built \(written)/\(vectors)") }
            }
            let buildSeconds = Double(DispatchTime.now().uptimeNanoseconds - buildStart) / 1e9
            try store.close()

            store = try SQLiteStore(path: path, mode: .mustExist)
            let openStart = DispatchTime.now().uptimeNanoseconds
            guard let graph = try store.graphForReading() else { throw RAGError(.storage, "no graph after building one") }
            let openSeconds = Double(DispatchTime.now().uptimeNanoseconds - openStart) / 1e9
            let q = centres[3]
            let searchStart = DispatchTime.now().uptimeNanoseconds
            _ = try store.nearest(q, k: 10, ef: 64)
            let searchMs = Double(DispatchTime.now().uptimeNanoseconds - searchStart) / 1e6
            try store.close()
            let fileBytes = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            let raw = vectors * dimensions * 4 + graph.linkCount * 4
            let result: [String: Any] = [
                "vectors": vectors, "dimensions": dimensions, "build_s": buildSeconds.rounded(places: 2),
                "open_s": openSeconds.rounded(places: 3), "first_search_ms": searchMs.rounded(places: 2),
                "file_mib": (Double(fileBytes) / 1_048_576).rounded(places: 1),
                "vectors_plus_links_mib": (Double(raw) / 1_048_576).rounded(places: 1),
                "size_ratio": (Double(fileBytes) / Double(raw)).rounded(places: 3),
                "peak_rss_mib": peakRSSMiB().rounded(places: 1),
            ]
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } catch {
            throw fail(error)
        }
    }
}
