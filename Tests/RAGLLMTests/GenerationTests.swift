import Foundation
import RAGCore
@testable import RAGLLM
import RAGTesting
import Testing

@Suite(.onTestThreads, .enabled(if: ModelFiles.haveGenerators, "needs the three generators (make models)")) struct ChatTemplateTests {
    /// Our ChatML, with each model's default system message read from its GGUF template, gives
    /// exactly the prompt the GGUF's Jinja template gave llama.cpp's reference.
    @Test(arguments: [Reference.smolLM2, Reference.qwen])
    func rendersLikeTheGGUFTemplate(model: String) throws {
        let file = try GGUFFile(path: Reference.path(model))
        let template = ChatTemplate(ggufTemplate: file.metadata["tokenizer.chat_template"]?.string)
        let reference = try #require(Reference.shared.models[model]?.prompts.first { $0.name == "chat_simple" })
        #expect(template.render([ChatMessage(.user, "What is the capital of France? Answer in one sentence.")]) == reference.prompt)
        let custom = template.render([ChatMessage(.system, "S"), ChatMessage(.user, "U"), ChatMessage(.assistant, "A"), ChatMessage(.user, "V")])
        #expect(custom == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n<|im_start|>user\nV<|im_end|>\n<|im_start|>assistant\n")
    }
}

@Suite(.onTestThreads) struct SamplerTests {
    let logits: [Float] = [0.5, 3, 2.9, -1, 3, 0]

    @Test func greedyIsTheFirstBest() {
        var s = Sampler(SamplingOptions(temperature: 0))
        #expect(s.sample(logits, history: []) == 1)  // ties → lowest id, like llama.cpp
    }

    @Test func repetitionPenaltyDemotesSeenTokens() {
        var s = Sampler(SamplingOptions(temperature: 0, repeatPenalty: 1.5))
        #expect(s.sample(logits, history: [1, 4]) == 2)
    }

    @Test func seedMakesSamplingRepeatable() {
        func draw(_ seed: UInt64) -> [Int32] {
            var s = Sampler(SamplingOptions(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: seed))
            return (0..<200).map { _ in s.sample(logits, history: []) }
        }
        #expect(draw(7) == draw(7))
        #expect(draw(7) != draw(8))
        // Every token can come out at a high temperature with no truncation...
        #expect(Set(draw(7)).count == logits.count)
    }

    @Test func truncationsKeepOnlyTheLikelyTokens() {
        var topK = Sampler(SamplingOptions(temperature: 2, topK: 2, topP: 1, minP: 0, seed: 1))
        #expect(Set((0..<200).map { _ in topK.sample(logits, history: []) }) == [1, 4])
        // min-p 0.5: p(2.9)/p(3) = 0.90 stays, p(0.5)/p(3) = 0.08 goes.
        var minP = Sampler(SamplingOptions(temperature: 1, topK: 0, topP: 1, minP: 0.5, seed: 1))
        #expect(Set((0..<300).map { _ in minP.sample(logits, history: []) }) == [1, 2, 4])
        // top-p 0.5: the two tokens at 3 hold ~0.55 together.
        var topP = Sampler(SamplingOptions(temperature: 1, topK: 0, topP: 0.5, minP: 0, seed: 1))
        #expect(Set((0..<300).map { _ in topP.sample(logits, history: []) }) == [1, 4])
    }
}

@Suite(.onTestThreads) struct TextAssemblerTests {
    @Test func charactersSplitAcrossTokensComeOutWhole() {
        var text = TextAssembler(stop: [])
        let bytes = Array("a😀é".utf8)  // 1 + 4 + 2 bytes
        var out: [String] = []
        for b in bytes { if let piece = text.append([b]) { out.append(piece) } }
        if let rest = text.finish() { out.append(rest) }
        #expect(out == ["a", "😀", "é"])
    }

    @Test func aPossibleStopStringIsHeldBackUntilDecided() {
        var text = TextAssembler(stop: ["</end>"])
        #expect(text.append(Array("Hello </".utf8)) == "Hello ")
        #expect(text.append(Array("b".utf8)) == "</b")  // not the stop string after all
        #expect(text.append(Array(" </en".utf8)) == " ")
        #expect(text.append(Array("d> tail".utf8)) == nil && text.stopped)
        #expect(text.text == "Hello </b ")
    }
}

