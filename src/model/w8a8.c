/* w8a8.c: the products of W8A8 weight mode (HS_WEIGHTS_W8A8): int8 weights with a scale
 * per output column (hs_wq8, laid out for vpdpbusd) times activations quantized per row in
 * blocks of 32 values (absmax / 127, round to nearest even).
 *
 * vpdpbusd multiplies unsigned bytes by signed bytes. The weights are stored as q + 128
 * (1 .. 255) and the activations stay signed (-127 .. 127), so a block's sum carries 128
 * times the sum of the block's activation values, which is known when the row is
 * quantized: one integer per block of the row, whatever the matrix. (Offsetting the
 * activations instead would need 128 x the sum of each block of weights, per column: an
 * int32 per 32 weight bytes, 12.5% more bytes read per token.)
 *
 * Per output element: for each block b in order, the exact int32 sum S_b (the correction
 * subtracted) is converted to f32 (exact: |S_b| <= 32 x 127 x 127 < 2^24) and added as
 * acc = fma(S_b, xs_b, acc); then y = acc * s_n (and y = fma(beta, y, that) when
 * accumulating). Integer sums are exact in any order, so the four kernels below (VNNI,
 * AVX-512BW and AVX2 emulating vpdpbusd exactly with vpmaddwd, and scalar) give the same
 * bits, and a row's result does not depend on the other rows of the call or the threads. */
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* Values per activation block; columns per panel (one register of int32 sums); columns
 * per group, whose panels are interleaved so that batch 1 reads a matrix as one stream;
 * bytes per group row (4 weight rows of its 64 columns). */
enum { QB = HS_W8A8_BLOCK, PW = 16, GW = 64, RS = GW * 4 };

#define HS_AVX512BW __attribute__((target("avx512f,avx512bw")))
#define HS_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

static int kpad(int K) { return (K + 3) / 4 * 4; }
static int ngroups(int N) { return (N + GW - 1) / GW; }

size_t hs_k_w8a8_bytes(int K, int N) { return (size_t)ngroups(N) * kpad(K) * GW; }

/* Byte offset of element (k, n) in the panel layout of a matrix with Kp padded rows. */
static size_t w8a8_at(int Kp, int k, int n)
{
    return (size_t)(n / GW) * Kp * GW + ((size_t)(k / 4) * GW + n % GW) * 4 + k % 4;
}

/* One weight to int8 with its column's scale (as make_int8 rounds: w / scale to nearest
 * even), as the stored byte q + 128. */
static uint8_t w8a8_byte(float w, float sc)
{
    float v = sc > 0.0f ? nearbyintf(w / sc) : 0.0f;
    v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v == v ? v : 0.0f; /* NaN: see quantize_row */
    return (uint8_t)((int)v + 128);
}

void hs_k_w8a8_make(uint8_t *q, float *s, const float *W, int ldw, int trans, int K, int N)
{
    int Kp = kpad(K);
    memset(q, 128, hs_k_w8a8_bytes(K, N)); /* padding: q = 0 */
    for (int n = 0; n < N; n++) s[n] = 0.0f;
    /* both loops walk W in memory order: the scales (column absmax / 127, so a column's
     * largest weight is +-127 exactly) first, then the values */
    for (int i = 0; i < (trans ? N : K); i++)
        for (int j = 0; j < (trans ? K : N); j++) {
            float w = fabsf(W[(size_t)i * ldw + j]);
            int n = trans ? i : j;
            s[n] = w > s[n] ? w : s[n];
        }
    for (int n = 0; n < N; n++) s[n] /= 127.0f;
    for (int i = 0; i < (trans ? N : K); i++)
        for (int j = 0; j < (trans ? K : N); j++) {
            int k = trans ? j : i, n = trans ? i : j;
            q[w8a8_at(Kp, k, n)] = w8a8_byte(W[(size_t)i * ldw + j], s[n]);
        }
}

/* One row of activations x (K) quantized: q (nb * 32, zero past K), per block the scale
 * s (nb) and the correction c (nb) = 128 x the block's sum of q. */
