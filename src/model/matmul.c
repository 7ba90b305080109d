/* matmul.c: the one dispatcher of the forward pass's matrix products. Each product goes
 * to the implementation that is fastest for its shape and weights, all giving the bits
 * the forward pass's tests rely on:
 *   - 1-3 rows of activations (decode): the row kernels (rows.c), weights read in place;
 *   - 4-47 rows (decode batches, short prompts): the register-blocked tiles (gemm.c), on
 *     the pre-packed copy when the model has one (throughput mode), with the same chains;
 *   - prefill, 48 rows and more: f32 weights to OpenBLAS's cblas_sgemm when it loaded
 *     AVX-512 kernels on an AMD CPU (or HS_GEMM_BLAS=1), else, and for bf16 weights and
 *     the LM head's transposed product, our tiles (gemm.c; in throughput mode the layer products read
 *     the pre-packed copy when the slice starts on its blocks, with the same bits). This
 *     is where the forward pass uses OpenBLAS (backward.c's gate-gradient pass calls
 *     cblas_sgemm directly).
 * W8A8 weights (hs_w.v) take w8a8.c's one kernel at every row count.
 * Without AVX2 every f32 product goes to OpenBLAS. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernels.h"

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

static void gemm_impl(float *C, int ldc, const float *A, int lda, hs_w B, int ldb, int trans_b, int M, int K, int N,
                      float beta);

/* ---- int8 weights: each stored row r of W has a scale s[r] (W = s * q). In x @ W the
 * rows of W are the inputs, so x is scaled first (x'[k] = x[k] s[k], one rounding each)
 * and the kernels multiply x' by the int8 values widened exactly, with the chains of the
 * f32 kernels: batch and single rows stay bit-identical. In x @ W^T (the LM head) the rows
 * are the outputs, scaled after the sums. ---- */

/* A block the kernels need for one call. There is no error path below the forward pass's
 * products; an allocation of a few rows of activations that fails ends the process. */
static float *scratch(size_t n)
{
    float *p = malloc(n * sizeof(float));
    if (!p) abort();
    return p;
}

/* The row scales of slice W (row stride ldw): row poff / ldw of the whole matrix on. */
static const float *i8_scales(hs_w W, int ldw) { return W.qs + W.poff / (size_t)ldw; }

/* xs (B, K) = x (B, K) * s (K) per column. */
static float *i8_scale_x(const float *x, int ldx, int B, int K, const float *s)
{
    float *xs = scratch((size_t)B * K);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++) xs[(size_t)b * K + k] = x[(size_t)b * ldx + k] * s[k];
    return xs;
}

/* y (B, N) = beta * y + t (B, N) * s (N) per column. */
static void i8_scale_out(float *y, int ldy, const float *t, int B, int N, const float *s, float beta)
{
    for (int b = 0; b < B; b++) {
        float *yb = y + (size_t)b * ldy;
        const float *tb = t + (size_t)b * N;
        for (int n = 0; n < N; n++) yb[n] = beta == 0.0f ? tb[n] * s[n] : fmaf(beta, yb[n], tb[n] * s[n]);
    }
}

/* y = beta * y + x @ W for x already scaled when W is int8. */
static void rows_impl(float *y, int ldy, const float *x, int ldx, hs_w W, int ldw, int B, int K, int N, float beta)
{
    /* batch 1 on the panels (latency mode), the layers read whole: skip-mode layers with
     * heads off keep the row kernel, without prefetch (forward_step.c layer_w) */
    if (W.g && B == 1 && !W.no_prefetch && ldw == W.g->N && hs_k_panels(y, x, W.g, W.poff, K, N, beta))
        return;
    if (W.p && B >= HS_PACKED_MIN_ROWS && ldw == W.p->N &&
        hs_k_matmul_packed(y, ldy, x, ldx, W.p, W.poff, B, K, N, beta))
        return;
#ifdef __AVX2__
    if (B >= HS_PACKED_MIN_ROWS) { /* register-blocked tiles, the same chains */
        if (W.q) hs_k_gemm_acc_i8(y, ldy, x, ldx, W.q, ldw, B, K, N, beta);
        else if (W.h) hs_k_gemm_acc_bf16(y, ldy, x, ldx, W.h, ldw, B, K, N, beta);
        else hs_k_gemm_acc_f32(y, ldy, x, ldx, W.f, ldw, B, K, N, beta);
        return;
    }
#endif
    if (W.q) hs_k_rows_i8(y, ldy, x, ldx, W.q, ldw, B, K, N, beta, !W.no_prefetch);
    else if (W.h) hs_k_rows_bf16(y, ldy, x, ldx, W.h, ldw, B, K, N, beta, !W.no_prefetch);
    else hs_k_rows_f32(y, ldy, x, ldx, W.f, ldw, B, K, N, beta, !W.no_prefetch);
}

