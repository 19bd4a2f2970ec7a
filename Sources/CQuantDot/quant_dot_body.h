// The kernels, included by quant_dot_avx2.c and quant_dot_vnni.c under their target attributes;
// RAG_DOT_U8S8(u, s) is the one instruction sequence that differs: eight i32 sums of four
// u8 × s8 products each.
//
// Layouts (ggml's block structs; scales f16, little-endian):
//   Q8_0  34 B / 32: d, int8[32]                      x = d·q
//   Q4_0  18 B / 32: d, nibbles[16]                   x = d·(q − 8)   element j low nibble of byte j, j+16 high
//   Q4_1  20 B / 32: d, m, nibbles[16]                x = d·q + m
//   Q5_0  22 B / 32: d, fifth bits (u32), nibbles[16] x = d·((q | bit·16) − 16)
//   Q4_K 144 B / 256: d, dmin, 12 B of 6-bit scales and mins for 8 × 32, nibbles[128]
//        (per 64 values: low nibbles the first 32, high nibbles the next 32); x = d·sc·q − dmin·m
//   Q6_K 210 B / 256: ql[128], qh[64], int8 scales[16] (per 16), d; x = d·sc·(q − 32)

#include "vector_math.h"

#define RAG_INLINE static inline __attribute__((always_inline))
/// How far ahead of the block being read the next weight line is requested (bytes).
#ifndef RAG_PREFETCH_AHEAD
#define RAG_PREFETCH_AHEAD 4096
#endif

RAG_INLINE float rag_half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

