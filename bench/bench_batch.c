/* bench_batch.c: throughput mode's weight products alone, against the core's FMA peak
 * measured in the same run, to split a decode batch's step into "products" and "the
 * rest" (attention, LayerNorm, GELU, biases, argmax), which bench/ab_batch.sh sees
 * together, and to say how far each product is from the arithmetic limit.
 *
 *   bench_batch MODEL_DIR [--batch 32] [--passes 9]
 *
 * Loads the model as a throughput-mode sweep does (pre-packed layer weights,
 * hs_model_opts.pack), takes fixed activations of --batch rows and, in each pass and in an
 * order rotated pass by pass, times:
 *   - the layers' products by kind (QKV, attention projection, MLP up, MLP down), every
 *     layer's, through hs_k_matmul_rows as decode batches call it;
 *   - the LM head through hs_k_dot_rows on its rows (dot_rows512) and on its packed copy
 *     (the tiles), as decode batches call it without and with throughput mode's packing,
 *     after checking that both give the same bits;
 *   - the peak: a loop of independent zmm FMAs on registers (AVX-512 CPUs; 8-lane on
 *     others), whose rate is what the core can do at this moment.
 * Prints per part the median ms, GFLOP/s and the median over passes of its rate over the
 * same pass's peak. */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/model.h"
#include "bench_util.h"
#include "kernels.h"

enum { QKV, PROJ, FC, FC_PROJ, HEAD, HEAD_PACKED, PEAK, NPART };

typedef struct {
    const hs_model *m;
    int B;
    float *x, *y; /* (B, F) activations, (B, V) outputs */
} bench;

/* A register-only FMA loop (fixed count): 12 independent chains, so that the FMA units'
 * latency never limits it, PEAK_ITERS times 12 FMAs of 16 (or 8) lanes. Written in asm:
 * gcc kept the chains of an intrinsics version on the stack. */
enum { PEAK_ITERS = 1 << 22 };
#if defined(__x86_64__)
#define HS_FMA12(r)                                                                                                   \
    "vfmadd231ps %%" r "14, %%" r "15, %%" r "0\n\tvfmadd231ps %%" r "14, %%" r "15, %%" r "1\n\t"                     \
    "vfmadd231ps %%" r "14, %%" r "15, %%" r "2\n\tvfmadd231ps %%" r "14, %%" r "15, %%" r "3\n\t"                     \
    "vfmadd231ps %%" r "14, %%" r "15, %%" r "4\n\tvfmadd231ps %%" r "14, %%" r "15, %%" r "5\n\t"                     \
    "vfmadd231ps %%" r "14, %%" r "15, %%" r "6\n\tvfmadd231ps %%" r "14, %%" r "15, %%" r "7\n\t"                     \
    "vfmadd231ps %%" r "14, %%" r "15, %%" r "8\n\tvfmadd231ps %%" r "14, %%" r "15, %%" r "9\n\t"                     \
    "vfmadd231ps %%" r "14, %%" r "15, %%" r "10\n\tvfmadd231ps %%" r "14, %%" r "15, %%" r "11\n\t"
/* every register zeroed first: a denormal left in one could slow its chain */
#define HS_PEAK_ZERO                                                                                                 \
    "vxorps %%xmm0, %%xmm0, %%xmm0\n\tvxorps %%xmm1, %%xmm1, %%xmm1\n\tvxorps %%xmm2, %%xmm2, %%xmm2\n\t"             \
    "vxorps %%xmm3, %%xmm3, %%xmm3\n\tvxorps %%xmm4, %%xmm4, %%xmm4\n\tvxorps %%xmm5, %%xmm5, %%xmm5\n\t"             \
    "vxorps %%xmm6, %%xmm6, %%xmm6\n\tvxorps %%xmm7, %%xmm7, %%xmm7\n\tvxorps %%xmm8, %%xmm8, %%xmm8\n\t"             \
    "vxorps %%xmm9, %%xmm9, %%xmm9\n\tvxorps %%xmm10, %%xmm10, %%xmm10\n\tvxorps %%xmm11, %%xmm11, %%xmm11\n\t"        \
    "vxorps %%xmm14, %%xmm14, %%xmm14\n\tvxorps %%xmm15, %%xmm15, %%xmm15\n\t"
