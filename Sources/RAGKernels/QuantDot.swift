internal import RAGKernelsAVX512

/// How activations are quantized before an integer dot with a weight format (ggml's
/// `vec_dot_type`): Q8_0 for Q4_0 / Q5_0 / Q8_0, Q8_1 (with the block sum) for Q4_1, Q8_K
/// (256-blocks, f32 scale) for the K-quants.
public enum ActivationFormat: Sendable {
    case q8_0, q8_1, q8_K

    public var blockSize: Int { self == .q8_K ? 256 : 32 }
}

/// Rows of activations quantized to int8 in blocks, in storage this object owns:
/// `quants` (int8 per value), `scales` (one per block), `sums` (Q8_1: d·Σq per block rounded to
/// f16, as ggml stores it) and `groupSums` (Σq per 16 values, for the formats with offsets).
///
/// Rounding follows ggml on x86: Q8_0/Q8_1 multiply by 127/max|x| and round half to even, the
/// scale kept as f16; Q8_K scales by −127/x at max|x|, rounds half to even, clamps at 127 and keeps
/// the f32 scale.
public final class QuantizedActivations: @unchecked Sendable {
    public let format: ActivationFormat
    public let width: Int
    public let capacity: Int
    public private(set) var rows = 0
    public let quants: UnsafeMutablePointer<Int8>
    public let scales: UnsafeMutablePointer<Float>
    public let sums: UnsafeMutablePointer<Float>
    public let groupSums: UnsafeMutablePointer<Int32>

    public init(format: ActivationFormat, width: Int, capacity: Int) {
        precondition(width % format.blockSize == 0, "Programmer error: \(width) values are not whole \(format) blocks")
        self.format = format
        self.width = width
        self.capacity = capacity
        quants = .allocate(capacity: width * capacity)
        scales = .allocate(capacity: width / 32 * capacity)
        sums = .allocate(capacity: width / 32 * capacity)
        groupSums = .allocate(capacity: width / 16 * capacity)
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
        sums.deallocate()
        groupSums.deallocate()
    }

    /// Quantizes `rows` vectors of `width` values, `stride` floats apart.
    public func quantize(_ x: UnsafePointer<Float>, rows: Int, stride: Int, threads: Int = 1) {
        precondition(rows <= capacity, "Programmer error: \(rows) rows, capacity \(capacity)")
        self.rows = rows
        let source = UnsafeTransfer(x)
        Parallel.forEach(rows, threads: rows >= 8 ? threads : 1) { r, _ in self.quantizeRow(source.value + r * stride, row: r) }
    }

    /// Quantizes one row (rows are independent: threads may write different ones).
    func quantizeRow(_ x: UnsafePointer<Float>, row r: Int) {
        let q = quants + r * width
        switch format {
        case .q8_0, .q8_1:
            let blocks = width / 32
            for b in 0..<blocks {
                let v = x + b * 32
                var amax: Float = 0
                for j in 0..<32 {
                    let a = abs(v[j])
                    amax = a > amax ? a : amax
                }
                let d = amax / 127
                let inverse: Float = amax != 0 ? 127 / amax : 0
                var sum: Int32 = 0
                for j in 0..<32 {
                    // Round half to even by the 1.5·2²³ trick (|x| ≤ 127 here), as _mm_round_ps does.
                    let rounded = (v[j] * inverse + 12_582_912) - 12_582_912
                    let qj = Int8(truncatingIfNeeded: Int32(truncatingIfNeeded: Int(rounded)))
                    q[b * 32 + j] = qj
                    sum &+= Int32(qj)
                }
                scales[r * blocks + b] = Float(Float16(d))
                sums[r * blocks + b] = Float(Float16(Float(sum) * d))
            }
        case .q8_K:
            let blocks = width / 256
            for b in 0..<blocks {
                let v = x + b * 256
                var amax: Float = 0, maxValue: Float = 0
                for j in 0..<256 where abs(v[j]) > amax {
                    amax = abs(v[j])
                    maxValue = v[j]
                }
                if amax == 0 {
                    (q + b * 256).update(repeating: 0, count: 256)
                    scales[r * blocks + b] = 0
                } else {
                    let inverse = -127 / maxValue
                    for j in 0..<256 { q[b * 256 + j] = Int8(min(127, (inverse * v[j]).rounded(.toNearestOrEven))) }
                    scales[r * blocks + b] = 1 / inverse
                }
            }
        }
        let groups = width / 16
        let g = groupSums + r * groups
        for k in 0..<groups {
            var s: Int32 = 0
            for j in 0..<16 { s &+= Int32(q[k * 16 + j]) }
            g[k] = s
        }
    }

