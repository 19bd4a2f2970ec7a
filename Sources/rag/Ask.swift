import ArgumentParser
import Foundation
import RAG
import RAGCore
import RAGLLM
import RAGStorage

/// `rag ask`: retrieve, build the prompt from a template, answer with the local model, cite.
struct Ask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer a question from the index with the local model, citing the sources.",
        discussion: """
        Hybrid retrieval (or BM25 when the index holds no vectors) finds the chunks; neighbouring \
        chunks of one document are merged; as many sources as fit the context (minus the answer's \
        budget) are numbered [1], [2], … in a prompt rendered from a template (the built-in templates: \
        default, cot, fewshot, yesno; --templates DIR adds your own). When no chunk is similar enough to the \
        question (cosine below --abstain-below), rag answers "I don't know" without calling the model.
        """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var embedderOptions: EmbedderOptions
    @OptionGroup var generatorOptions: GeneratorOptions
    @OptionGroup var remote: RemoteGeneratorOptions
    @Argument(help: "The question.") var question: String
    @OptionGroup var answer: AnswerOptions
    @Flag(name: .customLong("show-prompt"), help: "Print the prompt (on stderr) before the answer.") var showPrompt = false
    @Flag(name: .customLong("show-reasoning"), help: "With --template cot, print the reasoning too.") var showReasoning = false
    @Flag(help: "Print one JSON object at the end instead of streaming.") var json = false

    func validate() throws {
        guard !question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ValidationError("the question is empty") }
        guard question.count <= 4000 else { throw ValidationError("the question is longer than 4000 characters") }
    }

    func run() async throws {
        do {
            let service = try makeService(
                db: store.db, .mustExist, embedder: embedderOptions, generator: generatorOptions, remote: remote, fusion: answer.fusion, answer.configure)
            try service.checkTemplate(answer.template)
            let answerer = try service.answerer()
            let options = answer.askOptions(mode: try service.mode(), speculate: !generatorOptions.noSpeculate)
            if showPrompt {
                let prepared = try answerer.prepare(question, options: options)
                printError(LiteralText.strip(prepared.prompt))
            }
            let result = try answerer.ask(question, options: options, showReasoning: showReasoning) { piece in
                if !json { FileHandle.standardOutput.write(Data(piece.utf8)) }
            }
            let g = result.generation
            if json {
                printJSON(AskReport(result, showReasoning: showReasoning && answer.template == "cot"))
                return
            }
            FileHandle.standardOutput.write(Data("\n".utf8))
            // The check adds the markers the model left out and drops those to no source; the
            // streamed text is the model's, so show the checked answer when they differ.
            let added = result.citationSpans.filter(\.added).map(\.n), removed = result.removedCitations
            if !added.isEmpty || !removed.isEmpty, !(showReasoning && answer.template == "cot") {
                var what: [String] = []
                if !added.isEmpty { what.append("added " + added.map { "[\($0)]" }.joined(separator: " ")) }
                if !removed.isEmpty { what.append("removed " + removed.map { "[\($0)]" }.joined(separator: " ") + " (no such source)") }
                print("\nCitations checked (\(what.joined(separator: "; "))):\n\(result.answer)")
            }
            if !result.sources.isEmpty {
                print("\nSources:")
                for s in result.sources {
                    print("[\(s.n)] \(displayPath(s.document))" + (s.heading.isEmpty ? "" : " › \(s.heading)"))
                }
            }
            if let g {
                printError(String(
                    format: "retrieval %.0f ms, %d prompt tokens, first token after %.0f ms, %.1f tok/s",
                    result.retrieveMilliseconds, g.promptTokens.count, g.timeToFirstToken * 1000, g.decodeTokensPerSecond))
            }
            if let votes = result.votes {
                let tally = votes.tally.map { "\"\($0.answer.prefix(40))\" \($0.votes)" }.joined(separator: ", ")
                printError(String(format: "votes: %@ · %d of %d samples · confidence %.2f%@ · %.1f s", tally, votes.taken, votes.samples, votes.confidence, votes.tie ? " (a tie)" : "", votes.seconds))
            }
        } catch {
            throw fail(error)
        }
    }
}

/// Self-consistency voting, for `ask` and `eval qa`.
struct VotingOptions: ParsableArguments {
    @Option(help: "Sample this many answers and return the most frequent (yes/no/maybe label, else the answer's text); 1: one greedy answer.") var votes = 1
    @Option(name: .customLong("vote-temperature"), help: "The sampling temperature of the votes.") var voteTemperature: Float = 0.7
    @Option(help: "The first vote's sampling seed (the next ones count up from it).") var seed: UInt64 = 0

    func check() throws {
        guard (1...15).contains(votes) else { throw ValidationError("--votes must be between 1 and 15 (got \(votes)).") }
        guard voteTemperature > 0, voteTemperature <= 2 else { throw ValidationError("--vote-temperature must be in (0, 2] (got \(voteTemperature)).") }
    }

    func apply(to options: inout AskOptions) {
        options.votes = votes
        options.voteTemperature = voteTemperature
        options.sampling.seed = seed
    }
}
