// The 32-value formats (Q8_0, Q4_0, Q4_1, Q5_0) interleaved sixteen rows to a tile, and their
// dot with activation rows on AVX-512 VNNI, as quant_tiles_vnni.c does for Q4_K: a zmm lane is a
// weight row, one vpdpbusd multiplies four values of sixteen rows by four activations broadcast
// from memory, and the per-block steps (offset, conversion to f32, scale) are one vector
// operation for sixteen rows. The row-major kernels spend five instructions per 32 values and
// row on them; here a block of sixteen rows costs eight vpdpbusd and three more per activation row.
//
// A tile block (sixteen rows × 32 values) is sixteen blocks' bytes:
//   d[16]                  f16, row by row
//   Q4_1: m[16]            f16, row by row
//   Q5_0: fifth[16]        u32 per row, the fifth bits reordered: bit 8k + c is value 4c + k's
//                          (group c < 4 the low nibbles 4c …, c ≥ 4 the high ones 16 + 4(c − 4) …),
//                          so a group's four bits are one shift and one mask from 0x10 of a byte
//   codes                  Q8_0: 8 groups × 64 bytes, group g lane i row i's codes 4g … 4g + 3 as
//                          u8 (q + 128); nibble formats: 4 groups × 64 bytes, group g lane i row
//                          i's bytes 4g … 4g + 3 (values 4g + k low, 16 + 4g + k high)
// A code c stands for q = c − offset (Q8_0 128, Q4_0 8, Q5_0 16; Q4_1 0, its minimum apart), so a
// block's integer sum is Σ c·x − offset·Σx with Σx per 32 from the activations (sum32): exact, as
// the row kernels' sums are. A matrix is its tiles one after the other, each its blocks in order.
#include <immintrin.h>
#include <string.h>
#include "CQuantDot.h"

#define RAG_TILE32_INLINE static inline __attribute__((always_inline))
#define RAG_TILE32_AHEAD 4096

/// Bytes of one row's block, before its codes, and of a tile block before its codes.
RAG_TILE32_INLINE int rag_tile32_block_bytes(int type) { return type == RAG_Q8_0 ? 34 : type == RAG_Q4_0 ? 18 : type == RAG_Q4_1 ? 20 : 22; }
RAG_TILE32_INLINE int rag_tile32_codes_at(int type) { return type == RAG_Q8_0 || type == RAG_Q4_0 ? 2 : type == RAG_Q4_1 ? 4 : 6; }
RAG_TILE32_INLINE int rag_tile32_header(int type) { return type == RAG_Q4_1 ? 64 : type == RAG_Q5_0 ? 96 : 32; }
RAG_TILE32_INLINE int rag_tile32_offset(int type) { return type == RAG_Q8_0 ? 128 : type == RAG_Q4_0 ? 8 : type == RAG_Q5_0 ? 16 : 0; }

int rag_tiles32_pack(int type, const void *w, size_t row_bytes, int rows, int blocks, void *tiles) {
    if (rows % 16 != 0 || (type != RAG_Q8_0 && type != RAG_Q4_0 && type != RAG_Q4_1 && type != RAG_Q5_0)) return -1;
    const uint8_t *in = (const uint8_t *)w;
    uint8_t *out = (uint8_t *)tiles;
    const int bytes = rag_tile32_block_bytes(type), header = rag_tile32_header(type), at = rag_tile32_codes_at(type);
    for (int t = 0; t < rows / 16; t++) {
        for (int b = 0; b < blocks; b++) {
            uint8_t *o = out + ((size_t)t * blocks + b) * 16 * bytes;
            for (int i = 0; i < 16; i++) {
                const uint8_t *block = in + (size_t)(16 * t + i) * row_bytes + (size_t)b * bytes;
                memcpy(o + 2 * i, block, 2);
                if (type == RAG_Q4_1) memcpy(o + 32 + 2 * i, block + 2, 2);
                if (type == RAG_Q5_0) {
                    uint32_t fifth, reordered = 0;
                    memcpy(&fifth, block + 2, 4);
                    // Group c's four bits (values 4c … 4c + 3), bit k to 8k + c.
                    for (int c = 0; c < 8; c++) reordered |= ((fifth >> 4 * c & 15u) * 0x00204081u & 0x01010101u) << c;
                    memcpy(o + 32 + 4 * i, &reordered, 4);
                }
                const uint8_t *codes = block + at;
                const uint32_t flip = type == RAG_Q8_0 ? 0x80808080u : 0;
                for (int g = 0; g < (type == RAG_Q8_0 ? 8 : 4); g++) {
                    uint32_t four;
                    memcpy(&four, codes + 4 * g, 4);
                    four ^= flip;
                    memcpy(o + header + 64 * g + 4 * i, &four, 4);
                }
            }
        }
    }
    return 0;
}

