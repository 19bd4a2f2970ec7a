internal import Foundation
public import RAGCore
internal import Synchronization

/// Runs generations on one model, one at a time, keeping the last session: a prompt that starts
/// with the tokens of the previous one reuses their KV cache. Fixed prefixes the caller marks
/// (`GenerationOptions.keepPrefix`: a template's system text and examples) are kept apart, up to
/// `keptPrefixes` of them, most recently used first, and restored for any prompt that starts
/// with one.
///
/// Decoding is speculative unless a request says otherwise: draft tokens — from the prompt
/// (`PromptLookup`), or from a draft model when one is given — are verified in one forward pass
/// of all of them, and the tokens the model would have chosen itself are kept, so the output is
/// the same as one token at a time (greedy or sampled with the same seed).
public final class Generator: TextGenerator {
    public let model: LanguageModel
    public let contextLength: Int
    public let threads: Int
    public let keptPrefixes: Int
    /// The draft model's file, when one drafts instead of prompt lookup.
    public let draftPath: String?
    private struct State {
        var session: Session?
        var draft: DraftModel?
        var prefixes: PrefixCache
        /// What plain steps and verification rows cost here (what a draft must beat).
        var costs = StepCosts()
    }
    private let state: Mutex<State>

    public init(model: LanguageModel, contextLength: Int = 2048, threads: Int? = nil, keptPrefixes: Int = 8) {
        self.model = model
        self.contextLength = contextLength
        self.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        self.keptPrefixes = keptPrefixes
        draftPath = nil
        state = Mutex(State(prefixes: PrefixCache(capacity: keptPrefixes)))
    }

    /// A generator whose drafts come from `draft`, a smaller model of the same vocabulary
    /// (refused with a clear error otherwise).
    public init(model: LanguageModel, draft: LanguageModel, contextLength: Int = 2048, threads: Int? = nil, keptPrefixes: Int = 8) throws {
        try DraftModel.check(draft, for: model)
        self.model = model
        self.contextLength = contextLength
        self.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        self.keptPrefixes = keptPrefixes
        draftPath = draft.file.path
        state = Mutex(State(
            draft: DraftModel(model: draft, contextLength: min(contextLength, draft.config.contextLength), threads: self.threads),
            prefixes: PrefixCache(capacity: keptPrefixes)))
    }

    /// The prefixes kept (token counts, most recently used first).
    public var keptPrefixLengths: [Int] { state.withLock { $0.prefixes.lengths } }

    public var chatTemplate: ChatTemplate { ChatTemplate(ggufTemplate: model.chatTemplate) }

    public var modelName: String { URL(fileURLWithPath: model.file.path).deletingPathExtension().lastPathComponent }

    public func renderChat(_ messages: [ChatMessage]) -> String { chatTemplate.render(messages) }

    public func tokenize(_ text: String) -> [Int32] { model.tokenizer.encode(text) }

    /// Generates after `prompt` (token ids), calling `emit` with final text pieces as they
    /// come. `cancelled` is polled between batches and tokens.
    public func generate(
        prompt: [Int32], options: GenerationOptions, emit: (String) -> Void = { _ in }, cancelled: @escaping () -> Bool = { false }
    ) throws -> GenerationResult {
        guard !prompt.isEmpty else { throw RAGError(.invalidInput, "the prompt is empty: give at least one token") }
        guard !model.file.changedOnDisk else {
            throw RAGError(.model, "\(model.file.path) changed on disk after it was loaded (written, truncated, replaced or removed); load the model again (restart rag) rather than compute with weights that moved under it")
        }
        guard prompt.count < contextLength else {
            throw RAGError(.invalidInput, "the prompt has \(prompt.count) tokens; the context holds \(contextLength) (prompt and answer together): shorten the prompt or raise --context")
        }
        return try state.withLock { state in
            let session: Session
            if let existing = state.session, existing.contextLength == contextLength {
                session = existing
            } else {
                session = Session(model: model, contextLength: contextLength, threads: threads)
                state.session = session
            }
            return try run(session, prompt: prompt, options: options, state: &state, cancelled: cancelled, emit: emit)
        }
    }

