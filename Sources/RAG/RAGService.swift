public import Foundation
public import RAGCore
public import RAGEmbedding
public import RAGIndex
public import RAGLLM
public import RAGRemote
public import RAGPostgres
public import RAGStorage
public import RAGText
internal import Synchronization

/// The one place that wires rag's stages: it opens the index, loads each model once (on first
/// use), builds the retriever, the answerer and the ingestor, and offers what the commands and
/// the server do — `ingest`, `search`, `ask`/`stream`, `remove`, `documents`. Every default and
/// every check of a setting is written here once.
public final class RAGService: Sendable {
    /// Everything a service is built from.
    public struct Configuration: Sendable {
        /// The index: a SQLite file's path, or a PostgreSQL database's URL (`postgres://…`).
        public var database: String
        /// Whether a missing index is created (ingest, serve) or an error (search, ask).
        public var openMode: IndexOpenMode = .mustExist
        /// Seconds a write waits for another process's lock.
        public var busyTimeout: Double = 5
        /// Told what the index does on its own that a user should know (see `SQLiteStore.warning`).
        public var warning: (@Sendable (String) -> Void)?
        /// The sentence embedder's folder (model.safetensors, vocab.txt).
        public var embedderDirectory = SentenceEmbedder.defaultDirectory
        /// The encoder's arithmetic (see `BertEncoder.Precision`); nil: the one the index's
        /// vectors were made with, else `SentenceEmbedder.defaultPrecision`.
        public var embedPrecision: BertEncoder.Precision?
        /// The generator's GGUF file.
        public var generatorPath = LanguageModel.defaultPath
        /// A smaller model of the same vocabulary that drafts for the generator (speculative
        /// decoding); nil: drafts come from the prompt.
        public var draftPath: String?
        /// A server that writes the answers instead of the local model (any OpenAI-compatible
        /// chat-completions route); nil: the local model at `generatorPath`.
        public var remoteGenerator: RemoteGenerator.Endpoint?
        /// The generator's context in tokens (at most the model's own).
        public var contextLength = 2048
        /// How the generator's KV cache stores keys and values (Q8_0: about half the bytes).
        public var kvType = KVCacheType.f16
        /// Generations the local generator runs at once, decoded together (slots, each with a
        /// KV cache of `contextLength`); a draft model runs one at a time.
        public var parallel = 1
        /// A folder of the user's templates (NAME.mustache), next to the built-in ones.
        public var userTemplates: String?
        /// How hybrid search fuses its lists, and the weights of the dense and BM25 lists (nil:
        /// the method's defaults).
        public var fusion = Fusion.Method.minMax
        public var denseWeight: Double?
        public var bm25Weight: Double?
        /// The HNSW search beam.
        public var ef = 64
        /// The semantic answer cache: answers kept (0: no cache), the cosine similarity at which
        /// a question counts as asked before, and seconds an answer stays.
        public var answerCacheCapacity = 0
        public var answerCacheSimilarity = 0.95
        public var answerCacheTTL: TimeInterval = 3600

        /// Whether BM25's inverted index is kept in memory (`SQLiteStore.keepBM25IndexInMemory`): for a
        /// process that answers many queries (the server); rebuilt in the background after writes.
        public var keepsBM25InMemory = false

        public init(database: String) { self.database = database }

        /// The checks every command and the server share; the message names the setting.
        public func validate() throws {
            let denseWeight = self.denseWeight ?? fusion.defaultWeights.dense, bm25Weight = self.bm25Weight ?? fusion.defaultWeights.bm25
            guard denseWeight >= 0, bm25Weight >= 0, denseWeight + bm25Weight > 0, denseWeight.isFinite, bm25Weight.isFinite else {
                throw RAGError(.invalidInput, "the dense and BM25 weights must be ≥ 0 and not both 0")
            }
            guard (1...10_000).contains(ef) else { throw RAGError(.invalidInput, "ef must be between 1 and 10000 (got \(ef))") }
            guard contextLength > 64 else { throw RAGError(.invalidInput, "the context must hold more than 64 tokens (got \(contextLength))") }
            guard answerCacheCapacity >= 0, answerCacheTTL > 0, (0.0...1.0).contains(answerCacheSimilarity) else {
                throw RAGError(.invalidInput, "the answer cache needs a size ≥ 0, a similarity between 0 and 1 and a positive time to live")
            }
        }
    }

    public let configuration: Configuration
    public let store: any IndexStore
    public let templates: TemplateLibrary
    private let loaded: Mutex<Loaded>

    private struct Loaded {
        var embedder: (any Embedder)?
        var model: LanguageModel?
        var generator: (any TextGenerator)?
        var answerer: Answerer?
    }