/* y = x @ W^T, unscaled int8 values when W is int8. */
static void dotrows_impl(float *y, int ldy, hs_w W, int ldw, const float *x, int ldx, int B, int N, int K)
{
    if (W.q) hs_k_dotrows_i8(y, ldy, W.q, ldw, x, ldx, B, N, K);
    else if (W.h) hs_k_dotrows_bf16(y, ldy, W.h, ldw, x, ldx, B, N, K);
    else hs_k_dotrows_f32(y, ldy, W.f, ldw, x, ldx, B, N, K);
}

/* W8A8 weights: every product, whatever its row count, is hs_k_w8a8 on the slice at
 * element poff of the whole matrix (row stride ldw); its rows never depend on each other,
 * so every route gives a row the same bits. */
static void w8a8(float *y, int ldy, const float *x, int ldx, hs_w W, int ldw, int B, int K, int N, float beta)
{
    hs_k_w8a8(y, ldy, x, ldx, W.v, (int)(W.poff / (size_t)ldw), (int)(W.poff % (size_t)ldw), B, K, N, beta);
}

void hs_k_matmul_rows(float *y, int ldy, const float *x, int ldx, hs_w W, int ldw, int B, int K, int N, float beta)
{
    if (W.v) {
        w8a8(y, ldy, x, ldx, W, ldw, B, K, N, beta);
        return;
    }
    if (!W.q) {
        rows_impl(y, ldy, x, ldx, W, ldw, B, K, N, beta);
        return;
    }
    float *xs = i8_scale_x(x, ldx, B, K, i8_scales(W, ldw));
    rows_impl(y, ldy, xs, K, W, ldw, B, K, N, beta);
    free(xs);
}

/* One head's block (K, D) of hs_k_matmul_heads, x already scaled when W is int8. */
static void head_rows(float *y, const float *x, hs_w W, int K, int D, int h)
{
    size_t at = (size_t)h * K * D;
    int pf = !W.no_prefetch;
    if (W.q) hs_k_rows_i8(y + h * D, D, x, K, W.q + at, D, 1, K, D, 0.0f, pf);
    else if (W.h) hs_k_rows_bf16(y + h * D, D, x, K, W.h + at, D, 1, K, D, 0.0f, pf);
    else hs_k_rows_f32(y + h * D, D, x, K, W.f + at, D, 1, K, D, 0.0f, pf);
}

void hs_k_matmul_heads(float *y, const float *x, hs_w W, int K, int D, int len)
{
    float *xs = W.q ? i8_scale_x(x, K, 1, K, W.qs) : NULL;
    const float *xr = xs ? xs : x;
    int T = hs_k_threads_for((double)len * K * D);
    if (T == 1) {
        for (int h = 0; h < len; h++) head_rows(y, xr, W, K, D, h);
    } else {
        HS_PARALLEL
        {
            int lo, hi;
            hs_k_share(len, 1, HS_THREAD_ID, T, &lo, &hi);
            for (int h = lo; h < hi; h++) head_rows(y, xr, W, K, D, h);
        }
    }
    free(xs);
}

int hs_k_matmul_head_list(float *y, const float *x, hs_w W, int K, int D, int nblocks, const int *blocks, int n)
{
    /* a (K, 64) head block is one panel group: the panels' four-stream kernel reads the
     * listed blocks (bf16's with their rows paired as its groups' are) */
    if (D != 64 || !(W.f || W.h || W.q) || !hs_k_avx512()) return 0;
    hs_wpanel P = {.f = W.f, .h = W.h, .q = W.q, .K = K, .N = nblocks * D};
    float *xs = W.q ? i8_scale_x(x, K, 1, K, W.qs) : NULL;
    int done = hs_k_panels_list(y, xs ? xs : x, &P, blocks, n);
    free(xs);
    return done;
}

