// Lane sums, e^x and GELU on vector registers, for the kernels that apply them to what they
// compute (softmax in the encoder's attention, GELU after the int8 GEMM). The same polynomial as rag's
// Vector.exp: n = round(x / ln 2), then a degree-6 polynomial on the rest; x below −87.3 gives
// ~1e-38, 0 in effect beside any other term.
#ifndef RAG_VECTOR_MATH_H
#define RAG_VECTOR_MATH_H
#include <immintrin.h>

#define RAG_MATH_INLINE static inline __attribute__((always_inline))
#define RAG_EXP_POLYNOMIAL(set1, fmadd, fnmadd, mul, add, x, n, p)                                                                    \
    do {                                                                                                                         \
        __typeof__(x) r_ = fnmadd(n, set1(0.693145751953125f), x);                                                               \
        r_ = fnmadd(n, set1(1.428606765330187045e-06f), r_);                                                                     \
        p = set1(1.9875691500e-4f);                                                                                              \
        p = fmadd(p, r_, set1(1.3981999507e-3f));                                                                                \
        p = fmadd(p, r_, set1(8.3334519073e-3f));                                                                                \
        p = fmadd(p, r_, set1(4.1665795894e-2f));                                                                                \
        p = fmadd(p, r_, set1(1.6666665459e-1f));                                                                                \
        p = fmadd(p, r_, set1(5.0000001201e-1f));                                                                                \
        p = fmadd(mul(p, r_), r_, add(r_, set1(1)));                                                                             \
    } while (0)

/// The sum and the largest of eight lanes.
__attribute__((target("avx2"))) RAG_MATH_INLINE float rag_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2"))) RAG_MATH_INLINE float rag_hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// e^x for eight lanes, x ≤ 88.
__attribute__((target("avx2,fma"))) RAG_MATH_INLINE __m256 rag_exp8(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 p;
    RAG_EXP_POLYNOMIAL(_mm256_set1_ps, _mm256_fmadd_ps, _mm256_fnmadd_ps, _mm256_mul_ps, _mm256_add_ps, x, n, p);
    // 2^n: n + 127 into the exponent field.
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/// e^x for sixteen lanes, x ≤ 88; 2^n by vscalefps.
__attribute__((target("avx2,fma,avx512f"))) RAG_MATH_INLINE __m512 rag_exp16(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.3f)), _mm512_set1_ps(-87.3f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 p;
    RAG_EXP_POLYNOMIAL(_mm512_set1_ps, _mm512_fmadd_ps, _mm512_fnmadd_ps, _mm512_mul_ps, _mm512_add_ps, x, n, p);
    return _mm512_scalef_ps(p, n);
}

/// GELU, erf form, for sixteen lanes: 0.5·x·(1 + erf(x/√2)), erf by Abramowitz & Stegun 7.1.26
/// (absolute error < 5e-7), as rag's Vector.gelu.
__attribute__((target("avx2,fma,avx512f,avx512dq"))) RAG_MATH_INLINE __m512 rag_gelu16(__m512 x) {
    const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    const __m512 a = _mm512_abs_ps(z);
    // t = 1/(1 + p·a): a 14-bit reciprocal and one Newton step (~2⁻²⁴ from the quotient; vdivps
    // cost a third of a fused GELU product's time).
    const __m512 den = _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1));
    const __m512 guess = _mm512_rcp14_ps(den);
    const __m512 t = _mm512_mul_ps(guess, _mm512_fnmadd_ps(den, guess, _mm512_set1_ps(2)));
    __m512 y = _mm512_set1_ps(1.061405429f);
    y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(-1.453152027f));
    y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(1.421413741f));
    y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(-0.284496736f));
    y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(0.254829592f));
    const __m512 e = _mm512_fnmadd_ps(_mm512_mul_ps(y, t), rag_exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), a), a)), _mm512_set1_ps(1));
    // erf is odd: e carries |z|'s value, z's sign goes back on.
    const __m512 erf = _mm512_or_ps(e, _mm512_and_ps(z, _mm512_set1_ps(-0.0f)));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(erf, _mm512_set1_ps(1)));
}

#endif
