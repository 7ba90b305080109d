/* kernels_wt.h: the row kernels that read weights, written once for both weight types.
 * Included by rows.c twice, with
 *   WT        the stored weight type (float, or uint16_t holding bfloat16)
 *   KN(name)  the instance's name for a function (name_f32, name_bf16)
 *   WLOAD8(p) 8 weights from p as an __m256 of floats
 *   WGET(p)   one weight at p as a float
 * A bf16 weight is widened exactly to f32 before its multiply-add, so every chain below is
 * the same in both instances; only the bytes read differ. No include guard on purpose. */

/* y[j0 .. j1) += x[k .. k+4) @ W[k .. k+4, j0 .. j1): one group of four weight rows.
 * Every output element sees the same chain of fused multiply-adds whether the rows
 * of x are processed one at a time (decode) or as a batch, so both give identical bits. */
static void KN(rows4_update)(float *restrict y, const float *restrict x, const WT *restrict W, int ldw, int k,
                             int j0, int j1)
{
    const WT *w0 = W + (size_t)k * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    float a0 = x[k], a1 = x[k + 1], a2 = x[k + 2], a3 = x[k + 3];
    int j = j0;
#ifdef __AVX2__
    __m256 b0 = _mm256_set1_ps(a0), b1 = _mm256_set1_ps(a1), b2 = _mm256_set1_ps(a2), b3 = _mm256_set1_ps(a3);
    for (; j + 8 <= j1; j += 8) {
        __m256 acc = _mm256_loadu_ps(y + j);
        acc = _mm256_fmadd_ps(b0, WLOAD8(w0 + j), acc);
        acc = _mm256_fmadd_ps(b1, WLOAD8(w1 + j), acc);
        acc = _mm256_fmadd_ps(b2, WLOAD8(w2 + j), acc);
        acc = _mm256_fmadd_ps(b3, WLOAD8(w3 + j), acc);
        _mm256_storeu_ps(y + j, acc);
    }
#endif
    for (; j < j1; j++)
        y[j] = fmaf(a3, WGET(w3 + j), fmaf(a2, WGET(w2 + j), fmaf(a1, WGET(w1 + j), fmaf(a0, WGET(w0 + j), y[j]))));
}

/* The same for eight weight rows: y is loaded and stored half as often per weight byte,
 * which is what single-sequence decode (reading every weight once) is bound by next. */
static void KN(rows8_update)(float *restrict y, const float *restrict x, const WT *restrict W, int ldw, int k,
                             int j0, int j1, hs_pf pf)
{
#ifdef __AVX2__
    const WT *w[8];
    __m256 b[8];
    for (int i = 0; i < 8; i++) w[i] = W + (size_t)(k + i) * ldw, b[i] = _mm256_set1_ps(x[k + i]);
    int j = j0;
    /* Prefetch only inside [j0, j1): skip mode reads column runs of live heads (a run of
     * 384 of 2304 floats per row at 50% off), and prefetching past a run's end would
     * fetch the switched-off heads' weights this mode exists not to read. HS_PF_NEXT
     * (batch 1, another group of eight rows to come) fetches the same columns of the next
     * eight rows instead: eight streams a whole group ahead, and rows of 768 floats
     * (c_proj, the MLP's down projection) no longer end the prefetch early. Into L2 only
     * (T1): a group ahead is 24-74 KB on gpt2's full rows against a 48 KB L1, and T1 made
     * mask-mode decode 1-3% faster than T0 (docs/performance.md). HS_PF_NONE: callers
     * switch prefetch off in skip-mode layers with heads off, where it cost 8-11%. */
    for (; j + 8 <= j1; j += 8) {
        if (!(j & 15) && pf == HS_PF_NEXT)
            for (int i = 0; i < 8; i++) _mm_prefetch((const char *)(w[i] + 8 * (size_t)ldw + j), _MM_HINT_T1);
        else if (!(j & 15) && pf == HS_PF_AHEAD && j + HS_PREFETCH_ELEMS < j1)
            for (int i = 0; i < 8; i++) _mm_prefetch((const char *)(w[i] + j + HS_PREFETCH_ELEMS), _MM_HINT_T0);
        __m256 acc = _mm256_loadu_ps(y + j);
        for (int i = 0; i < 8; i++) acc = _mm256_fmadd_ps(b[i], WLOAD8(w[i] + j), acc);
        _mm256_storeu_ps(y + j, acc);
    }
    for (; j < j1; j++) {
        float acc = y[j];
        for (int i = 0; i < 8; i++) acc = fmaf(x[k + i], WGET(w[i] + j), acc);
        y[j] = acc;
    }
#else
    KN(rows4_update)(y, x, W, ldw, k, j0, j1);
    KN(rows4_update)(y, x, W, ldw, k + 4, j0, j1);
#endif
}

