import ArgumentParser
import Foundation
import RAG
import RAGCore
import RAGStorage

/// What shapes an answer, shared by `rag ask` and `rag eval qa`: the template, how many chunks,
/// the answer's and the context's budgets, abstention, fusion and voting.
struct AnswerOptions: ParsableArguments {
    @Option(help: "Template name (default, cot, fewshot, yesno, or one in --templates).") var template = "default"
    @Option(help: ArgumentHelp("A folder of your own templates (NAME.mustache).", valueName: "dir")) var templates: String?
    @Option(help: "How many chunks to retrieve for the prompt.") var topK = 5
    @Option(name: .customLong("max-tokens"), help: "Most tokens in an answer.") var maxTokens = 256
    @Option(name: .customLong("abstain-below"), help: "Answer \"I don't know\" when the best chunk's cosine similarity is below this.") var abstainBelow = 0.3
    @Option(help: "Context size in tokens.") var context = 2048
    @Flag(name: .customLong("ignore-eos"), help: "Never stop at the model's end of answer: write --max-tokens tokens (as the API's ignore_eos; for benchmarks and tests).")
    var ignoreEOS = false
    @OptionGroup var fusion: FusionOptions
    @OptionGroup var voting: VotingOptions
    @OptionGroup var filter: FilterOptions
    @Option(
        name: .customLong("json-schema"),
        help: ArgumentHelp("Answer with JSON that matches this JSON schema (a file); sampling is held to it.", valueName: "file"))
    var jsonSchema: String?

    /// The schema of `--json-schema`, read and checked.
    func schema() throws -> JSONSchema? {
        guard let jsonSchema else { return nil }
        guard let data = FileManager.default.contents(atPath: jsonSchema) else {
            throw ValidationError("--json-schema: cannot read \(jsonSchema); give a JSON schema file")
        }
        do {
            return try JSONSchema(parsing: String(decoding: data, as: UTF8.self))
        } catch let error as RAGError {
            throw ValidationError("--json-schema \(jsonSchema): \(error.message)")
        }
    }

    func validate() throws {
        try fusion.check()
        _ = try filter.searchFilter()
        _ = try schema()
        try voting.check()
        guard (1...50).contains(topK) else { throw ValidationError("--top-k must be between 1 and 50 (got \(topK)).") }
        guard maxTokens > 0, context > maxTokens + 64 else { throw ValidationError("--context must exceed --max-tokens by at least 64 tokens") }
    }

    /// The service's side: its context size and the user's templates.
    func configure(_ configuration: inout RAGService.Configuration) {
        configuration.contextLength = context
        configuration.userTemplates = templates
    }

    /// One question's options.
    func askOptions(mode: SearchMode, speculate: Bool) -> AskOptions {
        var options = AskOptions()
        options.topK = topK
        options.template = template
        options.mode = mode
        options.answerTokens = maxTokens
        options.abstainBelow = abstainBelow
        options.speculate = speculate
        options.ignoreEndOfGeneration = ignoreEOS
        options.filter = (try? filter.searchFilter()) ?? nil  // checked in validate()
        options.schema = (try? schema()) ?? nil
        voting.apply(to: &options)
        return options
    }
}
