// Tiled attention (the flash-attention recurrence): keys and values taken a block of positions
// at a time, converted once to f32 for every query row of the pass, each row's softmax carried
// across blocks by its running maximum and sum (Milakov & Gimelshein's online softmax; Dao et
// al.'s FlashAttention). The memory it touches is O(block), whatever the context.
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include "CAttention.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

#include "attention_common.h"
enum { BLOCK = RAG_FLASH_BLOCK };

/// e^x for x ≤ 0 (scores minus their maximum): 2^n · e^r with n = round(x·log₂e), |r| ≤ ln2/2,
/// e^r by its Taylor polynomial of degree 6 (relative error ≈ 1e-7, an ulp or two).
RAG_INLINE __m256 rag_exp(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

RAG_INLINE float rag_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

RAG_INLINE float rag_hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

/// `n` cached rows of one head (`rowBytes` apart) as f32 rows of `dim` in `dst`; the rows up to
/// BLOCK after them zero.
RAG_INLINE void rag_load_block(int type, const uint8_t *src, size_t rowBytes, int n, int dim, float *dst) {
    for (int b = 0; b < n; b++) {
        const uint8_t *row = src + (size_t)b * rowBytes;
        float *o = dst + (size_t)b * dim;
        if (type == RAG_KV_F16) {
            const uint16_t *h = (const uint16_t *)row;
            for (int c = 0; c < dim; c += 8) _mm256_store_ps(o + c, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + c))));
        } else {
            for (int block = 0; block < dim / 32; block++) {
                const uint8_t *p = row + block * RAG_Q8_0_BYTES;
                uint16_t half;
                memcpy(&half, p, 2);
                const __m256 d = _mm256_set1_ps(_cvtsh_ss(half));
                for (int c = 0; c < 32; c += 8) {
                    const __m256 x = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 2 + c))));
                    _mm256_store_ps(o + block * 32 + c, _mm256_mul_ps(x, d));
                }
            }
        }
    }
    if (n < BLOCK) memset(dst + (size_t)n * dim, 0, sizeof(float) * (size_t)(BLOCK - n) * dim);
}

/// s[b] = q · keys[b] for the BLOCK rows of `keys` (f32, `dim` apart).
RAG_INLINE void rag_block_scores(const float *q, int dim, const float *keys, float *s) {
    for (int first = 0; first < BLOCK; first += 8) {
        __m256 acc[8];
        for (int p = 0; p < 8; p++) acc[p] = _mm256_setzero_ps();
        const float *k = keys + (size_t)first * dim;
        for (int c = 0; c < dim; c += 8) {
            const __m256 qv = _mm256_loadu_ps(q + c);
            for (int p = 0; p < 8; p++) acc[p] = _mm256_fmadd_ps(_mm256_load_ps(k + (size_t)p * dim + c), qv, acc[p]);
        }
        _mm256_storeu_ps(s + first, rag_sum8(acc));
    }
}