static void quantize_row(const float *x, int K, int8_t *q, float *s, int32_t *c)
{
    for (int b = 0, k0 = 0; k0 < K; b++, k0 += QB) {
        int k1 = K - k0 < QB ? K : k0 + QB, sum = 0;
        float amax = 0.0f;
        for (int k = k0; k < k1; k++) amax = fabsf(x[k]) > amax ? fabsf(x[k]) : amax;
        float sc = amax / 127.0f;
        for (int k = k0; k < k1; k++) {
            float v = sc > 0.0f ? nearbyintf(x[k] / sc) : 0.0f;
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v == v ? v : 0.0f; /* NaN: see quantize_row */
            q[k] = (int8_t)v;
            sum += (int)v;
        }
        for (int k = k1; k < k0 + QB; k++) q[k] = 0;
        s[b] = sc;
        c[b] = 128 * sum;
    }
}

#ifdef __AVX2__
/* quantize_row on AVX-512 (kernel levels 2 and 3), 16 values at a time and the same bytes:
 * vmaxps(|x|, amax) keeps amax where |x| is NaN, as the scalar compare does; the lanes then
 * hold no NaN, so their maximum does not depend on the order; vdivps and vrndscaleps
 * (nearest even) are the scalar division and nearbyintf lane by lane; NaN quotients are
 * zeroed before the clamp, and the integer sum is exact in any order. At batch 1 the
 * scalar loop (a division per value) took about 3% of a gpt2-shape token. */
static HS_AVX512BW void quantize_row_avx512(const float *x, int K, int8_t *q, float *s, int32_t *c)
{
    for (int b = 0, k0 = 0; k0 < K; b++, k0 += QB) {
        int n = K - k0 < QB ? K - k0 : QB;
        __mmask16 m[2] = {n >= PW ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1),
                          n >= 2 * PW ? (__mmask16)0xffff : n <= PW ? 0 : (__mmask16)((1u << (n - PW)) - 1)};
        __m512 v[2], amax = _mm512_setzero_ps();
        for (int h = 0; h < 2; h++) {
            v[h] = _mm512_maskz_loadu_ps(m[h], x + k0 + PW * h);
            amax = _mm512_max_ps(_mm512_abs_ps(v[h]), amax);
        }
        float sc = _mm512_reduce_max_ps(amax) / 127.0f;
        __m512i sum = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m512i qi = _mm512_setzero_si512();
            if (sc > 0.0f) {
                __m512 t = _mm512_roundscale_ps(_mm512_div_ps(v[h], _mm512_set1_ps(sc)),
                                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                t = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, t, _CMP_ORD_Q), t);
                t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
                qi = _mm512_cvttps_epi32(t);
            }
            _mm_storeu_si128((__m128i *)(void *)(q + k0 + PW * h), _mm512_cvtepi32_epi8(qi));
            sum = _mm512_add_epi32(sum, qi);
        }
        s[b] = sc;
        c[b] = 128 * _mm512_reduce_add_epi32(sum);
    }
}
#endif

/* The quantized rows of one call. */
typedef struct {
    int nb;     /* blocks per row */
    int8_t *q;  /* (B, nb * 32) */
    float *s;   /* (B, nb) */
    int32_t *c; /* (B, nb) */
} qrows;

/* There is no error path below the forward pass's products (as in matmul.c): a failed
 * allocation of a few rows of activations ends the process. */
static void qrows_init(qrows *r, const float *x, int ldx, int B, int K)
{
    r->nb = (K + QB - 1) / QB;
    size_t nb = (size_t)r->nb * B;
    r->q = malloc(nb * QB + 64);
    r->s = malloc(nb * sizeof(float));
    r->c = malloc(nb * sizeof(int32_t));
    if (!r->q || !r->s || !r->c) abort();
    void (*quantize)(const float *, int, int8_t *, float *, int32_t *) = quantize_row;
#ifdef __AVX2__
    if (hs_k_w8a8_level() >= 2) quantize = quantize_row_avx512;
#endif
    for (int b = 0; b < B; b++)
        quantize(x + (size_t)b * ldx, K, r->q + (size_t)b * r->nb * QB, r->s + (size_t)b * r->nb,
                 r->c + (size_t)b * r->nb);
}

