public import Foundation
public import RAGCore
internal import RAGLLM

/// Answer-quality metrics as the QA benchmarks define them: SQuAD's exact match and token F1
/// (lower case, no punctuation, no articles), ROUGE-L (longest common subsequence F-measure over
/// lower-case alphanumeric tokens, as `rouge-score` computes it), and yes/no/maybe labels.
public enum QAMetrics {
    /// SQuAD normalisation: lower case, punctuation removed, articles removed, whitespace collapsed.
    public static func normalize(_ text: String) -> [String] {
        let lowered = text.lowercased().unicodeScalars.filter { !($0.isASCII && CharacterSet.punctuationCharacters.union(.symbols).contains($0)) }
        return String(String.UnicodeScalarView(lowered))
            .split(whereSeparator: { $0.isWhitespace })
            .map(String.init)
            .filter { !["a", "an", "the"].contains($0) }
    }

    public static func exactMatch(_ prediction: String, _ gold: String) -> Double {
        normalize(prediction) == normalize(gold) ? 1 : 0
    }

    /// Token F1: the harmonic mean of precision and recall of the shared tokens (with multiplicity).
    public static func tokenF1(_ prediction: String, _ gold: String) -> Double {
        let p = normalize(prediction), g = normalize(gold)
        guard !p.isEmpty, !g.isEmpty else { return p == g ? 1 : 0 }
        var counts: [String: Int] = [:]
        for token in g { counts[token, default: 0] += 1 }
        var shared = 0
        for token in p where (counts[token] ?? 0) > 0 {
            counts[token]! -= 1
            shared += 1
        }
        guard shared > 0 else { return 0 }
        let precision = Double(shared) / Double(p.count), recall = Double(shared) / Double(g.count)
        return 2 * precision * recall / (precision + recall)
    }

    /// ROUGE-L F-measure: LCS over lower-case `[a-z0-9]+` tokens.
    public static func rougeL(_ prediction: String, _ reference: String) -> Double {
        func tokens(_ s: String) -> [Substring] {
            s.lowercased().split(whereSeparator: { !($0.isASCII && ($0.isLetter || $0.isNumber)) })
        }
        let p = tokens(prediction), r = tokens(reference)
        guard !p.isEmpty, !r.isEmpty else { return 0 }
        var previous = [Int](repeating: 0, count: r.count + 1), current = previous
        for a in p {
            for (j, b) in r.enumerated() {
                current[j + 1] = a == b ? previous[j] + 1 : max(previous[j + 1], current[j])
            }
            swap(&previous, &current)
        }
        let lcs = Double(previous[r.count])
        guard lcs > 0 else { return 0 }
        let precision = lcs / Double(p.count), recall = lcs / Double(r.count)
        return 2 * precision * recall / (precision + recall)
    }

    public static let labels = ["yes", "no", "maybe"]

    /// The yes/no/maybe label of an answer: its first word that is one of them ("I don't know"
    /// has none).
    public static func label(_ answer: String) -> String? {
        for word in answer.lowercased().split(whereSeparator: { !$0.isLetter }) where labels.contains(String(word)) {
            return String(word)
        }
        return nil
    }

    /// Macro-F1 over the labels that occur in the gold answers or the predictions (as
    /// scikit-learn averages); an unlabelled prediction is a miss of its gold label.
    public static func macroF1(gold: [String], predicted: [String?]) -> Double {
        let classes = Set(gold).union(predicted.compactMap { $0 })
        guard !classes.isEmpty else { return 0 }
        var total = 0.0
        for c in classes {
            var tp = 0, fp = 0, fn = 0
            for (g, p) in zip(gold, predicted) {
                if p == c, g == c { tp += 1 } else if p == c { fp += 1 } else if g == c { fn += 1 }
            }
            total += tp == 0 ? 0 : 2 * Double(tp) / Double(2 * tp + fp + fn)
        }
        return total / Double(classes.count)
    }

