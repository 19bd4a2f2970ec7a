internal import Foundation

/// Okapi BM25 (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond")
/// over an inverted index held in memory, scoring exactly as SQLite FTS5's `bm25()` does with
/// its defaults, so the two are interchangeable:
///
///     score(D, Q) = Σ_{q ∈ Q} IDF(q) · f(q, D) · (k1 + 1) / (f(q, D) + k1 · (1 − b + b · |D| / avgdl))
///     IDF(q) = ln((N − n(q) + 0.5) / (n(q) + 0.5)), at least 10⁻⁶
///
/// with k1 = 1.2, b = 0.75, |D| every token of the document (all its columns), N every
/// document (those without a token too) and each query phrase counted once per occurrence in
/// the query (two words with one stem count twice), as FTS5 does.
///
/// FTS5 reads each matching row's size with an SQL statement, a few microseconds a row; a
/// question whose words match a third of the index spends milliseconds there. Here a query
/// walks its terms' posting lists (term at a time) into an accumulator: the cost is the
/// postings read, at a few nanoseconds each. Immutable once built; searches run concurrently.
public final class BM25Index: Sendable {
    public static let k1 = 1.2
    public static let b = 0.75

    /// A term's index in the posting arrays.
    let termIDs: [String: Int32]
    /// Term t's postings are `postingDocuments[postingStart[t]..<postingStart[t + 1]]`, in
    /// document order, with their term frequencies alongside.
    let postingStart: [Int]
    let postingDocuments: [Int32]
    let postingFrequencies: [Float]
    /// k1 · (1 − b + b · |D| / avgdl) for each document, the part of the denominator that does
    /// not depend on the term.
    let lengthNorms: [Double]
    /// The caller's label of each document (a chunk id).
    public let labels: [Int64]
    /// N: documents, those without any token included.
    public let documentCount: Int

    /// Builds the index from term occurrences, in any order (`Builder`).
    init(_ builder: consuming Builder) {
        var start = [Int](repeating: 0, count: builder.postings.count + 1)
        var documents: [Int32] = [], frequencies: [Float] = []
        documents.reserveCapacity(builder.postingCount)
        frequencies.reserveCapacity(builder.postingCount)
        for (term, list) in builder.postings.enumerated() {
            // A list arrives in document order when the occurrences did; merge it otherwise.
            var sorted = list
            if !zip(list, list.dropFirst()).allSatisfy({ $0.document < $1.document }) {
                sorted = Dictionary(list.map { ($0.document, $0.frequency) }, uniquingKeysWith: +)
                    .map { Builder.Posting(document: $0.key, frequency: $0.value) }
                    .sorted { $0.document < $1.document }
            }
            for posting in sorted {
                documents.append(posting.document)
                frequencies.append(Float(posting.frequency))
            }
            start[term + 1] = documents.count
        }
        let total = builder.lengths.reduce(0) { $0 + Int($1) }
        let count = max(builder.documentCount, builder.labels.count)
        let average = count == 0 ? 1 : max(Double(total) / Double(count), Double.leastNonzeroMagnitude)
        termIDs = builder.termIDs
        postingStart = start
        postingDocuments = documents
        postingFrequencies = frequencies
        lengthNorms = builder.lengths.map { Self.k1 * (1 - Self.b + Self.b * Double($0) / average) }
        labels = builder.labels
        documentCount = count
    }

    /// Collects term occurrences: `add(term:document:)` once per token of every document.
    public struct Builder {
        struct Posting {
            var document: Int32
            var frequency: Int32
        }
        var termIDs: [String: Int32] = [:]
        var postings: [[Posting]] = []
        var postingCount = 0
        var documentIDs: [Int64: Int32] = [:]
        var labels: [Int64] = []
        var lengths: [Int32] = []
        var documentCount = 0

        /// `documentCount`: every document of the collection, those that will add no token
        /// included (they count in N and in the average length).
        public init(documentCount: Int) { self.documentCount = documentCount }

