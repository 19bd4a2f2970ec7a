internal import CQuantDot

/// An encoder's self-attention of one head over one sequence (every row sees every row):
/// softmax(scale · q·kᵀ) · v in one pass per group of query rows (`rag_encoder_attention_*`),
/// the keys transposed and the values packed once per head. For the sequences an encoder sees,
/// tens to a few hundred tokens and heads of 32 values, two BLAS calls and a softmax per head
/// cost more in set-up than in arithmetic.
public enum SelfAttention {
    /// Floats of scratch one call over `rows` rows needs.
    public static func workCount(rows: Int, headSize: Int) -> Int {
        rag_encoder_attention_work(Int32(rows), Int32(headSize))
    }

    /// out[r · ldo + ·] = softmax(scale · q_r · kᵀ) · v for the `rows` rows of q, k and v
    /// (`stride` floats apart, `headSize` a multiple of 32), on sixteen lanes where the CPU has
    /// AVX-512, eight elsewhere.
    public static func apply(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, stride: Int, rows: Int, headSize: Int,
        scale: Float, into out: UnsafeMutablePointer<Float>, ldo: Int, work: UnsafeMutablePointer<Float>
    ) {
        let status = CPUFeatures.hasAVX512
            ? rag_encoder_attention_avx512(q, k, v, stride, Int32(rows), Int32(headSize), scale, out, ldo, work)
            : rag_encoder_attention_avx2(q, k, v, stride, Int32(rows), Int32(headSize), scale, out, ldo, work)
        precondition(status == 0, "Programmer error: self-attention over \(rows) rows of \(headSize)")
    }
}