int rag_tiles32_row(int type, const void *tiles, int blocks, int row, void *out) {
    if (type != RAG_Q8_0 && type != RAG_Q4_0 && type != RAG_Q4_1 && type != RAG_Q5_0) return -1;
    const int bytes = rag_tile32_block_bytes(type), header = rag_tile32_header(type), at = rag_tile32_codes_at(type), i = row % 16;
    const uint8_t *tile = (const uint8_t *)tiles + (size_t)(row / 16) * blocks * 16 * bytes;
    for (int b = 0; b < blocks; b++) {
        const uint8_t *o = tile + (size_t)b * 16 * bytes;
        uint8_t *block = (uint8_t *)out + (size_t)b * bytes;
        memcpy(block, o + 2 * i, 2);
        if (type == RAG_Q4_1) memcpy(block + 2, o + 32 + 2 * i, 2);
        if (type == RAG_Q5_0) {
            uint32_t reordered, fifth = 0;
            memcpy(&reordered, o + 32 + 4 * i, 4);
            for (int c = 0; c < 8; c++) {
                for (int k = 0; k < 4; k++) fifth |= (reordered >> (8 * k + c) & 1u) << (4 * c + k);
            }
            memcpy(block + 2, &fifth, 4);
        }
        const uint32_t flip = type == RAG_Q8_0 ? 0x80808080u : 0;
        for (int g = 0; g < (type == RAG_Q8_0 ? 8 : 4); g++) {
            uint32_t four;
            memcpy(&four, o + header + 64 * g + 4 * i, 4);
            four ^= flip;
            memcpy(block + at + 4 * g, &four, 4);
        }
    }
    return 0;
}

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)

RAG_TILE32_INLINE __m512i rag_tile32_x4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/// One tile (its `blocks` blocks) against activation rows 0 … nx − 1 (nx ≤ 8), the sixteen
/// rows' results into acc[r]. With few rows each row's sum runs as two chains (even and
/// odd groups) so the vpdpbusd latency is hidden; the integer sum is the same either way.
RAG_TILE32_INLINE void rag_tile32(const int type, const int nx, const uint8_t *tile, int blocks, const rag_q8_rows *x, __m512 *acc) {
    const int bytes = 16 * rag_tile32_block_bytes(type), header = rag_tile32_header(type), offset = rag_tile32_offset(type);
    const int chains = nx <= 4 ? 2 : 1;
    const __m512i nibble = _mm512_set1_epi8(0x0F), fifthBit = _mm512_set1_epi8(0x10);
    __m512 minimum[8];
    for (int r = 0; r < nx; r++) {
        acc[r] = _mm512_setzero_ps();
        minimum[r] = _mm512_setzero_ps();
    }
    for (int b = 0; b < blocks; b++) {
        const uint8_t *o = tile + (size_t)b * bytes;
        for (int line = 0; line < bytes; line += 64) _mm_prefetch((const char *)o + RAG_TILE32_AHEAD + line, _MM_HINT_T0);
        __m512i sum[8][2];
        for (int r = 0; r < nx; r++) {
            sum[r][0] = _mm512_setzero_si512();
            sum[r][1] = _mm512_setzero_si512();
        }
        const int8_t *xq = x->qs + b * 32;
        if (type == RAG_Q8_0) {
            for (int g = 0; g < 8; g++) {
                const __m512i codes = _mm512_loadu_si512(o + header + 64 * g);
                for (int r = 0; r < nx; r++) {
                    const int chain = chains == 2 ? g & 1 : 0;
                    sum[r][chain] = _mm512_dpbusd_epi32(sum[r][chain], codes, rag_tile32_x4(xq + (size_t)r * x->width + 4 * g));
                }
            }
        } else {
            const __m512i fifth = type == RAG_Q5_0 ? _mm512_loadu_si512(o + 32) : _mm512_setzero_si512();
            for (int g = 0; g < 4; g++) {
                const __m512i raw = _mm512_loadu_si512(o + header + 64 * g);
                __m512i low = _mm512_and_si512(raw, nibble), high = _mm512_and_si512(_mm512_srli_epi16(raw, 4), nibble);
                if (type == RAG_Q5_0) {
                    // Group g's bits sit at bit g of each byte, group 4 + g's at bit 4 + g.
                    low = _mm512_or_si512(low, _mm512_and_si512(_mm512_slli_epi32(fifth, 4 - g), fifthBit));
                    high = _mm512_or_si512(high, _mm512_and_si512(_mm512_srli_epi32(fifth, g), fifthBit));
                }
                for (int r = 0; r < nx; r++) {
                    const int8_t *xr = xq + (size_t)r * x->width;
                    const int chain = chains == 2 ? 1 : 0;
                    sum[r][0] = _mm512_dpbusd_epi32(sum[r][0], low, rag_tile32_x4(xr + 4 * g));
                    sum[r][chain] = _mm512_dpbusd_epi32(sum[r][chain], high, rag_tile32_x4(xr + 16 + 4 * g));
                }
            }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
        const __m512 m = type == RAG_Q4_1 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(o + 32))) : _mm512_setzero_ps();
        for (int r = 0; r < nx; r++) {
            const size_t at = (size_t)r * blocks + b;
            __m512i total = chains == 2 ? _mm512_add_epi32(sum[r][0], sum[r][1]) : sum[r][0];
            if (offset) total = _mm512_sub_epi32(total, _mm512_set1_epi32(offset * x->sum32[at]));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_mul_ps(d, _mm512_set1_ps(x->d[at])), acc[r]);
            if (type == RAG_Q4_1) minimum[r] = _mm512_fmadd_ps(m, _mm512_set1_ps(x->s[at]), minimum[r]);
        }
    }
    if (type == RAG_Q4_1) {
        for (int r = 0; r < nx; r++) acc[r] = _mm512_add_ps(acc[r], minimum[r]);
    }
}

