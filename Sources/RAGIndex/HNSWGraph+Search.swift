internal import CPrefetch
internal import RAGKernels

/// A search result: the label (chunk id) and its distance to the query (smaller is nearer).
public struct Neighbor: Sendable, Equatable {
    public var label: Int64
    public var distance: Float
    public init(label: Int64, distance: Float) {
        self.label = label
        self.distance = distance
    }
}

extension HNSWGraph {
    /// The `k` nearest labels to `query`, nearest first: greedy descent through the upper levels,
    /// then a beam search of width max(ef, k) on level 0.
    public func search(_ query: [Float], k: Int, ef: Int, visited: VisitedSet) -> [Neighbor] {
        precondition(query.count == dimensions, "Programmer error: \(query.count)-d query on a \(dimensions)-d index")
        guard entryPoint >= 0, k > 0 else { return [] }
        var q = query
        if space == .cosine { Distances.normalize(&q) }
        let wide = CPUFeatures.hasAVX512
        let found: [Candidate] = switch (space, wide) {
        case (.cosine, false), (.innerProduct, false): search(q, ef: max(ef, k), visited: visited, metric: InnerProductMetric.self)
        case (.cosine, true), (.innerProduct, true): search(q, ef: max(ef, k), visited: visited, metric: InnerProductAVX512Metric.self)
        case (.l2, false): search(q, ef: max(ef, k), visited: visited, metric: L2Metric.self)
        case (.l2, true): search(q, ef: max(ef, k), visited: visited, metric: L2AVX512Metric.self)
        }
        return found.prefix(k).map { Neighbor(label: labels[Int($0.slot)], distance: $0.distance) }
    }

    private func search<M: Metric>(_ query: [Float], ef: Int, visited: VisitedSet, metric: M.Type) -> [Candidate] {
        var entry = Candidate(distance: distance(query, entryPoint, metric), slot: entryPoint)
        var level = maxLevel
        while level > 0 {
            entry = greedyClosest(query, from: entry, level: level, metric: metric)
            level -= 1
        }
        return searchLayer(query, entries: [entry], ef: ef, level: 0, visited: visited, metric: metric)
    }

    /// Walks to ever nearer neighbours on one level until none is nearer (ef = 1).
    func greedyClosest<M: Metric>(_ query: [Float], from start: Candidate, level: Int32, metric: M.Type) -> Candidate {
        var best = start
        var changed = true
        while changed {
            changed = false
            for n in links(best.slot, level: level) {
                let d = distance(query, n, metric)
                if d < best.distance {
                    best = Candidate(distance: d, slot: n)
                    changed = true
                }
            }
        }
        return best
    }

    /// The paper's SEARCH-LAYER: the `ef` nearest nodes reachable from `entries` on `level`,
    /// nearest first. Candidates are expanded nearest first; the search stops when the nearest
    /// unexpanded candidate is farther than the farthest of `ef` results. With a filter, results
    /// are the nodes it passes, and the search goes on until `ef` of them are found (or every
    /// reachable node is seen): the beam widens by itself as the filter narrows.
    func searchLayer<M: Metric, F: SlotFilter>(
        _ query: [Float], entries: [Candidate], ef: Int, level: Int32, visited: VisitedSet, metric: M.Type, filter: F = AllSlots()
    ) -> [Candidate] {
        visited.reset(slots: levels.count)
        let epoch = visited.epoch, marks = visited.marks
        let candidates = CandidateHeap(farthestFirst: false, capacity: ef * 2)
        let results = CandidateHeap(farthestFirst: true, capacity: ef + 1)
        let dims = dimensions, stride0 = m0 + 1
        return query.withUnsafeBufferPointer { qBuffer in
            vectors.withUnsafeBufferPointer { vBuffer in
                links0.withUnsafeBufferPointer { lBuffer in
                    do {
                        let q = qBuffer.baseAddress!, v = vBuffer.baseAddress!, l0 = lBuffer.baseAddress!
                        for e in entries where marks[Int(e.slot)] != epoch {
                            marks[Int(e.slot)] = epoch
                            candidates.push(e)
                            if filter.passes(e.slot) { results.push(e) }
                        }
                        while results.count > ef { results.pop() }
                        var bound = results.isEmpty ? Float.infinity : results.top.distance
                        while !candidates.isEmpty {
                            let c = candidates.pop()
                            if c.distance > bound, results.count >= ef { break }
                            @inline(__always) func visit(_ n: Int32) {
                                if marks[Int(n)] == epoch { return }
                                marks[Int(n)] = epoch
                                let d = M.distance(q, v + Int(n) * dims, dims)
                                if results.count < ef || d < bound {
                                    // A node the filter refuses still routes the search; only
                                    // those it passes are results (and set the bound).
                                    candidates.push(Candidate(distance: d, slot: n))
                                    if filter.passes(n) {
                                        results.push(Candidate(distance: d, slot: n))
                                        if results.count > ef { results.pop() }
                                        bound = results.top.distance
                                    }
                                }
                            }
                            if level == 0 {
                                // As hnswlib does: while one neighbour's distance is computed, the
                                // next one's vector is already on its way into the cache.
                                let neighbours = l0 + Int(c.slot) * stride0
                                let count = Int(neighbours[0])
                                if count > 0 { rag_prefetch2(v + Int(neighbours[1]) * dims) }
                                if !candidates.isEmpty { rag_prefetch(l0 + Int(candidates.top.slot) * stride0) }
                                for i in 0..<count {
                                    if i + 1 < count {
                                        let next = Int(neighbours[2 + i])
                                        rag_prefetch(marks + next)
                                        rag_prefetch2(v + next * dims)
                                    }
                                    visit(neighbours[1 + i])
                                }
                            } else {
                                for n in links(c.slot, level: level) { visit(n) }
                            }
                        }
                        return results.sorted()
                    }
                }
            }
        }
    }
}
