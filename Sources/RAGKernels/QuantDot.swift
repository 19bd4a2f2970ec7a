/// Activations quantized per block of 32 to int8, as llama.cpp does before an integer dot:
/// d = max|x| / 127 (rounded to f16, as ggml stores it), q = round(x / d); `sums` = d·Σq
/// (ggml's Q8_1 `s`, for formats with a minimum).
public struct Q8Activations: Sendable {
    public private(set) var quants: [Int8]
    public private(set) var scales: [Float]
    public private(set) var sums: [Float]
    public var count: Int { quants.count }

    public init(_ x: UnsafePointer<Float>, count: Int) {
        precondition(count % 32 == 0, "Programmer error: activations come in blocks of 32")
        let blocks = count / 32
        quants = [Int8](repeating: 0, count: count)
        scales = [Float](repeating: 0, count: blocks)
        sums = [Float](repeating: 0, count: blocks)
        for b in 0..<blocks {
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(x[b * 32 + j])) }
            let d = amax / 127
            let inverse: Float = d != 0 ? 1 / d : 0
            var sum = 0
            for j in 0..<32 {
                let q = Int8((x[b * 32 + j] * inverse).rounded(.toNearestOrAwayFromZero))
                quants[b * 32 + j] = q
                sum += Int(q)
            }
            scales[b] = Float(Float16(d))
            sums[b] = Float(Float16(Float(sum) * d))
        }
    }
}

/// Dot products of one quantized weight row with quantized activations: integer products per
/// block, scaled once per block (llama.cpp's `vec_dot_*_q8_*`). `blocks` blocks of 32.
public enum QuantDot {
    @inline(__always)
    static func f16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// Σ over 32 int8 × int8 (plain wrapping loop: the compiler vectorises it).
    @inline(__always)
    static func dot32(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>) -> Int32 {
        var sum: Int32 = 0
        for j in 0..<32 { sum &+= Int32(a[j]) &* Int32(b[j]) }
        return sum
    }

    public static func q8_0(_ w: UnsafeRawPointer, _ x: Q8Activations, blocks: Int) -> Float {
        x.quants.withUnsafeBufferPointer { q in
            var total: Float = 0
            for b in 0..<blocks {
                let block = w + b * 34
                let s = dot32((block + 2).assumingMemoryBound(to: Int8.self), q.baseAddress! + b * 32)
                total += f16(block, 0) * x.scales[b] * Float(s)
            }
            return total
        }
    }

    /// Unpacks 16 bytes of nibbles (+ optional fifth bits) into 32 signed values minus `offset`.
    @inline(__always)
    static func unpack(_ nibbles: UnsafePointer<UInt8>, high: UInt32?, offset: Int8, into out: UnsafeMutablePointer<Int8>) {
        for j in 0..<16 {
            var lo = Int8(nibbles[j] & 0x0F), hi = Int8(nibbles[j] >> 4)
            if let high {
                lo |= Int8((high >> UInt32(j)) & 1) << 4
                hi |= Int8((high >> UInt32(j + 16)) & 1) << 4
            }
            out[j] = lo &- offset
            out[j + 16] = hi &- offset
        }
    }

    public static func q4_0(_ w: UnsafeRawPointer, _ x: Q8Activations, blocks: Int) -> Float {
        nibbleDot(w, x, blocks: blocks, bytes: 18, nibblesAt: 2, highAt: nil, offset: 8, hasMin: false)
    }

    public static func q4_1(_ w: UnsafeRawPointer, _ x: Q8Activations, blocks: Int) -> Float {
        nibbleDot(w, x, blocks: blocks, bytes: 20, nibblesAt: 4, highAt: nil, offset: 0, hasMin: true)
    }

    public static func q5_0(_ w: UnsafeRawPointer, _ x: Q8Activations, blocks: Int) -> Float {
        nibbleDot(w, x, blocks: blocks, bytes: 22, nibblesAt: 6, highAt: 2, offset: 16, hasMin: false)
    }

    @inline(__always)
    static func nibbleDot(
        _ w: UnsafeRawPointer, _ x: Q8Activations, blocks: Int, bytes: Int, nibblesAt: Int, highAt: Int?, offset: Int8, hasMin: Bool
    ) -> Float {
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { unpacked in
            x.quants.withUnsafeBufferPointer { q in
                var total: Float = 0
                for b in 0..<blocks {
                    let block = w + b * bytes
                    let high = highAt.map { UInt32(littleEndian: block.loadUnaligned(fromByteOffset: $0, as: UInt32.self)) }
                    unpack((block + nibblesAt).assumingMemoryBound(to: UInt8.self), high: high, offset: offset, into: unpacked.baseAddress!)
                    let s = dot32(unpacked.baseAddress!, q.baseAddress! + b * 32)
                    total += f16(block, 0) * x.scales[b] * Float(s)
                    if hasMin { total += f16(block, 2) * x.sums[b] }
                }
                return total
            }
        }
    }
}