static void qrows_free(qrows *r) { free(r->q), free(r->s), free(r->c); }

/* One quantized row of a call. */
typedef struct {
    const int8_t *q;
    const float *s;
    const int32_t *c;
} qrow;

/* One row, columns [j0, j1) of the slice (rows r0.., columns c0..): the reference every
 * kernel must equal, and the path for slices off the panel grid. */
static void row_scalar(float *y, const int8_t *xq, const float *xs, const int32_t *xc, const hs_wq8 *V, int r0,
                       int c0, int K, int j0, int j1, float beta)
{
    for (int j = j0; j < j1; j++) {
        int n = c0 + j;
        float acc = 0.0f;
        for (int b = 0, k0 = 0; k0 < K; b++, k0 += QB) {
            int32_t sum = 0;
            for (int k = k0; k < K && k < k0 + QB; k++) sum += (int32_t)V->q[w8a8_at(V->Kp, r0 + k, n)] * xq[k];
            acc = fmaf((float)(sum - xc[b]), xs[b], acc);
        }
        float t = acc * V->s[n];
        y[j] = beta == 0.0f ? t : fmaf(beta, y[j], t);
    }
}

#ifdef __AVX2__
/* The weights' 4-row groups in block b: at most 8, fewer in a last short block (never
 * reading rows past the slice's last group of 4). */
static inline int groups(int K, int b)
{
    int g = (K - b * QB + 3) / 4;
    return g < QB / 4 ? g : QB / 4;
}

static inline int32_t load4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ---- AVX512_VNNI: np (1-4) panels of a group at w (at the slice's first row and the
 * first panel; panel p at w + 64 p, 4 rows on at w + RS) against nr (1-2) rows of
 * activations, each weight load serving every row; ncols (<= 16 np) columns of each y[r].
 * A row's operations are those it gets alone. ---- */
static inline __attribute__((always_inline)) HS_VNNI void panels_vnni(float *const y[2], const qrow x[2],
                                                                       const uint8_t *w, int K, const float *sw,
                                                                       int ncols, float beta, const int np,
                                                                       const int nr)
{
    __m512 f[2][4];
    for (int r = 0; r < nr; r++)
        for (int p = 0; p < np; p++) f[r][p] = _mm512_setzero_ps();
    for (int b = 0; b * QB < K; b++) {
        __m512i a[2][4];
        for (int r = 0; r < nr; r++)
            for (int p = 0; p < np; p++) a[r][p] = _mm512_setzero_si512();
        const uint8_t *wb = w + (size_t)b * (QB / 4) * RS;
        for (int i = 0, ng = groups(K, b); i < ng; i++) {
            __m512i xb[2];
            for (int r = 0; r < nr; r++) xb[r] = _mm512_set1_epi32(load4(x[r].q + b * QB + 4 * i));
            for (int p = 0; p < np; p++) {
                __m512i wv = _mm512_loadu_si512((const void *)(wb + 64 * p + RS * i));
                for (int r = 0; r < nr; r++) a[r][p] = _mm512_dpbusd_epi32(a[r][p], wv, xb[r]);
            }
        }
        for (int r = 0; r < nr; r++) {
            __m512i corr = _mm512_set1_epi32(x[r].c[b]);
            __m512 sc = _mm512_set1_ps(x[r].s[b]);
            for (int p = 0; p < np; p++)
                f[r][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a[r][p], corr)), sc, f[r][p]);
        }
    }
    for (int p = 0; p < np; p++) {
        int n = ncols - p * PW;
        __mmask16 m = n >= PW ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
        __m512 s = _mm512_maskz_loadu_ps(m, sw + p * PW);
        for (int r = 0; r < nr; r++) {
            __m512 t = _mm512_mul_ps(f[r][p], s);
            if (beta != 0.0f) t = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, y[r] + p * PW), t);
            _mm512_mask_storeu_ps(y[r] + p * PW, m, t);
        }
    }
}

