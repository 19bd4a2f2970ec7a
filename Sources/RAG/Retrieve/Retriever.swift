public import RAGCore
public import RAGStorage

/// Finds the chunks that answer a query: BM25, dense, or both fused.
public struct Retriever: Sendable {
    public let store: any IndexStore
    public let embedder: (any Embedder)?
    /// The HNSW search beam (raised to the number of results asked for when smaller).
    public var ef: Int
    /// How hybrid search fuses the lists, and the weights of the dense and BM25 lists.
    public var fusion: Fusion.Method
    public var denseWeight: Double
    public var bm25Weight: Double
    /// Only chunks of the documents this passes (path glob, tags, ingestion time), filtered
    /// inside both searches.
    public var filter: SearchFilter?

    /// Weights left nil take the fusion method's defaults.
    public init(
        store: any IndexStore, embedder: (any Embedder)?, ef: Int = 64, fusion: Fusion.Method = .minMax, denseWeight: Double? = nil, bm25Weight: Double? = nil
    ) {
        self.store = store
        self.embedder = embedder
        self.ef = ef
        self.fusion = fusion
        self.denseWeight = denseWeight ?? fusion.defaultWeights.dense
        self.bm25Weight = bm25Weight ?? fusion.defaultWeights.bm25
    }

    /// What one retrieval found.
    public struct Retrieval: Sendable {
        public var hits: [SearchHit]
        /// The cosine similarity of the query to its nearest chunk (dense and hybrid modes).
        public var bestSimilarity: Double?
    }

    public func search(_ query: String, mode: SearchMode, topK: Int) throws -> [SearchHit] {
        try retrieve(query, mode: mode, topK: topK).hits
    }

    /// Searches; `vector` is the query's embedding when the caller has it already.
    public func retrieve(_ query: String, mode: SearchMode, topK: Int, vector: [Float]? = nil) throws -> Retrieval {
        switch mode {
        case .bm25:
            return Retrieval(hits: try store.hits(store.bm25Ranking(query, limit: topK, filter: filter), highlighting: query))
        case .dense:
            let nearest = try dense(query, vector: vector, limit: topK)
            return Retrieval(hits: try store.hits(nearest, highlighting: query), bestSimilarity: nearest.first?.1)
        case .hybrid:
            // Each list is taken 4× deeper than asked, so fusion can promote what one list ranks low.
            let depth = max(topK * 4, 40)
            let lexical = try store.bm25Ranking(query, limit: depth, filter: filter)
            let nearest = try dense(query, vector: vector, limit: depth)
            let weights = [denseWeight, bm25Weight]
            let ranked = switch fusion {
            case .minMax: Fusion.minMax([nearest, lexical], weights: weights)
            case .zScore: Fusion.zScore([nearest, lexical], weights: weights)
            case .reciprocalRank: Fusion.reciprocalRank([nearest.map(\.0), lexical.map(\.0)], weights: weights)
            }
            let fused = Array(ranked.prefix(topK))
            let hits = try store.hits(fused, highlighting: query)
            return Retrieval(hits: hits, bestSimilarity: nearest.first?.1)
        }
    }

    /// The query's embedding; nil when no embedder is loaded or the index holds no vectors.
    public func embed(_ query: String) throws -> [Float]? {
        guard let embedder, try !store.embedder().isEmpty else { return nil }
        return embedder.embed([query])[0]
    }

    /// The `limit` chunks nearest to the query by cosine similarity (vectors are unit length).
    func dense(_ query: String, vector: [Float]? = nil, limit: Int) throws -> [(ChunkID, Double)] {
        guard let embedder else {
            throw RAGError(.model, "dense search needs the embedding model; run `make models` (or pass --embedder DIR)")
        }
        let stored = try store.embedder()
        guard !stored.isEmpty else {
            throw RAGError(.invalidInput, "this index holds no vectors (it was built without embeddings); search it with --mode bm25, or re-ingest")
        }
        return try store.nearest(vector ?? embedder.embed([query])[0], k: limit, ef: ef, filter: filter)
    }
}
