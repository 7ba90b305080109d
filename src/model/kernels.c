/* kernels.c: LayerNorm, gelu_new, softmax and the BLAS wrappers of the forward pass. */
#include <cblas.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include <math.h>
#include <string.h>
#include "kernels.h"

void hs_k_layernorm(float *restrict y, const float *restrict x, const float *restrict w,
                    const float *restrict b, int n, int C, float eps)
{
    for (int i = 0; i < n; i++) {
        const float *xi = x + (long)i * C;
        float *yi = y + (long)i * C;
        double mean = 0, var = 0;
        for (int j = 0; j < C; j++) mean += xi[j];
        mean /= C;
        for (int j = 0; j < C; j++) {
            double d = xi[j] - mean;
            var += d * d;
        }
        float rstd = (float)(1.0 / sqrt(var / C + eps)), m = (float)mean;
        for (int j = 0; j < C; j++) yi[j] = (xi[j] - m) * rstd * w[j] + b[j];
    }
}

#ifdef __AVX2__
/* tanh of 8 floats to a few ulp: tanh|x| = e / (e + 2) with e = expm1(2|x|), and expm1
 * by range reduction 2|x| = n ln2 + r, |r| <= ln2/2, Taylor series of expm1(r) to r^8
 * (truncation below 1e-9 relative), expm1 = 2^n (expm1(r) + 1) - 1. Near 0 this keeps
 * full relative precision (no 1 - small cancellation); past |x| = 9 tanh is 1 in float.
 * libm's tanhf (through expm1f, one call per element) was ~25% of a decode step. */
static __m256 tanh8(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    __m256 a = _mm256_andnot_ps(sign, x);
    __m256 big = _mm256_cmp_ps(a, _mm256_set1_ps(9.0f), _CMP_GT_OQ);
    __m256 y = _mm256_mul_ps(two, _mm256_min_ps(a, _mm256_set1_ps(9.0f)));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(y, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* r = y - n ln2 in two steps (Cody & Waite), exact enough for |n| <= 26 */
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), y);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 40320);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 5040));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    __m256 em1r = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r); /* expm1(r) */
    __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
    __m256 e = _mm256_fmadd_ps(scale, em1r, _mm256_sub_ps(scale, one)); /* expm1(y) */
    __m256 t = _mm256_div_ps(e, _mm256_add_ps(e, two));
    t = _mm256_blendv_ps(t, one, big);
    return _mm256_or_ps(t, _mm256_and_ps(x, sign));
}

static __m256 gelu8(__m256 v)
{
    const __m256 k = _mm256_set1_ps(0.7978845608028654f), c = _mm256_set1_ps(0.044715f);
    __m256 v3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
    __m256 t = tanh8(_mm256_mul_ps(k, _mm256_fmadd_ps(c, v3, v)));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v), _mm256_add_ps(_mm256_set1_ps(1.0f), t));
}

/* Every element goes through the same 8-wide code, the tail too (padded), so a value
 * gets the same bits whatever its position: batched rows equal single ones. */
