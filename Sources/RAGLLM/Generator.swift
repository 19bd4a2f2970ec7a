internal import Foundation
public import RAGCore
internal import Synchronization

/// Runs generations on one model, up to `parallel` at once, each on a slot (a session with its
/// own KV cache) and all decoded together: every forward pass takes the pending tokens of every
/// running generation (`BatchScheduler`), so the weights are read once for all of them, and a
/// new prompt is taken in chunks between their tokens. A prompt that starts with the tokens a
/// slot holds reuses their KV cache (a generation takes the free slot that shares the most).
/// Fixed prefixes the caller marks (`GenerationOptions.keepPrefix`: a template's system text
/// and examples) are kept apart, up to `keptPrefixes` of them, most recently used first, and
/// restored into any slot for any prompt that starts with one.
///
/// Decoding is speculative unless a request says otherwise: draft tokens — from the prompt
/// (`PromptLookup`), or from a draft model when one is given — are verified in one forward pass
/// of all of them, and the tokens the model would have chosen itself are kept, so the output is
/// the same as one token at a time (greedy or sampled with the same seed). While other
/// generations share the passes, a generation drafts at most `draftLimitWhileBatched` tokens.
public final class Generator: TextGenerator {
    public let model: LanguageModel
    public let contextLength: Int
    /// How the slots' KV caches store keys and values.
    public let kvType: KVCacheType
    public let threads: Int
    public let keptPrefixes: Int
    /// Generations that may run at once (slots).
    public let parallel: Int
    /// The draft model's file, when one drafts instead of prompt lookup.
    public let draftPath: String?
    private let draft: DraftModel?
    private let slots: SlotPool
    let scheduler: BatchScheduler
    private struct State {
        var prefixes: PrefixCache
        /// What plain steps and verification rows cost here (what a draft must beat).
        var costs = StepCosts()
    }
    private let state: Mutex<State>

    /// Prompt tokens a pass takes while other generations decode (chunked prefill).
    public static let prefillChunk = 16
    /// Most draft tokens a generation verifies in a pass it shares with others (their rows
    /// already fill the pass: a rejected draft row costs what another sequence's token would).
    static let draftLimitWhileBatched = 4

    /// `skippedLayersAtDecode`: blocks each decode step leaves out (layer skipping; see
    /// `Session.skippedLayersAtDecode`).
    public convenience init(
        model: LanguageModel, contextLength: Int = 2048, threads: Int? = nil, keptPrefixes: Int = 8, parallel: Int = 1, kvType: KVCacheType = .f16,
        skippedLayersAtDecode: Set<Int> = []
    ) {
        self.init(
            model: model, draft: nil, contextLength: contextLength, threads: threads, keptPrefixes: keptPrefixes, parallel: parallel, kvType: kvType,
            skippedLayersAtDecode: skippedLayersAtDecode)
    }

    /// A generator whose drafts come from `draft`, a smaller model of the same vocabulary
    /// (refused with a clear error otherwise). One generation at a time: the draft model runs
    /// between the target's passes on the same cores.
    public convenience init(
        model: LanguageModel, draft: LanguageModel, contextLength: Int = 2048, threads: Int? = nil, keptPrefixes: Int = 8, kvType: KVCacheType = .f16
    ) throws {
        try DraftModel.check(draft, for: model)
        self.init(
            model: model, draft: draft, contextLength: contextLength, threads: threads, keptPrefixes: keptPrefixes, parallel: 1, kvType: kvType,
            skippedLayersAtDecode: [])
    }

    private init(
        model: LanguageModel, draft: LanguageModel?, contextLength: Int, threads: Int?, keptPrefixes: Int, parallel: Int, kvType: KVCacheType,
        skippedLayersAtDecode: Set<Int>
    ) {
        self.model = model
        self.kvType = kvType
        self.contextLength = contextLength
        let threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        self.threads = threads
        self.keptPrefixes = keptPrefixes
        self.parallel = max(1, parallel)
        draftPath = draft?.file.path
        self.draft = draft.map { DraftModel(model: $0, contextLength: min(contextLength, $0.config.contextLength), threads: threads) }
        // Slot 0 runs every pass on the threads; the others hold a KV cache and a token's buffers.
        let slots = SlotPool(count: self.parallel) { index in
            let session =
                index == 0
                ? Session(model: model, contextLength: contextLength, threads: threads, kvType: kvType)
                : Session(model: model, contextLength: contextLength, batchSize: 1, threads: 1, kvType: kvType)
            session.skippedLayersAtDecode = skippedLayersAtDecode
            return session
        }
        self.slots = slots
        scheduler = BatchScheduler(engine: { slots.engine }, chunk: Self.prefillChunk)
        state = Mutex(State(prefixes: PrefixCache(capacity: keptPrefixes)))
    }

