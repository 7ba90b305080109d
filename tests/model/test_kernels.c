/* test_kernels.c: the batched matrix products give every row exactly the bits it gets
 * alone (the property throughput mode rests on), for batch sizes around the register
 * tile (6 rows) and shapes with ragged edges (K not a multiple of 4, N not of 16), with
 * and without accumulation into existing values; and they agree with a double-precision
 * reference to float accuracy. The AVX-512 and AVX2 paths give the same bits, and so
 * does reading pre-packed weights (hs_model_opts.pack). These bit-identity tests are about our
 * own tiles, so they run with hs_k_gemm's OpenBLAS route off; the route has its own test
 * (test_gemm_blas_route): it gives cblas_sgemm's bits, close to the tiles', the same with
 * 1 or 2 OpenBLAS threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((float)((*s >> 8) & 0xffff) / 32768.0f) - 1.0f;
}

static void check_shape(int B, int K, int N, float beta)
{
    unsigned seed = (unsigned)(B * 7919 + K * 31 + N);
    int ldx = K + 3, ldy = N + 5, ldw = N + 2;
    float *x = malloc((size_t)B * ldx * sizeof(float)), *W = malloc((size_t)K * ldw * sizeof(float));
    float *yb = malloc((size_t)B * ldy * sizeof(float)), *y1 = malloc((size_t)ldy * sizeof(float));
    for (int i = 0; i < B * ldx; i++) x[i] = frand(&seed);
    for (int i = 0; i < K * ldw; i++) W[i] = frand(&seed);
    for (int i = 0; i < B * ldy; i++) yb[i] = frand(&seed);
    float *init = malloc((size_t)B * ldy * sizeof(float));
    memcpy(init, yb, (size_t)B * ldy * sizeof(float));
    hs_k_matmul_rows(yb, ldy, x, ldx, hs_w_f32(W), ldw, B, K, N, beta);
    for (int b = 0; b < B; b++) {
        memcpy(y1, init + (size_t)b * ldy, (size_t)ldy * sizeof(float));
        hs_k_matmul_rows(y1, ldy, x + (size_t)b * ldx, ldx, hs_w_f32(W), ldw, 1, K, N, beta);
        if (memcmp(y1, yb + (size_t)b * ldy, (size_t)N * sizeof(float)))
            fail_msg("B %d K %d N %d beta %g: row %d differs from its product alone", B, K, N, beta, b);
        /* columns past N are not touched */
        assert_memory_equal(yb + (size_t)b * ldy + N, init + (size_t)b * ldy + N, 5 * sizeof(float));
        for (int j = 0; j < N; j++) {
            double ref = beta == 0.0f ? 0.0 : init[(size_t)b * ldy + j], mag = fabs(ref);
            for (int k = 0; k < K; k++) {
                ref += (double)x[(size_t)b * ldx + k] * W[(size_t)k * ldw + j];
                mag += fabs((double)x[(size_t)b * ldx + k] * W[(size_t)k * ldw + j]);
            }
            assert_true(fabs(yb[(size_t)b * ldy + j] - ref) <= 1e-6 * mag + 1e-30);
        }
    }
    free(x), free(W), free(yb), free(y1), free(init);
}

static void test_matmul_rows_batch_equals_single(void **state)
{
    (void)state;
    static const int Bs[] = {1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 32};
    static const int Ks[] = {1, 4, 37, 256, 300};
    static const int Ns[] = {1, 15, 16, 45, 64, 130};
    for (size_t b = 0; b < sizeof Bs / sizeof *Bs; b++)
        for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++)
            for (size_t n = 0; n < sizeof Ns / sizeof *Ns; n++) {
                check_shape(Bs[b], Ks[k], Ns[n], 0.0f);
                check_shape(Bs[b], Ks[k], Ns[n], 1.0f);
            }
}

/* The LM head's dot-row product: a batch equals its rows alone, ragged shapes included. */
static void test_dot_rows_batch_equals_single(void **state)
{
    (void)state;
    static const int Bs[] = {1, 2, 3, 5, 8}, Ns[] = {1, 4, 7, 13, 64}, Ks[] = {1, 8, 13, 64, 77};
    unsigned seed = 5;
    for (size_t bi = 0; bi < 5; bi++)
        for (size_t ni = 0; ni < 5; ni++)
            for (size_t ki = 0; ki < 5; ki++) {
                int B = Bs[bi], N = Ns[ni], K = Ks[ki], ldw = K + 1, ldx = K + 2, ldy = N + 3;
                float *W = malloc((size_t)N * ldw * sizeof(float)), *x = malloc((size_t)B * ldx * sizeof(float));
                float *yb = calloc((size_t)B * ldy, sizeof(float)), *y1 = calloc((size_t)ldy, sizeof(float));
                for (int i = 0; i < N * ldw; i++) W[i] = frand(&seed);
                for (int i = 0; i < B * ldx; i++) x[i] = frand(&seed);
                hs_k_dot_rows(yb, ldy, hs_w_f32(W), ldw, x, ldx, B, N, K);
                for (int b = 0; b < B; b++) {
                    hs_k_dot_rows(y1, ldy, hs_w_f32(W), ldw, x + (size_t)b * ldx, ldx, 1, N, K);
                    if (memcmp(y1, yb + (size_t)b * ldy, (size_t)N * sizeof(float)))
                        fail_msg("dot rows B %d N %d K %d: row %d differs from its product alone", B, N, K, b);
                    for (int n = 0; n < N; n++) {
                        double ref = 0, mag = 0;
                        for (int k = 0; k < K; k++) {
                            ref += (double)W[(size_t)n * ldw + k] * x[(size_t)b * ldx + k];
                            mag += fabs((double)W[(size_t)n * ldw + k] * x[(size_t)b * ldx + k]);
                        }
                        assert_true(fabs(y1[n] - ref) <= 1e-6 * mag + 1e-30);
                    }
                }
                free(W), free(x), free(yb), free(y1);
            }
}

/* Thread counts change nothing: products are split by output columns (and LM-head rows),
 * each element computed whole by one thread. Shapes large enough to be split, ragged. */
static void fill(float *v, size_t n, unsigned *seed)
{
    for (size_t i = 0; i < n; i++) v[i] = frand(seed);
}

static void test_threads_same_bits(void **state)
{
    (void)state;
    enum { K = 300, N = 2003, M = 50 }; /* B = 1: 600K multiply-adds, above the threading threshold */
    hs_k_set_threads(3);
    int threads = hs_k_threads(); /* below 3 when built without OpenMP or under OMP_THREAD_LIMIT */
    hs_k_set_threads(1);
    if (threads < 2) skip();
    unsigned seed = 9;
    float *W = malloc((size_t)K * N * sizeof(float)), *Wt = malloc((size_t)N * K * sizeof(float));
    float *x = malloc((size_t)M * K * sizeof(float));
    fill(W, (size_t)K * N, &seed), fill(Wt, (size_t)N * K, &seed), fill(x, (size_t)M * K, &seed);
    float *ref[6], *out = malloc((size_t)M * N * sizeof(float));
    static const int Bs[] = {1, 3, 16};
    for (int T = 1; T <= threads; T++) {
        hs_k_set_threads(T);
        for (int c = 0; c < 6; c++) {
            memset(out, 0, (size_t)M * N * sizeof(float));
            if (c < 3) hs_k_matmul_rows(out, N, x, K, hs_w_f32(W), N, Bs[c], K, N, 0.0f);
            else if (c == 3) hs_k_dot_rows(out, N, hs_w_f32(Wt), K, x, K, 3, N, K);
            else if (c == 5) hs_k_dot_rows(out, N, hs_w_f32(Wt), K, x, K, 1, N, K); /* two far row streams */
            else hs_k_gemm(out, N, x, K, hs_w_f32(Wt), K, 1, M, K, N, 0.0f);
            if (T == 1) {
                ref[c] = malloc((size_t)M * N * sizeof(float));
                memcpy(ref[c], out, (size_t)M * N * sizeof(float));
            } else if (memcmp(ref[c], out, (size_t)M * N * sizeof(float))) {
                fail_msg("product %d with %d threads differs from 1 thread", c, T);
            }
        }
    }
    hs_k_set_threads(1);
    for (int c = 0; c < 6; c++) free(ref[c]);
    free(W), free(Wt), free(x), free(out);
}

/* Skip mode's head-major product (hs_k_matmul_heads): len blocks (K, D) copied from the
 * columns of a (K, len * D) matrix give exactly hs_k_matmul_rows's bits on that matrix,
 * for f32, bf16 and int8 (its row scales shared), on 1 and 2 threads (the gpt2 shape of a
 * whole c_attn part is above the threading threshold), and shapes with ragged edges
 * (K not a multiple of 8 or 4, D not of 8). */
static void check_heads(int K, int D, int len)
{
    int N = len * D;
    unsigned seed = (unsigned)(K * 131 + D * 7 + len);
    float *f = malloc((size_t)K * N * sizeof(float)), *fh = malloc((size_t)K * N * sizeof(float));
    uint16_t *h = malloc((size_t)K * N * sizeof(uint16_t)), *hh = malloc((size_t)K * N * sizeof(uint16_t));
    int8_t *q = malloc((size_t)K * N), *qh = malloc((size_t)K * N);
    float *qs = malloc((size_t)K * sizeof(float)), *x = malloc((size_t)K * sizeof(float));
    float *a = malloc((size_t)N * sizeof(float)), *b = malloc((size_t)N * sizeof(float));
    fill(f, (size_t)K * N, &seed), fill(x, (size_t)K, &seed);
    for (int k = 0; k < K; k++) qs[k] = 0.01f + 0.001f * (float)k;
    for (size_t i = 0; i < (size_t)K * N; i++) h[i] = hs_f32_to_bf16(f[i]), q[i] = (int8_t)((int)(f[i] * 127.0f));
    for (int t = 0; t < len; t++)
        for (int k = 0; k < K; k++)
            for (int d = 0; d < D; d++) {
                size_t src = (size_t)k * N + (size_t)t * D + d, dst = ((size_t)t * K + k) * D + d;
                fh[dst] = f[src], hh[dst] = h[src], qh[dst] = q[src];
            }
    hs_w whole[3] = {hs_w_f32(f), hs_w_bf16(h), hs_w_i8(q, qs)}, heads[3] = {hs_w_f32(fh), hs_w_bf16(hh),
                                                                             hs_w_i8(qh, qs)};
    for (int T = 1; T <= 2; T++) {
        hs_k_set_threads(T);
        for (int w = 0; w < 3; w++) {
            memset(a, 0, (size_t)N * sizeof(float));
            for (int i = 0; i < N; i++) b[i] = 1e30f; /* every output written */
            hs_k_matmul_rows(a, N, x, K, whole[w], N, 1, K, N, 0.0f);
            hs_k_matmul_heads(b, x, heads[w], K, D, len);
            if (memcmp(a, b, (size_t)N * sizeof(float)))
                fail_msg("K %d D %d heads %d, weights %d, %d threads: head-major differs", K, D, len, w, T);
        }
    }
    hs_k_set_threads(1);
    free(f), free(fh), free(h), free(hh), free(q), free(qh), free(qs), free(x), free(a), free(b);
}

