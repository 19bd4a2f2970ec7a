/// Turns token bytes into text pieces that are whole UTF-8 characters and hold back anything that
/// could still become a stop string.
struct TextAssembler {
    let stop: [[UInt8]]
    private var bytes: [UInt8] = []
    private var emitted = 0
    private(set) var stopped = false

    init(stop: [String]) {
        self.stop = stop.filter { !$0.isEmpty }.map { Array($0.utf8) }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Adds a token's bytes; returns the text that became final, if any.
    mutating func append(_ piece: [UInt8]) -> String? {
        bytes += piece
        // A stop string anywhere in the unemitted tail ends the text where it starts.
        let searchFrom = max(0, emitted - (stop.map(\.count).max() ?? 0))
        for s in stop {
            if let at = find(s, from: searchFrom) {
                bytes.removeSubrange(at...)
                stopped = true
                return flush(upTo: bytes.count)
            }
        }
        // Hold back a tail that is a prefix of some stop string.
        var safe = bytes.count
        for s in stop {
            for length in stride(from: min(s.count - 1, bytes.count), through: 1, by: -1)
            where bytes[(bytes.count - length)...].elementsEqual(s[..<length]) {
                safe = min(safe, bytes.count - length)
                break
            }
        }
        return flush(upTo: safe)
    }

    mutating func finish() -> String? {
        flush(upTo: bytes.count, final: true)
    }

    private func find(_ needle: [UInt8], from: Int) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= bytes.count {
            if bytes[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// Emits bytes[emitted..<limit], cut back to a UTF-8 character boundary unless final.
    private mutating func flush(upTo limit: Int, final: Bool = false) -> String? {
        var end = limit
        if !final {
            // Back off an incomplete trailing character.
            var k = end - 1, continuation = 0
            while k >= emitted, k >= 0, bytes[k] & 0xC0 == 0x80, continuation < 3 { k -= 1; continuation += 1 }
            if k >= emitted, k >= 0 {
                let lead = bytes[k]
                let needed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
                if end - k < needed { end = k }
            }
        }
        guard end > emitted else { return nil }
        defer { emitted = end }
        return String(decoding: bytes[emitted..<end], as: UTF8.self)
    }
}
