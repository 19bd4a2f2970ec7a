internal import Foundation
internal import GRDB
public import RAGCore
public import RAGIndex
internal import Synchronization

/// The graph a process keeps in memory between transactions, tagged with the stored version it
/// matches, and the parameters asked for when the graph is (re)built.
final class GraphCache: Sendable {
    private let cached = Mutex<(graph: HNSWGraph, version: Int64)?>(nil)
    private let requested = Mutex<HNSWGraph.Parameters?>(nil)
    /// Visited sets of finished searches, reused so a search does not allocate and clear one
    /// per query (they grow to the graph's size once).
    private let visitedSets = Mutex<[UnsafeTransferVisited]>([])

    struct UnsafeTransferVisited: @unchecked Sendable { let set: VisitedSet }

    func takeVisitedSet() -> VisitedSet { visitedSets.withLock { $0.popLast()?.set } ?? VisitedSet() }
    func returnVisitedSet(_ set: VisitedSet) { visitedSets.withLock { if $0.count < 8 { $0.append(UnsafeTransferVisited(set: set)) } } }

    /// The cached graph if it is at `version`; the cache is left empty (a writer owns it now).
    func take(version: Int64) -> HNSWGraph? {
        cached.withLock { entry in
            defer { entry = nil }
            return entry?.version == version ? entry?.graph : nil
        }
    }

    /// A copy of the cached graph if it is at `version` (copies share storage).
    func peek(version: Int64) -> HNSWGraph? {
        cached.withLock { $0?.version == version ? $0?.graph : nil }
    }

    func put(_ graph: HNSWGraph, version: Int64) { cached.withLock { $0 = (graph, version) } }
    func clear() { cached.withLock { $0 = nil } }

    var parameters: HNSWGraph.Parameters? {
        get { requested.withLock { $0 } }
        set { requested.withLock { $0 = newValue } }
    }
}

extension SQLiteStore {
    /// Parameters for a graph this process creates or rebuilds. When they differ from those of an
    /// existing graph, the next write rebuilds it from the stored vectors (and says so).
    public func setGraphParameters(_ parameters: HNSWGraph.Parameters) throws {
        graphCache.parameters = try parameters.validated()
    }

    /// The `k` chunks nearest to `query` through the HNSW graph, with their cosine similarity
    /// (1 − distance), nearest first. `ef` is the search beam (at least k).
    public func nearest(_ query: [Float], k: Int, ef: Int, filter: SearchFilter?) throws -> [(ChunkID, Double)] {
        guard let graph = try graphForReading() else { return [] }
        guard query.count == graph.dimensions else {
            throw RAGError(.invalidInput, "a \(query.count)-d query against a \(graph.dimensions)-d vector index; use the embedder the index was built with")
        }
        let passing = try filter.flatMap { $0.isEmpty ? nil : $0 }.map { filter in try read { try Self.passingChunks(filter, $0) } }
        let visited = graphCache.takeVisitedSet()
        defer { graphCache.returnVisitedSet(visited) }
        let found = if let passing {
            graph.search(query, k: k, ef: max(ef, k), visited: visited, among: passing)
        } else {
            graph.search(query, k: k, ef: max(ef, k), visited: visited)
        }
        return found.map { (ChunkID(rawValue: $0.label), Double(1 - $0.distance)) }
    }

    /// The graph as of the last commit (pending changes applied in memory), nil when the index
    /// holds no vectors. A damaged graph is rebuilt in memory from the vectors, announced on
    /// stderr, and kept in the cache like a stored one: once per process, not once per search
    /// (the next write stores it).
    public func graphForReading() throws -> HNSWGraph? {
        try read { db in
            let state = try Self.graphState(db)
            let pending = try Int.fetchOne(db, sql: "SELECT count(*) FROM vector_change") ?? 0
            if let state, pending == 0, let graph = graphCache.peek(version: state.version) { return graph }
            var graph: HNSWGraph?
            if let state {
                do {
                    graph = try loadGraph(db, state: state)
                } catch let error as RAGError where error.code == .corruptFile {
                    announce("\(error.message); rebuilding the vector index in memory from the stored vectors (the next write stores it)")
                    let rebuilt = try applyChanges(to: nil, db, all: true)
                    if pending == 0, let rebuilt { graphCache.put(rebuilt, version: state.version) }
                    return rebuilt
                }
            }
            graph = try applyChanges(to: graph, db, all: state == nil)
            if let state, pending == 0, let graph { graphCache.put(graph, version: state.version) }
            return graph
        }
    }