static void test_heads_equal_rows(void **state)
{
    (void)state;
    check_heads(768, 64, 12); /* gpt2's whole Q part: 590K multiply-adds, threaded */
    check_heads(768, 64, 5);
    /* one head's block alone at the threading threshold (a 4096-wide model with 128-wide
     * heads has 524,288): the row kernel, called on hs_k_matmul_heads's threads, must not
     * split its columns again */
    check_heads(1024, 512, 2);
    check_heads(37, 5, 3);
    check_heads(20, 12, 1);
}

/* bf16 weights: every kernel gives exactly what it gives with the same weights widened to
 * f32 beforehand (the widening is exact and the chains are shared), batched or not,
 * threaded or not, ragged shapes included. */
static void test_bf16_equals_widened_f32(void **state)
{
    (void)state;
    enum { K = 261, N = 203, M = 53 };
    unsigned seed = 21;
    uint16_t *h = malloc((size_t)K * N * sizeof(uint16_t));
    float *f = malloc((size_t)K * N * sizeof(float)), *x = malloc((size_t)M * K * sizeof(float));
    for (int i = 0; i < K * N; i++) h[i] = hs_f32_to_bf16(frand(&seed)), f[i] = hs_bf16_to_f32(h[i]);
    fill(x, (size_t)M * K, &seed);
    float *a = malloc((size_t)M * N * sizeof(float)), *b = malloc((size_t)M * N * sizeof(float));
    hs_w wh = hs_w_bf16(h), wf = hs_w_f32(f);
    for (int T = 1; T <= 2; T++) {
        hs_k_set_threads(T);
        static const int Bs[] = {1, 2, 5, 16};
        for (int i = 0; i < 4; i++) {
            memset(a, 0, (size_t)M * N * sizeof(float)), memset(b, 0, (size_t)M * N * sizeof(float));
            hs_k_matmul_rows(a, N, x, K, wh, N, Bs[i], K, N, 0.0f);
            hs_k_matmul_rows(b, N, x, K, wf, N, Bs[i], K, N, 0.0f);
            assert_memory_equal(a, b, (size_t)Bs[i] * N * sizeof(float));
        }
        /* the LM head layout: W (N, K) = the same bytes read as N rows of K */
        hs_k_dot_rows(a, N, hs_w_bf16(h), K, x, K, 3, N, K);
        hs_k_dot_rows(b, N, hs_w_f32(f), K, x, K, 3, N, K);
        assert_memory_equal(a, b, (size_t)3 * N * sizeof(float));
        for (int trans = 0; trans < 2; trans++) {
            int ldb = trans ? K : N;
            hs_k_gemm(a, N, x, K, wh, ldb, trans, M, K, N, 0.0f);
            hs_k_gemm(b, N, x, K, wf, ldb, trans, M, K, N, 0.0f);
            assert_memory_equal(a, b, (size_t)M * N * sizeof(float));
        }
    }
    hs_k_set_threads(1);
    free(h), free(f), free(x), free(a), free(b);
}

/* The AVX-512 paths of the batched products and of the prefill (hs_k_avx512) give exactly the bits of the
 * AVX2 paths and of each row alone, for f32 and bf16 weights, both layouts (matmul_rows:
 * W (K, N); dot_rows, the LM head: W (N, K)), batch sizes around the 6-row tile and the
 * 6 pairs of rows of the LM head kernel, K and N off every vector width, 1 and 2 threads.
 * Skipped on a CPU without AVX-512. */
static void run_both(float *y, int ldy, const float *x, int ldx, hs_w W, int B, int K, int N, int lm_head)
{
    if (lm_head) hs_k_dot_rows(y, ldy, W, K + 1, x, ldx, B, N, K);
    else hs_k_matmul_rows(y, ldy, x, ldx, W, N + 3, B, K, N, 1.0f);
}

static void check_avx512_shape(int B, int K, int N, int lm_head, int bf16, unsigned *seed)
{
    int ldx = K + 2, ldy = N + 1, ldw = lm_head ? K + 1 : N + 3, rows = lm_head ? N : K;
    size_t nw = (size_t)rows * ldw, ny = (size_t)B * ldy;
    float *wf = malloc(nw * sizeof(float)), *x = malloc((size_t)B * ldx * sizeof(float));
    uint16_t *wh = malloc(nw * sizeof(uint16_t));
    float *init = malloc(ny * sizeof(float)), *y[3] = {malloc(ny * sizeof(float)), malloc(ny * sizeof(float)),
                                                      malloc(ny * sizeof(float))};
    for (size_t i = 0; i < nw; i++)
        wh[i] = hs_f32_to_bf16(frand(seed)), wf[i] = bf16 ? hs_bf16_to_f32(wh[i]) : frand(seed);
    fill(x, (size_t)B * ldx, seed), fill(init, ny, seed);
    hs_w W = bf16 ? hs_w_bf16(wh) : hs_w_f32(wf);
    for (int path = 0; path < 3; path++) { /* 0: AVX-512 batch, 1: AVX2 batch, 2: AVX-512 row by row */
        hs_k_avx512_set(path != 1);
        memcpy(y[path], init, ny * sizeof(float));
        if (path < 2)
            run_both(y[path], ldy, x, ldx, W, B, K, N, lm_head);
        else
            for (int b = 0; b < B; b++)
                run_both(y[path] + (size_t)b * ldy, ldy, x + (size_t)b * ldx, ldx, W, 1, K, N, lm_head);
    }
    hs_k_avx512_set(1);
    for (int path = 1; path < 3; path++)
        if (memcmp(y[0], y[path], ny * sizeof(float)))
            fail_msg("%s %s B %d K %d N %d threads %d: AVX-512 batch differs from %s",
                     lm_head ? "dot_rows" : "matmul_rows", bf16 ? "bf16" : "f32", B, K, N, hs_k_threads(),
                     path == 1 ? "the AVX2 batch" : "rows alone");
    free(wf), free(x), free(wh), free(init), free(y[0]), free(y[1]), free(y[2]);
}

/* The prefill product (hs_k_gemm: both weight layouts, beta 0 and 1) on AVX-512 gives the
 * AVX2 path's bits. */
static void check_avx512_gemm(int M, int K, int N, int trans, int bf16, float beta, unsigned *seed)
{
    int lda = K + 1, ldc = N + 2, ldb = trans ? K + 3 : N + 3, rows = trans ? N : K;
    size_t nw = (size_t)rows * ldb, nc = (size_t)M * ldc;
    float *wf = malloc(nw * sizeof(float)), *a = malloc((size_t)M * lda * sizeof(float));
    uint16_t *wh = malloc(nw * sizeof(uint16_t));
    float *init = malloc(nc * sizeof(float)), *c[2] = {malloc(nc * sizeof(float)), malloc(nc * sizeof(float))};
    for (size_t i = 0; i < nw; i++) wh[i] = hs_f32_to_bf16(frand(seed)), wf[i] = frand(seed);
    fill(a, (size_t)M * lda, seed), fill(init, nc, seed);
    hs_w W = bf16 ? hs_w_bf16(wh) : hs_w_f32(wf);
    for (int path = 0; path < 2; path++) {
        hs_k_avx512_set(path == 0);
        memcpy(c[path], init, nc * sizeof(float));
        hs_k_gemm(c[path], ldc, a, lda, W, ldb, trans, M, K, N, beta);
    }
    hs_k_avx512_set(1);
    if (memcmp(c[0], c[1], nc * sizeof(float)))
        fail_msg("gemm %s M %d K %d N %d trans %d beta %g threads %d: AVX-512 differs from AVX2", bf16 ? "bf16" : "f32",
                 M, K, N, trans, beta, hs_k_threads());
    free(wf), free(a), free(wh), free(init), free(c[0]), free(c[1]);
}

static void test_avx512_same_bits(void **state)
{
    (void)state;
    if (!hs_k_avx512_set(1)) {
        fprintf(stderr, "this CPU has no AVX-512 (avx512f + avx512dq): AVX-512 kernels not tested\n");
        skip();
    }
    static const int Bs[] = {2, 3, 5, 6, 7, 12, 13, 14, 32, 33}, Ks[] = {1, 7, 8, 37, 256, 300};
    static const int Ns[] = {1, 4, 15, 45, 64, 65, 130};
    unsigned seed = 77;
    for (int T = 1; T <= 2; T++) {
        hs_k_set_threads(T);
        for (size_t b = 0; b < sizeof Bs / sizeof *Bs; b++)
            for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++)
                for (size_t n = 0; n < sizeof Ns / sizeof *Ns; n++)
                    for (int v = 0; v < 4; v++) check_avx512_shape(Bs[b], Ks[k], Ns[n], v & 1, v >> 1, &seed);
        check_avx512_shape(32, 520, 2003, 0, 0, &seed); /* large enough to be split by threads */
        check_avx512_shape(32, 520, 2003, 1, 1, &seed);
        static const int Ms[] = {1, 5, 6, 7, 13, 50}, Kg[] = {1, 37, 256, 300}, Ng[] = {1, 15, 64, 65, 130};
        for (size_t m = 0; m < sizeof Ms / sizeof *Ms; m++)
            for (size_t k = 0; k < sizeof Kg / sizeof *Kg; k++)
                for (size_t n = 0; n < sizeof Ng / sizeof *Ng; n++)
                    for (int v = 0; v < 8; v++)
                        check_avx512_gemm(Ms[m], Kg[k], Ng[n], v & 1, (v >> 1) & 1, v >> 2 ? 1.0f : 0.0f, &seed);
        check_avx512_gemm(64, 520, 2003, 1, 0, 0.0f, &seed); /* the LM head over all positions, threaded */
    }
    hs_k_set_threads(1);
}

