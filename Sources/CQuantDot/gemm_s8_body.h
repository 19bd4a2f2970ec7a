// The int8 GEMM of dense layers (the sentence encoder), included by quant_dot_avx2.c and
// quant_dot_vnni.c under their target attributes. Activations and weights are int8 in
// [−127, 127] with one scale per row; each output sums over the whole row in i32, so a product
// costs |w| · sign(x, w) through RAG_DOT_U8S8 (vpmaddubsw + vpmaddwd, or vpdpbusd) and an add,
// never saturating (2 · 127 · 127 < 2^15).
//
// Blocking: 64 weight rows (at most 96 KB, stays in L2) against 4 activation rows (in L1) at a
// time, 2 weight rows × 4 activation rows of i32 accumulators in registers.

RAG_INLINE __m256i rag_s8_step(__m256i acc, __m256i wabs, __m256i w, __m256i x) {
    return _mm256_add_epi32(acc, RAG_DOT_U8S8(wabs, _mm256_sign_epi8(x, w)));
}

/// The eight lane sums of a0 … a7, in that order.
RAG_INLINE __m256i rag_hsum8(__m256i a0, __m256i a1, __m256i a2, __m256i a3, __m256i a4, __m256i a5, __m256i a6, __m256i a7) {
    const __m256i h0 = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    const __m256i h1 = _mm256_hadd_epi32(_mm256_hadd_epi32(a4, a5), _mm256_hadd_epi32(a6, a7));
    return _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20), _mm256_permute2x128_si256(h0, h1, 0x31));
}

RAG_INLINE int32_t rag_hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

void RAG_GEMM_S8(const int8_t *x, const float *sx, int m, const int8_t *w, const float *sw, const float *bias,
                 int o0, int o1, int k, float *out, size_t ldo) {
    const int steps = k / 32;
    for (int c0 = o0; c0 < o1; c0 += 64) {
        const int c1 = c0 + 64 < o1 ? c0 + 64 : o1;
        int r = 0;
        for (; r + 4 <= m; r += 4) {
            const int8_t *x0 = x + (size_t)r * k, *x1 = x0 + k, *x2 = x1 + k, *x3 = x2 + k;
            for (int o = c0; o < c1; o += 2) {
                const int8_t *w0 = w + (size_t)o * k, *w1 = w0 + k;
                __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
                for (int s = 0; s < steps; s++) {
                    const __m256i v0 = _mm256_loadu_si256((const __m256i *)(w0 + s * 32));
                    const __m256i v1 = _mm256_loadu_si256((const __m256i *)(w1 + s * 32));
                    const __m256i u0 = _mm256_abs_epi8(v0), u1 = _mm256_abs_epi8(v1);
                    __m256i xv = _mm256_loadu_si256((const __m256i *)(x0 + s * 32));
                    a0 = rag_s8_step(a0, u0, v0, xv);
                    a1 = rag_s8_step(a1, u1, v1, xv);
                    xv = _mm256_loadu_si256((const __m256i *)(x1 + s * 32));
                    a2 = rag_s8_step(a2, u0, v0, xv);
                    a3 = rag_s8_step(a3, u1, v1, xv);
                    xv = _mm256_loadu_si256((const __m256i *)(x2 + s * 32));
                    a4 = rag_s8_step(a4, u0, v0, xv);
                    a5 = rag_s8_step(a5, u1, v1, xv);
                    xv = _mm256_loadu_si256((const __m256i *)(x3 + s * 32));
                    a6 = rag_s8_step(a6, u0, v0, xv);
                    a7 = rag_s8_step(a7, u1, v1, xv);
                }
                // [r0·o, r0·o+1, r1·o, r1·o+1, …] scaled, plus the bias.
                const __m256 sums = _mm256_cvtepi32_ps(rag_hsum8(a0, a1, a2, a3, a4, a5, a6, a7));
                const __m256 scale = _mm256_mul_ps(
                    _mm256_setr_ps(sx[r], sx[r], sx[r + 1], sx[r + 1], sx[r + 2], sx[r + 2], sx[r + 3], sx[r + 3]),
                    _mm256_setr_ps(sw[o], sw[o + 1], sw[o], sw[o + 1], sw[o], sw[o + 1], sw[o], sw[o + 1]));
                const float b0 = bias ? bias[o] : 0, b1 = bias ? bias[o + 1] : 0;
                float v[8];
                _mm256_storeu_ps(v, _mm256_fmadd_ps(sums, scale, _mm256_setr_ps(b0, b1, b0, b1, b0, b1, b0, b1)));
                for (int i = 0; i < 4; i++) {
                    out[(size_t)(r + i) * ldo + o] = v[2 * i];
                    out[(size_t)(r + i) * ldo + o + 1] = v[2 * i + 1];
                }
            }
        }
        for (; r < m; r++) {
            const int8_t *xr = x + (size_t)r * k;
            for (int o = c0; o < c1; o += 2) {
                const int8_t *w0 = w + (size_t)o * k, *w1 = w0 + k;
                __m256i a0 = _mm256_setzero_si256(), a1 = a0;
                for (int s = 0; s < steps; s++) {
                    const __m256i v0 = _mm256_loadu_si256((const __m256i *)(w0 + s * 32));
                    const __m256i v1 = _mm256_loadu_si256((const __m256i *)(w1 + s * 32));
                    const __m256i xv = _mm256_loadu_si256((const __m256i *)(xr + s * 32));
                    a0 = rag_s8_step(a0, _mm256_abs_epi8(v0), v0, xv);
                    a1 = rag_s8_step(a1, _mm256_abs_epi8(v1), v1, xv);
                }
                out[(size_t)r * ldo + o] = sx[r] * sw[o] * (float)rag_hsum_i32(a0) + (bias ? bias[o] : 0);
                out[(size_t)r * ldo + o + 1] = sx[r] * sw[o + 1] * (float)rag_hsum_i32(a1) + (bias ? bias[o + 1] : 0);
            }
        }
    }
}