    /// Brings the stored graph up to date with the vectors written in this transaction (the
    /// `vector_change` rows the triggers left), inside the same transaction. Returns the graph
    /// and its new version for the cache, to be published after the commit.
    func syncGraph(_ db: Database) throws -> (HNSWGraph, Int64)? {
        let pending = try Int.fetchOne(db, sql: "SELECT count(*) FROM vector_change") ?? 0
        let state = try Self.graphState(db)
        var rebuild = false
        if let state, let requested = graphCache.parameters, requested != state.parameters {
            announce("vector index parameters change (m \(state.m) → \(requested.m), efConstruction \(state.efConstruction) → \(requested.efConstruction)): rebuilding it from the stored vectors")
            rebuild = true
        }
        guard pending > 0 || rebuild else { return nil }
        var graph: HNSWGraph?
        if let state, !rebuild {
            graph = graphCache.take(version: state.version)
            if graph == nil {
                do {
                    graph = try loadGraph(db, state: state)
                } catch let error as RAGError where error.code == .corruptFile {
                    announce("\(error.message); rebuilding the vector index from the stored vectors")
                    rebuild = true
                }
            }
        }
        graphCache.clear()
        if rebuild { graph = nil }
        graph = try applyChanges(to: graph, db, all: graph == nil)
        try db.execute(sql: "DELETE FROM vector_change")
        let version = (state?.version ?? 0) + 1
        guard var graph else {
            try db.execute(sql: "DELETE FROM hnsw_page")
            try db.execute(sql: "UPDATE index_state SET hnsw = '' WHERE id = 1")
            return nil
        }
        let changedSlots = graph.takeChangedSlots()
        let changed = rebuild || state == nil ? Set(0..<graph.pageCount) : HNSWGraph.pages(of: changedSlots)
        let statement = try db.cachedStatement(sql: "INSERT OR REPLACE INTO hnsw_page (page, data) VALUES (?, ?)")
        for page in changed.sorted() where page < graph.pageCount {
            try statement.execute(arguments: [page, Data(graph.encodePage(page))])
        }
        try db.execute(sql: "DELETE FROM hnsw_page WHERE page >= ?", arguments: [graph.pageCount])
        let json = String(decoding: try JSONEncoder().encode(graph.state(version: version)), as: UTF8.self)
        try db.execute(sql: "UPDATE index_state SET hnsw = ? WHERE id = 1", arguments: [json])
        return (graph, version)
    }

    /// Applies the pending vector changes to `graph` (or, with `all`, builds a new graph from
    /// every stored vector): removals first, then insertions in chunk-id order, so the same
    /// history gives the same graph.
    private func applyChanges(to graph: HNSWGraph?, _ db: Database, all: Bool) throws -> HNSWGraph? {
        var graph = graph
        if !all, graph != nil {
            let removed = try Int64.fetchAll(db, sql: "SELECT chunk_id FROM vector_change WHERE added = 0")
            graph!.remove(removed)
        }
        let sql = all
            ? "SELECT chunk_id, vector FROM chunk_vector ORDER BY chunk_id"
            : "SELECT v.chunk_id, v.vector FROM vector_change c JOIN chunk_vector v ON v.chunk_id = c.chunk_id WHERE c.added = 1 ORDER BY c.chunk_id"
        let stored = try Self.graphState(db)?.parameters
        let parameters = graphCache.parameters ?? stored ?? HNSWGraph.Parameters()
        let visited = VisitedSet(capacity: 1024)
        var skipped = 0
        let rows = try Row.fetchCursor(db, sql: sql)
        while let row = try rows.next() {
            let vector = Self.floats(row["vector"])
            if graph == nil { graph = HNSWGraph(dimensions: vector.count, space: .cosine, parameters: parameters) }
            guard vector.count == graph!.dimensions, !vector.isEmpty else {
                skipped += 1
                continue
            }
            graph!.insert(vector, label: row["chunk_id"], visited: visited)
        }
        if skipped > 0 {
            announce("\(skipped) vectors of another dimension than the index's \(graph?.dimensions ?? 0) were left out of the vector index; re-ingest with one embedder")
        }
        return graph
    }

