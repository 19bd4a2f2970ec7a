/// Turns texts into unit-length vectors of `dimensions` floats (the capability; the sentence
/// encoder in RAGEmbedding is the real one, `HashingEmbedder` in RAGTesting a twin for tests).
public protocol Embedder: Sendable {
    var dimensions: Int { get }
    /// A name stored with the index, so a change of model is noticed.
    var name: String { get }
    /// Most tokens of one text the model reads; the rest of a longer text is cut.
    var maxTokens: Int { get }
    /// Counts tokens as the model does (chunks are packed against it).
    var tokenCounter: any TokenCounter { get }
    func embed(_ texts: [String]) -> [[Float]]
    /// The vectors and the tokens the model read for them (special tokens included), for usage
    /// reports.
    func embedCountingTokens(_ texts: [String]) -> (vectors: [[Float]], tokens: Int)
}
