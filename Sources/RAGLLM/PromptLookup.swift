/// Draft tokens without a draft model (prompt-lookup decoding, Saxena 2023; llama.cpp's
/// `lookup`): an answer built from sources copies their spans, so the tokens that followed the
/// last n tokens where they occurred before — in the prompt or the answer so far, the most recent
/// occurrence, n from `longestMatch` down to 1 — are a cheap guess at what comes next. The
/// target model verifies the guess in one pass.
///
/// How much of a guess to verify is a cost decision, made per match order: on a CPU each extra
/// row of a verification pass costs a fraction of a plain step (`rowCost`, measured by the
/// caller), so the draft length k maximises the expected tokens per unit of cost,
/// (1 + p + p² + … + pᵏ) / (1 + rowCost·k), where p is the order's acceptance so far in this
/// generation (accepted ÷ (accepted + rejections), from an even prior). When no k beats a plain
/// step by `minimumGain`, the match is not drafted: an order — or, in prose, all of them — whose
/// drafts keep being rejected switches itself off.
struct PromptLookup: Sendable {
    var longestMatch = 3
    var maxDraft = 10
    /// The least expected speed-up worth a verification pass.
    var minimumGain = 1.05
    /// Per match order (index n − 1): draft tokens accepted, and drafts cut short by a rejection.
    private(set) var accepted: [Int]
    private(set) var rejections: [Int]
    /// Matches found but not drafted because they would not have paid.
    private(set) var declined = 0

    init(longestMatch: Int = 3, maxDraft: Int = 10) {
        self.longestMatch = longestMatch
        self.maxDraft = maxDraft
        accepted = Array(repeating: 0, count: longestMatch)
        rejections = Array(repeating: 0, count: longestMatch)
    }

    /// What followed the longest recent match of the end of `tokens` (up to `maxDraft` tokens)
    /// and the match's order; nil when nothing matches.
    func match(_ tokens: [Int32]) -> (continuation: ArraySlice<Int32>, order: Int)? {
        for n in stride(from: min(longestMatch, tokens.count - 1), through: 1, by: -1) {
            let suffix = tokens.count - n
            // The most recent earlier start whose n tokens equal the last n (a token follows it).
            var start = suffix - 1
            while start >= 0 {
                if tokens[start] == tokens[suffix] && (1..<n).allSatisfy({ tokens[start + $0] == tokens[suffix + $0] }) { break }
                start -= 1
            }
            guard start >= 0 else { continue }
            let from = start + n
            return (tokens[from..<min(tokens.count, from + maxDraft)], n)
        }
        return nil
    }

    /// The acceptance of one draft token after a match of `order`, as observed (even prior).
    func acceptance(order: Int) -> Double {
        Double(accepted[order - 1] + 1) / Double(accepted[order - 1] + rejections[order - 1] + 2)
    }

    /// The draft length worth verifying after a match of `order` with `available` tokens,
    /// each extra row costing `rowCost` plain steps; 0 when a plain step is the better buy.
    func draftLength(order: Int, available: Int, rowCost: Double) -> Int {
        let p = acceptance(order: order)
        var best = 0, bestGain = minimumGain, expected = 1.0, power = 1.0
        for k in 1...max(1, min(available, maxDraft)) where available > 0 {
            power *= p
            expected += power
            let gain = expected / (1 + rowCost * Double(k))
            if gain > bestGain { (best, bestGain) = (k, gain) }
        }
        return best
    }

    /// Up to `limit` draft tokens for the end of `tokens`, or none (no match, or not worth it).
    mutating func propose(_ tokens: [Int32], limit: Int, rowCost: Double) -> (draft: [Int32], order: Int) {
        guard limit > 0, let found = match(tokens) else { return ([], 0) }
        let k = draftLength(order: found.order, available: min(limit, found.continuation.count), rowCost: rowCost)
        guard k > 0 else {
            declined += 1
            return ([], 0)
        }
        return (Array(found.continuation.prefix(k)), found.order)
    }

    /// Counts a verified draft of `order`: `accepted` of `drafted` tokens kept.
    mutating func record(order: Int, drafted: Int, accepted count: Int) {
        guard order > 0, drafted > 0 else { return }
        accepted[order - 1] += count
        if count < drafted { rejections[order - 1] += 1 }
    }
}