static HS_VNNI void rows_vnni(float *const y[2], const qrow x[2], int nr, const uint8_t *w, int K, const float *sw,
                              int ncols, float beta)
{
    int np = (ncols + PW - 1) / PW;
#define HS_CASE(NP)                                                               \
    case NP:                                                                      \
        if (nr == 2) panels_vnni(y, x, w, K, sw, ncols, beta, NP, 2);             \
        else panels_vnni(y, x, w, K, sw, ncols, beta, NP, 1);                     \
        break;
    switch (np) {
        HS_CASE(4)
        HS_CASE(3)
        HS_CASE(2)
    default:
        HS_CASE(1)
    }
#undef HS_CASE
}

/* Batch 1 on AVX512_VNNI: HS_STREAMS whole groups far apart in the matrix at once (w[g],
 * outputs y[g], column scales sw[g]), so that that many weight streams are in flight
 * instead of one, as the f32 LM head's dot4_far does with two. The f32 sums wait in
 * memory between blocks (the int32 ones take the registers); each column's operations
 * are panels_vnni's. Each stream is also prefetched HS_PF bytes (4 group rows) ahead:
 * the read probe's fastest way at w8a8's size (4 streams, 1 KiB ahead), and in a kernel-only
 * timing of the gpt2 shape's 49 products it took the kernel from 93% to 97-99% of that
 * probe's rate (the hardware prefetcher stops at every 4 KiB page of each stream). A
 * stream's groups are consecutive, so the prefetch runs on into its next group, but
 * never past `room[g]` bytes from w[g] (the end of the matrix's panels). */
enum { HS_STREAMS = 4, HS_PF = 1024 };

static inline __attribute__((always_inline)) HS_VNNI void groups_vnni(float *const y[HS_STREAMS], const qrow *x,
                                                                       const uint8_t *const w[HS_STREAMS], int K,
                                                                       const float *const sw[HS_STREAMS],
                                                                       const size_t room[HS_STREAMS], float beta,
                                                                       const int guard)
{
    __m512 f[HS_STREAMS][4];
    for (int g = 0; g < HS_STREAMS; g++)
        for (int p = 0; p < 4; p++) f[g][p] = _mm512_setzero_ps();
    for (int b = 0; b * QB < K; b++) {
        __m512i a[HS_STREAMS][4];
        for (int g = 0; g < HS_STREAMS; g++)
            for (int p = 0; p < 4; p++) a[g][p] = _mm512_setzero_si512();
        size_t wb = (size_t)b * (QB / 4) * RS;
        for (int i = 0, ng = groups(K, b); i < ng; i++) {
            __m512i xb = _mm512_set1_epi32(load4(x->q + b * QB + 4 * i));
            for (int g = 0; g < HS_STREAMS; g++)
                if (!guard || wb + RS * (size_t)i + HS_PF + 256 <= room[g])
                    for (int p = 0; p < 4; p++)
                        _mm_prefetch((const char *)w[g] + wb + RS * i + HS_PF + 64 * p, _MM_HINT_T0);
            for (int g = 0; g < HS_STREAMS; g++)
                for (int p = 0; p < 4; p++)
                    a[g][p] = _mm512_dpbusd_epi32(
                        a[g][p], _mm512_loadu_si512((const void *)(w[g] + wb + 64 * p + RS * i)), xb);
        }
        __m512i corr = _mm512_set1_epi32(x->c[b]);
        __m512 sc = _mm512_set1_ps(x->s[b]);
        for (int g = 0; g < HS_STREAMS; g++)
            for (int p = 0; p < 4; p++)
                f[g][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a[g][p], corr)), sc, f[g][p]);
    }
    for (int g = 0; g < HS_STREAMS; g++)
        for (int p = 0; p < 4; p++) {
            __m512 t = _mm512_mul_ps(f[g][p], _mm512_loadu_ps(sw[g] + p * PW));
            if (beta != 0.0f) t = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_loadu_ps(y[g] + p * PW), t);
            _mm512_storeu_ps(y[g] + p * PW, t);
        }
}

