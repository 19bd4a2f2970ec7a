// The AVX2 build of the kernels: u8 × s8 products by vpmaddubsw, pairs summed by vpmaddwd.
#include <immintrin.h>
#include <string.h>
#include "CQuantDot.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#define RAG_DOT_U8S8(u, s) _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1))
#define RAG_QUANT_DOT rag_quant_dot_avx2
#include "quant_dot_body.h"
#pragma clang attribute pop
