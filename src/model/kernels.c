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

void hs_k_matmul(float *y, int ldy, const float *x, int ldx, const float *W, int ldw,
                 int n, int K, int N, float beta)
{
    if (n == 1)
        gemv_rows(y, x, W, ldw, K, N, beta);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, N, K, 1.0f, x, ldx, W, ldw,
                    beta, y, ldy);
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