    /// The prompt after the longest prefix already known (the session's history or a kept
    /// prefix), then the answer.
    private func run(
        _ session: Session, prompt: [Int32], options: GenerationOptions, state: inout State,
        cancelled: () -> Bool, emit: (String) -> Void
    ) throws -> GenerationResult {
        let start = DispatchTime.now().uptimeNanoseconds
        let reused = state.prefixes.prepare(session, for: prompt)
        do {
            try session.evaluate(Array(prompt[reused...]), cancelled: cancelled)
            if options.speculate, let draft = state.draft {
                session.rest()
                try draft.follow(prompt)
            }
        } catch {
            session.truncate(to: 0)
            state.draft?.session.truncate(to: 0)
            throw error
        }
        state.prefixes.keep(session, prompt: prompt, count: options.keepPrefix)
        var result = GenerationResult(
            promptTokens: prompt, reusedPromptTokens: reused, tokens: [], text: "", stopReason: .maxTokens,
            timeToFirstToken: 0, promptSeconds: Self.seconds(since: start), decodeSeconds: 0, decodedTokens: 0)
        let budget = min(options.maxTokens, contextLength - prompt.count)
        let constraint = try options.schema.map { try Self.constraint($0, tokenizer: model.tokenizer, budget: budget) }
        state.costs = try withoutActuallyEscaping(emit) { emit in
            var decoder = Decoder(
                generator: self, session: session, options: options, budget: budget,
                draft: options.speculate ? state.draft : nil, costs: state.costs, constraint: constraint, emit: emit)
            try decoder.run(start: start, into: &result, cancelled: cancelled)
            return decoder.costs
        }
        return result
    }

    /// The constraint a schema sets, refused when even its shortest JSON does not fit `budget`.
    static func constraint(_ schema: JSONSchema, tokenizer: BPETokenizer, budget: Int) throws -> TokenConstraint {
        let constraint = TokenConstraint(try JSONGrammar(schema).automaton, tokenizer: tokenizer)
        guard constraint.distance <= budget else {
            throw RAGError(.invalidInput, "the shortest JSON the schema allows takes \(constraint.distance) tokens at worst; the answer may have \(budget): raise the answer's token limit or ask for less")
        }
        return constraint
    }

    /// What the decoder has measured of this machine and model, kept across generations: one
    /// plain step, and what each extra row of a verification pass adds to it.
    struct StepCosts: Sendable {
        /// Seconds of one plain decode step (moving average); nil until one was timed.
        var stepSeconds: Double?
        /// An extra verification row's cost as a share of a plain step (moving average).
        var rowCost = Self.priorRowCost
        /// What a row costs on these machines (one row's weights are read once for all rows).
        static let priorRowCost = 0.35

        /// Each plain step also draws the row cost 2 % back toward the prior: a cost estimate
        /// that a noisy pass pushed up to where no draft pays would otherwise never be measured
        /// again (drafting stays off), and keeps being carried to later requests.
        mutating func plainStep(_ seconds: Double) {
            stepSeconds = stepSeconds.map { 0.8 * $0 + 0.2 * seconds } ?? seconds
            rowCost += 0.02 * (Self.priorRowCost - rowCost)
        }

        /// A verification pass of `rows` rows: observed costs are capped at a whole step a row
        /// (a pass never costs more than its rows one at a time, short of noise).
        mutating func pass(rows: Int, seconds: Double) {
            guard let step = stepSeconds, rows > 1 else { return }
            let observed = min(1, max(0.02, (seconds / step - 1) / Double(rows - 1)))
            rowCost = 0.8 * rowCost + 0.2 * observed
        }
    }

