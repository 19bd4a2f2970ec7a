public import Logging
public import RAG

/// What `rag serve` is told on its command line.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// When set, every route but /healthz needs `Authorization: Bearer KEY`.
    public var apiKey: String?
    /// Generations waiting behind the running one before requests are refused with 503.
    public var queueCapacity = 8
    /// Largest JSON body, bytes.
    public var maxBodyBytes = ServerConfiguration.defaultMaxBodyBytes
    static let defaultMaxBodyBytes = 1 << 20
    /// Largest upload, bytes.
    public var maxUploadBytes = 32 << 20
    public var maxQuestionCharacters = 4000
    /// Largest `max_tokens` a request may ask for (with or without `ignore_eos`).
    public var maxAnswerTokens = 1024
    /// A response write that has not finished after this closes the connection (a client that
    /// stopped reading).
    public var writeTimeout = Duration.seconds(30)
    /// A connection with no request in flight, or whose request stopped arriving, is closed after this.
    public var idleTimeout = Duration.seconds(60)
    /// Defaults of /v1/ask and chat completions.
    public var defaults = AskOptions()
    /// Server errors (5xx) are logged at `.error`.
    public var logLevel = Logger.Level.warning
    public init() {}
}