/* Pre-packed weights (throughput mode) give exactly the bits of the unpacked batch and of
 * each row alone: slices of rows that start and end inside a 256-row block or cross one
 * (skip mode's attention projection reads the live heads' rows), column slices at panel
 * offsets and ragged widths, slices whose first column is off a panel (refused: the
 * unpacked path runs instead), beta 0 and 1, f32 and bf16, AVX-512 and AVX2, 1 and 2
 * threads. The packed copy lives in a buffer with no slack past hs_k_pack_floats, so
 * ASan catches a tile that reads past it. */
static void check_packed(int B, int Kf, int Nf, int r0, int K, int c0, int N, int bf16, float beta, unsigned *seed)
{
    size_t nw = (size_t)Kf * Nf, ny = (size_t)B * (N + 1);
    float *wf = malloc(nw * sizeof(float)), *x = malloc((size_t)B * (K + 2) * sizeof(float));
    uint16_t *wh = malloc(nw * sizeof(uint16_t));
    for (size_t i = 0; i < nw; i++)
        wh[i] = hs_f32_to_bf16(frand(seed)), wf[i] = bf16 ? hs_bf16_to_f32(wh[i]) : frand(seed);
    fill(x, (size_t)B * (K + 2), seed);
    hs_w W = bf16 ? hs_w_bf16(wh) : hs_w_f32(wf);
    size_t np = hs_k_pack_floats(Kf, Nf);
    assert_true(np > 0);
    float *packed = NULL;
    assert_int_equal(posix_memalign((void **)&packed, 64, np * sizeof(float)), 0);
    hs_k_pack(packed, W, Nf, Kf, Nf);
    hs_wpack P = {packed, Kf, Nf};
    hs_w Wp = W;
    Wp.p = &P;
    size_t off = (size_t)r0 * Nf + c0;
    float *init = malloc(ny * sizeof(float)), *y[3] = {malloc(ny * sizeof(float)), malloc(ny * sizeof(float)),
                                                      malloc(ny * sizeof(float))};
    fill(init, ny, seed);
    for (int path = 0; path < 3; path++) { /* 0: packed batch, 1: unpacked batch, 2: rows alone */
        memcpy(y[path], init, ny * sizeof(float));
        hs_w w = hs_w_at(path == 0 ? Wp : W, off);
        if (path < 2)
            hs_k_matmul_rows(y[path], N + 1, x, K + 2, w, Nf, B, K, N, beta);
        else
            for (int b = 0; b < B; b++)
                hs_k_matmul_rows(y[path] + (size_t)b * (N + 1), N + 1, x + (size_t)b * (K + 2), K + 2, w, Nf, 1, K, N,
                                 beta);
    }
    for (int path = 1; path < 3; path++)
        if (memcmp(y[0], y[path], ny * sizeof(float)))
            fail_msg("packed %s B %d (%d, %d) rows %d+%d cols %d+%d beta %g threads %d avx512 %d: differs from %s",
                     bf16 ? "bf16" : "f32", B, Kf, Nf, r0, K, c0, N, beta, hs_k_threads(), hs_k_avx512(),
                     path == 1 ? "the unpacked batch" : "rows alone");
    free(wf), free(x), free(wh), free(packed), free(init), free(y[0]), free(y[1]), free(y[2]);
}

static void test_packed_same_bits(void **state)
{
    (void)state;
    /* (Kf, Nf, r0, K, c0, N): whole matrices, block-crossing and in-block row slices,
     * column slices (one head of 64 or 32, a ragged end, an off-panel start) */
    static const int shapes[][6] = {{37, 45, 0, 37, 0, 45},       {256, 64, 0, 256, 0, 64},
                                    {300, 130, 0, 300, 0, 130},   {520, 203, 0, 520, 0, 203},
                                    {768, 96, 192, 128, 0, 96},   {768, 96, 224, 64, 0, 96},
                                    {600, 200, 250, 300, 32, 160}, {300, 2003, 0, 300, 1920, 83},
                                    {64, 192, 0, 64, 64, 64},     {96, 192, 32, 32, 128, 32},
                                    {64, 100, 0, 64, 8, 40},      {520, 2003, 0, 520, 0, 2003}};
    static const int Bs[] = {4, 5, 6, 7, 13, 32};
    unsigned seed = 91;
    int avx512 = hs_k_avx512_set(1);
    for (int wide = 0; wide <= avx512; wide++) {
        hs_k_avx512_set(wide);
        for (int T = 1; T <= 2; T++) {
            hs_k_set_threads(T);
            for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
                for (size_t b = 0; b < sizeof Bs / sizeof *Bs; b++) {
                    const int *d = shapes[s];
                    check_packed(Bs[b], d[0], d[1], d[2], d[3], d[4], d[5], (int)(b & 1), b % 3 ? 1.0f : 0.0f, &seed);
                }
        }
    }
    hs_k_avx512_set(1);
    hs_k_set_threads(1);
}

/* The LM head of decode batches on its packed copy (throughput mode, hs_k_dot_rows_packed
 * through hs_k_dot_rows with hs_w.p) gives exactly the bits of hs_k_dot_rows on the rows
 * and of each row alone: f32, bf16 and int8 (scaled after, as the rows are), V not a
 * multiple of 4 or of 64 (the rows past N / 4 * 4 are the scalar loop's), one 64-column
 * group or many, K from one lane step to gpt2-xl's 1600, batches around the 6-row tile,
 * 1 and 2 threads. The copy lives in a buffer with no slack past hs_k_pack_head_floats, so
 * ASan catches a tile that reads past it. */
static void check_packed_head(int B, int N, int K, int type, unsigned *seed)
{
    size_t nw = (size_t)N * K, ny = (size_t)B * (N + 3);
    float *wf = malloc(nw * sizeof(float)), *qs = malloc((size_t)N * sizeof(float));
    float *x = malloc((size_t)B * (K + 2) * sizeof(float));
    uint16_t *wh = malloc(nw * sizeof(uint16_t));
    int8_t *wq = malloc(nw);
    for (size_t i = 0; i < nw; i++) {
        wf[i] = frand(seed), wh[i] = hs_f32_to_bf16(wf[i]);
        wq[i] = (int8_t)(((unsigned)(wf[i] * 1e6f) % 255u) - 127);
    }
    for (int n = 0; n < N; n++) qs[n] = 0.01f + 0.001f * (float)(n % 7);
    fill(x, (size_t)B * (K + 2), seed);
    hs_w W = type == 2 ? hs_w_i8(wq, qs) : type == 1 ? hs_w_bf16(wh) : hs_w_f32(wf);
    size_t np = hs_k_pack_head_floats(N, K);
    assert_true(np > 0);
    float *packed = NULL;
    assert_int_equal(posix_memalign((void **)&packed, 64, np * sizeof(float)), 0);
    hs_k_pack_head(packed, W, K, N, K);
    hs_wpack P = {packed, K, N};
    hs_w Wp = W;
    Wp.p = &P;
    float *y[3] = {malloc(ny * sizeof(float)), malloc(ny * sizeof(float)), malloc(ny * sizeof(float))};
    for (int path = 0; path < 3; path++) { /* 0: packed batch, 1: rows batch, 2: rows alone */
        memset(y[path], 0, ny * sizeof(float));
        if (path < 2) hs_k_dot_rows(y[path], N + 3, path ? W : Wp, K, x, K + 2, B, N, K);
        else
            for (int b = 0; b < B; b++)
                hs_k_dot_rows(y[path] + (size_t)b * (N + 3), N + 3, W, K, x + (size_t)b * (K + 2), K + 2, 1, N, K);
    }
    static const char *names[] = {"f32", "bf16", "int8"};
    for (int path = 1; path < 3; path++)
        if (memcmp(y[0], y[path], ny * sizeof(float)))
            fail_msg("packed head %s B %d N %d K %d threads %d avx512 %d: differs from %s", names[type], B, N, K,
                     hs_k_threads(), hs_k_avx512(), path == 1 ? "the rows batch" : "rows alone");
    /* and the packed call did the work: without AVX-512 it returns 0 and the rows run */
    float *yp = malloc(ny * sizeof(float));
    int done = hs_k_dot_rows_packed(yp, N + 3, x, K + 2, &P, B, N, K);
    assert_int_equal(done, hs_k_avx512() ? N / 4 * 4 : 0);
    free(yp), free(wf), free(qs), free(x), free(wh), free(wq), free(packed), free(y[0]), free(y[1]), free(y[2]);
}

static void test_packed_head_same_bits(void **state)
{
    (void)state;
    static const int Bs[] = {2, 3, 6, 7, 13, 32, 33};
    static const int shapes[][2] = {{4, 8}, {17, 16}, {64, 64}, {65, 200}, {130, 768}, {1003, 96}, {203, 1600}};
    unsigned seed = 123;
    assert_int_equal(hs_k_pack_head_floats(100, 13), 0);   /* K not a multiple of 8: no copy */
    assert_int_equal(hs_k_pack_head_floats(100, 2056), 0); /* K / 8 past one k block */
    int avx512 = hs_k_avx512_set(1);
    for (int wide = 0; wide <= avx512; wide++) {
        hs_k_avx512_set(wide);
        for (int T = 1; T <= 2; T++) {
            hs_k_set_threads(T);
            for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
                for (size_t b = 0; b < sizeof Bs / sizeof *Bs; b++)
                    check_packed_head(Bs[b], shapes[s][0], shapes[s][1], (int)((s + b) % 3), &seed);
        }
        check_packed_head(32, 4003, 768, 0, &seed); /* large enough to be split by threads */
    }
    hs_k_avx512_set(1);
    hs_k_set_threads(1);
}

/* Latency mode's batch-1 panels (hs_k_panels, hs_model_opts.panels): the product of one
 * row on the panels gives exactly the bits of the row kernel on the original layout, for
 * whole matrices (groups in 4 streams, the rest one at a time: 1, 3, 4, 5, 7, 9 and 36
 * groups), row slices (agency's 64 rows of one head of c_proj, rows ending before the
 * matrix does) and column slices on the 64-column grid (a run of heads' Q/K/V columns),
 * f32, bf16 and int8, beta 0 and 1, 1 and 2 threads, called directly and through the dispatch
 * (hs_w.g). Off the grid (a column start or width not a multiple of 64) or with the
 * AVX-512 paths off it returns 0 and does nothing. The LM head's panels: check_panels_head. */
