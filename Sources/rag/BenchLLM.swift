import ArgumentParser
import Foundation
import RAGCore
import RAGKernels
import RAGLLM

/// Same protocol as ../shared/anchors/llama_bench.py, so the two can be divided: a 64-token
/// warm-up; then per rep a fresh cache, prefill = wall time of evaluating the whole prompt (in
/// batches of 512), decode = wall time of `--n-gen` steps of (argmax → evaluate that token),
/// end-of-generation ignored. Medians over `--reps`; then one decode step of 1 and of 4 tokens,
/// the cost of the worker threads' barriers, the weight bytes a token reads ÷ its decode time
/// (GB/s) and the machine's streaming-read bandwidth (`MemoryBandwidth`). One JSON line.
struct LLMBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "llm", abstract: "Prefill and decode speed of the generator.")

    @OptionGroup var generator: GeneratorOptions
    @Option(name: .customLong("prompt-file"), help: "The prompt (read byte for byte, special tokens parsed).") var promptFile: String
    @Option(name: .customLong("n-gen"), help: "Decode steps.") var nGen = 128
    @Option(help: "Threads.") var threads = 2
    @Option(help: "Repetitions (medians are reported).") var reps = 3
    @Option(name: .customLong("n-ctx"), help: "Context size.") var nCtx = 2048
    @Option(help: ArgumentHelp("Attention: tiled (online softmax over blocks of positions) or standard (llama.cpp's without flash attention; f16 cache only).", valueName: "tiled|standard"))
    var attention = Session.Attention.tiled

    func run() async throws {
        do {
            guard let data = FileManager.default.contents(atPath: promptFile) else {
                throw RAGError(.notFound, "\(promptFile): cannot read the prompt file")
            }
            let start = Date()
            let model = try generator.load()
            let loadSeconds = Date().timeIntervalSince(start)
            let ids = model.tokenizer.encode(String(decoding: data, as: UTF8.self))
            guard ids.count + nGen <= nCtx else {
                throw RAGError(.invalidInput, "prompt (\(ids.count) tokens) + --n-gen \(nGen) exceeds --n-ctx \(nCtx)")
            }
            guard attention == .tiled || generator.kvType == .f16 else {
                throw RAGError(.invalidInput, "standard attention reads an f16 cache only: use --attention tiled with --kv-type \(generator.kvType.rawValue)")
            }
            let session = Session(model: model, contextLength: nCtx, threads: threads, kvType: generator.kvType, attention: attention)
            try session.evaluate(Array(ids.prefix(64)))
            var prefill: [Double] = [], decode: [Double] = [], stepMax: [Double] = []
            var firstIds: [Int32] = []
            for _ in 0..<reps {
                session.truncate(to: 0)
                let t0 = Date()
                try session.evaluate(ids)
                prefill.append(Date().timeIntervalSince(t0))
                var generated: [Int32] = []
                var worst = 0.0
                let t1 = Date()
                for _ in 0..<nGen {
                    let next = Sampler.argmax(session.logits)
                    generated.append(next)
                    let s = Date()
                    try session.evaluate([next])
                    worst = max(worst, Date().timeIntervalSince(s))
                }
                decode.append(Date().timeIntervalSince(t1))
                stepMax.append((worst * 1000).rounded(places: 2))
                firstIds = Array(generated.prefix(8))
            }
            func median(_ x: [Double]) -> Double { x.sorted()[x.count / 2] }
            // One decode step of 1 token and of 4 tokens at the same position (the multi-row
            // kernels: one pass over the weights serves the 4), and the threads' barriers.
            let base = session.position
            var one: [Double] = [], four: [Double] = []
            for _ in 0..<max(5, reps * 4) {
                let next = Sampler.argmax(session.logits)
                var s = Date()
                try session.evaluate([next])
                one.append(Date().timeIntervalSince(s))
                session.truncate(to: base)
                s = Date()
                try session.evaluate([next, next, next, next])
                four.append(Date().timeIntervalSince(s))
                session.truncate(to: base)
            }
            let jobsBefore = session.synchronisations
            try session.evaluate([Sampler.argmax(session.logits)])
            let jobsPerToken = session.synchronisations - jobsBefore
            let barrier = session.barrierSeconds()
            let peakRSS = peakRSSMiB()  // before the bandwidth buffer
            let bandwidth = MemoryBandwidth.measure(threads: threads)
            let result: [String: Any] = [
                "runtime": "rag", "model": (generator.path as NSString).lastPathComponent, "threads": threads,
                "kernels": CPUFeatures.kernels, "n_prompt": ids.count, "n_gen": nGen, "kv_type": generator.kvType.rawValue, "attention": attention.rawValue,
                "prefill_tok_s": (Double(ids.count) / median(prefill)).rounded(places: 2),
                "decode_tok_s": (Double(nGen) / median(decode)).rounded(places: 2),
                "prefill_runs_s": prefill.map { $0.rounded(places: 4) }, "decode_runs_s": decode.map { $0.rounded(places: 4) },
                "decode_step_max_ms": stepMax, "reps": reps, "first_gen_ids": firstIds.map(Int.init),
                "load_s": loadSeconds.rounded(places: 3), "weight_mib_per_token": Double(model.weightBytesPerToken) / 1_048_576,
                "peak_rss_mib": peakRSS.rounded(places: 1),
                "step1_ms": (median(one) * 1000).rounded(places: 2), "step4_ms": (median(four) * 1000).rounded(places: 2),
                "step4_over_step1": (median(four) / median(one)).rounded(places: 2),
                "barriers_per_token": jobsPerToken, "barrier_us": (barrier * 1e6).rounded(places: 2),
                "sync_ms_per_token": (Double(jobsPerToken) * barrier * 1000).rounded(places: 2),
                "decode_gb_s": (Double(model.weightBytesPerToken) * Double(nGen) / median(decode) / 1e9).rounded(places: 2),
                "memory_read_gb_s": (bandwidth / 1e9).rounded(places: 2),
            ]
            let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: json, as: UTF8.self))
        } catch {
            throw fail(error)
        }
    }
}
