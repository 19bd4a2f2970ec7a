internal import RAGCore
internal import Foundation
internal import RAGKernels

/// A hierarchical navigable small-world graph (Malkov & Yashunin, 2016/2018) as a value type:
/// the vectors, the levels and the neighbour lists, and the algorithm over them. Copies share
/// storage until one of them is written (an index publishes a new copy after each commit, so a
/// search always sees one consistent graph).
///
/// Nodes live in slots: vectors and level-0 links are contiguous arrays indexed by slot; a
/// removed node's slot is reused. Labels (chunk ids) name nodes from outside.
public struct HNSWGraph: Sendable {
    public struct Parameters: Sendable, Equatable, Codable {
        /// Links per node on the upper levels; level 0 keeps up to `m0` = 2m.
        public var m: Int
        public var efConstruction: Int
        /// Levels and therefore the whole graph follow from (seed, labels, insertion order).
        public var seed: UInt64

        public init(m: Int = 16, efConstruction: Int = 200, seed: UInt64 = 100) {
            self.m = m
            self.efConstruction = efConstruction
            self.seed = seed
        }

        public var m0: Int { 2 * m }
        /// The level multiplier mL = 1 / ln(m).
        public var levelMultiplier: Double { 1 / log(Double(m)) }

        public func validated() throws -> Parameters {
            guard (2...256).contains(m) else { throw RAGError(.invalidInput, "HNSW m must be between 2 and 256 (got \(m))") }
            guard (1...10_000).contains(efConstruction) else {
                throw RAGError(.invalidInput, "HNSW efConstruction must be between 1 and 10000 (got \(efConstruction))")
            }
            return self
        }
    }

    public let dimensions: Int
    public let space: VectorSpace
    public let parameters: Parameters
    let m: Int, m0: Int

    /// (slots × dimensions), row-major; L2-normalised in the cosine space.
    var vectors: [Float] = []
    /// (slots × (m0 + 1)): a count, then up to m0 neighbour slots.
    var links0: [Int32] = []
    /// Per slot, levels 1…level: (level × (m + 1)), each a count then up to m slots.
    var upper: [[Int32]] = []
    /// Per slot; −1 marks a free slot.
    var levels: [Int32] = []
    var labels: [Int64] = []
    var slotOfLabel: [Int64: Int32] = [:]
    var freeSlots: [Int32] = []
    /// The node searches start from (one of the highest level), −1 when empty.
    public internal(set) var entryPoint: Int32 = -1
    public internal(set) var maxLevel: Int32 = -1
    /// Slots written since `takeChangedSlots()`: what a persistent index must write back.
    var changedSlots = Set<Int32>()

    public init(dimensions: Int, space: VectorSpace, parameters: Parameters = Parameters()) {
        precondition(dimensions > 0, "Programmer error: an index needs at least one dimension")
        self.dimensions = dimensions
        self.space = space
        self.parameters = parameters
        self.m = parameters.m
        self.m0 = parameters.m0
    }

    /// Live nodes.
    public var count: Int { slotOfLabel.count }
    /// Slots in use or free (the arrays' length).
    public var slotCount: Int { levels.count }
    public func contains(_ label: Int64) -> Bool { slotOfLabel[label] != nil }
    public var allLabels: [Int64] { Array(slotOfLabel.keys) }
    /// Neighbour links over all nodes and levels.
    public var linkCount: Int {
        var total = 0
        for s in levels.indices where levels[s] >= 0 {
            for level in 0...levels[s] { total += links(Int32(s), level: level).count }
        }
        return total
    }
    public var labelOfEntryPoint: Int64? { entryPoint >= 0 ? labels[Int(entryPoint)] : nil }

    /// The level a label's node gets: ⌊−ln(u)·mL⌋ with u drawn from a generator seeded by
    /// (seed, label), so a node has the same level whatever was inserted before it.
    func level(for label: Int64) -> Int32 {
        var state = parameters.seed ^ (UInt64(bitPattern: label) &* 0x9E37_79B9_7F4A_7C15)
        let bits = SplitMix64.next(&state)
        let u = (Double(bits >> 11) + 0.5) * 0x1p-53  // (0, 1)
        return Int32(min(30, Int(-log(u) * parameters.levelMultiplier)))
    }

    /// Inserts (or, for a label already present, replaces) one vector.
    public mutating func insert(_ vector: [Float], label: Int64, visited: VisitedSet) {
        precondition(vector.count == dimensions, "Programmer error: \(vector.count)-d vector into a \(dimensions)-d index")
        if slotOfLabel[label] != nil { remove([label]) }
        var v = vector
        if space == .cosine { Distances.normalize(&v) }
        let level = level(for: label)
        let slot = allocateSlot(label: label, level: level, vector: v)
        guard entryPoint >= 0 else {
            entryPoint = slot
            maxLevel = level
            return
        }
        switch (space, CPUFeatures.hasAVX512) {
        case (.cosine, false), (.innerProduct, false): link(slot, level: level, visited: visited, metric: InnerProductMetric.self)
        case (.cosine, true), (.innerProduct, true): link(slot, level: level, visited: visited, metric: InnerProductAVX512Metric.self)
        case (.l2, false): link(slot, level: level, visited: visited, metric: L2Metric.self)
        case (.l2, true): link(slot, level: level, visited: visited, metric: L2AVX512Metric.self)
        }
        if level > maxLevel {
            entryPoint = slot
            maxLevel = level
        }
    }

