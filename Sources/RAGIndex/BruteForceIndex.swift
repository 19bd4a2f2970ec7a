/// The exact oracle with `HNSWGraph`'s interface: every search scans every vector.
public struct BruteForceIndex: Sendable {
    public let dimensions: Int
    public let space: VectorSpace
    /// (count × dimensions), row-major; L2-normalised in the cosine space.
    var vectors: [Float] = []
    var labels: [Int64] = []
    var position: [Int64: Int] = [:]

    public init(dimensions: Int, space: VectorSpace) {
        self.dimensions = dimensions
        self.space = space
    }

    public var count: Int { labels.count }

    public mutating func insert(_ vector: [Float], label: Int64) {
        precondition(vector.count == dimensions, "Programmer error: vector dimensions")
        remove([label])
        var v = vector
        if space == .cosine { Distances.normalize(&v) }
        position[label] = labels.count
        labels.append(label)
        vectors.append(contentsOf: v)
    }

    public mutating func remove(_ toRemove: some Sequence<Int64>) {
        for label in toRemove {
            guard let i = position.removeValue(forKey: label) else { continue }
            let last = labels.count - 1
            if i != last {
                labels[i] = labels[last]
                position[labels[i]] = i
                for d in 0..<dimensions { vectors[i * dimensions + d] = vectors[last * dimensions + d] }
            }
            labels.removeLast()
            vectors.removeLast(dimensions)
        }
    }

    /// The `k` nearest labels, nearest first (ties by label).
    public func search(_ query: [Float], k: Int) -> [Neighbor] {
        var q = query
        if space == .cosine { Distances.normalize(&q) }
        let heap = CandidateHeap(farthestFirst: true, capacity: k + 1)
        q.withUnsafeBufferPointer { qb in
            vectors.withUnsafeBufferPointer { vb in
                for i in 0..<labels.count {
                    let d = space.distance(qb.baseAddress!, vb.baseAddress! + i * dimensions, count: dimensions)
                    if heap.count < k || d < heap.top.distance {
                        heap.push(Candidate(distance: d, slot: Int32(i)))
                        if heap.count > k { heap.pop() }
                    }
                }
            }
        }
        return heap.sorted().map { Neighbor(label: labels[Int($0.slot)], distance: $0.distance) }
    }
}
