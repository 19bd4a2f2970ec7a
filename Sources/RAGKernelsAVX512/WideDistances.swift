/// AVX-512 builds of the vector distances (call only where `CPUFeatures.hasAVX512` holds;
/// `RAGIndex` picks them at the start of each search).
public enum WideDistances {
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        sum(a, b, count, { s, x, y in s.addProduct(x, y) }, scalar: { $0 * $1 })
    }

    public static func squaredL2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        sum(a, b, count, { s, x, y in let d = x - y; s.addProduct(d, d) }, scalar: { let d = $0 - $1; return d * d })
    }

    /// Σ term(a, b) over `count` floats: `term` adds one lane group's contribution to an
    /// accumulator; four of them in flight, then a tree reduction, then the tail one by one.
    @inline(__always)
    static func sum(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int,
        _ term: (inout SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) -> Void, scalar: (Float, Float) -> Float
    ) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        @inline(__always) func lanes(_ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Float> {
            p.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        }
        var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
        var i = 0
        while i + 64 <= count {
            term(&s0, lanes(ra, i), lanes(rb, i))
            term(&s1, lanes(ra, i + 16), lanes(rb, i + 16))
            term(&s2, lanes(ra, i + 32), lanes(rb, i + 32))
            term(&s3, lanes(ra, i + 48), lanes(rb, i + 48))
            i += 64
        }
        while i + 16 <= count {
            term(&s0, lanes(ra, i), lanes(rb, i))
            i += 16
        }
        var total = reduce((s0 + s1) + (s2 + s3))
        while i < count {
            total += scalar(a[i], b[i])
            i += 1
        }
        return total
    }

    @inline(__always)
    static func reduce(_ v: SIMD16<Float>) -> Float {
        let h8 = v.lowHalf + v.highHalf
        let h4 = h8.lowHalf + h8.highHalf
        let h2 = h4.lowHalf + h4.highHalf
        return h2[0] + h2[1]
    }
}
