internal import Foundation
public import RAGCore

/// The generators `make models` fetches, by the names `--model` takes: `small` (SmolLM2-135M,
/// for tests and quick runs), `base` (Qwen2.5-Coder-0.5B) and `default` or `large`
/// (Qwen2.5-Coder-1.5B, the answerer). A value with a slash or ending in `.gguf` is a path.
public enum ModelCatalog {
    public struct Entry: Sendable {
        /// The name `--model` takes, then its other names.
        public let names: [String]
        public let file: String
        public let sha256: String
        public let summary: String

        /// Where `make models` puts it.
        public var path: String { ModelCache.directory + "/gguf/" + file }
    }

    public static let entries = [
        Entry(names: ["small"], file: "SmolLM2-135M-Instruct.Q4_1.gguf",
              sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", summary: "SmolLM2-135M-Instruct Q4_1: tests, quick runs"),
        Entry(names: ["base"], file: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
              sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", summary: "Qwen2.5-Coder-0.5B-Instruct Q4_K_M: faster, weaker answers; a draft for large"),
        Entry(names: ["large", "default"], file: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
              sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", summary: "Qwen2.5-Coder-1.5B-Instruct Q4_K_M: the default answerer"),
    ]

    /// The names `--model` accepts, for messages.
    public static var names: [String] { ["small", "base", "default", "large"] }

    /// The catalog entry of a name, if it is one.
    public static func entry(named name: String) -> Entry? {
        entries.first { $0.names.contains(name.lowercased()) }
    }

    /// The file a `--model` value means: a catalog name's file in the model cache, or the value
    /// itself when it looks like a path. An unknown bare word is an error that lists the names.
    public static func path(for value: String) throws -> String {
        if let entry = entry(named: value) { return entry.path }
        if value.contains("/") || value.lowercased().hasSuffix(".gguf") { return value }
        throw RAGError(.invalidInput, "\"\(value)\" is neither a model name (\(names.joined(separator: ", "))) nor a .gguf file; `rag model list` shows what is in the cache")
    }

    /// The default generator: `$RAG_GENERATOR` (a name or a path), else `default`.
    public static var defaultPath: String {
        let environment = ProcessInfo.processInfo.environment
        if let value = environment["RAG_GENERATOR"], !value.isEmpty { return (try? path(for: value)) ?? value }
        return entry(named: "default")!.path
    }

    /// Whether `make models` verified the file as it is now: its marker holds the catalog's
    /// sha256 and the file's present size (a file changed since is not verified).
    public static func isVerified(_ entry: Entry) -> Bool {
        let marker = entry.path + ".verified"
        guard let text = try? String(contentsOfFile: marker, encoding: .utf8),
              let size = (try? FileManager.default.attributesOfItem(atPath: entry.path))?[.size] as? Int
        else { return false }
        return text.trimmingCharacters(in: .whitespacesAndNewlines) == "\(entry.sha256) \(size)"
    }
}
