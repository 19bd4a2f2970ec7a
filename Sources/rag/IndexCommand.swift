import ArgumentParser
import Foundation
import RAGCore
import RAGIndex

struct IndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "The vector index (HNSW) inside the index file: check, rebuild, benchmark.",
        subcommands: [IndexBench.self])
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
                        efConstruction: efConstruction, buildS: (buildSeconds * 10_000).rounded() / 10_000, k: k, ef: ef,
                        recall: (recall * 10_000).rounded() / 10_000, qps: (qps * 10).rounded() / 10, threads: 1,
                        peakRssMib: (peakRSSMiB() * 10).rounded() / 10))
                } else {
                    print(String(format: "ef %4d: recall@%d %.4f, %8.0f queries/s", ef, k, recall, qps))
                }
            }
        } catch {
            throw fail(error)
        }
    }
}

struct IndexBenchLine: Encodable {
    var runtime: String, data: String, space: String
    var nBase: Int, nQuery: Int, dim: Int, m: Int, efConstruction: Int
    var buildS: Double, k: Int, ef: Int, recall: Double, qps: Double, threads: Int, peakRssMib: Double
}