void hs_k_dot_rows(float *y, int ldy, hs_w W, int ldw, const float *x, int ldx, int B, int N, int K)
{
    if (W.v) { /* stored transposed already (the LM head's panels are (K, N)) */
        hs_k_w8a8(y, ldy, x, ldx, W.v, 0, 0, B, K, N, 0.0f);
        return;
    }
    int done = 0; /* batch 1 on the LM head's panels (latency mode), the rows past them as before */
    /* the panels hold W.g->N rows and write all of them: only when the caller wants as many */
    if (W.g && B == 1 && ldw == K && W.poff == 0 && N >= W.g->N) done = hs_k_panels_head(y, W.g, x, K);
    /* decode batches on the packed head's tiles (throughput mode), the same bits */
    if (W.p && B >= 2 && ldw == K && W.poff == 0) done = hs_k_dot_rows_packed(y, ldy, x, ldx, W.p, B, N, K);
    if (done < N) dotrows_impl(y + done, ldy, hs_w_at(W, (size_t)done * ldw), ldw, x, ldx, B, N - done, K);
    if (!W.q) return;
    const float *s = i8_scales(W, ldw);
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) y[(size_t)b * ldy + n] *= s[n];
}

void hs_k_matmul(float *y, int ldy, const float *x, int ldx, hs_w W, int ldw, int n, int K, int N, float beta)
{
    hs_k_matmul_as(y, ldy, x, ldx, W, ldw, n, n, K, N, beta);
}

void hs_k_matmul_as(float *y, int ldy, const float *x, int ldx, hs_w W, int ldw, int n, int whole, int K, int N,
                    float beta)
{
    if (whole < HS_GEMM_MIN_ROWS) {
        hs_k_matmul_rows(y, ldy, x, ldx, W, ldw, n, K, N, beta);
        return;
    }
    hs_k_gemm(y, ldy, x, ldx, W, ldw, 0, n, K, N, beta);
}

/* The row kernels and our tiles give each row its own chains, whatever the row count; only
 * the two routes' chains differ (the tiles sum each 256-wide k block apart). OpenBLAS's
 * rounding of a row can depend on the product's row count, so its route never splits;
 * it only ever takes F32 weights (hs_k_gemm), so the other modes always may. */
int hs_k_matmul_split_exact(int part, int whole, int f32)
{
    int small = whole < HS_GEMM_MIN_ROWS;
    if (part < 1 || part > whole) return 0;
    return small || !f32 || !hs_k_gemm_blas();
}

int hs_k_matmul_same_route(int a, int b) { return (a < HS_GEMM_MIN_ROWS) == (b < HS_GEMM_MIN_ROWS); }

void hs_k_gemm(float *C, int ldc, const float *A, int lda, hs_w B, int ldb, int trans_b, int M, int K, int N,
               float beta)
{
    if (B.v && trans_b) {
        hs_k_w8a8(C, ldc, A, lda, B.v, 0, 0, M, K, N, beta);
    } else if (B.v) {
        w8a8(C, ldc, A, lda, B, ldb, M, K, N, beta);
    } else if (!B.q) {
        gemm_impl(C, ldc, A, lda, B, ldb, trans_b, M, K, N, beta);
    } else if (!trans_b) {
        float *as = i8_scale_x(A, lda, M, K, i8_scales(B, ldb));
        gemm_impl(C, ldc, as, K, B, ldb, 0, M, K, N, beta);
        free(as);
    } else {
        float *t = scratch((size_t)M * N);
        gemm_impl(t, N, A, lda, B, ldb, 1, M, K, N, 0.0f);
        i8_scale_out(C, ldc, t, M, N, i8_scales(B, ldb), beta);
        free(t);
    }
}

#ifdef __AVX2__
/* ---- The OpenBLAS route for the prefill's layer products (AVX2 builds). OpenBLAS picks its kernels when
 * the library loads (OPENBLAS_CORETYPE, read then, forces a choice; nothing in this
 * process can change it afterwards through the public API): its AVX-512 sgemm kernels
 * (SkylakeX, Cooperlake, SapphireRapids) were faster than our tiles (gemm.c) on most gpt2
 * prefill shapes on an AMD EPYC (bench/ab_blas.sh: a 128-token prefill 1.4x, 2026-12-04),
 * but not on an Intel Xeon (Sapphire Rapids, SkylakeX kernels, 2026-12-06: the same in
 * latency mode, and throughput mode 1.2-1.4x faster on our tiles, which read the
 * pre-packed weights and let every prompt share its prefill; docs/performance.md), and
 * its Haswell and older ones were slower everywhere. So F32 products with W in (K, N)
 * layout go to cblas_sgemm when the loaded core is one of those and the CPU is an AMD
 * one, to our tiles otherwise. The route is one per process, not per mode: a
 * throughput-mode sweep must give latency mode's bits (sweep_modes). bf16 weights, and the LM head's transposed
 * product, always take our tiles: OpenBLAS's rounding of a row can depend on how many
 * rows are in the product, and teacher-forced perplexity relies on the LM head's rows not
 * doing so (test_forward_rows). HS_GEMM_BLAS=0 / 1 in the environment forces the choice
 * (read once per process; for A/B runs). Results are bit-identical within a route, not
 * between routes. ---- */