RAG_INLINE float rag_hsum128(__m128 s) {
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// 16 bytes of nibbles → 32 bytes: the low nibbles (elements 0…15), then the high ones (16…31).
RAG_INLINE __m256i rag_nibbles32(const uint8_t *p) {
    __m128i raw = _mm_loadu_si128((const __m128i *)p);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/// Byte j = 0xFF where bit j of `bits` is set, else 0.
RAG_INLINE __m256i rag_bit_bytes(uint32_t bits) {
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i mask = _mm256_set1_epi64x(0x8040201008040201LL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, mask), mask);
}

/// One 32-value block of one weight row against nx activation rows.
RAG_INLINE void rag_block32(const int type, const int nx, const uint8_t *block, const rag_q8_rows *x, int blocks, int b,
                            __m256 *acc, float *minimum) {
    const float dw = rag_half(block);
    __m256i q;
    if (type == RAG_Q8_0) {
        q = _mm256_loadu_si256((const __m256i *)(block + 2));
    } else if (type == RAG_Q4_0) {
        q = _mm256_sub_epi8(rag_nibbles32(block + 2), _mm256_set1_epi8(8));
    } else if (type == RAG_Q5_0) {
        uint32_t high;
        memcpy(&high, block + 2, 4);
        // (q | 16·bit) − 16: where the bit is clear the code minus 16 is the nibble with 0xF0 set.
        q = _mm256_or_si256(rag_nibbles32(block + 6), _mm256_andnot_si256(rag_bit_bytes(high), _mm256_set1_epi8((char)0xF0)));
    } else {
        q = rag_nibbles32(block + 4);
    }
    const __m256i magnitude = type == RAG_Q4_1 ? q : _mm256_sign_epi8(q, q);
    const float mw = type == RAG_Q4_1 ? rag_half(block + 2) : 0;
    for (int r = 0; r < nx; r++) {
        __m256i xv = _mm256_loadu_si256((const __m256i *)(x->qs + (size_t)r * x->width + b * 32));
        if (type != RAG_Q4_1) xv = _mm256_sign_epi8(xv, q);
        const __m256 p = _mm256_cvtepi32_ps(RAG_DOT_U8S8(magnitude, xv));
        acc[r] = _mm256_fmadd_ps(p, _mm256_set1_ps(dw * x->d[r * blocks + b]), acc[r]);
        if (type == RAG_Q4_1) minimum[r] += mw * x->s[r * blocks + b];
    }
}

/// One weight row against up to four activation rows: even blocks into one set of
/// accumulators, odd blocks into another (two independent chains in flight even for one row),
/// so every activation row gets the same arithmetic whatever the number of rows — a pass that
/// verifies draft tokens gives each exactly the logits of one token at a time. More than four
/// rows go as two groups over the row, which is in L1 by then (eight rows' sixteen
/// accumulators would spill).
RAG_INLINE void rag_dot32_group(const int type, const int g, const uint8_t *row, int bytes, int blocks,
                                const rag_q8_rows *x, float *out, size_t ldo, int prefetch) {
    __m256 acc[4], acc2[4];
    float minimum[4], minimum2[4];
    for (int r = 0; r < g; r++) {
        acc[r] = _mm256_setzero_ps();
        acc2[r] = _mm256_setzero_ps();
        minimum[r] = 0;
        minimum2[r] = 0;
    }
    int b = 0;
    for (; b + 1 < blocks; b += 2) {
        if (prefetch) _mm_prefetch((const char *)(row + b * bytes) + RAG_PREFETCH_AHEAD, _MM_HINT_T0);
        rag_block32(type, g, row + b * bytes, x, blocks, b, acc, minimum);
        rag_block32(type, g, row + (b + 1) * bytes, x, blocks, b + 1, acc2, minimum2);
    }
    if (b < blocks) rag_block32(type, g, row + b * bytes, x, blocks, b, acc, minimum);
    for (int r = 0; r < g; r++) out[r * ldo] = rag_hsum(_mm256_add_ps(acc[r], acc2[r])) + minimum[r] + minimum2[r];
}

/// The 32-value formats. Signed codes (Q8_0, Q4_0, Q5_0) meet the activations by the sign trick
/// (|w| as u8 times x carrying w's sign); Q4_1's unsigned codes meet them directly and its
/// minimum is folded in through the activations' d·Σq.
RAG_INLINE void rag_dot32(const int type, const int nx, const uint8_t *w, size_t row_bytes, int rows,
                          const rag_q8_rows *x, float *out, size_t ldo) {
    const int blocks = x->width / 32;
    const int bytes = type == RAG_Q8_0 ? 34 : type == RAG_Q4_0 ? 18 : type == RAG_Q4_1 ? 20 : 22;
    // Rows 4…7 as a second group of their own (what they point at, shifted by four rows).
    const rag_q8_rows high = {x->qs + (size_t)4 * x->width, x->d + 4 * blocks, x->s ? x->s + 4 * blocks : NULL, NULL, NULL, x->width};
    for (int o = 0; o < rows; o++) {
        const uint8_t *row = w + (size_t)o * row_bytes;
        rag_dot32_group(type, nx < 4 ? nx : 4, row, bytes, blocks, x, out + o, ldo, 1);
        if (nx > 4) rag_dot32_group(type, nx - 4, row, bytes, blocks, &high, out + 4 * ldo + o, ldo, 0);
    }
}

/// A Q4_K block's header: the 6-bit scales of its 8 sub-blocks into `scales`, and its minimums
/// into each row's own sums (kept apart as ggml keeps them): dmin·dx·Σ m·(Σx per 32), one
/// vpmaddwd of the 8 mins with the activations' sums per 32.
RAG_INLINE void rag_q4_K_scales(const int nx, const uint8_t *block, const rag_q8_rows *x, int blocks, int b,
                                uint8_t scales[8], __m128 *mins) {
    const float dmin = rag_half(block + 2);
    uint32_t packed[3];
    memcpy(packed, block + 4, 12);
    // The first four in the low six bits of bytes 0…3 (scales) and 4…7 (mins); the last four from
    // the nibbles of bytes 8…11 with the top two bits of bytes 0…7 above them.
    const uint32_t scaleLow = packed[0] & 0x3F3F3F3F, minLow = packed[1] & 0x3F3F3F3F;
    const uint32_t scaleHigh = (packed[2] & 0x0F0F0F0F) | (((packed[0] >> 6) & 0x03030303) << 4);
    const uint32_t minHigh = ((packed[2] >> 4) & 0x0F0F0F0F) | (((packed[1] >> 6) & 0x03030303) << 4);
    memcpy(scales, &scaleLow, 4);
    memcpy(scales + 4, &scaleHigh, 4);
    const __m128i min16 = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)minHigh, (int)minLow));
    for (int r = 0; r < nx; r++) {
        const __m128i xs = _mm_loadu_si128((const __m128i *)(x->sum32 + (size_t)r * (x->width / 32) + b * 8));
        mins[r] = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_madd_epi16(min16, xs)), _mm_set1_ps(dmin * x->d[r * blocks + b]), mins[r]);
    }
}

