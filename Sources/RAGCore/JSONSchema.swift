/// The part of JSON Schema a structured answer can be held to: object (properties, required,
/// `additionalProperties: false`), array (items, minItems, maxItems), string (enum, minLength,
/// maxLength), number, integer, boolean, null, `enum` of any values, a list of types, nested at
/// will. A keyword outside this is refused by name rather than ignored (an answer that ignored it
/// would not match what was asked); `title`, `description`, `$schema`, `$id`, `examples` and
/// `default` are notes and are kept out of the way.
public struct JSONSchema: Sendable, Equatable {
    public indirect enum Kind: Sendable, Equatable {
        /// Properties in the order written (answers are generated in it); `open` when
        /// `additionalProperties` is not false (other members are valid, never generated).
        case object(properties: [Property], open: Bool)
        /// Any object: the `json_object` format, or `{"type": "object"}` with no properties.
        case anyObject
        case array(items: JSONSchema?, minItems: Int, maxItems: Int?)
        case string(minLength: Int, maxLength: Int?)
        case number
        case integer
        case boolean
        case null
        /// Exactly one of these values.
        case oneOf([JSONValue])
        /// Any of these (a `type` list).
        case anyOf([JSONSchema])
        /// Any JSON value (a schema without `type`).
        case any
    }

    public struct Property: Sendable, Equatable {
        public var name: String
        public var schema: JSONSchema
        public var required: Bool
    }

    public var kind: Kind
    /// The schema as it was written (what the model is shown).
    public var source: JSONValue

    public init(kind: Kind, source: JSONValue) {
        self.kind = kind
        self.source = source
    }

    /// What the `json_object` response format asks for: any JSON object.
    public static let anyObject = JSONSchema(kind: .anyObject, source: .object([("type", .string("object"))]))

    /// Keywords that only annotate.
    static let notes: Set<String> = ["title", "description", "$schema", "$id", "examples", "default", "$comment"]

    /// Reads a schema; anything outside the subset is an error naming the keyword and where.
    public init(_ value: JSONValue) throws {
        try self.init(value, at: "the schema")
    }

    /// Reads a schema from JSON text.
    public init(parsing text: String) throws {
        try self.init(try JSONValue.parse(text))
    }

    private init(_ value: JSONValue, at path: String) throws {
        source = value
        guard case .object(let members) = value else {
            if case .bool(true) = value { kind = .any; return }
            throw RAGError(.invalidInput, "\(path) must be a JSON object (a schema), not \(value.typeName)")
        }
        func count(_ key: String) throws -> Int? {
            guard let v = value[key] else { return nil }
            guard case .number(let x, _) = v, x >= 0, x == x.rounded(), x < 1e9 else {
                throw RAGError(.invalidInput, "\(path): \(key) must be a whole number ≥ 0")
            }
            return Int(x)
        }
        let type = value["type"]
        func keywords(_ type: String) -> Set<String> {
            switch type {
            case "object": ["type", "properties", "required", "additionalProperties"]
            case "array": ["type", "items", "minItems", "maxItems"]
            case "string": ["type", "enum", "minLength", "maxLength"]
            default: ["type", "enum"]
            }
        }
        let allowed: Set<String>
        switch type {
        case .string(let name)?: allowed = keywords(name)
        // A list of types takes each one's keywords (each applies to values of its type).
        case .array(let names)?: allowed = names.reduce(into: ["type", "enum"]) { if case .string(let name) = $1 { $0.formUnion(keywords(name)) } }
        default: allowed = ["type", "enum"]
        }
        for member in members where !allowed.contains(member.key) && !Self.notes.contains(member.key) {
            let known = ["properties", "required", "additionalProperties", "items", "minItems", "maxItems", "minLength", "maxLength", "enum", "type"]
            if known.contains(member.key) {
                throw RAGError(.invalidInput, "\(path): \(member.key) does not apply to type \(type?.text ?? "(none)"); give the type it belongs to")
            }
            throw RAGError(.invalidInput, "\(path): the keyword \(member.key) is not supported (supported: type, properties, required, additionalProperties: false, items, minItems, maxItems, enum, minLength, maxLength); remove it or rewrite the schema without it")
        }
        if let values = value["enum"] {
            guard case .array(let options) = values, !options.isEmpty else { throw RAGError(.invalidInput, "\(path): enum must be a non-empty array of values") }
            if case .string(let t)? = type {
                for option in options where option.typeName != t && !(t == "number" && option.typeName == "integer") {
                    throw RAGError(.invalidInput, "\(path): the enum value \(option.text) is not of type \(t)")
                }
            }
            kind = .oneOf(options)
            return
        }
        switch type {
        case nil: kind = .any
        case .array(let types)?:
            guard !types.isEmpty else { throw RAGError(.invalidInput, "\(path): type must not be an empty list") }
            kind = .anyOf(try types.map { t in
                guard case .string(let name) = t, ["string", "number", "integer", "boolean", "null", "object", "array"].contains(name) else {
                    throw RAGError(.invalidInput, "\(path): type \(t.text) is not one of string, number, integer, boolean, null, object, array")
                }
                let own = keywords(name).subtracting(["type", "enum"])
                return try JSONSchema(.object([("type", .string(name))] + members.filter { own.contains($0.key) }), at: path)
            })
        case .string("object")?:
            var required = Set<String>()
            if let list = value["required"] {
                guard case .array(let names) = list else { throw RAGError(.invalidInput, "\(path): required must be an array of property names") }
                for name in names {
                    guard case .string(let s) = name else { throw RAGError(.invalidInput, "\(path): required must be an array of property names") }
                    required.insert(s)
                }
            }
            let open: Bool
            switch value["additionalProperties"] {
            case nil: open = true
            case .bool(false)?: open = false
            case .bool(true)?: open = true
            default: throw RAGError(.invalidInput, "\(path): additionalProperties may only be true or false (a schema for them is not supported)")
            }
            guard let propertiesValue = value["properties"] else {
                guard required.isEmpty else { throw RAGError(.invalidInput, "\(path): required names properties that are not declared in properties") }
                kind = .anyObject
                return
            }
            guard case .object(let list) = propertiesValue else { throw RAGError(.invalidInput, "\(path): properties must be an object of schemas") }
            var seen = Set<String>()
            var properties: [Property] = []
            for (name, schema) in list {
                guard seen.insert(name).inserted else { throw RAGError(.invalidInput, "\(path): property \(name) is declared twice") }
                properties.append(Property(name: name, schema: try JSONSchema(schema, at: "\(path).properties.\(name)"), required: required.contains(name)))
            }
            if let missing = required.subtracting(seen).sorted().first {
                throw RAGError(.invalidInput, "\(path): required property \(missing) is not declared in properties")
            }
            kind = .object(properties: properties, open: open)
        case .string("array")?:
            let minItems = try count("minItems") ?? 0
            let maxItems = try count("maxItems")
            if let maxItems, maxItems < minItems { throw RAGError(.invalidInput, "\(path): maxItems is below minItems") }
            if let maxItems, maxItems > 1000 { throw RAGError(.invalidInput, "\(path): maxItems above 1000 is not supported") }
            kind = .array(items: try value["items"].map { try JSONSchema($0, at: "\(path).items") }, minItems: minItems, maxItems: maxItems)
        case .string("string")?:
            let minLength = try count("minLength") ?? 0
            let maxLength = try count("maxLength")
            if let maxLength, maxLength < minLength { throw RAGError(.invalidInput, "\(path): maxLength is below minLength") }
            if max(minLength, maxLength ?? 0) > 10_000 { throw RAGError(.invalidInput, "\(path): lengths above 10000 are not supported") }
            kind = .string(minLength: minLength, maxLength: maxLength)
        case .string("number")?: kind = .number
        case .string("integer")?: kind = .integer
        case .string("boolean")?: kind = .boolean
        case .string("null")?: kind = .null
        case let other?:
            throw RAGError(.invalidInput, "\(path): type \(other.text) is not one of string, number, integer, boolean, null, object, array")
        }
    }

