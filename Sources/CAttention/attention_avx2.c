// Decode attention against the f16 cache: query · key scores and probability-weighted value
// sums, the keys and values converted to f32 by F16C on the way into the FMAs.
#include <immintrin.h>
#include <string.h>
#include "CAttention.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

#include "attention_common.h"

RAG_INLINE __m256 rag_load_half8(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

void rag_attention_scores(const float *q, int nq, int dim, const uint16_t *k, size_t stride, int count,
                          float *scores, size_t lds) {
    // Eight positions a step: their keys converted once into `block`, then eight independent
    // accumulator chains per query row, reduced together.
    float block[8 * 256] __attribute__((aligned(32)));
    const int chunks = dim / 8;
    for (int t = 0; t < count; t += 8) {
        const int n = count - t < 8 ? count - t : 8;
        for (int p = 0; p < 8; p++) {
            float *row = block + p * dim;
            if (p < n) {
                const uint16_t *key = k + (size_t)(t + p) * stride;
                for (int c = 0; c < chunks; c++) _mm256_store_ps(row + 8 * c, rag_load_half8(key + 8 * c));
            } else {
                memset(row, 0, sizeof(float) * (size_t)dim);
            }
        }
        for (int r = 0; r < nq; r++) {
            const float *query = q + (size_t)r * dim;
            __m256 acc[8];
            for (int p = 0; p < 8; p++) acc[p] = _mm256_setzero_ps();
            for (int c = 0; c < chunks; c++) {
                const __m256 qv = _mm256_loadu_ps(query + 8 * c);
                for (int p = 0; p < 8; p++) acc[p] = _mm256_fmadd_ps(_mm256_load_ps(block + p * dim + 8 * c), qv, acc[p]);
            }
            const __m256 sums = rag_sum8(acc);
            float *out = scores + (size_t)r * lds + t;
            if (n == 8) {
                _mm256_storeu_ps(out, sums);
            } else {
                float tmp[8];
                _mm256_storeu_ps(tmp, sums);
                memcpy(out, tmp, sizeof(float) * (size_t)n);
            }
        }
    }
}

/// ROWS query rows × CHUNKS vectors of 8 output values, from value column `col`.
RAG_INLINE void rag_values_tile(const int rows, const int chunks, const float *p, size_t ldp, const uint16_t *v, size_t stride,
                                int count, int col, float *out, size_t ldo) {
    __m256 acc[12];
    for (int i = 0; i < rows * chunks; i++) acc[i] = _mm256_setzero_ps();
    for (int t = 0; t < count; t++) {
        const uint16_t *value = v + (size_t)t * stride + col;
        __m256 x[8];
        for (int c = 0; c < chunks; c++) x[c] = rag_load_half8(value + 8 * c);
        for (int r = 0; r < rows; r++) {
            const __m256 weight = _mm256_broadcast_ss(p + (size_t)r * ldp + t);
            for (int c = 0; c < chunks; c++) acc[r * chunks + c] = _mm256_fmadd_ps(weight, x[c], acc[r * chunks + c]);
        }
    }
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < chunks; c++) _mm256_storeu_ps(out + (size_t)r * ldo + col + 8 * c, acc[r * chunks + c]);
    }
}

void rag_attention_values(const float *p, int nq, size_t ldp, const uint16_t *v, size_t stride, int count, int dim,
                          float *out, size_t ldo) {
    // One row: 64 columns a pass (8 accumulators); two rows: 32; four rows: 16. Larger groups
    // re-read the values from cache, not from memory.
    int r = 0;
    for (; r + 4 <= nq; r += 4) {
        for (int col = 0; col < dim; col += 16) rag_values_tile(4, 2, p + (size_t)r * ldp, ldp, v, stride, count, col, out + (size_t)r * ldo, ldo);
    }
    if (nq - r >= 2) {
        int col = 0;
        for (; col + 32 <= dim; col += 32) rag_values_tile(2, 4, p + (size_t)r * ldp, ldp, v, stride, count, col, out + (size_t)r * ldo, ldo);
        for (; col < dim; col += 16) rag_values_tile(2, 2, p + (size_t)r * ldp, ldp, v, stride, count, col, out + (size_t)r * ldo, ldo);
        r += 2;
    }
    if (r < nq) {
        int col = 0;
        for (; col + 64 <= dim; col += 64) rag_values_tile(1, 8, p + (size_t)r * ldp, ldp, v, stride, count, col, out + (size_t)r * ldo, ldo);
        for (; col < dim; col += 16) rag_values_tile(1, 2, p + (size_t)r * ldp, ldp, v, stride, count, col, out + (size_t)r * ldo, ldo);
    }
}

void rag_round_to_half(float *x, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
    }
    for (; i < count; i++) x[i] = _cvtsh_ss(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
}

#pragma clang attribute pop
