public import RAGCore
internal import Foundation

public struct Sampler: Sendable {
    public let options: SamplingOptions
    private var state: UInt64

    public init(_ options: SamplingOptions) {
        self.options = options
        state = options.seed ^ 0x9E37_79B9_7F4A_7C15
    }

    /// SplitMix64 → a float in [0, 1).
    private mutating func uniform() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) / Float(1 << 24)
    }

    public mutating func sample(_ logits: [Float], history: ArraySlice<Int32>) -> Int32 {
        var logits = logits
        if options.repeatPenalty != 1, options.repeatLastN > 0 {
            for token in Set(history.suffix(options.repeatLastN)) where Int(token) < logits.count {
                let l = logits[Int(token)]
                logits[Int(token)] = l > 0 ? l / options.repeatPenalty : l * options.repeatPenalty
            }
        }
        if options.temperature <= 0 { return Self.argmax(logits) }

        // Candidates by logit, best first (top-k bounds the sort).
        var candidates = Array(logits.indices)
        let k = options.topK > 0 ? min(options.topK, logits.count) : logits.count
        if k < logits.count {
            candidates = Array(candidates.partialSort(k) { logits[$0] > logits[$1] })
        } else {
            candidates.sort { logits[$0] > logits[$1] }
        }
        func probabilities(_ scale: Float) -> [Float] {
            let top = logits[candidates[0]]
            let e = candidates.map { expf((logits[$0] - top) * scale) }
            let sum = e.reduce(0, +)
            return e.map { $0 / sum }
        }
        var p = probabilities(1)
        if options.topP < 1 {
            var cumulative: Float = 0, keep = candidates.count
            for (i, pi) in p.enumerated() {
                cumulative += pi
                if cumulative >= options.topP { keep = i + 1; break }
            }
            candidates.removeLast(candidates.count - keep)
            p.removeLast(p.count - keep)
        }
        if options.minP > 0 {
            let floor = p[0] * options.minP
            let keep = max(1, p.firstIndex { $0 < floor } ?? p.count)
            candidates.removeLast(candidates.count - keep)
        }
        p = probabilities(1 / options.temperature)
        var r = uniform(), chosen = candidates.count - 1
        for (i, pi) in p.enumerated() {
            r -= pi
            if r < 0 { chosen = i; break }
        }
        return Int32(candidates[chosen])
    }

    public static func argmax(_ logits: [Float]) -> Int32 {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return Int32(best)
    }
}

extension Array {
    /// The first `k` elements in `order` (a partial selection sort over a heap would be faster
    /// for large k; top-k is small).
    fileprivate func partialSort(_ k: Int, by order: (Element, Element) -> Bool) -> ArraySlice<Element> {
        var heap: [Element] = []  // the k best so far, worst first
        heap.reserveCapacity(k + 1)
        for e in self {
            if heap.count < k {
                heap.append(e)
                if heap.count == k { heap.sort { order($1, $0) } }
            } else if order(e, heap[0]) {
                // Insert e in sorted position (worst first), dropping the worst.
                heap.removeFirst()
                let at = heap.firstIndex { order(e, $0) == false } ?? heap.count
                heap.insert(e, at: at)
            }
        }
        if heap.count < k { heap.sort { order($1, $0) } }
        return heap.reversed()[...]
    }
}
