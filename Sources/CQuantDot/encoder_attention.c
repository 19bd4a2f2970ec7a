// Full (unmasked) self-attention of one head over one short sequence, the encoder's: all of
// softmax(scale · q·kᵀ) · v in one pass per group of query rows (4 with AVX2, 12 with AVX-512),
// the group's scores never leaving L1. For the sequences an encoder sees (tens to a few hundred
// tokens, heads of 32 values) the two matrix products per head are too small for a BLAS call to
// pay its set-up.
// Built twice from encoder_attention_body.h: AVX2 + FMA (eight lanes) and AVX-512 (sixteen).
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include "CQuantDot.h"
#include "vector_math.h"

#define RAG_ENC_INLINE static inline __attribute__((always_inline))
#define RAG_ENC_MAX_ROWS 12

size_t rag_encoder_attention_work(int n, int dim) {
    const size_t padded = (size_t)(n + 31) / 32 * 32;
    return 2 * padded * (size_t)dim + RAG_ENC_MAX_ROWS * padded;
}

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

#define RAG_ENC_V __m256
#define RAG_ENC_W 8
#define RAG_ENC_R 4
#define RAG_ENC_LOAD _mm256_loadu_ps
#define RAG_ENC_STORE _mm256_storeu_ps
#define RAG_ENC_FMA _mm256_fmadd_ps
#define RAG_ENC_BROADCAST _mm256_broadcast_ss
#define RAG_ENC_ZERO _mm256_setzero_ps
#define RAG_ENC_SET1 _mm256_set1_ps
#define RAG_ENC_MUL _mm256_mul_ps
#define RAG_ENC_SUB _mm256_sub_ps
#define RAG_ENC_MAX _mm256_max_ps
#define RAG_ENC_ADD _mm256_add_ps
#define RAG_ENC_EXP rag_exp8
#define RAG_ENC_HMAX rag_hmax
#define RAG_ENC_HSUM rag_hsum
#define RAG_ENC_ROWS_NAME rag_enc_rows8
#define RAG_ENC_NAME rag_encoder_attention_avx2
#include "encoder_attention_body.h"
#undef RAG_ENC_V
#undef RAG_ENC_W
#undef RAG_ENC_R
#undef RAG_ENC_LOAD
#undef RAG_ENC_STORE
#undef RAG_ENC_FMA
#undef RAG_ENC_BROADCAST
#undef RAG_ENC_ZERO
#undef RAG_ENC_SET1
#undef RAG_ENC_MUL
#undef RAG_ENC_SUB
#undef RAG_ENC_MAX
#undef RAG_ENC_ADD
#undef RAG_ENC_EXP
#undef RAG_ENC_HMAX
#undef RAG_ENC_HSUM
#undef RAG_ENC_ROWS_NAME
#undef RAG_ENC_NAME

#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f"))), apply_to = function)

RAG_ENC_INLINE __m512 rag_enc_broadcast16(const float *p) { return _mm512_set1_ps(*p); }

#define RAG_ENC_V __m512
#define RAG_ENC_W 16
#define RAG_ENC_R 12
#define RAG_ENC_LOAD _mm512_loadu_ps
#define RAG_ENC_STORE _mm512_storeu_ps
#define RAG_ENC_FMA _mm512_fmadd_ps
#define RAG_ENC_BROADCAST rag_enc_broadcast16
#define RAG_ENC_ZERO _mm512_setzero_ps
#define RAG_ENC_SET1 _mm512_set1_ps
#define RAG_ENC_MUL _mm512_mul_ps
#define RAG_ENC_SUB _mm512_sub_ps
#define RAG_ENC_MAX _mm512_max_ps
#define RAG_ENC_ADD _mm512_add_ps
#define RAG_ENC_EXP rag_exp16
#define RAG_ENC_HMAX _mm512_reduce_max_ps
#define RAG_ENC_HSUM _mm512_reduce_add_ps
#define RAG_ENC_ROWS_NAME rag_enc_rows16
#define RAG_ENC_NAME rag_encoder_attention_avx512
#include "encoder_attention_body.h"

#pragma clang attribute pop
