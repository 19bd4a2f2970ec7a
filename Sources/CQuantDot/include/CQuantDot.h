#ifndef RAG_CQUANTDOT_H
#define RAG_CQUANTDOT_H

#include <stddef.h>
#include <stdint.h>

/// Integer dot products of quantized weight rows, read as GGUF stores them, with activation rows
/// quantized to int8 (rag's QuantizedActivations). The innermost loops only: which rows, which
/// threads and which instruction set are the Swift caller's choice (RAGKernels.QuantDot).

/// `count` activation rows of `width` values, each array laid out row after row:
/// `qs` width int8 per row; `d` one scale per block (32 values for Q8_0/Q8_1, 256 for Q8_K);
/// `s` (Q8_1 only) d·Σq per 32 values; `sum16` (Q8_K only) / `sum32` Σq per 16 / 32 values.
typedef struct {
    const int8_t *qs;
    const float *d;
    const float *s;
    const int16_t *sum16;
    const int16_t *sum32;
    int32_t width;
} rag_q8_rows;

/// Weight types by their ggml ids.
enum { RAG_Q4_0 = 2, RAG_Q4_1 = 3, RAG_Q5_0 = 6, RAG_Q8_0 = 8, RAG_Q4_K = 12, RAG_Q6_K = 14 };

/// out[r · ldo + o] = W[o] · x[r] for weight rows o < rows (`row_bytes` apart from `w`) and
/// activation rows r < nx (1 … 8): each weight block is loaded and unpacked once for all nx rows.
/// Returns 0, or −1 for a type or nx it does not take.
/// `_avx2`: AVX2 + FMA + F16C (`vpmaddubsw`/`vpmaddwd`); `_vnni`: the same with AVX-512 VL +
/// VNNI (`vpdpbusd`) — call it only where the CPU has those.
int rag_quant_dot_avx2(int type, const void *w, size_t row_bytes, int rows, const rag_q8_rows *x, int nx, float *out, size_t ldo);
int rag_quant_dot_vnni(int type, const void *w, size_t row_bytes, int rows, const rag_q8_rows *x, int nx, float *out, size_t ldo);

/// Q4_K rows interleaved sixteen to a tile (quant_tiles_vnni.c has the layout): a tile block of
/// sixteen rows × 256 values is as many bytes as the sixteen Q4_K blocks it holds.
enum { RAG_Q4_K_TILE_BLOCK = 16 * 144 };
/// `rows` (a multiple of 16) Q4_K rows of `blocks` blocks, `row_bytes` apart from `w`, as tiles.
void rag_q4_K_tiles_pack(const void *w, size_t row_bytes, int rows, int blocks, void *tiles);
/// rag_quant_dot_vnni for Q4_K rows packed as tiles (`rows` a multiple of 16, from `tiles`);
/// AVX-512 VL + VNNI only. Returns 0, or −1 for rows or nx it does not take.
int rag_q4_K_tiles_dot(const void *tiles, int rows, int blocks, const rag_q8_rows *x, int nx, float *out, size_t ldo);

/// The same for the 32-value formats (Q8_0, Q4_0, Q4_1, Q5_0; quant_tiles32_vnni.c has the
/// layout): `rows` (a multiple of 16) rows of `blocks` 32-value blocks, a tile block sixteen
/// blocks' bytes. The dot wants the activations' Σq per 32 (`sum32`) besides the Q8_0/Q8_1 rows.
/// Both return 0, or −1 for a type, rows or nx they do not take; the dot AVX-512 VL + VNNI only.
int rag_tiles32_pack(int type, const void *w, size_t row_bytes, int rows, int blocks, void *tiles);
int rag_tiles32_dot(int type, const void *tiles, int rows, int blocks, const rag_q8_rows *x, int nx, float *out, size_t ldo);

/// Row `row` of a tiled matrix of `blocks` blocks a row, as its rows store it (`blocks` blocks
/// into `out`): a token embedding's row read from the tiles (the file's pages are given back).
void rag_q4_K_tiles_row(const void *tiles, int blocks, int row, void *out);
int rag_tiles32_row(int type, const void *tiles, int blocks, int row, void *out);

/// The encoder's int8 GEMM (gemm_s8_vnni.c): `rows` × `cols` int8 weights (row-major, one scale
/// per row kept by the caller) as tiles of sixteen rows, `rows` × `cols` bytes; and
/// out[(r − first) · ldo + o] = scale[o] · W[o] · x[r] + bias[o] (GELU of it if `gelu`) for o < n
/// (a multiple of 16) and activation rows first ≤ r < first + m (Q8_0 with `sum32`). bias may be
/// NULL. AVX-512 VL + VNNI only; returns 0, or −1 for shapes it does not take.
void rag_s8_tiles_pack(const int8_t *q, int rows, int cols, void *tiles);
int rag_s8_tiles_gemm(const void *tiles, int n, int k, const float *scale, const float *bias, const rag_q8_rows *x, int first, int m,
                      int gelu, float *out, size_t ldo);

/// The encoder's self-attention of one head over one sequence of n rows (no mask;
/// encoder_attention.c): out[r · ldo + ·] = softmax(scale · q_r·kᵀ) · v for r < n, q, k and v
/// rows `stride` floats apart, dim a multiple of 32. `work`: rag_encoder_attention_work(n, dim)
/// floats. `_avx2`: AVX2 + FMA; `_avx512`: AVX-512F. Both return 0, or −1 for shapes they do
/// not take.
int rag_encoder_attention_avx2(const float *q, const float *k, const float *v, size_t stride, int n, int dim, float scale, float *out,
                               size_t ldo, float *work);
int rag_encoder_attention_avx512(const float *q, const float *k, const float *v, size_t stride, int n, int dim, float scale,
                                 float *out, size_t ldo, float *work);
size_t rag_encoder_attention_work(int n, int dim);

/// Quantizes `blocks` blocks of activations from `x` as ggml does on x86 (AVX2 + F16C):
/// Q8_0 (32 values a block; `d` the scale rounded to f16; `s`, if not NULL, d·Σq rounded to f16,
/// which makes Q8_1; `sum32`, if not NULL, Σq) and Q8_K (256 a block, f32 scale, Σq per 16 and per 32).
void rag_quantize_q8_0(const float *x, int blocks, int8_t *q, float *d, float *s, int16_t *sum32);
void rag_quantize_q8_K(const float *x, int blocks, int8_t *q, float *d, int16_t *sum16, int16_t *sum32);

/// `blocks` blocks of 32 values → Q8_0 blocks as GGUF stores them (34 bytes: the f16 scale
/// d = max|x|/127, then q = round(x/d) as int8; ggml's quantize_row_q8_0 on x86): weights
/// requantized, a Q8_0 KV cache.
void rag_encode_q8_0(const float *x, int blocks, uint8_t *dst);

/// bfloat16 (the top half of an f32): rounded to nearest, ties to even; widened exactly.
void rag_bf16_from_f32(const float *x, size_t n, uint16_t *out);
void rag_f32_from_bf16(const uint16_t *x, size_t n, float *out);

/// out[r · n + c] = bias[c] + Σ_i a[r · k + i] · W[c][i] for r < m, column0 ≤ c < column1 (multiples
/// of 16), W in bf16 panels of 16 columns, `[n/16][k][16]`, each step's 16 weights in the order
/// `rag_bf16_panel_order` gives (position → column). bias may be NULL.
int rag_bf16_panel_order(int position);
void rag_gemm_bf16_panels(const float *a, int m, int k, const uint16_t *panels, int n, const float *bias,
                          float *out, int column0, int column1);

#endif