/* groups_vnni with the prefetch's bounds check per stream and step (the matrix's last
 * groups) and without it (every prefetch of the call stays inside: the loop has no check). */
static HS_VNNI void groups_vnni_guard(float *const y[HS_STREAMS], const qrow *x, const uint8_t *const w[HS_STREAMS],
                                      int K, const float *const sw[HS_STREAMS], const size_t room[HS_STREAMS],
                                      float beta)
{
    groups_vnni(y, x, w, K, sw, room, beta, 1);
}
static HS_VNNI void groups_vnni_free(float *const y[HS_STREAMS], const qrow *x, const uint8_t *const w[HS_STREAMS],
                                     int K, const float *const sw[HS_STREAMS], const size_t room[HS_STREAMS],
                                     float beta)
{
    groups_vnni(y, x, w, K, sw, room, beta, 0);
}

/* ---- AVX-512BW without VNNI: vpdpbusd emulated exactly. In each 32-bit lane the four
 * weight bytes are split into the even (0, 2) and odd (1, 3) ones as 16-bit words, the
 * activations sign-extended alike, and vpmaddwd adds each pair into 32 bits: no
 * saturation (vpmaddubsw would saturate at 2 x 255 x 127). ---- */
static inline __attribute__((always_inline)) HS_AVX512BW __m512i dpbusd_bw(__m512i acc, __m512i w, __m512i xe,
                                                                            __m512i xo)
{
    __m512i we = _mm512_and_si512(w, _mm512_set1_epi16(0xff)), wo = _mm512_srli_epi16(w, 8);
    return _mm512_add_epi32(acc, _mm512_add_epi32(_mm512_madd_epi16(we, xe), _mm512_madd_epi16(wo, xo)));
}

static inline __attribute__((always_inline)) HS_AVX512BW void panels_bw(float *y, const uint8_t *w,
                                                                         const int8_t *xq, const float *xs,
                                                                         const int32_t *xc, int K, const float *sw,
                                                                         int ncols, float beta, const int np)
{
    __m512 f[4];
    for (int p = 0; p < np; p++) f[p] = _mm512_setzero_ps();
    for (int b = 0; b * QB < K; b++) {
        __m512i a[4];
        for (int p = 0; p < np; p++) a[p] = _mm512_setzero_si512();
        const uint8_t *wb = w + (size_t)b * (QB / 4) * RS;
        for (int i = 0, ng = groups(K, b); i < ng; i++) {
            __m512i xb = _mm512_set1_epi32(load4(xq + b * QB + 4 * i));
            __m512i xe = _mm512_srai_epi16(_mm512_slli_epi16(xb, 8), 8), xo = _mm512_srai_epi16(xb, 8);
            for (int p = 0; p < np; p++)
                a[p] = dpbusd_bw(a[p], _mm512_loadu_si512((const void *)(wb + 64 * p + RS * i)), xe, xo);
        }
        __m512i corr = _mm512_set1_epi32(xc[b]);
        __m512 sc = _mm512_set1_ps(xs[b]);
        for (int p = 0; p < np; p++) f[p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a[p], corr)), sc, f[p]);
    }
    for (int p = 0; p < np; p++) {
        int n = ncols - p * PW;
        __mmask16 m = n >= PW ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
        __m512 t = _mm512_mul_ps(f[p], _mm512_maskz_loadu_ps(m, sw + p * PW));
        if (beta != 0.0f) t = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, y + p * PW), t);
        _mm512_mask_storeu_ps(y + p * PW, m, t);
    }
}

static HS_AVX512BW void row_bw(float *y, const uint8_t *w, const int8_t *xq, const float *xs,
                               const int32_t *xc, int K, const float *sw, int ncols, float beta)
{
    switch ((ncols + PW - 1) / PW) {
    case 4: panels_bw(y, w, xq, xs, xc, K, sw, ncols, beta, 4); break;
    case 3: panels_bw(y, w, xq, xs, xc, K, sw, ncols, beta, 3); break;
    case 2: panels_bw(y, w, xq, xs, xc, K, sw, ncols, beta, 2); break;
    default: panels_bw(y, w, xq, xs, xc, K, sw, ncols, beta, 1); break;
    }
}

