import ArgumentParser
import Foundation
import RAGCore
import RAG
import RAGIndex
import RAGStorage

struct IndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "The vector index (HNSW) inside the index file: check, rebuild, benchmark.",
        subcommands: [IndexInfo.self, IndexCheck.self, IndexRebuild.self, IndexBench.self])
}

struct IndexInfo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "What the vector index holds and how it was built.")
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let info: GraphInfo?
        do { info = try store.open(mode: .mustExist).graphInfo() } catch { throw fail(error) }
        guard let info else {
            if json { print("null") } else { print("no vector index (the index holds no vectors; ingest without --no-embed)") }
            return
        }
        if json { printJSON(info) } else { print(describe(info)) }
    }
}

func describe(_ info: GraphInfo) -> String {
    // pgvector's index does not tell its levels.
    let levels = info.space.contains("pgvector") ? "" : "top level \(info.maxLevel), "
    return "HNSW: \(info.nodes) nodes (\(info.dimensions)-d, \(info.space)), m \(info.m), efConstruction \(info.efConstruction), \(levels)\(info.pages) pages (\(String(format: "%.1f", Double(info.pageBytes) / 1_048_576)) MB)"
}

struct IndexCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the vector index: every chunk has a vector and a node, every neighbour exists, levels are consistent. Exits 1 on any problem.")
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let problems: [String]
        let info: GraphInfo?
        do {
            let store = try store.open(mode: .mustExist)
            problems = try store.graphProblems()
            info = try store.graphInfo()
        } catch {
            throw fail(error)
        }
        if json {
            struct Output: Encodable { var ok: Bool; var problems: [String]; var nodes: Int }
            printJSON(Output(ok: problems.isEmpty, problems: problems, nodes: info?.nodes ?? 0))
        } else if problems.isEmpty {
            print("ok: " + (info.map(describe) ?? "no vectors, no vector index"))
        } else {
            for problem in problems { printError("problem: \(problem)") }
            printError("the vector index has \(problems.count) problem(s); `rag index rebuild` rebuilds it from the stored vectors")
        }
        if !problems.isEmpty { throw ExitCode.failure }
    }
}

struct IndexRebuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild", abstract: "Rebuild the vector index from the stored vectors (optionally with new parameters).")
    @OptionGroup var store: StoreOptions
    @Option(help: "Links per node (default: as built).") var m: Int?
    @Option(help: "Build beam width (default: as built).") var efConstruction: Int?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let info: GraphInfo?
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            info = try makeService(db: store.db, .mustExist).rebuildIndex(m: m, efConstruction: efConstruction)
        } catch {
            throw fail(error)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if json {
            struct Output: Encodable { var seconds: Double; var index: GraphInfo? }
            printJSON(Output(seconds: seconds.rounded(places: 3), index: info))
        } else {
            print((info.map(describe) ?? "no vectors: nothing to index") + String(format: "; rebuilt in %.2f s", seconds))
        }
    }
}