    /// One generation's decode loop: chooses, emits and evaluates tokens until the end of
    /// generation, a stop string, the budget or cancellation — a verified draft at a time where
    /// a draft is worth its pass, else one token at a time.
    private struct Decoder {
        let generator: Generator
        let session: Session
        let options: GenerationOptions
        let budget: Int
        let draft: DraftModel?
        var costs: StepCosts
        /// The grammar the text must follow (structured output), if any.
        var constraint: TokenConstraint?
        /// Tokens taken so far.
        var produced = 0
        var constraintNanoseconds: UInt64 = 0
        let emit: (String) -> Void
        var sampler: Sampler
        var text: TextAssembler
        var lookup = PromptLookup()
        var speculating: Bool
        /// Whether the last match prompt lookup found was declined (drafting had switched off).
        var lastMatchDeclined = false
        /// Seconds and tokens of the draft model's verification passes (its switch-off rule).
        var passSeconds = 0.0, passTokens = 0

        /// Passes after which a draft model that has not beaten plain steps is switched off.
        static let trialPasses = 4

        init(
            generator: Generator, session: Session, options: GenerationOptions, budget: Int, draft: DraftModel?, costs: StepCosts,
            constraint: TokenConstraint?, emit: @escaping (String) -> Void
        ) {
            self.generator = generator
            self.session = session
            self.options = options
            self.budget = budget
            self.draft = draft
            self.costs = costs
            self.constraint = constraint
            self.emit = emit
            sampler = Sampler(options.sampling)
            text = TextAssembler(stop: constraint == nil ? options.stop : [])
            speculating = options.speculate
        }

        var model: LanguageModel { generator.model }

        /// The token chosen from `logits`, with the first `historyCount` tokens as the history;
        /// −1 when a constraint allows none.
        mutating func choose(_ logits: [Float], historyCount: Int) -> Int32 {
            let history = session.history[..<historyCount]
            var logits = logits
            if options.ignoreEndOfGeneration {
                for id in model.tokenizer.endOfGeneration where Int(id) < logits.count { logits[Int(id)] = -.infinity }
            }
            let token = sampler.sample(logits, history: history)
            guard constraint != nil else { return token }
            let start = DispatchTime.now().uptimeNanoseconds
            defer { constraintNanoseconds += DispatchTime.now().uptimeNanoseconds - start }
            let remaining = budget - produced
            if constraint!.allows(token, remaining: remaining) { return token }
            guard constraint!.mask(&logits, remaining: remaining) else { return -1 }
            return sampler.sample(logits, history: history)
        }

        /// Takes a chosen token into the answer; false when the generation ends with it.
        mutating func take(_ token: Int32, into result: inout GenerationResult) -> Bool {
            if token < 0 || model.tokenizer.endOfGeneration.contains(token) { result.stopReason = .endOfGeneration; return false }
            result.tokens.append(token)
            produced += 1
            if let piece = text.append(model.tokenizer.piece(token)) { emit(piece) }
            if text.stopped { result.stopReason = .stopString; return false }
            if constraint != nil {
                constraint!.advance(token)
                if constraint!.complete { result.stopReason = .endOfGeneration; return false }
            }
            if result.tokens.count >= budget { result.stopReason = .maxTokens; return false }
            return true
        }

        /// Draft tokens to follow `next` (at most `limit`) and the lookup's match order (0 for
        /// a draft model); none when speculation is off or no plain step has been timed yet
        /// (the cost rules need that figure).
        mutating func propose(after next: Int32, limit: Int) throws -> (draft: [Int32], order: Int) {
            guard speculating, costs.stepSeconds != nil, limit > 0 else { return ([], 0) }
            let tokens = session.history + [next]
            if let draft {
                session.rest()
                return (try draft.propose(after: tokens, limit: limit), 0)
            }
            let declined = lookup.declined
            let proposal = lookup.propose(tokens, limit: limit, rowCost: costs.rowCost)
            if lookup.declined > declined { lastMatchDeclined = true } else if !proposal.draft.isEmpty { lastMatchDeclined = false }
            return proposal
        }

