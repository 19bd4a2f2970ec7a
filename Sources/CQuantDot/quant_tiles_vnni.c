// Q4_K weights interleaved sixteen rows to a tile, and their dot with activation rows on AVX-512
// VNNI. In a tile the sixteen rows are the sixteen i32 lanes of a zmm: 64 bytes hold four
// consecutive values of each row in their low nibbles and the four values 32 further on in the
// high ones, so one vpdpbusd multiplies four values of sixteen rows by four activations
// broadcast from memory. Every per-block step that the row-major kernels take once per row
// (the scales and minimums, the conversion to f32, the scaling by d) is one vector operation
// for sixteen rows here, which leaves the multiplies: four vpdpbusd per 256 values and row.
//
// A tile block (sixteen rows × 256 values) is 2,304 bytes, sixteen Q4_K blocks' worth:
//   d[16], dmin[16]            f16, row by row
//   low[8][16]                 sub-block j of row i: the scale's low four bits | the minimum's << 4
//   top[16]                    u32 per row: the scales' top two bits at 2j, the minimums' at 16 + 2j
//   qs[32][16][4]              group c = 8p + g: row i's bytes 32p + 4g … 4g + 3 of its Q4_K nibbles
//                              (values 64p + 4g + k low, 64p + 32 + 4g + k high)
// A matrix is its tiles one after the other, each tile its blocks in order.
#include <immintrin.h>
#include <string.h>
#include "CQuantDot.h"

#define RAG_INLINE static inline __attribute__((always_inline))
#define RAG_TILE_AHEAD 4096

void rag_q4_K_tiles_pack(const void *w, size_t row_bytes, int rows, int blocks, void *tiles) {
    const uint8_t *in = (const uint8_t *)w;
    uint8_t *out = (uint8_t *)tiles;
    for (int t = 0; t < rows / 16; t++) {
        for (int b = 0; b < blocks; b++) {
            uint8_t *o = out + ((size_t)t * blocks + b) * RAG_Q4_K_TILE_BLOCK;
            for (int i = 0; i < 16; i++) {
                const uint8_t *block = in + (size_t)(16 * t + i) * row_bytes + (size_t)b * 144;
                memcpy(o + 2 * i, block, 2);
                memcpy(o + 32 + 2 * i, block + 2, 2);
                // ggml's 6-bit packing: j < 4 in the low six bits of bytes j (scale) and j + 4
                // (minimum); j ≥ 4 in the nibbles of byte j + 4, the top two bits in bytes j − 4, j.
                const uint8_t *s = block + 4;
                uint32_t top = 0;
                for (int j = 0; j < 8; j++) {
                    const uint8_t scale = j < 4 ? s[j] & 63 : (uint8_t)((s[j + 4] & 15) | (s[j - 4] >> 6) << 4);
                    const uint8_t minimum = j < 4 ? s[j + 4] & 63 : (uint8_t)((s[j + 4] >> 4) | (s[j] >> 6) << 4);
                    o[64 + 16 * j + i] = (uint8_t)((scale & 15) | (minimum & 15) << 4);
                    top |= (uint32_t)(scale >> 4) << (2 * j) | (uint32_t)(minimum >> 4) << (16 + 2 * j);
                }
                memcpy(o + 192 + 4 * i, &top, 4);
                for (int c = 0; c < 32; c++) memcpy(o + 256 + 64 * c + 4 * i, block + 16 + 32 * (c / 8) + 4 * (c % 8), 4);
            }
        }
    }
}

void rag_q4_K_tiles_row(const void *tiles, int blocks, int row, void *out) {
    const int i = row % 16;
    const uint8_t *tile = (const uint8_t *)tiles + (size_t)(row / 16) * blocks * RAG_Q4_K_TILE_BLOCK;
    for (int b = 0; b < blocks; b++) {
        const uint8_t *o = tile + (size_t)b * RAG_Q4_K_TILE_BLOCK;
        uint8_t *block = (uint8_t *)out + (size_t)b * 144;
        memcpy(block, o + 2 * i, 2);
        memcpy(block + 2, o + 32 + 2 * i, 2);
        uint32_t top;
        memcpy(&top, o + 192 + 4 * i, 4);
        uint8_t scale[8], minimum[8];
        for (int j = 0; j < 8; j++) {
            scale[j] = (uint8_t)((o[64 + 16 * j + i] & 15) | (top >> (2 * j) & 3) << 4);
            minimum[j] = (uint8_t)((o[64 + 16 * j + i] >> 4) | (top >> (16 + 2 * j) & 3) << 4);
        }
        uint8_t *s = block + 4;
        for (int j = 0; j < 4; j++) {
            s[j] = (uint8_t)(scale[j] | (scale[j + 4] >> 4) << 6);
            s[j + 4] = (uint8_t)(minimum[j] | (minimum[j + 4] >> 4) << 6);
            s[j + 8] = (uint8_t)((scale[j + 4] & 15) | (minimum[j + 4] & 15) << 4);
        }
        for (int c = 0; c < 32; c++) memcpy(block + 16 + 32 * (c / 8) + 4 * (c % 8), o + 256 + 64 * c + 4 * i, 4);
    }
}

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)

/// Sub-block j's 6-bit field of each of the sixteen rows: the low four bits from `low` (shifted
/// by `nibble`), the top two from `top` at `bit`.
RAG_INLINE __m512i rag_tile_field(__m512i low, int nibble, __m512i top, int bit) {
    const __m512i lo = _mm512_and_si512(_mm512_srli_epi32(low, nibble), _mm512_set1_epi32(15));
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi32(top, bit), _mm512_set1_epi32(3));
    return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 4));
}

