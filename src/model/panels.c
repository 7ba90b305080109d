/* panels.c: batch-1 decode's layer products and LM head on weights laid out in the order
 * the kernels read them (hs_model_opts.panels, hs_wpanel in model.h): a (K, N) matrix as N / 64
 * column groups one after another, group g the (K, 64) block of columns 64g .. 64g+63,
 * rows in order. A product reads four groups far apart at a time, each a sequential
 * stream of K x 256 bytes (f32) with a software prefetch 1 KiB ahead, and keeps each
 * group's 64 outputs in registers over all K: the way of reading that the read probe
 * (bench_engine --read-bw --read-streams 0) found fastest, and that w8a8.c's batch-1
 * kernel uses. The row kernel (kernels_wt.h rows8_update) reads eight weight rows of the
 * original layout at a time and was at 70-91% of the probe on the gpt2 shape's layer
 * products where this one is at 95-102% (bench/bench_kern.c; docs/performance.md,
 * "Batch-1 products on panels").
 *
 * Same bits: each output element starts from y (beta != 0) or zero and takes one fused
 * multiply-add per k in k order, fma(x[k], W[k][j], acc), which is rows8_update's chain
 * (it stores and reloads acc between groups of eight rows, exactly). bf16 and int8
 * weights are widened exactly before the multiply-add, as there (int8: the unscaled
 * values, x scaled by the caller, matmul.c; a group row is 64 bytes, the LM head's k-step
 * of 8 rows one 64-byte line, 16 bytes per pair of rows).
 *
 * bf16 groups: each 32-column half of a group row is one 64-byte line whose 32-bit word i
 * holds column i in its low half and column 16 + i in its high half, so a shift and a
 * mask widen the line to the two 16-column vectors (no shuffles).
 *
 * The LM head (V, K), whose rows are the outputs, is laid out for the same way of reading
 * in blocks of 8 vocabulary rows: within a block, steps of 8 k; a step holds, per pair of
 * rows, 8 values of the first row then 8 of the second (f32: one 64-byte line per pair),
 * or in bf16 per 4 rows (a, b, c, d) one line whose word i holds a's (i < 8) or b's value
 * k + i % 8 in its low half and c's or d's in its high half. A zmm register then carries
 * two rows' 8-lane partial sums, and each row keeps dot4's chain (kernels_wt.h): 8 lanes
 * summed in k order with FMAs, then hsum256 (K a multiple of 8: no tail).
 *
 * AVX-512 only (hs_k_avx512()); elsewhere hs_k_panels does nothing and returns 0, and
 * the caller takes the row kernel on the original layout. */
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include <string.h>

#include "kernels.h"

enum {
    GW = 64,       /* columns per group: four zmm accumulators */
    NS = 4,        /* groups (streams) read at a time */
    PF_BYTES = 1024, /* prefetch distance per stream */
    HR = 8           /* LM head rows per block */
};

int hs_k_panels_fit(int K, int N) { return K > 0 && N > 0 && N % GW == 0; }

void hs_k_panels_make_f32(float *dst, const float *W, int K, int N)
{
    for (int g = 0; g < N / GW; g++)
        for (int k = 0; k < K; k++)
            memcpy(dst + ((size_t)g * K + k) * GW, W + (size_t)k * N + (size_t)g * GW, GW * sizeof(float));
}

/* One group row of 64 bf16 values (s) in the paired order (d; not s). */
static void pair_row_bf16(uint16_t *restrict d, const uint16_t *restrict s)
{
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 16; i++) d[32 * h + 2 * i] = s[32 * h + i], d[32 * h + 2 * i + 1] = s[32 * h + 16 + i];
}

void hs_k_panels_make_bf16(uint16_t *dst, const uint16_t *W, int K, int N)
{
    for (int g = 0; g < N / GW; g++)
        for (int k = 0; k < K; k++) pair_row_bf16(dst + ((size_t)g * K + k) * GW, W + (size_t)k * N + (size_t)g * GW);
}

void hs_k_panels_pair_bf16(uint16_t *rows, size_t n)
{
    uint16_t s[GW];
    for (size_t r = 0; r < n; r++) {
        memcpy(s, rows + r * GW, sizeof s);
        pair_row_bf16(rows + r * GW, s);
    }
}

void hs_k_panels_make_i8(int8_t *dst, const int8_t *W, int K, int N)
{
    for (int g = 0; g < N / GW; g++)
        for (int k = 0; k < K; k++) memcpy(dst + ((size_t)g * K + k) * GW, W + (size_t)k * N + (size_t)g * GW, GW);
}