static int g_blas = -1; /* -1: not decided yet */

/* The CPUs where OpenBLAS's AVX-512 sgemm was measured faster than our tiles. */
static int blas_cpu_faster(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_is("amd");
}

static int blas_core_wide(void)
{
    static const char *wide[] = {"skylakex", "cooperlake", "sapphirerapids"};
    const char *core = openblas_get_corename();
    for (size_t i = 0; core && i < sizeof wide / sizeof *wide; i++)
        if (!strcasecmp(core, wide[i])) return 1;
    return 0;
}

int hs_k_gemm_blas(void)
{
    if (g_blas < 0) {
        const char *force = getenv("HS_GEMM_BLAS");
        int on = force && *force ? strcmp(force, "0") != 0 : blas_core_wide() && blas_cpu_faster();
        if (on) openblas_set_num_threads(1); /* gemm_blas does the threading */
        g_blas = on;
    }
    return g_blas;
}

int hs_k_gemm_blas_set(int on)
{
    if (on) openblas_set_num_threads(1);
    g_blas = on != 0;
    return g_blas;
}

/* Threads take column slices of whole 16-wide panels, each one cblas_sgemm on one
 * OpenBLAS thread (hs_model_set_threads keeps OpenBLAS at 1): OpenBLAS's own threading can
 * change an element's rounding with the thread count. With the AVX-512 kernels a column's
 * bits do not depend on where its slice starts (test_gemm_blas_route); with the Haswell
 * ones they do, so a forced route (HS_GEMM_BLAS=1) on other cores stays on one thread. */
static void gemm_blas(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int M, int K, int N,
                      float beta)
{
    static int wide = -1;
    if (wide < 0) wide = blas_core_wide(); /* racing first calls store the same value */
    int T = wide ? hs_k_threads_for((double)M * K * N) : 1;
    if (T == 1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    HS_PARALLEL
    {
        int lo, hi;
        hs_k_share(N, 16, HS_THREAD_ID, T, &lo, &hi);
        if (lo < hi)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, hi - lo, K, 1.0f, A, lda, B + lo, ldb, beta,
                        C + lo, ldc);
    }
}

static void gemm_impl(float *C, int ldc, const float *A, int lda, hs_w B, int ldb, int trans_b, int M, int K, int N,
                      float beta)
{
    if (B.f && !trans_b && hs_k_gemm_blas()) {
        gemm_blas(C, ldc, A, lda, B.f, ldb, M, K, N, beta);
        return;
    }
    /* throughput mode: the packed copy the decode batches read spares packing per call */
    if (B.p && !trans_b && ldb == B.p->N && hs_k_tiles_packed(C, ldc, A, lda, B.p, B.poff, M, K, N, beta)) return;
    if (B.q) hs_k_tiles_i8(C, ldc, A, lda, B.q, ldb, trans_b, M, K, N, beta);
    else if (B.h) hs_k_tiles_bf16(C, ldc, A, lda, B.h, ldb, trans_b, M, K, N, beta);
    else hs_k_tiles_f32(C, ldc, A, lda, B.f, ldb, trans_b, M, K, N, beta);
}

#else

/* Without AVX2 every F32 product goes to OpenBLAS already. */
int hs_k_gemm_blas(void) { return 1; }
int hs_k_gemm_blas_set(int on) { return (void)on, 1; }

/* Without AVX2: OpenBLAS for F32; bf16 and int8 weights row by row through the portable
 * paths of the row and dot-row kernels (beta is 0 or 1 wherever the forward pass calls
 * this; int8 values unscaled, hs_k_gemm scales). */
static void gemm_impl(float *C, int ldc, const float *A, int lda, hs_w B, int ldb, int trans_b, int M, int K, int N,
                      float beta)
{
    if (B.f) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B.f, ldb,
                    beta, C, ldc);
    } else if (trans_b) {
        for (int i = 0; i < M; i++) {
            float *c = C + (size_t)i * ldc;
            if (beta != 0.0f) {
                float *t = scratch((size_t)N);
                dotrows_impl(t, N, B, ldb, A + (size_t)i * lda, lda, 1, N, K);
                for (int j = 0; j < N; j++) c[j] += t[j];
                free(t);
            } else {
                dotrows_impl(c, ldc, B, ldb, A + (size_t)i * lda, lda, 1, N, K);
            }
        }
    } else {
        rows_impl(C, ldc, A, lda, B, ldb, M, K, N, beta);
    }
}

#endif
