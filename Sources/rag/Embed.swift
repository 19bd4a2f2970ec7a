public import ArgumentParser
import Foundation
import RAGCore
public import RAGEmbedding

/// `--embedder DIR` and `--embed-precision`, shared by the commands that embed.
struct EmbedderOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The embedding model folder (model.safetensors, vocab.txt).", valueName: "dir"))
    var embedder: String = SentenceEmbedder.defaultDirectory

    @Option(help: ArgumentHelp(
        "The encoder's arithmetic: f32 (exact), bf16 (weights rounded to bfloat16, f32 arithmetic) or int8 (weights in int8 with a scale per row, activations with one per 32 values). An index records it: another precision re-embeds everything on the next ingest. (default: the index's; for a new one int8 where the CPU has AVX-512 VNNI, else bf16)",
        valueName: "precision"))
    var embedPrecision: BertEncoder.Precision?

    func load() throws -> SentenceEmbedder { try SentenceEmbedder(directory: embedder, precision: embedPrecision ?? SentenceEmbedder.defaultPrecision) }
}

extension BertEncoder.Precision: ExpressibleByArgument {}

struct Embed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed texts with the sentence encoder (all-MiniLM-L6-v2).",
        discussion: "Prints each text's token ids and its unit-length 384-d vector.")

    @OptionGroup var model: EmbedderOptions
    @Argument(help: "Texts to embed.") var texts: [String]
    @Flag(help: "Print JSON: {\"tokens\":[[ids…]…],\"vectors\":[[floats…]…]}.") var json = false

    func run() async throws {
        let embedder: SentenceEmbedder
        do { embedder = try model.load() } catch { throw fail(error) }
        let tokenized = embedder.tokenize(texts)
        let vectors = embedder.embed(tokenized: tokenized.map(\.ids))
        let warnings = zip(texts.indices, tokenized).filter { $0.1.truncated }.map {
            "text \($0.0 + 1) is longer than \(embedder.maxTokens) tokens; only its first \(embedder.maxTokens) were embedded"
        }
        if json {
            struct Output: Encodable { var tokens: [[Int32]]; var vectors: [[Float]]; var warnings: [String] }
            printJSON(Output(tokens: tokenized.map(\.ids), vectors: vectors, warnings: warnings))
            return
        }
        for warning in warnings { printError("warning: \(warning)") }
        for (text, (tokens, vector)) in zip(texts, zip(tokenized, vectors)) {
            print("\(text.prefix(60))\(text.count > 60 ? "…" : "")  (\(tokens.ids.count) tokens)")
            print("  [" + vector.prefix(8).map { String(format: "%.4f", $0) }.joined(separator: ", ") + ", …]")
        }
    }
}