#define HS_PEAK_CLOBBERS(r)                                                                                           \
    r "0", r "1", r "2", r "3", r "4", r "5", r "6", r "7", r "8", r "9", r "10", r "11", r "14", r "15"

__attribute__((target("avx512f"))) static void peak512(void)
{
    long n = PEAK_ITERS;
    __asm__ volatile(HS_PEAK_ZERO "1:\n\t" HS_FMA12("zmm") "dec %0\n\tjnz 1b"
                     : "+r"(n)
                     :
                     : HS_PEAK_CLOBBERS("xmm"), "cc");
}

__attribute__((target("avx2,fma"))) static void peak256(void)
{
    long n = PEAK_ITERS;
    __asm__ volatile(HS_PEAK_ZERO "1:\n\t" HS_FMA12("ymm") "dec %0\n\tjnz 1b"
                     : "+r"(n)
                     :
                     : HS_PEAK_CLOBBERS("xmm"), "cc");
}
#endif

static double peak_flops(void) { return 2.0 * PEAK_ITERS * 12 * (hs_k_avx512() ? 16 : 8); }

static double peak_run(void)
{
    double t0 = hs_now();
#if defined(__x86_64__)
    if (hs_k_avx512()) peak512();
    else peak256();
#endif
    return hs_now() - t0;
}

/* Layer l's product of kind k as a decode batch calls it: its weights, K and N. */
static hs_w product_w(const hs_block *b, int k)
{
    const float *f[4] = {b->attn_w, b->proj_w, b->fc_w, b->fc_proj_w};
    const uint16_t *h[4] = {b->attn_w16, b->proj_w16, b->fc_w16, b->fc_proj_w16};
    const hs_wpack *p[4] = {&b->attn_wp, &b->proj_wp, &b->fc_wp, &b->fc_proj_wp};
    return (hs_w){.f = h[k] ? NULL : f[k], .h = h[k], .p = p[k]->data ? p[k] : NULL};
}

static void product_kn(const hs_model *m, int k, int *K, int *N)
{
    int C = m->cfg.n_embd, F = m->cfg.n_inner;
    const int Ks[4] = {C, C, C, F}, Ns[4] = {3 * C, C, F, C};
    *K = Ks[k], *N = Ns[k];
}

static double part_flops(const bench *b, int part)
{
    const hs_config *c = &b->m->cfg;
    if (part == HEAD || part == HEAD_PACKED) return 2.0 * b->B * c->vocab_size * c->n_embd;
    if (part == PEAK) return peak_flops();
    int K, N;
    product_kn(b->m, part, &K, &N);
    return 2.0 * b->B * K * N * c->n_layer;
}

static double part_run(const bench *b, int part, volatile float *sink)
{
    const hs_model *m = b->m;
    int C = m->cfg.n_embd, V = m->cfg.vocab_size;
    if (part == PEAK) return peak_run();
    double t0 = hs_now();
    if (part == HEAD) {
        hs_w W = m->lm_head16 ? hs_w_bf16(m->lm_head16) : hs_w_f32(m->lm_head);
        hs_k_dot_rows(b->y, V, W, C, b->x, C, b->B, V, C);
    } else if (part == HEAD_PACKED) { /* as decode batches call it in throughput mode */
        hs_w W = m->lm_head16 ? hs_w_bf16(m->lm_head16) : hs_w_f32(m->lm_head);
        W.p = &m->lm_head_wp;
        hs_k_dot_rows(b->y, V, W, C, b->x, C, b->B, V, C);
    } else {
        int K, N;
        product_kn(m, part, &K, &N);
        for (int l = 0; l < m->cfg.n_layer; l++)
            hs_k_matmul_rows(b->y, N, b->x, K, product_w(&m->blocks[l], part), N, b->B, K, N, 0.0f);
    }
    double t = hs_now() - t0;
    *sink += b->y[0];
    return t;
}