void hs_k_gelu_new(float *x, long n)
{
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float buf[8] = {0};
        memcpy(buf, x + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(buf, gelu8(_mm256_loadu_ps(buf)));
        memcpy(x + i, buf, (size_t)(n - i) * sizeof(float));
    }
}
#else
void hs_k_gelu_new(float *x, long n)
{
    const float k = 0.7978845608028654f; /* sqrt(2/pi), Hendrycks & Gimpel 2016 */
    for (long i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}
#endif

/* y[j0 .. j1) += x[k .. k+4) @ W[k .. k+4, j0 .. j1): one group of four weight rows.
 * Every output element sees the same chain of fused multiply-adds whether the rows
 * of x are processed one at a time (decode) or as a batch, so both give identical bits. */
static void rows4_update(float *restrict y, const float *restrict x, const float *restrict W, int ldw, int k,
                         int j0, int j1)
{
    const float *w0 = W + (size_t)k * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    float a0 = x[k], a1 = x[k + 1], a2 = x[k + 2], a3 = x[k + 3];
    int j = j0;
#ifdef __AVX2__
    __m256 b0 = _mm256_set1_ps(a0), b1 = _mm256_set1_ps(a1), b2 = _mm256_set1_ps(a2), b3 = _mm256_set1_ps(a3);
    for (; j + 8 <= j1; j += 8) {
        __m256 acc = _mm256_loadu_ps(y + j);
        acc = _mm256_fmadd_ps(b0, _mm256_loadu_ps(w0 + j), acc);
        acc = _mm256_fmadd_ps(b1, _mm256_loadu_ps(w1 + j), acc);
        acc = _mm256_fmadd_ps(b2, _mm256_loadu_ps(w2 + j), acc);
        acc = _mm256_fmadd_ps(b3, _mm256_loadu_ps(w3 + j), acc);
        _mm256_storeu_ps(y + j, acc);
    }
#endif
    for (; j < j1; j++) y[j] = fmaf(a3, w3[j], fmaf(a2, w2[j], fmaf(a1, w1[j], fmaf(a0, w0[j], y[j]))));
}

#ifndef HS_PREFETCH_FLOATS
#define HS_PREFETCH_FLOATS 256
#endif

/* The same for eight weight rows: y is loaded and stored half as often per weight byte,
 * which is what single-sequence decode (reading every weight once) is bound by next. */
static void rows8_update(float *restrict y, const float *restrict x, const float *restrict W, int ldw, int k,
                         int j0, int j1)
{
#ifdef __AVX2__
    const float *w[8];
    __m256 b[8];
    for (int i = 0; i < 8; i++) w[i] = W + (size_t)(k + i) * ldw, b[i] = _mm256_set1_ps(x[k + i]);
    int j = j0;
    for (; j + 8 <= j1; j += 8) {
        if (!(j & 15))
            for (int i = 0; i < 8; i++) _mm_prefetch((const char *)(w[i] + j + HS_PREFETCH_FLOATS), _MM_HINT_T0);
        __m256 acc = _mm256_loadu_ps(y + j);
        for (int i = 0; i < 8; i++) acc = _mm256_fmadd_ps(b[i], _mm256_loadu_ps(w[i] + j), acc);
        _mm256_storeu_ps(y + j, acc);
    }
    for (; j < j1; j++) {
        float acc = y[j];
        for (int i = 0; i < 8; i++) acc = fmaf(x[k + i], w[i][j], acc);
        y[j] = acc;
    }
#else
    rows4_update(y, x, W, ldw, k, j0, j1);
    rows4_update(y, x, W, ldw, k + 4, j0, j1);
#endif
}

/* The same for a single weight row (K not a multiple of 4). */
static void row1_update(float *restrict y, const float *restrict x, const float *restrict W, int ldw, int k,
                        int j0, int j1)
{
    const float *w0 = W + (size_t)k * ldw;
    for (int j = j0; j < j1; j++) y[j] = fmaf(x[k], w0[j], y[j]);
}

/* Columns per pass of the batched product: B rows of y over this many columns stay in
 * L1 while the weight rows stream past once. */
enum { HS_BATCH_COLS = 256 };
/* Products with fewer rows than this (short prompts) skip hs_k_gemm: packing a whole
 * weight matrix for a few rows costs more than it saves (bench_engine --prompt 8..64). */
#ifndef HS_GEMM_MIN_ROWS
#define HS_GEMM_MIN_ROWS 48
#endif
/* From this many rows the packed, register-blocked product is faster (bench/bench_engine
 * --batch); both give the same bits. */
#ifndef HS_PACKED_MIN_ROWS
#define HS_PACKED_MIN_ROWS 4
#endif

/* ---- threads: every product is split by output columns (or LM-head rows), so each
 * output element is computed by one thread with the same chain whatever the count:
 * results do not depend on the number of threads. ---- */

static int g_threads = 1;

void hs_k_set_threads(int n)
{
#ifdef _OPENMP
    g_threads = n < 1 ? 1 : n > 256 ? 256 : n;
#else
    g_threads = 1; /* built without OpenMP: the kernels run on the calling thread */
    (void)n;
#endif
}
int hs_k_threads(void) { return g_threads; }

/* Threads worth using for a product of this many multiply-adds: below ~64K the wake-up
 * of a thread costs more than its share saves. */
int hs_k_threads_for(double work)
{
    return work < 65536.0 ? 1 : g_threads;
}

/* Thread t's share [lo, hi) of n items, cut at multiples of align, contiguous. */
void hs_k_share(int n, int align, int t, int T, int *lo, int *hi)
{
    int units = (n + align - 1) / align;
    int u0 = (int)((long)units * t / T), u1 = (int)((long)units * (t + 1) / T);
    *lo = u0 * align < n ? u0 * align : n;
    *hi = u1 * align < n ? u1 * align : n;
}


static void matmul_rows_serial(float *y, int ldy, const float *x, int ldx, const float *W, int ldw, int B, int K,
                               int N)
{
#ifdef __AVX2__
    if (B >= HS_PACKED_MIN_ROWS) { /* register-blocked, same chains: see hs_k_gemm_acc */
        hs_k_gemm_acc(y, ldy, x, ldx, W, ldw, B, K, N);
        return;
    }
#endif
    int jstep = B == 1 ? N : HS_BATCH_COLS;
    for (int j0 = 0; j0 < N; j0 += jstep) {
        int j1 = j0 + jstep < N ? j0 + jstep : N, k = 0;
        for (; k + 8 <= K; k += 8)
            for (int b = 0; b < B; b++) rows8_update(y + (size_t)b * ldy, x + (size_t)b * ldx, W, ldw, k, j0, j1);
        for (; k + 4 <= K; k += 4)
            for (int b = 0; b < B; b++) rows4_update(y + (size_t)b * ldy, x + (size_t)b * ldx, W, ldw, k, j0, j1);
        for (; k < K; k++)
            for (int b = 0; b < B; b++) row1_update(y + (size_t)b * ldy, x + (size_t)b * ldx, W, ldw, k, j0, j1);
    }
}

void hs_k_matmul_rows(float *y, int ldy, const float *x, int ldx, const float *W, int ldw, int B, int K, int N,
                      float beta)
{
    if (beta == 0.0f)
        for (int b = 0; b < B; b++) memset(y + (size_t)b * ldy, 0, (size_t)N * sizeof(float));
    int T = hs_k_threads_for((double)B * K * N);
    if (T == 1) {
        matmul_rows_serial(y, ldy, x, ldx, W, ldw, B, K, N);
        return;
    }
    HS_PARALLEL
    {
        int lo, hi; /* 16 columns = one cache line of y and of each weight row */
        hs_k_share(N, 16, HS_THREAD_ID, T, &lo, &hi);
        if (lo < hi) matmul_rows_serial(y + lo, ldy, x, ldx, W + lo, ldw, B, K, hi - lo);
    }
}

#ifdef __AVX2__
static float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

/* y[n .. n+4) = W[n .. n+4, :] @ x: four dot products sharing each load of x. */
static void dot4(float *restrict y, const float *restrict W, int ldw, const float *restrict x, int n, int K)
{
    const float *w0 = W + (size_t)n * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    float r0 = 0, r1 = 0, r2 = 0, r3 = 0;
    int k = 0;
#ifdef __AVX2__
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (; k + 8 <= K; k += 8) {
        __m256 xv = _mm256_loadu_ps(x + k);
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k), xv, s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + k), xv, s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + k), xv, s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + k), xv, s3);
    }
    r0 = hsum256(s0), r1 = hsum256(s1), r2 = hsum256(s2), r3 = hsum256(s3);
