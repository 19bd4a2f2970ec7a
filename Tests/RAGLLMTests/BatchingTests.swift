import Foundation
import RAGCore
@testable import RAGLLM
import RAGTesting
import Testing

/// Continuous batching on the real models: sequences decoded in one step, each at its own
/// position over its own cache, get bit for bit the logits each gets alone, whoever joins or
/// leaves between steps.
@Suite(.onTestThreads, .serialized, .enabled(if: ModelFiles.haveGenerators, "needs the three generators (make models)")) struct BatchedDecodingTests {
    static let texts = SpeculativeDecodingTests.prompts + ["Name three colours of the rainbow."]
    static let steps = 10

    /// The greedy continuation of each prompt decoded alone, and the logits after each of its tokens.
    static func alone(_ model: LanguageModel, _ prompts: [[Int32]]) throws -> (tokens: [[Int32]], logits: [[[Float]]]) {
        var tokens: [[Int32]] = [], logits: [[[Float]]] = []
        for prompt in prompts {
            let session = Session(model: model, contextLength: 512)
            try session.evaluate(prompt)
            var chosen: [Int32] = [], after: [[Float]] = []
            for _ in 0..<steps {
                let token = Int32(session.logits.indices.max { session.logits[$0] < session.logits[$1] }!)
                chosen.append(token)
                try session.evaluate([token])
                after.append(session.logits)
            }
            tokens.append(chosen)
            logits.append(after)
        }
        return (tokens, logits)
    }

    @Test(arguments: Reference.all)
    func sequencesDecodedTogetherGetTheLogitsTheyGetAlone(model name: String) throws {
        let model = try #require(SpeculativeDecodingTests.models[name])
        let prompts = Self.texts.map { model.tokenizer.encode($0) }
        #expect(Set(prompts.map(\.count)).count == prompts.count, "the prompts should differ in length")
        let (tokens, logits) = try Self.alone(model, prompts)

        // A runner with no sequence of its own steps them: the third joins after three steps,
        // the first leaves after six.
        let runner = Session(model: model, contextLength: 512)
        let sessions = prompts.map { _ in Session(model: model, contextLength: 512) }
        for (session, prompt) in zip(sessions, prompts) { try session.evaluate(prompt) }
        var done = [Int](repeating: 0, count: prompts.count)
        var steps = 0, widest = 0
        while true {
            let active = prompts.indices.filter { i in done[i] < Self.steps && (i != 2 || steps >= 3) && (i != 0 || steps < 6) }
            if active.isEmpty { break }
            try runner.decode(active.map { sessions[$0] }, tokens: active.map { tokens[$0][done[$0]] })
            for i in active {
                #expect(sessions[i].logits == logits[i][done[i]], "\(name): sequence \(i), token \(done[i]) of a step of \(active.count)")
                done[i] += 1
            }
            widest = max(widest, active.count)
            steps += 1
        }
        #expect(widest == prompts.count)
        #expect(sessions[1].history == prompts[1] + tokens[1] && sessions[0].position == prompts[0].count + 6)

        // The left sequence goes on alone, and a session steps itself with others.
        try sessions[0].decode([sessions[1], sessions[0]], tokens: [7, tokens[0][6]])
        #expect(sessions[0].logits == logits[0][6])
        try sessions[0].evaluate([tokens[0][7]])
        #expect(sessions[0].logits == logits[0][7])
    }

    /// The caches and attentions a session can run: "KV type/attention".
    static let setups = ["f16/tiled", "q8_0/tiled", "f16/standard"]

    /// A pass that holds one sequence's chunk of prompt, another's next token and a third's
    /// draft to verify gives each what its own evaluation gives: the last logits, and every
    /// row's for the draft; with every cache type and attention.
    @Test(arguments: Reference.all, setups)
    func aChunkOfPromptATokenAndADraftShareOnePass(model name: String, setup: String) throws {
        let model = try #require(SpeculativeDecodingTests.models[name])
        let parts = setup.split(separator: "/").map(String.init)
        let (kvType, attention) = (try #require(KVCacheType(rawValue: parts[0])), try #require(Session.Attention(rawValue: parts[1])))
        func session() -> Session { Session(model: model, contextLength: 512, kvType: kvType, attention: attention) }
        let prompts = Self.texts.prefix(3).map { model.tokenizer.encode($0) }
        let alone = prompts.map { _ in session() }
        let together = prompts.map { _ in session() }
        // The first's prompt in two parts (the second part shares the pass), the others whole.
        let split = prompts[0].count / 2
        try alone[0].evaluate(prompts[0])
        try together[0].evaluate(Array(prompts[0][..<split]))
        for i in 1..<3 {
            try alone[i].evaluate(prompts[i])
            try together[i].evaluate(prompts[i])
        }
        let next = Sampler.argmax(alone[1].logits)
        let draft: [Int32] = [Sampler.argmax(alone[2].logits), 17, 4]
        try alone[1].evaluate([next])
        try alone[2].evaluate(draft, everyRow: true)
        let runner = session()
        try runner.evaluate([
            Session.BatchItem(together[0], Array(prompts[0][split...])),
            Session.BatchItem(together[1], [next]),
            Session.BatchItem(together[2], draft, logits: .everyRow),
        ])
        for i in 0..<3 {
            #expect(together[i].logits == alone[i].logits, "\(name): sequence \(i)")
            #expect(together[i].history == alone[i].history && together[i].position == alone[i].position)
        }
        for row in 0..<draft.count { #expect(together[2].rowLogits(row) == alone[2].rowLogits(row), "\(name): draft row \(row)") }
        // A sequence that asks for no logits moves on all the same.
        try runner.evaluate([Session.BatchItem(together[1], [5, 6], logits: .none)])
        #expect(together[1].position == alone[1].position + 2)
    }

    @Test func aStepBeyondTheContextOrOutsideTheVocabularyIsAClearError() throws {
        let model = try #require(SpeculativeDecodingTests.models[Reference.smolLM2])
        let runner = Session(model: model, contextLength: 8), full = Session(model: model, contextLength: 8), other = Session(model: model, contextLength: 8)
        try full.evaluate([Int32](repeating: 1, count: 8))
        #expect(throws: RAGError.self) { try runner.decode([other, full], tokens: [1, 1]) }
        #expect(throws: RAGError.self) { try runner.decode([other], tokens: [Int32(model.config.vocabSize)]) }
        // Nothing moved.
        #expect(other.position == 0 && full.position == 8)
    }
}
