import Foundation
import RAGCore
@testable import RAGLLM
import RAGTesting
import Testing

@Suite(.onTestThreads) struct PromptLookupTests {
    @Test func findsWhatFollowedTheLongestRecentMatch() throws {
        let lookup = PromptLookup(longestMatch: 3, maxDraft: 10)
        // "7 8 9" occurred before, followed by 10 11 12 13; "8 9" alone later, followed by 99.
        let tokens: [Int32] = [1, 7, 8, 9, 10, 11, 12, 13, 2, 8, 9, 99, 3, 7, 8, 9]
        let three = try #require(lookup.match(tokens))
        #expect(three.order == 3 && Array(three.continuation) == [10, 11, 12, 13, 2, 8, 9, 99, 3, 7])
        // No three-token match: the two-token one, the most recent occurrence.
        let two = try #require(lookup.match([8, 9, 99, 5, 8, 9]))
        #expect(two.order == 2 && Array(two.continuation) == [99, 5, 8, 9])
        #expect(lookup.match([1, 2, 3]) == nil)
        #expect(lookup.match([4]) == nil)
    }

    /// The draft length maximises expected tokens per unit of pass cost: long when drafts of an
    /// order have been accepted, none when they keep being rejected or rows are expensive.
    @Test func theDraftLengthIsACostDecisionPerMatchOrder() {
        var lookup = PromptLookup(longestMatch: 3, maxDraft: 10)
        #expect(lookup.acceptance(order: 3) == 0.5)
        #expect(lookup.draftLength(order: 3, available: 10, rowCost: 0.3) == 1)
        #expect(lookup.draftLength(order: 3, available: 10, rowCost: 0.6) == 0)
        for _ in 0..<5 { lookup.record(order: 3, drafted: 8, accepted: 8) }
        #expect(lookup.acceptance(order: 3) > 0.95)
        #expect(lookup.draftLength(order: 3, available: 10, rowCost: 0.3) == 10)
        #expect(lookup.draftLength(order: 3, available: 4, rowCost: 0.3) == 4)
        // Order 1 keeps failing: it stops being drafted, order 3 still is.
        for _ in 0..<3 { lookup.record(order: 1, drafted: 1, accepted: 0) }
        #expect(lookup.draftLength(order: 1, available: 10, rowCost: 0.3) == 0)
        let tokens: [Int32] = [5, 1, 2, 3, 4, 6, 7, 8, 9, 1, 2, 3]
        #expect(lookup.propose(tokens, limit: 3, rowCost: 0.3).draft == [4, 6, 7])
        #expect(lookup.propose([5, 6, 7, 5], limit: 3, rowCost: 0.3).draft.isEmpty)
        #expect(lookup.declined == 1)
    }
}

/// Speculative decoding on the real models: verifying a draft in one pass must give each row
/// exactly the logits of one token at a time, so the output is the plain decoder's, token for
/// token.
@Suite(.onTestThreads, .serialized, .enabled(if: ModelFiles.haveGenerators, "needs the three generators (make models)")) struct SpeculativeDecodingTests {
    static let models: [String: LanguageModel] = {
        var out: [String: LanguageModel] = [:]
        for name in Reference.all { out[name] = try! LanguageModel(path: Reference.path(name)) }
        return out
    }()

    /// A RAG prompt whose answer copies its source (drafts get accepted) and a prose one.
    static let prompts = [
        """
        Answer from the source and cite it as [1].

        [1] The Harbor service keeps its vector index in the same SQLite file as the chunks, in a table of graph pages, and rebuilds the graph incrementally when documents change.

        Question: Where does the Harbor service keep its vector index, and when does it rebuild the graph?
        """,
        "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    ]

    @Test(arguments: Reference.all)
    func aVerificationPassGivesEachRowTheLogitsOfOneTokenAtATime(model name: String) throws {
        let model = try #require(Self.models[name])
        let prompt = model.tokenizer.encode(Self.prompts[0])
        let continuation = Array(model.tokenizer.encode(" The index is kept in the same SQLite file, in graph pages.").prefix(11))
        let single = Session(model: model, contextLength: 512), batched = Session(model: model, contextLength: 512)
        try single.evaluate(prompt)
        try batched.evaluate(prompt)
        try batched.evaluate(continuation, everyRow: true)
        for (i, token) in continuation.enumerated() {
            try single.evaluate([token])
            #expect(batched.rowLogits(i) == single.logits, "\(name): row \(i) of \(continuation.count)")
        }
        #expect(batched.logits == single.logits)
        // Cut back to three tokens of the draft and go on: the cache holds what one token at a
        // time would have left.
        batched.truncate(to: prompt.count + 3)
        let reference = Session(model: model, contextLength: 512)
        try reference.evaluate(prompt + continuation.prefix(3) + [continuation[0]])
        try batched.evaluate([continuation[0]])
        #expect(batched.logits == reference.logits, "\(name): after a rollback")
    }

    @Test(arguments: Reference.all)
    func speculativeOutputIsPlainOutputTokenForToken(model name: String) throws {
        let model = try #require(Self.models[name])
        let generator = Generator(model: model, contextLength: 1024)
        var accepted = 0
        for text in Self.prompts {
            let prompt = model.tokenizer.encode(generator.renderChat([ChatMessage(.user, text)]))
            for sampling in [SamplingOptions(temperature: 0), SamplingOptions(temperature: 0.8, seed: 11)] {
                let plain = try generator.generate(prompt: prompt, options: GenerationOptions(maxTokens: 48, sampling: sampling, speculate: false))
                let fast = try generator.generate(prompt: prompt, options: GenerationOptions(maxTokens: 48, sampling: sampling))
                #expect(fast.tokens == plain.tokens, "\(name), temperature \(sampling.temperature): \(fast.text.debugDescription) vs \(plain.text.debugDescription)")
                #expect(fast.text == plain.text)
                #expect(plain.speculation.drafter == "off" && fast.speculation.drafter == "prompt-lookup")
                #expect(fast.speculation.accepted <= fast.speculation.drafted)
                accepted += fast.speculation.accepted
            }
        }
        // The answer that copies its source accepts drafts (else this test would not test them).
        #expect(accepted > 0, "\(name): no draft token was accepted")
    }

    @Test func aDraftModelGivesTheSameOutputAndADraftOfAnotherVocabularyIsRefused() throws {
        let target = try #require(Self.models[Reference.qwenLarge]), draft = try #require(Self.models[Reference.qwen])
        let generator = try Generator(model: target, draft: draft, contextLength: 1024)
        let prompt = target.tokenizer.encode(generator.renderChat([ChatMessage(.user, Self.prompts[0])]))
        let plain = try generator.generate(prompt: prompt, options: GenerationOptions(maxTokens: 32, speculate: false))
        let drafted = try generator.generate(prompt: prompt, options: GenerationOptions(maxTokens: 32))
        #expect(drafted.tokens == plain.tokens)
        #expect(drafted.speculation.drafter == "qwen2.5-coder-0.5b-instruct-q4_k_m" && drafted.speculation.passes > 0)
        #expect(drafted.speculation.accepted > 0)

        let small = try #require(Self.models[Reference.smolLM2])
        #expect {
            _ = try Generator(model: target, draft: small)
        } throws: { error in
            (error as? RAGError)?.message.contains("another vocabulary") == true
        }
    }
}