/* The same for a single weight row (K not a multiple of 4). */
static void KN(row1_update)(float *restrict y, const float *restrict x, const WT *restrict W, int ldw, int k,
                            int j0, int j1)
{
    const WT *w0 = W + (size_t)k * ldw;
    for (int j = j0; j < j1; j++) y[j] = fmaf(x[k], WGET(w0 + j), y[j]);
}

static void KN(matmul_rows_serial)(float *y, int ldy, const float *x, int ldx, const WT *W, int ldw, int B, int K,
                                   int N, int prefetch)
{
    int jstep = B == 1 ? N : HS_BATCH_COLS;
    for (int j0 = 0; j0 < N; j0 += jstep) {
        int j1 = j0 + jstep < N ? j0 + jstep : N, k = 0;
        for (; k + 8 <= K; k += 8) {
            hs_pf pf = !prefetch ? HS_PF_NONE : B == 1 && k + 16 <= K ? HS_PF_NEXT : HS_PF_AHEAD;
            for (int b = 0; b < B; b++)
                KN(rows8_update)(y + (size_t)b * ldy, x + (size_t)b * ldx, W, ldw, k, j0, j1, pf);
        }
        for (; k + 4 <= K; k += 4)
            for (int b = 0; b < B; b++) KN(rows4_update)(y + (size_t)b * ldy, x + (size_t)b * ldx, W, ldw, k, j0, j1);
        for (; k < K; k++)
            for (int b = 0; b < B; b++) KN(row1_update)(y + (size_t)b * ldy, x + (size_t)b * ldx, W, ldw, k, j0, j1);
    }
}

/* y (B, N) = beta * y + x (B, K) @ W, threads splitting the columns; prefetch 0: no
 * software prefetch of W (results are the same either way). */
void KN(hs_k_rows)(float *y, int ldy, const float *x, int ldx, const WT *W, int ldw, int B, int K, int N,
                    float beta, int prefetch)
{
    if (beta == 0.0f)
        for (int b = 0; b < B; b++) memset(y + (size_t)b * ldy, 0, (size_t)N * sizeof(float));
    int T = hs_k_threads_for((double)B * K * N);
    if (T == 1) {
        KN(matmul_rows_serial)(y, ldy, x, ldx, W, ldw, B, K, N, prefetch);
        return;
    }
    HS_PARALLEL
    {
        int lo, hi; /* 16 columns = one cache line of y */
        hs_k_share(N, 16, HS_THREAD_ID, T, &lo, &hi);
        if (lo < hi) KN(matmul_rows_serial)(y + lo, ldy, x, ldx, W + lo, ldw, B, K, hi - lo, prefetch);
    }
}

/* y[n .. n+4) = W[n .. n+4, :] @ x: four dot products sharing each load of x. */
static void KN(dot4)(float *restrict y, const WT *restrict W, int ldw, const float *restrict x, int n, int K)
{
    const WT *w0 = W + (size_t)n * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    float r0 = 0, r1 = 0, r2 = 0, r3 = 0;
    int k = 0;
#ifdef __AVX2__
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (; k + 8 <= K; k += 8) {
        __m256 xv = _mm256_loadu_ps(x + k);
        s0 = _mm256_fmadd_ps(WLOAD8(w0 + k), xv, s0);
        s1 = _mm256_fmadd_ps(WLOAD8(w1 + k), xv, s1);
        s2 = _mm256_fmadd_ps(WLOAD8(w2 + k), xv, s2);
        s3 = _mm256_fmadd_ps(WLOAD8(w3 + k), xv, s3);
    }
    r0 = hsum256(s0), r1 = hsum256(s1), r2 = hsum256(s2), r3 = hsum256(s3);
#endif
    for (; k < K; k++)
        r0 = fmaf(WGET(w0 + k), x[k], r0), r1 = fmaf(WGET(w1 + k), x[k], r1), r2 = fmaf(WGET(w2 + k), x[k], r2),
        r3 = fmaf(WGET(w3 + k), x[k], r3);
    y[n] = r0, y[n + 1] = r1, y[n + 2] = r2, y[n + 3] = r3;
}

#ifdef __AVX2__
/* dot4 for weight rows n .. n+4 and m .. m+4 at once, for one row of x: two streams far
 * apart in W keep more cache-line reads in flight than one (the LM head of batch-1
 * decode is a third of its weight bytes). Each row keeps dot4's exact sequence. With
 * next set (rows n+4 .. n+8 and m+4 .. m+8 come next), each cache line of the eight rows
 * is matched by a prefetch of the same line four rows on: bf16 and int8 rows are short
 * (1.5 and 0.75 KB at gpt2's 768) and widening them costs instructions, so without it
 * too few reads are in flight to stream at the core's bandwidth. */