int hs_k_panels_head_fit(int V, int K) { return V >= HR && K > 0 && K % 8 == 0; }

int hs_k_panels_head_rows(int V) { return V / HR * HR; }

void hs_k_panels_make_head_f32(float *dst, const float *W, int V, int K)
{
    for (int b = 0; b < V / HR; b++)
        for (int k = 0; k < K; k += 8)
            for (int r = 0; r < HR; r++)
                memcpy(dst + ((size_t)b * K + k) * HR + 8 * r, W + (size_t)(b * HR + r) * K + k, 8 * sizeof(float));
}

void hs_k_panels_make_head_i8(int8_t *dst, const int8_t *W, int V, int K)
{
    for (int b = 0; b < V / HR; b++)
        for (int k = 0; k < K; k += 8)
            for (int r = 0; r < HR; r++)
                memcpy(dst + ((size_t)b * K + k) * HR + 8 * r, W + (size_t)(b * HR + r) * K + k, 8);
}

void hs_k_panels_make_head_bf16(uint16_t *dst, const uint16_t *W, int V, int K)
{
    for (int b = 0; b < V / HR; b++)
        for (int k = 0; k < K; k += 8)
            for (int q = 0; q < HR / 4; q++) {
                uint16_t *d = dst + ((size_t)b * K + k) * HR + 32 * q;
                const uint16_t *r = W + (size_t)(b * HR + 4 * q) * K + k; /* rows a, b, c, d from here */
                for (int i = 0; i < 16; i++) {
                    d[2 * i] = r[(size_t)(i / 8) * K + i % 8];
                    d[2 * i + 1] = r[(size_t)(2 + i / 8) * K + i % 8];
                }
            }
}

#ifdef __AVX2__
/* ns (1 or NS, a constant after inlining) groups: y[t] (64) = beta y[t] + x (K) @ group
 * w[t] (K, 64). No prefetch at or past end (the matrix's last byte); end NULL (a constant
 * after inlining): no prefetch can reach it, and the loop has no check. */
static inline __attribute__((always_inline)) HS_AVX512 void groups_f32(float *const y[NS], const float *x,
                                                                       const float *const w[NS], int K, int acc,
                                                                       const char *end, const int ns)
{
    __m512 a[NS][4];
    for (int t = 0; t < ns; t++)
        for (int p = 0; p < 4; p++) a[t][p] = acc ? _mm512_loadu_ps(y[t] + 16 * p) : _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m512 xb = _mm512_set1_ps(x[k]);
        for (int t = 0; t < ns; t++) {
            const char *q = (const char *)(w[t] + (size_t)k * GW) + PF_BYTES;
            if (!end || q + GW * sizeof(float) <= end)
                for (int p = 0; p < 4; p++) _mm_prefetch(q + 64 * p, _MM_HINT_T0);
        }
        for (int t = 0; t < ns; t++)
            for (int p = 0; p < 4; p++)
                a[t][p] = _mm512_fmadd_ps(xb, _mm512_load_ps(w[t] + (size_t)k * GW + 16 * p), a[t][p]);
    }
    for (int t = 0; t < ns; t++)
        for (int p = 0; p < 4; p++) _mm512_storeu_ps(y[t] + 16 * p, a[t][p]);
}

static inline __attribute__((always_inline)) HS_AVX512 void groups_bf16(float *const y[NS], const float *x,
                                                                        const uint16_t *const w[NS], int K, int acc,
                                                                        const char *end, const int ns)
{
    __m512 a[NS][4];
    for (int t = 0; t < ns; t++)
        for (int p = 0; p < 4; p++) a[t][p] = acc ? _mm512_loadu_ps(y[t] + 16 * p) : _mm512_setzero_ps();
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    for (int k = 0; k < K; k++) {
        __m512 xb = _mm512_set1_ps(x[k]);
        for (int t = 0; t < ns; t++) {
            const char *q = (const char *)(w[t] + (size_t)k * GW) + PF_BYTES;
            if (!end || q + GW * sizeof(uint16_t) <= end)
                for (int p = 0; p < 2; p++) _mm_prefetch(q + 64 * p, _MM_HINT_T0);
        }
        for (int t = 0; t < ns; t++)
            for (int h = 0; h < 2; h++) {
                __m512i v = _mm512_load_si512((const void *)(w[t] + (size_t)k * GW + 32 * h));
                a[t][2 * h] = _mm512_fmadd_ps(xb, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), a[t][2 * h]);
                a[t][2 * h + 1] = _mm512_fmadd_ps(xb, _mm512_castsi512_ps(_mm512_and_si512(v, hi)), a[t][2 * h + 1]);
            }
    }
    for (int t = 0; t < ns; t++)
        for (int p = 0; p < 4; p++) _mm512_storeu_ps(y[t] + 16 * p, a[t][p]);
}

