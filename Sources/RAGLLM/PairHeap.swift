/// Candidate BPE merges, the lowest rank first and the leftmost first on ties: a binary min-heap.
struct PairHeap {
    struct Pair {
        var rank: Int32
        /// Position of the pair's left symbol; the versions of both symbols when it was queued.
        var left: Int
        var leftVersion: Int
        var rightVersion: Int

        func precedes(_ other: Pair) -> Bool { rank != other.rank ? rank < other.rank : left < other.left }
    }

    private var items: [Pair] = []

    mutating func push(_ pair: Pair) {
        items.append(pair)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].precedes(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Pair? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return first }
        items[0] = last
        var parent = 0
        while true {
            let l = 2 * parent + 1, r = l + 1
            var smallest = parent
            if l < items.count, items[l].precedes(items[smallest]) { smallest = l }
            if r < items.count, items[r].precedes(items[smallest]) { smallest = r }
            guard smallest != parent else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }
}
