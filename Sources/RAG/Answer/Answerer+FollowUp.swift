internal import Foundation
public import RAGCore

extension Answerer {
    /// The last question of a conversation made to stand alone, for retrieval: "and how much
    /// memory does it save?" after a turn about the KV cache becomes a question about the KV
    /// cache. The model writes it with the `_rewrite` template (a short greedy generation, one
    /// line) from the recent turns; the first question of a conversation is returned as it is.
    /// A rewrite that still leans on the conversation (the model left "it" or "those" in it, or
    /// wrote nothing) is searched with the recent user questions before it, so that retrieval
    /// sees what it refers to.
    public func standalone(_ question: String, after turns: [ChatMessage], cancelled: @escaping () -> Bool = { false }) throws -> String {
        let earlier = turns.filter { $0.role != .system && !$0.content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        guard earlier.contains(where: { $0.role == .user }) else { return question }
        // The last six turns, each cut to 600 characters: enough to resolve a reference, small
        // next to any context.
        // An answer's citation markers point to sources the rewrite does not see: left out.
        let recent = earlier.suffix(6).map { turn in
            let text = turn.role == .assistant ? turn.content.replacingOccurrences(of: #"\s?\[\d+\]"#, with: "", options: .regularExpression) : turn.content
            return ChatMessage(turn.role, String(text.prefix(600)))
        }
        let (system, user) = try templates.render("_rewrite", question: question, sources: [], turns: recent)
        let result = try generator.generate(
            chat: [ChatMessage(.system, system), ChatMessage(.user, user)], options: GenerationOptions(maxTokens: 64, stop: ["\n"]),
            emit: { _ in }, cancelled: cancelled)
        var rewritten = result.text.trimmingCharacters(in: .whitespacesAndNewlines)
        if rewritten.lowercased().hasPrefix("rewritten question:") { rewritten = String(rewritten.dropFirst(19)) }
        rewritten = rewritten.trimmingCharacters(in: CharacterSet(charactersIn: "\"“” ").union(.whitespaces))
        if rewritten.isEmpty || result.stopReason == .cancelled { rewritten = question }
        guard Self.leansOnTheConversation(rewritten) else { return rewritten }
        let asked = recent.filter { $0.role == .user }.suffix(3).map { $0.content.trimmingCharacters(in: .whitespacesAndNewlines) }
        return (asked + [rewritten]).joined(separator: " ")
    }

    /// Words that point into the conversation (English): a question that still holds one after
    /// the rewrite did not get what it refers to.
    static let references: Set<String> = [
        "it", "its", "they", "them", "their", "this", "that", "these", "those", "one", "ones", "there",
        "he", "she", "him", "his", "her", "former", "latter", "other", "others", "instead", "again", "same", "thing",
    ]

    /// Whether `question` holds a word of `references`.
    static func leansOnTheConversation(_ question: String) -> Bool {
        question.lowercased().split { !$0.isLetter && $0 != "'" }.contains { word in
            references.contains(word.hasSuffix("'s") ? String(word.dropLast(2)) : String(word))
        }
    }
}