    /// The pieces of row `r` a dot kernel reads.
    @inline(__always)
    public func row(_ r: Int) -> QuantizedRow {
        let perScale = format.blockSize
        return QuantizedRow(
            quants: quants + r * width, scales: scales + r * (width / perScale), sums: sums + r * (width / 32),
            groupSums: groupSums + r * (width / 16))
    }

    /// Rows `rows` back to floats (each value its block scale × its int8), `stride` apart: the
    /// activations exactly as the integer dots see them, for float products that must agree
    /// with them.
    public func dequantize(rows range: Range<Int>, into y: UnsafeMutablePointer<Float>, stride: Int) {
        let perScale = format.blockSize
        for r in range {
            let q = quants + r * width, s = scales + r * (width / perScale), out = y + r * stride
            for b in 0..<width / perScale {
                let d = s[b]
                for j in 0..<perScale { out[b * perScale + j] = d * Float(q[b * perScale + j]) }
            }
        }
    }

    /// The value the quantized row stands for at `i` (for tests).
    public func value(row r: Int, _ i: Int) -> Float {
        row(r).scales[i / format.blockSize] * Float(quants[r * width + i])
    }
}

public struct QuantizedRow {
    public let quants: UnsafePointer<Int8>
    public let scales: UnsafePointer<Float>
    public let sums: UnsafePointer<Float>
    public let groupSums: UnsafePointer<Int32>
}

/// Dot products of one quantized weight row with one quantized activation row: integer products
/// per block, scaled once per block (ggml's `vec_dot_*`), offsets folded in through the
/// activations' group sums. Plain wrapping integer loops over 16 or 32 values, which the compiler
/// turns into vector multiply-adds.
public enum QuantDot {
    @inline(__always)
    static func f16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// Σ low nibble·x[j] + high nibble·x[j + 16] over 16 bytes.
    @inline(__always)
    static func nibbles32(_ w: UnsafePointer<UInt8>, _ x: UnsafePointer<Int8>) -> Int32 {
        var sum: Int32 = 0
        for j in 0..<16 {
            sum &+= Int32(w[j] & 0x0F) &* Int32(x[j]) &+ Int32(w[j] >> 4) &* Int32(x[j + 16])
        }
        return sum
    }

    public static func q8_0(_ w: UnsafeRawPointer, _ x: QuantizedRow, blocks: Int) -> Float {
        CPUFeatures.hasAVX512
            ? BlockDots.q8_0Wide(w, x.quants, x.scales, blocks: blocks)
            : BlockDots.q8_0(w, x.quants, x.scales, blocks: blocks)
    }

    /// Four Q8_0 rows `stride` bytes apart against one activation row.
    public static func q8_0x4(_ w: UnsafeRawPointer, stride: Int, _ x: QuantizedRow, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        if CPUFeatures.hasAVX512 {
            BlockDots.q8_0x4Wide(w, stride: stride, x.quants, x.scales, blocks: blocks, into: out)
        } else {
            BlockDots.q8_0x4(w, stride: stride, x.quants, x.scales, blocks: blocks, into: out)
        }
    }

    /// Rows of 36-byte blocks (f16 scale, f16 minimum, 32 int8; value = d·q + m) — Q4_1 rows
    /// repacked — against Q8_1 activations.
    public static func q8min(_ w: UnsafeRawPointer, _ x: QuantizedRow, blocks: Int) -> Float {
        CPUFeatures.hasAVX512
            ? BlockDots.q8minWide(w, x.quants, x.scales, x.sums, blocks: blocks)
            : BlockDots.q8min(w, x.quants, x.scales, x.sums, blocks: blocks)
    }

    public static func q4_0(_ w: UnsafeRawPointer, _ x: QuantizedRow, blocks: Int) -> Float {
        var total: Float = 0
        for b in 0..<blocks {
            let block = w + b * 18
            let s = nibbles32((block + 2).assumingMemoryBound(to: UInt8.self), x.quants + b * 32)
                &- 8 &* (x.groupSums[2 * b] &+ x.groupSums[2 * b + 1])
            total += f16(block, 0) * x.scales[b] * Float(s)
        }
        return total
    }

