internal import Foundation
internal import RAGCore
internal import Yams

/// The API's description (`openapi.yaml`, OpenAPI 3.1), as `GET /openapi.json` serves it: the
/// file, with what this server decides filled in — its templates (the `template` values and the
/// `rag:TEMPLATE` model names), its generator's model name, its `max_tokens` limit, its embedder's name and dimensions — so
/// that a client generated from it, or a checker such as schemathesis, sees this server's truth.
struct OpenAPIDocument: Sendable {
    /// The document as JSON.
    let json: Data

    /// The file as written, parsed (the bundle's resource).
    static func file() throws -> [String: Any] {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw RAGError(.notFound, "openapi.yaml is missing from the rag_RAGServer resources beside the rag binary; rebuild rag")
        }
        return try parse(String(contentsOf: url, encoding: .utf8))
    }

    static func parse(_ yaml: String) throws -> [String: Any] {
        guard let node = try Yams.compose(yaml: yaml), let document = plain(node) as? [String: Any] else {
            throw RAGError(.invalidInput, "openapi.yaml is not a YAML mapping")
        }
        return document
    }

    /// A node as JSONSerialization takes it. An integer past `Int` (a UInt64 seed's maximum) stays
    /// a number (Yams would make it a string).
    static func plain(_ node: Node) -> Any {
        switch node {
        case .mapping(let mapping):
            return Dictionary(mapping.map { ($0.key.string ?? "\($0.key)", plain($0.value)) }, uniquingKeysWith: { $1 })
        case .sequence(let sequence):
            return sequence.map(plain)
        case .scalar(let scalar) where node.tag.description == Tag.Name.int.rawValue && node.int == nil:
            return UInt64(scalar.string).map { NSNumber(value: $0) } ?? scalar.string
        default:
            return node.any
        }
    }

    init(templates: [String], maxTokens: Int, model: String, embedder: String, dimensions: Int) throws {
        var document = try Self.file()
        Self.edit(&document, ["components", "schemas", "AnswerParameters", "properties", "template", "enum"], templates.sorted() + [NSNull()])
        Self.edit(&document, ["components", "schemas", "AnswerParameters", "properties", "max_tokens", "maximum"], maxTokens)
        for field in ["max_tokens", "max_completion_tokens"] {
            Self.edit(&document, ["components", "schemas", "ChatRequest", "properties", field, "maximum"], maxTokens)
        }
        let names = templates.sorted().map { NSRegularExpression.escapedPattern(for: $0) }.joined(separator: "|")
        Self.edit(&document, ["components", "schemas", "ChatRequest", "properties", "model", "pattern"], "^(rag(:(\(names)))?|\(NSRegularExpression.escapedPattern(for: model)))$")
        var models = ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "rag"]
        if !models.contains(embedder) { models.append(embedder) }
        Self.edit(&document, ["components", "schemas", "EmbeddingsRequest", "properties", "model", "enum"], models)
        Self.edit(&document, ["components", "schemas", "EmbeddingsRequest", "properties", "dimensions", "enum"], [dimensions, NSNull()])
        json = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// Sets the value at `path` (mappings only); a path the file no longer has is a programming
    /// error that the spec test catches.
    static func edit(_ node: inout [String: Any], _ path: [String], _ value: Any) {
        guard let key = path.first else { return }
        if path.count == 1 {
            node[key] = value
            return
        }
        guard var child = node[key] as? [String: Any] else { return }
        edit(&child, Array(path.dropFirst()), value)
        node[key] = child
    }
}