/* int8 (unscaled values; x comes scaled): each 16 bytes widened exactly to 16 floats, as
 * rows8_update_i8's hs_i8x8_load does 8 at a time. */
static inline __attribute__((always_inline)) HS_AVX512 void groups_i8(float *const y[NS], const float *x,
                                                                      const int8_t *const w[NS], int K, int acc,
                                                                      const char *end, const int ns)
{
    __m512 a[NS][4];
    for (int t = 0; t < ns; t++)
        for (int p = 0; p < 4; p++) a[t][p] = acc ? _mm512_loadu_ps(y[t] + 16 * p) : _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m512 xb = _mm512_set1_ps(x[k]);
        for (int t = 0; t < ns; t++) {
            const char *q = (const char *)(w[t] + (size_t)k * GW) + PF_BYTES;
            if (!end || q + GW <= end) _mm_prefetch(q, _MM_HINT_T0);
        }
        for (int t = 0; t < ns; t++)
            for (int p = 0; p < 4; p++) {
                __m128i v = _mm_load_si128((const __m128i *)(const void *)(w[t] + (size_t)k * GW + 16 * p));
                a[t][p] = _mm512_fmadd_ps(xb, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)), a[t][p]);
            }
    }
    for (int t = 0; t < ns; t++)
        for (int p = 0; p < 4; p++) _mm512_storeu_ps(y[t] + 16 * p, a[t][p]);
}

static HS_AVX512 void groups4_i8_free(float *const y[NS], const float *x, const int8_t *const w[NS], int K, int acc,
                                      const char *end)
{
    (void)end;
    groups_i8(y, x, w, K, acc, NULL, NS);
}
static HS_AVX512 void groups4_i8(float *const y[NS], const float *x, const int8_t *const w[NS], int K, int acc,
                                 const char *end)
{
    groups_i8(y, x, w, K, acc, end, NS);
}
static HS_AVX512 void groups1_i8(float *const y[NS], const float *x, const int8_t *const w[NS], int K, int acc,
                                 const char *end)
{
    groups_i8(y, x, w, K, acc, end, 1);
}

static HS_AVX512 void groups4_f32_free(float *const y[NS], const float *x, const float *const w[NS], int K, int acc,
                                      const char *end)
{
    (void)end;
    groups_f32(y, x, w, K, acc, NULL, NS);
}
static HS_AVX512 void groups4_f32(float *const y[NS], const float *x, const float *const w[NS], int K, int acc,
                                  const char *end)
{
    groups_f32(y, x, w, K, acc, end, NS);
}
static HS_AVX512 void groups1_f32(float *const y[NS], const float *x, const float *const w[NS], int K, int acc,
                                  const char *end)
{
    groups_f32(y, x, w, K, acc, end, 1);
}
static HS_AVX512 void groups4_bf16_free(float *const y[NS], const float *x, const uint16_t *const w[NS], int K, int acc,
                                      const char *end)
{
    (void)end;
    groups_bf16(y, x, w, K, acc, NULL, NS);
}
static HS_AVX512 void groups4_bf16(float *const y[NS], const float *x, const uint16_t *const w[NS], int K, int acc,
                                   const char *end)
{
    groups_bf16(y, x, w, K, acc, end, NS);
}
static HS_AVX512 void groups1_bf16(float *const y[NS], const float *x, const uint16_t *const w[NS], int K, int acc,
                                   const char *end)
{
    groups_bf16(y, x, w, K, acc, end, 1);
}

/* The first group of P and the bytes of one group (P->K rows of 64 values). */
static const char *groups_base(const hs_wpanel *P, size_t *gbytes)
{
    size_t es = P->f ? sizeof(float) : P->h ? sizeof(uint16_t) : 1;
    *gbytes = (size_t)P->K * GW * es;
    return P->f ? (const char *)P->f : P->h ? (const char *)P->h : (const char *)P->q;
}

