internal import Foundation

/// Holds back a chain-of-thought answer's reasoning: passes through only what follows the last
/// "Answer:" seen so far (or everything, when told to).
struct AnswerFilter {
    let passThrough: Bool
    private var buffer = ""
    private var emitted = 0

    init(passThrough: Bool) { self.passThrough = passThrough }

    mutating func feed(_ piece: String) -> String? {
        if passThrough { return piece }
        buffer += piece
        guard let range = buffer.range(of: "Answer:", options: .backwards) else { return nil }
        let after = String(buffer[range.upperBound...])
        // Text after the marker; a marker still arriving ("Ans") is not emitted early.
        let trimmed = String(after.drop { $0 == " " })
        let all = Array(trimmed)
        guard all.count > emitted else { return nil }
        let out = String(all[emitted...])
        emitted = all.count
        return out
    }

    mutating func finish() -> String? {
        guard !passThrough, emitted == 0 else { return nil }
        let answer = Self.finalAnswer(buffer)
        return answer.isEmpty ? nil : answer
    }

    /// The text after the last "Answer:", or the last non-empty line when there is none.
    static func finalAnswer(_ text: String) -> String {
        if let range = text.range(of: "Answer:", options: .backwards) {
            return text[range.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return text.split(separator: "\n").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
    }
}
