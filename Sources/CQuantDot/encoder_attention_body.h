// The encoder's self-attention, included by encoder_attention.c once per vector width under its
// target attribute: RAG_ENC_V a vector of RAG_ENC_W floats and its operations, RAG_ENC_R query
// rows per pass over a head's keys and values (4 or 12), RAG_ENC_NAME the exported function,
// RAG_ENC_ROWS_NAME its rows.

/// R query rows (R ≤ RAG_ENC_R) from q: scores against the transposed keys kt (dim × padded), softmax,
/// then the weighted sum of the value rows (v, packed n × dim), stored to out. Two vectors of
/// keys, and of values, at a time: 2R accumulators. A head's keys and values (~55 KB at 200
/// tokens) come from L2 once per R rows, so R is as large as the registers allow.
RAG_ENC_INLINE void RAG_ENC_ROWS_NAME(const int R, const float *q, size_t stride, const float *kt, int n, int padded, int dim,
                                      const float *v, float scale, float *scores, float *out, size_t ldo) {
    // scores[r][j] = scale · q_r · k_j
    for (int j = 0; j < padded; j += 2 * RAG_ENC_W) {
        RAG_ENC_V acc[RAG_ENC_R][2];
        for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = RAG_ENC_ZERO();
        for (int c = 0; c < dim; c++) {
            const RAG_ENC_V k0 = RAG_ENC_LOAD(kt + (size_t)c * padded + j), k1 = RAG_ENC_LOAD(kt + (size_t)c * padded + j + RAG_ENC_W);
            for (int r = 0; r < R; r++) {
                const RAG_ENC_V x = RAG_ENC_BROADCAST(q + (size_t)r * stride + c);
                acc[r][0] = RAG_ENC_FMA(x, k0, acc[r][0]);
                acc[r][1] = RAG_ENC_FMA(x, k1, acc[r][1]);
            }
        }
        for (int r = 0; r < R; r++) {
            RAG_ENC_STORE(scores + (size_t)r * padded + j, RAG_ENC_MUL(acc[r][0], RAG_ENC_SET1(scale)));
            RAG_ENC_STORE(scores + (size_t)r * padded + j + RAG_ENC_W, RAG_ENC_MUL(acc[r][1], RAG_ENC_SET1(scale)));
        }
    }
    // Softmax per row over its n scores. The padding past n scores −∞, whose e^x is the
    // clamp's ~1e-38: nothing beside the maximum's 1, and the values never read it.
    float inverse[RAG_ENC_R];
    for (int r = 0; r < R; r++) {
        float *s = scores + (size_t)r * padded;
        for (int j = n; j < padded; j++) s[j] = -INFINITY;
        RAG_ENC_V m = RAG_ENC_SET1(-INFINITY);
        for (int j = 0; j < padded; j += RAG_ENC_W) m = RAG_ENC_MAX(m, RAG_ENC_LOAD(s + j));
        const RAG_ENC_V shift = RAG_ENC_SET1(RAG_ENC_HMAX(m));
        RAG_ENC_V sum = RAG_ENC_ZERO();
        for (int j = 0; j < padded; j += RAG_ENC_W) {
            const RAG_ENC_V e = RAG_ENC_EXP(RAG_ENC_SUB(RAG_ENC_LOAD(s + j), shift));
            RAG_ENC_STORE(s + j, e);
            sum = RAG_ENC_ADD(sum, e);
        }
        inverse[r] = 1 / RAG_ENC_HSUM(sum);
    }
    // out_r = Σ_j p_r[j] · v_j / Σ_j p_r[j]
    for (int c = 0; c < dim; c += 2 * RAG_ENC_W) {
        RAG_ENC_V acc[RAG_ENC_R][2];
        for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = RAG_ENC_ZERO();
        for (int j = 0; j < n; j++) {
            const RAG_ENC_V v0 = RAG_ENC_LOAD(v + (size_t)j * dim + c), v1 = RAG_ENC_LOAD(v + (size_t)j * dim + c + RAG_ENC_W);
            for (int r = 0; r < R; r++) {
                const RAG_ENC_V p = RAG_ENC_BROADCAST(scores + (size_t)r * padded + j);
                acc[r][0] = RAG_ENC_FMA(p, v0, acc[r][0]);
                acc[r][1] = RAG_ENC_FMA(p, v1, acc[r][1]);
            }
        }
        for (int r = 0; r < R; r++) {
            RAG_ENC_STORE(out + (size_t)r * ldo + c, RAG_ENC_MUL(acc[r][0], RAG_ENC_SET1(inverse[r])));
            RAG_ENC_STORE(out + (size_t)r * ldo + c + RAG_ENC_W, RAG_ENC_MUL(acc[r][1], RAG_ENC_SET1(inverse[r])));
        }
    }
}


int RAG_ENC_NAME(const float *q, const float *k, const float *v, size_t stride, int n, int dim, float scale, float *out, size_t ldo,
                 float *work) {
    if (n < 1 || dim < 32 || dim % 32 != 0) return -1;
    const int padded = (n + 31) / 32 * 32;
    float *kt = work, *values = work + (size_t)padded * dim, *scores = values + (size_t)padded * dim;
    // The keys transposed (dim × padded), zeros past n, and the values packed (n × dim): a
    // head's rows are a whole q|k|v row apart, which in L1 map to a few sets only and evict
    // each other on every pass over them.
    for (int j = 0; j < n; j++) {
        for (int c = 0; c < dim; c++) kt[(size_t)c * padded + j] = k[(size_t)j * stride + c];
        memcpy(values + (size_t)j * dim, v + (size_t)j * stride, sizeof(float) * dim);
    }
    for (int c = 0; c < dim; c++) {
        for (int j = n; j < padded; j++) kt[(size_t)c * padded + j] = 0;
    }
    for (int r = 0; r < n; r += RAG_ENC_R) {
        const float *qr = q + (size_t)r * stride;
        float *o = out + (size_t)r * ldo;
#define RAG_ENC_CASE(R) case R: RAG_ENC_ROWS_NAME(R, qr, stride, kt, n, padded, dim, values, scale, scores, o, ldo); break;
        switch (n - r < RAG_ENC_R ? n - r : RAG_ENC_R) {
        RAG_ENC_CASE(1) RAG_ENC_CASE(2) RAG_ENC_CASE(3) RAG_ENC_CASE(4)
#if RAG_ENC_R > 4
        RAG_ENC_CASE(5) RAG_ENC_CASE(6) RAG_ENC_CASE(7) RAG_ENC_CASE(8) RAG_ENC_CASE(9) RAG_ENC_CASE(10) RAG_ENC_CASE(11) RAG_ENC_CASE(12)
#endif
        }
#undef RAG_ENC_CASE
    }
    return 0;
}
