internal import RAGKernels

extension HNSWGraph {
    /// Removes nodes for good — no tombstones. Every node that linked to a removed one gets a
    /// new neighbour list, chosen by the heuristic from its remaining neighbours and the removed
    /// nodes' neighbours (the candidates a search through the removed node would have reached);
    /// the slots are freed for reuse. One pass over all lists per call: remove in batches.
    public mutating func remove(_ labelsToRemove: some Sequence<Int64>) {
        var removed = Set<Int32>()
        for label in labelsToRemove {
            if let slot = slotOfLabel[label] { removed.insert(slot) }
        }
        guard !removed.isEmpty else { return }
        if removed.count == count {
            let keep = (dimensions, space, parameters)
            self = HNSWGraph(dimensions: keep.0, space: keep.1, parameters: keep.2)
            return
        }
        switch (space, CPUFeatures.hasAVX512) {
        case (.cosine, false), (.innerProduct, false): repairLinks(around: removed, metric: InnerProductMetric.self)
        case (.cosine, true), (.innerProduct, true): repairLinks(around: removed, metric: InnerProductAVX512Metric.self)
        case (.l2, false): repairLinks(around: removed, metric: L2Metric.self)
        case (.l2, true): repairLinks(around: removed, metric: L2AVX512Metric.self)
        }
        for slot in removed.sorted(by: >) {
            let s = Int(slot)
            slotOfLabel[labels[s]] = nil
            labels[s] = 0
            levels[s] = -1
            links0[s * (m0 + 1)] = 0
            upper[s] = []
            freeSlots.append(slot)
            changedSlots.insert(slot)
        }
        freeSlots.sort(by: >)  // the lowest free slot is reused first, in memory as after a reload
        if removed.contains(entryPoint) {
            // The new entry point: a remaining node of the highest level (the lowest slot among them).
            var best: Int32 = -1
            for s in levels.indices where levels[s] >= 0 && (best < 0 || levels[s] > levels[Int(best)]) { best = Int32(s) }
            entryPoint = best
            maxLevel = best >= 0 ? levels[Int(best)] : -1
        }
    }

    private mutating func repairLinks<M: Metric>(around removed: Set<Int32>, metric: M.Type) {
        for s in levels.indices where levels[s] >= 0 && !removed.contains(Int32(s)) {
            let slot = Int32(s)
            for level in 0...levels[s] {
                let current = links(slot, level: level)
                guard current.contains(where: removed.contains) else { continue }
                var seen = Set<Int32>([slot])
                var candidates: [Candidate] = []
                for n in current {
                    if removed.contains(n) {
                        for nn in links(n, level: level) where !removed.contains(nn) && seen.insert(nn).inserted {
                            candidates.append(Candidate(distance: distance(slot, nn, metric), slot: nn))
                        }
                    } else if seen.insert(n).inserted {
                        candidates.append(Candidate(distance: distance(slot, n, metric), slot: n))
                    }
                }
                candidates.sort()
                let capacity = level == 0 ? m0 : m
                setLinks(slot, level: level, selectNeighborsHeuristic(candidates, limit: capacity, metric: metric).map(\.slot))
            }
        }
    }
}