        mutating func run(start: UInt64, into result: inout GenerationResult, cancelled: () -> Bool) throws {
            result.speculation = SpeculationReport(drafter: !speculating ? "off" : draft.map { URL(fileURLWithPath: $0.model.file.path).deletingPathExtension().lastPathComponent } ?? "prompt-lookup")
            var decodeStart: UInt64 = 0
            var carried: Int32? = nil  // chosen while verifying a draft, not taken yet
            defer {
                if decodeStart > 0 { result.decodeSeconds = Generator.seconds(since: decodeStart) }
                if let rest = text.finish() { emit(rest) }
                result.text = text.text
                result.constraintMasks = constraint?.masks ?? 0
                result.constraintSeconds = Double(constraintNanoseconds) / 1e9
                result.speculation.declined = lookup.declined
                if draft == nil && lastMatchDeclined { result.speculation.switchedOff = true }
            }
            while true {
                if cancelled() { result.stopReason = .cancelled; break }
                let next = carried ?? choose(session.logits, historyCount: session.history.count)
                carried = nil
                if decodeStart == 0 {
                    result.timeToFirstToken = Generator.seconds(since: start)
                    decodeStart = DispatchTime.now().uptimeNanoseconds
                }
                guard take(next, into: &result) else { break }
                let base = session.position
                let (drafted, order) = try propose(after: next, limit: min(budget - result.tokens.count, session.contextLength - base - 1))
                let passStart = DispatchTime.now().uptimeNanoseconds
                guard !drafted.isEmpty else {
                    try session.evaluate([next], cancelled: cancelled)
                    result.decodedTokens += 1
                    costs.plainStep(Generator.seconds(since: passStart))
                    continue
                }
                try session.evaluate([next] + drafted, everyRow: true, cancelled: cancelled)
                // Keep each draft token the model chooses itself; the first it does not choose
                // is its own next token.
                var accepted = 0, finished = false
                for (i, token) in drafted.enumerated() {
                    let chosen = choose(session.rowLogits(i), historyCount: base + 1 + i)
                    guard chosen == token else { carried = chosen; break }
                    let taken = result.tokens.count
                    finished = !take(chosen, into: &result)
                    if result.tokens.count == taken { break }  // an end of generation: not a token of the text
                    accepted += 1
                    if finished { break }
                }
                session.truncate(to: base + 1 + accepted)
                result.decodedTokens += 1 + accepted
                let seconds = Generator.seconds(since: passStart)
                costs.pass(rows: 1 + drafted.count, seconds: seconds)
                lookup.record(order: order, drafted: drafted.count, accepted: accepted)
                record(drafted: drafted.count, accepted: accepted, seconds: seconds, into: &result.speculation)
                if finished { break }
            }
        }

        /// Counts a verification pass; a draft model that after `trialPasses` has not beaten
        /// plain steps in tokens per second is switched off for the rest of the generation.
        mutating func record(drafted: Int, accepted: Int, seconds: Double, into report: inout SpeculationReport) {
            report.passes += 1
            report.drafted += drafted
            report.accepted += accepted
            passSeconds += seconds
            passTokens += 1 + accepted
            guard draft != nil, report.passes >= Self.trialPasses, let step = costs.stepSeconds else { return }
            if Double(passTokens) / passSeconds < 1 / step {
                speculating = false
                report.switchedOff = true
            }
        }
    }

    fileprivate static func seconds(since t: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9 }

    /// The same as a stream of events; cancelling the consuming task (or dropping the stream)
    /// stops the generation at the next token.
    public func stream(prompt: [Int32], options: GenerationOptions) -> AsyncThrowingStream<GenerationEvent, any Error> {
        ThreadStream.make { yield, cancelled in
            let result = try self.generate(prompt: prompt, options: options, emit: { yield(.text($0)) }, cancelled: cancelled)
            yield(.finished(result))
        }
    }
}
