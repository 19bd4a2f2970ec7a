internal import RAG
internal import RAGCore

/// A question on its way to an answer: taken from the answer cache, or holding its place at the
/// generator. Decided before any byte of the response is sent, so a full queue is still a 503.
struct PendingAnswer: Sendable {
    let state: ServerState
    let question: String
    let options: AskOptions
    let showReasoning: Bool
    let lookup: Answerer.CacheLookup
    let ticket: GenerationQueue.Ticket?

    /// Runs the generation (unless cached), handing answer text to `onText` as it comes. When
    /// `onText` throws (the client went away) the generation stops at its next token.
    func run(_ onText: (String) async throws -> Void) async throws -> AskResult {
        defer { ticket?.release() }
        if let hit = lookup.hit {
            try await onText(hit.answer)
            return hit
        }
        let metrics = state.metrics
        var result: AskResult?
        do {
            for try await event in state.answerer.stream(question, options: options, showReasoning: showReasoning, lookup: lookup) {
                switch event {
                case .text(let text): try await onText(text)
                case .finished(let finished): result = finished
                }
            }
        } catch let error where !(error is RAGError) && !(error is APIError) {
            metrics.cancelledByClient()
            throw error
        }
        guard let result, result.generation?.stopReason != .cancelled else {
            // No answer, or one cut short: this task was cancelled (the client hung up).
            metrics.cancelledByClient()
            throw CancellationError()
        }
        metrics.retrieved(milliseconds: result.retrieveMilliseconds)
        if let g = result.generation {
            metrics.generated(prefillPerSecond: g.promptTokensPerSecond, decodePerSecond: g.decodeTokensPerSecond, firstToken: g.timeToFirstToken)
        }
        return result
    }
}