@Suite(.onTestThreads, .serialized, .enabled(if: ModelFiles.haveSmallGenerator, "needs the small generator, SmolLM2 (make models)")) struct GeneratorTests {
    static let model = try! LanguageModel(path: Reference.path(Reference.smolLM2))

    @Test func streamedPiecesAreWholeCharactersAndAddUpToTheText() async throws {
        let generator = Generator(model: Self.model, contextLength: 512)
        let prompt = generator.chatTemplate.render([ChatMessage(.user, "Write three words in Japanese, with emoji.")])
        var pieces: [String] = []
        var result: GenerationResult?
        for try await event in generator.stream(prompt: Self.model.tokenizer.encode(prompt), options: GenerationOptions(maxTokens: 40)) {
            switch event {
            case .text(let piece): pieces.append(piece)
            case .finished(let r): result = r
            }
        }
        let r = try #require(result)
        #expect(pieces.joined() == r.text)
        // (Decoding the joined pieces equals decoding all bytes at once: no piece split a character.)
        #expect(r.tokens.count <= 40 && r.timeToFirstToken > 0 && r.promptTokensPerSecond > 0)
        #expect(r.text == Self.model.tokenizer.decode(r.tokens))
    }

    @Test func stopStringsEndTheTextBeforeThem() throws {
        let generator = Generator(model: Self.model, contextLength: 512)
        let ids = Self.model.tokenizer.encode("The three primary colors are")
        let free = try generator.generate(prompt: ids, options: GenerationOptions(maxTokens: 30))
        let words = free.text.split(separator: " ")
        let stop = String(try #require(words.dropFirst(3).first))
        var streamed = ""
        let stopped = try generator.generate(prompt: ids, options: GenerationOptions(maxTokens: 30, stop: [stop])) { streamed += $0 }
        #expect(stopped.stopReason == .stopString)
        #expect(stopped.text == String(free.text[..<free.text.range(of: stop)!.lowerBound]))
        #expect(streamed == stopped.text)
    }

    @Test func theCachedPrefixIsReusedAndGivesTheSameTokens() throws {
        let generator = Generator(model: Self.model, contextLength: 512)
        let prompt = try #require(Reference.shared.models[Reference.smolLM2]?.prompts.first { $0.name == "chat_simple" })
        let first = try generator.generate(prompt: prompt.prompt_ids, options: GenerationOptions(maxTokens: 16))
        let second = try generator.generate(prompt: prompt.prompt_ids, options: GenerationOptions(maxTokens: 16))
        #expect(first.reusedPromptTokens == 0 && second.reusedPromptTokens == prompt.prompt_ids.count - 1)
        #expect(first.tokens == second.tokens && first.tokens == prompt.output_ids)
    }

    @Test func cancellingTheConsumerStopsGeneration() async throws {
        let generator = Generator(model: Self.model, contextLength: 512)
        let ids = Self.model.tokenizer.encode("Count from one to one thousand: one, two,")
        let task = Task {
            var pieces = 0
            for try await event in generator.stream(prompt: ids, options: GenerationOptions(maxTokens: 400)) {
                if case .text = event { pieces += 1 }
                if pieces == 3 { break }
            }
            return pieces
        }
        #expect(try await task.value == 3)
        // The generator is free again soon after (the lock is taken by the next call).
        let after = try generator.generate(prompt: ids, options: GenerationOptions(maxTokens: 1))
        #expect(after.tokens.count == 1)
        // What the stream's cancellation sets: polled between tokens, it stops the decode there
        // with what it has.
        var pieces = 0
        let cut = try generator.generate(prompt: ids, options: GenerationOptions(maxTokens: 400), emit: { _ in pieces += 1 }, cancelled: { pieces >= 3 })
        #expect(pieces == 3 && cut.stopReason == .cancelled && cut.tokens.count < 400)
    }

    /// A model file that changes after loading is refused before the next generation, not used.
    @Test func aModelFileChangedOnDiskIsRefused() throws {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("rag-model-\(UUID().uuidString).gguf")
        try FileManager.default.copyItem(atPath: Reference.path(Reference.smolLM2), toPath: copy.path)
        defer { try? FileManager.default.removeItem(at: copy) }
        let model = try LanguageModel(path: copy.path)
        let generator = Generator(model: model, contextLength: 128)
        let ids = model.tokenizer.encode("Hello")
        #expect(try generator.generate(prompt: ids, options: GenerationOptions(maxTokens: 2)).tokens.count >= 1)
        let handle = try FileHandle(forWritingTo: copy)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        #expect(throws: RAGError.self) { try generator.generate(prompt: ids, options: GenerationOptions(maxTokens: 2)) }
    }

    @Test func aPromptLongerThanTheContextIsAClearError() throws {
        let generator = Generator(model: Self.model, contextLength: 64)
        let ids = [Int32](repeating: 260, count: 80)
        #expect(throws: RAGError.self) { try generator.generate(prompt: ids, options: GenerationOptions()) }
        let session = Session(model: Self.model, contextLength: 64)
        #expect(throws: RAGError.self) { try session.evaluate([49_152]) }
    }
}
