extension HNSWGraph {
    /// Structural problems, empty when the graph is sound: every neighbour is a live node of at
    /// least that level, no list is over capacity or links to itself, labels map both ways, and the
    /// entry point is a node of the highest level.
    public func problems(limit: Int = 20) -> [String] {
        var found: [String] = []
        func note(_ message: String) { if found.count < limit { found.append(message) } }
        var live = 0, top: Int32 = -1
        for s in levels.indices where levels[s] >= 0 {
            live += 1
            let slot = Int32(s)
            top = max(top, levels[s])
            if slotOfLabel[labels[s]] != slot { note("slot \(s): label \(labels[s]) does not map back to it") }
            for level in 0...levels[s] {
                let list = links(slot, level: level)
                if list.count > (level == 0 ? m0 : m) { note("node \(labels[s]) level \(level): \(list.count) links, over capacity") }
                if Set(list).count != list.count { note("node \(labels[s]) level \(level): a neighbour is listed twice") }
                for n in list {
                    if n == slot { note("node \(labels[s]) level \(level): links to itself") }
                    if n < 0 || Int(n) >= levels.count || levels[Int(n)] < 0 {
                        note("node \(labels[s]) level \(level): neighbour slot \(n) is not a node")
                    } else if levels[Int(n)] < level {
                        note("node \(labels[s]) level \(level): neighbour \(labels[Int(n)]) has only level \(levels[Int(n)])")
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
