internal import CAttention

/// Attention over a KV cache a block of positions at a time, the softmax carried from block to
/// block by each row's running maximum and sum (the flash-attention recurrence; C with F16C and
/// FMA, CAttention): what it touches stays O(block) at any context length. The cache holds f16
/// halves or Q8_0 blocks (an f16 scale and 32 int8 values), converted once per block for all
/// the query rows of a call.
public enum TiledAttention {
    /// How the cache stores one position of one head.
    public enum Storage: Int32, Sendable {
        case f16 = 0, q8_0 = 1

        /// Bytes of `count` values (a whole number of 32-value blocks for Q8_0).
        public func bytes(_ count: Int) -> Int {
            switch self {
            case .f16: return 2 * count
            case .q8_0: return count / 32 * Int(RAG_Q8_0_BYTES)
            }
        }
    }

    /// Scratch floats `attend` needs for `rows` query rows of `dim`.
    public static func workspace(rows: Int, dim: Int) -> Int { rag_flash_attention_work(Int32(rows), Int32(dim)) }

    /// out[r · ldo + ·] = softmax(scale · q[r]·K) · V over the positions before `visible[r]`
    /// (at least one), for `rows` query rows `dim` apart; keys and values `rowBytes` apart;
    /// `dim` a multiple of 32, at most 256.
    @inline(__always)
    public static func attend(
        _ q: UnsafePointer<Float>, rows: Int, dim: Int, visible: UnsafePointer<Int32>, storage: Storage,
        keys: UnsafeRawPointer, values: UnsafeRawPointer, rowBytes: Int, scale: Float,
        into out: UnsafeMutablePointer<Float>, ldo: Int, work: UnsafeMutablePointer<Float>
    ) {
        precondition(dim % 32 == 0 && dim <= 256, "Programmer error: head dimension \(dim)")
        rag_flash_attention(
            storage.rawValue, q, Int32(rows), Int32(dim), visible, keys.assumingMemoryBound(to: UInt8.self),
            values.assumingMemoryBound(to: UInt8.self), rowBytes, scale, out, ldo, work)
    }
}