    public static func q4_1(_ w: UnsafeRawPointer, _ x: QuantizedRow, blocks: Int) -> Float {
        var total: Float = 0
        for b in 0..<blocks {
            let block = w + b * 20
            let s = nibbles32((block + 4).assumingMemoryBound(to: UInt8.self), x.quants + b * 32)
            total += f16(block, 0) * x.scales[b] * Float(s) + f16(block, 2) * x.sums[b]
        }
        return total
    }

    public static func q5_0(_ w: UnsafeRawPointer, _ x: QuantizedRow, blocks: Int) -> Float {
        var total: Float = 0
        for b in 0..<blocks {
            let block = w + b * 22
            let high = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            let q = x.quants + b * 32
            var fifth: Int32 = 0
            for j in 0..<32 { fifth &+= Int32(bitPattern: (high >> UInt32(j)) & 1) &* Int32(q[j]) }
            let s = nibbles32((block + 6).assumingMemoryBound(to: UInt8.self), q) &+ 16 &* fifth
                &- 16 &* (x.groupSums[2 * b] &+ x.groupSums[2 * b + 1])
            total += f16(block, 0) * x.scales[b] * Float(s)
        }
        return total
    }

    /// Q4_K against Q8_K: per 64 values, low nibbles are sub-block 2i and high nibbles 2i + 1,
    /// each with a 6-bit scale and min.
    public static func q4_K(_ w: UnsafeRawPointer, _ x: QuantizedRow, blocks: Int) -> Float {
        var total: Float = 0
        for b in 0..<blocks {
            let block = w + b * 144
            let sc = (block + 4).assumingMemoryBound(to: UInt8.self)
            let nib = (block + 16).assumingMemoryBound(to: UInt8.self)
            let q = x.quants + b * 256
            let g = x.groupSums + b * 16
            var scaled: Int32 = 0, mins: Int32 = 0
            for pair in 0..<4 {
                let (s1, m1) = QuantBlocks.scaleMinK4(2 * pair, sc), (s2, m2) = QuantBlocks.scaleMinK4(2 * pair + 1, sc)
                var lo: Int32 = 0, hi: Int32 = 0
                let n = nib + pair * 32, v = q + pair * 64
                for l in 0..<32 {
                    lo &+= Int32(n[l] & 0x0F) &* Int32(v[l])
                    hi &+= Int32(n[l] >> 4) &* Int32(v[l + 32])
                }
                scaled &+= Int32(s1) &* lo &+ Int32(s2) &* hi
                mins &+= Int32(m1) &* (g[4 * pair] &+ g[4 * pair + 1]) &+ Int32(m2) &* (g[4 * pair + 2] &+ g[4 * pair + 3])
            }
            let d = x.scales[b]
            total += d * f16(block, 0) * Float(scaled) - d * f16(block, 2) * Float(mins)
        }
        return total
    }

    /// Q6_K against Q8_K: 16 sub-blocks of 16 with int8 scales; values (6 bits) − 32.
    public static func q6_K(_ w: UnsafeRawPointer, _ x: QuantizedRow, blocks: Int) -> Float {
        var total: Float = 0
        for b in 0..<blocks {
            let block = w + b * 210
            let sc = (block + 192).assumingMemoryBound(to: Int8.self)
            let q = x.quants + b * 256
            let g = x.groupSums + b * 16
            var sum: Int32 = 0
            for half in 0..<2 {
                let ql = (block + half * 64).assumingMemoryBound(to: UInt8.self)
                let qh = (block + 128 + half * 32).assumingMemoryBound(to: UInt8.self)
                let v = q + half * 128
                for part in 0..<2 {
                    var s1: Int32 = 0, s2: Int32 = 0, s3: Int32 = 0, s4: Int32 = 0
                    for k in 0..<16 {
                        let l = part * 16 + k
                        s1 &+= Int32((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) &* Int32(v[l])
                        s2 &+= Int32((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) &* Int32(v[l + 32])
                        s3 &+= Int32((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) &* Int32(v[l + 64])
                        s4 &+= Int32((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) &* Int32(v[l + 96])
                    }
                    let s = sc + half * 8 + part
                    let gi = half * 8 + part
                    sum &+= Int32(s[0]) &* (s1 &- 32 &* g[gi]) &+ Int32(s[2]) &* (s2 &- 32 &* g[gi + 2])
                        &+ Int32(s[4]) &* (s3 &- 32 &* g[gi + 4]) &+ Int32(s[6]) &* (s4 &- 32 &* g[gi + 6])
                }
            }
            total += x.scales[b] * f16(block, 208) * Float(sum)
        }
        return total
    }
}