    /// Opens the index; the models load when first needed, unless given here: an embedder, a
    /// loaded model, or a generator of any kind (a test twin, a remote one) for the answerer.
    public init(
        _ configuration: Configuration, store: (any IndexStore)? = nil, embedder: (any Embedder)? = nil, model: LanguageModel? = nil,
        generator: (any TextGenerator)? = nil
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.store = try store ?? Self.openStore(
            configuration.database, mode: configuration.openMode, busyTimeout: configuration.busyTimeout, warning: configuration.warning)
        templates = TemplateLibrary(user: configuration.userTemplates)
        if configuration.keepsBM25InMemory { try self.store.keepBM25IndexInMemory() }
        loaded = Mutex(Loaded(embedder: embedder, model: model, generator: generator))
    }

    /// The index `database` names: a PostgreSQL database for a `postgres://` (or
    /// `postgresql://`) URL, else a SQLite file at that path.
    public static func openStore(
        _ database: String, mode: IndexOpenMode, busyTimeout: Double = 5, warning: (@Sendable (String) -> Void)? = nil
    ) throws -> any IndexStore {
        if PostgresLocation.isURL(database) {
            return try PostgresStore(url: database, mode: mode, busyTimeout: busyTimeout)
        }
        return try SQLiteStore(path: database, mode: mode, busyTimeout: busyTimeout, warning: warning)
    }

    // MARK: - Stages

    /// The embedder: the one given, else the sentence encoder, loaded on first use.
    public func embedder() throws -> any Embedder {
        try once(\.embedder) {
            let precision = try configuration.embedPrecision
                ?? SentenceEmbedder.precision(recordedAs: store.embedder()) ?? SentenceEmbedder.defaultPrecision
            return try SentenceEmbedder(directory: configuration.embedderDirectory, precision: precision)
        }
    }

    /// The generator's model, loaded on first use.
    public func model() throws -> LanguageModel {
        try once(\.model) { try LanguageModel.open(configuration.generatorPath) }
    }

    /// Whether the index holds vectors (it was built with an embedder).
    public func hasVectors() throws -> Bool { try !store.embedder().isEmpty }

    /// The search mode when none is asked for: hybrid when the index holds vectors, else BM25.
    public func mode(_ requested: SearchMode? = nil) throws -> SearchMode {
        if let requested { return requested }
        return try hasVectors() ? .hybrid : .bm25
    }

    /// A retriever for `mode` (BM25 alone loads no embedder).
    public func retriever(for mode: SearchMode) throws -> Retriever {
        Retriever(
            store: store, embedder: mode == .bm25 ? nil : try embedder(), ef: configuration.ef,
            fusion: configuration.fusion, denseWeight: configuration.denseWeight, bm25Weight: configuration.bm25Weight)
    }

    /// A generator of its own on the service's model (its KV cache and prefix cache start empty).
    public func makeGenerator() throws -> Generator {
        let model = try model(), context = configuration.contextLength
        try Generator.check(model: model, contextLength: context, parallel: configuration.parallel, kvType: configuration.kvType)
        guard let draftPath = configuration.draftPath else {
            return Generator(model: model, contextLength: context, parallel: configuration.parallel, kvType: configuration.kvType)
        }
        return try Generator(model: model, draft: LanguageModel.open(draftPath), contextLength: context, kvType: configuration.kvType)
    }

    /// The answerer's generator: the one given, else the remote one configured, else one on the
    /// model (loaded on first use).
    public func generator() throws -> any TextGenerator {
        try once(\.generator) {
            if let remote = configuration.remoteGenerator { return try RemoteGenerator(remote, contextLength: configuration.contextLength) }
            return try makeGenerator()
        }
    }

    /// The service's answerer: one generator, one answer cache; built on first use. Its
    /// retriever embeds questions when the index holds vectors or an embedder is loaded.
    public func answerer() throws -> Answerer {
        try once(\.answerer) {
            let embedded = try hasVectors() || loaded.withLock { $0.embedder != nil }
            return try makeAnswerer(retriever: retriever(for: embedded ? .hybrid : .bm25), generator: generator())
        }
    }

    /// The value kept at `slot`, made by `make` the first time (outside the lock: loading a
    /// model takes seconds; when two callers race, the first one kept wins).
    private func once<T: Sendable>(_ slot: WritableKeyPath<Loaded, T?>, _ make: () throws -> T) rethrows -> T {
        if let known = loaded.withLock({ $0[keyPath: slot] }) { return known }
        let made = try make()
        return loaded.withLock { state in
            if let known = state[keyPath: slot] { return known }
            state[keyPath: slot] = made
            return made
        }
    }