/// Same protocol as ../shared/anchors/hnswlib_bench.py, so the two can be divided.
struct IndexBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Build an HNSW graph in memory (one thread) and measure recall@k and queries/s per ef.")

    @Option(help: "Base vectors (.fvecs).") var base: String
    @Option(help: "Query vectors (.fvecs).") var query: String
    @Option(help: "Exact neighbours of each query (.ivecs, 0-based base rows, nearest first).") var groundtruth: String
    @Option(help: "cosine, ip or l2.") var space: String = "cosine"
    @Option(help: "Links per node (level 0 keeps 2m).") var m = 16
    @Option(help: "Beam width while building.") var efConstruction = 200
    @Option(help: "Beam widths to search with, comma-separated.") var ef = "10,20,40,80,160"
    @Option(help: "Neighbours per query.") var k = 10
    @Option(help: "Timed passes per ef (the median is reported).") var reps = 3
    @Option(help: "Level seed.") var seed: UInt64 = 100
    @Option(help: ArgumentHelp("Also search with filters passing these fractions of the base (random labels), comma-separated: recall against the exact filtered neighbours, per plan.", valueName: "fractions")) var filter: String?
    @Flag(help: "One JSON object per line.") var json = false

    func run() async throws {
        do {
            guard let space = VectorSpace(rawValue: space) else {
                throw RAGError(.invalidInput, "--space \(space): expected cosine, ip or l2")
            }
            let efs = try ef.split(separator: ",").map { part -> Int in
                guard let value = Int(part.trimmingCharacters(in: .whitespaces)), value > 0 else {
                    throw RAGError(.invalidInput, "--ef \(ef): expected positive integers separated by commas")
                }
                return value
            }
            let parameters = try HNSWGraph.Parameters(m: m, efConstruction: efConstruction, seed: seed).validated()
            let (d, baseRows) = try VectorFile.readFloats(base)
            let (qd, queries) = try VectorFile.readFloats(query)
            let (_, truth) = try VectorFile.readInts(groundtruth)
            guard qd == d else { throw RAGError(.invalidInput, "\(query): \(qd)-d queries for \(d)-d base vectors") }
            guard truth.count == queries.count, truth.allSatisfy({ $0.count >= k }) else {
                throw RAGError(.invalidInput, "\(groundtruth): needs \(queries.count) rows of at least k = \(k) neighbours")
            }
            if !json { printError("\(URL(fileURLWithPath: base).deletingLastPathComponent().lastPathComponent): \(baseRows.count) × \(d)-d base, \(queries.count) queries; \(space.rawValue), m \(m), efConstruction \(efConstruction), 1 thread") }

            var graph = HNSWGraph(dimensions: d, space: space, parameters: parameters)
            let visited = VisitedSet(capacity: baseRows.count)
            let start = DispatchTime.now().uptimeNanoseconds
            for (i, row) in baseRows.enumerated() { graph.insert(row, label: Int64(i), visited: visited) }
            let buildSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            _ = graph.takeChangedSlots()
            if !json { printError(String(format: "built in %.3f s", buildSeconds)) }

            for ef in efs {
                for q in queries.prefix(50) { _ = graph.search(q, k: k, ef: ef, visited: visited) }
                var runs: [Double] = []
                var hits = 0
                for rep in 0..<reps {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    var results: [[Neighbor]] = []
                    results.reserveCapacity(queries.count)
                    for q in queries { results.append(graph.search(q, k: k, ef: ef, visited: visited)) }
                    runs.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                    if rep == 0 {
                        for (i, found) in results.enumerated() {
                            let exact = Set(truth[i].prefix(k).map(Int64.init))
                            hits += found.filter { exact.contains($0.label) }.count
                        }
                    }
                }
                let median = runs.sorted()[runs.count / 2]
                let recall = Double(hits) / Double(k * queries.count)
                let qps = Double(queries.count) / median
                if json {
                    printJSON(IndexBenchLine(
                        runtime: "rag", data: URL(fileURLWithPath: base).deletingLastPathComponent().lastPathComponent,
                        space: space.rawValue, nBase: baseRows.count, nQuery: queries.count, dim: d, m: m,
                        efConstruction: efConstruction, buildS: buildSeconds.rounded(places: 4), k: k, ef: ef,
                        recall: recall.rounded(places: 4), qps: qps.rounded(places: 1), threads: 1,
                        peakRssMib: peakRSSMiB().rounded(places: 1)))
                } else {
                    print(String(format: "ef %4d: recall@%d %.4f, %8.0f queries/s", ef, k, recall, qps))
                }
            }
            if let filter {
                try filteredBench(graph, baseRows: baseRows, queries: queries, efs: efs, fractions: filter, visited: visited, buildSeconds: buildSeconds)
            }
        } catch {
            throw fail(error)
        }
    }

    /// Filtered search: for each fraction, a random set of base rows passes (seeded); the exact
    /// filtered neighbours come from a brute-force scan of them; each plan is timed per ef.
    func filteredBench(
        _ graph: HNSWGraph, baseRows: [[Float]], queries: [[Float]], efs: [Int], fractions: String, visited: VisitedSet, buildSeconds: Double
    ) throws {
        let data = URL(fileURLWithPath: base).deletingLastPathComponent().lastPathComponent
        for part in fractions.split(separator: ",") {
            guard let fraction = Double(part.trimmingCharacters(in: .whitespaces)), fraction > 0, fraction <= 1 else {
                throw RAGError(.invalidInput, "--filter \(fractions): expected fractions in (0, 1] separated by commas")
            }
            var state = seed &+ UInt64(fraction * 1e6)
            let passing = Set((0..<Int64(baseRows.count)).filter { _ in Double(SplitMix64.next(&state) >> 11) / Double(1 << 53) < fraction })
            var oracle = BruteForceIndex(dimensions: graph.dimensions, space: graph.space)
            for label in passing { oracle.insert(baseRows[Int(label)], label: label) }
            let truth = queries.map { Set(oracle.search($0, k: k).map(\.label)) }
            let wanted = truth.reduce(0) { $0 + $1.count }
            for ef in efs {
                for plan in [HNSWGraph.FilteredPlan.traversal, .exact] {
                    var runs: [Double] = []
                    var hits = 0
                    for rep in 0..<reps {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        let results = queries.map { graph.search($0, k: k, ef: ef, visited: visited, among: passing, plan: plan) }
                        runs.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                        if rep == 0 { hits = zip(results, truth).reduce(0) { sum, pair in sum + pair.0.filter { pair.1.contains($0.label) }.count } }
                    }
                    let qps = Double(queries.count) / runs.sorted()[runs.count / 2]
                    let recall = wanted == 0 ? 1 : Double(hits) / Double(wanted)
                    let chosen = graph.plan(passing: passing.count, ef: max(ef, k)) == plan
                    if json {
                        printJSON(FilteredBenchLine(
                            runtime: "rag", data: data, nBase: baseRows.count, passing: passing.count, fraction: fraction, plan: plan.rawValue,
                            chosen: chosen, k: k, ef: ef, recall: recall.rounded(places: 4), qps: qps.rounded(places: 1)))
                    } else {
                        print(String(
                            format: "filter %5.1f%% (%d pass), %@%@, ef %4d: recall@%d %.4f, %8.0f queries/s", fraction * 100, passing.count,
                            plan.rawValue, chosen ? " (chosen)" : "", ef, k, recall, qps))
                    }
                }
            }
        }
    }
}

struct FilteredBenchLine: Encodable {
    var runtime: String, data: String
    var nBase: Int, passing: Int, fraction: Double, plan: String, chosen: Bool, k: Int, ef: Int, recall: Double, qps: Double
}

struct IndexBenchLine: Encodable {
    var runtime: String, data: String, space: String
    var nBase: Int, nQuery: Int, dim: Int, m: Int, efConstruction: Int
    var buildS: Double, k: Int, ef: Int, recall: Double, qps: Double, threads: Int, peakRssMib: Double
}
