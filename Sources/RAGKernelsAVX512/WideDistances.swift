/// AVX-512 builds of the vector distances (call only where `CPUFeatures.hasAVX512` holds;
/// `RAGIndex` picks them at the start of each search).
public enum WideDistances {
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
        var i = 0
        while i + 64 <= count {
            let o = i * 4
            s0.addProduct(ra.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self), rb.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self))
            s1.addProduct(ra.loadUnaligned(fromByteOffset: o + 64, as: SIMD16<Float>.self), rb.loadUnaligned(fromByteOffset: o + 64, as: SIMD16<Float>.self))
            s2.addProduct(ra.loadUnaligned(fromByteOffset: o + 128, as: SIMD16<Float>.self), rb.loadUnaligned(fromByteOffset: o + 128, as: SIMD16<Float>.self))
            s3.addProduct(ra.loadUnaligned(fromByteOffset: o + 192, as: SIMD16<Float>.self), rb.loadUnaligned(fromByteOffset: o + 192, as: SIMD16<Float>.self))
            i += 64
        }
        while i + 16 <= count {
            s0.addProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self), rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self))
            i += 16
        }
        var sum = reduce((s0 + s1) + (s2 + s3))
        while i < count {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    public static func squaredL2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
        var i = 0
        while i + 64 <= count {
            let o = i * 4
            let d0 = ra.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self) - rb.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
            let d1 = ra.loadUnaligned(fromByteOffset: o + 64, as: SIMD16<Float>.self) - rb.loadUnaligned(fromByteOffset: o + 64, as: SIMD16<Float>.self)
            let d2 = ra.loadUnaligned(fromByteOffset: o + 128, as: SIMD16<Float>.self) - rb.loadUnaligned(fromByteOffset: o + 128, as: SIMD16<Float>.self)
            let d3 = ra.loadUnaligned(fromByteOffset: o + 192, as: SIMD16<Float>.self) - rb.loadUnaligned(fromByteOffset: o + 192, as: SIMD16<Float>.self)
            s0.addProduct(d0, d0); s1.addProduct(d1, d1); s2.addProduct(d2, d2); s3.addProduct(d3, d3)
            i += 64
        }
        while i + 16 <= count {
            let d = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) - rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            s0.addProduct(d, d)
            i += 16
        }
        var sum = reduce((s0 + s1) + (s2 + s3))
        while i < count {
            let d = a[i] - b[i]
            sum += d * d
            i += 1
        }
        return sum
    }

    @inline(__always)
    static func reduce(_ v: SIMD16<Float>) -> Float {
        let h8 = v.lowHalf + v.highHalf
        let h4 = h8.lowHalf + h8.highHalf
        let h2 = h4.lowHalf + h4.highHalf
        return h2[0] + h2[1]
    }
}