#endif
    for (; k < K; k++) r0 = fmaf(w0[k], x[k], r0), r1 = fmaf(w1[k], x[k], r1), r2 = fmaf(w2[k], x[k], r2), r3 = fmaf(w3[k], x[k], r3);
    y[n] = r0, y[n + 1] = r1, y[n + 2] = r2, y[n + 3] = r3;
}

#ifdef __AVX2__
/* dot4 for two rows of x at once: each weight load serves both, so the product is bound
 * by the multiply-adds instead of the loads. Every (row, output) pair keeps dot4's exact
 * sequence (8-lane partial sums in k order, the same horizontal sum, the same tail), so
 * a batch still equals its rows alone. */
static void dot4x2(float *restrict y0, float *restrict y1, const float *restrict W, int ldw,
                   const float *restrict x0, const float *restrict x1, int n, int K)
{
    const float *w[4] = {W + (size_t)n * ldw, W + (size_t)(n + 1) * ldw, W + (size_t)(n + 2) * ldw,
                         W + (size_t)(n + 3) * ldw};
    __m256 s[2][4];
    for (int i = 0; i < 4; i++) s[0][i] = s[1][i] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 a = _mm256_loadu_ps(x0 + k), b = _mm256_loadu_ps(x1 + k);
        for (int i = 0; i < 4; i++) {
            __m256 wv = _mm256_loadu_ps(w[i] + k);
            s[0][i] = _mm256_fmadd_ps(wv, a, s[0][i]);
            s[1][i] = _mm256_fmadd_ps(wv, b, s[1][i]);
        }
    }
    for (int i = 0; i < 4; i++) {
        float r0 = hsum256(s[0][i]), r1 = hsum256(s[1][i]);
        for (int t = k; t < K; t++) r0 = fmaf(w[i][t], x0[t], r0), r1 = fmaf(w[i][t], x1[t], r1);
        y0[n + i] = r0, y1[n + i] = r1;
    }
}
#endif