/* The LM head's two routes: logits whose bits differ (-1: no memory, or no packed head). */
static long check_head(bench *b)
{
    const hs_model *m = b->m;
    size_t n = (size_t)b->B * m->cfg.vocab_size;
    float *t = malloc(n * sizeof(float));
    if (!t || !m->lm_head_wp.data) return free(t), -1;
    volatile float sink = 0;
    part_run(b, HEAD, &sink);
    memcpy(t, b->y, n * sizeof(float));
    part_run(b, HEAD_PACKED, &sink);
    long bad = 0;
    for (size_t i = 0; i < n; i++) bad += memcmp(&t[i], &b->y[i], sizeof(float)) != 0;
    free(t);
    return bad;
}

static void report(const bench *b, double *t[NPART], int passes)
{
    static const char *names[NPART] = {"QKV (c_attn)", "attention projection", "MLP up (c_fc)",
                                       "MLP down (c_proj)", "LM head, rows kernel",
                                       "LM head, packed tiles", "FMA peak (registers)"};
    double *f = malloc((size_t)passes * sizeof *f), *tt = malloc((size_t)passes * sizeof *tt);
    if (!f || !tt) return;
    printf("| part | GFLOP | ms (median) | GFLOP/s | rate / peak (median of passes) |\n| --- | --- | --- | --- | --- "
           "|\n");
    double pk = peak_flops();
    for (int v = 0; v < NPART; v++) {
        double fl = part_flops(b, v);
        for (int r = 0; r < passes; r++) f[r] = (fl / t[v][r]) / (pk / t[PEAK][r]), tt[r] = t[v][r];
        double ms = hs_bench_median(tt, passes) * 1e3;
        printf("| %s | %.3f | %.3f | %.1f | %.3f |\n", names[v], fl / 1e9, ms, fl / 1e6 / ms,
               hs_bench_median(f, passes));
    }
    free(f), free(tt);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc % 2) {
        fprintf(stderr, "usage: bench_batch MODEL_DIR [--batch 32] [--passes 9]\n");
        return 2;
    }
    hs_model_opts o = {.pack = 1};
    int passes = 9, B = 32;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch") && (B = atoi(argv[i + 1])) >= 2 && B <= 256) continue;
        if (!strcmp(argv[i], "--passes") && (passes = atoi(argv[i + 1])) > 0) continue;
        fprintf(stderr, "bench_batch: bad option %s %s (--batch 2..256, --passes N > 0)\n", argv[i], argv[i + 1]);
        return 2;
    }
    hs_model m;
    if (hs_model_load(&m, argv[1], &o)) return fprintf(stderr, "bench_batch: %s\n", hs_err_msg()), 1;
    int F = m.cfg.n_inner, V = m.cfg.vocab_size;
    bench b = {.m = &m, .B = B};
    b.x = malloc((size_t)B * F * sizeof(float)), b.y = malloc((size_t)B * (V > 4 * F ? V : 4 * F) * sizeof(float));
    double *t[NPART] = {0};
    int ok = b.x && b.y;
    for (int v = 0; v < NPART && ok; v++) ok = (t[v] = malloc((size_t)passes * sizeof(double))) != NULL;
    if (!ok) return fprintf(stderr, "bench_batch: out of memory\n"), 1;
    for (long i = 0; i < (long)B * F; i++) b.x[i] = sinf(0.37f * (float)i) * 0.5f;
    printf("bench_batch %s, batch %d, %d passes, %s kernels, %s\n", argv[1], B, passes,
           hs_k_avx512() ? "AVX-512" : "AVX2", m.blocks[0].attn_wp.data ? "pre-packed" : "not packed");
    long bad = check_head(&b);
    if (bad) printf("LM head: %ld logits whose bits differ between the rows kernel and the packed tiles\n", bad);
    volatile float sink = 0;
    for (int v = 0; v < NPART; v++) part_run(&b, v, &sink); /* warm-up */
    for (int r = 0; r < passes; r++)
        for (int i = 0; i < NPART; i++) {
            int v = (r + i) % NPART;
            t[v][r] = part_run(&b, v, &sink);
        }
    report(&b, t, passes);
    for (int v = 0; v < NPART; v++) free(t[v]);
    free(b.x), free(b.y);
    hs_model_free(&m);
    return bad != 0 || sink < 0;
}
