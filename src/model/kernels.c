/* kernels.c: the element-wise and attention kernels of the forward pass: LayerNorm,
 * gelu_new, softmax, entropy, bias, dot products and attention over one head's cache.
 * The matrix products are elsewhere (matmul.c chooses among rows.c, gemm.c and OpenBLAS). */
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include <math.h>
#include <string.h>
#include "kernels.h"

/* LayerNorm of rows i0 .. i0 + R (R a constant after inlining): each row's mean and
 * variance are its own double sums in column order; the R rows' chains advance together,
 * since one row's chain waits 4 cycles per column on its add (LayerNorm was 3-5% of a
 * throughput-mode evaluation one row at a time). */
static inline __attribute__((always_inline)) void layernorm_rows(float *restrict y, const float *restrict x,
                                                                 const float *restrict w, const float *restrict b,
                                                                 int i0, int C, float eps, const int R)
{
    double mean[4] = {0, 0, 0, 0}, var[4] = {0, 0, 0, 0};
    const float *xr[4];
    for (int r = 0; r < R; r++) xr[r] = x + (long)(i0 + r) * C;
    for (int j = 0; j < C; j++)
        for (int r = 0; r < R; r++) mean[r] += xr[r][j];
    for (int r = 0; r < R; r++) mean[r] /= C;
    for (int j = 0; j < C; j++)
        for (int r = 0; r < R; r++) {
            double d = xr[r][j] - mean[r];
            var[r] += d * d;
        }
    for (int r = 0; r < R; r++) {
        float rstd = (float)(1.0 / sqrt(var[r] / C + eps)), m = (float)mean[r];
        float *yi = y + (long)(i0 + r) * C;
        for (int j = 0; j < C; j++) yi[j] = (xr[r][j] - m) * rstd * w[j] + b[j];
    }
}

void hs_k_layernorm(float *restrict y, const float *restrict x, const float *restrict w,
                    const float *restrict b, int n, int C, float eps)
{
    int i = 0;
    for (; i + 4 <= n; i += 4) layernorm_rows(y, x, w, b, i, C, eps, 4);
    for (; i < n; i++) layernorm_rows(y, x, w, b, i, C, eps, 1);
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
    __m256 scale =
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
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

/* tanh8 and gelu8 on 16 lanes (AVX-512, chosen at run time): the same operations lane
 * by lane (round to nearest, the same conversions, shifts, divide and blend), so a value
 * gets the same bits in either; half the instructions per value. */
static inline __attribute__((always_inline)) HS_AVX512 __m512 tanh16(__m512 x)
{
    const __m512 sign = _mm512_set1_ps(-0.0f), one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    __m512 a = _mm512_andnot_ps(sign, x);
    __mmask16 big = _mm512_cmp_ps_mask(a, _mm512_set1_ps(9.0f), _CMP_GT_OQ);
    __m512 y = _mm512_mul_ps(two, _mm512_min_ps(a, _mm512_set1_ps(9.0f)));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(y, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), y);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 40320);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 5040));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    __m512 em1r = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r);
    __m512 scale =
        _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
    __m512 e = _mm512_fmadd_ps(scale, em1r, _mm512_sub_ps(scale, one));
    __m512 t = _mm512_div_ps(e, _mm512_add_ps(e, two));
    t = _mm512_mask_blend_ps(big, t, one);
    return _mm512_or_ps(t, _mm512_and_ps(x, sign));
}

static HS_AVX512 long gelu_new512(float *x, long n)
{
    const __m512 k = _mm512_set1_ps(0.7978845608028654f), c = _mm512_set1_ps(0.044715f);
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 v3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
        __m512 t = tanh16(_mm512_mul_ps(k, _mm512_fmadd_ps(c, v3, v)));
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v),
                                              _mm512_add_ps(_mm512_set1_ps(1.0f), t)));
    }
    return i;
}

/* Every element goes through the same lane-wise code (16 or 8 wide), the tail too
 * (padded), so a value gets the same bits whatever its position: batched rows equal
 * single ones. */
