import ArgumentParser
import Foundation
import RAGCore
import RAGEmbedding
import RAGKernels

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (run a release build).", subcommands: [EmbedBench.self])
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
            "sentences_per_s": (Double(sentences.count) / median * 100).rounded() / 100,
            "tokens_per_s": (Double(tokens) / median * 10).rounded() / 10,
            "median_s": (median * 10000).rounded() / 10000, "runs_s": runs.map { ($0 * 10000).rounded() / 10000 },
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
            result["query_latency_ms_p50"] = (times[times.count / 2] * 1000).rounded() / 1000
            result["query_latency_ms_p90"] = (times[times.count * 9 / 10] * 1000).rounded() / 1000
        }
        result["peak_rss_mib"] = (peakRSSMiB() * 10).rounded() / 10
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
