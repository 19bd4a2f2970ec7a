// The K-quants' inner sums on 512-bit registers, included by quant_dot_body.h in the AVX-512
// VNNI build in place of its ymm ones. A zmm takes 64 values of a weight row, and each activation
// row costs one vpdpbusd per 64 values: u8 codes × s8 activations summed in fours, each i32 lane
// within one sub-block. The sub-block scales come after, on half as many lanes: two such sums
// saturate-packed to i16 (they fit: four products of at most 63 · 127) and one vpdpwssd with
// the scales per 128 values. That is six multiplies per 256 values and row where vpmaddubsw
// plus vpmaddwd take eight, and the multiplies are what bound several rows.
//
// The integer sum of a block is exact, but its eight lanes group the products differently from
// the ymm kernels', and the lanes are rounded one by one into the f32 accumulators: results
// differ from the AVX2 build's in the last bits. Each activation row still gets the same
// arithmetic whatever the number of rows.

/// Lanes 0…15 of a 32 × i16 vector from `a`, lanes 16…31 from `b`.
RAG_INLINE __m512i rag_zmm_halves16(short a, short b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(a)), _mm256_set1_epi16(b), 1);
}

/// The low 256 bits plus the high 256 bits, lane by lane.
RAG_INLINE __m256i rag_zmm_fold(__m512i v) {
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

/// Σ scale·(code·x) over 256 values: the four zmm of codes against one row's activations by
/// vpdpbusd, packed in pairs to i16 and multiplied by the scales of each pair (s0, s1) with the
/// pairs of lanes added by vpmaddwd/vpdpwssd.
RAG_INLINE __m512i rag_zmm_scaled_sums(const __m512i q[4], const int8_t *xq, __m512i s0, __m512i s1) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i a0 = _mm512_dpbusd_epi32(zero, q[0], _mm512_loadu_si512(xq));
    const __m512i a1 = _mm512_dpbusd_epi32(zero, q[1], _mm512_loadu_si512(xq + 64));
    const __m512i a2 = _mm512_dpbusd_epi32(zero, q[2], _mm512_loadu_si512(xq + 128));
    const __m512i a3 = _mm512_dpbusd_epi32(zero, q[3], _mm512_loadu_si512(xq + 192));
    return _mm512_dpwssd_epi32(_mm512_madd_epi16(_mm512_packs_epi32(a0, a1), s0), _mm512_packs_epi32(a2, a3), s1);
}

/// The Q4_K scale of each i16 lane of packs(a, b) (a and b the sums of 64 values: lanes 0…7 one
/// sub-block, 8…15 the next), for the pair of 64-value groups starting at sub-block `first`:
/// 128-bit lane k holds four sums of a (sub-block first + k/2), then four of b (first + 2 + k/2).
RAG_INLINE __m512i rag_q4_K_pair_scales(__m512i scales, int first) {
    const __m512i pick = _mm512_setr_epi64(0, 0x0002000200020002LL, 0, 0x0002000200020002LL,
                                           0x0001000100010001LL, 0x0003000300030003LL, 0x0001000100010001LL, 0x0003000300030003LL);
    return _mm512_permutexvar_epi16(_mm512_add_epi16(pick, _mm512_set1_epi16((short)first)), scales);
}

/// Q4_K: 32 bytes of nibbles broadcast to both halves, the lower half keeping the low nibbles
/// (32 values), the upper the high ones (the next 32): 64 consecutive values in a zmm, four per block.
RAG_INLINE void rag_q4_K_sums(const int nx, const uint8_t *qs, const rag_q8_rows *x, int b, const uint8_t scales[8], __m256i *sums) {
    const __m512i low = _mm512_set1_epi8(0x0F);
    const __m512i shift = rag_zmm_halves16(0, 4);
    const __m512i scale16 = _mm512_zextsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)scales)));
    const __m512i s0 = rag_q4_K_pair_scales(scale16, 0), s1 = rag_q4_K_pair_scales(scale16, 4);
    __m512i q[4];
    for (int group = 0; group < 4; group++) {
        const __m512i raw = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * group)));
        q[group] = _mm512_and_si512(_mm512_srlv_epi16(raw, shift), low);
    }
    for (int r = 0; r < nx; r++) sums[r] = rag_zmm_fold(rag_zmm_scaled_sums(q, x->qs + (size_t)r * x->width + b * 256, s0, s1));
}

/// Q6_K: the codes (0…63) of each 128 values as two zmm, from the 64 bytes of low bits and the
/// 32 bytes of high bits broadcast to both halves, shifted by a different amount in each.
RAG_INLINE void rag_q6_K_sums(const int nx, const uint8_t *block, const rag_q8_rows *x, int b, __m256i scale16, __m256i *sums) {
    const __m512i low = _mm512_set1_epi8(0x0F), top = _mm512_set1_epi8(0x30);
    // Values 0…31 take bits 0-1 of the high bytes, 32…63 bits 2-3, 64…95 bits 4-5, 96…127 bits 6-7.
    const __m512i shiftFirst = rag_zmm_halves16(4, 2), shiftSecond = rag_zmm_halves16(0, 2);
    // packs(a, b) holds in 128-bit lane k four sums of a's 16 values k (scale k), then four of b's (k + 4).
    const __m512i pick = _mm512_setr_epi64(0, 0x0004000400040004LL, 0x0001000100010001LL, 0x0005000500050005LL,
                                           0x0002000200020002LL, 0x0006000600060006LL, 0x0003000300030003LL, 0x0007000700070007LL);
    const __m512i scales = _mm512_zextsi256_si512(scale16);
    const __m512i s0 = _mm512_permutexvar_epi16(pick, scales);
    const __m512i s1 = _mm512_permutexvar_epi16(_mm512_add_epi16(pick, _mm512_set1_epi16(8)), scales);
    __m512i q[4];
    for (int half = 0; half < 2; half++) {
        const uint8_t *ql = block + 64 * half, *qh = block + 128 + 32 * half;
        const __m512i l = _mm512_loadu_si512(ql);
        const __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qh));
        q[2 * half] = _mm512_or_si512(_mm512_and_si512(l, low), _mm512_and_si512(_mm512_sllv_epi16(h, shiftFirst), top));
        q[2 * half + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low),
                                          _mm512_and_si512(_mm512_srlv_epi16(h, shiftSecond), top));
    }
    for (int r = 0; r < nx; r++) {
        const __m512i w = rag_zmm_scaled_sums(q, x->qs + (size_t)r * x->width + b * 256, s0, s1);
        sums[r] = _mm256_add_epi32(sums[r], rag_zmm_fold(w));
    }
}