    private mutating func allocateSlot(label: Int64, level: Int32, vector: [Float]) -> Int32 {
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            let s = Int(slot)
            vectors.replaceSubrange(s * dimensions..<(s + 1) * dimensions, with: vector)
            levels[s] = level
            labels[s] = label
            links0[s * (m0 + 1)] = 0
        } else {
            slot = Int32(levels.count)
            vectors.append(contentsOf: vector)
            links0.append(contentsOf: repeatElement(0, count: m0 + 1))
            levels.append(level)
            labels.append(label)
            upper.append([])
        }
        upper[Int(slot)] = [Int32](repeating: 0, count: Int(level) * (m + 1))
        slotOfLabel[label] = slot
        changedSlots.insert(slot)
        return slot
    }

    /// The paper's INSERT after the node exists: greedy descent to its level, then on each
    /// level below a beam search of width efConstruction, heuristic selection of m neighbours
    /// and links both ways (shrinking a full neighbour list with the same heuristic).
    private mutating func link<M: Metric>(_ slot: Int32, level: Int32, visited: VisitedSet, metric: M.Type) {
        let query = Array(vectors[Int(slot) * dimensions..<(Int(slot) + 1) * dimensions])
        var entry = Candidate(distance: distance(query, entryPoint, metric), slot: entryPoint)
        var l = maxLevel
        while l > level {
            entry = greedyClosest(query, from: entry, level: l, metric: metric)
            l -= 1
        }
        l = min(level, maxLevel)
        while l >= 0 {
            let found = searchLayer(query, entries: [entry], ef: parameters.efConstruction, level: l, visited: visited, metric: metric)
                .filter { $0.slot != slot }
            let neighbours = selectNeighborsHeuristic(found, limit: m, metric: metric)
            setLinks(slot, level: l, neighbours.map(\.slot))
            let capacity = l == 0 ? m0 : m
            for n in neighbours { addLink(from: n.slot, to: slot, distance: n.distance, level: l, capacity: capacity, metric: metric) }
            if let nearest = found.first { entry = nearest }
            l -= 1
        }
    }

    private mutating func addLink<M: Metric>(from node: Int32, to new: Int32, distance d: Float, level: Int32, capacity: Int, metric: M.Type) {
        var current = links(node, level: level)
        if current.contains(new) { return }
        if current.count < capacity {
            current.append(new)
        } else {
            // Full: keep the best `capacity` of the old neighbours and the new one, chosen by the heuristic.
            var candidates = current.map { Candidate(distance: distance(node, $0, metric), slot: $0) }
            candidates.append(Candidate(distance: d, slot: new))
            candidates.sort()
            current = selectNeighborsHeuristic(candidates, limit: capacity, metric: metric).map(\.slot)
        }
        setLinks(node, level: level, current)
    }

    /// hnswlib's getNeighborsByHeuristic2: walking the candidates nearest first, keep one only if
    /// it is nearer to the base than to every neighbour kept so far (spreads links over directions).
    /// `candidates` must be sorted nearest first.
    func selectNeighborsHeuristic<M: Metric>(_ candidates: [Candidate], limit: Int, metric: M.Type) -> [Candidate] {
        if candidates.count <= limit { return candidates }
        var kept: [Candidate] = []
        kept.reserveCapacity(limit)
        vectors.withUnsafeBufferPointer { v in
            let base = v.baseAddress!
            for c in candidates {
                let cv = base + Int(c.slot) * dimensions
                var good = true
                for k in kept where M.distance(cv, base + Int(k.slot) * dimensions, dimensions) < c.distance {
                    good = false
                    break
                }
                if good {
                    kept.append(c)
                    if kept.count == limit { break }
                }
            }
        }
        return kept
    }

    // MARK: Links

    /// The neighbour slots of `slot` on `level`.
    func links(_ slot: Int32, level: Int32) -> [Int32] {
        if level == 0 {
            let start = Int(slot) * (m0 + 1)
            return Array(links0[start + 1..<start + 1 + Int(links0[start])])
        }
        let list = upper[Int(slot)], start = Int(level - 1) * (m + 1)
        return Array(list[start + 1..<start + 1 + Int(list[start])])
    }

    mutating func setLinks(_ slot: Int32, level: Int32, _ neighbours: [Int32]) {
        changedSlots.insert(slot)
        if level == 0 {
            precondition(neighbours.count <= m0)
            let start = Int(slot) * (m0 + 1)
            links0[start] = Int32(neighbours.count)
            for (i, n) in neighbours.enumerated() { links0[start + 1 + i] = n }
            return
        }
        precondition(neighbours.count <= m)
        let start = Int(level - 1) * (m + 1)
        upper[Int(slot)][start] = Int32(neighbours.count)
        for (i, n) in neighbours.enumerated() { upper[Int(slot)][start + 1 + i] = n }
    }

    // MARK: Distances

    func distance<M: Metric>(_ query: [Float], _ slot: Int32, _: M.Type) -> Float {
        query.withUnsafeBufferPointer { q in
            vectors.withUnsafeBufferPointer { v in M.distance(q.baseAddress!, v.baseAddress! + Int(slot) * dimensions, dimensions) }
        }
    }

    func distance<M: Metric>(_ a: Int32, _ b: Int32, _: M.Type) -> Float {
        vectors.withUnsafeBufferPointer { v in
            M.distance(v.baseAddress! + Int(a) * dimensions, v.baseAddress! + Int(b) * dimensions, dimensions)
        }
    }

    /// Hands out (and forgets) the slots written since the last call.
    public mutating func takeChangedSlots() -> Set<Int32> {
        defer { changedSlots = [] }
        return changedSlots
    }
}

/// Steele, Lea & Flood's SplitMix64: a tiny, well-mixed, seedable generator.
public enum SplitMix64 {
    public static func next(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