    /// Citation markers such as `[1]` or `[2, 3]` removed (they are not part of an answer).
    public static func withoutCitations(_ text: String) -> String {
        text.replacingOccurrences(of: #"\s*\[\d+(\s*,\s*\d+)*\]"#, with: "", options: .regularExpression)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A QA dataset folder: `qa.jsonl` (`question`, `answer`, `source`, optional `long_answer` and
/// `id`) and the documents under `docs/`.
public struct QADataset: Sendable {
    public struct Item: Sendable, Decodable {
        public var question: String
        public var answer: String
        public var source: String
        public var longAnswer: String?
        public var id: String?

        enum CodingKeys: String, CodingKey { case question, answer, source, longAnswer = "long_answer", id }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            question = try c.decode(String.self, forKey: .question)
            answer = try c.decode(String.self, forKey: .answer)
            source = try c.decode(String.self, forKey: .source)
            longAnswer = try c.decodeIfPresent(String.self, forKey: .longAnswer)
            id = (try? c.decodeIfPresent(String.self, forKey: .id)) ?? (try? c.decodeIfPresent(Int.self, forKey: .id)).flatMap { $0.map(String.init) }
        }
        public init(question: String, answer: String, source: String, longAnswer: String? = nil, id: String? = nil) {
            (self.question, self.answer, self.source, self.longAnswer, self.id) = (question, answer, source, longAnswer, id)
        }
    }

    public var directory: String
    public var items: [Item]
    public var documents: String { directory + "/docs" }
    /// Every gold answer is yes, no or maybe: scored as labels.
    public var isLabelled: Bool { items.allSatisfy { QAMetrics.labels.contains($0.answer.lowercased()) } }

    public init(directory: String) throws {
        self.directory = URL(fileURLWithPath: directory).standardizedFileURL.path
        let file = self.directory + "/qa.jsonl"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw RAGError(.notFound, "\(file): cannot read it; a QA dataset is a folder with qa.jsonl and docs/")
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: self.directory + "/docs", isDirectory: &isFolder), isFolder.boolValue else {
            throw RAGError(.notFound, "\(self.directory)/docs: no such folder; the documents of a QA dataset live in docs/")
        }
        items = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            do {
                items.append(try JSONDecoder().decode(Item.self, from: Data(line.utf8)))
            } catch {
                throw RAGError(.invalidInput, "\(file):\(number + 1): expected a JSON object with string fields question, answer and source")
            }
        }
        guard !items.isEmpty else { throw RAGError(.invalidInput, "\(file): no questions") }
    }
}

/// One question's outcome (a line of `--out`).
public struct QARecord: Sendable, Encodable {
    public var id: String?
    public var question: String
    public var gold: String
    public var answer: String
    /// The yes/no/maybe label of a scored label question's answer (nil: it holds none).
    public var label: String? {
        get { labelField?.wrappedValue }
        set { labelField = ExplicitNull(wrappedValue: newValue) }
    }
    /// Set only for label questions, which always report `label` (null when the answer holds none).
    var labelField: ExplicitNull<String>?
    public var correct: Bool?
    public var exactMatch: Double?
    public var f1: Double?
    public var rougeL: Double?
    /// 1-based rank of the gold source among the retrieved documents (nil: not in the first 50).
    @ExplicitNull public var sourceRank: Int?
    public var sourceInContext: Bool
    /// The cosine similarity of the question to its nearest chunk (what `--abstain-below` tests), to 4 places.
    public var similarity: Double?
    public var abstained: Bool
    /// The model answered that the sources do not say ("I don't know").
    public var declined = false
    public var seconds: Double
    public var promptTokens: Int
    public var decodeTokS: Double
    public var documents: [String]
    /// The answer has at least one marker that points to a source (after the check).
    public var cited = false
    /// The answer's first marker points to the gold document (nil: no marker).
    @ExplicitNull public var firstCitationGold: Bool?
    /// Speculative decoding: draft tokens proposed and accepted, verification passes.
    public var drafted = 0, accepted = 0, passes = 0
    /// Self-consistency voting (nil: one answer).
    public var votes: VoteReport?

