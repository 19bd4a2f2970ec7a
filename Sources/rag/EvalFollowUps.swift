import ArgumentParser
import Foundation
import RAG
import RAGCore
import RAGStorage

/// `rag eval followups`: follow-up questions of conversations — is the document the last turn
/// needs among the first k retrieved, searching with the turn as asked and with the turn made
/// to stand alone by the model (what `rag chat` and chat completions search with)?
struct EvalFollowUps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "followups",
        abstract: "Follow-up questions: the gold document's hit@k with and without rewriting.",
        discussion: """
        --set is a JSON array of {gold, turns: [[role, text], …]}, the last turn a user's \
        follow-up and gold the file name of the document it needs. --docs is ingested (into --db \
        or an index in the cache, reused). Documents are ranked by their best chunk among \
        --depth retrieved.
        """)

    @Option(help: ArgumentHelp("The conversations: a JSON array of {gold, turns}.", valueName: "file")) var set = "eval/conversations.json"
    @Option(help: ArgumentHelp("The documents the conversations are about.", valueName: "dir")) var docs = "corpus"
    @Option(help: ArgumentHelp("The index file (default: one for --docs in the cache).", valueName: "file")) var db: String?
    @Option(help: "The cut-off (documents).") var k = 5
    @Option(help: "Chunks retrieved, folded into documents.") var depth = 50
    @Option(help: "bm25, dense or hybrid.") var mode: SearchMode = .hybrid
    @OptionGroup var embedderOptions: EmbedderOptions
    @OptionGroup var generatorOptions: GeneratorOptions
    @OptionGroup var remote: RemoteGeneratorOptions
    @Flag(help: "Print one JSON object.") var json = false

    struct Conversation {
        var gold: String
        var turns: [ChatMessage]
    }

    struct Record: Encodable {
        var gold: String
        var question: String
        var standalone: String
        /// The gold document's rank (1-based) among the documents retrieved; nil: not found.
        var rankAsAsked: Int?
        var rankRewritten: Int?
    }

    struct Summary: Encodable {
        var model: String
        var conversations: Int
        var k: Int
        var hitAsAsked: Double
        var hitRewritten: Double
        var gain: Double
        var secondsPerRewrite: Double
        var records: [Record]
    }

    static func load(_ path: String) throws -> [Conversation] {
        guard let data = FileManager.default.contents(atPath: path) else { throw RAGError(.notFound, "\(path): no such set file") }
        guard case .array(let entries) = try JSONValue.parse(Array(data)) else { throw RAGError(.invalidInput, "\(path): expected a JSON array") }
        return try entries.enumerated().map { i, entry in
            guard case .string(let gold)? = entry["gold"], case .array(let list)? = entry["turns"] else {
                throw RAGError(.invalidInput, "\(path): conversation \(i) needs gold and turns")
            }
            let turns = try list.map { turn -> ChatMessage in
                guard case .array(let pair) = turn, pair.count == 2, case .string(let role) = pair[0], case .string(let text) = pair[1],
                      let r = ChatMessage.Role(rawValue: role) else {
                    throw RAGError(.invalidInput, "\(path): conversation \(i): a turn is [role, text]")
                }
                return ChatMessage(r, text)
            }
            guard turns.last?.role == .user else { throw RAGError(.invalidInput, "\(path): conversation \(i) must end with a user turn") }
            return Conversation(gold: gold, turns: turns)
        }
    }

    func run() async throws {
        do {
            let conversations = try Self.load(set)
            let path = db ?? EvalRetrieval.cachedIndex(for: URL(fileURLWithPath: docs).standardizedFileURL.path, suffix: "")
            let service = try makeService(db: path, .createIfMissing, embedder: embedderOptions, generator: generatorOptions, remote: remote)
            let report = try service.ingest([docs])
            if !json, report.chunks > 0 { printError("ingested \(report.documents) documents, \(report.chunks) chunks into \(path)") }
            let answerer = try service.answerer()
            func rank(_ query: String, gold: String) throws -> Int? {
                let hits = try answerer.retriever.retrieve(query, mode: mode, topK: depth).hits
                return RetrievalEvaluation.documents(hits).firstIndex { $0 == gold || $0.hasSuffix("/" + gold) }.map { $0 + 1 }
            }
            var records: [Record] = []
            var rewriteSeconds = 0.0
            for (i, conversation) in conversations.enumerated() {
                let question = conversation.turns.last!.content
                let start = Date()
                let standalone = try answerer.standalone(question, after: Array(conversation.turns.dropLast()))
                rewriteSeconds += Date().timeIntervalSince(start)
                records.append(Record(
                    gold: conversation.gold, question: question, standalone: standalone,
                    rankAsAsked: try rank(question, gold: conversation.gold), rankRewritten: try rank(standalone, gold: conversation.gold)))
                if stderrIsTerminal && !json { FileHandle.standardError.write(Data("\r\(i + 1)/\(conversations.count) conversations  ".utf8)) }
            }
            if stderrIsTerminal && !json { FileHandle.standardError.write(Data("\n".utf8)) }
            let n = Double(max(1, records.count))
            func hits(_ rank: (Record) -> Int?) -> Double { (Double(records.filter { (rank($0) ?? .max) <= k }.count) / n).rounded(places: 4) }
            let asAsked = hits(\.rankAsAsked), rewritten = hits(\.rankRewritten)
            let summary = Summary(
                model: answerer.generator.modelName, conversations: records.count, k: k, hitAsAsked: asAsked, hitRewritten: rewritten,
                gain: (rewritten - asAsked).rounded(places: 4), secondsPerRewrite: (rewriteSeconds / n).rounded(places: 2), records: records)
            if json {
                printJSON(summary)
                return
            }
            print("\(records.count) conversations, \(mode.rawValue), \(summary.model): gold document hit@\(k) \(String(format: "%.4f", asAsked)) as asked, \(String(format: "%.4f", rewritten)) rewritten (\(String(format: "%+.4f", summary.gain))); \(String(format: "%.2f", summary.secondsPerRewrite)) s a rewrite")
            for r in records where (r.rankRewritten ?? .max) > k {
                print("  missed \(r.gold): \"\(r.question)\" → \"\(r.standalone)\"")
            }
        } catch {
            throw fail(error)
        }
    }
}