void hs_k_gelu_new(float *x, long n)
{
    long i = hs_k_avx512() ? gelu_new512(x, n) : 0;
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

void hs_k_add_bias(float *y, int ldy, const float *restrict bias, int n, int N)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < N; j++) y[(long)i * ldy + j] += bias[j];
}

/* The largest of x[0 .. n), n >= 1 (headsweep/model.h): a maximum is exact in any order,
 * and where +0 and -0 tie the softmax below gets the same bits from either (x - 0 is x,
 * expf(+-0) is 1), as does the NLL's logit - max. A scalar chain of compares waited 4
 * cycles per key, a fifth of a decode step's softmax and a sixth of a reference token's
 * scoring. */
float hs_model_max(const float *x, int n)
{
    float mx = x[0];
    int i = 1;
#ifdef __AVX2__
    if (n >= 16) {
        __m256 m = _mm256_loadu_ps(x);
        for (i = 8; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        mx = _mm_cvtss_f32(h);
    }
#endif
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    return mx;
}

/* exp(d) for d <= 0 (or NaN) in double, the same operations in both versions below:
 * d clamped at -746 (exp is 0 there after rounding; the clamp keeps NaN, as maxpd with d
 * second does), n = round(d / ln 2) by the 1.5 2^52 shifter, r = d - n ln 2 in two FMAs
 * (|r| <= 0.35), e^r by its Taylor polynomial to degree 13 (truncation below 5e-18) in
 * Horner form, times 2^n as two powers of two 2^(n >> 1) and 2^(n - (n >> 1)), each a
 * normal number for n >= -1076, so only the last product can round to a subnormal. */
#define SE_SHIFT 6755399441055744.0 /* 1.5 2^52 */
#define SE_LOG2E 1.4426950408889634
#define SE_LN2HI 0x1.62e42fefa39efp-1
#define SE_LN2LO 0x1.abc9e3b39803fp-56
static const double se_coef[14] = {
    1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
    1.0 / 40320.0,      1.0 / 5040.0,      1.0 / 720.0,      1.0 / 120.0,     1.0 / 24.0,
    1.0 / 6.0,          0.5,               1.0,              1.0}; /* 1/13!, .., 1/2, 1, 1 */

static double se_pow2(int64_t n)
{
    uint64_t b = (uint64_t)(n + 1023) << 52;
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static double se_exp(double d)
{
    d = d < -746.0 ? -746.0 : d;
    double t = fma(d, SE_LOG2E, SE_SHIFT), n = t - SE_SHIFT;
    double r = fma(n, -SE_LN2HI, d);
    r = fma(n, -SE_LN2LO, r);
    double p = se_coef[0];
    for (int i = 1; i < 14; i++) p = fma(p, r, se_coef[i]);
    int64_t tb, sb, k;
    double sh = SE_SHIFT;
    memcpy(&tb, &t, sizeof tb), memcpy(&sb, &sh, sizeof sb);
    k = tb - sb; /* n as an integer: t and the shifter share their exponent */
    return p * se_pow2(k >> 1) * se_pow2(k - (k >> 1));
}

/* The fixed tree the 8 lanes are added in. */
static double se_lanes(const double s[8])
{
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

#ifdef __AVX2__
/* se_exp on 8 lanes (d <= 0 or NaN), the same operations in the same order. */
static inline __attribute__((always_inline)) HS_AVX512 __m512d se_exp8(__m512d d)
{
    __m512d lo = _mm512_set1_pd(-746.0), shift = _mm512_set1_pd(SE_SHIFT);
    __m512i bias = _mm512_set1_epi64(1023), sbits = _mm512_castpd_si512(shift);
    d = _mm512_max_pd(lo, d); /* NaN stays: maxpd returns the second operand */
    __m512d t = _mm512_fmadd_pd(d, _mm512_set1_pd(SE_LOG2E), shift), nn = _mm512_sub_pd(t, shift);
    __m512d r = _mm512_fmadd_pd(nn, _mm512_set1_pd(-SE_LN2HI), d);
    r = _mm512_fmadd_pd(nn, _mm512_set1_pd(-SE_LN2LO), r);
    __m512d p = _mm512_set1_pd(se_coef[0]);
    for (int c = 1; c < 14; c++) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(se_coef[c]));
    __m512i k = _mm512_sub_epi64(_mm512_castpd_si512(t), sbits), k1 = _mm512_srai_epi64(k, 1);
    __m512i k2 = _mm512_sub_epi64(k, k1);
    __m512d s1 = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(k1, bias), 52));
    __m512d s2 = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(k2, bias), 52));
    return _mm512_mul_pd(_mm512_mul_pd(p, s1), s2);
}