static void check_panels(int Kf, int Nf, int r0, int K, int c0, int N, int wt, float beta, unsigned *seed)
{
    size_t nw = (size_t)Kf * Nf;
    int taken = hs_k_avx512() && c0 % 64 == 0 && N % 64 == 0 && Nf % 64 == 0;
    float *wf = malloc(nw * sizeof(float)), *x = malloc((size_t)K * sizeof(float)), *panel = NULL;
    float *qs = malloc((size_t)Kf * sizeof(float));
    uint16_t *wh = malloc(nw * sizeof(uint16_t));
    int8_t *wq = malloc(nw);
    for (size_t i = 0; i < nw; i++) wf[i] = frand(seed), wh[i] = hs_f32_to_bf16(wf[i]), wq[i] = (int8_t)(wh[i] >> 8);
    for (int r = 0; r < Kf; r++) qs[r] = 0.01f * (1.0f + (float)(r % 7));
    fill(x, (size_t)K, seed);
    assert_int_equal(posix_memalign((void **)&panel, 64, nw * sizeof(float)), 0);
    hs_wpanel P = {.K = Kf, .N = Nf};
    uint16_t *ph = (uint16_t *)(void *)panel;
    int8_t *pq = (int8_t *)(void *)panel;
    if (Nf % 64 == 0 && wt == 1) hs_k_panels_make_bf16(ph, wh, Kf, Nf), P.h = ph;
    else if (Nf % 64 == 0 && wt == 2) hs_k_panels_make_i8(pq, wq, Kf, Nf), P.q = pq;
    else if (Nf % 64 == 0) hs_k_panels_make_f32(panel, wf, Kf, Nf), P.f = panel;
    hs_w W = wt == 2 ? hs_w_i8(wq, qs) : wt == 1 ? hs_w_bf16(wh) : hs_w_f32(wf), Wg = W;
    Wg.g = Nf % 64 == 0 ? &P : NULL;
    size_t off = (size_t)r0 * Nf + c0;
    float *init = malloc((size_t)N * sizeof(float)), *y[4];
    fill(init, (size_t)N, seed);
    for (int i = 0; i < 4; i++) y[i] = malloc((size_t)N * sizeof(float)), memcpy(y[i], init, (size_t)N * sizeof(float));
    hs_k_matmul_rows(y[0], N, x, K, hs_w_at(W, off), Nf, 1, K, N, beta);  /* the row kernel */
    hs_k_matmul_rows(y[1], N, x, K, hs_w_at(Wg, off), Nf, 1, K, N, beta); /* the dispatch */
    int got = Nf % 64 == 0 ? hs_k_panels(y[2], x, &P, off, K, N, beta) : 0;
    /* int8: the dispatch scales x first, hs_k_panels takes it as given: against the row
     * kernel on the same unscaled x */
    if (wt == 2) hs_k_rows_i8(y[3], N, x, K, wq + off, Nf, 1, K, N, beta, 1);
    const float *ref2 = wt == 2 ? y[3] : y[0];
    const char *what = wt == 2 ? "int8" : wt == 1 ? "bf16" : "f32";
    if (got != taken)
        fail_msg("panels (%d, %d) rows %d+%d cols %d+%d: returned %d, expected %d", Kf, Nf, r0, K, c0, N, got, taken);
    if (!got) assert_memory_equal(y[2], init, (size_t)N * sizeof(float));
    for (int i = 1; i < 3; i++)
        if ((i == 1 || got) && memcmp(i == 1 ? y[0] : ref2, y[i], (size_t)N * sizeof(float)))
            fail_msg("panels %s (%d, %d) rows %d+%d cols %d+%d beta %g threads %d avx512 %d: %s differs from the row "
                     "kernel", what, Kf, Nf, r0, K, c0, N, beta, hs_k_threads(), hs_k_avx512(),
                     i == 1 ? "the dispatch" : "hs_k_panels");
    free(wf), free(x), free(panel), free(qs), free(wh), free(wq), free(init);
    for (int i = 0; i < 4; i++) free(y[i]);
}

/* The LM head on its batch-1 panels (8-row blocks): hs_k_dot_rows for one row of x gives
 * the bits of the row layout, with the rows past the blocks (V % 8, among them the last V
 * % 4 rows, which take a scalar chain) from the original rows; blocks in 4 streams and
 * one at a time (V / 8 = 1, 4, 5, 25, 128), f32, bf16 and int8, 1 and 2 threads; 0 rows with
 * the AVX-512 paths off. */
static void check_panels_head(int V, int K, int wt, unsigned *seed)
{
    size_t nw = (size_t)V * K;
    int rows = hs_k_panels_head_rows(V);
    float *wf = malloc(nw * sizeof(float)), *x = malloc((size_t)K * sizeof(float)), *panel = NULL;
    float *qs = malloc((size_t)V * sizeof(float)), *y[4];
    for (int i = 0; i < 4; i++) y[i] = malloc((size_t)V * sizeof(float)), memset(y[i], 0xff, (size_t)V * sizeof(float));
    uint16_t *wh = malloc(nw * sizeof(uint16_t));
    int8_t *wq = malloc(nw);
    for (size_t i = 0; i < nw; i++) wf[i] = frand(seed), wh[i] = hs_f32_to_bf16(wf[i]), wq[i] = (int8_t)(wh[i] >> 8);
    for (int r = 0; r < V; r++) qs[r] = 0.01f * (1.0f + (float)(r % 7));
    fill(x, (size_t)K, seed);
    assert_true(hs_k_panels_head_fit(V, K));
    assert_int_equal(posix_memalign((void **)&panel, 64, nw * sizeof(float)), 0);
    hs_wpanel P = {.K = K, .N = rows};
    if (wt == 1) hs_k_panels_make_head_bf16((uint16_t *)(void *)panel, wh, V, K), P.h = (uint16_t *)(void *)panel;
    else if (wt == 2) hs_k_panels_make_head_i8((int8_t *)(void *)panel, wq, V, K), P.q = (int8_t *)(void *)panel;
    else hs_k_panels_make_head_f32(panel, wf, V, K), P.f = panel;
    hs_w W = wt == 2 ? hs_w_i8(wq, qs) : wt == 1 ? hs_w_bf16(wh) : hs_w_f32(wf), Wg = W;
    Wg.g = &P;
    hs_k_dot_rows(y[0], V, W, K, x, K, 1, V, K);
    hs_k_dot_rows(y[1], V, Wg, K, x, K, 1, V, K);
    int got = hs_k_panels_head(y[2], &P, x, K);
    if (wt == 2) hs_k_dotrows_i8(y[3], V, wq, K, x, K, 1, V, K); /* unscaled, as hs_k_panels_head */
    assert_int_equal(got, hs_k_avx512() ? rows : 0);
    if (memcmp(y[0], y[1], (size_t)V * sizeof(float)) ||
        memcmp(wt == 2 ? y[3] : y[0], y[2], (size_t)got * sizeof(float)))
        fail_msg("head panels %s (%d, %d) threads %d avx512 %d: differ from the row layout",
                 wt == 2 ? "int8" : wt == 1 ? "bf16" : "f32", V, K, hs_k_threads(), hs_k_avx512());
    free(wf), free(x), free(panel), free(qs), free(wh), free(wq);
    for (int i = 0; i < 4; i++) free(y[i]);
}

/* Skip mode's live heads from the head-major c_attn (nb blocks of (K, 64), block i at
 * i K 64) read as listed panel groups (hs_k_matmul_head_list) give each block's outputs
 * the bits of hs_k_matmul_heads on that block, f32, int8 (x scaled by the row scales
 * inside both) and bf16 (the list reads a copy with its rows paired, as its panels'
 * groups are; hs_k_matmul_heads the unpaired one); D != 64 is declined and leaves y as it
 * was, and so does every type with the AVX-512 paths off. */
static void check_head_list(int K, int nb, const int *list, int n, int wt, int D, unsigned *seed)
{
    size_t nw = (size_t)nb * K * D;
    float *wf = NULL, *x = malloc((size_t)K * sizeof(float)), *qs = malloc((size_t)K * sizeof(float));
    assert_int_equal(posix_memalign((void **)&wf, 64, nw * sizeof(float)), 0);
    uint16_t *wh = malloc(nw * sizeof(uint16_t));
    int8_t *wq = NULL;
    assert_int_equal(posix_memalign((void **)&wq, 64, nw), 0);
    for (size_t i = 0; i < nw; i++) wf[i] = frand(seed), wh[i] = hs_f32_to_bf16(wf[i]), wq[i] = (int8_t)(wh[i] >> 8);
    for (int r = 0; r < K; r++) qs[r] = 0.01f * (1.0f + (float)(r % 7));
    fill(x, (size_t)K, seed);
    uint16_t *whp = NULL; /* the bf16 groups' kernel reads aligned lines, as the model's copy is */
    assert_int_equal(posix_memalign((void **)&whp, 64, nw * sizeof(uint16_t)), 0);
    memcpy(whp, wh, nw * sizeof(uint16_t));
    if (D == 64) hs_k_panels_pair_bf16(whp, (size_t)nb * K);
    hs_w W = wt == 2 ? hs_w_i8(wq, qs) : wt == 1 ? hs_w_bf16(whp) : hs_w_f32(wf);
    size_t ny = (size_t)nb * D;
    float *y = malloc(ny * sizeof(float)), *ref = malloc(ny * sizeof(float));
    for (size_t i = 0; i < ny; i++) y[i] = ref[i] = -7.0f; /* untouched outside the list */
    for (int i = 0; i < n; i++) {
        size_t at = (size_t)list[i] * K * D;
        hs_w Wb = wt == 2 ? hs_w_i8(wq + at, qs) : wt == 1 ? hs_w_bf16(wh + at) : hs_w_f32(wf + at);
        hs_k_matmul_heads(ref + (size_t)list[i] * D, x, Wb, K, D, 1);
    }
    int taken = hs_k_avx512() && D == 64;
    int got = hs_k_matmul_head_list(y, x, W, K, D, nb, list, n);
    if (got != taken) fail_msg("head list type %d D %d: returned %d, expected %d", wt, D, got, taken);
    for (size_t i = 0; got && i < ny; i++)
        if (memcmp(&y[i], &ref[i], sizeof(float)))
            fail_msg("head list type %d (K %d, %d of %d blocks) threads %d: output %zu is %a, heads kernel %a", wt, K,
                     n, nb, hs_k_threads(), i, (double)y[i], (double)ref[i]);
    for (size_t i = 0; !got && i < ny; i++) assert_true(y[i] == -7.0f);
    free(wf), free(x), free(qs), free(wh), free(whp), free(wq), free(y), free(ref);
}

