import RAGKernels
import RAGTesting
import Testing

/// The decode-attention kernels against plain loops over the same f16 cache: every row count
/// a head can bring (1…8), both head sizes of the models (64, 128), position counts that are
/// and are not multiples of eight, and a cache row wider than one head (the kernels stride).
@Suite(.onTestThreads) struct HalfAttentionTests {
    /// A deterministic pseudo-random value in [−1, 1).
    static func value(_ i: Int) -> Float {
        var x = UInt64(i) &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        return Float(x % 2000) / 1000 - 1
    }

    @Test(arguments: [64, 128])
    func scoresAndValuesMatchPlainLoops(dim: Int) {
        let stride = 3 * dim, offset = dim  // the second of three KV heads
        for count in [1, 7, 8, 9, 61] {
            let cache = (0..<count * stride).map { Float16(Self.value($0)) }
            for rows in 1...8 {
                let q = (0..<rows * dim).map { Self.value(10_000 + $0) }
                var scores = [Float](repeating: .nan, count: rows * count)
                cache.withUnsafeBufferPointer { c in
                    HalfAttention.scores(q, rows: rows, dim: dim, keys: c.baseAddress! + offset, stride: stride, count: count, into: &scores, lds: count)
                }
                var out = [Float](repeating: .nan, count: rows * dim)
                cache.withUnsafeBufferPointer { c in
                    HalfAttention.values(scores, rows: rows, ldp: count, values: c.baseAddress! + offset, stride: stride, count: count, dim: dim, into: &out, ldo: dim)
                }
                for r in 0..<rows {
                    for t in 0..<count {
                        var expected: Float = 0
                        for i in 0..<dim { expected += q[r * dim + i] * Float(cache[t * stride + offset + i]) }
                        #expect(abs(scores[r * count + t] - expected) <= 1e-4 * Float(dim), "score row \(r) position \(t) of \(count)")
                    }
                    for i in 0..<dim {
                        var expected: Float = 0
                        for t in 0..<count { expected += scores[r * count + t] * Float(cache[t * stride + offset + i]) }
                        #expect(abs(out[r * dim + i] - expected) <= 1e-3 * Float(count), "value row \(r) column \(i) over \(count)")
                    }
                }
            }
        }
    }

    @Test func roundingToHalfIsNearestEven() {
        var x: [Float] = (0..<19).map { Self.value($0) * 100 } + [1 + 1 / 2048, 65_504, 1e-8]
        let expected = x.map { Float(Float16($0)) }
        HalfAttention.roundToHalf(&x, count: x.count)
        #expect(x == expected)
    }
}
