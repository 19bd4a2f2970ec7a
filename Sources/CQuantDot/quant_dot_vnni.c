// The AVX-512 VNNI build of the kernels: u8 × s8 products summed in four by vpdpbusd (256-bit
// registers, AVX-512 VL encoding); the K-quants by vpdpbusd on 512-bit registers (quant_dot_zmm.h).
#include <immintrin.h>
#include <string.h>
#include "CQuantDot.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#define RAG_DOT_U8S8(u, s) _mm256_dpbusd_epi32(_mm256_setzero_si256(), (u), (s))
#define RAG_QUANT_DOT rag_quant_dot_vnni
#define RAG_ZMM 1
#include "quant_dot_body.h"
#pragma clang attribute pop