/// One tile (its `blocks` blocks) against activation rows first … first + nx − 1 (nx ≤ 4), the
/// sixteen rows' results into acc[r]. As in ggml, a block's sum stays an exact integer — each
/// sub-block's (at most 32 · 15 · 127 a lane) times its scale, the minimums times the
/// activations' sums per 32 (vpmaddwd on the pair) — and meets f32 once, times d·dx (dmin·dx).
RAG_INLINE void rag_q4_K_tile(const int nx, const uint8_t *tile, int blocks, const rag_q8_rows *x, int first,
                              int prefetch, __m512 *acc) {
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    // The minimums apart until the end, as ggml keeps them.
    __m512 minimum[4];
    for (int r = 0; r < nx; r++) {
        acc[r] = _mm512_setzero_ps();
        minimum[r] = _mm512_setzero_ps();
    }
    for (int b = 0; b < blocks; b++) {
        const uint8_t *o = tile + (size_t)b * RAG_Q4_K_TILE_BLOCK;
        if (prefetch) {
            for (int line = 0; line < 256; line += 64) _mm_prefetch((const char *)o + RAG_TILE_AHEAD + line, _MM_HINT_T0);
        }
        const __m512i top = _mm512_loadu_si512(o + 192);
        __m512i sum[4], mins[4];
        for (int r = 0; r < nx; r++) {
            sum[r] = _mm512_setzero_si512();
            mins[r] = _mm512_setzero_si512();
        }
        _Pragma("clang loop unroll(disable)")
        for (int p = 0; p < 4; p++) {
            // Sub-blocks 2p (low nibbles) and 2p + 1 (high).
            const __m512i low0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(o + 64 + 32 * p)));
            const __m512i low1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(o + 80 + 32 * p)));
            const __m512i scale0 = rag_tile_field(low0, 0, top, 4 * p), scale1 = rag_tile_field(low1, 0, top, 4 * p + 2);
            // The two minimums as the i16 pair (2p, 2p + 1) of each lane.
            const __m512i minPair = _mm512_or_si512(rag_tile_field(low0, 4, top, 16 + 4 * p),
                                                    _mm512_slli_epi32(rag_tile_field(low1, 4, top, 18 + 4 * p), 16));
            __m512i lowSums[4], highSums[4];
            for (int r = 0; r < nx; r++) {
                lowSums[r] = _mm512_setzero_si512();
                highSums[r] = _mm512_setzero_si512();
            }
            for (int g = 0; g < 8; g++) {
                const uint8_t *q = o + 256 + 64 * (8 * p + g);
                if (prefetch) _mm_prefetch((const char *)q + RAG_TILE_AHEAD, _MM_HINT_T0);
                const __m512i raw = _mm512_loadu_si512(q);
                const __m512i lo = _mm512_and_si512(raw, nibble), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), nibble);
                for (int r = 0; r < nx; r++) {
                    const int8_t *xq = x->qs + (size_t)(first + r) * x->width + b * 256 + 64 * p + 4 * g;
                    int32_t x0, x1;
                    memcpy(&x0, xq, 4);
                    memcpy(&x1, xq + 32, 4);
                    lowSums[r] = _mm512_dpbusd_epi32(lowSums[r], lo, _mm512_set1_epi32(x0));
                    highSums[r] = _mm512_dpbusd_epi32(highSums[r], hi, _mm512_set1_epi32(x1));
                }
            }
            for (int r = 0; r < nx; r++) {
                sum[r] = _mm512_add_epi32(sum[r], _mm512_add_epi32(_mm512_mullo_epi32(lowSums[r], scale0), _mm512_mullo_epi32(highSums[r], scale1)));
                int32_t xs;
                memcpy(&xs, x->sum32 + (size_t)(first + r) * (x->width / 32) + b * 8 + 2 * p, 4);
                mins[r] = _mm512_dpwssd_epi32(mins[r], minPair, _mm512_set1_epi32(xs));
            }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
        const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(o + 32)));
        for (int r = 0; r < nx; r++) {
            const __m512 dx = _mm512_set1_ps(x->d[(size_t)(first + r) * blocks + b]);
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[r]), _mm512_mul_ps(d, dx), acc[r]);
            minimum[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(mins[r]), _mm512_mul_ps(dmin, dx), minimum[r]);
        }
    }
    for (int r = 0; r < nx; r++) acc[r] = _mm512_sub_ps(acc[r], minimum[r]);
}

int rag_q4_K_tiles_dot(const void *tiles, int rows, int blocks, const rag_q8_rows *x, int nx, float *out, size_t ldo) {
    if (rows % 16 != 0 || nx < 1 || nx > 8) return -1;
    const uint8_t *p = (const uint8_t *)tiles;
    for (int t = 0; t < rows / 16; t++) {
        const uint8_t *tile = p + (size_t)t * blocks * RAG_Q4_K_TILE_BLOCK;
        // Activation rows in groups of four (more would spill); the second group finds the tile
        // in L1 (6 blocks, 14 KB, at 1,536 columns) or L2.
        for (int first = 0; first < nx; first += 4) {
            const int g = nx - first < 4 ? nx - first : 4, prefetch = first == 0;
            __m512 acc[4];
            switch (g) {
            case 1: rag_q4_K_tile(1, tile, blocks, x, first, prefetch, acc); break;
            case 2: rag_q4_K_tile(2, tile, blocks, x, first, prefetch, acc); break;
            case 3: rag_q4_K_tile(3, tile, blocks, x, first, prefetch, acc); break;
            default: rag_q4_K_tile(4, tile, blocks, x, first, prefetch, acc); break;
            }
            for (int r = 0; r < g; r++) _mm512_storeu_ps(out + (size_t)(first + r) * ldo + 16 * t, acc[r]);
        }
    }
    return 0;
}

#pragma clang attribute pop
