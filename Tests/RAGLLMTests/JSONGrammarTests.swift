import RAGCore
@testable import RAGLLM
import RAGTesting
import Testing

@Suite(.onTestThreads) struct JSONGrammarTests {
    static let schemas = [
        #"{"type": "object", "properties": {"answer": {"type": "string", "maxLength": 40}, "citations": {"type": "array", "items": {"type": "integer"}, "maxItems": 3}, "sure": {"type": "boolean"}}, "required": ["answer", "citations"]}"#,
        #"{"type": "object", "properties": {"a": {"type": "number"}, "b": {"enum": ["x", 1, null]}, "c": {"type": ["string", "null"]}}}"#,
        #"{"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string", "minLength": 2, "maxLength": 4}}, "required": ["k"]}, "minItems": 2, "maxItems": 4}"#,
        #"{"type": "object"}"#,
        #"{"type": "object", "properties": {"nested": {"type": "object", "properties": {"deeper": {"type": "object", "properties": {"n": {"type": "null"}}, "required": ["n"]}}, "required": ["deeper"]}}, "required": ["nested"]}"#,
    ]

    @Test func aSchemaTooLargeToBuildIsRefused() throws {
        let huge = try JSONSchema(parsing: #"{"type": "array", "items": {"type": "array", "items": {"type": "string", "maxLength": 10000}, "maxItems": 1000}, "maxItems": 1000}"#)
        #expect(throws: RAGError.self) { try JSONGrammar(huge) }
    }

    func accepts(_ grammar: JSONGrammar, _ text: String) -> Bool {
        let state = grammar.automaton.next(0, Array(text.utf8))
        return state >= 0 && grammar.automaton.accepts(state)
    }

    @Test func acceptsWhatTheSchemaAllowsAndNothingElse() throws {
        let g = try JSONGrammar(try JSONSchema(parsing: Self.schemas[0]))
        for good in [
            #"{"answer": "Yes [1].", "citations": [1, 2]}"#,
            "{\n  \"answer\": \"\\u00e9 é 😀\",\n  \"citations\": [],\n  \"sure\": true\n}",
            #"{"answer":"","citations":[3]}"#,
        ] { #expect(accepts(g, good), "\(good)") }
        for bad in [
            #"{"citations": [1], "answer": "order"}"#,  // properties come in the schema's order
            #"{"answer": "x"}"#,  // a required property is missing
            #"{"answer": "x", "citations": [1, 2, 3, 4]}"#,  // maxItems
            #"{"answer": "x", "citations": [1.5]}"#,  // an integer
            #"{"answer": "x", "citations": [], "other": 1}"#,  // only declared properties are generated
            #"{"answer": "\#(String(repeating: "a", count: 41))", "citations": []}"#,  // maxLength
            "{\"answer\": \"a\tb\", \"citations\": []}",  // a raw control character
            #"{"answer": "x", "citations": [],}"#,
            #"{"answer": "x", "citations": []} "#,  // nothing after the value
        ] { #expect(!accepts(g, bad), "\(bad)") }
        #expect(!accepts(g, #"{"answer": "x", "citations": [01]}"#))
        let number = try JSONGrammar(try JSONSchema(parsing: #"{"type": "number"}"#))
        for good in ["0", "-1.5", "2e10", "1E-3", "123456789012345"] { #expect(accepts(number, good), "\(good)") }
        for bad in ["01", "1.", ".5", "+1", "1e", "1234567890123456"] { #expect(!accepts(number, bad), "\(bad)") }
    }

    /// Random walks through each schema's automaton — any byte that keeps a way to the end within
    /// the budget — give texts that parse as JSON and validate against the schema.
    @Test(arguments: schemas.indices)
    func everyWalkIsValidJSONOfTheSchema(_ index: Int) throws {
        let schema = try JSONSchema(parsing: Self.schemas[index])
        let grammar = try JSONGrammar(schema)
        let a = grammar.automaton
        var random = SeededGenerator(seed: UInt64(index) + 1)
        for _ in 0..<200 {
            var state: Int32 = 0, bytes: [UInt8] = [], budget = 300
            #expect(a.distance(state) <= budget)
            while true {
                if a.accepts(state) && (!a.continues(state) || random.next() % 8 == 0) { break }
                let options = (0..<256).map { UInt8($0) }.filter { b in
                    let next = a.next(state, b)
                    return next >= 0 && a.distance(next) <= budget - 1
                }
                try #require(!options.isEmpty, "stuck after \(String(decoding: bytes, as: UTF8.self))")
                // Mostly printable ASCII, so walks get somewhere; sometimes any byte.
                let ascii = options.filter { $0 >= 0x20 && $0 < 0x7F }
                let pool = !ascii.isEmpty && random.next() % 4 != 0 ? ascii : options
                let b = pool[Int(random.next() % UInt64(pool.count))]
                bytes.append(b)
                state = a.next(state, b)
                budget -= 1
            }
            let value = try JSONValue.parse(bytes)
            #expect(schema.violations(of: value).isEmpty, "\(String(decoding: bytes, as: UTF8.self))")
        }
    }
}

@Suite(.onTestThreads, .serialized, .enabled(if: ModelFiles.haveSmallGenerator, "needs the small generator, SmolLM2 (make models)"))
struct ConstrainedGenerationTests {
    static let questions = [
        "Answer the question: is the sky blue? Cite source 1.",
        "Give two numbers and whether they are equal.",
        "List some short keys.",
        "Describe a cat.",
        "Fill in the nested fields.",
    ]

    /// The real model, greedy and sampled, with and without speculation: every output parses
    /// and validates, and ends with the JSON (the end of generation, not the budget).
    @Test(arguments: JSONGrammarTests.schemas.indices)
    func everyOutputIsValidJSONOfTheSchema(_ index: Int) throws {
        let schema = try JSONSchema(parsing: JSONGrammarTests.schemas[index])
        let generator = Generator(model: GeneratorTests.model, contextLength: 1024)
        let prompt = generator.chatTemplate.render([ChatMessage(.user, Self.questions[index] + " Reply in JSON matching: " + schema.source.text)])
        let ids = generator.tokenize(prompt)
        for (temperature, speculate) in [(Float(0), true), (0.9, false), (1.2, true)] {
            var streamed = ""
            let result = try generator.generate(
                prompt: ids, options: GenerationOptions(maxTokens: 300, sampling: SamplingOptions(temperature: temperature, seed: 7), speculate: speculate, schema: schema)
            ) { streamed += $0 }
            #expect(streamed == result.text)
            let value = try JSONValue.parse(result.text)
            #expect(schema.violations(of: value).isEmpty, "\(result.text)")
            #expect(result.stopReason == .endOfGeneration, "\(result.text)")
        }
    }

    /// A budget too small for what the model would write still ends in valid JSON: the
    /// constraint closes it in time.
    @Test func aTightBudgetStillEndsInValidJSON() throws {
        let schema = try JSONSchema(parsing: #"{"type": "object", "properties": {"story": {"type": "string"}, "more": {"type": "array", "items": {"type": "string"}}}, "required": ["story", "more"]}"#)
        let generator = Generator(model: GeneratorTests.model, contextLength: 1024)
        let ids = generator.tokenize(generator.chatTemplate.render([ChatMessage(.user, "Tell a long story about a dragon, in JSON.")]))
        for budget in [25, 40, 60] {
            let result = try generator.generate(prompt: ids, options: GenerationOptions(maxTokens: budget, schema: schema))
            #expect(result.tokens.count <= budget)
            #expect(schema.violations(of: try JSONValue.parse(result.text)).isEmpty, "\(result.text)")
        }
    }

    @Test func aSchemaWhoseShortestAnswerDoesNotFitIsRefused() throws {
        let schema = try JSONSchema(parsing: #"{"type": "array", "items": {"type": "string", "minLength": 50}, "minItems": 5}"#)
        let tokenizer = GeneratorTests.model.tokenizer
        #expect(throws: RAGError.self) { try Generator.constraint(schema, tokenizer: tokenizer, budget: 100) }
        #expect(try Generator.constraint(schema, tokenizer: tokenizer, budget: 300).distance == 5 * 52 + 6)
    }
}
