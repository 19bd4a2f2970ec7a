internal import RAGKernels

/// Which nodes a search may return (every node routes it).
protocol SlotFilter {
    func passes(_ slot: Int32) -> Bool
}

/// No filter: the unfiltered search, specialised to nothing.
struct AllSlots: SlotFilter {
    @inline(__always) func passes(_ slot: Int32) -> Bool { true }
}

/// The slots whose label is in a set: looked up only for the nodes a search reaches, so its cost
/// follows the walk, not the number of labels that pass.
struct PassingLabels: SlotFilter {
    let labels: UnsafePointer<Int64>
    let passing: Set<Int64>
    @inline(__always) func passes(_ slot: Int32) -> Bool { passing.contains(labels[Int(slot)]) }
}

extension HNSWGraph {
    /// How a filtered search finds its neighbours.
    public enum FilteredPlan: String, Sendable, CaseIterable {
        /// The graph, walked through every node, results only from nodes that pass: the beam
        /// widens until `ef` of them are found or the graph is exhausted.
        case traversal
        /// Every node that passes, measured: exact, and cheaper when few pass.
        case exact
    }

    /// The plan `search(_:k:ef:visited:among:plan:)` takes when given none: exact when the
    /// passing nodes are few enough that measuring each (one distance and one lookup, ~80 ns at
    /// 384-d) costs less than the walk, which costs an unfiltered search's over the fraction that
    /// passes: passing² ≤ ef · m · N / 2. Measured on scifact-minilm (5,183 nodes, m 16, ef 64):
    /// at 50 % passing the walk answers 7,359 queries/s and the scan 4,945; at 10 %, 2,250 and
    /// 25,898; the line falls at 1,629 passing nodes. On 10 M nodes it falls at 1.3 %.
    public func plan(passing: Int, ef: Int) -> FilteredPlan {
        Double(passing) * Double(passing) <= Double(max(ef, 1)) * Double(m) * Double(max(count, 1)) / 2 ? .exact : .traversal
    }

    /// The `k` nearest nodes among the labels `passing` (labels not in the graph are ignored),
    /// nearest first: a metadata filter applied during the search, not after it, so a narrow
    /// filter still gets its `k` results.
    public func search(_ query: [Float], k: Int, ef: Int, visited: VisitedSet, among passing: Set<Int64>, plan: FilteredPlan? = nil) -> [Neighbor] {
        precondition(query.count == dimensions, "Programmer error: \(query.count)-d query on a \(dimensions)-d index")
        guard entryPoint >= 0, k > 0, !passing.isEmpty else { return [] }
        var q = query
        if space == .cosine { Distances.normalize(&q) }
        let beam = max(ef, k)
        let found: [Candidate]
        switch plan ?? self.plan(passing: passing.count, ef: beam) {
        case .exact:
            found = exact(q, k: k, slots: passing.compactMap { slotOfLabel[$0] })
        case .traversal:
            found = labels.withUnsafeBufferPointer { labels in
                let filter = PassingLabels(labels: labels.baseAddress!, passing: passing)
                return switch space {
                case .cosine, .innerProduct: traverse(q, ef: beam, visited: visited, metric: InnerProductMetric.self, filter: filter)
                case .l2: traverse(q, ef: beam, visited: visited, metric: L2Metric.self, filter: filter)
                }
            }
        }
        return found.prefix(k).map { Neighbor(label: labels[Int($0.slot)], distance: $0.distance) }
    }

    private func traverse<M: Metric>(_ query: [Float], ef: Int, visited: VisitedSet, metric: M.Type, filter: PassingLabels) -> [Candidate] {
        var entry = Candidate(distance: distance(query, entryPoint, metric), slot: entryPoint)
        var level = maxLevel
        while level > 0 {
            entry = greedyClosest(query, from: entry, level: level, metric: metric)
            level -= 1
        }
        return searchLayer(query, entries: [entry], ef: ef, level: 0, visited: visited, metric: metric, filter: filter)
    }

    private func exact(_ query: [Float], k: Int, slots: [Int32]) -> [Candidate] {
        let heap = CandidateHeap(farthestFirst: true, capacity: k + 1)
        query.withUnsafeBufferPointer { q in
            vectors.withUnsafeBufferPointer { v in
                for slot in slots {
                    let d = space.distance(q.baseAddress!, v.baseAddress! + Int(slot) * dimensions, count: dimensions)
                    if heap.count < k || d < heap.top.distance {
                        heap.push(Candidate(distance: d, slot: slot))
                        if heap.count > k { heap.pop() }
                    }
                }
            }
        }
        return heap.sorted()
    }
}