        /// One occurrence of `term` in the document labelled `label`.
        public mutating func add(term: String, document label: Int64) {
            let document: Int32
            if let known = documentIDs[label] {
                document = known
            } else {
                document = Int32(labels.count)
                documentIDs[label] = document
                labels.append(label)
                lengths.append(0)
            }
            lengths[Int(document)] += 1
            let term = termIDs[term] ?? {
                let id = Int32(postings.count)
                termIDs[term] = id
                postings.append([])
                return id
            }()
            if postings[Int(term)].last?.document == document {
                postings[Int(term)][postings[Int(term)].count - 1].frequency += 1
            } else {
                postings[Int(term)].append(Posting(document: document, frequency: 1))
                postingCount += 1
            }
        }

        public func build() -> BM25Index { BM25Index(self) }
    }

    /// The number of documents that hold `term`.
    public func documentFrequency(_ term: String) -> Int {
        guard let id = termIDs[term].map(Int.init) else { return 0 }
        return postingStart[id + 1] - postingStart[id]
    }

    /// IDF as FTS5 computes it: never below 10⁻⁶, so a term in most documents still counts a little.
    func inverseDocumentFrequency(_ hits: Int) -> Double {
        let idf = log((Double(documentCount) - Double(hits) + 0.5) / (Double(hits) + 0.5))
        return idf <= 0 ? 1e-6 : idf
    }

    /// The `limit` best documents for the query's terms (one per query phrase, repeats count
    /// again), best first, ties by label; only documents holding at least one term are scored,
    /// and with `passing`, only those whose label is in it.
    public func search(_ terms: [String], limit: Int, among passing: Set<Int64>? = nil) -> [(label: Int64, score: Double)] {
        guard limit > 0 else { return [] }
        var scores = [Double](repeating: 0, count: labels.count)
        var touched: [Int32] = []
        for term in terms {
            guard let id = termIDs[term].map(Int.init) else { continue }
            let range = postingStart[id]..<postingStart[id + 1]
            let weight = inverseDocumentFrequency(range.count) * (Self.k1 + 1)
            postingDocuments.withUnsafeBufferPointer { documents in
                postingFrequencies.withUnsafeBufferPointer { frequencies in
                    lengthNorms.withUnsafeBufferPointer { norms in
                        scores.withUnsafeMutableBufferPointer { scores in
                            for index in range {
                                let document = Int(documents[index]), frequency = Double(frequencies[index])
                                if scores[document] == 0 { touched.append(Int32(document)) }
                                scores[document] += weight * frequency / (frequency + norms[document])
                            }
                        }
                    }
                }
            }
        }
        // Partial selection: a min-heap of the best `limit` seen so far.
        func better(_ a: Int32, _ b: Int32) -> Bool {
            let (sa, sb) = (scores[Int(a)], scores[Int(b)])
            return sa > sb || (sa == sb && labels[Int(a)] < labels[Int(b)])
        }
        var heap: [Int32] = []
        heap.reserveCapacity(min(limit, touched.count) + 1)
        for document in touched {
            if let passing, !passing.contains(labels[Int(document)]) { continue }
            if heap.count < limit {
                heap.append(document)
                var i = heap.count - 1
                while i > 0, better(heap[(i - 1) / 2], heap[i]) { heap.swapAt(i, (i - 1) / 2); i = (i - 1) / 2 }
            } else if better(document, heap[0]) {
                heap[0] = document
                var i = 0
                while true {
                    let left = 2 * i + 1, right = left + 1
                    var worst = i
                    if left < heap.count, better(heap[worst], heap[left]) { worst = left }
                    if right < heap.count, better(heap[worst], heap[right]) { worst = right }
                    if worst == i { break }
                    heap.swapAt(i, worst)
                    i = worst
                }
            }
        }
        return heap.sorted(by: better).map { (labels[Int($0)], scores[Int($0)]) }
    }
}