    /// Refuses, with what to do, a context longer than the model was trained on, or KV caches
    /// (one per slot) that would take more than half of this machine's memory.
    public static func check(model: LanguageModel, contextLength: Int, parallel: Int = 1, kvType: KVCacheType = .f16) throws {
        let trained = model.config.contextLength
        guard contextLength <= trained else {
            throw RAGError(.invalidInput, "a context of \(contextLength) tokens is longer than the \(trained) \(model.file.path) was trained on: give --context \(trained) or less")
        }
        guard kvType == .f16 || model.config.headDimension % 32 == 0 else {
            throw RAGError(.unsupported, "\(model.file.path) has heads of \(model.config.headDimension) values, not whole Q8_0 blocks of 32: use --kv-type f16")
        }
        let bytes = Session.cacheBytes(model: model, contextLength: contextLength, kvType: kvType) * max(1, parallel)
        let memory = ProcessInfo.processInfo.physicalMemory
        guard UInt64(bytes) <= memory / 2 else {
            let gib = { (b: UInt64) in String(format: "%.1f GiB", Double(b) / 1_073_741_824) }
            throw RAGError(.invalidInput, "\(max(1, parallel)) KV cache\(parallel > 1 ? "s" : "") of \(contextLength) tokens (\(kvType.rawValue)) would take \(gib(UInt64(bytes))), more than half of this machine's \(gib(memory)): lower --context\(parallel > 1 ? " or --parallel" : "")\(kvType == .f16 ? ", or use --kv-type q8_0" : "")")
        }
    }

    /// The prefixes kept (token counts, most recently used first).
    public var keptPrefixLengths: [Int] { state.withLock { $0.prefixes.lengths } }

    /// Forward passes run so far, the rows in them, and the most rows one pass held.
    public var passCounters: (passes: Int, rows: Int, widest: Int) { scheduler.counters }

    public var chatTemplate: ChatTemplate { ChatTemplate(ggufTemplate: model.chatTemplate) }

    public var modelName: String { URL(fileURLWithPath: model.file.path).deletingPathExtension().lastPathComponent }

    public func renderChat(_ messages: [ChatMessage]) -> String { chatTemplate.render(messages) }

    public func tokenize(_ text: String) -> [Int32] { model.tokenizer.encode(text) }

    /// Generates after `prompt` (token ids), calling `emit` with final text pieces as they
    /// come. `cancelled` is polled between passes and tokens. Blocks for a free slot when
    /// `parallel` generations are running.
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
        let slot = try slots.acquire(for: prompt, cancelled: cancelled)
        defer { slots.release(slot.index) }
        return try run(slot.session, prompt: prompt, options: options, cancelled: cancelled, emit: emit)
    }

    /// The prompt after the longest prefix already known (the slot's history or a kept
    /// prefix), then the answer.
    private func run(
        _ session: Session, prompt: [Int32], options: GenerationOptions, cancelled: () -> Bool, emit: (String) -> Void
    ) throws -> GenerationResult {
        let start = DispatchTime.now().uptimeNanoseconds
        let reused = state.withLock { $0.prefixes.prepare(session, for: prompt) }
        scheduler.begin()
        defer { scheduler.end() }
        do {
            try scheduler.evaluate(Session.BatchItem(session, Array(prompt[reused...])), prompt: true, cancelled: cancelled)
            if options.speculate, let draft {
                scheduler.engine.rest()
                try draft.follow(prompt)
            }
        } catch {
            session.truncate(to: 0)
            draft?.session.truncate(to: 0)
            throw error
        }
        let costs = state.withLock { state in
            state.prefixes.keep(session, prompt: prompt, count: options.keepPrefix)
            return state.costs
        }
        var result = GenerationResult(
            promptTokens: prompt, reusedPromptTokens: reused, tokens: [], text: "", stopReason: .maxTokens,
            timeToFirstToken: 0, promptSeconds: Self.seconds(since: start), decodeSeconds: 0, decodedTokens: 0)
        let budget = min(options.maxTokens, contextLength - prompt.count)
        let constraint = try options.schema.map { try Self.constraint($0, tokenizer: model.tokenizer, budget: budget) }
        let measured = try withoutActuallyEscaping(emit) { emit in
            var decoder = Decoder(
                generator: self, session: session, options: options, budget: budget,
                draft: options.speculate ? draft : nil, costs: costs, constraint: constraint, emit: emit)
            try decoder.run(start: start, into: &result, cancelled: cancelled)
            return decoder.costs
        }
        state.withLock { $0.costs = measured }
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

        /// Whether this is the only generation running (no other sequence shares the passes).
        var alone: Bool { generator.scheduler.runningCount == 1 }

        /// Evaluates `tokens` after the session's, in the scheduler's next pass (not cancelled
        /// while waiting for it: a pass is short, and the loop's check ends the generation with
        /// what it has).
        func evaluate(_ tokens: [Int32], everyRow: Bool = false) throws {
            try generator.scheduler.evaluate(Session.BatchItem(session, tokens, logits: everyRow ? .everyRow : .last))
        }

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
            let alone = self.alone
            let limit = alone ? limit : min(limit, Generator.draftLimitWhileBatched)
            guard speculating, costs.stepSeconds != nil, limit > 0 else { return ([], 0) }
            let tokens = session.history + [next]
            if let draft {
                generator.scheduler.engine.rest()
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
                    let shared = !alone
                    try evaluate([next])
                    result.decodedTokens += 1
                    // A step shared with other sequences is not what a plain step costs alone.
                    if !shared && alone { costs.plainStep(Generator.seconds(since: passStart)) }
                    continue
                }
                try evaluate([next] + drafted, everyRow: true)
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
                if alone { costs.pass(rows: 1 + drafted.count, seconds: seconds) }
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
