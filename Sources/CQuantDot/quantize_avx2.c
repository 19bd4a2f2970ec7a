// Activations quantized to int8 the way ggml's reference does it on x86, bit for bit, eight
// values a step (AVX2). The rounding is ggml's nearest_int: x + 1.5·2²³ leaves the integer,
// rounded half to even, in the low mantissa bits, so the float's bits minus 0x4B400000 are it.
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include "CQuantDot.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

#define RAG_MAGIC 12582912.0f

static inline float rag_max8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline float rag_f16_round(float x) {
    return _cvtsh_ss(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT));
}

/// 32 int32 (four vectors) → 32 int8 in order, saturating.
static inline __m256i rag_pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i words = _mm256_packs_epi32(a, b), words2 = _mm256_packs_epi32(c, d);
    const __m256i bytes = _mm256_packs_epi16(words, words2);
    // The packs interleave the 128-bit lanes: dwords 0 4 1 5 2 6 3 7 → 0…7.
    return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

void rag_quantize_q8_0(const float *x, int blocks, int8_t *q, float *d, float *s, int16_t *sum32) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int b = 0; b < blocks; b++) {
        const float *v = x + 32 * b;
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < 32; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(v + j)));
        const float amax = rag_max8(m);
        const float inverse = amax != 0 ? 127.0f / amax : 0.0f;
        const __m256 scale = _mm256_set1_ps(inverse);
        __m256i k[4];
        for (int j = 0; j < 4; j++) {
            k[j] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(v + 8 * j), scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        }
        _mm256_storeu_si256((__m256i *)(q + 32 * b), rag_pack32(k[0], k[1], k[2], k[3]));
        const float scaleD = rag_f16_round(amax / 127.0f);
        d[b] = scaleD;
        if (s || sum32) {
            __m256i sum = _mm256_add_epi32(_mm256_add_epi32(k[0], k[1]), _mm256_add_epi32(k[2], k[3]));
            __m128i t = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
            t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
            t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
            const int total = _mm_cvtsi128_si32(t);
            if (s) s[b] = rag_f16_round((float)total * (amax / 127.0f));
            if (sum32) sum32[b] = (int16_t)total;
        }
    }
}

void rag_quantize_q8_K(const float *x, int blocks, int8_t *q, float *d, int16_t *sum16, int16_t *sum32) {
    const __m256 sign = _mm256_set1_ps(-0.0f), magic = _mm256_set1_ps(RAG_MAGIC), cap = _mm256_set1_ps(RAG_MAGIC + 127);
    const __m256i bias = _mm256_set1_epi32(0x4B400000);
    for (int b = 0; b < blocks; b++) {
        const float *v = x + 256 * b;
        int8_t *qb = q + 256 * b;
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < 256; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(v + j)));
        const float amax = rag_max8(m);
        if (amax == 0) {
            memset(qb, 0, 256);
            d[b] = 0;
        } else {
            // The value of largest magnitude, the first if both signs reach it (as ggml picks).
            float largest = 0;
            for (int j = 0; j < 256; j++) {
                if (fabsf(v[j]) == amax) { largest = v[j]; break; }
            }
            const float inverse = -127.0f / largest;
            const __m256 scale = _mm256_set1_ps(inverse);
            for (int j = 0; j < 256; j += 32) {
                __m256i k[4];
                for (int t = 0; t < 4; t++) {
                    const __m256 y = _mm256_min_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + j + 8 * t), scale), magic), cap);
                    k[t] = _mm256_sub_epi32(_mm256_castps_si256(y), bias);
                }
                _mm256_storeu_si256((__m256i *)(qb + j), rag_pack32(k[0], k[1], k[2], k[3]));
            }
            d[b] = 1 / inverse;
        }
        // Σq per 16 and per 32 (|Σ| ≤ 16 · 128 fits i16).
        for (int g = 0; g < 16; g++) {
            int total = 0;
            for (int j = 0; j < 16; j++) total += qb[16 * g + j];
            sum16[16 * b + g] = (int16_t)total;
            if (g % 2 == 1) sum32[8 * b + g / 2] = (int16_t)(sum16[16 * b + g - 1] + total);
        }
    }
}

void rag_encode_q8_0(const float *x, int blocks, uint8_t *dst) {
    for (int b = 0; b < blocks; b++) {
        int8_t q[32];
        float d;
        rag_quantize_q8_0(x + 32 * b, 1, q, &d, NULL, NULL);
        const uint16_t half = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);  // d is already an f16 value
        memcpy(dst + 34 * b, &half, 2);
        memcpy(dst + 34 * b + 2, q, 32);
    }
}

#pragma clang attribute pop