/// acc[r] += Σ_b p[r][b] · values[b] for ROWS rows (p `BLOCK` apart, acc `dim` apart), columns
/// [col, col + 8·CHUNKS).
RAG_INLINE void rag_block_values(const int rows, const int chunks, const float *p, const float *values, int n, int dim, int col, float *acc) {
    __m256 a[8];
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < chunks; c++) a[r * chunks + c] = _mm256_loadu_ps(acc + (size_t)r * dim + col + 8 * c);
    for (int b = 0; b < n; b++) {
        __m256 x[8];
        for (int c = 0; c < chunks; c++) x[c] = _mm256_load_ps(values + (size_t)b * dim + col + 8 * c);
        for (int r = 0; r < rows; r++) {
            const __m256 w = _mm256_broadcast_ss(p + (size_t)r * BLOCK + b);
            for (int c = 0; c < chunks; c++) a[r * chunks + c] = _mm256_fmadd_ps(w, x[c], a[r * chunks + c]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < chunks; c++) _mm256_storeu_ps(acc + (size_t)r * dim + col + 8 * c, a[r * chunks + c]);
}

size_t rag_flash_attention_work(int rows, int dim) {
    return (size_t)2 * BLOCK * dim + (size_t)rows * (BLOCK + dim + 2) + 8;
}

void rag_flash_attention(int type, const float *q, int rows, int dim, const int *visible, const uint8_t *k, const uint8_t *v,
                         size_t rowBytes, float scale, float *out, size_t ldo, float *work) {
    float *kb = (float *)(((uintptr_t)work + 31) & ~(uintptr_t)31);
    float *vb = kb + (size_t)BLOCK * dim;
    float *s = vb + (size_t)BLOCK * dim;
    float *acc = s + (size_t)rows * BLOCK;
    float *m = acc + (size_t)rows * dim, *l = m + rows;
    int count = 0;
    for (int r = 0; r < rows; r++) {
        if (visible[r] > count) count = visible[r];
        m[r] = -INFINITY;
        l[r] = 0;
    }
    memset(acc, 0, sizeof(float) * (size_t)rows * dim);
    const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    for (int t0 = 0; t0 < count; t0 += BLOCK) {
        const int n = count - t0 < BLOCK ? count - t0 : BLOCK;
        rag_load_block(type, k + (size_t)t0 * rowBytes, rowBytes, n, dim, kb);
        for (int r = 0; r < rows; r++) {
            float *sr = s + (size_t)r * BLOCK;
            const int seen = visible[r] - t0 < n ? visible[r] - t0 : n;
            if (seen <= 0) {
                memset(sr, 0, sizeof(float) * BLOCK);
                continue;
            }
            rag_block_scores(q + (size_t)r * dim, dim, kb, sr);
            // Scaled, masked past `seen`; the block's maximum, then the row's.
            const __m256 scaleV = _mm256_set1_ps(scale), limit = _mm256_set1_ps((float)seen);
            __m256 best = _mm256_set1_ps(-INFINITY);
            for (int b = 0; b < BLOCK; b += 8) {
                const __m256 inside = _mm256_cmp_ps(_mm256_add_ps(lane, _mm256_set1_ps((float)b)), limit, _CMP_LT_OQ);
                const __m256 x = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_mul_ps(_mm256_loadu_ps(sr + b), scaleV), inside);
                _mm256_storeu_ps(sr + b, x);
                best = _mm256_max_ps(best, x);
            }
            const float blockMax = rag_hmax(best), top = blockMax > m[r] ? blockMax : m[r];
            const float shrink = expf(m[r] - top);  // 0 for the first block
            const __m256 topV = _mm256_set1_ps(top);
            __m256 sum = _mm256_setzero_ps();
            for (int b = 0; b < BLOCK; b += 8) {
                const __m256 inside = _mm256_cmp_ps(_mm256_add_ps(lane, _mm256_set1_ps((float)b)), limit, _CMP_LT_OQ);
                const __m256 p = _mm256_and_ps(rag_exp(_mm256_sub_ps(_mm256_loadu_ps(sr + b), topV)), inside);
                _mm256_storeu_ps(sr + b, p);
                sum = _mm256_add_ps(sum, p);
            }
            if (shrink != 1.0f) {
                float *a = acc + (size_t)r * dim;
                const __m256 f = _mm256_set1_ps(shrink);
                for (int c = 0; c < dim; c += 8) _mm256_storeu_ps(a + c, _mm256_mul_ps(_mm256_loadu_ps(a + c), f));
            }
            l[r] = l[r] * shrink + rag_hsum(sum);
            m[r] = top;
        }
        rag_load_block(type, v + (size_t)t0 * rowBytes, rowBytes, n, dim, vb);
        int r = 0;
        for (; r + 2 <= rows; r += 2) {
            for (int col = 0; col < dim; col += 32) rag_block_values(2, 4, s + (size_t)r * BLOCK, vb, n, dim, col, acc + (size_t)r * dim);
        }
        if (r < rows) {
            for (int col = 0; col < dim; col += 64) rag_block_values(1, 8, s + (size_t)r * BLOCK, vb, n, dim, col, acc + (size_t)r * dim);
        }
    }
    for (int r = 0; r < rows; r++) {
        const __m256 inverse = _mm256_set1_ps(l[r] > 0 ? 1 / l[r] : 0);
        for (int c = 0; c < dim; c += 8) _mm256_storeu_ps(out + (size_t)r * ldo + c, _mm256_mul_ps(_mm256_loadu_ps(acc + (size_t)r * dim + c), inverse));
    }
}

#pragma clang attribute pop
