/* kernels.c: LayerNorm, gelu_new, softmax and the BLAS wrappers of the forward pass. */
#include <cblas.h>
#include <math.h>

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

void hs_k_matmul(float *y, int ldy, const float *x, int ldx, const float *W, int ldw,
                 int n, int K, int N, float beta)
{
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, K, N, 1.0f, W, ldw, x, 1, beta, y, 1);
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
