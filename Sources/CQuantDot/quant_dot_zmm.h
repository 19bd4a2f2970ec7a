// The K-quants' inner sums on 512-bit registers, included by quant_dot_body.h in the AVX-512
// VNNI build in place of its ymm ones. A zmm takes 64 values of a weight row, so each activation
// row costs one load, one vpmaddubsw and one vpdpwssd (the scale multiply and the add) per 64
// values instead of twice that on ymm. The two 256-bit halves are added as integers before
// anything is rounded, and each i32 lane then holds exactly the sum the ymm kernels hold in it:
// the results are bit for bit those of the AVX2 build (integer sums are exact in any order).

/// Lanes 0…15 of a 32 × i16 vector from `a`, lanes 16…31 from `b`.
RAG_INLINE __m512i rag_zmm_halves16(short a, short b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(a)), _mm256_set1_epi16(b), 1);
}

/// The low 256 bits plus the high 256 bits, lane by lane.
RAG_INLINE __m256i rag_zmm_fold(__m512i v) {
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

/// Q4_K: 32 bytes of nibbles broadcast to both halves, the lower half keeping the low nibbles
/// (32 values), the upper the high ones (the next 32): 64 consecutive values, each half scaled by
/// its sub-block's scale.
RAG_INLINE void rag_q4_K_sums(const int nx, const uint8_t *qs, const rag_q8_rows *x, int b, const uint8_t scales[8], __m256i *sums) {
    const __m512i low = _mm512_set1_epi8(0x0F);
    const __m512i shift = rag_zmm_halves16(0, 4);
    __m512i wide[8];
    for (int r = 0; r < nx; r++) wide[r] = _mm512_setzero_si512();
    _Pragma("clang loop unroll(disable)")
    for (int pair = 0; pair < 4; pair++) {
        const __m512i raw = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * pair)));
        const __m512i q = _mm512_and_si512(_mm512_srlv_epi16(raw, shift), low);
        const __m512i s = rag_zmm_halves16(scales[2 * pair], scales[2 * pair + 1]);
        for (int r = 0; r < nx; r++) {
            const int8_t *xq = x->qs + (size_t)r * x->width + b * 256 + 64 * pair;
            wide[r] = _mm512_dpwssd_epi32(wide[r], _mm512_maddubs_epi16(q, _mm512_loadu_si512(xq)), s);
        }
    }
    for (int r = 0; r < nx; r++) sums[r] = rag_zmm_fold(wide[r]);
}

/// Q6_K: per 128 values, the 64 bytes of low bits as one zmm and the 32 bytes of high bits
/// broadcast to both halves, shifted by a different amount in each: values 0…63 and 64…127 of
/// the half as two zmm, each 128-bit lane scaled by its 16 values' scale.
RAG_INLINE void rag_q6_K_sums(const int nx, const uint8_t *block, const rag_q8_rows *x, int b, __m256i scale16, __m256i *sums) {
    const __m512i low = _mm512_set1_epi8(0x0F), top = _mm512_set1_epi8(0x30);
    // Values 0…31 take bits 0-1 of the high bytes, 32…63 bits 2-3, 64…95 bits 4-5, 96…127 bits 6-7.
    const __m512i shiftFirst = rag_zmm_halves16(4, 2), shiftSecond = rag_zmm_halves16(0, 2);
    // Every i16 lane of 128-bit lane j: j (the scale of 16 values is picked by j plus an offset).
    const __m512i lane = _mm512_setr_epi64(0, 0, 0x0001000100010001LL, 0x0001000100010001LL,
                                           0x0002000200020002LL, 0x0002000200020002LL,
                                           0x0003000300030003LL, 0x0003000300030003LL);
    const __m512i scales = _mm512_zextsi256_si512(scale16);
    __m512i wide[8];
    for (int r = 0; r < nx; r++) wide[r] = _mm512_setzero_si512();
    _Pragma("clang loop unroll(disable)")
    for (int half = 0; half < 2; half++) {
        const uint8_t *ql = block + 64 * half, *qh = block + 128 + 32 * half;
        const __m512i l = _mm512_loadu_si512(ql);
        const __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qh));
        const __m512i first = _mm512_or_si512(_mm512_and_si512(l, low), _mm512_and_si512(_mm512_sllv_epi16(h, shiftFirst), top));
        const __m512i second = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low),
                                               _mm512_and_si512(_mm512_srlv_epi16(h, shiftSecond), top));
        // Scales 8·half + j (values 0…63 of the half) and 8·half + 4 + j (64…127).
        const __m512i firstScale = _mm512_permutexvar_epi16(_mm512_add_epi16(lane, _mm512_set1_epi16((short)(8 * half))), scales);
        const __m512i secondScale = _mm512_permutexvar_epi16(_mm512_add_epi16(lane, _mm512_set1_epi16((short)(8 * half + 4))), scales);
        for (int r = 0; r < nx; r++) {
            const int8_t *xq = x->qs + (size_t)r * x->width + b * 256 + 128 * half;
            wide[r] = _mm512_dpwssd_epi32(wide[r], _mm512_maddubs_epi16(first, _mm512_loadu_si512(xq)), firstScale);
            wide[r] = _mm512_dpwssd_epi32(wide[r], _mm512_maddubs_epi16(second, _mm512_loadu_si512(xq + 64)), secondScale);
        }
    }
    for (int r = 0; r < nx; r++) sums[r] = _mm256_add_epi32(sums[r], rag_zmm_fold(wide[r]));
}
