public import RAGCore

/// Reciprocal-rank fusion (Cormack, Clarke & Büttcher 2009): score(d) = Σ wᵢ / (k + rankᵢ(d)),
/// ranks from 1. Ties keep the order of first appearance.
public enum Fusion {
    public static func reciprocalRank(_ lists: [[ChunkID]], k: Double = 60, weights: [Double]? = nil) -> [(ChunkID, Double)] {
        var scores: [ChunkID: Double] = [:]
        var order: [ChunkID] = []
        for (i, list) in lists.enumerated() {
            let weight = weights?[i] ?? 1
            for (rank, id) in list.enumerated() {
                if scores[id] == nil { order.append(id) }
                scores[id, default: 0] += weight / (k + Double(rank + 1))
            }
        }
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        return order.map { ($0, scores[$0]!) }.sorted { a, b in
            a.1 != b.1 ? a.1 > b.1 : position[a.0]! < position[b.0]!
        }
    }
}
