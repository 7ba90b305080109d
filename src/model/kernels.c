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

void hs_k_gelu_new(float *x, long n)
{
    const float k = 0.7978845608028654f; /* sqrt(2/pi), Hendrycks & Gimpel 2016 */
    for (long i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

/* y (N) = beta * y + x (K) @ W (K rows of N, stride ldw): the batch-1 product on the
 * Conv1D layout. Streams W row by row, four rows per pass, so every weight byte is read
 * once, in order, and y (a few kB) stays in L1: decode is bound by memory bandwidth,
 * and this is the access pattern that reaches it. */
static void gemv_rows(float *restrict y, const float *restrict x, const float *restrict W, int ldw, int K, int N,
                      float beta)
{
    if (beta == 0.0f) memset(y, 0, (size_t)N * sizeof(float));
    int k = 0;
    for (; k + 4 <= K; k += 4) {
        const float *w0 = W + (size_t)k * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
        float a0 = x[k], a1 = x[k + 1], a2 = x[k + 2], a3 = x[k + 3];
        int j = 0;
#ifdef __AVX2__
        __m256 b0 = _mm256_set1_ps(a0), b1 = _mm256_set1_ps(a1), b2 = _mm256_set1_ps(a2), b3 = _mm256_set1_ps(a3);
        for (; j + 8 <= N; j += 8) {
            __m256 acc = _mm256_loadu_ps(y + j);
            acc = _mm256_fmadd_ps(b0, _mm256_loadu_ps(w0 + j), acc);
            acc = _mm256_fmadd_ps(b1, _mm256_loadu_ps(w1 + j), acc);
            acc = _mm256_fmadd_ps(b2, _mm256_loadu_ps(w2 + j), acc);
            acc = _mm256_fmadd_ps(b3, _mm256_loadu_ps(w3 + j), acc);
            _mm256_storeu_ps(y + j, acc);
        }
#endif
        for (; j < N; j++) y[j] += a0 * w0[j] + a1 * w1[j] + a2 * w2[j] + a3 * w3[j];
    }
    for (; k < K; k++) {
        const float *w0 = W + (size_t)k * ldw;
        float a0 = x[k];
        for (int j = 0; j < N; j++) y[j] += a0 * w0[j];
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

void hs_k_dot_rows(float *restrict y, const float *restrict W, int ldw, const float *restrict x, int N, int K)
{
    int n = 0;
#ifdef __AVX2__
    for (; n + 4 <= N; n += 4) { /* four rows share each load of x */
        const float *w0 = W + (size_t)n * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        int k = 0;
        for (; k + 8 <= K; k += 8) {
            __m256 xv = _mm256_loadu_ps(x + k);
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k), xv, s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + k), xv, s1);
            s2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + k), xv, s2);
            s3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + k), xv, s3);
        }
        float r0 = hsum256(s0), r1 = hsum256(s1), r2 = hsum256(s2), r3 = hsum256(s3);
        for (; k < K; k++) r0 += w0[k] * x[k], r1 += w1[k] * x[k], r2 += w2[k] * x[k], r3 += w3[k] * x[k];
        y[n] = r0, y[n + 1] = r1, y[n + 2] = r2, y[n + 3] = r3;
    }
#endif
    for (; n < N; n++) y[n] = hs_k_dot(W + (size_t)n * ldw, x, K);
}

void hs_k_matmul(float *y, int ldy, const float *x, int ldx, const float *W, int ldw,
                 int n, int K, int N, float beta)
{
    if (n == 1)
        gemv_rows(y, x, W, ldw, K, N, beta);
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
