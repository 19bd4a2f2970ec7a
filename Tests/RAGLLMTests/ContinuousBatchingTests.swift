import Foundation
import RAGCore
@testable import RAGLLM
import RAGTesting
import Synchronization
import Testing

/// A generator with several slots on the real models: generations that run at the same time
/// share forward passes and still write, token for token, what each writes alone; one that is
/// cancelled leaves the others going; more generations than slots wait for one.
@Suite(.onTestThreads, .serialized, .enabled(if: ModelFiles.haveGenerators, "needs the three generators (make models)")) struct ContinuousBatchingTests {
    static let texts = BatchedDecodingTests.texts + ["What is the boiling point of water at sea level?"]

    /// Runs `body(i)` for i in 0..<count, each on a thread of its own, and waits for all.
    static func together(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            let thread = Thread {
                body(i)
                group.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
    }

    @Test(arguments: [Reference.smolLM2, Reference.qwen])
    func generationsRunTogetherWriteWhatEachWritesAlone(model name: String) throws {
        let model = try #require(SpeculativeDecodingTests.models[name])
        // Four generations on three slots: the fourth waits for a slot.
        let generator = Generator(model: model, contextLength: 1024, parallel: 3)
        let prompts = Self.texts.map { model.tokenizer.encode(generator.renderChat([ChatMessage(.user, $0)])) }
        let options = [SamplingOptions(temperature: 0), SamplingOptions(temperature: 0.8, seed: 5)].map {
            GenerationOptions(maxTokens: 24, sampling: $0, ignoreEndOfGeneration: true)
        }
        var alone: [GenerationResult] = []
        for (i, prompt) in prompts.enumerated() { alone.append(try generator.generate(prompt: prompt, options: options[i % 2])) }
        let before = generator.passCounters

        let results = Mutex<[Int: Result<GenerationResult, any Error>]>([:])
        let streamed = Mutex<[Int: String]>([:])
        Self.together(prompts.count) { i in
            let result = Result {
                try generator.generate(prompt: prompts[i], options: options[i % 2], emit: { piece in streamed.withLock { $0[i, default: ""] += piece } })
            }
            results.withLock { $0[i] = result }
        }
        let after = generator.passCounters
        for i in prompts.indices {
            let result = try #require(try results.withLock { $0[i] }?.get())
            #expect(result.tokens == alone[i].tokens, "\(name): generation \(i)")
            #expect(result.text == alone[i].text && streamed.withLock { $0[i] } == alone[i].text)
            #expect(result.tokens.count == 24)
        }
        // Passes held several sequences (the rows of the concurrent run over its passes).
        #expect(after.widest >= 2)
        #expect(Double(after.rows - before.rows) / Double(after.passes - before.passes) > 1.5, "\(name): \(before) → \(after)")
    }

    @Test func aCancelledGenerationLeavesTheOthersGoing() throws {
        let model = try #require(SpeculativeDecodingTests.models[Reference.smolLM2])
        let generator = Generator(model: model, contextLength: 1024, parallel: 2)
        let prompts = Self.texts.prefix(2).map { model.tokenizer.encode(generator.renderChat([ChatMessage(.user, $0)])) }
        let options = GenerationOptions(maxTokens: 64, ignoreEndOfGeneration: true)
        let alone = try generator.generate(prompt: prompts[1], options: options)
        let results = Mutex<[Int: GenerationResult]>([:])
        let stop = CancelFlag()
        Self.together(2) { i in
            var pieces = 0
            let result = try? generator.generate(
                prompt: prompts[i], options: options,
                emit: { _ in
                    pieces += 1
                    if i == 0 && pieces == 5 { stop.set() }
                },
                cancelled: { i == 0 && stop.isSet })
            results.withLock { $0[i] = result }
        }
        let cancelled = try #require(results.withLock { $0[0] }), finished = try #require(results.withLock { $0[1] })
        #expect(cancelled.stopReason == .cancelled && cancelled.tokens.count < 64)
        #expect(finished.tokens == alone.tokens && finished.stopReason == .maxTokens)
        // The freed slot serves the next generation.
        #expect(try generator.generate(prompt: prompts[1], options: options).tokens == alone.tokens)
    }
}
