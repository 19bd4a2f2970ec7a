/// A finite automaton over bytes: built as an NFA from fragments (Thompson's construction) and
/// made deterministic lazily (subset construction, one DFA state at a time, as text reaches it),
/// so only the states a generation visits are ever built. Not thread-safe: one per generation.
///
/// Each state also knows how many bytes at least lead from it to acceptance (`distance`): what a
/// generation running out of tokens follows to finish the text rather than cut it.
public final class ByteAutomaton {
    /// A piece of the NFA: enter at `start`, leave at `end`.
    public struct Fragment { public var start: Int, end: Int }

    // The NFA: byte-range edges and ε-edges per state.
    private var edges: [[(low: UInt8, high: UInt8, to: Int)]] = []
    private var epsilons: [[Int]] = []
    private var accepting = -1

    // The DFA, built as reached: sets of NFA states and their transitions (−1: not built yet,
    // −2: no way on).
    private var sets: [[Int]] = []
    private var index: [[Int]: Int32] = [:]
    private var table: [Int32] = []
    private var finals: [Bool] = []
    private var nfaDistance: [Int] = []
    private var distances: [Int] = []
    private var anyWayOn: [Bool?] = []

    public static let dead: Int32 = -2

    public init() {}

    // MARK: Building

    public func state() -> Int {
        edges.append([])
        epsilons.append([])
        return edges.count - 1
    }

    private func fragment() -> Fragment { Fragment(start: state(), end: state()) }

    /// Bytes in `low...high`.
    public func range(_ low: UInt8, _ high: UInt8) -> Fragment {
        let f = fragment()
        edges[f.start].append((low, high, f.end))
        return f
    }

    /// Any one of several byte ranges.
    public func ranges(_ list: [ClosedRange<UInt8>]) -> Fragment {
        let f = fragment()
        for r in list { edges[f.start].append((r.lowerBound, r.upperBound, f.end)) }
        return f
    }

    /// Exactly these bytes.
    public func literal(_ bytes: some Sequence<UInt8>) -> Fragment {
        let start = state()
        var end = start
        for b in bytes {
            let next = state()
            edges[end].append((b, b, next))
            end = next
        }
        return Fragment(start: start, end: end)
    }

    public func literal(_ text: String) -> Fragment { literal(text.utf8) }

    public func empty() -> Fragment {
        let s = state()
        return Fragment(start: s, end: s)
    }

    public func link(_ from: Int, _ to: Int) { epsilons[from].append(to) }

    public func sequence(_ parts: [Fragment]) -> Fragment {
        guard var whole = parts.first else { return empty() }
        for part in parts.dropFirst() {
            link(whole.end, part.start)
            whole.end = part.end
        }
        return whole
    }

    public func choice(_ options: [Fragment]) -> Fragment {
        let f = fragment()
        for option in options {
            link(f.start, option.start)
            link(option.end, f.end)
        }
        return f
    }

    /// `part` or nothing (a fragment of its own around `part`, whose inside may loop back to
    /// its start, as a `list` does).
    public func optional(_ part: Fragment) -> Fragment {
        let f = fragment()
        link(f.start, part.start)
        link(part.end, f.end)
        link(f.start, f.end)
        return f
    }

    /// Zero or more of `part`.
    public func star(_ part: Fragment) -> Fragment {
        let f = fragment()
        link(f.start, part.start)
        link(part.end, f.end)
        link(f.start, f.end)
        link(part.end, part.start)
        return f
    }

    /// `item` then any number of `separator item` — one copy of `item` serves every repetition
    /// (the separator loops back to its start).
    public func list(_ item: Fragment, separator: Fragment) -> Fragment {
        link(item.end, separator.start)
        link(separator.end, item.start)
        return item
    }

    /// Makes `whole` the automaton's language; the start is DFA state 0.
    public func finish(_ whole: Fragment) {
        accepting = whole.end
        nfaDistance = nfaDistances()
        _ = dfaState(closure([whole.start]))
    }

    // MARK: Running

    /// The state after `byte` from `state`, or `dead`.
    @inline(__always)
    public func next(_ state: Int32, _ byte: UInt8) -> Int32 {
        let slot = Int(state) &* 256 &+ Int(byte)
        let known = table[slot]
        if known != -1 { return known }
        return build(state, byte)
    }

    /// The state after all of `bytes`, or `dead`.
    public func next(_ state: Int32, _ bytes: [UInt8]) -> Int32 {
        var s = state
        for b in bytes {
            s = next(s, b)
            if s < 0 { return Self.dead }
        }
        return s
    }

    public func accepts(_ state: Int32) -> Bool { finals[Int(state)] }

    /// The fewest bytes from `state` to an accepting state.
    public func distance(_ state: Int32) -> Int { distances[Int(state)] }

    /// Whether any byte leads on from `state` (false: the text is complete and nothing may follow).
    public func continues(_ state: Int32) -> Bool {
        if let known = anyWayOn[Int(state)] { return known }
        let on = (0...255).contains { next(state, UInt8($0)) >= 0 }
        anyWayOn[Int(state)] = on
        return on
    }

    /// The DFA states built so far.
    public var builtStates: Int { sets.count }
    public var nfaStates: Int { edges.count }

    // MARK: Construction

    private func closure(_ states: [Int]) -> [Int] {
        var seen = Set(states), stack = states
        while let s = stack.popLast() {
            for t in epsilons[s] where seen.insert(t).inserted { stack.append(t) }
        }
        return seen.sorted()
    }

    private func dfaState(_ set: [Int]) -> Int32 {
        if let known = index[set] { return known }
        let id = Int32(sets.count)
        sets.append(set)
        index[set] = id
        table.append(contentsOf: repeatElement(-1, count: 256))
        finals.append(set.contains(accepting))
        distances.append(set.map { nfaDistance[$0] }.min() ?? Int.max)
        anyWayOn.append(nil)
        return id
    }

    private func build(_ state: Int32, _ byte: UInt8) -> Int32 {
        var targets: [Int] = []
        for s in sets[Int(state)] {
            for e in edges[s] where e.low <= byte && byte <= e.high { targets.append(e.to) }
        }
        let result = targets.isEmpty ? Self.dead : dfaState(closure(targets))
        table[Int(state) * 256 + Int(byte)] = result
        return result
    }

    /// Each NFA state's fewest bytes to `accepting` (0-1 breadth-first search over reversed edges).
    private func nfaDistances() -> [Int] {
        var reverse: [[(to: Int, cost: Int)]] = Array(repeating: [], count: edges.count)
        for (s, list) in edges.enumerated() { for e in list { reverse[e.to].append((s, 1)) } }
        for (s, list) in epsilons.enumerated() { for t in list { reverse[t].append((s, 0)) } }
        var distance = Array(repeating: Int.max, count: edges.count)
        distance[accepting] = 0
        var deque = [accepting], head = 0
        var later: [Int] = []
        // Level by level: cost-0 edges stay in the level, cost-1 edges go to the next.
        while head < deque.count || !later.isEmpty {
            if head == deque.count { deque = later; later = []; head = 0 }
            let s = deque[head]
            head += 1
            for (t, cost) in reverse[s] where distance[s] + cost < distance[t] {
                distance[t] = distance[s] + cost
                if cost == 0 { deque.append(t) } else { later.append(t) }
            }
        }
        return distance
    }
}