static void KN(dot4_far)(float *restrict y, const WT *restrict W, int ldw, const float *restrict x, int n, int m,
                         int K, int next)
{
    const WT *w[8];
    __m256 s[8];
    for (int i = 0; i < 4; i++) w[i] = W + (size_t)(n + i) * ldw, w[4 + i] = W + (size_t)(m + i) * ldw;
    for (int i = 0; i < 8; i++) s[i] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        if (next && !((k * sizeof(WT)) & 63))
            for (int i = 0; i < 8; i++) _mm_prefetch((const char *)(w[i] + 4 * (size_t)ldw + k), _MM_HINT_T0);
        __m256 xv = _mm256_loadu_ps(x + k);
        for (int i = 0; i < 8; i++) s[i] = _mm256_fmadd_ps(WLOAD8(w[i] + k), xv, s[i]);
    }
    for (int i = 0; i < 8; i++) {
        float r = hsum256(s[i]);
        for (int t = k; t < K; t++) r = fmaf(WGET(w[i] + t), x[t], r);
        y[i < 4 ? n + i : m + i - 4] = r;
    }
}

/* dot4 for two rows of x at once: each weight load serves both, so the product is bound
 * by the multiply-adds instead of the loads. Every (row, output) pair keeps dot4's exact
 * sequence (8-lane partial sums in k order, the same horizontal sum, the same tail), so
 * a batch still equals its rows alone. */
static void KN(dot4x2)(float *restrict y0, float *restrict y1, const WT *restrict W, int ldw,
                       const float *restrict x0, const float *restrict x1, int n, int K)
{
    const WT *w[4] = {W + (size_t)n * ldw, W + (size_t)(n + 1) * ldw, W + (size_t)(n + 2) * ldw,
                      W + (size_t)(n + 3) * ldw};
    __m256 s[2][4];
    for (int i = 0; i < 4; i++) s[0][i] = s[1][i] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 a = _mm256_loadu_ps(x0 + k), b = _mm256_loadu_ps(x1 + k);
        for (int i = 0; i < 4; i++) {
            __m256 wv = WLOAD8(w[i] + k);
            s[0][i] = _mm256_fmadd_ps(wv, a, s[0][i]);
            s[1][i] = _mm256_fmadd_ps(wv, b, s[1][i]);
        }
    }
    for (int i = 0; i < 4; i++) {
        float r0 = hsum256(s[0][i]), r1 = hsum256(s[1][i]);
        for (int t = k; t < K; t++) r0 = fmaf(WGET(w[i] + t), x0[t], r0), r1 = fmaf(WGET(w[i] + t), x1[t], r1);
        y0[n + i] = r0, y1[n + i] = r1;
    }
}
#endif

#ifdef __AVX2__
/* dot4x2 on AVX-512 for four weight rows and np (a constant after inlining) pairs of rows
 * of x: lanes 0-7 of a register hold one row's 8-lane partial sums, lanes 8-15 the
 * other's (the pairs interleaved by hs_k_pair_rows, each weight vector broadcast to both
 * halves), so each (row, output) pair keeps dot4's exact sequence: same partial sums in
 * k order, same horizontal sum of each half, same tail. y[j] NULL: row j is padding. */
static inline __attribute__((always_inline)) HS_AVX512 void KN(dot4_pairs)(float *const y[2 * HS_PAIRS],
                                                                           const WT *W, int ldw, int n,
                                                                           const float *xp, size_t ps,
                                                                           const float *const x[2 * HS_PAIRS],
                                                                           int K, int K8, const int np)
{
    const WT *w[4];
    __m512 s[4][HS_PAIRS];
    for (int i = 0; i < 4; i++) {
        w[i] = W + (size_t)(n + i) * ldw;
        for (int p = 0; p < np; p++) s[i][p] = _mm512_setzero_ps();
    }
    for (int k = 0; k < K8; k += 8) {
        __m512 xv[HS_PAIRS];
        for (int p = 0; p < np; p++) xv[p] = _mm512_load_ps(xp + p * ps + 2 * (size_t)k);
        for (int i = 0; i < 4; i++) {
            __m512 wv = WDUP16(w[i] + k);
            for (int p = 0; p < np; p++) s[i][p] = _mm512_fmadd_ps(wv, xv[p], s[i][p]);
        }
    }
    for (int i = 0; i < 4; i++)
        for (int p = 0; p < np; p++)
            for (int h = 0; h < 2; h++) {
                int j = 2 * p + h;
                if (!y[j]) continue;
                float r = hsum256(h ? hs_hi256(s[i][p]) : _mm512_castps512_ps256(s[i][p]));
                for (int t = K8; t < K; t++) r = fmaf(WGET(w[i] + t), x[j][t], r);
                y[j][n + i] = r;
            }
}

