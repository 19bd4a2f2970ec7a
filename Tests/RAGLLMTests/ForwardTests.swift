import Foundation
import RAGLLM
import RAGTesting
import Testing

/// The forward pass against llama.cpp's logits and greedy continuations on the real models.
@Suite(.onTestThreads, .serialized, .enabled(if: ModelFiles.haveGenerators, "needs the three generators (make models)")) struct ForwardTests {
    static let models: [String: LanguageModel] = {
        var out: [String: LanguageModel] = [:]
        for name in Reference.all { out[name] = try! LanguageModel(path: Reference.path(name)) }
        return out
    }()

    static func argmax(_ logits: [Float]) -> Int32 {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return Int32(best)
    }

    /// The first generated position against llama.cpp's top 5: the same best token, each of the
    /// five logits within 0.35 with standard attention (measured at most 0.31, the 1.5B's and
    /// SmolLM2's raw completions: the prompt runs integer dots on 8-bit activations as llama.cpp
    /// does, and the same f16 probabilities, but where the AVX-512 kernels run, the tiles round
    /// each block's exact integer sum once where llama.cpp rounds eight partial sums; a last-bit difference
    /// that moves an 8-bit activation by one step moves this prompt's logits by up to ~0.1, and
    /// it read 0.20 with llama.cpp's order), within 0.6 with tiled attention (measured at most 0.46: its probabilities
    /// stay f32, which llama.cpp's reference run rounded to f16), and any token in our top 5 that
    /// is not in theirs is a near-tie with their fifth (rounding noise, not a different model).
    @Test(arguments: Reference.all, Session.Attention.allCases)
    func firstPositionMatchesTheReference(model name: String, attention: Session.Attention) throws {
        let model = try #require(Self.models[name])
        for prompt in try #require(Reference.shared.models[name]).prompts {
            let session = Session(model: model, contextLength: 1024, attention: attention)
            try session.evaluate(prompt.prompt_ids)
            let top = session.logits.indices.sorted { session.logits[$0] > session.logits[$1] }.prefix(5).map(Int32.init)
            let reference = prompt.top5_first_position
            let tolerance: Float = attention == .standard ? 0.35 : 0.6
            #expect(top[0] == reference[0].id, "\(name) \(prompt.name): top token")
            var largest: Float = 0
            for candidate in reference {
                let ours = session.logits[Int(candidate.id)]
                largest = max(largest, abs(ours - candidate.logit))
                #expect(abs(ours - candidate.logit) < tolerance, "\(name) \(prompt.name) id \(candidate.id): \(ours) vs \(candidate.logit)")
            }
            for id in top where !reference.contains(where: { $0.id == id }) {
                #expect(abs(session.logits[Int(id)] - reference[4].logit) < tolerance, "\(name) \(prompt.name): \(id) in our top 5")
            }
            print(String(format: "%@ %@ (%@ attention): first position within %.3f of llama.cpp's top 5", name, prompt.name, attention.rawValue, largest))
        }
    }

    /// Greedy decoding follows llama.cpp's tokens; where it departs, the two candidates were a
    /// near-tie in our logits, i.e. rounding noise, not a different model. Standard attention:
    /// within 0.15 in the first 32 tokens (SmolLM2's raw completion departs at token 8 by 0.105),
    /// within 0.25 after them (measured: the 1.5B's raw completion departs at token 58 by 0.134,
    /// the 0.5B's at 17 by 0.017). Tiled attention: within 0.35 (measured: SmolLM2's RAG
    /// question departs at token 8 by 0.281; the others as with standard or later).
    @Test(arguments: Reference.all, Session.Attention.allCases)
    func greedyContinuationsMatchTheReference(model name: String, attention: Session.Attention) throws {
        let model = try #require(Self.models[name])
        for prompt in try #require(Reference.shared.models[name]).prompts {
            let session = Session(model: model, contextLength: 1024, attention: attention)
            try session.evaluate(prompt.prompt_ids)
            var agreed = 0
            var departure = ""
            for expected in prompt.output_ids {
                let next = Self.argmax(session.logits)
                if next != expected {
                    let margin = session.logits[Int(next)] - session.logits[Int(expected)]
                    let tolerance: Float = attention == .tiled ? 0.35 : agreed < 32 ? 0.15 : 0.25
                    #expect(margin < tolerance, "\(name) \(prompt.name) (\(attention) attention): token \(agreed) is \(next), llama.cpp's \(expected) is \(margin) below it")
                    departure = String(format: " (then a near-tie: %.3f)", margin)
                    break
                }
                agreed += 1
                try session.evaluate([next])
            }
            if agreed == prompt.output_ids.count, prompt.stop.hasPrefix("eog") {
                #expect(model.tokenizer.endOfGeneration.contains(Self.argmax(session.logits)), "\(name) \(prompt.name): should stop")
            }
            print("\(name) \(prompt.name) (\(attention) attention): \(agreed) of \(prompt.output_ids.count) greedy tokens as llama.cpp\(departure)")
        }
    }
}
