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
        sum(a, b, count, { s, x, y in s.addProduct(x, y) }, scalar: { $0 * $1 })
    }

    @inline(__always)
    static func squaredL2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        sum(a, b, count, { s, x, y in let d = x - y; s.addProduct(d, d) }, scalar: { let d = $0 - $1; return d * d })
    }

    /// Σ term(a, b) over `count` floats: `term` adds one lane group's contribution to an
    /// accumulator; four of them in flight, then a tree reduction, then the tail one by one.
    @inline(__always)
    static func sum(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int,
        _ term: (inout SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) -> Void, scalar: (Float, Float) -> Float
    ) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        @inline(__always) func lanes(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
            p.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        }
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        var i = 0
        while i + 32 <= count {
            term(&s0, lanes(ra, i), lanes(rb, i))
            term(&s1, lanes(ra, i + 8), lanes(rb, i + 8))
            term(&s2, lanes(ra, i + 16), lanes(rb, i + 16))
            term(&s3, lanes(ra, i + 24), lanes(rb, i + 24))
            i += 32
        }
        while i + 8 <= count {
            term(&s0, lanes(ra, i), lanes(rb, i))
            i += 8
        }
        var total = reduce((s0 + s1) + (s2 + s3))
        while i < count {
            total += scalar(a[i], b[i])
            i += 1
        }
        return total
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
