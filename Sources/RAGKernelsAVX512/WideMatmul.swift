/// The AVX-512 build of the few-rows matrix product (this module is compiled for x86-64-v4; call
/// it only where `CPUFeatures.hasAVX512` holds — `RAGKernels.Linear` does the dispatch).
///
/// out (m × n) = a (m × k) · W + bias with W packed in panels of 32 output columns,
/// `[n/32][k][32]`: each panel is one sequential stream, and a block of 6 rows keeps
/// 6 × 32 accumulators in 12 zmm registers, so every loaded weight is used 6 times.
public enum WideMatmul {
    public static let panelWidth = 32

    /// Packs a PyTorch-layout weight (n × k: out × in) into panels `[n/width][k][width]`
    /// (32 here; `SmallMatmul` uses 16).
    public static func pack(_ weight: [Float], outputs n: Int, inputs k: Int, width: Int = panelWidth) -> [Float] {
        precondition(n % width == 0, "Programmer error: panels need widths in multiples of \(width)")
        var packed = [Float](repeating: 0, count: n * k)
        for block in 0..<(n / width) {
            for i in 0..<k {
                for j in 0..<width { packed[(block * k + i) * width + j] = weight[(block * width + j) * k + i] }
            }
        }
        return packed
    }

    public static func multiply(
        _ a: UnsafePointer<Float>, rows m: Int, _ w: UnsafePointer<Float>, inner k: Int, outputs n: Int,
        bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>, columns: Range<Int>
    ) {
        precondition(n % panelWidth == 0 && columns.lowerBound % panelWidth == 0 && columns.upperBound % panelWidth == 0,
                     "Programmer error: WideMatmul needs widths in multiples of 32")
        let wr = UnsafeRawPointer(w)
        for column in stride(from: columns.lowerBound, to: columns.upperBound, by: panelWidth) {
            let b0 = bias.map { UnsafeRawPointer($0).loadUnaligned(fromByteOffset: column * 4, as: SIMD16<Float>.self) } ?? SIMD16()
            let b1 = bias.map { UnsafeRawPointer($0).loadUnaligned(fromByteOffset: (column + 16) * 4, as: SIMD16<Float>.self) } ?? SIMD16()
            var row = 0
            while row + 6 <= m {
                var c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1
                var c30 = b0, c31 = b1, c40 = b0, c41 = b1, c50 = b0, c51 = b1
                let a0 = a + row * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k, a4 = a3 + k, a5 = a4 + k
                var panel = wr + column * k * 4
                for i in 0..<k {
                    let w0 = panel.loadUnaligned(as: SIMD16<Float>.self)
                    let w1 = panel.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                    panel += 128
                    var s = SIMD16<Float>(repeating: a0[i])
                    c00.addProduct(s, w0); c01.addProduct(s, w1)
                    s = SIMD16<Float>(repeating: a1[i])
                    c10.addProduct(s, w0); c11.addProduct(s, w1)
                    s = SIMD16<Float>(repeating: a2[i])
                    c20.addProduct(s, w0); c21.addProduct(s, w1)
                    s = SIMD16<Float>(repeating: a3[i])
                    c30.addProduct(s, w0); c31.addProduct(s, w1)
                    s = SIMD16<Float>(repeating: a4[i])
                    c40.addProduct(s, w0); c41.addProduct(s, w1)
                    s = SIMD16<Float>(repeating: a5[i])
                    c50.addProduct(s, w0); c51.addProduct(s, w1)
                }
                let o = UnsafeMutableRawPointer(out + row * n + column)
                store(c00, c01, o)
                store(c10, c11, o + n * 4)
                store(c20, c21, o + n * 8)
                store(c30, c31, o + n * 12)
                store(c40, c41, o + n * 16)
                store(c50, c51, o + n * 20)
                row += 6
            }
            while row + 2 <= m {
                var c00 = b0, c01 = b1, c10 = b0, c11 = b1
                let a0 = a + row * k, a1 = a0 + k
                var panel = wr + column * k * 4
                for i in 0..<k {
                    let w0 = panel.loadUnaligned(as: SIMD16<Float>.self)
                    let w1 = panel.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                    panel += 128
                    var s = SIMD16<Float>(repeating: a0[i])
                    c00.addProduct(s, w0); c01.addProduct(s, w1)
                    s = SIMD16<Float>(repeating: a1[i])
                    c10.addProduct(s, w0); c11.addProduct(s, w1)
                }
                let o = UnsafeMutableRawPointer(out + row * n + column)
                store(c00, c01, o)
                store(c10, c11, o + n * 4)
                row += 2
            }
            if row < m {
                var c0 = b0, c1 = b1
                let ar = a + row * k
                var panel = wr + column * k * 4
                for i in 0..<k {
                    let s = SIMD16<Float>(repeating: ar[i])
                    c0.addProduct(s, panel.loadUnaligned(as: SIMD16<Float>.self))
                    c1.addProduct(s, panel.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self))
                    panel += 128
                }
                store(c0, c1, UnsafeMutableRawPointer(out + row * n + column))
            }
        }
    }

    @inline(__always)
    static func store(_ c0: SIMD16<Float>, _ c1: SIMD16<Float>, _ o: UnsafeMutableRawPointer) {
        o.storeBytes(of: c0, as: SIMD16<Float>.self)
        o.storeBytes(of: c1, toByteOffset: 64, as: SIMD16<Float>.self)
    }
}
