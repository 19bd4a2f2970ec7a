public import RAGCore
internal import Foundation

/// ChatML, rendered by our code (no Jinja): `<|im_start|>role\ncontent<|im_end|>\n` per turn, then
/// `<|im_start|>assistant\n` as the generation prompt. When the conversation has no system turn,
/// the model's default system message is used — the one its GGUF template writes (Qwen2.5's
/// "You are Qwen, …", SmolLM2's "You are a helpful AI assistant named SmolLM, …").
public struct ChatTemplate: Sendable {
    public let defaultSystem: String?

    public init(defaultSystem: String?) {
        self.defaultSystem = defaultSystem
    }

    /// Reads the default system message out of a GGUF `tokenizer.chat_template` (the literal
    /// between `<|im_start|>system\n` and `<|im_end|>` in the template's else-branch).
    public init(ggufTemplate: String?) {
        guard let template = ggufTemplate else {
            defaultSystem = nil
            return
        }
        var found: String? = nil
        for marker in ["<|im_start|>system\\n", "<|im_start|>system\n"] {
            var rest = template[...]
            while let start = rest.range(of: marker) {
                rest = rest[start.upperBound...]
                guard let end = rest.range(of: "<|im_end|>") else { break }
                let literal = String(rest[..<end.lowerBound])
                // A Jinja expression (messages[0]['content'] …) is not a literal default.
                if !literal.contains("{{") && !literal.contains("'") && !literal.contains("+") {
                    found = literal.replacingOccurrences(of: "\\n", with: "\n")
                    break
                }
            }
            if found != nil { break }
        }
        defaultSystem = found
    }

    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        if messages.first?.role != .system, let defaultSystem {
            out += "<|im_start|>system\n\(defaultSystem)<|im_end|>\n"
        }
        for m in messages { out += "<|im_start|>\(m.role.rawValue)\n\(m.content)<|im_end|>\n" }
        if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        return out
    }
}