/// One tile against nx activation rows (1 … 8, one instantiation each), stored to out.
RAG_TILE32_INLINE void rag_tile32_store(const int type, const int nx, const uint8_t *tile, int blocks, const rag_q8_rows *x,
                                        float *out, size_t ldo) {
    __m512 acc[8];
    rag_tile32(type, nx, tile, blocks, x, acc);
    for (int r = 0; r < nx; r++) _mm512_storeu_ps(out + (size_t)r * ldo, acc[r]);
}

#define RAG_TILE32_CASES(type) \
    switch (nx) { \
    case 1: rag_tile32_store(type, 1, tile, blocks, x, o, ldo); break; \
    case 2: rag_tile32_store(type, 2, tile, blocks, x, o, ldo); break; \
    case 3: rag_tile32_store(type, 3, tile, blocks, x, o, ldo); break; \
    case 4: rag_tile32_store(type, 4, tile, blocks, x, o, ldo); break; \
    case 5: rag_tile32_store(type, 5, tile, blocks, x, o, ldo); break; \
    case 6: rag_tile32_store(type, 6, tile, blocks, x, o, ldo); break; \
    case 7: rag_tile32_store(type, 7, tile, blocks, x, o, ldo); break; \
    default: rag_tile32_store(type, 8, tile, blocks, x, o, ldo); break; \
    }

int rag_tiles32_dot(int type, const void *tiles, int rows, int blocks, const rag_q8_rows *x, int nx, float *out, size_t ldo) {
    if (rows % 16 != 0 || nx < 1 || nx > 8) return -1;
    const size_t tileBytes = (size_t)blocks * 16 * rag_tile32_block_bytes(type);
    for (int t = 0; t < rows / 16; t++) {
        const uint8_t *tile = (const uint8_t *)tiles + (size_t)t * tileBytes;
        float *o = out + 16 * t;
        switch (type) {
        case RAG_Q8_0: RAG_TILE32_CASES(RAG_Q8_0) break;
        case RAG_Q4_0: RAG_TILE32_CASES(RAG_Q4_0) break;
        case RAG_Q4_1: RAG_TILE32_CASES(RAG_Q4_1) break;
        case RAG_Q5_0: RAG_TILE32_CASES(RAG_Q5_0) break;
        default: return -1;
        }
    }
    return 0;
}

#pragma clang attribute pop