    /// Reads the stored graph: pages, then every node's vector. Throws `corruptFile` on any
    /// damage or drift (a node without a vector, a vector without a node that is not pending).
    func loadGraph(_ db: Database, state: HNSWGraph.State) throws -> HNSWGraph {
        var pages: [Int: [UInt8]] = [:]
        let pageRows = try Row.fetchCursor(db, sql: "SELECT page, data FROM hnsw_page")
        while let row = try pageRows.next() {
            let data: Data = row["data"]
            pages[row["page"]] = [UInt8](data)
        }
        var graph = try HNSWGraph.decode(state: state, pages: pages)
        let pendingAdds = Set(try Int64.fetchAll(db, sql: "SELECT chunk_id FROM vector_change WHERE added = 1"))
        var restored = 0
        let rows = try Row.fetchCursor(db, sql: "SELECT chunk_id, vector FROM chunk_vector")
        while let row = try rows.next() {
            let label: Int64 = row["chunk_id"]
            let blob: Data = row["vector"]
            if blob.withUnsafeBytes({ graph.restoreVector(label: label, bytes: $0) }) {
                restored += 1
            } else if blob.count == state.dimensions * 4, !pendingAdds.contains(label) {
                throw RAGError(.corruptFile, "the vector of chunk \(label) has no node in the vector index")
            }
        }
        let pendingRemovals = try Int.fetchOne(db, sql: "SELECT count(*) FROM vector_change WHERE added = 0") ?? 0
        if restored < graph.count - pendingRemovals {
            throw RAGError(.corruptFile, "\(graph.count - restored) nodes of the vector index have no stored vector")
        }
        return graph
    }

    /// Rebuilds the graph from the stored vectors (with `parameters`, or those it has).
    public func rebuildGraph(parameters: HNSWGraph.Parameters?) throws -> GraphInfo? {
        if let parameters {
            try setGraphParameters(parameters)
        } else if let stored = try read({ try Self.graphState($0) })?.parameters, graphCache.parameters == nil {
            graphCache.parameters = stored
        }
        try sqlTransaction({ db in
            try db.execute(sql: "UPDATE index_state SET hnsw = '' WHERE id = 1")
            try db.execute(sql: "DELETE FROM hnsw_page")
            try db.execute(sql: "INSERT OR REPLACE INTO vector_change (chunk_id, added) SELECT chunk_id, 1 FROM chunk_vector")
        })
        return try graphInfo()
    }

    /// What the stored graph looks like, nil when there is none.
    public func graphInfo() throws -> GraphInfo? {
        try read { db in
            guard let state = try Self.graphState(db) else { return nil }
            let row = try Row.fetchOne(db, sql: "SELECT count(*) AS pages, coalesce(sum(length(data)), 0) AS bytes FROM hnsw_page")
            return GraphInfo(
                nodes: state.nodes, slots: state.slots, dimensions: state.dimensions, space: state.space.rawValue,
                m: state.m, efConstruction: state.efConstruction, maxLevel: Int(state.maxLevel),
                pages: row?["pages"] ?? 0, pageBytes: row?["bytes"] ?? 0,
                pendingChanges: try Int.fetchOne(db, sql: "SELECT count(*) FROM vector_change") ?? 0)
        }
    }

    /// `rag index check`: the stored graph read strictly (no repair): every page sound, every
    /// chunk with a vector and every vector with a node, every neighbour a node of its level.
    public func graphProblems() throws -> [String] {
        try read { db in
            var problems: [String] = []
            let embedder = try String.fetchOne(db, sql: "SELECT embedder FROM index_state WHERE id = 1") ?? ""
            if !embedder.isEmpty {
                let missing = try Int.fetchOne(db, sql: "SELECT count(*) FROM chunk WHERE id NOT IN (SELECT chunk_id FROM chunk_vector)") ?? 0
                if missing > 0 { problems.append("\(missing) chunks without a vector") }
            }
            let vectors = try Int.fetchOne(db, sql: "SELECT count(*) FROM chunk_vector") ?? 0
            guard let state = try Self.graphState(db) else {
                if vectors > 0 { problems.append("\(vectors) vectors but no vector index") }
                return problems
            }
            do {
                let graph = try loadGraph(db, state: state)
                problems += graph.problems()
                let pending = try Int.fetchOne(db, sql: "SELECT count(*) FROM vector_change") ?? 0
                if pending > 0 { problems.append("\(pending) vector changes not yet applied to the graph") }
            } catch let error as RAGError {
                problems.append(error.message)
            }
            return problems
        }
    }

    static func graphState(_ db: Database) throws -> HNSWGraph.State? {
        guard let text = try String.fetchOne(db, sql: "SELECT hnsw FROM index_state WHERE id = 1"), !text.isEmpty else { return nil }
        do {
            return try JSONDecoder().decode(HNSWGraph.State.self, from: Data(text.utf8))
        } catch {
            return nil  // unreadable: treated as no graph, rebuilt from the vectors
        }
    }

    static func floats(_ blob: Data) -> [Float] {
        blob.withUnsafeBytes { raw in
            (0..<(blob.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    func announce(_ message: String) {
        warning?("\(path ?? "index"): \(message)")
    }
}