static HS_AVX512 double sum_exp512(const float *x, int n, float mx)
{
    __m512d acc = _mm512_setzero_pd();
    __m256 m = _mm256_set1_ps(mx);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        acc = _mm512_add_pd(acc, se_exp8(_mm512_cvtps_pd(_mm256_sub_ps(_mm256_loadu_ps(x + i), m))));
    double s[8];
    _mm512_storeu_pd(s, acc);
    for (; i < n; i++) s[i % 8] += se_exp((double)(x[i] - mx));
    return se_lanes(s);
}

/* se_exp on 4 lanes with AVX2 (no 64-bit arithmetic shift there): n >> 1 is floor(n / 2),
 * taken in double and turned into an integer by the shifter as t was; the same values,
 * so the same result as se_exp. */
static inline __m256d se_exp4(__m256d d)
{
    __m256d shift = _mm256_set1_pd(SE_SHIFT);
    __m256i bias = _mm256_set1_epi64x(1023), sbits = _mm256_castpd_si256(shift);
    d = _mm256_max_pd(_mm256_set1_pd(-746.0), d); /* NaN stays, as in se_exp8 */
    __m256d t = _mm256_fmadd_pd(d, _mm256_set1_pd(SE_LOG2E), shift), nn = _mm256_sub_pd(t, shift);
    __m256d r = _mm256_fmadd_pd(nn, _mm256_set1_pd(-SE_LN2HI), d);
    r = _mm256_fmadd_pd(nn, _mm256_set1_pd(-SE_LN2LO), r);
    __m256d p = _mm256_set1_pd(se_coef[0]);
    for (int c = 1; c < 14; c++) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(se_coef[c]));
    __m256d n1 = _mm256_floor_pd(_mm256_mul_pd(nn, _mm256_set1_pd(0.5))), n2 = _mm256_sub_pd(nn, n1);
    __m256i k1 = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(n1, shift)), sbits);
    __m256i k2 = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(n2, shift)), sbits);
    __m256d s1 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(k1, bias), 52));
    __m256d s2 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(k2, bias), 52));
    return _mm256_mul_pd(_mm256_mul_pd(p, s1), s2);
}

/* x[i] = se_exp(x[i] - mx) rounded to float for the first n / 8 * 8 values (AVX-512) or
 * n / 4 * 4 (AVX2); returns how many. */
static HS_AVX512 int exp_shifted512(float *x, int n, float mx)
{
    __m256 m = _mm256_set1_ps(mx);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm512_cvtpd_ps(se_exp8(_mm512_cvtps_pd(_mm256_sub_ps(_mm256_loadu_ps(x + i), m)))));
    return i;
}

static int exp_shifted256(float *x, int n, float mx)
{
    __m128 m = _mm_set1_ps(mx);
    int i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(x + i, _mm256_cvtpd_ps(se_exp4(_mm256_cvtps_pd(_mm_sub_ps(_mm_loadu_ps(x + i), m)))));
    return i;
}
#endif

