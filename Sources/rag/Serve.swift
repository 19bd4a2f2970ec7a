import ArgumentParser
import Foundation
import Hummingbird
import RAG
import RAGCore
import RAGLLM
import RAGServer
import RAGStorage

/// `rag serve`: the index, the embedder and the local model over HTTP.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve search, answers and uploads over HTTP (JSON, Server-Sent Events, OpenAI-compatible routes).",
        discussion: """
        Routes: POST /v1/search, POST /v1/ask ("stream":true for Server-Sent Events), POST/GET \
        /v1/documents, DELETE /v1/documents/{id}, POST /v1/chat/completions (model "rag" or \
        "rag:TEMPLATE"), POST /v1/embeddings, GET /v1/models, GET /healthz, GET /metrics (Prometheus). \
        One generation runs at a time; up to --queue more wait, and past that requests get 503 with \
        Retry-After. Binds to 127.0.0.1 unless --host says otherwise; with --api-key (or \
        $RAG_API_KEY) every route but /healthz needs "Authorization: Bearer KEY".
        """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var embedderOptions: EmbedderOptions
    @OptionGroup var generatorOptions: GeneratorOptions
    @OptionGroup var remote: RemoteGeneratorOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port, printed at start).") var port = 8080
    @Option(name: .customLong("api-key"), help: "Require Authorization: Bearer KEY (default: $RAG_API_KEY, else none).")
    var apiKey: String? = ProcessInfo.processInfo.environment["RAG_API_KEY"]
    @Option(help: "Generations that may wait behind the running ones.") var queue = 8
    @Option(help: ArgumentHelp("Generations that run at once, decoded together (continuous batching; each slot keeps a KV cache of --context tokens). Default 4, or 1 with --draft-model.", valueName: "n"))
    var parallel: Int?
    @Option(help: "Default template (default, cot, fewshot, or one in --templates).") var template = "default"
    @Option(help: ArgumentHelp("A folder of your own templates (NAME.mustache).", valueName: "dir")) var templates: String?
    @Option(help: "Context size in tokens.") var context = 2048
    @Option(name: .customLong("max-tokens"), help: "Default most tokens per answer.") var maxTokens = 256
    @Option(name: .customLong("max-tokens-limit"), help: "Most tokens a request may ask for (max_tokens, with or without ignore_eos).")
    var maxTokensLimit = 1024
    @Option(name: .customLong("write-timeout"), help: "Seconds a response write may take before the connection is closed (a client that stopped reading).")
    var writeTimeout = 30.0
    @Option(name: .customLong("idle-timeout"), help: "Seconds an idle connection (or one whose request stopped arriving) is kept open.")
    var idleTimeout = 60.0
    @Option(name: .customLong("abstain-below"), help: "Answer \"I don't know\" below this cosine similarity.") var abstainBelow = 0.3
    @Option(name: .customLong("max-upload-mb"), help: "Largest upload, MiB.") var maxUploadMB = 32
    @Option(name: .customLong("cache-size"), help: "Answers kept in the semantic answer cache (0: no cache).") var cacheSize = 256
    @Option(name: .customLong("cache-similarity"), help: "Cosine similarity at which a question counts as asked before.") var cacheSimilarity = 0.95
    @Option(name: .customLong("cache-ttl"), help: "Seconds an answer stays in the cache.") var cacheTTL = 3600.0
    @OptionGroup var fusion: FusionOptions

    func validate() throws {
        try fusion.check()
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard queue >= 0 else { throw ValidationError("--queue must be ≥ 0") }
        if let parallel {
            guard (1...64).contains(parallel) else { throw ValidationError("--parallel must be between 1 and 64") }
            guard parallel == 1 || generatorOptions.draftModel == nil else {
                throw ValidationError("--draft-model runs one generation at a time: leave out --parallel or give --parallel 1")
            }
        }
        guard maxTokens > 0, context > maxTokens + 64 else { throw ValidationError("--context must exceed --max-tokens by at least 64 tokens") }
        guard (0.0...1.0).contains(cacheSimilarity) else { throw ValidationError("--cache-similarity must be between 0 and 1") }
        guard cacheTTL > 0, cacheSize >= 0, maxUploadMB > 0 else { throw ValidationError("--cache-ttl, --cache-size and --max-upload-mb must be positive") }
        guard maxTokensLimit >= maxTokens else { throw ValidationError("--max-tokens-limit must be at least --max-tokens (\(maxTokens))") }
        guard writeTimeout > 0, idleTimeout > 0 else { throw ValidationError("--write-timeout and --idle-timeout must be positive") }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key is empty") }
    }

    func run() async throws {
        let db = store.db, host = host, keyed = apiKey != nil
        // Generations yield the cores to short requests when both are busy (set before the
        // model's worker threads start).
        ThreadPriority.background = 5
        do {
            let service = try makeService(db: store.db, .createIfMissing, embedder: embedderOptions, generator: generatorOptions, remote: remote, fusion: fusion) {
                $0.contextLength = context
                $0.parallel = parallel ?? (generatorOptions.draftModel == nil ? 4 : 1)
                $0.keepsBM25InMemory = true
                $0.userTemplates = templates
                $0.answerCacheCapacity = cacheSize
                $0.answerCacheSimilarity = cacheSimilarity
                $0.answerCacheTTL = cacheTTL
            }
            try service.checkTemplate(template)
            var configuration = ServerConfiguration()
            configuration.host = host
            configuration.port = port
            configuration.apiKey = apiKey
            configuration.queueCapacity = queue
            configuration.maxUploadBytes = maxUploadMB << 20
            configuration.maxAnswerTokens = maxTokensLimit
            configuration.writeTimeout = .milliseconds(Int64(writeTimeout * 1000))
            configuration.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
            configuration.defaults.template = template
            configuration.defaults.answerTokens = maxTokens
            configuration.defaults.abstainBelow = abstainBelow
            configuration.defaults.speculate = !generatorOptions.noSpeculate
            let app = try buildApplication(service: service, configuration: configuration) { port in
                let slots = (try? service.generator().parallel) ?? 1
                printError("rag serve: listening on http://\(host):\(port) (index \(displayPath(db)), \(slots) generation slot\(slots == 1 ? "" : "s"), \(keyed ? "API key required" : "no API key"))")
            }
            try await app.runService()
        } catch {
            throw fail(error)
        }
    }
}