/* The LM head of a decode batch on AVX-512: rows of W four at a time (in L1) against
 * every pair of rows of x, HS_PAIRS pairs per pass. It does the rows that dot4 does for
 * one row of x (all but N % 4) and returns how many: 0 if it cannot allocate the pairs,
 * and the AVX2 path does them all. */
static HS_AVX512 int KN(dot_rows512)(float *y, int ldy, const WT *W, int ldw, const float *x, int ldx, int B, int N,
                                     int K)
{
    int K8 = K / 8 * 8, P = (B + 1) / 2, n1 = N / 4 * 4;
    size_t ps = 2 * (size_t)K8;
    float *xp = K8 && n1 ? hs_k_pair_rows(x, ldx, B, K8) : NULL;
    if (!xp) return 0;
    for (int n = 0; n < n1; n += 4)
        for (int p0 = 0; p0 < P; p0 += HS_PAIRS) {
            float *yr[2 * HS_PAIRS];
            const float *xr[2 * HS_PAIRS];
            for (int j = 0; j < 2 * HS_PAIRS; j++) {
                int b = 2 * p0 + j;
                yr[j] = b < B ? y + (size_t)b * ldy : NULL;
                xr[j] = x + (size_t)(b < B ? b : B - 1) * ldx;
            }
            const float *xq = xp + p0 * ps;
            switch (P - p0 < HS_PAIRS ? P - p0 : HS_PAIRS) {
            case 6: KN(dot4_pairs)(yr, W, ldw, n, xq, ps, xr, K, K8, 6); break;
            case 5: KN(dot4_pairs)(yr, W, ldw, n, xq, ps, xr, K, K8, 5); break;
            case 4: KN(dot4_pairs)(yr, W, ldw, n, xq, ps, xr, K, K8, 4); break;
            case 3: KN(dot4_pairs)(yr, W, ldw, n, xq, ps, xr, K, K8, 3); break;
            case 2: KN(dot4_pairs)(yr, W, ldw, n, xq, ps, xr, K, K8, 2); break;
            default: KN(dot4_pairs)(yr, W, ldw, n, xq, ps, xr, K, K8, 1); break;
            }
        }
    free(xp);
    return n1;
}
#endif

static void KN(dot_rows_serial)(float *y, int ldy, const WT *W, int ldw, const float *x, int ldx, int B, int N,
                                int K)
{
    int n = 0;
#ifdef __AVX2__
    if (B >= 2 && hs_k_avx512()) n = KN(dot_rows512)(y, ldy, W, ldw, x, ldx, B, N, K);
    if (B == 1) { /* the first and second half of W's groups of four rows together */
        int half = N / 8 * 4;
        for (; n < half; n += 4) KN(dot4_far)(y, W, ldw, x, n, n + half, K, n + 4 < half);
        n = 2 * half;
    }
#endif
    for (; n + 4 <= N; n += 4) { /* four weight rows (a few kB) serve every row of x */
        int b = 0;
#ifdef __AVX2__
        for (; b + 2 <= B; b += 2)
            KN(dot4x2)(y + (size_t)b * ldy, y + (size_t)(b + 1) * ldy, W, ldw, x + (size_t)b * ldx,
                       x + (size_t)(b + 1) * ldx, n, K);
#endif
        for (; b < B; b++) KN(dot4)(y + (size_t)b * ldy, W, ldw, x + (size_t)b * ldx, n, K);
    }
    for (; n < N; n++)
        for (int b = 0; b < B; b++) {
            const WT *w = W + (size_t)n * ldw;
            const float *xb = x + (size_t)b * ldx;
            float r = 0;
            for (int k = 0; k < K; k++) r = fmaf(WGET(w + k), xb[k], r);
            y[(size_t)b * ldy + n] = r;
        }
}

/* y (B, N) = x (B, K) @ W^T for W (N, K), threads splitting the rows of W. */
void KN(hs_k_dotrows)(float *y, int ldy, const WT *W, int ldw, const float *x, int ldx, int B, int N, int K)
{
    int T = hs_k_threads_for((double)B * N * K);
    if (T == 1) {
        KN(dot_rows_serial)(y, ldy, W, ldw, x, ldx, B, N, K);
        return;
    }
    HS_PARALLEL
    {
        int lo, hi; /* cut at multiples of 4 so the groups of four rows are the serial ones */
        hs_k_share(N, 16, HS_THREAD_ID, T, &lo, &hi);
        if (lo < hi) KN(dot_rows_serial)(y + lo, ldy, W + (size_t)lo * ldw, ldw, x, ldx, B, hi - lo, K);
    }
}