double hs_model_sum_exp(const float *x, int n, float mx)
{
#ifdef __AVX2__
    if (hs_k_avx512()) return sum_exp512(x, n, mx);
#endif
    double s[8] = {0};
    int i = 0;
#ifdef __AVX2__
    /* lanes 0-3 and 4-7 of each block of 8 in two registers: s[i % 8]'s order */
    __m256d a0 = _mm256_setzero_pd(), a1 = a0;
    __m128 m = _mm_set1_ps(mx);
    for (; i + 8 <= n; i += 8) {
        a0 = _mm256_add_pd(a0, se_exp4(_mm256_cvtps_pd(_mm_sub_ps(_mm_loadu_ps(x + i), m))));
        a1 = _mm256_add_pd(a1, se_exp4(_mm256_cvtps_pd(_mm_sub_ps(_mm_loadu_ps(x + i + 4), m))));
    }
    _mm256_storeu_pd(s, a0), _mm256_storeu_pd(s + 4, a1);
#endif
    for (; i < n; i++) s[i % 8] += se_exp((double)(x[i] - mx));
    return se_lanes(s);
}

/* Each exp is se_exp's double rounded to float (nearly always libm's expf's value too: that
 * is within an ulp of the exact one, se_exp's double within an ulp of a double), 8 at a
 * time on AVX-512, 4 on AVX2 (the scalar se_exp was 5-8% slower than expf there), with the
 * same bits; the sum in double in key order. libm's expf, one
 * call per key, was a tenth of a decode batch's attention on the bundled model. */
void hs_k_softmax(float *x, int n)
{
    float mx = hs_model_max(x, n);
    int i = 0;
#ifdef __AVX2__
    i = hs_k_avx512() ? exp_shifted512(x, n, mx) : exp_shifted256(x, n, mx);
#endif
    for (; i < n; i++) x[i] = (float)se_exp((double)(x[i] - mx));
    double sum = 0;
    for (i = 0; i < n; i++) sum += x[i];
    float inv = (float)(1.0 / sum);
    for (i = 0; i < n; i++) x[i] *= inv;
}

double hs_k_entropy(const float *p, int n)
{
    double ent = 0;
    for (int i = 0; i < n; i++)
        if (p[i] > 0) ent -= (double)p[i] * log((double)p[i]);
    return ent;
}

/* Attention scores (q . k over a head's D values): 8-lane partial sums, as dot4 does.
 * The scalar loop (one add after another, which the compiler may not reorder) made the
 * attention of a decode batch on a small model cost as much as its matrix products. */
float hs_k_dot(const float *restrict a, const float *restrict b, int n)
{
    int i = 0;
    float s = 0;
#ifdef __AVX2__
    __m256 acc = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    s = hsum256(acc);
#endif
    for (; i < n; i++) s = fmaf(a[i], b[i], s);
    return s;
}

/* ---- attention over one head's cache. A decode step of a small model spends a third of
 * its time here when the products are batched (docs/performance.md), and one key per
 * call with a horizontal sum each was most of it. Both paths (batch and alone) call these,
 * and both give hs_k_dot's bits and the scalar loop's, so nothing downstream changes. ---- */

