internal import RAGKernels

/// How a session's KV cache stores keys and values: f16 halves (llama.cpp's default) or Q8_0
/// blocks (32 int8 values and an f16 scale, 34 bytes where f16 takes 64: the cache bytes read per
/// token at long contexts nearly halved). A Q8_0 cache is read by tiled attention, as llama.cpp
/// reads a quantized cache only with flash attention.
public enum KVCacheType: String, CaseIterable, Sendable {
    case f16
    case q8_0

    /// Bytes one position of `width` values takes.
    public func bytes(_ width: Int) -> Int { storage.bytes(width) }

    var storage: TiledAttention.Storage {
        switch self {
        case .f16: return .f16
        case .q8_0: return .q8_0
        }
    }
}
