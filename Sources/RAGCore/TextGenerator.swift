/// Writes text after a prompt, token by token (the capability; the GGUF engine in RAGLLM is the
/// local one, `RemoteGenerator` in RAGRemote calls an OpenAI-compatible server, `ScriptedGenerator`
/// in RAGTesting is a twin for tests). `parallel` generations at a time (one unless it says more).
public protocol TextGenerator: Sendable {
    /// The model's name as users see it (the file's base name for a GGUF model).
    var modelName: String { get }
    /// Tokens the prompt and the answer share.
    var contextLength: Int { get }
    /// Generations it runs at the same time (more callers wait for a turn).
    var parallel: Int { get }
    /// The conversation as the model's chat template writes it, ending with the assistant's turn.
    func renderChat(_ messages: [ChatMessage]) -> String
    /// The model's token ids of a prompt (special tokens parsed).
    func tokenize(_ text: String) -> [Int32]
    /// Generates after `prompt`, handing `emit` each piece of final text; stops when `cancelled`
    /// says so (the result's stop reason is then `.cancelled`).
    func generate(
        prompt: [Int32], options: GenerationOptions, emit: (String) -> Void, cancelled: @escaping () -> Bool
    ) throws -> GenerationResult
    /// Generates the assistant's turn after `messages`: what the answerer calls. A generator that
    /// runs the model itself writes them with its chat template and generates after the tokens
    /// (the default); a remote one sends the turns as they are.
    func generate(
        chat messages: [ChatMessage], options: GenerationOptions, emit: (String) -> Void, cancelled: @escaping () -> Bool
    ) throws -> GenerationResult
}

extension TextGenerator {
    public var parallel: Int { 1 }

    public func generate(
        chat messages: [ChatMessage], options: GenerationOptions, emit: (String) -> Void, cancelled: @escaping () -> Bool
    ) throws -> GenerationResult {
        try generate(prompt: tokenize(renderChat(messages)), options: options, emit: emit, cancelled: cancelled)
    }
}
