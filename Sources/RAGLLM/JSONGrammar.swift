public import RAGCore

/// A JSON schema as a byte automaton that accepts exactly the JSON texts the schema allows
/// (in the shape generated: properties in the schema's order, blanks limited to one space or a
/// line break and indentation between tokens, numbers of at most 15 digits a part). The schema
/// subset has no references, so its language is regular; `json_object` and schemas without a
/// type nest any value up to `anyDepth` levels.
public struct JSONGrammar {
    public let automaton = ByteAutomaton()
    /// How deep a value the schema leaves open (no `type`, or `json_object`) may nest.
    public static let anyDepth = 4
    /// The longest indentation after a line break.
    static let indentation = 24
    static let digitsPerPart = 15

    /// The NFA's size limit: a schema of long runs (maxLength, maxItems) nested in each other
    /// could otherwise ask for millions of states.
    public static let maximumStates = 300_000

    /// The schema's automaton; a schema too large to build is refused with what to do.
    public init(_ schema: JSONSchema) throws {
        let whole = value(schema)
        guard automaton.nfaStates <= Self.maximumStates else {
            throw RAGError(.invalidInput, "the schema is too large to hold an answer to (its automaton passes \(Self.maximumStates) states): lower its maxLength and maxItems, or nest fewer of them")
        }
        automaton.finish(whole)
    }

    /// Whether building has passed the limit (the loops stop early; `init` then refuses).
    private var full: Bool { automaton.nfaStates > Self.maximumStates }

    private var a: ByteAutomaton { automaton }

    private func value(_ schema: JSONSchema) -> ByteAutomaton.Fragment {
        switch schema.kind {
        case .any: return anyValue(depth: Self.anyDepth - 1)
        case .anyObject: return anyObject(depth: Self.anyDepth - 1)
        case .null: return a.literal("null")
        case .boolean: return a.choice([a.literal("true"), a.literal("false")])
        case .integer: return integer()
        case .number: return number()
        case .string(let minLength, let maxLength): return string(minLength: minLength, maxLength: maxLength)
        case .oneOf(let values): return a.choice(values.map { a.literal($0.text) })
        case .anyOf(let schemas): return a.choice(schemas.map(value))
        case .array(let items, let minItems, let maxItems):
            return array(minItems: minItems, maxItems: maxItems) { items.map(value) ?? anyValue(depth: Self.anyDepth - 1) }
        case .object(let properties, _): return object(properties)
        }
    }

    /// Nothing, one space, or a line break and up to `indentation` spaces.
    private func blank() -> ByteAutomaton.Fragment {
        let spaces = upTo(Self.indentation) { a.literal(" ") }
        return a.choice([a.empty(), a.literal(" "), a.sequence([a.literal("\n"), spaces])])
    }

    /// `blank text blank`.
    private func token(_ text: String) -> ByteAutomaton.Fragment {
        a.sequence([blank(), a.literal(text), blank()])
    }

    /// `count` more of `part`, each optional but only after the one before it (nested, so a
    /// state's ε-closure stays small however long the run).
    private func upTo(_ count: Int, _ part: () -> ByteAutomaton.Fragment) -> ByteAutomaton.Fragment {
        let first = a.state(), exit = a.state()
        var at = first
        for _ in 0..<count where !full {
            let p = part(), next = a.state()
            a.link(at, exit)
            a.link(at, p.start)
            a.link(p.end, next)
            at = next
        }
        a.link(at, exit)
        return ByteAutomaton.Fragment(start: first, end: exit)
    }

    private func digits(atLeast minimum: Int, atMost maximum: Int) -> ByteAutomaton.Fragment {
        a.sequence((0..<minimum).map { _ in a.range(0x30, 0x39) } + [upTo(maximum - minimum) { a.range(0x30, 0x39) }])
    }

    private func integer() -> ByteAutomaton.Fragment {
        let magnitude = a.choice([a.literal("0"), a.sequence([a.range(0x31, 0x39), digits(atLeast: 0, atMost: Self.digitsPerPart - 1)])])
        return a.sequence([a.optional(a.literal("-")), magnitude])
    }

    private func number() -> ByteAutomaton.Fragment {
        let fraction = a.optional(a.sequence([a.literal("."), digits(atLeast: 1, atMost: Self.digitsPerPart)]))
        let exponent = a.optional(a.sequence([a.ranges([0x45...0x45, 0x65...0x65]), a.optional(a.ranges([0x2B...0x2B, 0x2D...0x2D])), digits(atLeast: 1, atMost: 3)]))
        return a.sequence([integer(), fraction, exponent])
    }

