// Dense layers with bfloat16 weights and f32 arithmetic (AVX2 + FMA): a bf16 value is the top
// half of an f32, so widening it is a 16-bit shift — done here by interleaving zeros below it.
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include "CQuantDot.h"
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

void rag_bf16_from_f32(const float *x, size_t n, uint16_t *out) {
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], 4);
        if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu)) {
            out[i] = (uint16_t)((bits >> 16) | 0x40);  // NaN stays NaN
        } else {
            out[i] = (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);  // nearest, ties to even
        }
    }
}

void rag_f32_from_bf16(const uint16_t *x, size_t n, float *out) {
    size_t i = 0;
    const __m256i zero = _mm256_setzero_si256();
    for (; i + 16 <= n; i += 16) {
        // unpack works within 128-bit lanes: lo gives values 0-3 and 8-11, hi 4-7 and 12-15.
        const __m256i v = _mm256_loadu_si256((const __m256i *)(x + i));
        const __m256i lo = _mm256_unpacklo_epi16(zero, v), hi = _mm256_unpackhi_epi16(zero, v);
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256((__m256i *)(out + i + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
    for (; i < n; i++) {
        const uint32_t bits = (uint32_t)x[i] << 16;
        memcpy(&out[i], &bits, 4);
    }
}

/// Six rows times one panel of 16 columns. The panel stores each k-step's 16 weights with the
/// middle groups of four swapped (`rag_bf16_panel_order`), so that zeros interleaved below the
/// 256-bit load give columns 0-7 and 8-15 in order.
static inline void rag_bf16_block6(const float *const a[6], int k, const uint16_t *panel, const float *bias, float *const o[6]) {
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
    if (bias) {
        b0 = _mm256_loadu_ps(bias);
        b1 = _mm256_loadu_ps(bias + 8);
    }
    __m256 c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1;
    __m256 c30 = b0, c31 = b1, c40 = b0, c41 = b1, c50 = b0, c51 = b1;
    const __m256i zero = _mm256_setzero_si256();
    for (int i = 0; i < k; i++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(panel + (size_t)i * 16));
        const __m256 w0 = _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, v));
        const __m256 w1 = _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, v));
        __m256 s = _mm256_broadcast_ss(a[0] + i);
        c00 = _mm256_fmadd_ps(s, w0, c00); c01 = _mm256_fmadd_ps(s, w1, c01);
        s = _mm256_broadcast_ss(a[1] + i);
        c10 = _mm256_fmadd_ps(s, w0, c10); c11 = _mm256_fmadd_ps(s, w1, c11);
        s = _mm256_broadcast_ss(a[2] + i);
        c20 = _mm256_fmadd_ps(s, w0, c20); c21 = _mm256_fmadd_ps(s, w1, c21);
        s = _mm256_broadcast_ss(a[3] + i);
        c30 = _mm256_fmadd_ps(s, w0, c30); c31 = _mm256_fmadd_ps(s, w1, c31);
        s = _mm256_broadcast_ss(a[4] + i);
        c40 = _mm256_fmadd_ps(s, w0, c40); c41 = _mm256_fmadd_ps(s, w1, c41);
        s = _mm256_broadcast_ss(a[5] + i);
        c50 = _mm256_fmadd_ps(s, w0, c50); c51 = _mm256_fmadd_ps(s, w1, c51);
    }
    _mm256_storeu_ps(o[0], c00); _mm256_storeu_ps(o[0] + 8, c01);
    _mm256_storeu_ps(o[1], c10); _mm256_storeu_ps(o[1] + 8, c11);
    _mm256_storeu_ps(o[2], c20); _mm256_storeu_ps(o[2] + 8, c21);
    _mm256_storeu_ps(o[3], c30); _mm256_storeu_ps(o[3] + 8, c31);
    _mm256_storeu_ps(o[4], c40); _mm256_storeu_ps(o[4] + 8, c41);
    _mm256_storeu_ps(o[5], c50); _mm256_storeu_ps(o[5] + 8, c51);
}

int rag_bf16_panel_order(int j) {
    // Positions 4-7 hold columns 8-11 and positions 8-11 columns 4-7.
    return (j >= 4 && j < 8) ? j + 4 : (j >= 8 && j < 12) ? j - 4 : j;
}

void rag_gemm_bf16_panels(const float *a, int m, int k, const uint16_t *panels, int n, const float *bias,
                          float *out, int column0, int column1) {
    // Rows past m read a zero row and write a scratch row: every block is six rows wide.
    float *zeros = calloc((size_t)k + 16, sizeof(float));
    float *discard = zeros + k;
    // Panels outer: a panel (k × 16 weights) stays in L1 while every row block uses it, so the
    // weights stream from memory once per product.
    for (int column = column0; column < column1; column += 16) {
        for (int row = 0; row < m; row += 6) {
            const float *rows[6];
            float *o[6];
            for (int r = 0; r < 6; r++) {
                rows[r] = row + r < m ? a + (size_t)(row + r) * k : zeros;
                o[r] = row + r < m ? out + (size_t)(row + r) * n + column : discard;
            }
            rag_bf16_block6(rows, k, panels + (size_t)column * k, bias ? bias + column : NULL, o);
        }
    }
    free(zeros);
}

#pragma clang attribute pop