static void test_head_list_same_bits(void **state)
{
    (void)state;
    static const int all[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, some[7] = {0, 2, 3, 6, 7, 9, 11},
                     last[1] = {11}, ends[5] = {0, 1, 9, 10, 11};
    unsigned seed = 31;
    int avx512 = hs_k_avx512_set(1);
    for (int wide = avx512; wide >= 0; wide--) {
        hs_k_avx512_set(wide);
        for (int T = 1; T <= 2; T++) {
            hs_k_set_threads(T);
            for (int wt = 0; wt < 3; wt++) {
                check_head_list(96, 12, all, 12, wt, 64, &seed);  /* 3 streams' worth: 4 x 3 */
                check_head_list(96, 12, some, 7, wt, 64, &seed);  /* 4 streams of 1, then 3 alone */
                check_head_list(40, 12, last, 1, wt, 64, &seed);  /* the matrix's last block */
                check_head_list(64, 12, ends, 5, wt, 64, &seed);  /* its ends: the prefetch's bound */
                check_head_list(64, 12, some, 7, wt, 32, &seed);  /* D 32: declined */
            }
        }
    }
    hs_k_avx512_set(1);
    hs_k_set_threads(1);
}

static void test_panels_same_bits(void **state)
{
    (void)state;
    /* (Kf, Nf, r0, K, c0, N) */
    static const int shapes[][6] = {{37, 64, 0, 37, 0, 64},       {64, 192, 0, 64, 0, 192},
                                    {96, 256, 0, 96, 0, 256},     {33, 320, 0, 33, 0, 320},
                                    {64, 448, 0, 64, 0, 448},     {256, 64, 0, 256, 0, 64},
                                    {128, 2304, 0, 128, 0, 2304}, {768, 128, 64, 64, 0, 128},
                                    {300, 576, 10, 250, 0, 576},  {64, 2304, 0, 64, 768, 192},
                                    {64, 2304, 0, 64, 1664, 576}, {64, 192, 0, 64, 32, 64},
                                    {64, 192, 0, 64, 0, 100},     {64, 100, 0, 64, 0, 100}};
    unsigned seed = 23;
    int avx512 = hs_k_avx512_set(1);
    for (int wide = avx512; wide >= 0; wide--) {
        hs_k_avx512_set(wide);
        for (int T = 1; T <= 2; T++) {
            hs_k_set_threads(T);
            for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
                for (int v = 0; v < 6; v++) {
                    const int *d = shapes[s];
                    check_panels(d[0], d[1], d[2], d[3], d[4], d[5], v % 3, v >= 3 ? 1.0f : 0.0f, &seed);
                }
            static const int heads[][2] = {{8, 64}, {13, 40}, {37, 768}, {203, 64}, {1031, 96}};
            for (size_t h = 0; h < sizeof heads / sizeof *heads; h++)
                for (int wt = 0; wt < 3; wt++) check_panels_head(heads[h][0], heads[h][1], wt, &seed);
        }
    }
    hs_k_avx512_set(1);
    hs_k_set_threads(1);
}

/* The prefill's product (hs_k_gemm on our tiles) reading the pre-packed copy
 * (hs_k_tiles_packed) gives exactly the bits of packing per call: whole matrices of the
 * models' shapes, ragged ones, row slices starting on a 256-row block (ending inside one,
 * where the block's panels are longer than the rows read), column slices at panel
 * offsets (a head's Q columns, the last columns of a ragged matrix: its tiles read the
 * zero panels at the end of the copy), f32, bf16 and int8, beta 0 and 1, AVX-512 and
 * AVX2, 1 and 2 threads. Slices starting off a block's first row or off a panel are
 * refused (0) and hs_k_gemm packs per call for them. Called directly, so a dispatch that
 * never takes the packed path cannot pass for one. */
static void check_packed_gemm(int M, int Kf, int Nf, int r0, int K, int c0, int N, int wt, float beta, unsigned *seed)
{
    size_t nw = (size_t)Kf * Nf, nc = (size_t)M * (N + 2);
    int lda = K + 1, ldc = N + 2, taken = r0 % 256 == 0 && c0 % 16 == 0;
    float *wf = malloc(nw * sizeof(float)), *qs = malloc((size_t)Kf * sizeof(float));
    float *a = malloc((size_t)M * lda * sizeof(float));
    uint16_t *wh = malloc(nw * sizeof(uint16_t));
    int8_t *wq = malloc(nw);
    for (size_t i = 0; i < nw; i++) wf[i] = frand(seed), wh[i] = hs_f32_to_bf16(wf[i]), wq[i] = (int8_t)(wh[i] >> 8);
    for (int r = 0; r < Kf; r++) qs[r] = 0.01f * (1.0f + (float)(r % 7));
    fill(a, (size_t)M * lda, seed);
    hs_w W = wt == 2 ? hs_w_i8(wq, qs) : wt == 1 ? hs_w_bf16(wh) : hs_w_f32(wf);
    float *packed = NULL;
    assert_int_equal(posix_memalign((void **)&packed, 64, hs_k_pack_floats(Kf, Nf) * sizeof(float)), 0);
    hs_k_pack(packed, W, Nf, Kf, Nf);
    hs_wpack P = {packed, Kf, Nf};
    hs_w Wp = W;
    Wp.p = &P;
    size_t off = (size_t)r0 * Nf + c0;
    float *init = malloc(nc * sizeof(float)), *c[3] = {malloc(nc * sizeof(float)), malloc(nc * sizeof(float)),
                                                      malloc(nc * sizeof(float))};
    fill(init, nc, seed);
    for (int i = 0; i < 3; i++) memcpy(c[i], init, nc * sizeof(float));
    hs_k_gemm(c[0], ldc, a, lda, hs_w_at(W, off), Nf, 0, M, K, N, beta);  /* packing per call */
    hs_k_gemm(c[1], ldc, a, lda, hs_w_at(Wp, off), Nf, 0, M, K, N, beta); /* the dispatch */
    const char *what = wt == 2 ? "int8" : wt == 1 ? "bf16" : "f32";
    if (wt < 2) { /* int8's activations are scaled by hs_k_gemm first: only through the dispatch */
        int got = hs_k_tiles_packed(c[2], ldc, a, lda, &P, off, M, K, N, beta);
        if (got != taken)
            fail_msg("tiles_packed (%d, %d) rows %d+%d cols %d+%d: returned %d, expected %d", Kf, Nf, r0, K, c0, N,
                     got, taken);
        if (taken && memcmp(c[0], c[2], nc * sizeof(float)))
            fail_msg("tiles_packed %s M %d (%d, %d) rows %d+%d cols %d+%d beta %g threads %d avx512 %d: differs from "
                     "packing per call", what, M, Kf, Nf, r0, K, c0, N, beta, hs_k_threads(), hs_k_avx512());
    }
    if (memcmp(c[0], c[1], nc * sizeof(float)))
        fail_msg("gemm on packed %s M %d (%d, %d) rows %d+%d cols %d+%d beta %g threads %d avx512 %d: differs from "
                 "packing per call", what, M, Kf, Nf, r0, K, c0, N, beta, hs_k_threads(), hs_k_avx512());
    free(wf), free(qs), free(a), free(wh), free(wq), free(packed), free(init), free(c[0]), free(c[1]), free(c[2]);
}

static void test_packed_gemm_same_bits(void **state)
{
    (void)state;
    /* (Kf, Nf, r0, K, c0, N): the bundled model's c_attn, c_proj and mlp c_proj, ragged
     * wholes, row slices from a block start (ending inside the last block), column slices
     * (a head's 32 columns, the last 83 of 2003), and the refused ones (rows from 192, or
     * columns from 8) */
    static const int shapes[][6] = {{256, 768, 0, 256, 0, 768},   {256, 256, 0, 256, 0, 256},
                                    {1024, 256, 0, 1024, 0, 256}, {300, 130, 0, 300, 0, 130},
                                    {520, 203, 0, 520, 0, 203},   {600, 200, 256, 300, 32, 160},
                                    {768, 96, 256, 256, 0, 96},   {256, 768, 0, 256, 288, 32},
                                    {300, 2003, 0, 300, 1920, 83}, {64, 192, 0, 64, 64, 64},
                                    {768, 96, 192, 128, 0, 96},   {64, 100, 0, 64, 8, 40}};
    static const int Ms[] = {1, 6, 13, 50};
    unsigned seed = 123;
    int avx512 = hs_k_avx512_set(1);
    for (int wide = 0; wide <= avx512; wide++) {
        hs_k_avx512_set(wide);
        for (int T = 1; T <= 2; T++) {
            hs_k_set_threads(T);
            for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
                for (size_t m = 0; m < sizeof Ms / sizeof *Ms; m++) {
                    const int *d = shapes[s];
                    check_packed_gemm(Ms[m], d[0], d[1], d[2], d[3], d[4], d[5], (int)((s + m) % 3),
                                      m % 2 ? 1.0f : 0.0f, &seed);
                }
        }
    }
    hs_k_avx512_set(1);
    hs_k_set_threads(1);
}

/* The transposed product (the LM head's, B stored (N, K)) packs full panels through 8 x 8
 * register transposes: it must give exactly the bits of the same product on B stored
 * (K, N), which packs the same values by rows. f32, bf16 and int8 (unscaled, as the tiles
 * take it), K and N around the 8- and 16-wide blocks, AVX-512 and AVX2, 1 and 2 threads. */
static void check_trans_pack(int M, int K, int N, int wt, unsigned *seed)
{
    int lda = K + 1, ldc = N + 2, ldt = K + 3, ldn = N + 5; /* B^T (N, K) and B (K, N) */
    size_t nc = (size_t)M * ldc;
    float *a = malloc((size_t)M * lda * sizeof(float));
    float *c[2] = {malloc(nc * sizeof(float)), malloc(nc * sizeof(float))};
    float *tf = malloc((size_t)N * ldt * sizeof(float)), *nf = malloc((size_t)K * ldn * sizeof(float));
    uint16_t *th = malloc((size_t)N * ldt * sizeof(uint16_t)), *nh = malloc((size_t)K * ldn * sizeof(uint16_t));
    int8_t *tq = malloc((size_t)N * ldt), *nq = malloc((size_t)K * ldn);
    fill(a, (size_t)M * lda, seed);
    for (int j = 0; j < N; j++)
        for (int k = 0; k < K; k++) {
            float v = frand(seed);
            size_t t = (size_t)j * ldt + k, n = (size_t)k * ldn + j;
            tf[t] = nf[n] = v, th[t] = nh[n] = hs_f32_to_bf16(v), tq[t] = nq[n] = (int8_t)(v * 127.0f);
        }
    for (int trans = 0; trans < 2; trans++) {
        float *C = c[trans];
        int ldb = trans ? ldt : ldn;
        if (wt == 0) hs_k_tiles_f32(C, ldc, a, lda, trans ? tf : nf, ldb, trans, M, K, N, 0.0f);
        else if (wt == 1) hs_k_tiles_bf16(C, ldc, a, lda, trans ? th : nh, ldb, trans, M, K, N, 0.0f);
        else hs_k_tiles_i8(C, ldc, a, lda, trans ? tq : nq, ldb, trans, M, K, N, 0.0f);
    }
    for (int i = 0; i < M; i++)
        if (memcmp(c[0] + (size_t)i * ldc, c[1] + (size_t)i * ldc, (size_t)N * sizeof(float)))
            fail_msg("tiles %s M %d K %d N %d threads %d avx512 %d: transposed B differs from B", wt == 2 ? "int8"
                     : wt == 1 ? "bf16" : "f32", M, K, N, hs_k_threads(), hs_k_avx512());
    free(a), free(c[0]), free(c[1]), free(tf), free(nf), free(th), free(nh), free(tq), free(nq);
}

static void test_trans_pack_same_bits(void **state)
{
    (void)state;
    static const int Ms[] = {1, 6, 50}, Ks[] = {1, 7, 8, 9, 37, 256, 300}, Ns[] = {1, 15, 16, 17, 64, 130};
    unsigned seed = 55;
    int avx512 = hs_k_avx512_set(1);
    for (int wide = 0; wide <= avx512; wide++) {
        hs_k_avx512_set(wide);
        for (int T = 1; T <= 2; T++) {
            hs_k_set_threads(T);
            for (size_t m = 0; m < sizeof Ms / sizeof *Ms; m++)
                for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++)
                    for (size_t n = 0; n < sizeof Ns / sizeof *Ns; n++)
                        for (int wt = 0; wt < 3; wt++) check_trans_pack(Ms[m], Ks[k], Ns[n], wt, &seed);
            check_trans_pack(64, 520, 2003, 0, &seed); /* split by threads */
        }
    }
    hs_k_avx512_set(1);
    hs_k_set_threads(1);
}

