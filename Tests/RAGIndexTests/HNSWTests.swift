import RAGIndex
import RAGTesting
import Testing

/// Vectors near a random 6-dimensional subspace (real embeddings have a low intrinsic
/// dimension; uniform noise in 48 dimensions has no near neighbours worth the name).
func clusteredVectors(count: Int, dimensions: Int, seed: UInt64) -> [[Float]] {
    var state: UInt64 = 12_345
    func next() -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int(state >> 40) % 20_001 - 10_000) / 10_000
    }
    let basis = (0..<6).map { _ in (0..<dimensions).map { _ in next() } }  // same for every seed
    state = seed
    return (0..<count).map { _ in
        let z = (0..<6).map { _ in next() }
        return (0..<dimensions).map { d in (0..<6).reduce(Float(0)) { $0 + z[$1] * basis[$1][d] } + 0.02 * next() }
    }
}

func recall(_ graph: HNSWGraph, _ oracle: BruteForceIndex, queries: [[Float]], k: Int, ef: Int) -> Double {
    let visited = VisitedSet()
    var hits = 0
    for q in queries {
        let exact = Set(oracle.search(q, k: k).map(\.label))
        hits += graph.search(q, k: k, ef: ef, visited: visited).filter { exact.contains($0.label) }.count
    }
    return Double(hits) / Double(k * queries.count)
}

@Suite(.onTestThreads) struct HNSWTests {
    @Test(arguments: VectorSpace.allCases)
    func recallAgainstTheBruteForceOracle(space: VectorSpace) {
        let data = clusteredVectors(count: 3_000, dimensions: 48, seed: 7)
        let queries = clusteredVectors(count: 100, dimensions: 48, seed: 8)
        var graph = HNSWGraph(dimensions: 48, space: space, parameters: .init(m: 12, efConstruction: 100))
        var oracle = BruteForceIndex(dimensions: 48, space: space)
        let visited = VisitedSet()
        for (i, v) in data.enumerated() {
            graph.insert(v, label: Int64(i + 1), visited: visited)
            oracle.insert(v, label: Int64(i + 1))
        }
        #expect(graph.count == 3_000)
        #expect(graph.problems().isEmpty, "\(graph.problems())")
        let r = recall(graph, oracle, queries: queries, k: 10, ef: 64)
        #expect(r >= 0.95, "recall@10 \(r) in \(space)")
        // The nearest of a stored vector is itself, at distance ~0 (cosine and l2).
        if space != .innerProduct {
            let hit = graph.search(data[123], k: 1, ef: 32, visited: visited)
            #expect(hit.first?.label == 124)
            #expect(abs(hit.first?.distance ?? 1) < 1e-4)
        }
    }

    @Test func sameInputSameGraph() {
        let data = clusteredVectors(count: 500, dimensions: 16, seed: 3)
        func build() -> [[Neighbor]] {
            var graph = HNSWGraph(dimensions: 16, space: .l2)
            let visited = VisitedSet()
            for (i, v) in data.enumerated() { graph.insert(v, label: Int64(i), visited: visited) }
            return data.prefix(20).map { graph.search($0, k: 5, ef: 10, visited: visited) }
        }
        #expect(build() == build())
    }

    @Test func removalsRepairNeighboursAndFreeSlots() {
        let data = clusteredVectors(count: 2_000, dimensions: 32, seed: 11)
        let queries = clusteredVectors(count: 80, dimensions: 32, seed: 12)
        var graph = HNSWGraph(dimensions: 32, space: .cosine, parameters: .init(m: 8, efConstruction: 80))
        var oracle = BruteForceIndex(dimensions: 32, space: .cosine)
        let visited = VisitedSet()
        for (i, v) in data.enumerated() {
            graph.insert(v, label: Int64(i), visited: visited)
            oracle.insert(v, label: Int64(i))
        }
        let slotsBefore = graph.slotCount
        // Remove every third node, the entry point's among them.
        var gone = Set(stride(from: 0, to: 2_000, by: 3).map(Int64.init))
        gone.insert(graph.labelOfEntryPoint!)
        graph.remove(gone)
        oracle.remove(gone)
        #expect(graph.count == 2_000 - gone.count)
        #expect(graph.problems().isEmpty, "\(graph.problems())")
        for q in queries {
            #expect(graph.search(q, k: 10, ef: 50, visited: visited).allSatisfy { !gone.contains($0.label) })
        }
        #expect(recall(graph, oracle, queries: queries, k: 10, ef: 50) >= 0.95)
        // Re-inserting reuses the freed slots: the graph does not grow.
        for label in gone { graph.insert(data[Int(label)], label: label, visited: visited) }
        oracle = BruteForceIndex(dimensions: 32, space: .cosine)
        for (i, v) in data.enumerated() { oracle.insert(v, label: Int64(i)) }
        #expect(graph.slotCount == slotsBefore)
        #expect(graph.problems().isEmpty)
        #expect(recall(graph, oracle, queries: queries, k: 10, ef: 50) >= 0.95)
        // Removing everything leaves an empty, usable graph.
        graph.remove(Array(0..<2_000).map(Int64.init))
        #expect(graph.count == 0 && graph.search(queries[0], k: 3, ef: 10, visited: visited).isEmpty)
        graph.insert(data[0], label: 42, visited: visited)
        #expect(graph.search(data[0], k: 1, ef: 10, visited: visited).map(\.label) == [42])
    }
}