    /// An answerer with its own generator and no answer cache (benchmarks compare cold runs).
    public func makeAnswerer(freshGenerator: Bool) throws -> Answerer {
        guard freshGenerator else { return try answerer() }
        let generator: any TextGenerator = try configuration.remoteGenerator.map { try RemoteGenerator($0, contextLength: configuration.contextLength) } ?? makeGenerator()
        return try makeAnswerer(generator: generator)
    }

    /// An answerer on `generator` (a variant of the model, say) with the service's retriever and
    /// templates and no answer cache.
    public func makeAnswerer(generator: any TextGenerator) throws -> Answerer {
        try makeAnswerer(retriever: answerer().retriever, generator: generator, cache: false)
    }

    private func makeAnswerer(retriever: Retriever, generator: any TextGenerator, cache: Bool = true) -> Answerer {
        let c = configuration
        return Answerer(
            retriever: retriever, generator: generator, templates: templates,
            cache: cache && c.answerCacheCapacity > 0
                ? AnswerCache(threshold: c.answerCacheSimilarity, ttl: c.answerCacheTTL, capacity: c.answerCacheCapacity) : nil)
    }

    /// Throws unless `name` is a template of this service's library that renders.
    public func checkTemplate(_ name: String) throws { try templates.check(name) }

    // MARK: - Use cases

    /// Loads, chunks, embeds (unless `embed` is false) and indexes files and folders.
    public func ingest(
        _ paths: [String], options: Ingestor.Options = Ingestor.Options(), embed: Bool = true,
        progress: (@Sendable (IngestProgress) -> Void)? = nil
    ) throws -> IngestReport {
        try Ingestor(store: store, embedder: embed ? embedder() : nil).run(paths: paths, options: options, progress: progress)
    }

    /// The HNSW parameters asked for, the stored ones for the rest, else the defaults (m 16,
    /// efConstruction 200); nil when neither is asked for.
    public func graphParameters(m: Int?, efConstruction: Int?) throws -> HNSWGraph.Parameters? {
        guard m != nil || efConstruction != nil else { return nil }
        let stored = try store.graphInfo(), defaults = HNSWGraph.Parameters()
        return HNSWGraph.Parameters(
            m: m ?? stored?.m ?? defaults.m, efConstruction: efConstruction ?? stored?.efConstruction ?? defaults.efConstruction)
    }

    /// Sets the HNSW parameters of the index's vector graph (see `graphParameters`); a change
    /// rebuilds the graph.
    public func setGraphParameters(m: Int?, efConstruction: Int?) throws {
        if let parameters = try graphParameters(m: m, efConstruction: efConstruction) { try store.setGraphParameters(parameters) }
    }

    /// Rebuilds the vector graph from the stored vectors, with new parameters when given.
    public func rebuildIndex(m: Int?, efConstruction: Int?) throws -> GraphInfo? {
        try store.rebuildGraph(parameters: graphParameters(m: m, efConstruction: efConstruction))
    }

    /// The chunks that best match a query (of the documents `filter` passes), and the mode used.
    public func search(
        _ query: String, mode requested: SearchMode? = nil, topK: Int, filter: SearchFilter? = nil
    ) throws -> (hits: [SearchHit], mode: SearchMode) {
        let mode = try mode(requested)
        var retriever = try retriever(for: mode)
        retriever.filter = filter
        return (try retriever.search(query, mode: mode, topK: topK), mode)
    }

    /// Answers a question from the index (see `Answerer.ask`).
    public func ask(
        _ question: String, options: AskOptions, showReasoning: Bool = false,
        emit: @escaping (String) -> Void = { _ in }, cancelled: @escaping () -> Bool = { false }
    ) throws -> AskResult {
        try answerer().ask(question, options: options, showReasoning: showReasoning, emit: emit, cancelled: cancelled)
    }

    /// Indexes the bytes of one uploaded file (its name gives the format; see `Ingestor.uploadPath`).
    public func ingest(upload name: String, bytes: Data) throws -> (report: IngestReport, path: String) {
        try Ingestor(store: store, embedder: embedder()).ingest(upload: name, bytes: bytes)
    }

    /// Removes what `path` names (a document, a file's documents, a folder); how many went.
    public func remove(_ path: String) throws -> Int { try RemoveDocuments(store: store).remove(path) }

    /// Removes one document (see `RemoveDocuments.remove(id:)`); nil when there is none.
    public func remove(id: DocumentID) throws -> DocumentRecord? { try RemoveDocuments(store: store).remove(id: id) }

    /// The documents below `path` (all of them when nil).
    public func documents(under path: String? = nil) throws -> [DocumentRecord] {
        try store.documents(under: path)
    }
}