#ifdef RAG_ZMM
#include "quant_dot_zmm.h"
#else
/// The integer sums of a Q4_K block (nibbles at `qs`) with each row's 256 activations, per
/// 32 values Σ sc·(q·x) by vpmaddubsw and vpmaddwd with the scale, into `sums`.
RAG_INLINE void rag_q4_K_sums(const int nx, const uint8_t *qs, const rag_q8_rows *x, int b, const uint8_t scales[8], __m256i *sums) {
    const __m256i low = _mm256_set1_epi8(0x0F);
    for (int r = 0; r < nx; r++) sums[r] = _mm256_setzero_si256();
    _Pragma("clang loop unroll(disable)")
    for (int pair = 0; pair < 4; pair++) {
        const __m256i raw = _mm256_loadu_si256((const __m256i *)(qs + 32 * pair));
        const __m256i q0 = _mm256_and_si256(raw, low);
        const __m256i q1 = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
        const __m256i s0 = _mm256_set1_epi16(scales[2 * pair]), s1 = _mm256_set1_epi16(scales[2 * pair + 1]);
        for (int r = 0; r < nx; r++) {
            const int8_t *xq = x->qs + (size_t)r * x->width + b * 256 + 64 * pair;
            const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, _mm256_loadu_si256((const __m256i *)xq)), s0);
            const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)(xq + 32))), s1);
            sums[r] = _mm256_add_epi32(sums[r], _mm256_add_epi32(p0, p1));
        }
    }
}

/// The integer sums of a Q6_K block's codes (unsigned, 0…63) with each row's 256 activations by
/// vpmaddubsw, scaled per 16 values by vpmaddwd, added to `sums`.
RAG_INLINE void rag_q6_K_sums(const int nx, const uint8_t *block, const rag_q8_rows *x, int b, __m256i scale16, __m256i *sums) {
    const __m256i low = _mm256_set1_epi8(0x0F), top = _mm256_set1_epi8(0x30);
    // Scale pair k of a half, as i16: the low lane all sc[2k], the high lane all sc[2k+1].
    const __m256i pick = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
                                          2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
    _Pragma("clang loop unroll(disable)")
    for (int half = 0; half < 2; half++) {
        const uint8_t *ql = block + 64 * half, *qh = block + 128 + 32 * half;
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
        const __m256i h = _mm256_loadu_si256((const __m256i *)qh);
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(l0, low), _mm256_and_si256(_mm256_slli_epi16(h, 4), top));
        q[1] = _mm256_or_si256(_mm256_and_si256(l1, low), _mm256_and_si256(_mm256_slli_epi16(h, 2), top));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low), _mm256_and_si256(h, top));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low), _mm256_and_si256(_mm256_srli_epi16(h, 2), top));
        __m256i sc[4];
        for (int k = 0; k < 4; k++) {
            sc[k] = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(scale16, _mm256_set1_epi32(4 * half + k)), pick);
        }
        for (int r = 0; r < nx; r++) {
            const int8_t *xq = x->qs + (size_t)r * x->width + b * 256 + 128 * half;
            for (int k = 0; k < 4; k++) {
                const __m256i p = _mm256_maddubs_epi16(q[k], _mm256_loadu_si256((const __m256i *)(xq + 32 * k)));
                sums[r] = _mm256_add_epi32(sums[r], _mm256_madd_epi16(p, sc[k]));
            }
        }
    }
}
#endif

/// Q4_K: the block's integer sums (rag_q4_K_sums) scaled by d·dx; the minimums apart.
RAG_INLINE void rag_dot_q4_K(const int nx, const uint8_t *w, size_t row_bytes, int rows,
                             const rag_q8_rows *x, float *out, size_t ldo) {
    const int blocks = x->width / 256;
    for (int o = 0; o < rows; o++) {
        const uint8_t *row = w + (size_t)o * row_bytes;
        __m256 acc[8];
        __m128 mins[8];
        for (int r = 0; r < nx; r++) {
            acc[r] = _mm256_setzero_ps();
            mins[r] = _mm_setzero_ps();
        }
        for (int b = 0; b < blocks; b++) {
            const uint8_t *block = row + b * 144;
            for (int line = 0; line < 144; line += 64) _mm_prefetch((const char *)block + RAG_PREFETCH_AHEAD + line, _MM_HINT_T0);
            const float d = rag_half(block);
            uint8_t scales[8];
            rag_q4_K_scales(nx, block, x, blocks, b, scales, mins);
            __m256i sums[8];
            rag_q4_K_sums(nx, block + 16, x, b, scales, sums);
            for (int r = 0; r < nx; r++) {
                acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[r]), _mm256_set1_ps(d * x->d[r * blocks + b]), acc[r]);
            }
        }
        for (int r = 0; r < nx; r++) out[r * ldo + o] = rag_hsum(acc[r]) - rag_hsum128(mins[r]);
    }
}

