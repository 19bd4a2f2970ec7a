import Foundation
import RAGKernels
import RAGTesting
import Testing

/// The tiled attention kernel against softmax(q·K)·V computed plainly in double over the same
/// cache (f16 halves, or Q8_0 blocks decoded): both head sizes of the models, position counts
/// below, at and across the kernel's blocks, rows that see different numbers of positions (a
/// prompt's causal mask), and a cache row wider than one head.
@Suite(.onTestThreads) struct TiledAttentionTests {
    static func value(_ i: Int) -> Float { HalfAttentionTests.value(i) }

    /// A cache of `count` positions of `heads` heads of `dim`, stored as `storage`, and the
    /// values it decodes to.
    static func cache(_ storage: TiledAttention.Storage, count: Int, heads: Int, dim: Int, seed: Int) -> (bytes: [UInt8], decoded: [Float]) {
        let width = heads * dim
        let raw = (0..<count * width).map { Self.value(seed + $0) * (1 + Float($0 % 7)) }
        var bytes = [UInt8](repeating: 0, count: count * storage.bytes(width))
        var decoded = [Float](repeating: 0, count: raw.count)
        bytes.withUnsafeMutableBytes { out in
            for t in 0..<count {
                let row = out.baseAddress! + t * storage.bytes(width)
                switch storage {
                case .f16:
                    for i in 0..<width {
                        let h = Float16(raw[t * width + i])
                        row.storeBytes(of: h, toByteOffset: 2 * i, as: Float16.self)
                        decoded[t * width + i] = Float(h)
                    }
                case .q8_0:
                    raw.withUnsafeBufferPointer { QuantBlocks.encodeQ8_0($0.baseAddress! + t * width, count: width, into: row) }
                    for block in 0..<width / 32 {
                        let d = Float(row.loadUnaligned(fromByteOffset: block * 34, as: Float16.self))
                        for i in 0..<32 {
                            let q = Int8(bitPattern: row.load(fromByteOffset: block * 34 + 2 + i, as: UInt8.self))
                            decoded[t * width + block * 32 + i] = d * Float(q)
                        }
                    }
                }
            }
        }
        return (bytes, decoded)
    }

    @Test(arguments: [TiledAttention.Storage.f16, .q8_0], [64, 128])
    func matchesPlainSoftmaxAttention(storage: TiledAttention.Storage, dim: Int) {
        let heads = 2, head = 1, width = heads * dim
        for count in [1, 31, 32, 33, 100] {
            let (bytes, decoded) = Self.cache(storage, count: count, heads: heads, dim: dim, seed: count)
            for rows in [1, 5, 12] {
                let q = (0..<rows * dim).map { Self.value(50_000 + $0) }
                // Row r sees the first count − (rows − 1 − r) positions, at least one.
                let visible = (0..<rows).map { Int32(max(1, count - (rows - 1 - $0))) }
                var out = [Float](repeating: .nan, count: rows * dim)
                var work = [Float](repeating: 0, count: TiledAttention.workspace(rows: rows, dim: dim))
                let scale = 1 / Float(dim).squareRoot()
                bytes.withUnsafeBytes { cache in
                    let at = cache.baseAddress! + storage.bytes(head * dim)
                    TiledAttention.attend(
                        q, rows: rows, dim: dim, visible: visible, storage: storage, keys: at, values: at, rowBytes: storage.bytes(width),
                        scale: scale, into: &out, ldo: dim, work: &work)
                }
                for r in 0..<rows {
                    let seen = Int(visible[r])
                    let scores = (0..<seen).map { t in (0..<dim).reduce(0.0) { $0 + Double(q[r * dim + $1]) * Double(decoded[t * width + head * dim + $1]) } * Double(scale) }
                    let top = scores.max()!
                    let weights = scores.map { Foundation.exp($0 - top) }
                    let total = weights.reduce(0, +)
                    for i in 0..<dim {
                        let expected = (0..<seen).reduce(0.0) { $0 + weights[$1] * Double(decoded[$1 * width + head * dim + i]) } / total
                        #expect(abs(Double(out[r * dim + i]) - expected) <= 1e-5 * max(1, abs(expected)), "\(storage) row \(r) of \(rows), column \(i), \(seen) of \(count) positions")
                    }
                }
            }
        }
    }

    /// Quantizing to Q8_0 keeps every value within half a step (d/2) and the scale is max|x|/127.
    @Test func q8_0BlocksRoundToNearest() {
        let x = (0..<64).map { Self.value(7 + $0) * 3 }
        var bytes = [UInt8](repeating: 0, count: TiledAttention.Storage.q8_0.bytes(64))
        bytes.withUnsafeMutableBytes { QuantBlocks.encodeQ8_0(x, count: 64, into: $0.baseAddress!) }
        for block in 0..<2 {
            let slice = x[block * 32..<(block + 1) * 32]
            let d = bytes.withUnsafeBytes { Float($0.loadUnaligned(fromByteOffset: block * 34, as: Float16.self)) }
            #expect(abs(d - slice.map(abs).max()! / 127) <= d * 1e-3)
            for (i, v) in slice.enumerated() {
                let q = Float(Int8(bitPattern: bytes[block * 34 + 2 + i]))
                #expect(abs(q * d - v) <= d / 2 + 1e-6, "value \(i) of block \(block)")
            }
        }
    }
}
