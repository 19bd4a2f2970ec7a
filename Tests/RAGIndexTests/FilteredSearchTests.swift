import RAGIndex
import RAGTesting
import Testing

/// A metadata filter applied during the HNSW search: only passing nodes come back, and the
/// graph walk finds the exact filtered neighbours as often as an unfiltered search finds the
/// unfiltered ones, down to narrow filters.
@Suite(.onTestThreads) struct FilteredSearchTests {
    @Test(arguments: [0.5, 0.1, 0.01])
    func filteredRecallAgainstExactFilteredSearch(selectivity: Double) {
        let data = clusteredVectors(count: 3_000, dimensions: 48, seed: 7)
        let queries = clusteredVectors(count: 100, dimensions: 48, seed: 8)
        var graph = HNSWGraph(dimensions: 48, space: .cosine, parameters: .init(m: 12, efConstruction: 100))
        let visited = VisitedSet()
        for (i, v) in data.enumerated() { graph.insert(v, label: Int64(i), visited: visited) }
        // Every label whose hash falls under the selectivity passes.
        let passing = Set((0..<Int64(data.count)).filter { label in
            Double((UInt64(bitPattern: label) &* 0x9E37_79B9_7F4A_7C15) >> 11) / Double(1 << 53) < selectivity
        })
        var oracle = BruteForceIndex(dimensions: 48, space: .cosine)
        for label in passing { oracle.insert(data[Int(label)], label: label) }
        let k = min(10, passing.count)
        for plan in HNSWGraph.FilteredPlan.allCases {
            var hits = 0
            for q in queries {
                let found = graph.search(q, k: k, ef: 64, visited: visited, among: passing, plan: plan)
                #expect(found.count == k, "\(plan) found \(found.count) of \(k)")
                #expect(found.allSatisfy { passing.contains($0.label) }, "\(plan) returned a label the filter refuses")
                #expect(found.map(\.distance) == found.map(\.distance).sorted())
                let exact = Set(oracle.search(q, k: k).map(\.label))
                hits += found.filter { exact.contains($0.label) }.count
            }
            let recall = Double(hits) / Double(k * queries.count)
            #expect(recall >= (plan == .exact ? 1 : 0.95), "\(plan) at \(selectivity): recall@10 \(recall)")
        }
        #expect(graph.search(queries[0], k: 10, ef: 64, visited: visited, among: Set<Int64>()).isEmpty)
        #expect(graph.search(queries[0], k: 10, ef: 64, visited: visited, among: [999_999]).isEmpty)  // not in the graph
    }
}
