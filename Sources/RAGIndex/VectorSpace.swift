internal import RAGKernels
internal import RAGKernelsAVX512

/// How two vectors are compared. Smaller distances are nearer in every space.
public enum VectorSpace: String, Sendable, Codable, CaseIterable {
    /// 1 − cos(a, b): vectors are L2-normalised when they enter the index (and queries too).
    case cosine
    /// 1 − a·b, vectors as given.
    case innerProduct = "ip"
    /// Squared Euclidean distance.
    case l2

    /// The distance between two vectors of `count` floats.
    @inline(__always)
    public func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        switch self {
        case .cosine, .innerProduct: InnerProductMetric.distance(a, b, count)
        case .l2: L2Metric.distance(a, b, count)
        }
    }
}

/// A distance function, as a type, so that the search loops are specialised per metric
/// (no switch per distance).
protocol Metric {
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float
}

enum InnerProductMetric: Metric {
    @inline(__always)
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        1 - Distances.dot(a, b, count)
    }
}

enum InnerProductAVX512Metric: Metric {
    @inline(__always)
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        1 - WideDistances.dot(a, b, count)
    }
}

enum L2AVX512Metric: Metric {
    @inline(__always)
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        WideDistances.squaredL2(a, b, count)
    }
}

enum L2Metric: Metric {
    @inline(__always)
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        Distances.squaredL2(a, b, count)
    }
}

/// SIMD distances with four independent accumulators (FMA latency × two ports) and a
/// tree reduction at the end (`SIMD.sum()` adds the lanes one after another).
enum Distances {
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        var i = 0
        while i + 32 <= count {
            let o = i * 4
            s0.addProduct(ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
            s1.addProduct(ra.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self))
            s2.addProduct(ra.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self))
            s3.addProduct(ra.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self))
            i += 32
        }
        while i + 8 <= count {
            s0.addProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            i += 8
        }
        var sum = reduce((s0 + s1) + (s2 + s3))
        while i < count {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    @inline(__always)
    static func squaredL2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        var i = 0
        while i + 32 <= count {
            let o = i * 4
            let d0 = ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) - rb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let d1 = ra.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self) - rb.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self)
            let d2 = ra.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self) - rb.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self)
            let d3 = ra.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self) - rb.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self)
            s0.addProduct(d0, d0); s1.addProduct(d1, d1); s2.addProduct(d2, d2); s3.addProduct(d3, d3)
            i += 32
        }
        while i + 8 <= count {
            let d = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            s0.addProduct(d, d)
            i += 8
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
    static func reduce(_ v: SIMD8<Float>) -> Float {
        let h4 = v.lowHalf + v.highHalf
        let h2 = h4.lowHalf + h4.highHalf
        return h2[0] + h2[1]
    }

    /// Scales `v` to unit length in place (a zero vector stays zero).
    static func normalize(_ v: inout [Float]) {
        v.withUnsafeMutableBufferPointer { normalize($0.baseAddress!, count: $0.count) }
    }

    static func normalize(_ v: UnsafeMutablePointer<Float>, count: Int) {
        let norm = dot(v, v, count).squareRoot()
        guard norm > 0 else { return }
        for i in 0..<count { v[i] /= norm }
    }
}
