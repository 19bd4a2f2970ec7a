import RAGCore
import Testing

@Suite struct JSONValueTests {
    @Test func parsesAndWritesBackCompactly() throws {
        let text = #"{"b": [1, 2.5, -3e2, true, null], "a": {"x": "é\n\"q\" \u00e9 \ud83d\ude00"}, "c": ""}"#
        let value = try JSONValue.parse(text)
        #expect(value["b"] == .array([.number(1, integer: true), .number(2.5, integer: false), .number(-300, integer: false), .bool(true), .null]))
        #expect(value["a"]?["x"] == .string("é\n\"q\" é 😀"))
        // Members keep their order and their keys as written.
        #expect(value.text == #"{"b":[1,2.5,-300.0,true,null],"a":{"x":"é\n\"q\" é 😀"},"c":""}"#)
        #expect(try JSONValue.parse(value.text) == value)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"tab\there\"", "tru", "{} x", "\"\\x\"", "-"])
    func refusesWhatIsNotJSON(_ text: String) {
        #expect(throws: RAGError.self) { try JSONValue.parse(text) }
    }

    @Test func namesWhereTheTextGoesWrong() {
        #expect {
            try JSONValue.parse("[1, 2 3]")
        } throws: { error in
            (error as? RAGError)?.message.contains("byte 6") == true
        }
    }
}

@Suite struct JSONSchemaTests {
    static let person = #"""
        {"type": "object", "title": "a person", "properties": {
            "name": {"type": "string", "maxLength": 20},
            "age": {"type": "integer"},
            "role": {"enum": ["admin", "user"]},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false},
            "note": {"type": ["string", "null"], "maxLength": 5}
        }, "required": ["name", "age"], "additionalProperties": false}
        """#

    @Test func readsTheSubset() throws {
        let schema = try JSONSchema(parsing: Self.person)
        guard case .object(let properties, let open) = schema.kind else { Issue.record("not an object: \(schema.kind)"); return }
        #expect(!open)
        #expect(properties.map(\.name) == ["name", "age", "role", "tags", "address", "note"])
        #expect(properties.map(\.required) == [true, true, false, false, false, false])
        #expect(properties[0].schema.kind == .string(minLength: 0, maxLength: 20))
        #expect(properties[2].schema.kind == .oneOf([.string("admin"), .string("user")]))
    }

    @Test(arguments: [
        (#"{"type": "string", "pattern": "^a"}"#, "pattern"),
        (#"{"type": "string", "format": "date"}"#, "format"),
        (#"{"anyOf": [{"type": "string"}]}"#, "anyOf"),
        (#"{"type": "object", "properties": {"a": {"type": "number", "minimum": 1}}}"#, "minimum"),
        (#"{"type": "object", "additionalProperties": {"type": "string"}}"#, "additionalProperties"),
        (#"{"type": "object", "properties": {"a": {}}, "required": ["b"]}"#, "required property b"),
        (#"{"type": "date"}"#, "type \"date\""),
        (#"{"type": "string", "maxItems": 3}"#, "maxItems does not apply"),
        (#"{"type": "array", "minItems": 3, "maxItems": 2}"#, "below minItems"),
        (##"{"$ref": "#/defs/a"}"##, "$ref"),
        (#"[1]"#, "must be a JSON object"),
    ])
    func refusesWhatItCannotHoldAnAnswerTo(_ text: String, _ named: String) {
        #expect {
            try JSONSchema(parsing: text)
        } throws: { error in
            (error as? RAGError)?.message.contains(named) == true
        }
    }

    @Test func findsEveryViolationWithWhere() throws {
        let schema = try JSONSchema(parsing: Self.person)
        #expect(schema.violations(of: try JSONValue.parse(#"{"name": "Ada", "age": 36, "tags": ["x"], "address": {"city": "London"}, "note": null}"#)).isEmpty)
        let bad = schema.violations(of: try JSONValue.parse(#"{"name": "a very long name indeed, longer than twenty", "age": 3.5, "role": "root", "tags": [1, "a", "b", "c"], "address": {}, "extra": 1}"#))
        #expect(bad == [
            "$.name: the string is longer than 20 characters",
            "$.age: expected an integer, found 3.5",
            "$.role: \"root\" is not one of [\"admin\",\"user\"]",
            "$.tags: more than 3 items",
            "$.tags[0]: expected a string, found integer",
            "$.address: the required property city is missing",
            "$: property extra is not allowed",
        ])
        #expect(schema.violations(of: try JSONValue.parse(#"{"name": "A", "age": 1, "note": "too long"}"#)) == ["$.note: the string is longer than 5 characters"])
        #expect(schema.violations(of: try JSONValue.parse(#"{"name": "A", "age": 1, "note": 1}"#)) == ["$.note: integer is not one of the types allowed"])
        #expect(JSONSchema.anyObject.violations(of: .array([])) == ["$: expected an object, found array"])
    }
}