/* ns (1 or NS) groups of P, K rows from ww[t] each, into yy[t]; the streams in ascending
 * order of address. */
static void groups_call(const hs_wpanel *P, float *const yy[NS], const char *const ww[NS], const float *x, int K,
                        int ns, int acc)
{
    size_t gbytes;
    const char *base = groups_base(P, &gbytes), *end = base + (size_t)(P->N / GW) * gbytes;
    size_t es = gbytes / ((size_t)P->K * GW);
    /* the last stream is furthest on: when its prefetches stay inside, all do */
    int free_ = ns == NS && ww[NS - 1] + (size_t)K * GW * es + PF_BYTES <= end;
    if (P->f && free_) groups4_f32_free(yy, x, (const float *const *)ww, K, acc, end);
    else if (P->f && ns == NS) groups4_f32(yy, x, (const float *const *)ww, K, acc, end);
    else if (P->f) groups1_f32(yy, x, (const float *const *)ww, K, acc, end);
    else if (P->q && free_) groups4_i8_free(yy, x, (const int8_t *const *)ww, K, acc, end);
    else if (P->q && ns == NS) groups4_i8(yy, x, (const int8_t *const *)ww, K, acc, end);
    else if (P->q) groups1_i8(yy, x, (const int8_t *const *)ww, K, acc, end);
    else if (free_) groups4_bf16_free(yy, x, (const uint16_t *const *)ww, K, acc, end);
    else if (ns == NS) groups4_bf16(yy, x, (const uint16_t *const *)ww, K, acc, end);
    else groups1_bf16(yy, x, (const uint16_t *const *)ww, K, acc, end);
}

/* Groups g, g + step, .. (ns of them; ns 1 or NS) of the slice: rows r0 .. r0+K of the
 * matrix, its first group gc. */
static void panels_run(float *y, const float *x, const hs_wpanel *P, int r0, int gc, int K, int g, int step, int ns,
                       int acc)
{
    size_t gbytes;
    const char *base = groups_base(P, &gbytes);
    size_t es = gbytes / ((size_t)P->K * GW);
    float *yy[NS];
    const char *ww[NS];
    for (int t = 0; t < ns; t++) {
        yy[t] = y + (size_t)(g + t * step) * GW;
        ww[t] = base + (size_t)(gc + g + t * step) * gbytes + (size_t)r0 * GW * es;
    }
    groups_call(P, yy, ww, x, K, ns, acc);
}

/* Listed groups [i0, i1) of list g (ascending): NS streams, each through its own quarter,
 * then the rest one at a time; group g[i] into y[64 g[i] ..). */
static void panels_list_serial(float *y, const float *x, const hs_wpanel *P, const int *g, int i0, int i1)
{
    size_t gbytes;
    const char *base = groups_base(P, &gbytes);
    int part = (i1 - i0) / NS;
    for (int i = i0; i < i1;) {
        int ns = i < i0 + part ? NS : 1, step = ns == NS ? part : 0;
        float *yy[NS];
        const char *ww[NS];
        for (int t = 0; t < ns; t++) {
            int j = g[i + t * step];
            yy[t] = y + (size_t)j * GW;
            ww[t] = base + (size_t)j * gbytes;
        }
        groups_call(P, yy, ww, x, P->K, ns, 0);
        i = ns == NS && i + 1 == i0 + part ? i0 + NS * part : i + 1;
    }
}

int hs_k_panels_list(float *y, const float *x, const hs_wpanel *P, const int *g, int ng)
{
    if (!hs_k_avx512() || ng <= 0) return 0;
    int T = hs_k_threads_for((double)ng * P->K * GW);
    if (T == 1) {
        panels_list_serial(y, x, P, g, 0, ng);
        return 1;
    }
    HS_PARALLEL
    {
        int lo, hi;
        hs_k_share(ng, 1, HS_THREAD_ID, T, &lo, &hi);
        if (lo < hi) panels_list_serial(y, x, P, g, lo, hi);
    }
    return 1;
}

/* Groups [g0, g1): NS streams, each through its own quarter of consecutive groups, then
 * the rest one at a time. */
static void panels_serial(float *y, const float *x, const hs_wpanel *P, int r0, int gc, int K, int g0, int g1,
                          int acc)
{
    int part = (g1 - g0) / NS;
    for (int g = g0; g < g0 + part; g++) panels_run(y, x, P, r0, gc, K, g, part, NS, acc);
    for (int g = g0 + NS * part; g < g1; g++) panels_run(y, x, P, r0, gc, K, g, 0, 1, acc);
}

