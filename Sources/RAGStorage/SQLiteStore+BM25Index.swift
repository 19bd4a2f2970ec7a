internal import Foundation
internal import GRDB
public import RAGCore
public import RAGIndex
internal import Synchronization

/// The in-memory BM25 index of a long-running process (the server, an evaluation), tagged with
/// the index revision it was read at. It is rebuilt on a background thread when the revision
/// moves on (a write by this process or another); until it is current, FTS5 answers.
final class BM25Cache: Sendable {
    struct State {
        var enabled = false
        var index: BM25Index?
        var revision: Int64 = -1
        var building = false
    }

    let state = Mutex(State())

    /// The index if it was built at `revision`.
    func index(at revision: Int64) -> BM25Index? {
        state.withLock { $0.revision == revision ? $0.index : nil }
    }

    /// Keeps a built index unless a newer one is kept already.
    func install(_ built: (index: BM25Index, revision: Int64)) {
        state.withLock { state in
            if built.revision > state.revision || state.index == nil { (state.index, state.revision) = (built.index, built.revision) }
        }
    }
}

extension SQLiteStore {
    /// Keeps BM25's inverted index in memory from now on (`BM25Index`: the same scores as
    /// FTS5's bm25(), without its per-row reads), built now on a background thread and again
    /// after every change to the index. For processes that answer many queries; a one-shot
    /// command is better served by FTS5 alone. `buildNow`: build it on the calling thread
    /// before returning (an evaluation times its queries on it).
    public func keepBM25IndexInMemory(buildNow: Bool) throws {
        bm25Cache.state.withLock { $0.enabled = true }
        guard buildNow else {
            refreshBM25Index(for: try revision())
            return
        }
        bm25Cache.install(try buildBM25Index())
    }

    /// Whether the in-memory BM25 index matches the index as committed (tests, status).
    public func bm25IndexIsCurrent() throws -> Bool {
        try bm25Cache.index(at: revision()) != nil
    }

    /// Builds the in-memory BM25 index from FTS5's own index (every term occurrence, through
    /// the `chunk_fts_instance` vocabulary table), with the revision it was read at.
    public func buildBM25Index() throws -> (index: BM25Index, revision: Int64) {
        try read { db in
            let revision = try Int64.fetchOne(db, sql: "SELECT revision FROM index_state WHERE id = 1") ?? 0
            let documents = try Int.fetchOne(db, sql: "SELECT count(*) FROM chunk") ?? 0
            var builder = BM25Index.Builder(documentCount: documents)
            // Rows come in term order: a term's text becomes a String once, not per occurrence.
            var term = ""
            var termBytes = Data()
            let rows = try Row.fetchCursor(db, sql: "SELECT term, doc FROM chunk_fts_instance")
            while let row = try rows.next() {
                let bytes = row.dataNoCopy(atIndex: 0) ?? Data()
                if bytes != termBytes {
                    termBytes = Data(bytes)
                    term = String(decoding: termBytes, as: UTF8.self)
                }
                builder.add(term: term, document: row[1])
            }
            return (builder.build(), revision)
        }
    }

    /// The in-memory index when enabled and current; otherwise nil, and (when enabled) a
    /// rebuild for `revision` is started unless one is running.
    func currentBM25Index(_ db: Database) throws -> BM25Index? {
        guard bm25Cache.state.withLock({ $0.enabled }) else { return nil }
        let revision = try Int64.fetchOne(db.cachedStatement(sql: "SELECT revision FROM index_state WHERE id = 1")) ?? 0
        if let index = bm25Cache.index(at: revision) { return index }
        refreshBM25Index(for: revision)
        return nil
    }

    /// Starts a background build unless one is running or the index is at `revision` already.
    private func refreshBM25Index(for revision: Int64) {
        let start = bm25Cache.state.withLock { state -> Bool in
            guard state.enabled, !state.building, state.revision != revision else { return false }
            state.building = true
            return true
        }
        guard start else { return }
        let store = self
        Thread.detachNewThread {
            if let built = try? store.buildBM25Index() { store.bm25Cache.install(built) }
            store.bm25Cache.state.withLock { $0.building = false }
        }
    }

    /// The FTS5 tokens of each query word (porter over unicode61, as `chunk_fts` indexes), or
    /// nil when a word is not exactly one token (FTS5 would match it as a phrase).
    static func bm25Terms(_ words: [String], _ db: Database) throws -> [String]? {
        let tokenizer = try db.makeTokenizer(.porter(wrapping: .unicode61(diacritics: .remove)))
        var terms: [String] = []
        for word in words {
            let tokens = try tokenizer.tokenize(query: word)
            guard tokens.count == 1 else { return nil }
            terms.append(tokens[0].token)
        }
        return terms
    }
}
