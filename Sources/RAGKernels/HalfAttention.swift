internal import CAttention

/// The inner loops of attention over an f16 KV cache (C with F16C and FMA, CAttention): query ·
/// key scores and probability-weighted sums of values, each cached row converted once for every
/// query row that reads it. Positions are `stride` halves apart (the cache's row width).
public enum HalfAttention {
    /// scores[r · lds + t] = q[r] · k[t] for t < count, r < rows; `dim` a multiple of 8, ≤ 256.
    @inline(__always)
    public static func scores(
        _ q: UnsafePointer<Float>, rows: Int, dim: Int, keys: UnsafePointer<Float16>, stride: Int, count: Int,
        into scores: UnsafeMutablePointer<Float>, lds: Int
    ) {
        precondition(dim % 8 == 0 && dim <= 256, "Programmer error: head dimension \(dim)")
        rag_attention_scores(q, Int32(rows), Int32(dim), halves(keys), stride, Int32(count), scores, lds)
    }

    /// out[r · ldo + ·] = Σ_t p[r · ldp + t] · v[t] over t < count, r < rows; `dim` a multiple of 16.
    @inline(__always)
    public static func values(
        _ p: UnsafePointer<Float>, rows: Int, ldp: Int, values: UnsafePointer<Float16>, stride: Int, count: Int, dim: Int,
        into out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        precondition(dim % 16 == 0, "Programmer error: head dimension \(dim)")
        rag_attention_values(p, Int32(rows), ldp, halves(values), stride, Int32(count), Int32(dim), out, ldo)
    }

    /// Each value replaced by its nearest f16 (round to nearest even).
    @inline(__always)
    public static func roundToHalf(_ x: UnsafeMutablePointer<Float>, count: Int) {
        rag_round_to_half(x, count)
    }

    @inline(__always)
    private static func halves(_ p: UnsafePointer<Float16>) -> UnsafePointer<UInt16> {
        UnsafeRawPointer(p).assumingMemoryBound(to: UInt16.self)
    }
}
