internal import RAGCore

/// The graph's persistent form: a small state record plus pages of `slotsPerPage` slots, each a
/// BLOB with a checksum. A write touches only the pages of the slots it changed.
///
/// Page layout (little-endian): magic "RAGH", format, page number, slot count (UInt32 each);
/// then per slot its label (Int64) and level (Int32, −1 for a free slot), and for each level
/// 0…level a link count (Int32) and that many neighbour slots (Int32); last, an FNV-1a 64-bit
/// checksum of everything before it. Vectors are not in the pages: they are the chunks' own.
extension HNSWGraph {
    public static let pageFormat: UInt32 = 1
    public static let slotsPerPage = 256
    static let pageMagic: UInt32 = 0x4847_4152  // "RAGH"

    /// What is stored beside the pages.
    public struct State: Codable, Sendable, Equatable {
        public var format: UInt32
        public var space: VectorSpace
        public var dimensions: Int
        public var m: Int
        public var efConstruction: Int
        public var seed: UInt64
        public var entryPoint: Int32
        public var maxLevel: Int32
        public var slots: Int
        public var nodes: Int
        /// Bumped by every write, so a process holding the graph in memory knows it is stale.
        public var version: Int64

        public var parameters: Parameters { Parameters(m: m, efConstruction: efConstruction, seed: seed) }
    }

    public func state(version: Int64) -> State {
        State(format: Self.pageFormat, space: space, dimensions: dimensions, m: parameters.m,
              efConstruction: parameters.efConstruction, seed: parameters.seed, entryPoint: entryPoint,
              maxLevel: maxLevel, slots: slotCount, nodes: count, version: version)
    }

    public var pageCount: Int { (slotCount + Self.slotsPerPage - 1) / Self.slotsPerPage }

    /// The pages holding the given slots.
    public static func pages(of slots: Set<Int32>) -> Set<Int> { Set(slots.map { Int($0) / slotsPerPage }) }

