/// SIMD kernels over contiguous `Float` buffers. Built for x86-64-v3 (AVX2, FMA, F16C): see
/// Package.swift. Loops use two 8-wide accumulators and unaligned loads; tails are scalar.
public enum Vector {
    /// Σ a[i]·b[i].
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 32 <= count {
            acc0.addProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self), rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self))
            acc1.addProduct(ra.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self), rb.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self))
            i += 32
        }
        var sum = (acc0 + acc1).sum()
        while i < count {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    /// y[i] += a·x[i].
    @inlinable
    public static func addScaled(_ x: UnsafePointer<Float>, _ a: Float, into y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += a * x[i] }
    }

    /// e^x for eight lanes: Cody–Waite range reduction and a degree-6 polynomial; relative error
    /// below 5e-7; inputs are clamped to [-87.3, 88.3], so e^x never underflows to a denormal.
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // (`clamped` is generic and not specialised here: compare-and-select is 10× cheaper.)
        let low = SIMD8<Float>(repeating: -87.3), high = SIMD8<Float>(repeating: 88.3)
        let x = x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high)
        // n = round(x / ln 2) via the 1.5·2^23 trick, which leaves n in the low mantissa bits.
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = x * 1.442_695_04 + magic
        let n = shifted - magic
        var r = x - n * 0.693_145_751_953_125
        r = r - n * 1.428_606_765_330_187_045e-06
        var p = SIMD8<Float>(repeating: 1.987_569_150_0e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        p = p * r * r + r + 1
        // 2^n: n + 127 into the exponent field.
        let bits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- 0x4B40_0000 &+ 127
        return p * unsafeBitCast(bits &<< 23, to: SIMD8<Float>.self)
    }

    /// erf(x) for eight lanes (Abramowitz & Stegun 7.1.26: absolute error < 5e-7 in Float).
    @inlinable @inline(__always)
    public static func erf(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let sign = SIMD8<Float>(repeating: 1).replacing(with: -1, where: x .< 0)
        let a = x.replacing(with: -x, where: x .< 0)
        let t = 1 / (1 + 0.327_591_1 * a)
        var y = SIMD8<Float>(repeating: 1.061_405_429)
        y = y * t - 1.453_152_027
        y = y * t + 1.421_413_741
        y = y * t - 0.284_496_736
        y = y * t + 0.254_829_592
        y = 1 - y * t * exp(-a * a)
        return sign * y
    }

    /// In place: x = 0.5·x·(1 + erf(x/√2)), the exact (erf) form of GELU.
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let raw = UnsafeMutableRawPointer(x)
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let g = 0.5 * v * (1 + erf(v * 0.707_106_781_186_547_5))
            raw.storeBytes(of: g, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            var lane = SIMD8<Float>(repeating: 0)
            lane[0] = x[i]
            x[i] = 0.5 * x[i] * (1 + erf(lane * 0.707_106_781_186_547_5)[0])
            i += 1
        }
    }

    /// In place: softmax(scale · x) over `count` values.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int, scale: Float) {
        let raw = UnsafeMutableRawPointer(x)
        var maxLanes = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            maxLanes = maxLanes.replacing(with: v, where: v .> maxLanes)
            i += 8
        }
        var maximum = maxLanes.max()
        while i < count {
            maximum = max(maximum, x[i])
            i += 1
        }
        let shift = SIMD8<Float>(repeating: maximum * scale)
        var acc = SIMD8<Float>()
        i = 0
        while i + 8 <= count {
            let v = exp(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * scale - shift)
            raw.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
            acc += v
            i += 8
        }
        var sum = acc.sum()
        if i < count {
            // The tail: the lanes past `count` are computed and ignored.
            var lane = SIMD8<Float>(repeating: 0)
            for j in i..<count { lane[j - i] = x[j] * scale - maximum * scale }
            let e = exp(lane)
            for j in i..<count {
                x[j] = e[j - i]
                sum += e[j - i]
            }
        }
        let inverse = SIMD8<Float>(repeating: 1 / sum)
        i = 0
        while i + 8 <= count {
            raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * inverse, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            x[i] *= inverse[0]
            i += 1
        }
    }

    /// In place over each row: LayerNorm(x + residual) · gamma + beta (residual optional).
    public static func layerNorm(
        _ x: UnsafeMutablePointer<Float>, rows: Int, count: Int, residual: UnsafePointer<Float>?,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float
    ) {
        precondition(count % 8 == 0, "Programmer error: layerNorm width must be a multiple of 8")
        let g = UnsafeRawPointer(gamma), b = UnsafeRawPointer(beta)
        for row in 0..<rows {
            let p = UnsafeMutableRawPointer(x + row * count)
            var sum = SIMD8<Float>()
            var i = 0
            while i < count {
                var v = p.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                if let residual { v += UnsafeRawPointer(residual + row * count).loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) }
                p.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
                sum += v
                i += 8
            }
            let mean = sum.sum() / Float(count)
            var squares = SIMD8<Float>()
            i = 0
            while i < count {
                let d = p.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - mean
                squares.addProduct(d, d)
                i += 8
            }
            let inverse = 1 / (squares.sum() / Float(count) + epsilon).squareRoot()
            i = 0
            while i < count {
                let d = (p.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - mean) * inverse
                let out = d * g.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + b.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                p.storeBytes(of: out, toByteOffset: i * 4, as: SIMD8<Float>.self)
                i += 8
            }
        }
    }

    /// x ← x / ‖x‖₂ (left as is when the norm is 0).
    public static func normalize(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let norm = dot(x, x, count: count).squareRoot()
        guard norm > 0 else { return }
        let inverse = 1 / norm
        for i in 0..<count { x[i] *= inverse }
    }
}
