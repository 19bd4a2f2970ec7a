extension HNSWGraph {
    /// Structural problems, empty when the graph is sound: every neighbour is a live node of at
    /// least that level, no list is over capacity or links to itself, labels map both ways, and the
    /// entry point is a node of the highest level.
    public func problems(limit: Int = 20) -> [String] {
        var found: [String] = []
        func note(_ message: String) { if found.count < limit { found.append(message) } }
        var live = 0, top: Int32 = -1
        var stamp = [Int32](repeating: -1, count: levels.count)  // list number that last saw a slot
        var listNumber: Int32 = 0
        func checkList(_ slot: Int, _ level: Int32, _ list: UnsafeBufferPointer<Int32>) {
            listNumber += 1
            if list.count > (level == 0 ? m0 : m) { note("node \(labels[slot]) level \(level): \(list.count) links, over capacity") }
            for n in list {
                if Int(n) == slot { note("node \(labels[slot]) level \(level): links to itself") }
                guard n >= 0, Int(n) < levels.count, levels[Int(n)] >= 0 else {
                    note("node \(labels[slot]) level \(level): neighbour slot \(n) is not a node")
                    continue
                }
                if levels[Int(n)] < level { note("node \(labels[slot]) level \(level): neighbour \(labels[Int(n)]) has only level \(levels[Int(n)])") }
                if stamp[Int(n)] == listNumber { note("node \(labels[slot]) level \(level): a neighbour is listed twice") }
                stamp[Int(n)] = listNumber
            }
        }
        links0.withUnsafeBufferPointer { l0 in
            for s in levels.indices where levels[s] >= 0 {
                live += 1
                top = max(top, levels[s])
                if slotOfLabel[labels[s]] != Int32(s) { note("slot \(s): label \(labels[s]) does not map back to it") }
                let start = s * (m0 + 1)
                let count = Int(l0[start])
                guard count <= m0 else {
                    note("node \(labels[s]) level 0: \(count) links, over capacity")
                    continue
                }
                checkList(s, 0, UnsafeBufferPointer(rebasing: l0[start + 1..<start + 1 + count]))
                guard levels[s] > 0 else { continue }
                upper[s].withUnsafeBufferPointer { u in
                    for level in 1...levels[s] {
                        let at = Int(level - 1) * (m + 1)
                        let count = min(Int(u[at]), m)
                        checkList(s, level, UnsafeBufferPointer(rebasing: u[at + 1..<at + 1 + count]))
                    }
                }
            }
        }
        if live != slotOfLabel.count { note("\(live) live slots but \(slotOfLabel.count) labels") }
        if live != levels.count - freeSlots.count { note("\(live) live slots, \(freeSlots.count) free, \(levels.count) in all") }
        if live == 0 {
            if entryPoint != -1 { note("empty graph with an entry point") }
        } else if entryPoint < 0 || Int(entryPoint) >= levels.count || levels[Int(entryPoint)] != top || maxLevel != top {
            note("entry point \(entryPoint) (max level \(maxLevel)) is not a node of the top level \(top)")
        }
        return found
    }
}
