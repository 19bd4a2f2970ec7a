import Foundation
@testable import RAGLLM
import RAGTesting
import Testing

/// The techniques `rag bench techniques` measures, on the small real model: layer skipping at
/// decode, weights requantized to Q8_0, magnitude pruning of the feed-forward rows.
@Suite(.onTestThreads, .serialized, .enabled(if: ModelFiles.haveGenerators, "needs the generators (make models)")) struct TechniqueTests {
    static let model = try! LanguageModel(path: Reference.path(Reference.smolLM2))
    static let prompt = model.tokenizer.encode("<|im_start|>user\nWhere is the vector index kept?<|im_end|>\n<|im_start|>assistant\n")

    /// Skipped blocks change decode steps only: the prompt's logits are the full model's, a
    /// step's are not, and the skipped block's keys and values still reach the cache (a later
    /// prompt attends to every position).
    @Test func skippedBlocksLeaveThePromptAloneAndStillFillTheCache() throws {
        let blocks = Self.model.config.blockCount
        let full = Session(model: Self.model, contextLength: 128)
        let skipping = Session(model: Self.model, contextLength: 128)
        skipping.skippedLayersAtDecode = [blocks - 2, blocks - 1]
        try full.evaluate(Self.prompt)
        try skipping.evaluate(Self.prompt)
        #expect(full.logits == skipping.logits)
        let next = Sampler.argmax(full.logits)
        try full.evaluate([next])
        try skipping.evaluate([next])
        #expect(full.logits != skipping.logits)
        #expect(skipping.logits.allSatisfy { $0.isFinite })
        // The last block's keys for the decoded position: written, and from the skipped pass's
        // own residual (not the full model's).
        let layerBytes = Self.prompt.count + 1
        let skippedKeys = skipping.snapshot(count: layerBytes).keys, fullKeys = full.snapshot(count: layerBytes).keys
        let row = skippedKeys.count / blocks / layerBytes, last = (blocks - 1) * layerBytes * row + Self.prompt.count * row
        let written = skippedKeys[last..<last + row]
        #expect(written.contains { $0 != 0 } && Array(written) != Array(fullKeys[last..<last + row]))
        // A two-token pass afterwards (not a decode step) runs every block again.
        try skipping.evaluate([next, next])
        #expect(skipping.logits.allSatisfy { $0.isFinite })
    }

    /// Q8_0 weights requantized from the stored ones answer as the stored: the same greedy
    /// first token and every one of the 49k logits within 2 (measured 1.14: the weights round
    /// once more, and the activations meet them as Q8_0 instead of Q8_1); magnitude pruning
    /// zeroes that share of every feed-forward row and moves the logits further.
    @Test func requantizedAndPrunedWeights() throws {
        let q8 = Self.model.requantizedQ8_0()
        let pruned = Self.model.requantizedQ8_0(feedForwardPruning: 0.3)
        let layer = pruned.layers[0]
        #expect(layer.gate.type == .q8_0 && layer.down.type == .q8_0 && layer.query.type == .q8_0)
        var row = [Float](repeating: 0, count: layer.gate.columns)
        row.withUnsafeMutableBufferPointer { layer.gate.decodeRow(3, into: $0.baseAddress!) }
        let zeros = row.filter { $0 == 0 }.count
        #expect(zeros >= Int(0.3 * Double(row.count)) - 1, "\(zeros) of \(row.count) zero")
        var logits: [[Float]] = []
        for model in [Self.model, q8, pruned] {
            let session = Session(model: model, contextLength: 128)
            try session.evaluate(Self.prompt)
            logits.append(session.logits)
        }
        let moved = { (other: [Float]) in zip(logits[0], other).map { abs($0 - $1) }.max()! }
        #expect(Sampler.argmax(logits[1]) == Sampler.argmax(logits[0]))
        #expect(moved(logits[1]) < 2, "Q8_0 moved a logit by \(moved(logits[1]))")
        #expect(moved(logits[2]) > moved(logits[1]))
        print(String(format: "requantized to Q8_0: logits within %.3f; pruned 30%%: within %.3f", moved(logits[1]), moved(logits[2])))
    }
}
