internal import RAGCore
internal import Foundation

/// TEXMEX `.fvecs` / `.ivecs` files: per record a little-endian Int32 dimension d, then d
/// float32 (or int32) values — the format of ANN benchmark sets.
public enum VectorFile {
    /// The records of an `.fvecs` file, and their dimension.
    public static func readFloats(_ path: String) throws -> (dimensions: Int, rows: [[Float]]) {
        let (d, rows) = try read(path, kind: "fvecs")
        return (d, rows.map { $0.map { Float(bitPattern: UInt32(bitPattern: $0)) } })
    }

    /// The records of an `.ivecs` file.
    public static func readInts(_ path: String) throws -> (dimensions: Int, rows: [[Int32]]) {
        try read(path, kind: "ivecs")
    }

    private static func read(_ path: String, kind: String) throws -> (Int, [[Int32]]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RAGError(.notFound, "\(path): cannot read the .\(kind) file")
        }
        guard data.count >= 4, data.count % 4 == 0 else {
            throw RAGError(.invalidInput, "\(path): \(data.count) bytes is not a .\(kind) file (records of Int32 dimension + values)")
        }
        let words = data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) } }
        let d = Int(words[0])
        guard d > 0, words.count % (d + 1) == 0 else {
            throw RAGError(.invalidInput, "\(path): \(data.count) bytes is not a whole number of \(d)-d records")
        }
        var rows: [[Int32]] = []
        rows.reserveCapacity(words.count / (d + 1))
        var i = 0
        while i < words.count {
            guard Int(words[i]) == d else {
                throw RAGError(.invalidInput, "\(path): record \(rows.count) has dimension \(words[i]), the first had \(d)")
            }
            rows.append(Array(words[i + 1...i + d]))
            i += d + 1
        }
        return (d, rows)
    }
}
