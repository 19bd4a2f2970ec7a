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

#endif
