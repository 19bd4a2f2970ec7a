import ArgumentParser
import Foundation
import RAG
import RAGCore
import RAGStorage

/// `rag eval structured`: structured answers on a set of schemas and questions — how many parse
/// and validate, and what holding sampling to the schema costs in decode speed.
struct EvalStructured: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "structured",
        abstract: "Structured answers: share that parse and validate, and the constraint's decode cost.",
        discussion: """
        --set is a JSON array of {name, schema, questions}. --docs is ingested (into --db or an \
        index in the cache, reused); each question is answered as `rag ask --json-schema` would, \
        and the answer parsed and validated against its schema. The same prompt is then generated \
        without the constraint: decode tok/s of both, over all questions, give the constraint's cost.
        """)

    @Option(help: ArgumentHelp("The set: a JSON array of {name, schema, questions}.", valueName: "file")) var set = "eval/structured.json"
    @Option(help: ArgumentHelp("The documents the questions are about.", valueName: "dir")) var docs = "corpus"
    @Option(help: ArgumentHelp("The index file (default: one for --docs in the cache).", valueName: "file")) var db: String?
    @Option(help: "Only the first N schemas.") var limit: Int?
    @Flag(name: .customLong("no-baseline"), help: "Do not generate without the constraint (no cost figure).") var noBaseline = false
    @OptionGroup var answer: AnswerOptions
    @OptionGroup var embedderOptions: EmbedderOptions
    @OptionGroup var generatorOptions: GeneratorOptions
    @OptionGroup var remote: RemoteGeneratorOptions
    @Flag(help: "Print one JSON object.") var json = false

    struct Item {
        var name: String
        var schema: JSONSchema
        var questions: [String]
    }

    struct Record: Encodable {
        var schema: String
        var question: String
        var answer: String
        var parses: Bool
        var violations: [String]
        var stop: String
        var tokens: Int
        var decodeTokS: Double
        /// Times the vocabulary was masked, and the constraint's milliseconds in all.
        var masks: Int
        var constraintMs: Double
        var baselineTokens: Int?
        var baselineDecodeTokS: Double?
    }

    struct Summary: Encodable {
        var model: String
        var schemas: Int
        var answers: Int
        var parsed: Int
        var valid: Int
        var validShare: Double
        /// Decode tok/s over every answer: constrained, and the same prompts without the constraint.
        var constrainedDecodeTokS: Double
        var freeDecodeTokS: Double?
        /// 1 − constrained / free.
        var decodeCost: Double?
        /// The constraint's own seconds (checks and masks) as a share of the constrained decode time.
        var constraintShare: Double
        var masks: Int
        var bySchema: [String: Int]
        var records: [Record]
    }

    static func load(_ path: String) throws -> [Item] {
        guard let data = FileManager.default.contents(atPath: path) else { throw RAGError(.notFound, "\(path): no such set file") }
        guard case .array(let entries) = try JSONValue.parse(Array(data)) else { throw RAGError(.invalidInput, "\(path): expected a JSON array") }
        return try entries.enumerated().map { i, entry in
            guard case .string(let name)? = entry["name"], let schema = entry["schema"], case .array(let questions)? = entry["questions"] else {
                throw RAGError(.invalidInput, "\(path): entry \(i) needs name, schema and questions")
            }
            do {
                return Item(name: name, schema: try JSONSchema(schema), questions: questions.compactMap { if case .string(let q) = $0 { q } else { nil } })
            } catch let error as RAGError {
                throw RAGError(.invalidInput, "\(path): \(name): \(error.message)")
            }
        }
    }

    func run() async throws {
        do {
            var items = try Self.load(set)
            if let limit { items = Array(items.prefix(limit)) }
            let path = db ?? EvalRetrieval.cachedIndex(for: URL(fileURLWithPath: docs).standardizedFileURL.path, suffix: "")
            let service = try makeService(
                db: path, .createIfMissing, embedder: embedderOptions, generator: generatorOptions, remote: remote, fusion: answer.fusion, answer.configure)
            try service.checkTemplate(answer.template)
            let report = try service.ingest([docs])
            if !json, report.chunks > 0 { printError("ingested \(report.documents) documents, \(report.chunks) chunks into \(path)") }
            let answerer = try service.answerer()
            let total = items.reduce(0) { $0 + $1.questions.count }
            var records: [Record] = []
            var constrained = (tokens: 0, seconds: 0.0), free = (tokens: 0, seconds: 0.0), constraintSeconds = 0.0
            for item in items {
                for question in item.questions {
                    var options = answer.askOptions(mode: try service.mode(), speculate: !generatorOptions.noSpeculate)
                    options.schema = item.schema
                    let result = try answerer.ask(question, options: options, lookup: .none)
                    let g = result.generation
                    let value = try? JSONValue.parse(result.answer)
                    var record = Record(
                        schema: item.name, question: question, answer: result.answer, parses: value != nil,
                        violations: value.map { item.schema.violations(of: $0) } ?? ["does not parse"], stop: g?.stopReason.rawValue ?? "-",
                        tokens: g?.tokens.count ?? 0, decodeTokS: (g?.decodeTokensPerSecond ?? 0).rounded(places: 1), masks: g?.constraintMasks ?? 0,
                        constraintMs: ((g?.constraintSeconds ?? 0) * 1000).rounded(places: 1))
                    constrained.tokens += g?.decodedTokens ?? 0
                    constrained.seconds += g?.decodeSeconds ?? 0
                    constraintSeconds += g?.constraintSeconds ?? 0
                    if !noBaseline {
                        // The same prompt, sampling unconstrained: what the constraint costs.
                        let prepared = try answerer.prepare(question, options: options)
                        let unconstrained = GenerationOptions(maxTokens: options.answerTokens, sampling: options.sampling, speculate: options.speculate)
                        let baseline = try answerer.generator.generate(chat: prepared.messages, options: unconstrained, emit: { _ in }, cancelled: { false })
                        record.baselineTokens = baseline.tokens.count
                        record.baselineDecodeTokS = baseline.decodeTokensPerSecond.rounded(places: 1)
                        free.tokens += baseline.decodedTokens
                        free.seconds += baseline.decodeSeconds
                    }
                    records.append(record)
                    if stderrIsTerminal && !json {
                        let valid = records.filter { $0.violations.isEmpty }.count
                        FileHandle.standardError.write(Data("\r\(records.count)/\(total) answers · \(valid) valid  ".utf8))
                    }
                }
            }
            if stderrIsTerminal && !json { FileHandle.standardError.write(Data("\n".utf8)) }
            let constrainedRate = constrained.seconds > 0 ? Double(constrained.tokens) / constrained.seconds : 0
            let freeRate = noBaseline || free.seconds == 0 ? nil : Double(free.tokens) / free.seconds
            var bySchema: [String: Int] = [:]
            for r in records where r.violations.isEmpty { bySchema[r.schema, default: 0] += 1 }
            let valid = records.filter { $0.violations.isEmpty }.count
            let summary = Summary(
                model: answerer.generator.modelName, schemas: items.count, answers: records.count, parsed: records.filter(\.parses).count, valid: valid,
                validShare: records.isEmpty ? 0 : (Double(valid) / Double(records.count)).rounded(places: 4),
                constrainedDecodeTokS: constrainedRate.rounded(places: 1), freeDecodeTokS: freeRate.map { $0.rounded(places: 1) },
                decodeCost: freeRate.map { (1 - constrainedRate / $0).rounded(places: 4) },
                constraintShare: constrained.seconds > 0 ? (constraintSeconds / constrained.seconds).rounded(places: 4) : 0,
                masks: records.reduce(0) { $0 + $1.masks }, bySchema: bySchema, records: records)
            if json {
                printJSON(summary)
                return
            }
            print("\(summary.model): \(items.count) schemas, \(records.count) answers: \(summary.parsed) parse, \(valid) valid (\(String(format: "%.1f", summary.validShare * 100)) %)")
            for item in items {
                print("  \(item.name): \(bySchema[item.name] ?? 0)/\(item.questions.count) valid")
            }
            for r in records where !r.violations.isEmpty { print("  invalid (\(r.schema)): \(r.violations.joined(separator: "; ")) — \(r.answer.prefix(200))") }
            if let freeRate {
                print(String(format: "decode: %.1f tok/s constrained, %.1f tok/s free (same prompts): %.1f %% slower", constrainedRate, freeRate, (1 - constrainedRate / freeRate) * 100))
            } else {
                print(String(format: "decode: %.1f tok/s constrained", constrainedRate))
            }
            print(String(format: "the constraint's own time: %.1f %% of the constrained decode (%d masks of the vocabulary)", summary.constraintShare * 100, summary.masks))
        } catch {
            throw fail(error)
        }
    }
}