/* LayerNorm of n rows in one call (rows four at a time, their chains interleaved) equals
 * each row alone and the plain loop (double sums in column order), bit for bit. */
static void test_layernorm_rows_same_bits(void **state)
{
    (void)state;
    static const int Cs[] = {1, 7, 64, 256, 768};
    unsigned seed = 23;
    for (size_t c = 0; c < sizeof Cs / sizeof *Cs; c++) {
        int C = Cs[c], n = 11;
        float *x = malloc((size_t)n * C * sizeof(float)), *w = malloc((size_t)C * sizeof(float));
        float *b = malloc((size_t)C * sizeof(float)), *y = malloc((size_t)n * C * sizeof(float));
        float *one = malloc((size_t)C * sizeof(float)), *ref = malloc((size_t)C * sizeof(float));
        fill(x, (size_t)n * C, &seed), fill(w, (size_t)C, &seed), fill(b, (size_t)C, &seed);
        for (int i = 0; i < C; i++) x[i] += 3.0f; /* a row whose mean is far from 0 */
        hs_k_layernorm(y, x, w, b, n, C, 1e-5f);
        for (int i = 0; i < n; i++) {
            const float *xi = x + (size_t)i * C;
            hs_k_layernorm(one, xi, w, b, 1, C, 1e-5f);
            double mean = 0, var = 0;
            for (int j = 0; j < C; j++) mean += xi[j];
            mean /= C;
            for (int j = 0; j < C; j++) {
                double d = xi[j] - mean;
                var += d * d;
            }
            float rstd = (float)(1.0 / sqrt(var / C + 1e-5f)), m = (float)mean;
            for (int j = 0; j < C; j++) ref[j] = (xi[j] - m) * rstd * w[j] + b[j];
            if (memcmp(one, ref, (size_t)C * sizeof(float)))
                fail_msg("layernorm C %d row %d alone differs from the loop", C, i);
            if (memcmp(y + (size_t)i * C, ref, (size_t)C * sizeof(float)))
                fail_msg("layernorm C %d row %d of %d differs from the loop", C, i, n);
        }
        free(x), free(w), free(b), free(y), free(one), free(ref);
    }
}

/* hs_k_softmax of x (n) against the scalar loop it replaced (the maximum by compares in
 * order, then expf and the double sum in order), bit for bit. */
static void check_softmax(const float *x, int n)
{
    float *a = malloc((size_t)n * sizeof(float)), *b = malloc((size_t)n * sizeof(float));
    memcpy(a, x, (size_t)n * sizeof(float));
    memcpy(b, x, (size_t)n * sizeof(float));
    int avx512 = hs_k_avx512_set(1);
    hs_k_softmax(a, n);
    hs_k_avx512_set(0);
    hs_k_softmax(b, n);
    hs_k_avx512_set(avx512);
    if (memcmp(a, b, (size_t)n * sizeof(float))) fail_msg("softmax of %d values: AVX-512 and scalar differ", n);
    /* against exp and the sum in double: the exps' and the final product's roundings */
    float mx = x[0];
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)x[i] - mx);
    for (int i = 0; i < n; i++) {
        double ref = exp((double)x[i] - mx) / sum;
        if (fabs(a[i] - ref) > 3e-7 * ref + 1e-44)
            fail_msg("softmax of %d values: p[%d] = %.9g, exact %.9g", n, i, (double)a[i], ref);
    }
    free(a), free(b);
}

/* The softmax (attention's): its maximum found 8 lanes at a time and its exps 8 at a time
 * on AVX-512, the same bits as one at a time: lengths around the 16-value threshold and the
 * 8-lane block, the maximum at every position, ties of +0 and -0 as the maximum (either
 * zero gives the same bits), keys far below the maximum (exps subnormal or 0 in float);
 * every value within its roundings of the exact softmax. */
static void test_softmax_same_bits(void **state)
{
    (void)state;
    unsigned seed = 17;
    float x[80];
    for (int n = 1; n <= 80; n++) {
        fill(x, (size_t)n, &seed);
        check_softmax(x, n);
        for (int at = 0; at < n; at++) {
            float keep = x[at];
            x[at] = 9.0f;
            check_softmax(x, n);
            x[at] = keep;
        }
        for (int i = 0; i < n; i++) x[i] = -fabsf(x[i]) - 1.0f;
        x[n / 3] = 0.0f, x[(2 * n) / 3] = -0.0f;
        check_softmax(x, n);
        x[n / 3] = -0.0f, x[(2 * n) / 3] = 0.0f;
        check_softmax(x, n);
        for (int i = 0; i < n; i++) x[i] = -(float)(i % 13) * 9.5f; /* down to -114: subnormal and 0 */
        check_softmax(x, n);
    }
}

/* ulps between two finite doubles of the same sign */
static double ulps(double a, double b)
{
    int64_t ia, ib;
    memcpy(&ia, &a, sizeof ia), memcpy(&ib, &b, sizeof ib);
    return fabs((double)(ia - ib));
}

/* hs_model_sum_exp with AVX-512 on and off (AVX2): the same bits (n around the 8-lane
 * block, and a vocabulary's 50257), and each vector lane the scalar tail's bits; one
 * value's exp within 2 ulps of libm's (itself within 1 of the exact value) over [-745, 0]
 * where the result is normal, 0 below -746, 1 at 0, NaN for NaN; a long sum within 1e-14
 * of a long-double sum of libm's. */
static void test_sum_exp(void **state)
{
    (void)state;
    int avx512 = hs_k_avx512_set(1);
    unsigned seed = 23;
    static const int ns[] = {1, 7, 8, 9, 15, 16, 17, 100, 50257};
    float *x = malloc(50257 * sizeof(float));
    for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
        int n = ns[c];
        for (int i = 0; i < n; i++) x[i] = 12.0f * frand(&seed);
        float mx = hs_model_max(x, n);
        double got[2];
        for (int wide = 0; wide < 2; wide++) hs_k_avx512_set(wide && avx512), got[wide] = hs_model_sum_exp(x, n, mx);
        if (memcmp(&got[0], &got[1], sizeof got[0]))
            fail_msg("sum_exp of %d values: %a without AVX-512, %a with", n, got[0], got[1]);
        long double ref = 0;
        for (int i = 0; i < n; i++) ref += expl((long double)(x[i] - mx));
        if (fabsl(got[1] - ref) > 1e-14L * ref)
            fail_msg("sum_exp of %d values: %.17g, long double %.17Lg", n, got[1], ref);
    }
    for (int wide = 0; wide < 2; wide++) {
        hs_k_avx512_set(wide && avx512);
        double worst = 0;
        for (int i = 0; i <= 200000; i++) {
            float d = -745.0f * (float)i / 200000.0f, zero = 0.0f;
            double e = hs_model_sum_exp(&d, 1, zero), want = exp((double)d);
            if (want >= 0x1p-1022 && ulps(e, want) > worst) worst = ulps(e, want);
        }
        print_message("sum_exp: worst %.0f ulps from libm's exp over [-745, 0] (AVX-512 %d)\n", worst, wide && avx512);
        assert_true(worst <= 2);
        float zero = 0.0f, far = -800.0f, ninf = -INFINITY, nan = NAN;
        assert_true(hs_model_sum_exp(&zero, 1, zero) == 1.0);
        assert_true(hs_model_sum_exp(&far, 1, zero) == 0.0);
        assert_true(hs_model_sum_exp(&ninf, 1, zero) == 0.0);
        assert_true(isnan(hs_model_sum_exp(&nan, 1, zero)));
        for (int i = 0; i < 20; i++) x[i] = (float)-i;
        x[13] = NAN;
        assert_true(isnan(hs_model_sum_exp(x, 20, 0.0f)));
        /* a vector lane's exp (the value at lane j of a block of 8, the others' exps 0)
         * is the scalar one's (the value alone, the tail's code) */
        for (int v = 0; v < 2000; v++) {
            float y[8], one = -(float)v * 0.3731f;
            for (int j = 0; j < 8; j++) {
                for (int i = 0; i < 8; i++) y[i] = i == j ? one : -INFINITY;
                if (hs_model_sum_exp(y, 8, 0.0f) != hs_model_sum_exp(&one, 1, 0.0f))
                    fail_msg("sum_exp: exp(%g) in lane %d differs from the scalar one (AVX-512 %d)", (double)one, j,
                             wide && avx512);
            }
        }
    }
    hs_k_avx512_set(avx512);
    free(x);
}

