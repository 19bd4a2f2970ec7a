public import CPrefetch

/// Integer dot products of rows stored as 34-byte Q8_0 blocks (f16 scale, 32 int8) or 36-byte
/// blocks with a minimum (f16 scale, f16 min, 32 int8; value = d·q + m) against activations
/// quantized per 32 (int8 + f32 scale, and d·Σq for the minimum term).
///
/// The bodies are `@inlinable`: `RAGKernels` inlines them into its AVX2 build, and the `wide`
/// entry points here are the same code built for AVX-512 with VNNI (call them only after the
/// runtime check). Two blocks per step keep two independent chains in flight.
public enum BlockDots {
    @inlinable @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    @inlinable @inline(__always)
    static func dot32(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>) -> Int32 {
        var sum: Int32 = 0
        for j in 0..<32 { sum &+= Int32(a[j]) &* Int32(b[j]) }
        return sum
    }

    @inlinable @inline(__always)
    public static func q8_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Int8>, _ scales: UnsafePointer<Float>, blocks: Int) -> Float {
        var t0: Float = 0, t1: Float = 0
        var b = 0
        while b + 1 < blocks {
            let k0 = w + b * 34, k1 = k0 + 34
            rag_prefetch2(k0 + 1024)  // the weights stream from memory: ask ahead
            let s0 = dot32((k0 + 2).assumingMemoryBound(to: Int8.self), x + b * 32)
            let s1 = dot32((k1 + 2).assumingMemoryBound(to: Int8.self), x + b * 32 + 32)
            t0 += half(k0, 0) * scales[b] * Float(s0)
            t1 += half(k1, 0) * scales[b + 1] * Float(s1)
            b += 2
        }
        if b < blocks {
            let k = w + b * 34
            t0 += half(k, 0) * scales[b] * Float(dot32((k + 2).assumingMemoryBound(to: Int8.self), x + b * 32))
        }
        return t0 + t1
    }

    @inlinable @inline(__always)
    public static func q8min(_ w: UnsafeRawPointer, _ x: UnsafePointer<Int8>, _ scales: UnsafePointer<Float>, _ sums: UnsafePointer<Float>, blocks: Int) -> Float {
        var t0: Float = 0, t1: Float = 0
        var b = 0
        while b + 1 < blocks {
            let k0 = w + b * 36, k1 = k0 + 36
            rag_prefetch2(k0 + 1024)
            let s0 = dot32((k0 + 4).assumingMemoryBound(to: Int8.self), x + b * 32)
            let s1 = dot32((k1 + 4).assumingMemoryBound(to: Int8.self), x + b * 32 + 32)
            t0 += half(k0, 0) * scales[b] * Float(s0) + half(k0, 2) * sums[b]
            t1 += half(k1, 0) * scales[b + 1] * Float(s1) + half(k1, 2) * sums[b + 1]
            b += 2
        }
        if b < blocks {
            let k = w + b * 36
            t0 += half(k, 0) * scales[b] * Float(dot32((k + 4).assumingMemoryBound(to: Int8.self), x + b * 32)) + half(k, 2) * sums[b]
        }
        return t0 + t1
    }

    /// Four consecutive rows (`stride` bytes apart) at once: four independent streams from
    /// memory and one read of the activations for all of them.
    @inlinable @inline(__always)
    public static func q8_0x4(_ w: UnsafeRawPointer, stride: Int, _ x: UnsafePointer<Int8>, _ scales: UnsafePointer<Float>, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        var t0: Float = 0, t1: Float = 0, t2: Float = 0, t3: Float = 0
        let r0 = w, r1 = w + stride, r2 = w + 2 * stride, r3 = w + 3 * stride
        for b in 0..<blocks {
            let o = b * 34
            rag_prefetch(r0 + o + 1024)
            rag_prefetch(r1 + o + 1024)
            rag_prefetch(r2 + o + 1024)
            rag_prefetch(r3 + o + 1024)
            let xb = x + b * 32
            let s0 = dot32((r0 + o + 2).assumingMemoryBound(to: Int8.self), xb)
            let s1 = dot32((r1 + o + 2).assumingMemoryBound(to: Int8.self), xb)
            let s2 = dot32((r2 + o + 2).assumingMemoryBound(to: Int8.self), xb)
            let s3 = dot32((r3 + o + 2).assumingMemoryBound(to: Int8.self), xb)
            let d = scales[b]
            t0 += half(r0, o) * d * Float(s0)
            t1 += half(r1, o) * d * Float(s1)
            t2 += half(r2, o) * d * Float(s2)
            t3 += half(r3, o) * d * Float(s3)
        }
        out[0] = t0
        out[1] = t1
        out[2] = t2
        out[3] = t3
    }

    @inline(never)
    public static func q8_0x4Wide(_ w: UnsafeRawPointer, stride: Int, _ x: UnsafePointer<Int8>, _ scales: UnsafePointer<Float>, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        q8_0x4(w, stride: stride, x, scales, blocks: blocks, into: out)
    }

    /// `q8_0` built for AVX-512/VNNI.
    @inline(never)
    public static func q8_0Wide(_ w: UnsafeRawPointer, _ x: UnsafePointer<Int8>, _ scales: UnsafePointer<Float>, blocks: Int) -> Float {
        q8_0(w, x, scales, blocks: blocks)
    }

    /// `q8min` built for AVX-512/VNNI.
    @inline(never)
    public static func q8minWide(_ w: UnsafeRawPointer, _ x: UnsafePointer<Int8>, _ scales: UnsafePointer<Float>, _ sums: UnsafePointer<Float>, blocks: Int) -> Float {
        q8min(w, x, scales, sums, blocks: blocks)
    }
}
