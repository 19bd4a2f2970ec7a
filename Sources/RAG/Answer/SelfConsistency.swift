public import Foundation
internal import RAGCore

/// Self-consistency voting (Wang et al. 2023, "Self-consistency improves chain of thought
/// reasoning in language models"): several answers, the most frequent final answer wins. The
/// first vote is the greedy answer (so one vote is plain decoding, and a tie goes to it), the
/// others are sampled at a temperature. An answer votes with its closed label (its first word is yes, no or maybe)
/// or else with its normalised text. Sampling stops as soon as no remaining sample can change
/// the winner (as in Aggarwal et al. 2023, "Let's sample step by step"), so the winner is the
/// one all samples would give.
public struct SelfConsistency: Sendable {
    public static let labels: Set<String> = ["yes", "no", "maybe"]

    /// Samples asked for.
    public let samples: Int
    /// Each distinct answer with its votes, in the order first sampled.
    public private(set) var tally: [(answer: String, votes: Int)] = []
    /// The sample index of each answer's first vote (what is returned for it).
    public private(set) var first: [Int] = []
    public private(set) var taken = 0
    /// Each sample's vote, in the order sampled.
    public private(set) var votes: [String] = []

    public init(samples: Int) { self.samples = samples }

    /// What an answer votes for: "yes", "no" or "maybe" when its first word is one, else its
    /// text in lower case without citation markers, punctuation or extra spaces.
    public static func key(_ answer: String) -> String {
        let words = answer.lowercased()
            .replacingOccurrences(of: #"\[\d+(\s*,\s*\d+)*\]"#, with: " ", options: .regularExpression)
            .split(whereSeparator: { !($0.isLetter || $0.isNumber) })
        if let head = words.first, labels.contains(String(head)) { return String(head) }
        return words.joined(separator: " ")
    }

    /// Counts one sampled answer.
    public mutating func add(_ answer: String) {
        let key = Self.key(answer)
        votes.append(key)
        if let i = tally.firstIndex(where: { $0.answer == key }) {
            tally[i].votes += 1
        } else {
            tally.append((key, 1))
            first.append(taken)
        }
        taken += 1
    }

    /// The index in `tally` of the winner: most votes, a tie going to the answer sampled first.
    public var leader: Int? {
        tally.indices.max { a, b in tally[a].votes != tally[b].votes ? tally[a].votes < tally[b].votes : a > b }
    }

    /// No remaining sample can make another answer reach the leader's votes.
    public var isDecided: Bool {
        guard let leader else { return false }
        let runnerUp = tally.indices.filter { $0 != leader }.map { tally[$0].votes }.max() ?? 0
        return taken >= samples || tally[leader].votes > runnerUp + (samples - taken)
    }

    /// The winner the first `n` of `votes` give (what `n` samples would have given: sampling
    /// with `samples` ≥ n stops no earlier than sampling with n does).
    public static func winner(of votes: [String], first n: Int) -> String? {
        var vote = SelfConsistency(samples: n)
        for key in votes.prefix(n) where !vote.isDecided { vote.add(key) }
        return vote.leader.map { vote.tally[$0].answer }
    }

    public func report(temperature: Float, seconds: Double) -> VoteReport {
        let leader = leader ?? 0
        let top = tally.isEmpty ? 0 : tally[leader].votes
        return VoteReport(
            samples: samples, taken: taken, temperature: Double(temperature), votes: votes,
            tally: tally.sorted { $0.votes > $1.votes }.map { VoteReport.Count(answer: $0.answer, votes: $0.votes) },
            winner: tally.isEmpty ? "" : tally[leader].answer,
            confidence: taken > 0 ? (Double(top) / Double(taken)).rounded(places: 4) : 0,
            tie: tally.filter { $0.votes == top }.count > 1,
            seconds: seconds.rounded(places: 3))
    }
}

/// How a voted answer was chosen (`votes` in `--json`).
public struct VoteReport: Sendable, Encodable, Equatable {
    public struct Count: Sendable, Encodable, Equatable {
        public var answer: String
        public var votes: Int
    }
    /// Samples asked for, and taken before the winner was certain.
    public var samples: Int
    public var taken: Int
    /// The temperature of the samples after the first (greedy) one.
    public var temperature: Double
    /// Each sample's vote, in the order sampled.
    public var votes: [String]
    /// Each distinct answer (label or normalised text) with its votes, most first.
    public var tally: [Count]
    public var winner: String
    /// The winner's share of the samples taken.
    public var confidence: Double
    /// Another answer had as many votes; the one sampled first won.
    public var tie: Bool
    /// Generation time of all samples together.
    public var seconds: Double
}