/* Attention over a head's cache: scores have exactly hs_k_dot's bits times the scale, and
 * the weighted sum of values is the plain loop's (each product rounded, then added in key
 * order), for head sizes on and off the 8-float vector (D 8 .. 72, 12, 20) and key counts
 * around the 8-key block. */
static void test_attention_same_bits(void **state)
{
    (void)state;
    static const int Ds[] = {8, 12, 16, 20, 32, 64, 72, 128}, Ts[] = {1, 2, 7, 8, 9, 16, 23, 64, 65};
    unsigned seed = 5;
    for (size_t i = 0; i < sizeof Ds / sizeof *Ds; i++)
        for (size_t j = 0; j < sizeof Ts / sizeof *Ts; j++) {
            int D = Ds[i], T = Ts[j];
            float *q = malloc((size_t)D * sizeof(float)), *K = malloc((size_t)T * D * sizeof(float));
            float *V = malloc((size_t)T * D * sizeof(float)), *p = malloc((size_t)T * sizeof(float));
            float *out = malloc((size_t)D * sizeof(float));
            fill(q, (size_t)D, &seed), fill(K, (size_t)T * D, &seed), fill(V, (size_t)T * D, &seed);
            float scale = 1.0f / sqrtf((float)D);
            hs_k_attn_scores(p, q, K, T, D, scale);
            for (int t = 0; t < T; t++) {
                float want = hs_k_dot(q, K + (size_t)t * D, D) * scale;
                if (memcmp(&want, &p[t], sizeof want))
                    fail_msg("scores D %d T %d: key %d differs from hs_k_dot", D, T, t);
            }
            check_softmax(p, T);
            hs_k_attn_values(out, p, V, T, D);
            for (int d = 0; d < D; d++) {
                float acc = 0.0f;
                for (int t = 0; t < T; t++) {
                    float m = p[t] * V[(size_t)t * D + d]; /* two statements: never contracted to an FMA */
                    acc = acc + m;
                }
                if (memcmp(&acc, &out[d], sizeof acc))
                    fail_msg("values D %d T %d: output %d differs from the loop", D, T, d);
            }
            free(q), free(K), free(V), free(p), free(out);
        }
}

/* gelu_new against double precision over the range activations take (and beyond), with
 * the error scaled by |v| (the output's size where it matters; for large negative v the
 * output is a tiny difference and only absolute accuracy is meaningful). libm's tanhf in
 * the same formula is the yardstick: ours may be at most a little worse. Also: a value
 * gets the same bits wherever it sits in the array (the tail is not computed apart). */
static double gelu_ref(double v)
{
    return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
}

static void test_gelu_accuracy(void **state)
{
    (void)state;
    enum { N = 200003 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) {
        double u = -1.0 + 2.0 * i / (N - 1);
        x[i] = (float)(i % 3 == 0 ? 14.0 * u : i % 3 == 1 ? 3.0 * u : 1e-3 * u * u * u);
    }
    memcpy(y, x, N * sizeof(float));
    hs_k_gelu_new(y, N);
    double worst = 0, worst_libm = 0;
    for (int i = 0; i < N; i++) {
        double v = x[i], ref = gelu_ref(v), scale = fabs(v) > 1e-30 ? fabs(v) : 1e-30;
        float lib = 0.5f * x[i] * (1.0f + tanhf(0.7978845608028654f * (x[i] + 0.044715f * x[i] * x[i] * x[i])));
        worst = fmax(worst, fabs(y[i] - ref) / scale);
        worst_libm = fmax(worst_libm, fabs(lib - ref) / scale);
    }
    fprintf(stderr, "gelu_new: worst error / |v| %.3g (libm tanhf in the same formula: %.3g)\n", worst, worst_libm);
    assert_true(worst <= 2 * worst_libm + 1e-7);
    assert_true(worst < 5e-7);
    for (int off = 0; off < 16; off++) { /* position independence, tails of every length */
        float a[37], b[37];
        for (int i = 0; i < 37; i++) a[i] = x[1000 + 7 * i];
        memcpy(b, a, sizeof a);
        hs_k_gelu_new(a, 37);
        hs_k_gelu_new(b + off, 37 - off);
        assert_memory_equal(a + off, b + off, (size_t)(37 - off) * sizeof(float));
    }
    /* the AVX-512 path (16 lanes, on CPUs that have it) gives the AVX2 path's bits */
    float *w = malloc(N * sizeof(float)), *z = malloc(N * sizeof(float));
    memcpy(w, x, N * sizeof(float));
    memcpy(z, x, N * sizeof(float));
    int wide = hs_k_avx512_set(1);
    hs_k_gelu_new(w, N);
    hs_k_avx512_set(0);
    hs_k_gelu_new(z, N);
    hs_k_avx512_set(wide);
    assert_memory_equal(w, z, N * sizeof(float));
    free(w);
    free(z);
    free(x);
    free(y);
}

/* hs_k_gemm's OpenBLAS route (F32, W in (K, N) layout): exactly cblas_sgemm's result,
 * within float accuracy of our tiles, and the same bits with 1 and 2 threads (the thread
 * count of a rank never changes results: with OpenBLAS's AVX-512 kernels the threads take
 * column slices, which this checks when the loaded core is one of them, e.g. run with
 * OPENBLAS_CORETYPE unset on an AVX-512 CPU; on other cores the route stays on one
 * thread); the LM head's transposed product keeps the tiles' bits. */
/* int8 weights (values q, one scale per stored row) against a scalar double reference of
 * x @ (s q) and x @ (s q)^T, for 1 row (the row kernels), 5 rows (the tiles) and 50
 * (hs_k_matmul's GEMM), ragged shapes. */
static void test_int8_vs_scalar(void **state)
{
    (void)state;
    enum { K = 37, N = 53, B = 50 };
    unsigned seed = 11;
    int8_t *q = malloc(K * N);
    float *s = malloc(K * sizeof(float)), *sn = malloc(N * sizeof(float)), *x = malloc(B * K * sizeof(float));
    float *y = malloc(B * N * sizeof(float));
    for (int i = 0; i < K * N; i++) q[i] = (int8_t)((int)(frand(&seed) * 127.0f));
    for (int k = 0; k < K; k++) s[k] = 0.001f + 0.01f * (frand(&seed) + 1.0f);
    for (int n = 0; n < N; n++) sn[n] = 0.001f + 0.01f * (frand(&seed) + 1.0f);
    fill(x, B * K, &seed);
    int rows[] = {1, 5, B};
    for (int r = 0; r < 3; r++) {
        int b = rows[r];
        hs_k_matmul(y, N, x, K, hs_w_i8(q, s), N, b, K, N, 0.0f);
        for (int i = 0; i < b; i++)
            for (int n = 0; n < N; n++) {
                double ref = 0;
                for (int k = 0; k < K; k++) ref += (double)x[i * K + k] * s[k] * q[k * N + n];
                assert_true(fabs(y[i * N + n] - ref) <= 1e-5 * (1 + fabs(ref)));
            }
        /* W (N, K) = q read as N rows of K, scales per row n: the LM head's product */
        hs_k_dot_rows(y, N, hs_w_i8(q, sn), K, x, K, b, N, K);
        for (int i = 0; i < b; i++)
            for (int n = 0; n < N; n++) {
                double ref = 0;
                for (int k = 0; k < K; k++) ref += (double)x[i * K + k] * sn[n] * q[n * K + k];
                assert_true(fabs(y[i * N + n] - ref) <= 1e-5 * (1 + fabs(ref)));
            }
    }
    free(q), free(s), free(sn), free(x), free(y);
}

/* W8A8 (w8a8.c): the test's own quantization, absmax / 127 rounded to nearest even, of
 * n values at stride `stride`, for the double-precision reference. */
static float w8a8_quant(const float *v, int n, int stride, int *q)
{
    float amax = 0.0f;
    for (int i = 0; i < n; i++) amax = fmaxf(amax, fabsf(v[(size_t)i * stride]));
    float sc = amax / 127.0f;
    for (int i = 0; i < n; i++) q[i] = sc > 0.0f ? (int)nearbyintf(v[(size_t)i * stride] / sc) : 0;
    return sc;
}

/* One output of the slice (rows r0.., column n of W (Kf, Nf)) for the row x (K), in double
 * from the quantized values: column scale x sum over blocks of 32 of block scale x the
 * integer dot product. */
static double w8a8_ref(const float *x, const float *W, int Kf, int Nf, int r0, int K, int n)
{
    int qw[600], qx[32];
    double sw = w8a8_quant(W + n, Kf, Nf, qw), acc = 0;
    for (int k0 = 0; k0 < K; k0 += 32) {
        int len = K - k0 < 32 ? K - k0 : 32;
        double sx = w8a8_quant(x + k0, len, 1, qx);
        long dot = 0;
        for (int k = 0; k < len; k++) dot += (long)qx[k] * qw[r0 + k0 + k];
        acc += sx * (double)dot;
    }
    return sw * acc;
}

/* Every kernel level (VNNI, AVX-512BW, AVX2, scalar; forced with hs_k_w8a8_level_set as far
 * as this CPU goes) gives the scalar reference's bits, a row of a batch its bits alone,
 * with slices on and off the panel grid (r0 % 4, c0 % 16), ragged K and N, beta 0 and 1,
 * 1 and 2 threads; all within float accuracy of the double reference, which also pins
 * the rounding (to nearest even) and the scales. The transposed source (the LM head)
 * gives the same panels as its transpose. */