    // MARK: - Validation

    /// What is wrong with `value` under this schema, one line each with where (empty: valid).
    public func violations(of value: JSONValue, at path: String = "$") -> [String] {
        switch kind {
        case .any: return []
        case .null: return value == .null ? [] : ["\(path): expected null, found \(value.typeName)"]
        case .boolean:
            if case .bool = value { return [] }
            return ["\(path): expected a boolean, found \(value.typeName)"]
        case .number:
            if case .number = value { return [] }
            return ["\(path): expected a number, found \(value.typeName)"]
        case .integer:
            if case .number(let x, _) = value, x == x.rounded() { return [] }
            return ["\(path): expected an integer, found \(value.text)"]
        case .string(let minLength, let maxLength):
            guard case .string(let s) = value else { return ["\(path): expected a string, found \(value.typeName)"] }
            let n = s.unicodeScalars.count
            if n < minLength { return ["\(path): the string is shorter than \(minLength) characters"] }
            if let maxLength, n > maxLength { return ["\(path): the string is longer than \(maxLength) characters"] }
            return []
        case .oneOf(let options):
            return options.contains(value) ? [] : ["\(path): \(value.text) is not one of \(JSONValue.array(options).text)"]
        case .anyOf(let schemas):
            let each = schemas.map { $0.violations(of: value, at: path) }
            if each.contains(where: \.isEmpty) { return [] }
            // The branch of the value's own type says what is wrong, else the type is.
            let typeMismatch = "\(path): expected "
            return each.first { !($0.first?.hasPrefix(typeMismatch) ?? true) } ?? ["\(path): \(value.typeName) is not one of the types allowed"]
        case .anyObject:
            if case .object = value { return [] }
            return ["\(path): expected an object, found \(value.typeName)"]
        case .array(let items, let minItems, let maxItems):
            guard case .array(let list) = value else { return ["\(path): expected an array, found \(value.typeName)"] }
            var out: [String] = []
            if list.count < minItems { out.append("\(path): fewer than \(minItems) items") }
            if let maxItems, list.count > maxItems { out.append("\(path): more than \(maxItems) items") }
            if let items {
                for (i, item) in list.enumerated() { out += items.violations(of: item, at: "\(path)[\(i)]") }
            }
            return out
        case .object(let properties, let open):
            guard case .object(let members) = value else { return ["\(path): expected an object, found \(value.typeName)"] }
            var out: [String] = []
            for property in properties {
                if let member = value[property.name] {
                    out += property.schema.violations(of: member, at: "\(path).\(property.name)")
                } else if property.required {
                    out.append("\(path): the required property \(property.name) is missing")
                }
            }
            if !open {
                let names = Set(properties.map(\.name))
                for member in members where !names.contains(member.key) { out.append("\(path): property \(member.key) is not allowed") }
            }
            return out
        }
    }
}