/* ---- AVX2: the same emulation on 8 lanes, one panel (two halves) at a time. ---- */
static inline __m256i dpbusd_avx2(__m256i acc, __m256i w, __m256i xe, __m256i xo)
{
    __m256i we = _mm256_and_si256(w, _mm256_set1_epi16(0xff)), wo = _mm256_srli_epi16(w, 8);
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(we, xe), _mm256_madd_epi16(wo, xo)));
}

static void panel_avx2(float *y, const uint8_t *w, const int8_t *xq, const float *xs, const int32_t *xc, int K,
                       const float *sw, int ncols, float beta)
{
    __m256 f[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int b = 0; b * QB < K; b++) {
        __m256i a[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        const uint8_t *wb = w + (size_t)b * (QB / 4) * RS;
        for (int i = 0, ng = groups(K, b); i < ng; i++) {
            __m256i xb = _mm256_set1_epi32(load4(xq + b * QB + 4 * i));
            __m256i xe = _mm256_srai_epi16(_mm256_slli_epi16(xb, 8), 8), xo = _mm256_srai_epi16(xb, 8);
            for (int h = 0; h < 2; h++)
                a[h] = dpbusd_avx2(a[h], _mm256_loadu_si256((const __m256i *)(wb + RS * i + 32 * h)), xe, xo);
        }
        __m256i corr = _mm256_set1_epi32(xc[b]);
        __m256 sc = _mm256_set1_ps(xs[b]);
        for (int h = 0; h < 2; h++) f[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(a[h], corr)), sc, f[h]);
    }
    float t[PW];
    _mm256_storeu_ps(t, f[0]);
    _mm256_storeu_ps(t + 8, f[1]);
    for (int j = 0; j < ncols && j < PW; j++) { /* the scalar tail's operations, lane by lane */
        float v = t[j] * sw[j];
        y[j] = beta == 0.0f ? v : fmaf(beta, y[j], v);
    }
}

static void row_avx2(float *y, const uint8_t *w, const int8_t *xq, const float *xs, const int32_t *xc,
                     int K, const float *sw, int ncols, float beta)
{
    for (int p = 0; p * PW < ncols; p++)
        panel_avx2(y + p * PW, w + 64 * p, xq, xs, xc, K, sw + p * PW, ncols - p * PW, beta);
}
#endif

#ifdef __AVX2__
/* The start of column j of the slice (rows r0.., columns c0..) in the groups. */
static const uint8_t *w8a8_col(const hs_wq8 *V, int r0, int c0, int j)
{
    int col = c0 + j;
    return V->q + (size_t)(col / GW) * V->Kp * GW + (size_t)r0 * GW + (size_t)(col % GW) * 4;
}
#endif

/* Columns [j, j + nc) of the slice, inside one group, for every row. */
static void w8a8_chunk(float *y, int ldy, const qrows *x, const hs_wq8 *V, int r0, int c0, int B, int K, int j,
                       int nc, float beta, int level)
{
#ifdef __AVX2__
    const uint8_t *w = w8a8_col(V, r0, c0, j);
    const float *sw = V->s + c0 + j;
#endif
    for (int b = 0; b < B;) {
        const qrow xb = {x->q + (size_t)b * x->nb * QB, x->s + (size_t)b * x->nb, x->c + (size_t)b * x->nb};
        float *yb = y + (size_t)b * ldy + j;
#ifdef __AVX2__
        if (level == 3) { /* two rows per weight load */
            int nr = B - b < 2 ? B - b : 2;
            float *yr[2] = {yb, nr == 2 ? yb + ldy : yb};
            qrow xr[2] = {xb, xb};
            if (nr == 2) xr[1] = (qrow){xb.q + x->nb * QB, xb.s + x->nb, xb.c + x->nb};
            rows_vnni(yr, xr, nr, w, K, sw, nc, beta);
            b += nr;
            continue;
        }
        if (level == 2) row_bw(yb, w, xb.q, xb.s, xb.c, K, sw, nc, beta);
        else if (level == 1) row_avx2(yb, w, xb.q, xb.s, xb.c, K, sw, nc, beta);
        else
#endif
            row_scalar(yb - j, xb.q, xb.s, xb.c, V, r0, c0, K, j, j + nc, beta);
        b++;
    }
}