#ifdef __AVX2__
/* a[j] lane k -> t[k] lane j (8 x 8 transpose). */
static void transpose8(__m256 a[8], __m256 t[8])
{
    __m256 u[8], v[8];
    for (int i = 0; i < 4; i++) {
        u[2 * i] = _mm256_unpacklo_ps(a[2 * i], a[2 * i + 1]);
        u[2 * i + 1] = _mm256_unpackhi_ps(a[2 * i], a[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        v[4 * i] = _mm256_shuffle_ps(u[4 * i], u[4 * i + 2], 0x44);
        v[4 * i + 1] = _mm256_shuffle_ps(u[4 * i], u[4 * i + 2], 0xee);
        v[4 * i + 2] = _mm256_shuffle_ps(u[4 * i + 1], u[4 * i + 3], 0x44);
        v[4 * i + 3] = _mm256_shuffle_ps(u[4 * i + 1], u[4 * i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm256_permute2f128_ps(v[i], v[4 + i], 0x20);
        t[4 + i] = _mm256_permute2f128_ps(v[i], v[4 + i], 0x31);
    }
}

/* p[0 .. 8) = scale * (q . K row j) for 8 keys: each key's 8-lane partial sums exactly as
 * hs_k_dot builds them, then the 8 horizontal sums at once, lanes added in hsum256's
 * order ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)). D % 8 == 0. The 8 keys' chains
 * advance together (d outer, keys inner), each still one FMA per 8 values in d order; key
 * after key, each chain waited on its own FMA latency and the call took 2.7x the time. */
static inline __attribute__((always_inline)) void scores8(float *p, const float *q, const float *K, int D,
                                                          float scale)
{
    __m256 a[8], t[8];
    for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_ps();
    for (int d = 0; d < D; d += 8) {
        __m256 qv = _mm256_loadu_ps(q + d);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) a[j] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(K + (size_t)j * D + d), a[j]);
    }
    transpose8(a, t);
    __m256 lo = _mm256_add_ps(_mm256_add_ps(t[0], t[4]), _mm256_add_ps(t[2], t[6]));
    __m256 hi = _mm256_add_ps(_mm256_add_ps(t[1], t[5]), _mm256_add_ps(t[3], t[7]));
    _mm256_storeu_ps(p, _mm256_mul_ps(_mm256_add_ps(lo, hi), _mm256_set1_ps(scale)));
}
#endif

void hs_k_attn_scores(float *p, const float *q, const float *K, int T, int D, float scale)
{
    int t = 0;
#ifdef __AVX2__
    if (D % 8 == 0)
        for (; t + 8 <= T; t += 8) scores8(p + t, q, K + (size_t)t * D, D, scale);
#endif
    for (; t < T; t++) p[t] = hs_k_dot(q, K + (size_t)t * D, D) * scale;
}

#ifdef __AVX2__
/* out[d0 .. d0 + 8n) over all keys, n (a constant after inlining) 8-float accumulators in
 * registers: out[d] = out[d] + p[t] * V[t][d], a multiply then an add, in t order, as the
 * scalar loop of hs_k_attn_values computes it. With n a run-time count the accumulators
 * lived on the stack, and each key's add waited on a store and a load. */
static inline __attribute__((always_inline)) void values_cols(float *restrict out, const float *restrict p,
                                                              const float *restrict V, int T, int D, int d0,
                                                              const int n)
{
    __m256 acc[8];
    for (int i = 0; i < n; i++) acc[i] = _mm256_setzero_ps();
    for (int t = 0; t < T; t++) {
        __m256 pt = _mm256_set1_ps(p[t]);
        const float *vt = V + (size_t)t * D + d0;
        for (int i = 0; i < n; i++) acc[i] = _mm256_add_ps(acc[i], _mm256_mul_ps(pt, _mm256_loadu_ps(vt + 8 * i)));
    }
    for (int i = 0; i < n; i++) _mm256_storeu_ps(out + d0 + 8 * i, acc[i]);
}
#endif

void hs_k_attn_values(float *restrict out, const float *restrict p, const float *restrict V, int T, int D)
{
    int d0 = 0;
#ifdef __AVX2__
    /* up to 64 outputs in registers across all keys */
    for (; d0 + 8 <= D; d0 += 64) {
        int n = (D - d0) / 8 < 8 ? (D - d0) / 8 : 8;
        switch (n) {
        case 8: values_cols(out, p, V, T, D, d0, 8); break;
        case 7: values_cols(out, p, V, T, D, d0, 7); break;
        case 6: values_cols(out, p, V, T, D, d0, 6); break;
        case 5: values_cols(out, p, V, T, D, d0, 5); break;
        case 4: values_cols(out, p, V, T, D, d0, 4); break;
        case 3: values_cols(out, p, V, T, D, d0, 3); break;
        case 2: values_cols(out, p, V, T, D, d0, 2); break;
        default: values_cols(out, p, V, T, D, d0, 1); break;
        }
        if (n < 8) {
            d0 += 8 * n;
            break;
        }
    }
#endif
    for (int d = d0; d < D; d++) {
        float acc = 0.0f;
        for (int t = 0; t < T; t++) acc = acc + p[t] * V[(size_t)t * D + d];
        out[d] = acc;
    }
}
