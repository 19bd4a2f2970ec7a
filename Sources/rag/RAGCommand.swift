import ArgumentParser
import Foundation
import RAG
import RAGCore
import RAGStorage

@main
enum Entry {
    static func main() async {
        OpenBLASCore.reexecIfNeeded()
        await RAGCommand.main()
    }
}

struct RAGCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rag",
        abstract: "Ask questions of your own documents, answered by models on your own CPU.",
        discussion: """
            An index is one SQLite file (default: indexes/default.sqlite, or $RAG_DB).
              rag ingest ./docs        chunk and index a folder (incremental)
              rag search "query"       BM25 search over the chunks
            """,
        version: "0.1.0",
        subcommands: [Ingest.self, Search.self, Embed.self, Stats.self, Docs.self, IndexCommand.self, ModelCommand.self, Tokenize.self, Generate.self, Ask.self, Chat.self, Serve.self, Eval.self, Bench.self]
    )
}

/// `--db`, shared by every command that opens an index.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The index: a SQLite file, or a PostgreSQL database as postgres://USER@HOST:PORT/DATABASE.", valueName: "file|url"))
    var db: String = ProcessInfo.processInfo.environment["RAG_DB"] ?? "indexes/default.sqlite"

    /// Seconds a write waits for another process's lock ($RAG_BUSY_TIMEOUT, default 5).
    static var busyTimeout: Double { ProcessInfo.processInfo.environment["RAG_BUSY_TIMEOUT"].flatMap(Double.init) ?? 5 }

    func open(mode: IndexOpenMode) throws -> any IndexStore {
        try RAGService.openStore(db, mode: mode, busyTimeout: Self.busyTimeout, warning: printWarning)
    }
}

/// The service a command works through, configured from the option groups it has; `configure`
/// sets the rest.
func makeService(
    db: String, _ mode: IndexOpenMode, embedder: EmbedderOptions? = nil, generator: GeneratorOptions? = nil,
    remote: RemoteGeneratorOptions? = nil, fusion: FusionOptions? = nil, _ configure: (inout RAGService.Configuration) -> Void = { _ in }
) throws -> RAGService {
    var configuration = RAGService.Configuration(database: db)
    configuration.openMode = mode
    configuration.busyTimeout = StoreOptions.busyTimeout
    configuration.warning = printWarning
    if let embedder {
        configuration.embedderDirectory = embedder.embedder
        configuration.embedPrecision = embedder.embedPrecision
    }
    if let generator {
        configuration.generatorPath = generator.path
        configuration.draftPath = generator.draftPath
        configuration.kvType = generator.kvType
    }
    configuration.remoteGenerator = try remote?.endpoint
    if let fusion {
        configuration.fusion = fusion.fusion
        configuration.denseWeight = fusion.denseWeight
        configuration.bm25Weight = fusion.bm25Weight
    }
    configure(&configuration)
    return try RAGService(configuration)
}

/// Prints a `RAGError` (or any error) to stderr and exits non-zero: no stack traces for users.
func fail(_ error: any Error) -> ExitCode {
    let message = (error as? RAGError)?.message ?? "\(error)"
    FileHandle.standardError.write(Data("rag: error: \(message)\n".utf8))
    return .failure
}

func printJSON<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}

/// What the index tells the user, on stderr.
@Sendable func printWarning(_ message: String) { printError("rag: " + message) }

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

let stderrIsTerminal = isatty(2) != 0
