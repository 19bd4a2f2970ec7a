internal import CQuantDot

/// Block decoders of the GGUF quantized formats (and the Q8_0 encoder) (the layouts of ggml's `block_*` structs), each
/// writing `blocks × blockSize` floats. Scales are f16; all multi-byte fields are little-endian.
public enum QuantBlocks {
    @inline(__always)
    static func f16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// F16 values.
    public static func f16(_ src: UnsafeRawPointer, count: Int, into y: UnsafeMutablePointer<Float>) {
        for i in 0..<count { y[i] = f16(src, i * 2) }
    }

    /// BF16 values (the high half of an f32).
    public static func bf16(_ src: UnsafeRawPointer, count: Int, into y: UnsafeMutablePointer<Float>) {
        for i in 0..<count { y[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16) }
    }

    /// `count` values (a multiple of 32) → Q8_0 blocks at `into` (ggml's rounding; C, AVX2).
    public static func encodeQ8_0(_ x: UnsafePointer<Float>, count: Int, into: UnsafeMutableRawPointer) {
        precondition(count % 32 == 0, "Programmer error: \(count) values are not whole Q8_0 blocks")
        rag_encode_q8_0(x, Int32(count / 32), into.assumingMemoryBound(to: UInt8.self))
    }

    /// Q8_0 (34 bytes / 32): d, then 32 int8: x = d·q.
    public static func q8_0(_ src: UnsafeRawPointer, blocks: Int, into y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 34, out = y + b * 32
            let d = f16(block, 0)
            let q = (block + 2).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 { out[j] = d * Float(q[j]) }
        }
    }

    /// Q4_0 (18 bytes / 32): d, then 16 bytes; element j is the low nibble of byte j, element
    /// j + 16 the high nibble; x = d·(q − 8).
    public static func q4_0(_ src: UnsafeRawPointer, blocks: Int, into y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 18, out = y + b * 32
            let d = f16(block, 0)
            let q = (block + 2).assumingMemoryBound(to: UInt8.self)
            for j in 0..<16 {
                out[j] = d * Float(Int(q[j] & 0x0F) - 8)
                out[j + 16] = d * Float(Int(q[j] >> 4) - 8)
            }
        }
    }

    /// Q4_1 (20 bytes / 32): d, m, then nibbles as Q4_0; x = d·q + m.
    public static func q4_1(_ src: UnsafeRawPointer, blocks: Int, into y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 20, out = y + b * 32
            let d = f16(block, 0), m = f16(block, 2)
            let q = (block + 4).assumingMemoryBound(to: UInt8.self)
            for j in 0..<16 {
                out[j] = d * Float(q[j] & 0x0F) + m
                out[j + 16] = d * Float(q[j] >> 4) + m
            }
        }
    }

    /// Q5_0 (22 bytes / 32): d, a u32 of fifth bits (bit j for element j), then nibbles as Q4_0;
    /// x = d·(q − 16).
    public static func q5_0(_ src: UnsafeRawPointer, blocks: Int, into y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 22, out = y + b * 32
            let d = f16(block, 0)
            let high = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            let q = (block + 6).assumingMemoryBound(to: UInt8.self)
            for j in 0..<16 {
                let h0 = Int((high >> UInt32(j)) & 1) << 4, h1 = Int((high >> UInt32(j + 16)) & 1) << 4
                out[j] = d * Float((Int(q[j] & 0x0F) | h0) - 16)
                out[j + 16] = d * Float((Int(q[j] >> 4) | h1) - 16)
            }
        }
    }

    /// The 6-bit scale and min of sub-block `j` (0..<8) of a Q4_K/Q5_K super-block: the 12 bytes
    /// hold 8 scales and 8 mins, the upper two bits of the last four of each in the first bytes.
    @inline(__always)
    public static func scaleMinK4(_ j: Int, _ s: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
        if j < 4 { return (s[j] & 63, s[j + 4] & 63) }
        return ((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
    }

    /// Q4_K (144 bytes / 256): d, dmin, 12 bytes of scales/mins, 128 bytes of nibbles. Each 64
    /// elements use 32 bytes: the low nibbles are sub-block 2i, the high nibbles sub-block 2i + 1;
    /// x = d·scale·q − dmin·min.
    public static func q4_K(_ src: UnsafeRawPointer, blocks: Int, into y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 144
            var out = y + b * 256
            let d = f16(block, 0), dmin = f16(block, 2)
            let scales = (block + 4).assumingMemoryBound(to: UInt8.self)
            var q = (block + 16).assumingMemoryBound(to: UInt8.self)
            for pair in 0..<4 {
                let (s1, m1) = scaleMinK4(2 * pair, scales), (s2, m2) = scaleMinK4(2 * pair + 1, scales)
                let d1 = d * Float(s1), c1 = dmin * Float(m1), d2 = d * Float(s2), c2 = dmin * Float(m2)
                for l in 0..<32 {
                    out[l] = d1 * Float(q[l] & 0x0F) - c1
                    out[l + 32] = d2 * Float(q[l] >> 4) - c2
                }
                out += 64
                q += 32
            }
        }
    }

    /// Q6_K (210 bytes / 256): 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8
    /// scales (one per 16 elements), d; x = d·scale·(q − 32). Each half of 128 elements uses 64
    /// low bytes, 32 high bytes and 8 scales.
    public static func q6_K(_ src: UnsafeRawPointer, blocks: Int, into y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 210
            var out = y + b * 256
            var ql = block.assumingMemoryBound(to: UInt8.self)
            var qh = (block + 128).assumingMemoryBound(to: UInt8.self)
            var sc = (block + 192).assumingMemoryBound(to: Int8.self)
            let d = f16(block, 208)
            for _ in 0..<2 {
                for l in 0..<32 {
                    let s = l / 16
                    let q1 = Int((ql[l] & 0x0F) | ((qh[l] >> 0) & 3) << 4) - 32
                    let q2 = Int((ql[l + 32] & 0x0F) | ((qh[l] >> 2) & 3) << 4) - 32
                    let q3 = Int((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32
                    let q4 = Int((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32
                    out[l] = d * Float(sc[s]) * Float(q1)
                    out[l + 32] = d * Float(sc[s + 2]) * Float(q2)
                    out[l + 64] = d * Float(sc[s + 4]) * Float(q3)
                    out[l + 96] = d * Float(sc[s + 6]) * Float(q4)
                }
                out += 128
                ql += 64
                qh += 32
                sc += 8
            }
        }
    }
}
