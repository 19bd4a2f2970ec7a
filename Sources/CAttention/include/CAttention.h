#ifndef RAG_CATTENTION_H
#define RAG_CATTENTION_H

#include <stddef.h>
#include <stdint.h>

/// The inner loops of decode attention over an f16 KV cache (keys and values stored as IEEE
/// halves, one position every `stride` halves): AVX2 + FMA + F16C. Which heads, rows and threads
/// are the Swift caller's choice (RAGKernels.HalfAttention).

/// scores[r · lds + t] = q[r · dim + ·] · k[t · stride + ·] for positions t < count and query rows
/// r < nq; dim a multiple of 8, at most 256. Each key is converted once for all nq queries.
void rag_attention_scores(const float *q, int nq, int dim, const uint16_t *k, size_t stride, int count,
                          float *scores, size_t lds);

/// out[r · ldo + ·] = Σ_t p[r · ldp + t] · v[t · stride + ·] over t < count, for r < nq; dim a
/// multiple of 16. Each value row is converted once per group of up to four query rows.
void rag_attention_values(const float *p, int nq, size_t ldp, const uint16_t *v, size_t stride, int count, int dim,
                          float *out, size_t ldo);

/// x[i] = the nearest f16 of x[i] (round to nearest even), as ggml rounds what meets an f16 cache.
void rag_round_to_half(float *x, size_t count);

/// Positions per block of the tiled kernel.
#define RAG_FLASH_BLOCK 32
/// Bytes of one Q8_0 block: an f16 scale, then 32 int8 values (ggml's layout).
#define RAG_Q8_0_BYTES 34
enum { RAG_KV_F16 = 0, RAG_KV_Q8_0 = 1 };

/// Tiled attention of `rows` query rows (f32, `dim` apart; dim a multiple of 32, at most 256)
/// over one KV head of a cache of `type` (RAG_KV_F16: `dim` halves a position; RAG_KV_Q8_0:
/// dim/32 blocks), keys at `k` and values at `v`, one position every `rowBytes` bytes. Row r
/// sees positions [0, visible[r]) (at least one); out[r · ldo + ·] = softmax(scale · q·K) · V,
/// the softmax online over blocks of RAG_FLASH_BLOCK positions. `work`: at least
/// rag_flash_attention_work(rows, dim) floats.
void rag_flash_attention(int type, const float *q, int rows, int dim, const int *visible, const uint8_t *k, const uint8_t *v,
                         size_t rowBytes, float scale, float *out, size_t ldo, float *work);
size_t rag_flash_attention_work(int rows, int dim);

#endif