static void dot_rows_serial(float *y, int ldy, const float *W, int ldw, const float *x, int ldx, int B, int N, int K)
{
    int n = 0;
    for (; n + 4 <= N; n += 4) { /* four weight rows (a few kB) serve every row of x */
        int b = 0;
#ifdef __AVX2__
        for (; b + 2 <= B; b += 2)
            dot4x2(y + (size_t)b * ldy, y + (size_t)(b + 1) * ldy, W, ldw, x + (size_t)b * ldx,
                   x + (size_t)(b + 1) * ldx, n, K);
#endif
        for (; b < B; b++) dot4(y + (size_t)b * ldy, W, ldw, x + (size_t)b * ldx, n, K);
    }
    for (; n < N; n++)
        for (int b = 0; b < B; b++) {
            const float *w = W + (size_t)n * ldw, *xb = x + (size_t)b * ldx;
            float r = 0;
            for (int k = 0; k < K; k++) r = fmaf(w[k], xb[k], r);
            y[(size_t)b * ldy + n] = r;
        }
}

void hs_k_dot_rows(float *y, int ldy, const float *W, int ldw, const float *x, int ldx, int B, int N, int K)
{
    int T = hs_k_threads_for((double)B * N * K);
    if (T == 1) {
        dot_rows_serial(y, ldy, W, ldw, x, ldx, B, N, K);
        return;
    }
    HS_PARALLEL
    {
        int lo, hi; /* cut at multiples of 4 so the groups of four rows are the serial ones */
        hs_k_share(N, 16, HS_THREAD_ID, T, &lo, &hi);
        if (lo < hi) dot_rows_serial(y + lo, ldy, W + (size_t)lo * ldw, ldw, x, ldx, B, hi - lo, K);
    }
}

void hs_k_matmul(float *y, int ldy, const float *x, int ldx, const float *W, int ldw,
                 int n, int K, int N, float beta)
{
    if (n < HS_GEMM_MIN_ROWS)
        hs_k_matmul_rows(y, ldy, x, ldx, W, ldw, n, K, N, beta);
    else
        hs_k_gemm(y, ldy, x, ldx, W, ldw, 0, n, K, N, beta);
}

void hs_k_add_bias(float *y, int ldy, const float *restrict bias, int n, int N)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < N; j++) y[(long)i * ldy + j] += bias[j];
}

void hs_k_softmax(float *x, int n)
{
    float mx = x[0];
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

double hs_k_entropy(const float *p, int n)
{
    double ent = 0;
    for (int i = 0; i < n; i++)
        if (p[i] > 0) ent -= (double)p[i] * log((double)p[i]);
    return ent;
}

float hs_k_dot(const float *restrict a, const float *restrict b, int n)
{
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