static void check_w8a8(int B, int Kf, int Nf, int r0, int K, int c0, int N, float beta, unsigned *seed)
{
    float *W = malloc((size_t)Kf * Nf * sizeof(float)), *Wt = malloc((size_t)Kf * Nf * sizeof(float));
    float *x = malloc((size_t)B * (K + 1) * sizeof(float)), *init = malloc((size_t)B * (N + 2) * sizeof(float));
    fill(W, (size_t)Kf * Nf, seed), fill(x, (size_t)B * (K + 1), seed), fill(init, (size_t)B * (N + 2), seed);
    for (int i = 0; i < B * (K + 1); i += 7) x[i] *= 9.0f; /* outliers inside blocks */
    for (int k = 0; k < Kf; k++)
        for (int n = 0; n < Nf; n++) Wt[(size_t)n * Kf + k] = W[(size_t)k * Nf + n];
    size_t nq = hs_k_w8a8_bytes(Kf, Nf), ny = (size_t)B * (N + 2);
    uint8_t *q = malloc(nq), *qt = malloc(nq);
    float *s = malloc((size_t)Nf * sizeof(float)), *st = malloc((size_t)Nf * sizeof(float));
    hs_k_w8a8_make(q, s, W, Nf, 0, Kf, Nf);
    hs_k_w8a8_make(qt, st, Wt, Kf, 1, Kf, Nf);
    assert_memory_equal(q, qt, nq);
    assert_memory_equal(s, st, (size_t)Nf * sizeof(float));
    hs_wq8 V = {q, s, Kf, Nf, (Kf + 3) / 4 * 4};
    float *ref = malloc(ny * sizeof(float)), *y = malloc(ny * sizeof(float));
    memcpy(ref, init, ny * sizeof(float));
    assert_int_equal(hs_k_w8a8_level_set(0), 0);
    hs_k_w8a8(ref, N + 2, x, K + 1, &V, r0, c0, B, K, N, beta);
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            double r = w8a8_ref(x + (size_t)b * (K + 1), W, Kf, Nf, r0, K, c0 + n);
            double want = beta == 0.0f ? r : init[(size_t)b * (N + 2) + n] + r;
            if (fabs(ref[(size_t)b * (N + 2) + n] - want) > 1e-5 * (1.0 + fabs(want)))
                fail_msg("w8a8 B %d K %d N %d: row %d column %d: %g, reference %g", B, K, N, b, n,
                         ref[(size_t)b * (N + 2) + n], want);
        }
    for (int level = 0; level <= 3; level++) {
        if (hs_k_w8a8_level_set(level) != level) break; /* this CPU stops here */
        memcpy(y, init, ny * sizeof(float));
        hs_k_w8a8(y, N + 2, x, K + 1, &V, r0, c0, B, K, N, beta);
        if (memcmp(y, ref, ny * sizeof(float)))
            fail_msg("w8a8 level %d B %d Kf %d Nf %d r0 %d K %d c0 %d N %d beta %g threads %d: differs from scalar",
                     level, B, Kf, Nf, r0, K, c0, N, beta, hs_k_threads());
        for (int b = 0; b < B; b += 2) { /* rows alone */
            float *y1 = y + (size_t)b * (N + 2);
            memcpy(y1, init + (size_t)b * (N + 2), (size_t)(N + 2) * sizeof(float));
            hs_k_w8a8(y1, N + 2, x + (size_t)b * (K + 1), K + 1, &V, r0, c0, 1, K, N, beta);
            assert_memory_equal(y1, ref + (size_t)b * (N + 2), (size_t)(N + 2) * sizeof(float));
        }
    }
    hs_k_w8a8_level_set(3);
    free(W), free(Wt), free(x), free(init), free(q), free(qt), free(s), free(st), free(ref), free(y);
}

/* An infinite activation makes its row's outputs NaN, as f32 arithmetic would, with the
 * same bits at every level; the other row stays finite. */
static void test_w8a8_nonfinite(void **state)
{
    (void)state;
    enum { B = 2, K = 40, N = 20 };
    unsigned seed = 3;
    float W[K * N], x[B * K], y[B * N], ref[B * N];
    fill(W, K * N, &seed), fill(x, B * K, &seed);
    x[K + 33] = INFINITY;
    uint8_t q[4096];
    float s[N];
    assert_true(hs_k_w8a8_bytes(K, N) <= sizeof q);
    hs_k_w8a8_make(q, s, W, N, 0, K, N);
    hs_wq8 V = {q, s, K, N, K};
    hs_k_w8a8_level_set(0);
    hs_k_w8a8(ref, N, x, K, &V, 0, 0, B, K, N, 0.0f);
    for (int n = 0; n < N; n++) assert_true(isfinite(ref[n]) && isnan(ref[N + n]));
    for (int level = 1; level <= 3 && hs_k_w8a8_level_set(level) == level; level++) {
        hs_k_w8a8(y, N, x, K, &V, 0, 0, B, K, N, 0.0f);
        assert_memory_equal(y, ref, sizeof y);
    }
    hs_k_w8a8_level_set(3);
}

static void test_w8a8_levels_same_bits(void **state)
{
    (void)state;
    static const int Bs[] = {1, 2, 5}, Ks[] = {1, 4, 5, 31, 32, 37, 64, 100}, Ns[] = {1, 15, 16, 17, 64, 70, 130};
    unsigned seed = 41;
    fprintf(stderr, "w8a8: kernel levels up to %d on this CPU (3 VNNI, 2 AVX-512BW, 1 AVX2, 0 scalar)\n",
            hs_k_w8a8_level_set(3));
    for (int T = 1; T <= 2; T++) {
        hs_k_set_threads(T);
        for (size_t b = 0; b < sizeof Bs / sizeof *Bs; b++)
            for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++)
                for (size_t n = 0; n < sizeof Ns / sizeof *Ns; n++)
                    check_w8a8(Bs[b], Ks[k], Ns[n], 0, Ks[k], 0, Ns[n], (float)(n & 1), &seed);
        /* slices: on the grid (skip mode's head runs), off it, K past a block edge */
        check_w8a8(3, 100, 130, 32, 64, 16, 80, 0.0f, &seed);
        check_w8a8(3, 100, 130, 4, 37, 32, 98, 1.0f, &seed);
        check_w8a8(2, 100, 130, 3, 40, 5, 60, 1.0f, &seed);
        check_w8a8(2, 100, 130, 8, 33, 17, 100, 0.0f, &seed);
        check_w8a8(1, 100, 330, 4, 96, 16, 300, 1.0f, &seed); /* batch 1: groups in pairs, an odd one, edges */
        check_w8a8(1, 64, 512, 0, 64, 0, 512, 0.0f, &seed);
        check_w8a8(4, 520, 2003, 0, 520, 0, 2003, 0.0f, &seed); /* large enough to be split by threads */
    }
    hs_k_set_threads(1);
}

static void test_gemm_blas_route(void **state)
{
    (void)state;
    enum { M = 57, K = 300, N = 203 }; /* 3.4 M multiply-adds: split by 2 threads */
    unsigned seed = 31;
    size_t nc = (size_t)M * N;
    float *a = malloc((size_t)M * K * sizeof(float)), *w = malloc((size_t)K * N * sizeof(float));
    float *c[4] = {malloc(nc * sizeof(float)), malloc(nc * sizeof(float)), malloc(nc * sizeof(float)),
                   malloc(nc * sizeof(float))};
    fill(a, (size_t)M * K, &seed), fill(w, (size_t)K * N, &seed);
    for (float beta = 0.0f; beta <= 1.0f; beta += 1.0f) {
        for (int i = 0; i < 4; i++) fill(c[i], nc, &(unsigned){5});
        assert_int_equal(hs_k_gemm_blas_set(1), 1);
        hs_k_gemm(c[0], N, a, K, hs_w_f32(w), N, 0, M, K, N, beta);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, w, N, beta, c[1], N);
        assert_memory_equal(c[0], c[1], nc * sizeof(float));
        hs_k_set_threads(2);
        if (hs_k_threads() == 2) { /* else built without OpenMP */
            hs_k_gemm(c[2], N, a, K, hs_w_f32(w), N, 0, M, K, N, beta);
            if (memcmp(c[0], c[2], nc * sizeof(float)))
                fail_msg("OpenBLAS route, beta %g: 2 threads differ from 1", beta);
        }
        hs_k_set_threads(1);
        hs_k_gemm_blas_set(0);
        hs_k_gemm(c[3], N, a, K, hs_w_f32(w), N, 0, M, K, N, beta);
        for (size_t i = 0; i < nc; i++) {
            double mag = fabs(beta) * 1.0 + K; /* |a|, |w| <= 1, starting values <= 1 */
            if (fabs((double)c[0][i] - c[3][i]) > 1e-6 * mag) fail_msg("OpenBLAS route and tiles disagree at %zu", i);
        }
    }
    /* trans_b (the LM head) stays on the tiles whatever the route */
    float *wt = malloc((size_t)N * K * sizeof(float));
    fill(wt, (size_t)N * K, &seed);
    hs_k_gemm(c[0], N, a, K, hs_w_f32(wt), K, 1, M, K, N, 0.0f);
    hs_k_gemm_blas_set(1);
    hs_k_gemm(c[1], N, a, K, hs_w_f32(wt), K, 1, M, K, N, 0.0f);
    hs_k_gemm_blas_set(0);
    assert_memory_equal(c[0], c[1], nc * sizeof(float));
    free(a), free(w), free(wt), free(c[0]), free(c[1]), free(c[2]), free(c[3]);
}

int main(void)
{
    hs_k_gemm_blas_set(0); /* the bit-identity tests below are about our own tiles */
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_matmul_rows_batch_equals_single),
                                       cmocka_unit_test(test_dot_rows_batch_equals_single),
                                       cmocka_unit_test(test_threads_same_bits),
                                       cmocka_unit_test(test_bf16_equals_widened_f32),
                                       cmocka_unit_test(test_avx512_same_bits),
                                       cmocka_unit_test(test_packed_same_bits),
                                       cmocka_unit_test(test_packed_gemm_same_bits),
                                       cmocka_unit_test(test_packed_head_same_bits),
                                       cmocka_unit_test(test_panels_same_bits),
                                       cmocka_unit_test(test_head_list_same_bits),
                                       cmocka_unit_test(test_trans_pack_same_bits),
                                       cmocka_unit_test(test_attention_same_bits),
                                       cmocka_unit_test(test_softmax_same_bits),
                                       cmocka_unit_test(test_sum_exp),
                                       cmocka_unit_test(test_layernorm_rows_same_bits),
                                       cmocka_unit_test(test_gelu_accuracy),
                                       cmocka_unit_test(test_gemm_blas_route),
                                       cmocka_unit_test(test_int8_vs_scalar),
                                       cmocka_unit_test(test_w8a8_levels_same_bits),
                                       cmocka_unit_test(test_w8a8_nonfinite),
                                       cmocka_unit_test(test_heads_equal_rows)};
    return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