int hs_k_panels(float *y, const float *x, const hs_wpanel *P, size_t off, int K, int N, float beta)
{
    int r0 = (int)(off / (size_t)P->N), c0 = (int)(off % (size_t)P->N);
    if (!hs_k_avx512() || c0 % GW || N % GW || r0 + K > P->K || c0 + N > P->N) return 0;
    int ng = N / GW, acc = beta != 0.0f;
    int T = hs_k_threads_for((double)K * N);
    if (T == 1) {
        panels_serial(y, x, P, r0, c0 / GW, K, 0, ng, acc);
        return 1;
    }
    HS_PARALLEL
    {
        int lo, hi; /* whole groups per thread */
        hs_k_share(ng, 1, HS_THREAD_ID, T, &lo, &hi);
        if (lo < hi) panels_serial(y, x, P, r0, c0 / GW, K, lo, hi, acc);
    }
    return 1;
}
/* hsum256 of the lower and upper 8 lanes of v (kernels.h's sum, the same bits). */
static inline __attribute__((always_inline)) HS_AVX512 float hsum_lo(__m512 v)
{
    return hsum256(_mm512_castps512_ps256(v));
}
static inline __attribute__((always_inline)) HS_AVX512 float hsum_hi(__m512 v)
{
    return hsum256(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/* ns (1 or NS) head blocks b[t]: y[8 b[t] .. 8 b[t] + 8) = rows of the block . x (K). a[t][i]
 * holds rows 2i and 2i + 1 (f32, int8) or, for bf16, a[t][2q] rows 4q, 4q + 1 and a[t][2q + 1]
 * rows 4q + 2, 4q + 3. ty (HT_F32, HT_BF16, HT_I8) and ns are constants after inlining, so
 * the k loop holds the widening of one type only; guard: some prefetch would pass the
 * matrix's end (the last blocks only), checked per step then, else never. */
enum { HT_F32, HT_BF16, HT_I8 };

static inline __attribute__((always_inline)) HS_AVX512 void head_blocks(float *y, const char *base, size_t bbytes,
                                                                        const char *end, const int *b,
                                                                        const float *x, int K, const int ty,
                                                                        const int ns, const int guard)
{
    const size_t es = ty == HT_F32 ? sizeof(float) : ty == HT_BF16 ? sizeof(uint16_t) : 1;
    const size_t step = HR * 8 * es; /* bytes per 8 k */
    const char *w[NS];
    __m512 a[NS][4];
    const __m512i hm = _mm512_set1_epi32((int)0xffff0000u);
    for (int t = 0; t < ns; t++) {
        w[t] = base + (size_t)b[t] * bbytes;
        for (int i = 0; i < 4; i++) a[t][i] = _mm512_setzero_ps();
    }
    for (int k = 0; k < K; k += 8) {
        __m512 xv = _mm512_broadcast_f32x8(_mm256_loadu_ps(x + k));
        const size_t at = (size_t)(k / 8) * step;
        for (int t = 0; t < ns; t++)
            if (!guard || w[t] + at + PF_BYTES + step <= end)
                for (size_t l = 0; l < step; l += 64) _mm_prefetch(w[t] + at + PF_BYTES + l, _MM_HINT_T0);
        for (int t = 0; t < ns; t++) {
            const char *q = w[t] + at;
            if (ty == HT_F32) {
                for (int i = 0; i < 4; i++)
                    a[t][i] = _mm512_fmadd_ps(_mm512_load_ps((const float *)(const void *)q + 16 * i), xv, a[t][i]);
            } else if (ty == HT_I8) { /* one line per k-step: rows 2i, 2i + 1 in each 16 bytes */
                for (int i = 0; i < 4; i++) {
                    __m128i v = _mm_load_si128((const __m128i *)(const void *)(q + 16 * i));
                    a[t][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)), xv, a[t][i]);
                }
            } else {
                for (int h = 0; h < 2; h++) {
                    __m512i v = _mm512_load_si512((const void *)(q + 64 * h));
                    a[t][2 * h] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), xv, a[t][2 * h]);
                    a[t][2 * h + 1] =
                        _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, hm)), xv, a[t][2 * h + 1]);
                }
            }
        }
    }
    for (int t = 0; t < ns; t++) {
        float *yb = y + (size_t)b[t] * HR;
        for (int i = 0; i < 4; i++) {
            int r = ty == HT_BF16 ? 4 * (i / 2) + 2 * (i % 2) : 2 * i; /* the row in the lower lanes */
            yb[r] = hsum_lo(a[t][i]);
            yb[r + 1] = hsum_hi(a[t][i]);
        }
    }
}

