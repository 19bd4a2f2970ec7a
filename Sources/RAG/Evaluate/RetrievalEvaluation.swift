public import Foundation
public import RAGCore

/// Standard ranked-retrieval metrics (as BEIR/pytrec_eval compute them): graded gains, log2
/// discount, the ideal ranking built from the judgments.
public enum RetrievalMetrics {
    /// nDCG@k: Σ_{i≤k} gain(dᵢ) / log2(i + 1), divided by the same sum over the ideal order of
    /// the judged gains. 0 when no judged document has a positive gain.
    public static func ndcg(_ ranked: [String], _ judged: [String: Int], k: Int) -> Double {
        func dcg(_ gains: [Int]) -> Double {
            gains.prefix(k).enumerated().reduce(0) { $0 + Double($1.element) / log2(Double($1.offset) + 2) }
        }
        let ideal = dcg(judged.values.filter { $0 > 0 }.sorted(by: >))
        guard ideal > 0 else { return 0 }
        return dcg(ranked.prefix(k).map { max(0, judged[$0] ?? 0) }) / ideal
    }

    /// recall@k: the share of the relevant (gain > 0) documents found in the first k.
    public static func recall(_ ranked: [String], _ judged: [String: Int], k: Int) -> Double {
        let relevant = Set(judged.filter { $0.value > 0 }.keys)
        guard !relevant.isEmpty else { return 0 }
        return Double(Set(ranked.prefix(k)).intersection(relevant).count) / Double(relevant.count)
    }

    /// MRR@k: 1 / the rank of the first relevant document in the first k (0 if none).
    public static func reciprocalRank(_ ranked: [String], _ judged: [String: Int], k: Int) -> Double {
        for (i, id) in ranked.prefix(k).enumerated() where (judged[id] ?? 0) > 0 { return 1 / Double(i + 1) }
        return 0
    }

    /// The value at quantile `q` (0…1) of `values`, nearest rank.
    public static func percentile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
    }
}

/// A BEIR-format collection: `queries.jsonl` (`_id`, `text`) and a qrels TSV
/// (`query-id  corpus-id  score`, with a header line).
public struct BEIRQueries: Sendable {
    public var queries: [(id: String, text: String)]
    public var judgments: [String: [String: Int]]

    public init(queriesFile: String, qrelsFile: String) throws {
        func read(_ path: String) throws -> String {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw RAGError(.notFound, "\(path): cannot read the file; check the path")
            }
            return text
        }
        judgments = [:]
        for (number, line) in try read(qrelsFile).split(separator: "\n").enumerated() {
            let fields = line.split(separator: "\t").map { $0.trimmingCharacters(in: .whitespaces) }
            if number == 0, fields.first == "query-id" { continue }
            guard fields.count >= 3, let score = Int(fields[2]) else {
                throw RAGError(.invalidInput, "\(qrelsFile):\(number + 1): expected query-id<TAB>corpus-id<TAB>score")
            }
            judgments[fields[0], default: [:]][fields[1]] = score
        }
        queries = []
        for (number, line) in try read(queriesFile).split(separator: "\n").enumerated() where !line.isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let text = object["text"] as? String else {
                throw RAGError(.invalidInput, "\(queriesFile):\(number + 1): not a JSON object with \"_id\" and \"text\"")
            }
            let id = (object["_id"] as? String) ?? (object["_id"]).map { "\($0)" } ?? ""
            if judgments[id] != nil { queries.append((id, text)) }
        }
        guard !queries.isEmpty else { throw RAGError(.invalidInput, "\(queriesFile): no query has judgments in \(qrelsFile)") }
    }
}

/// Runs every judged query through a retriever and averages the metrics.
public struct RetrievalEvaluation: Sendable {
    public struct Result: Sendable, Encodable {
        public var ndcg10: Double
        public var recall100: Double
        public var mrr10: Double
        public var queries: Int
        public var p50Ms: Double
        public var p95Ms: Double
        enum CodingKeys: String, CodingKey {
            case ndcg10 = "ndcg@10", recall100 = "recall@100", mrr10 = "mrr@10", queries, p50Ms = "p50_ms", p95Ms = "p95_ms"
        }
    }

    /// The corpus id of a hit: documents of a JSONL corpus are stored as `FILE#ID`.
    public static func corpusID(_ document: String) -> String {
        document.lastIndex(of: "#").map { String(document[document.index(after: $0)...]) } ?? document
    }

    /// Documents ranked from their chunks' hits: a document scores its best chunk plus `share`
    /// of its other retrieved chunks' scores (0: the best chunk alone). Ties keep the order of
    /// the best chunks.
    public static func documents(_ hits: [SearchHit], share: Double = 0) -> [String] {
        var best: [String: Double] = [:], rest: [String: Double] = [:], order: [String] = []
        for hit in hits {
            let id = corpusID(hit.document)
            if let top = best[id] {
                rest[id, default: 0] += min(top, hit.score)
                best[id] = max(top, hit.score)
            } else {
                best[id] = hit.score
                order.append(id)
            }
        }
        guard share > 0 else { return order }
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        func score(_ id: String) -> Double { best[id]! + share * (rest[id] ?? 0) }
        return order.sorted { a, b in score(a) != score(b) ? score(a) > score(b) : position[a]! < position[b]! }
    }

    public static func run(
        _ collection: BEIRQueries, retriever: Retriever, mode: SearchMode, depth: Int = 300, otherChunksShare: Double = 0,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> Result {
        var ndcg = 0.0, recall = 0.0, mrr = 0.0
        var latencies: [Double] = []
        for (i, query) in collection.queries.enumerated() {
            let start = DispatchTime.now().uptimeNanoseconds
            // `depth` chunks (300: deeper than recall@100 needs), folded into documents (see `documents`).
            let hits = try retriever.search(query.text, mode: mode, topK: depth)
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            let ranked = documents(hits, share: otherChunksShare)
            let judged = collection.judgments[query.id] ?? [:]
            ndcg += RetrievalMetrics.ndcg(ranked, judged, k: 10)
            recall += RetrievalMetrics.recall(ranked, judged, k: 100)
            mrr += RetrievalMetrics.reciprocalRank(ranked, judged, k: 10)
            progress(i + 1, collection.queries.count)
        }
        let n = Double(collection.queries.count)
        return Result(
            ndcg10: (ndcg / n).rounded(places: 4), recall100: (recall / n).rounded(places: 4), mrr10: (mrr / n).rounded(places: 4), queries: collection.queries.count,
            p50Ms: RetrievalMetrics.percentile(latencies, 0.5).rounded(places: 1),
            p95Ms: RetrievalMetrics.percentile(latencies, 0.95).rounded(places: 1))
    }
}