    enum CodingKeys: String, CodingKey {
        case id, question, gold, answer, labelField = "label", correct, exactMatch = "exact_match", f1, rougeL = "rouge_l",
             sourceRank = "source_rank", sourceInContext = "source_in_context", similarity, abstained, declined, seconds,
             promptTokens = "prompt_tokens", decodeTokS = "decode_tok_s", documents, cited, firstCitationGold = "first_citation_gold",
             drafted, accepted, passes, votes
    }
}

/// Answers a dataset's questions with the `rag ask` pipeline and scores them.
public struct QAEvaluation: Sendable {
    public struct Result: Sendable, Encodable {
        public var questions: Int
        public var accuracy: Double?
        public var macroF1: Double?
        public var exactMatch: Double?
        public var f1: Double?
        public var rougeL: Double?
        public var sourceHit1: Double
        public var sourceHitK: Double
        public var k: Int
        public var sourceInContext: Double
        public var mrr10: Double
        public var abstained: Int
        /// Answers that said "I don't know" although retrieval found sources.
        public var declined: Int?
        public var unlabelled: Int?
        public var secondsPerQuestion: Double
        public var promptTokens: Double
        public var decodeTokS: Double
        /// Answers (neither abstained nor declined) with a valid marker; of those, the first
        /// marker is the gold document.
        public var cited: Double?
        public var firstCitationGold: Double?
        /// Speculative decoding over all answers: the share of draft tokens accepted, tokens a pass.
        public var acceptanceRate: Double?
        public var tokensPerPass: Double?
        /// Self-consistency: samples taken per voted answer, and the winners' mean share of them.
        public var samplesPerAnswer: Double?
        public var voteConfidence: Double?
        /// The quality the first n votes of each answer give, n = 1 (no vote), 3, 5, … (from the
        /// same samples: what `--votes n` gives).
        public var byVotes: [VotePoint]?