/// Q6_K: the block's integer sums (rag_q6_K_sums) scaled by d·dx, after the −32 offset taken as
/// 32·Σ sc·(Σx per 16), one vpmaddwd with the activations' sums per 16.
RAG_INLINE void rag_dot_q6_K(const int nx, const uint8_t *w, size_t row_bytes, int rows,
                             const rag_q8_rows *x, float *out, size_t ldo) {
    const int blocks = x->width / 256;
    for (int o = 0; o < rows; o++) {
        const uint8_t *row = w + (size_t)o * row_bytes;
        __m256 acc[8];
        for (int r = 0; r < nx; r++) acc[r] = _mm256_setzero_ps();
        for (int b = 0; b < blocks; b++) {
            const uint8_t *block = row + b * 210;
            for (int line = 0; line < 210; line += 64) _mm_prefetch((const char *)block + RAG_PREFETCH_AHEAD + line, _MM_HINT_T0);
            const float d = rag_half(block + 208);
            const __m256i scale16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(block + 192)));
            __m256i sums[8];
            for (int r = 0; r < nx; r++) {
                const __m256i xs = _mm256_loadu_si256((const __m256i *)(x->sum16 + (size_t)r * (x->width / 16) + b * 16));
                sums[r] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(scale16, xs), 5));
            }
            rag_q6_K_sums(nx, block, x, b, scale16, sums);
            for (int r = 0; r < nx; r++) {
                acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[r]), _mm256_set1_ps(d * x->d[r * blocks + b]), acc[r]);
            }
        }
        for (int r = 0; r < nx; r++) out[r * ldo + o] = rag_hsum(acc[r]);
    }
}

/// One instantiation per (type, nx): the loops over activation rows unroll and their accumulators
/// stay in registers.
#define RAG_CASES(call) \
    switch (nx) { \
    case 1: call(1); return 0; case 2: call(2); return 0; case 3: call(3); return 0; case 4: call(4); return 0; \
    case 5: call(5); return 0; case 6: call(6); return 0; case 7: call(7); return 0; case 8: call(8); return 0; \
    default: return -1; }

int RAG_QUANT_DOT(int type, const void *w, size_t row_bytes, int rows, const rag_q8_rows *x, int nx, float *out, size_t ldo) {
    const uint8_t *p = (const uint8_t *)w;
    switch (type) {
#define RAG_Q8_0_N(n) rag_dot32(RAG_Q8_0, n, p, row_bytes, rows, x, out, ldo)
#define RAG_Q4_0_N(n) rag_dot32(RAG_Q4_0, n, p, row_bytes, rows, x, out, ldo)
#define RAG_Q4_1_N(n) rag_dot32(RAG_Q4_1, n, p, row_bytes, rows, x, out, ldo)
#define RAG_Q5_0_N(n) rag_dot32(RAG_Q5_0, n, p, row_bytes, rows, x, out, ldo)
#define RAG_Q4_K_N(n) rag_dot_q4_K(n, p, row_bytes, rows, x, out, ldo)
#define RAG_Q6_K_N(n) rag_dot_q6_K(n, p, row_bytes, rows, x, out, ldo)
    case RAG_Q8_0: RAG_CASES(RAG_Q8_0_N)
    case RAG_Q4_0: RAG_CASES(RAG_Q4_0_N)
    case RAG_Q4_1: RAG_CASES(RAG_Q4_1_N)
    case RAG_Q5_0: RAG_CASES(RAG_Q5_0_N)
    case RAG_Q4_K: RAG_CASES(RAG_Q4_K_N)
    case RAG_Q6_K: RAG_CASES(RAG_Q6_K_N)
    default: return -1;
    }
#undef RAG_Q8_0_N
#undef RAG_Q4_0_N
#undef RAG_Q4_1_N
#undef RAG_Q5_0_N
#undef RAG_Q4_K_N
#undef RAG_Q6_K_N
}
