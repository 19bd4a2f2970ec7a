// The encoder's int8 GEMM on AVX-512 VNNI: weights with one scale per row, activations with one
// per 32 values (Q8_0 rows with Σq per 32), many activation rows against a weight matrix that
// stays in L2. The decode kernels (quant_tiles32_vnni.c) stream weights once for up to eight
// rows and pay per block and row for the weights' scales; here the row's scale is factored out
// of the sum, so a block of 32 values costs its vpdpbusd, one conversion and one FMA per
// activation row, for two tiles (32 weight rows) at once:
//   y[r][o] = s[o] · (Σ_b dx[r][b] · Σ_i c[o][32b + i] · x[r][32b + i] − 128 · Σ_b dx[r][b] · Σx[r][b]) + bias[o]
// with the codes c = q + 128 unsigned (vpdpbusd multiplies unsigned by signed), so the offset's
// share is the activations' alone and is taken once per row at the end.
//
// A tile is sixteen weight rows: for each group of four values g, 64 bytes, lane i row i's codes
// 4g … 4g + 3 (the Q8_0 tiles' code layout without the per-block scales). A matrix is its tiles
// one after the other.
#include <immintrin.h>
#include <string.h>
#include "CQuantDot.h"
#include "vector_math.h"

#define RAG_S8_INLINE static inline __attribute__((always_inline))

void rag_s8_tiles_pack(const int8_t *q, int rows, int cols, void *tiles) {
    uint8_t *out = (uint8_t *)tiles;
    for (int t = 0; t < rows / 16; t++) {
        for (int g = 0; g < cols / 4; g++) {
            for (int i = 0; i < 16; i++) {
                for (int j = 0; j < 4; j++) {
                    out[((size_t)t * (cols / 4) + g) * 64 + 4 * i + j] = (uint8_t)(q[(size_t)(16 * t + i) * cols + 4 * g + j] ^ 0x80);
                }
            }
        }
    }
}

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)

RAG_S8_INLINE __m512i rag_s8_x4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/// T tiles (16·T weight rows from `tile`, `tile_bytes` apart) against R activation rows, the
/// results (scaled, offset, bias added, GELU if asked) stored to out.
RAG_S8_INLINE void rag_s8_block(const int T, const int R, const uint8_t *tile, size_t tile_bytes, int k, const rag_q8_rows *x, int first,
                                const float *offset, const float *scale, const float *bias, int gelu, float *out, size_t ldo) {
    __m512 acc[6][2];
    for (int r = 0; r < R; r++) {
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    }
    const int blocks = k / 32;
    const int8_t *xq = x->qs + (size_t)first * x->width;
    const float *dx = x->d + (size_t)first * blocks;
    for (int b = 0; b < blocks; b++) {
        __m512i sum[6][2];
        for (int r = 0; r < R; r++) {
            for (int t = 0; t < T; t++) sum[r][t] = _mm512_setzero_si512();
        }
        for (int g = 0; g < 8; g++) {
            __m512i codes[2];
            for (int t = 0; t < T; t++) codes[t] = _mm512_loadu_si512(tile + t * tile_bytes + (size_t)(8 * b + g) * 64);
            for (int r = 0; r < R; r++) {
                const __m512i four = rag_s8_x4(xq + (size_t)r * x->width + 32 * b + 4 * g);
                for (int t = 0; t < T; t++) sum[r][t] = _mm512_dpbusd_epi32(sum[r][t], codes[t], four);
            }
        }
        for (int r = 0; r < R; r++) {
            const __m512 d = _mm512_set1_ps(dx[(size_t)r * blocks + b]);
            for (int t = 0; t < T; t++) acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[r][t]), d, acc[r][t]);
        }
    }
    for (int t = 0; t < T; t++) {
        const __m512 s = _mm512_loadu_ps(scale + 16 * t);
        const __m512 add = bias ? _mm512_loadu_ps(bias + 16 * t) : _mm512_setzero_ps();
        for (int r = 0; r < R; r++) {
            __m512 y = _mm512_fmadd_ps(s, _mm512_sub_ps(acc[r][t], _mm512_set1_ps(offset[r])), add);
            if (gelu) y = rag_gelu16(y);
            _mm512_storeu_ps(out + (size_t)r * ldo + 16 * t, y);
        }
    }
}

#define RAG_S8_ROWS(T) \
    switch (R) { \
    case 6: rag_s8_block(T, 6, tile, tile_bytes, k, x, r, offset + r - c0, scale + 16 * t, bias ? bias + 16 * t : 0, gelu, o, ldo); break; \
    case 5: rag_s8_block(T, 5, tile, tile_bytes, k, x, r, offset + r - c0, scale + 16 * t, bias ? bias + 16 * t : 0, gelu, o, ldo); break; \
    case 4: rag_s8_block(T, 4, tile, tile_bytes, k, x, r, offset + r - c0, scale + 16 * t, bias ? bias + 16 * t : 0, gelu, o, ldo); break; \
    case 3: rag_s8_block(T, 3, tile, tile_bytes, k, x, r, offset + r - c0, scale + 16 * t, bias ? bias + 16 * t : 0, gelu, o, ldo); break; \
    case 2: rag_s8_block(T, 2, tile, tile_bytes, k, x, r, offset + r - c0, scale + 16 * t, bias ? bias + 16 * t : 0, gelu, o, ldo); break; \
    default: rag_s8_block(T, 1, tile, tile_bytes, k, x, r, offset + r - c0, scale + 16 * t, bias ? bias + 16 * t : 0, gelu, o, ldo); break; \
    }

int rag_s8_tiles_gemm(const void *tiles, int n, int k, const float *scale, const float *bias, const rag_q8_rows *x, int first, int m,
                      int gelu, float *out, size_t ldo) {
    if (n % 16 != 0 || k % 32 != 0 || m < 0) return -1;
    enum { CHUNK_BYTES = 24 * 1024, MAX_CHUNK = 96 };
    const size_t tile_bytes = (size_t)16 * k;
    const int blocks = k / 32;
    // Rows in chunks whose activations stay in L1 while every tile passes over them.
    int chunk = CHUNK_BYTES / k / 6 * 6;
    chunk = chunk < 6 ? 6 : chunk > MAX_CHUNK ? MAX_CHUNK : chunk;
    float offset[MAX_CHUNK];
    for (int c0 = first; c0 < first + m; c0 += chunk) {
        const int c1 = c0 + chunk < first + m ? c0 + chunk : first + m;
        for (int r = c0; r < c1; r++) {
            float sum = 0;
            for (int b = 0; b < blocks; b++) sum += x->d[(size_t)r * blocks + b] * (float)x->sum32[(size_t)r * blocks + b];
            offset[r - c0] = 128 * sum;
        }
        for (int t = 0; t < n / 16; t += 2) {
            const uint8_t *tile = (const uint8_t *)tiles + (size_t)t * tile_bytes;
            for (int r = c0; r < c1; r += 6) {
                const int R = c1 - r < 6 ? c1 - r : 6;
                float *o = out + (size_t)(r - first) * ldo + 16 * t;
                if (t + 1 < n / 16) {
                    RAG_S8_ROWS(2)
                } else {
                    RAG_S8_ROWS(1)
                }
            }
        }
    }
    return 0;
}

#pragma clang attribute pop