#define HS_HEAD_FN(NAME, TY, NSV, GUARD)                                                                        \
    static HS_AVX512 void NAME(float *y, const char *base, size_t bbytes, const char *end, const int *b,       \
                               const float *x, int K)                                                        \
    {                                                                                                         \
        head_blocks(y, base, bbytes, end, b, x, K, TY, NSV, GUARD);                                           \
    }
HS_HEAD_FN(head4_f32, HT_F32, NS, 0)
HS_HEAD_FN(head4_f32_guard, HT_F32, NS, 1)
HS_HEAD_FN(head1_f32_guard, HT_F32, 1, 1)
HS_HEAD_FN(head4_bf16, HT_BF16, NS, 0)
HS_HEAD_FN(head4_bf16_guard, HT_BF16, NS, 1)
HS_HEAD_FN(head1_bf16_guard, HT_BF16, 1, 1)
HS_HEAD_FN(head4_i8, HT_I8, NS, 0)
HS_HEAD_FN(head4_i8_guard, HT_I8, NS, 1)
HS_HEAD_FN(head1_i8_guard, HT_I8, 1, 1)
#undef HS_HEAD_FN

typedef void (*head_fn)(float *, const char *, size_t, const char *, const int *, const float *, int);

/* Blocks [b0, b1): NS streams, each through its own quarter, then the rest one at a time.
 * The guarded kernels (a bounds check per prefetch) only where a stream's block and its
 * prefetch distance reach past the matrix's end. */
static void head_serial(float *y, const hs_wpanel *P, const float *x, int K, int b0, int b1)
{
    int ty = P->f ? HT_F32 : P->h ? HT_BF16 : HT_I8;
    static const head_fn four[3] = {head4_f32, head4_bf16, head4_i8};
    static const head_fn four_guard[3] = {head4_f32_guard, head4_bf16_guard, head4_i8_guard};
    static const head_fn one[3] = {head1_f32_guard, head1_bf16_guard, head1_i8_guard};
    size_t es = ty == HT_F32 ? sizeof(float) : ty == HT_BF16 ? sizeof(uint16_t) : 1, bbytes = (size_t)HR * K * es;
    const char *base = P->f ? (const char *)P->f : P->h ? (const char *)P->h : (const char *)P->q;
    const char *end = base + (size_t)(P->N / HR) * bbytes;
    int part = (b1 - b0) / NS;
    for (int b = b0; b < b0 + part; b++) {
        int bs[NS] = {b, b + part, b + 2 * part, b + 3 * part};
        int safe = base + (size_t)(bs[NS - 1] + 1) * bbytes + PF_BYTES <= end; /* the last stream is furthest on */
        (safe ? four : four_guard)[ty](y, base, bbytes, end, bs, x, K);
    }
    for (int b = b0 + NS * part; b < b1; b++) one[ty](y, base, bbytes, end, (int[NS]){b, 0, 0, 0}, x, K);
}

int hs_k_panels_head(float *y, const hs_wpanel *P, const float *x, int K)
{
    if (!hs_k_avx512() || K != P->K || K % 8) return 0;
    int nb = P->N / HR, T = hs_k_threads_for((double)P->N * K);
    if (T == 1) {
        head_serial(y, P, x, K, 0, nb);
        return nb * HR;
    }
    HS_PARALLEL
    {
        int lo, hi;
        hs_k_share(nb, 1, HS_THREAD_ID, T, &lo, &hi);
        if (lo < hi) head_serial(y, P, x, K, lo, hi);
    }
    return nb * HR;
}
#else
int hs_k_panels_list(float *y, const float *x, const hs_wpanel *P, const int *g, int ng)
{
    return (void)y, (void)x, (void)P, (void)g, (void)ng, 0;
}
int hs_k_panels(float *y, const float *x, const hs_wpanel *P, size_t off, int K, int N, float beta)
{
    return (void)y, (void)x, (void)P, (void)off, (void)K, (void)N, (void)beta, 0;
}
int hs_k_panels_head(float *y, const hs_wpanel *P, const float *x, int K)
{
    return (void)y, (void)P, (void)x, (void)K, 0;
}
#endif