    /// One character of a string's text: printable ASCII but `"` and `\`, a well-formed UTF-8
    /// sequence, or an escape.
    private func character() -> ByteAutomaton.Fragment {
        let c = (0x80 as UInt8)...0xBF
        let escape = a.sequence([
            a.literal("\\"),
            a.choice([
                a.ranges(["\"", "\\", "/", "b", "f", "n", "r", "t"].map { UInt8(ascii: $0)...UInt8(ascii: $0) }),
                a.sequence([a.literal("u")] + (0..<4).map { _ in a.ranges([0x30...0x39, 0x41...0x46, 0x61...0x66]) }),
            ]),
        ])
        func sequence(_ parts: [ClosedRange<UInt8>]) -> ByteAutomaton.Fragment { a.sequence(parts.map { a.ranges([$0]) }) }
        return a.choice([
            a.ranges([0x20...0x21, 0x23...0x5B, 0x5D...0x7F]),
            sequence([0xC2...0xDF, c]),
            sequence([0xE0...0xE0, 0xA0...0xBF, c]),
            sequence([0xE1...0xEC, c, c]),
            sequence([0xED...0xED, 0x80...0x9F, c]),
            sequence([0xEE...0xEF, c, c]),
            sequence([0xF0...0xF0, 0x90...0xBF, c, c]),
            sequence([0xF1...0xF3, c, c, c]),
            sequence([0xF4...0xF4, 0x80...0x8F, c, c]),
            escape,
        ])
    }

    private func string(minLength: Int = 0, maxLength: Int? = nil) -> ByteAutomaton.Fragment {
        var required: [ByteAutomaton.Fragment] = []
        for _ in 0..<minLength where !full { required.append(character()) }
        let rest = maxLength.map { upTo($0 - minLength, character) } ?? a.star(character())
        return a.sequence([a.literal("\"")] + required + [rest, a.literal("\"")])
    }

    private func array(minItems: Int, maxItems: Int?, item: () -> ByteAutomaton.Fragment) -> ByteAutomaton.Fragment {
        let open = a.sequence([a.literal("["), blank()]), close = a.sequence([blank(), a.literal("]")])
        if maxItems == 0 { return a.sequence([open, close]) }
        var parts = [item()]
        for _ in 1..<max(minItems, 1) where !full { parts += [token(","), item()] }
        if let maxItems {
            parts.append(upTo(maxItems - max(minItems, 1)) { a.sequence([token(","), item()]) })
        } else {
            parts.append(a.star(a.sequence([token(","), item()])))
        }
        let items = a.sequence(parts)
        return a.sequence([open, minItems == 0 ? a.optional(items) : items, close])
    }

    /// Properties in the schema's order, each required one always, an optional one or not;
    /// commas only between members (two tracks: nothing written yet, something written).
    private func object(_ properties: [JSONSchema.Property]) -> ByteAutomaton.Fragment {
        let open = a.sequence([a.literal("{"), blank()])
        var none: Int? = open.end, some: Int? = nil
        func member(_ property: JSONSchema.Property) -> ByteAutomaton.Fragment {
            a.sequence([a.literal(JSONValue.string(property.name).text), token(":"), value(property.schema)])
        }
        for property in properties {
            let nextNone = property.required ? nil : none.map { _ in a.state() }
            let nextSome = a.state()
            if let none {
                let m = member(property)
                a.link(none, m.start)
                a.link(m.end, nextSome)
                if let nextNone { a.link(none, nextNone) }
            }
            if let some {
                let m = a.sequence([token(","), member(property)])
                a.link(some, m.start)
                a.link(m.end, nextSome)
                if !property.required { a.link(some, nextSome) }
            }
            none = nextNone
            some = nextSome
        }
        let close = a.sequence([blank(), a.literal("}")])
        for end in [none, some].compactMap({ $0 }) { a.link(end, close.start) }
        return ByteAutomaton.Fragment(start: open.start, end: close.end)
    }

    private func anyValue(depth: Int) -> ByteAutomaton.Fragment {
        var options = [string(), number(), a.literal("true"), a.literal("false"), a.literal("null")]
        if depth > 0 {
            options.append(anyArray(depth: depth - 1))
            options.append(anyObject(depth: depth - 1))
        }
        return a.choice(options)
    }

    private func anyArray(depth: Int) -> ByteAutomaton.Fragment {
        let items = a.list(anyValue(depth: depth), separator: token(","))
        return a.sequence([a.literal("["), blank(), a.optional(items), blank(), a.literal("]")])
    }

    /// An object of any members, values nesting `depth` more levels.
    private func anyObject(depth: Int) -> ByteAutomaton.Fragment {
        let member = a.sequence([string(), token(":"), anyValue(depth: depth)])
        let members = a.list(member, separator: token(","))
        return a.sequence([a.literal("{"), blank(), a.optional(members), blank(), a.literal("}")])
    }
}
