public import RAGCore

/// How hybrid search merges the dense and BM25 lists.
public enum Fusion {
    /// The fusion methods `--fusion` names.
    public enum Method: String, Sendable, CaseIterable, Codable {
        /// Scores min-max normalised per list, then a convex combination (the default).
        case minMax = "minmax"
        /// Scores standardised per list (z-scores), then a convex combination.
        case zScore = "zscore"
        /// Reciprocal ranks; the scores are not used.
        case reciprocalRank = "rrf"

        /// The weights (dense, BM25) when none are given: equal (for min-max, the best of BM25
        /// weights 0.3–0.6 on SciFact train, docs/evaluation.md).
        public var defaultWeights: (dense: Double, bm25: Double) {
            switch self {
            case .minMax, .zScore: (0.5, 0.5)
            case .reciprocalRank: (1, 1)
            }
        }
    }

    /// Reciprocal-rank fusion (Cormack, Clarke & Büttcher 2009): score(d) = Σ wᵢ / (k + rankᵢ(d)),
    /// ranks from 1. Ties keep the order of first appearance.
    public static func reciprocalRank(_ lists: [[ChunkID]], k: Double = 60, weights: [Double]? = nil) -> [(ChunkID, Double)] {
        combine(lists.map { list in list.enumerated().map { ($1, 1 / (k + Double($0 + 1))) } }, weights: weights)
    }

    /// Normalised-score fusion (Fox & Shaw's CombSUM over min-max normalised scores, as in
    /// Bruch et al. 2023, "An analysis of fusion functions for hybrid retrieval"): each list's
    /// scores mapped to [0, 1] by its own minimum and maximum (a list of equal scores maps to 1),
    /// then score(d) = Σ wᵢ·normᵢ(d) / Σ wᵢ, a list that misses d counting 0. Ties keep the order
    /// of first appearance.
    public static func minMax(_ lists: [[(ChunkID, Double)]], weights: [Double]? = nil) -> [(ChunkID, Double)] {
        let normalised = lists.map { list -> [(ChunkID, Double)] in
            guard let low = list.map(\.1).min(), let high = list.map(\.1).max() else { return [] }
            return list.map { ($0.0, high > low ? ($0.1 - low) / (high - low) : 1) }
        }
        let total = weights?.reduce(0, +) ?? Double(lists.count)
        return combine(normalised, weights: weights?.map { $0 / max(total, .leastNonzeroMagnitude) } ?? Array(repeating: 1 / Double(lists.count), count: lists.count))
    }

    /// Standardised-score fusion (Bruch et al. 2023): each list's scores as z-scores (minus the
    /// list's mean, over its standard deviation; a list of equal scores maps to 0), a list that
    /// misses d counting its lowest z-score; then score(d) = Σ wᵢ·zᵢ(d) / Σ wᵢ.
    public static func zScore(_ lists: [[(ChunkID, Double)]], weights: [Double]? = nil) -> [(ChunkID, Double)] {
        let weights = weights ?? Array(repeating: 1, count: lists.count)
        let total = max(weights.reduce(0, +), .leastNonzeroMagnitude)
        var floor = 0.0
        let standardised = lists.enumerated().map { i, list -> [(ChunkID, Double)] in
            let n = Double(max(list.count, 1))
            let mean = list.map(\.1).reduce(0, +) / n
            let deviation = (list.map { ($0.1 - mean) * ($0.1 - mean) }.reduce(0, +) / n).squareRoot()
            let z = list.map { ($0.0, deviation > 0 ? ($0.1 - mean) / deviation : 0) }
            floor += weights[i] / total * (z.map(\.1).min() ?? 0)
            // Shifted by the list's minimum, so a list that misses a chunk adds its lowest score.
            let low = z.map(\.1).min() ?? 0
            return z.map { ($0.0, $0.1 - low) }
        }
        return combine(standardised, weights: weights.map { $0 / total }).map { ($0.0, $0.1 + floor) }
    }

    /// Σ weightᵢ·scoreᵢ per chunk, best first, ties in order of first appearance.
    private static func combine(_ lists: [[(ChunkID, Double)]], weights: [Double]?) -> [(ChunkID, Double)] {
        var scores: [ChunkID: Double] = [:]
        var order: [ChunkID] = []
        for (i, list) in lists.enumerated() {
            let weight = weights?[i] ?? 1
            for (id, score) in list {
                if scores[id] == nil { order.append(id) }
                scores[id, default: 0] += weight * score
            }
        }
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        return order.map { ($0, scores[$0]!) }.sorted { a, b in
            a.1 != b.1 ? a.1 > b.1 : position[a.0]! < position[b.0]!
        }
    }
}
