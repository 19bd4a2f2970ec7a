internal import RAGKernelsAVX512

/// out (m × n) = a (m × k) · W + bias, for few rows (a query, a short batch), with W prepacked
/// in panels of 16 output columns: `[n/16][k][16]`, so each panel is one sequential stream.
///
/// OpenBLAS repacks the weight matrix on every sgemm call, which costs more than the arithmetic
/// when m is small, and a few rows are bound by memory bandwidth anyway: this kernel reads each
/// panel sequentially (prefetch-friendly) while 6 rows × 16 columns of accumulators stay in
/// registers (12 of the 16 ymm), each loaded weight used 6 times. Twelve independent FMA chains
/// cover the FMA latency on both pipes; rows left over (m not a multiple of 6) are zero-padded to
/// a full block rather than run through a narrower loop, whose two chains would be latency-bound.
public enum SmallMatmul {
    /// Packs a PyTorch-layout weight (n × k: out × in) into the panel layout `[n/16][k][16]`.
    public static func pack(_ weight: [Float], outputs n: Int, inputs k: Int) -> [Float] {
        WideMatmul.pack(weight, outputs: n, inputs: k, width: 16)
    }

    /// Rows up to which `Linear` prefers this kernel to OpenBLAS.
    public static let maxRows = 48
    /// Rows of one register block.
    static let blockRows = 6

    public static func multiply(
        _ a: UnsafePointer<Float>, rows m: Int, _ w: UnsafePointer<Float>, inner k: Int, outputs n: Int,
        bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>, columns: Range<Int>
    ) {
        precondition(n % 16 == 0 && columns.lowerBound % 16 == 0 && columns.upperBound % 16 == 0, "Programmer error: SmallMatmul needs widths in multiples of 16")
        let full = m / blockRows * blockRows
        for column in stride(from: columns.lowerBound, to: columns.upperBound, by: 16) {
            for row in stride(from: 0, to: full, by: blockRows) {
                block(a + row * k, w, inner: k, outputs: n, bias: bias, into: out + row * n, column: column)
            }
        }
        guard full < m else { return }
        // The last rows, zero-padded to a block; only the real rows are copied out.
        let tail = m - full
        withUnsafeTemporaryAllocation(of: Float.self, capacity: blockRows * (k + n)) { scratch in
            let paddedA = scratch.baseAddress!, paddedOut = paddedA + blockRows * k
            paddedA.initialize(repeating: 0, count: blockRows * k)
            paddedA.update(from: a + full * k, count: tail * k)
            for column in stride(from: columns.lowerBound, to: columns.upperBound, by: 16) {
                block(paddedA, w, inner: k, outputs: n, bias: bias, into: paddedOut, column: column)
            }
            for r in 0..<tail {
                (out + (full + r) * n + columns.lowerBound).update(from: paddedOut + r * n + columns.lowerBound, count: columns.count)
            }
        }
    }

    /// Six rows of `a` (k apart) times one panel, into six rows of `out` (n apart) at `column`.
    @inline(__always)
    static func block(
        _ a: UnsafePointer<Float>, _ w: UnsafePointer<Float>, inner k: Int, outputs n: Int,
        bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>, column: Int
    ) {
        let b0 = bias.map { UnsafeRawPointer($0).loadUnaligned(fromByteOffset: column * 4, as: SIMD8<Float>.self) } ?? SIMD8()
        let b1 = bias.map { UnsafeRawPointer($0).loadUnaligned(fromByteOffset: (column + 8) * 4, as: SIMD8<Float>.self) } ?? SIMD8()
        var c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1
        var c30 = b0, c31 = b1, c40 = b0, c41 = b1, c50 = b0, c51 = b1
        let a0 = a, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k, a4 = a3 + k, a5 = a4 + k
        // The panel is one sequential stream: walk it with a pointer (no index arithmetic).
        var panel = UnsafeRawPointer(w) + column * k * 4
        for i in 0..<k {
            let w0 = panel.loadUnaligned(as: SIMD8<Float>.self)
            let w1 = panel.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            panel += 64
            var s = SIMD8<Float>(repeating: a0[i])
            c00.addProduct(s, w0); c01.addProduct(s, w1)
            s = SIMD8<Float>(repeating: a1[i])
            c10.addProduct(s, w0); c11.addProduct(s, w1)
            s = SIMD8<Float>(repeating: a2[i])
            c20.addProduct(s, w0); c21.addProduct(s, w1)
            s = SIMD8<Float>(repeating: a3[i])
            c30.addProduct(s, w0); c31.addProduct(s, w1)
            s = SIMD8<Float>(repeating: a4[i])
            c40.addProduct(s, w0); c41.addProduct(s, w1)
            s = SIMD8<Float>(repeating: a5[i])
            c50.addProduct(s, w0); c51.addProduct(s, w1)
        }
        let o = UnsafeMutableRawPointer(out + column)
        store(c00, c01, o)
        store(c10, c11, o + n * 4)
        store(c20, c21, o + n * 8)
        store(c30, c31, o + n * 12)
        store(c40, c41, o + n * 16)
        store(c50, c51, o + n * 20)
    }

    @inline(__always)
    static func store(_ c0: SIMD8<Float>, _ c1: SIMD8<Float>, _ o: UnsafeMutableRawPointer) {
        o.storeBytes(of: c0, as: SIMD8<Float>.self)
        o.storeBytes(of: c1, toByteOffset: 32, as: SIMD8<Float>.self)
    }
}