    /// One page's bytes.
    public func encodePage(_ page: Int) -> [UInt8] {
        let start = page * Self.slotsPerPage, end = min(slotCount, start + Self.slotsPerPage)
        var out: [UInt8] = []
        out.reserveCapacity((end - start) * (16 + (m0 + 1) * 4))
        func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put32(Self.pageMagic)
        put32(Self.pageFormat)
        put32(UInt32(page))
        put32(UInt32(max(0, end - start)))
        for s in start..<max(start, end) {
            withUnsafeBytes(of: labels[s].littleEndian) { out.append(contentsOf: $0) }
            put32(UInt32(bitPattern: levels[s]))
            guard levels[s] >= 0 else { continue }
            for level in 0...levels[s] {
                let list = links(Int32(s), level: level)
                put32(UInt32(list.count))
                for n in list { put32(UInt32(bitPattern: n)) }
            }
        }
        let sum = Self.checksum(out[...])
        withUnsafeBytes(of: sum.littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// Rebuilds a graph's structure from its state and pages; its vectors follow with
    /// `restoreVector`. Throws a `corruptFile` error naming the first problem (bad checksum,
    /// missing page, a slot or link out of range, a broken structure).
    public static func decode(state: State, pages: [Int: [UInt8]]) throws -> HNSWGraph {
        guard state.format == pageFormat else {
            throw RAGError(.corruptFile, "HNSW format \(state.format), this rag writes \(pageFormat)")
        }
        var graph = HNSWGraph(dimensions: state.dimensions, space: state.space, parameters: state.parameters)
        let (m, m0) = (graph.m, graph.m0)
        graph.levels = [Int32](repeating: -1, count: state.slots)
        graph.labels = [Int64](repeating: 0, count: state.slots)
        graph.links0 = [Int32](repeating: 0, count: state.slots * (m0 + 1))
        graph.upper = [[Int32]](repeating: [], count: state.slots)
        graph.vectors = [Float](repeating: 0, count: state.slots * state.dimensions)
        graph.slotOfLabel.reserveCapacity(state.nodes)
        let expectedPages = (state.slots + slotsPerPage - 1) / slotsPerPage
        for page in 0..<expectedPages {
            guard let bytes = pages[page] else { throw RAGError(.corruptFile, "HNSW page \(page) is missing") }
            guard bytes.count >= 24, checksum(bytes[..<(bytes.count - 8)]) == read64(bytes, bytes.count - 8) else {
                throw RAGError(.corruptFile, "HNSW page \(page) is damaged (checksum)")
            }
            var at = 0
            func next32() throws -> UInt32 {
                guard at + 4 <= bytes.count - 8 else { throw RAGError(.corruptFile, "HNSW page \(page) is truncated") }
                defer { at += 4 }
                return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
            }
            guard try next32() == pageMagic, try next32() == pageFormat, try next32() == UInt32(page) else {
                throw RAGError(.corruptFile, "HNSW page \(page) has a wrong header")
            }
            let start = page * slotsPerPage
            let slots = Int(try next32())
            guard slots == min(slotsPerPage, state.slots - start) else {
                throw RAGError(.corruptFile, "HNSW page \(page) holds \(slots) slots, expected \(min(slotsPerPage, state.slots - start))")
            }
            for s in start..<start + slots {
                let label = Int64(bitPattern: UInt64(try next32()) | UInt64(try next32()) << 32)
                let level = Int32(bitPattern: try next32())
                guard level >= -1, level <= 30 else { throw RAGError(.corruptFile, "HNSW slot \(s) has level \(level)") }
                graph.levels[s] = level
                graph.labels[s] = label
                guard level >= 0 else {
                    graph.freeSlots.append(Int32(s))
                    continue
                }
                guard graph.slotOfLabel.updateValue(Int32(s), forKey: label) == nil else {
                    throw RAGError(.corruptFile, "HNSW label \(label) appears twice")
                }
                if level > 0 { graph.upper[s] = [Int32](repeating: 0, count: Int(level) * (m + 1)) }
                for l in 0...level {
                    let count = Int(try next32())
                    guard count <= (l == 0 ? m0 : m) else { throw RAGError(.corruptFile, "HNSW slot \(s) level \(l): \(count) links") }
                    let at = l == 0 ? s * (m0 + 1) : Int(l - 1) * (m + 1)
                    if l == 0 { graph.links0[at] = Int32(count) } else { graph.upper[s][at] = Int32(count) }
                    for i in 0..<count {
                        let n = Int32(bitPattern: try next32())
                        guard n >= 0, Int(n) < state.slots else { throw RAGError(.corruptFile, "HNSW slot \(s): link to slot \(n) out of range") }
                        if l == 0 { graph.links0[at + 1 + i] = n } else { graph.upper[s][at + 1 + i] = n }
                    }
                }
            }
        }
        graph.freeSlots.sort(by: >)
        graph.entryPoint = state.entryPoint
        graph.maxLevel = state.maxLevel
        graph.changedSlots = []
        guard graph.count == state.nodes else { throw RAGError(.corruptFile, "HNSW holds \(graph.count) nodes, its state says \(state.nodes)") }
        if let problem = graph.problems(limit: 1).first { throw RAGError(.corruptFile, "HNSW graph: \(problem)") }
        return graph
    }

    /// Puts a node's vector (little-endian f32 bytes) in place after `decode`; false when no
    /// node has that label or the size is not the index's.
    public mutating func restoreVector(label: Int64, bytes: UnsafeRawBufferPointer) -> Bool {
        guard let slot = slotOfLabel[label], bytes.count == dimensions * 4 else { return false }
        let d = dimensions, cosine = space == .cosine
        vectors.withUnsafeMutableBufferPointer { buffer in
            let target = buffer.baseAddress! + Int(slot) * d
            UnsafeMutableRawPointer(target).copyMemory(from: bytes.baseAddress!, byteCount: d * 4)
            if cosine { Distances.normalize(target, count: d) }
        }
        return true
    }

    static func read64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }

    /// FNV-1a, 64-bit.
    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01B3 }
        return hash
    }
}
