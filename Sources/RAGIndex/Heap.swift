/// A candidate: a slot and its distance to the query.
struct Candidate: Comparable {
    var distance: Float
    var slot: Int32
    @inline(__always)
    static func < (a: Candidate, b: Candidate) -> Bool { a.distance < b.distance || (a.distance == b.distance && a.slot < b.slot) }
}

/// A binary heap of candidates, nearest on top (`farthestFirst` false) or farthest on top, on
/// storage it owns (no bounds or uniqueness checks in the search loop).
final class CandidateHeap {
    private var storage: UnsafeMutablePointer<Candidate>
    private var capacity: Int
    private(set) var count = 0
    let farthestFirst: Bool

    init(farthestFirst: Bool, capacity: Int) {
        self.farthestFirst = farthestFirst
        self.capacity = max(16, capacity)
        storage = .allocate(capacity: self.capacity)
    }

    deinit { storage.deallocate() }

    var isEmpty: Bool { count == 0 }
    var top: Candidate { storage[0] }

    @inline(__always)
    private func above(_ a: Candidate, _ b: Candidate) -> Bool { farthestFirst ? b < a : a < b }

    func removeAll() { count = 0 }

    @inline(__always)
    func push(_ c: Candidate) {
        if count == capacity { grow() }
        var i = count
        count += 1
        while i > 0 {
            let parent = (i - 1) >> 1
            guard above(c, storage[parent]) else { break }
            storage[i] = storage[parent]
            i = parent
        }
        storage[i] = c
    }

    @discardableResult @inline(__always)
    func pop() -> Candidate {
        let first = storage[0]
        count -= 1
        guard count > 0 else { return first }
        let last = storage[count]
        var i = 0
        while true {
            let l = 2 * i + 1
            if l >= count { break }
            var child = l
            if l + 1 < count, above(storage[l + 1], storage[l]) { child = l + 1 }
            guard above(storage[child], last) else { break }
            storage[i] = storage[child]
            i = child
        }
        storage[i] = last
        return first
    }

    private func grow() {
        let bigger = UnsafeMutablePointer<Candidate>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: storage, count: count)
        storage.deallocate()
        storage = bigger
        capacity *= 2
    }

    /// The items, nearest first.
    func sorted() -> [Candidate] { UnsafeBufferPointer(start: storage, count: count).sorted() }
}

/// Which slots a search has seen, cleared in O(1) by moving to a new epoch (hnswlib's
/// `VisitedList`). One per concurrent search; not thread-safe.
public final class VisitedSet {
    private(set) var marks: UnsafeMutablePointer<UInt16>
    private var capacity: Int
    private(set) var epoch: UInt16 = 1

    public init(capacity: Int = 1024) {
        self.capacity = max(1, capacity)
        marks = .allocate(capacity: self.capacity)
        marks.initialize(repeating: 0, count: self.capacity)
    }

    deinit { marks.deallocate() }

    /// Starts a new search over `slots` slots.
    func reset(slots: Int) {
        if capacity < slots {
            let size = max(slots, capacity * 3 / 2)
            let bigger = UnsafeMutablePointer<UInt16>.allocate(capacity: size)
            bigger.initialize(repeating: 0, count: size)
            marks.deallocate()
            marks = bigger
            capacity = size
        }
        epoch &+= 1
        if epoch == 0 {
            marks.update(repeating: 0, count: capacity)
            epoch = 1
        }
    }
}