        public struct VotePoint: Sendable, Encodable {
            public var votes: Int
            public var accuracy: Double?
            public var macroF1: Double?
            public var f1: Double?
            enum CodingKeys: String, CodingKey { case votes, accuracy, macroF1 = "macro_f1", f1 }
        }

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(_ s: String) { stringValue = s }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(questions, forKey: Key("questions"))
            try c.encodeIfPresent(accuracy, forKey: Key("accuracy"))
            try c.encodeIfPresent(macroF1, forKey: Key("macro_f1"))
            try c.encodeIfPresent(unlabelled, forKey: Key("unlabelled"))
            try c.encodeIfPresent(exactMatch, forKey: Key("exact_match"))
            try c.encodeIfPresent(f1, forKey: Key("f1"))
            try c.encodeIfPresent(rougeL, forKey: Key("rouge_l"))
            try c.encode(sourceHit1, forKey: Key("source_hit@1"))
            try c.encode(sourceHitK, forKey: Key("source_hit@\(k)"))
            try c.encode(mrr10, forKey: Key("source_mrr@10"))
            try c.encode(sourceInContext, forKey: Key("source_in_context"))
            try c.encode(abstained, forKey: Key("abstained"))
            try c.encodeIfPresent(declined, forKey: Key("declined"))
            try c.encode(secondsPerQuestion, forKey: Key("seconds_per_question"))
            try c.encode(promptTokens, forKey: Key("prompt_tokens"))
            try c.encode(decodeTokS, forKey: Key("decode_tok_s"))
            try c.encodeIfPresent(cited, forKey: Key("cited"))
            try c.encodeIfPresent(firstCitationGold, forKey: Key("first_citation_gold"))
            try c.encodeIfPresent(acceptanceRate, forKey: Key("acceptance_rate"))
            try c.encodeIfPresent(tokensPerPass, forKey: Key("tokens_per_pass"))
            try c.encodeIfPresent(samplesPerAnswer, forKey: Key("samples_per_answer"))
            try c.encodeIfPresent(voteConfidence, forKey: Key("vote_confidence"))
            try c.encodeIfPresent(byVotes, forKey: Key("by_votes"))
        }
    }

    /// Whether `document` (as stored) is the dataset's `source` (a path relative to the dataset folder).
    public static func isSource(_ document: String, _ source: String, in directory: String) -> Bool {
        document == source || document == directory + "/" + source || document.hasSuffix("/" + source)
    }

    /// Runs every item. `generate: false` scores retrieval only (no model call). `k` is the
    /// cut-off of the source hit rate, over documents ranked by their best chunk.
    public static func run(
        _ dataset: QADataset, answerer: Answerer, options: AskOptions, k: Int = 5, generate: Bool = true,
        progress: (QARecord, Int, Int) -> Void = { _, _, _ in }
    ) throws -> (result: Result, records: [QARecord]) {
        let labelled = dataset.isLabelled
        var records: [QARecord] = []
        for (i, item) in dataset.items.enumerated() {
            let start = DispatchTime.now().uptimeNanoseconds
            // One embedding of the question serves the ranking below and the answer's retrieval.
            let vector = options.mode == .bm25 ? nil : try answerer.retriever.embed(item.question)
            let retrieval = try answerer.retriever.retrieve(item.question, mode: options.mode, topK: max(50, options.topK), vector: vector)
            let hits = retrieval.hits
            var documents: [String] = []
            for hit in hits where !documents.contains(hit.document) { documents.append(hit.document) }
            let rank = documents.firstIndex { isSource($0, item.source, in: dataset.directory) }.map { $0 + 1 }
            var record = QARecord(
                id: item.id, question: item.question, gold: item.answer, answer: "", sourceRank: rank,
                sourceInContext: false, abstained: false, seconds: 0, promptTokens: 0, decodeTokS: 0,
                documents: Array(documents.prefix(k)))
            record.similarity = retrieval.bestSimilarity?.rounded(places: 4)
            if generate {
                let result = try answerer.ask(item.question, options: options, lookup: Answerer.CacheLookup(vector: vector))
                record.answer = result.answer
                record.abstained = result.abstained
                record.declined = result.declined
                record.sourceInContext = result.sources.contains { isSource($0.document, item.source, in: dataset.directory) }
                record.promptTokens = result.generation?.promptTokens.count ?? 0
                record.decodeTokS = result.generation?.decodeTokensPerSecond ?? 0
                record.cited = !result.citationSpans.isEmpty
                record.firstCitationGold = result.citationSpans.first.map { first in
                    result.sources.first { $0.n == first.n }.map { isSource($0.document, item.source, in: dataset.directory) } ?? false
                }
                record.votes = result.votes
                if let speculation = result.generation?.speculation {
                    (record.drafted, record.accepted, record.passes) = (speculation.drafted, speculation.accepted, speculation.passes)
                }
                let answer = QAMetrics.withoutCitations(result.answer)
                if labelled {
                    record.label = QAMetrics.label(answer)
                    record.correct = record.label == item.answer.lowercased()
                } else {
                    record.exactMatch = QAMetrics.exactMatch(answer, item.answer)
                    record.f1 = QAMetrics.tokenF1(answer, item.answer)
                }
                record.rougeL = QAMetrics.rougeL(answer, item.longAnswer ?? item.answer)
            } else {
                let sources = try answerer.prepare(item.question, options: options, vector: vector).sources
                record.sourceInContext = sources.contains { isSource($0.document, item.source, in: dataset.directory) }
            }
            record.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            records.append(record)
            progress(record, i + 1, dataset.items.count)
        }
        return (summarize(records, labelled: labelled && generate, generated: generate, k: k), records)
    }

    public static func summarize(_ records: [QARecord], labelled: Bool, generated: Bool, k: Int) -> Result {
        let n = Double(max(1, records.count))
        func mean(_ values: [Double]) -> Double { (values.reduce(0, +) / Double(max(1, values.count))).rounded(places: 4) }
        let generatedDecode = records.filter { $0.decodeTokS > 0 }.map(\.decodeTokS)
        let answered = records.filter { !$0.abstained && !$0.declined }
        let drafted = records.map(\.drafted).reduce(0, +), accepted = records.map(\.accepted).reduce(0, +), passes = records.map(\.passes).reduce(0, +)
        let voted = records.compactMap(\.votes)
        func share(_ part: Int, of whole: Int) -> Double? { whole > 0 ? (Double(part) / Double(whole)).rounded(places: 4) : nil }
        return Result(
            questions: records.count,
            accuracy: labelled ? mean(records.map { $0.correct == true ? 1 : 0 }) : nil,
            macroF1: labelled ? QAMetrics.macroF1(gold: records.map { $0.gold.lowercased() }, predicted: records.map(\.label)).rounded(places: 4) : nil,
            exactMatch: generated && !labelled ? mean(records.compactMap(\.exactMatch)) : nil,
            f1: generated && !labelled ? mean(records.compactMap(\.f1)) : nil,
            rougeL: generated ? mean(records.compactMap(\.rougeL)) : nil,
            sourceHit1: (Double(records.filter { $0.sourceRank == 1 }.count) / n).rounded(places: 4),
            sourceHitK: (Double(records.filter { ($0.sourceRank ?? .max) <= k }.count) / n).rounded(places: 4),
            k: k,
            sourceInContext: (Double(records.filter(\.sourceInContext).count) / n).rounded(places: 4),
            mrr10: mean(records.map { $0.sourceRank.map { $0 <= 10 ? 1 / Double($0) : 0 } ?? 0 }),
            abstained: records.filter(\.abstained).count,
            declined: generated ? records.filter(\.declined).count : nil,
            unlabelled: labelled ? records.filter { $0.label == nil }.count : nil,
            secondsPerQuestion: (records.map(\.seconds).reduce(0, +) / n).rounded(places: 4),
            promptTokens: generated ? (records.map { Double($0.promptTokens) }.reduce(0, +) / n).rounded() : 0,
            decodeTokS: generatedDecode.isEmpty ? 0 : (generatedDecode.reduce(0, +) / Double(generatedDecode.count)).rounded(places: 1),
            cited: generated ? share(answered.filter(\.cited).count, of: answered.count) : nil,
            firstCitationGold: generated ? share(answered.filter { $0.firstCitationGold == true }.count, of: answered.filter(\.cited).count) : nil,
            acceptanceRate: drafted > 0 ? share(accepted, of: drafted) : nil,
            tokensPerPass: passes > 0 ? (Double(accepted + passes) / Double(passes)).rounded(places: 2) : nil,
            samplesPerAnswer: voted.isEmpty ? nil : mean(voted.map { Double($0.taken) }),
            voteConfidence: voted.isEmpty ? nil : mean(voted.map(\.confidence)),
            byVotes: !voted.isEmpty ? byVotes(records, labelled: labelled) : nil)
    }

    /// Quality at n = 1, 3, 5, … votes (and the number asked), from each record's votes in order
    /// (an abstained question has none and counts as a miss).
    static func byVotes(_ records: [QARecord], labelled: Bool) -> [Result.VotePoint] {
        let asked = records.compactMap { $0.votes?.samples }.max() ?? 1
        let counts = Array(stride(from: 1, through: asked, by: 2)) + (asked % 2 == 0 ? [asked] : [])
        return counts.map { n in
            let winners = records.map { SelfConsistency.winner(of: $0.votes?.votes ?? [], first: n) ?? "" }
            if labelled {
                let predicted = winners.map(QAMetrics.label)
                let gold = records.map { $0.gold.lowercased() }
                let correct = zip(predicted, gold).filter { $0 == $1 }.count
                return Result.VotePoint(
                    votes: n, accuracy: (Double(correct) / Double(records.count)).rounded(places: 4),
                    macroF1: QAMetrics.macroF1(gold: gold, predicted: predicted).rounded(places: 4))
            }
            let f1 = zip(winners, records).map { QAMetrics.tokenF1($0, $1.gold) }.reduce(0, +) / Double(records.count)
            return Result.VotePoint(votes: n, f1: f1.rounded(places: 4))
        }
    }
}

/// Four decimals: the precision the evaluation reports figures at.