/* Columns [lo, hi) of the slice for every row, a group's columns (up to 64: Kp x 64
 * bytes, in L2) against each row in turn, so a prefill or batch reads the weights from
 * memory once; batch 1 on VNNI takes the whole groups two at a time, from the first and
 * the second half of the range. */
static void w8a8_cols(float *y, int ldy, const qrows *x, const hs_wq8 *V, int r0, int c0, int B, int K, int lo,
                      int hi, float beta)
{
    int level = hs_k_w8a8_level();
    if ((c0 + lo) % PW || r0 % 4) level = 0; /* a slice off the panel grid */
    int ja = hi, nfull = 0; /* the whole groups: [ja, ja + 64 nfull) */
#ifdef __AVX2__
    if (level == 3 && B == 1) {
        ja = lo + (GW - (c0 + lo) % GW) % GW;
        ja = ja < hi ? ja : hi;
        nfull = (hi - ja) / GW;
    }
#endif
    for (int j = lo, nc; j < ja; j += nc) {
        int rest = GW - (c0 + j) % GW; /* columns to the group's end */
        nc = ja - j < rest ? ja - j : rest;
        w8a8_chunk(y, ldy, x, V, r0, c0, B, K, j, nc, beta, level);
    }
#ifdef __AVX2__
    int part = nfull / HS_STREAMS; /* each stream takes `part` consecutive groups */
    const uint8_t *end = V->q + (size_t)((V->N + GW - 1) / GW) * V->Kp * GW;
    for (int g = 0; g < part; g++) {
        float *yg[HS_STREAMS];
        const uint8_t *wg[HS_STREAMS];
        const float *sg[HS_STREAMS];
        size_t room[HS_STREAMS];
        for (int t = 0; t < HS_STREAMS; t++) {
            int jt = ja + (g + t * part) * GW;
            yg[t] = y + jt, wg[t] = w8a8_col(V, r0, c0, jt), sg[t] = V->s + c0 + jt;
            room[t] = (size_t)(end - wg[t]);
        }
        /* the last stream is furthest on; its prefetches reach at most this far */
        size_t reach = (size_t)((K + QB - 1) / QB) * (QB / 4) * RS + HS_PF + 256;
        if (reach <= room[HS_STREAMS - 1]) groups_vnni_free(yg, &(qrow){x->q, x->s, x->c}, wg, K, sg, room, beta);
        else groups_vnni_guard(yg, &(qrow){x->q, x->s, x->c}, wg, K, sg, room, beta);
    }
    for (int g = part * HS_STREAMS; g < nfull; g++)
        w8a8_chunk(y, ldy, x, V, r0, c0, B, K, ja + g * GW, GW, beta, level);
#endif
    for (int j = ja + nfull * GW, nc; j < hi; j += nc) {
        int rest = GW - (c0 + j) % GW;
        nc = hi - j < rest ? hi - j : rest;
        w8a8_chunk(y, ldy, x, V, r0, c0, B, K, j, nc, beta, level);
    }
}

void hs_k_w8a8(float *y, int ldy, const float *x, int ldx, const hs_wq8 *V, int r0, int c0, int B, int K, int N,
               float beta)
{
    qrows q;
    qrows_init(&q, x, ldx, B, K);
    int T = hs_k_threads_for((double)B * K * N);
    if (T == 1) {
        w8a8_cols(y, ldy, &q, V, r0, c0, B, K, 0, N, beta);
    } else {
        HS_PARALLEL
        {
            int lo, hi; /* whole groups */
            hs_k_share(N, GW, HS_THREAD_ID, T, &lo, &hi);
            if (lo < hi) w8a8_cols(y, ldy, &q, V, r0, c0, B, K, lo, hi, beta);
        }
    }
    qrows_free(&q);
}
