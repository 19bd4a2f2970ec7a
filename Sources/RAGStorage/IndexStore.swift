public import RAGCore
public import RAGIndex

/// Whether opening an index that is not there creates it.
public enum IndexOpenMode: Sendable {
    /// Create the index (a file and its folder, or the tables in a database) when missing.
    case createIfMissing
    /// Fail with a clear error when there is no index.
    case mustExist
}

/// Where an index lives, as the stages see it: the sources, documents and chunks with their
/// hashes, the vectors, lexical and vector search over the chunks, transactions and a revision.
/// Two backends: `SQLiteStore` (one file, the default) and `PostgresStore` (RAGPostgres: a
/// PostgreSQL database with pgvector, shared by several nodes). Calls block the calling thread;
/// run them off the concurrency pool.
///
/// Upkeep that only one backend has (SQLite's in-memory BM25 index, compaction, the HNSW graph's
/// pages) stays on that backend; what a stage calls whatever the backend is is here.
public protocol IndexStore: Sendable {
    /// Where the index is, as a user may be shown it (a path; a database URL without its password).
    var location: String { get }

    /// Runs `body` as one transaction: everything it writes commits together, or nothing does;
    /// a commit that changed anything moves the revision.
    func transaction<T>(_ body: (any IndexTransaction) throws -> T) throws -> T

    /// A number that grows with every transaction that changed the index, from any process:
    /// caches of answers compare against it.
    func revision() throws -> Int64

    // Sources and documents.
    func source(path: String) throws -> SourceRecord?
    /// Every file recorded at `path` or below it (when `path` is a folder), by path.
    func sources(under path: String) throws -> [SourceRecord]
    func allSources() throws -> [SourceRecord]
    /// Content hash of each document of a file, by document path.
    func documentHashes(sourceID: SourceID) throws -> [String: String]
    func documentCount(sourceID: SourceID) throws -> Int
    /// Documents, ordered by path; those at or under `path` when given (a folder, a file, or a
    /// file's records `FILE#id`).
    func documents(under path: String?) throws -> [DocumentRecord]
    /// Chunks of one document in order (text, heading, span), for inspection and tests.
    func chunks(documentPath: String) throws -> [ChunkDraft]
    func stats() throws -> StoreStats
    /// The embedding model of the stored vectors ("NAME/DIMENSIONS"), "" when there are none.
    func embedder() throws -> String
    /// The chunker's parameters stored with the index (JSON), "" for a new index.
    func chunker() throws -> String

    // Search.
    /// The ids and lexical scores (higher is better) of the `limit` best chunks for the query's
    /// words (`LexicalQuery`): Okapi BM25 with FTS5's terms and scores, whichever backend (SQLite's
    /// FTS5 or its in-memory `BM25Index`, PostgreSQL's postings).
    /// With a filter, only chunks of the documents it passes.
    func bm25Ranking(_ query: String, limit: Int, filter: SearchFilter?) throws -> [(ChunkID, Double)]
    /// The `k` chunks nearest to `query` by cosine similarity (1 − distance), nearest first,
    /// through the backend's HNSW index; `ef` is the search beam. With a filter, the `k`
    /// nearest of the chunks it passes, filtered during the search.
    func nearest(_ query: [Float], k: Int, ef: Int, filter: SearchFilter?) throws -> [(ChunkID, Double)]
    /// Search hits for the given chunk ids (with their scores), in the given order.
    func hits(_ scored: [(ChunkID, Double)]) throws -> [SearchHit]

    // The vector index.
    /// What the vector index holds and how it was built, nil when the index holds no vectors.
    func graphInfo() throws -> GraphInfo?
    /// HNSW parameters for the vector index this process builds or rebuilds.
    func setGraphParameters(_ parameters: HNSWGraph.Parameters) throws
    /// Rebuilds the vector index from the stored vectors (with `parameters`, or those it has).
    func rebuildGraph(parameters: HNSWGraph.Parameters?) throws -> GraphInfo?
    /// `rag index check`: what is wrong with the vector index, [] when nothing is.
    func graphProblems() throws -> [String]

    // Upkeep.
    /// Compacts after heavy deletion when the backend needs it; returns whether it did.
    @discardableResult
    func compactIfChurned() throws -> Bool
    /// For a process that answers many queries (the server): keep what makes lexical search fast
    /// in memory, when the backend has such a thing.
    func keepBM25IndexInMemory(buildNow: Bool) throws
    /// Lets go of the connections (or the file).
    func close() throws
}

