public import Foundation

/// Where `make models` keeps the weights: `$RAG_MODELS_DIR`, else
/// `${XDG_CACHE_HOME:-~/.cache}/rag/models`.
public enum ModelCache {
    public static var directory: String {
        let environment = ProcessInfo.processInfo.environment
        return environment["RAG_MODELS_DIR"] ?? ((environment["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/rag/models")
    }
}
