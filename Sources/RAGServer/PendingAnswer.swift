internal import RAG
internal import RAGCore

/// A question on its way to an answer (or a conversation on its way to the model's reply):
/// taken from the answer cache, or holding its place at the generator. Decided before any byte
/// of the response is sent, so a full queue is still a 503.
struct PendingAnswer: Sendable {
    enum Work: Sendable {
        /// Answered from the index (`Answerer.ask`), the cache consulted; after earlier turns,
        /// made to stand alone first.
        case question(String, showReasoning: Bool, lookup: Answerer.CacheLookup, turns: [ChatMessage])
        /// Replied to by the model alone (`Answerer.converse`).
        case conversation([ChatMessage])
    }

    let state: ServerState
    let work: Work
    let options: AskOptions
    let ticket: GenerationQueue.Ticket?

    /// Runs the generation (unless cached), handing answer text to `onText` as it comes. When
    /// `onText` throws (the client went away) the generation stops at its next token.
    func run(_ onText: (String) async throws -> Void) async throws -> AskResult {
        defer { ticket?.release() }
        let events: AsyncThrowingStream<AskEvent, any Error>
        switch work {
        case .question(let question, let showReasoning, let lookup, let turns):
            if let hit = lookup.hit {
                try await onText(hit.answer)
                return hit
            }
            events = state.answerer.stream(question, options: options, showReasoning: showReasoning, lookup: lookup, after: turns)
        case .conversation(let messages):
            events = state.answerer.converse(messages, options: options)
        }
        let metrics = state.metrics
        var result: AskResult?
        do {
            for try await event in events {
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
