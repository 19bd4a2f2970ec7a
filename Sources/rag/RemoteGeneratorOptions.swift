import ArgumentParser
import Foundation
import RAGCore
import RAGRemote

/// `--generator-url` and its company, shared by the commands that answer (ask, serve, eval):
/// the answers come from an OpenAI-compatible server instead of the local model.
struct RemoteGeneratorOptions: ParsableArguments {
    @Option(
        name: .customLong("generator-url"),
        help: ArgumentHelp(
            "An OpenAI-compatible server that writes the answers instead of the local model: its API's base, e.g. http://gpu-box:8000/v1 (default $RAG_GENERATOR_URL).",
            valueName: "url"))
    var url: String? = ProcessInfo.processInfo.environment["RAG_GENERATOR_URL"].flatMap { $0.isEmpty ? nil : $0 }
    @Option(name: .customLong("generator-model"), help: ArgumentHelp("The model to ask that server for (default: the first it lists).", valueName: "name"))
    var model: String?
    @Option(name: .customLong("generator-key"), help: ArgumentHelp("Its API key, sent as a bearer token (default $RAG_GENERATOR_KEY).", valueName: "key"))
    var key: String? = ProcessInfo.processInfo.environment["RAG_GENERATOR_KEY"].flatMap { $0.isEmpty ? nil : $0 }
    @Option(name: .customLong("generator-timeout"), help: ArgumentHelp("Seconds without a byte from that server before a request is given up.", valueName: "seconds"))
    var timeout: Double = 120
    @Option(name: .customLong("generator-retries"), help: ArgumentHelp("Attempts after the first while it cannot be reached or is overloaded.", valueName: "n"))
    var retries = 2

    func validate() throws {
        guard url != nil else {
            if model != nil { throw ValidationError("--generator-model names a model of --generator-url's server; give --generator-url too") }
            return
        }
        do { _ = try endpoint } catch let error as RAGError { throw ValidationError(error.message) }
    }

    /// The server, when one is given.
    var endpoint: RemoteGenerator.Endpoint? {
        get throws {
            guard let url else { return nil }
            return try RemoteGenerator.Endpoint(url: url, model: model, key: key, timeout: timeout, retries: retries)
        }
    }
}