/// Reads and writes inside one transaction, handed out by `IndexStore.transaction`: what a write
/// decides on cannot change before it commits.
public protocol IndexTransaction {
    func document(id: DocumentID) throws -> DocumentRecord?
    func source(path: String) throws -> SourceRecord?
    func documentCount(sourceID: SourceID) throws -> Int
    /// Inserts or updates the record of a file; returns its id.
    @discardableResult
    func upsertSource(path: String, format: DocumentFormat, size: Int64, mtime: Double, contentHash: String) throws -> SourceID
    /// Removes a document, its chunks and their entries in the lexical and vector indexes.
    func deleteDocument(path: String) throws
    func deleteDocument(id: DocumentID) throws
    /// Removes a file's record and everything ingested from it.
    func deleteSource(id: SourceID) throws
    /// Inserts a document (replacing any with the same path) without chunks.
    func insertDocument(_ document: LoadedDocument, sourceID: SourceID, mtime: Double) throws -> DocumentID
    /// Inserts a chunk and, when given, its vector.
    @discardableResult
    func insertChunk(_ chunk: ChunkDraft, documentID: DocumentID, vector: [Float]?) throws -> ChunkID
    /// Inserts a document's chunks (and their vectors, one per chunk, when given) at once: a
    /// store with a round trip per statement writes them in one.
    @discardableResult
    func insertChunks(_ chunks: [ChunkDraft], documentID: DocumentID, vectors: ArraySlice<[Float]>?) throws -> [ChunkID]
    func setChunkCount(_ count: Int, documentID: DocumentID) throws
    /// Moves a file's record and its documents to a new path (a rename: no re-chunking).
    func renameSource(id: SourceID, from oldPath: String, to newPath: String, mtime: Double) throws
    /// Records a new modification time for an unchanged file, so the next run skips hashing it.
    func touchSource(id: SourceID, mtime: Double) throws
    /// Clears a file's hash so the next ingest reads it again.
    func invalidateSource(id: SourceID) throws
    /// Stores the chunker's and embedder's names; when either changes, every document is marked
    /// for re-chunking (and re-embedding).
    func setChunker(_ signature: String, embedder: String) throws
}

extension IndexTransaction {
    @discardableResult
    public func insertChunk(_ chunk: ChunkDraft, documentID: DocumentID) throws -> ChunkID {
        try insertChunk(chunk, documentID: documentID, vector: nil)
    }

    /// One chunk at a time.
    @discardableResult
    public func insertChunks(_ chunks: [ChunkDraft], documentID: DocumentID, vectors: ArraySlice<[Float]>?) throws -> [ChunkID] {
        try chunks.indices.map { i in
            try insertChunk(chunks[i], documentID: documentID, vector: vectors.map { $0[$0.startIndex + i] })
        }
    }

    public func setChunker(_ signature: String) throws { try setChunker(signature, embedder: "") }
}

extension IndexStore {
    /// Documents, ordered by path.
    public func documents() throws -> [DocumentRecord] { try documents(under: nil) }

    public func rebuildGraph() throws -> GraphInfo? { try rebuildGraph(parameters: nil) }

    public func keepBM25IndexInMemory() throws { try keepBM25IndexInMemory(buildNow: false) }

    public func bm25Ranking(_ query: String, limit: Int) throws -> [(ChunkID, Double)] {
        try bm25Ranking(query, limit: limit, filter: nil)
    }

    public func nearest(_ query: [Float], k: Int, ef: Int) throws -> [(ChunkID, Double)] {
        try nearest(query, k: k, ef: ef, filter: nil)
    }

    /// Lexical search: the best `limit` chunks for the query's words, with snippets.
    public func searchBM25(_ query: String, limit: Int) throws -> [SearchHit] {
        try hits(bm25Ranking(query, limit: limit), highlighting: query)
    }

    /// Search hits for the given chunks, each snippet the window of its text around the
    /// query's words (matches in `[` `]`), or the text's start when none of them is in it.
    public func hits(_ scored: [(ChunkID, Double)], highlighting query: String) throws -> [SearchHit] {
        let snippet = Snippet(words: LexicalQuery.words(query))
        return try hits(scored).map { hit in
            var hit = hit
            if let made = snippet.make(hit.text) { hit.snippet = made }
            return hit
        }
    }
}
