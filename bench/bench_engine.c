/* bench_engine.c: prefill and decode speed of the engine on one model, printed as one
 * JSON line per configuration, so bench/run_bench.sh can set it beside PyTorch.
 *
 *   bench_engine MODEL_DIR [--prompt 128] [--new 128] [--repeats 5] [--threads 1]
 *                [--gating mask|skip] [--off-pct 0,30,50,70] [--sgemm 1]
 * --batch 1,8,16 instead times throughput-mode decode of that many sequences together,
 * with the weights pre-packed as the sweep's throughput mode has them (--pack 0: not).
 * --sgemm 1 instead times the prefill matmul shapes in OpenBLAS and in our kernel.
 * --weights bf16|int8 runs in that weight mode; --bf16-error 1 (--int8-error 1) instead
 * compares bf16 (int8) logits with f32 ones over a --prompt long sequence.
 * --paired R instead times skip mode at --off-pct against mask 0% and 50% in R rounds of
 * turns, with ratios taken within each round.
 * --read-bw MB instead measures this core's streaming read bandwidth over MB megabytes
 * (the roofline of batch-1 decode: weight bytes per token / bandwidth); --read-streams 0
 * tries every way of reading (streams, prefetch) and reports the fastest.
 * --roofline MiB instead times decode against the read probe token by token: after each
 * decoded token, one read of MiB mebibytes (a decimal number: the bytes a token of the
 * weight mode reads), the 15 ways of --read-streams 0 in turn; a token's fraction of its
 * limit is that read's time over the token's, reported for the way whose reads were
 * fastest. A token and its read are a microsecond apart and see the
 * same memory system, where a probe run seconds before or after the decode does not on a
 * host whose other tenants' traffic drifts (the 2026-12-06 AMD EPYC: one core read 25-40
 * GB/s from minute to minute).
 * --head-major 0|1 loads skip mode's head-major c_attn (hs_model_opts.head_major; default
 * 1 with --gating skip or --paired, as the sweep loads a model for skip-mode variants).
 * --panels 0 decodes batch 1 on the row kernels without latency mode's panels (which it
 * loads by default, as the sweep's latency mode does; with --batch too, so that batch 1,
 * throughput mode's baseline, runs as in latency mode).
 * --huge-pages 1 puts the weights (or the --read-bw buffer) on 2 MB transparent huge
 * pages (hs_model_opts.huge_pages) and says on stderr how many kB the kernel gave.
 *
 * Decode runs greedy from the prompt (argmax, as the PyTorch side does); the median of
 * the repeats is reported, after one untimed warm-up pass (as torch_gpt2.py's --warmup 1:
 * a cold first prefill pays the weights' page faults and cache misses, half its time on
 * the gpt2 shape). Heads switched off are the first ones in (layer, head) order
 * spread evenly over layers, which is what matters for bytes read. */
#include <cblas.h>
#include <math.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/eval.h"
#include "headsweep/model.h"
#include "bench_util.h"
#include "kernels.h"

void openblas_set_num_threads(int);

/* greedy decode's pick, as the sweep's sampler makes it (hs_argmax, 8 lanes at a time) */
static int argmax(const float *x, int n) { return (int)hs_argmax(x, n); }

/* Every k-th head off, spread over layers: off heads per layer differ by at most one. */
static void make_gates(float *g, int L, int H, double pct)
{
    int total = L * H, off = (int)lround(pct / 100.0 * total);
    for (int i = 0; i < total; i++) g[i] = 1.0f;
    for (int k = 0; k < off; k++) {
        int l = k % L, h = H - 1 - k / L; /* round-robin over layers from the last head */
        g[l * H + h] = 0.0f;
    }
}

static int run(const hs_model *m, hs_gating mode, double pct, int np, int nn, int reps)
{
    int L = m->cfg.n_layer, H = m->cfg.n_head, V = m->cfg.vocab_size;
    float *g = malloc((size_t)L * H * sizeof(float)), *lg = malloc((size_t)V * sizeof(float));
    int32_t *ids = malloc((size_t)(np + nn) * sizeof(int32_t));
    double *pre = malloc((size_t)reps * sizeof(double)), *dec = malloc((size_t)reps * sizeof(double));
    make_gates(g, L, H, pct);
    for (int i = 0; i < np; i++) ids[i] = (int32_t)((i * 7919 + 13) % V);
    hs_ctx *c;
    if (hs_ctx_init(&c, m, np + nn, mode) || hs_ctx_set_gates(c, g)) {
        fprintf(stderr, "bench: %s\n", hs_err_msg());
        return 1;
    }
    for (int r = -1; r < reps; r++) { /* r = -1: the warm-up, not recorded */
        hs_ctx_reset(c);
        double t0 = hs_now();
        hs_ctx_forward(c, ids, np, lg, 0);
        double t1 = hs_now();
        for (int i = 0; i < nn; i++) {
            int32_t t = argmax(lg, V);
            hs_ctx_forward(c, &t, 1, lg, 0);
        }
        double t2 = hs_now();
        if (r < 0) continue;
        pre[r] = np / (t1 - t0);
        dec[r] = 1000.0 * (t2 - t1) / nn;
    }
    printf("{\"engine\": \"headsweep\", \"gating\": \"%s\", \"off_pct\": %g, \"prompt\": %d, \"new\": %d, "
           "\"prefill_tokens_per_s\": %.2f, \"decode_ms_per_token\": %.3f}\n",
           hs_gating_name(mode), pct, np, nn, hs_bench_median(pre, reps), hs_bench_median(dec, reps));
    fflush(stdout);
    hs_ctx_free(c);
    free(g), free(lg), free(ids), free(pre), free(dec);
    return 0;
}

/* ms per decode token of nn greedy tokens after an np-token prompt (ids), from a reset c. */
static double decode_ms(hs_ctx *c, const int32_t *ids, int np, int nn, float *lg, int V)
{
    hs_ctx_reset(c);
    hs_ctx_forward(c, ids, np, lg, 0);
    double t1 = hs_now();
    for (int i = 0; i < nn; i++) {
        int32_t t = argmax(lg, V);
        hs_ctx_forward(c, &t, 1, lg, 0);
    }
    return 1000.0 * (hs_now() - t1) / nn;
}

/* Skip mode at each of pcts against mask mode at 0% and 50%, measured in turns: each
 * round times every configuration once (in a rotated order), and the ratios are taken
 * within a round, so the machine's drift between rounds (other tenants' memory traffic)
 * cancels out. Prints each configuration's median ms/token and its median ratios. */
static int bench_paired(const hs_model *m, const char *pcts, int np, int nn, int reps)
{
    enum { MAXC = 16 };
    int L = m->cfg.n_layer, H = m->cfg.n_head, V = m->cfg.vocab_size, n = 2;
    hs_gating mode[MAXC] = {HS_GATING_MASK, HS_GATING_MASK};
    double pct[MAXC] = {0, 50};
    char *list = strdup(pcts);
    for (char *tok = strtok(list, ","); tok && n < MAXC; tok = strtok(NULL, ","))
        mode[n] = HS_GATING_SKIP, pct[n++] = atof(tok);
    free(list);
    hs_ctx *c[MAXC] = {0};
    float *g = malloc((size_t)L * H * sizeof(float)), *lg = malloc((size_t)V * sizeof(float));
    int32_t *ids = malloc((size_t)(np + nn) * sizeof(int32_t));
    double *ms = calloc((size_t)(n * reps), sizeof *ms), *ratio = calloc((size_t)reps, sizeof *ratio);
    int rc = !g || !lg || !ids || !ms || !ratio;
    for (int i = 0; i < np; i++) ids[i] = (int32_t)((i * 7919 + 13) % V);
    for (int k = 0; k < n && !rc; k++) {
        make_gates(g, L, H, pct[k]);
        rc = hs_ctx_init(&c[k], m, np + nn, mode[k]) || hs_ctx_set_gates(c[k], g);
    }
    if (rc) fprintf(stderr, "bench: %s\n", hs_err_msg());
    for (int r = 0; r < reps && !rc; r++)
        for (int j = 0; j < n; j++) {
            int k = (j + r) % n;
            ms[k * reps + r] = decode_ms(c[k], ids, np, nn, lg, V);
        }
    int skip0 = -1;
    for (int k = 2; k < n; k++)
        if (pct[k] == 0) skip0 = k;
    for (int k = 0; k < n && !rc; k++) {
        double rm, rs = NAN, rmh, q1 = NAN, q3 = NAN;
        for (int r = 0; r < reps; r++) ratio[r] = ms[r] / ms[k * reps + r];
        rm = hs_bench_median(ratio, reps); /* sorts ratio: quartiles follow */
        double q1m = ratio[(reps - 1) / 4], q3m = ratio[(3 * (reps - 1) + 3) / 4];
        for (int r = 0; r < reps; r++) ratio[r] = ms[1 * reps + r] / ms[k * reps + r];
        rmh = hs_bench_median(ratio, reps);
        if (skip0 >= 0) {
            for (int r = 0; r < reps; r++) ratio[r] = ms[skip0 * reps + r] / ms[k * reps + r];
            rs = hs_bench_median(ratio, reps);
            q1 = ratio[(reps - 1) / 4], q3 = ratio[(3 * (reps - 1) + 3) / 4];
        }
        printf(
            "{\"paired\": %d, \"gating\": \"%s\", \"off_pct\": %g, \"decode_ms_per_token\": %.3f, "
            "\"speedup_vs_mask0\": %.4f, \"speedup_vs_mask0_quartiles\": [%.4f, %.4f], "
            "\"speedup_vs_mask50\": %.4f, \"speedup_vs_skip0\": %.4f, \"speedup_vs_skip0_quartiles\": [%.4f, %.4f]}\n",
            reps, hs_gating_name(mode[k]), pct[k], hs_bench_median(ms + k * reps, reps), rm, q1m, q3m, rmh, rs, q1, q3);
    }
    for (int k = 0; k < n; k++) hs_ctx_free(c[k]);
    free(g), free(lg), free(ids), free(ms), free(ratio);
    return rc;
}

/* Largest error of C = A (n, K) @ W (K, N) against a float64 product, over a sample of
 * entries, relative to sum_k |a_ik w_kj| (the size rounding errors scale with). */
static double sgemm_error(const float *x, const float *w, const float *y, int n, int K, int N)
{
    double worst = 0.0;
    for (int i = 0; i < n; i += 7)
        for (int j = 0; j < N; j += 29) {
            double s = 0.0, mag = 0.0;
            for (int k = 0; k < K; k++) {
                double t = (double)x[(size_t)i * K + k] * w[(size_t)k * N + j];
                s += t, mag += fabs(t);
            }
            double e = fabs(s - y[(size_t)i * N + j]) / (mag > 0.0 ? mag : 1.0);
            if (e > worst) worst = e;
        }
    return worst;
}

/* GFLOP/s of the prefill matmul shapes (n x C @ C x N) through OpenBLAS sgemm and through
 * the engine's own kernel (hs_k_gemm with the OpenBLAS route off), and through hs_k_gemm as
 * it dispatches, alternated call by call so both see the same machine load; medians of the
 * reps and of the per-rep ratios, each result checked against float64. The first line says
 * which OpenBLAS kernel this process got (OPENBLAS_CORETYPE is read when the library loads). */
static void bench_sgemm(const hs_model *m, int n, int reps)
{
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("{\"openblas_corename\": \"%s\", \"openblas_config\": \"%s\", \"OPENBLAS_CORETYPE\": \"%s\", "
           "\"hs_gemm_uses_openblas\": %d}\n",
           openblas_get_corename(), openblas_get_config(), ct ? ct : "(unset)", hs_k_gemm_blas());
    int C = m->cfg.n_embd, F = m->cfg.n_inner;
    int shapes[4][2] = {{C, 3 * C}, {C, C}, {C, F}, {F, C}};
    const float *w[4] = {m->blocks[0].attn_w, m->blocks[0].proj_w, m->blocks[0].fc_w, m->blocks[0].fc_proj_w};
    int route = hs_k_gemm_blas();
    for (int s = 0; s < 4; s++) {
        int K = shapes[s][0], N = shapes[s][1];
        float *x = malloc((size_t)n * K * sizeof(float)), *y = malloc((size_t)n * N * sizeof(float));
        float *z = malloc((size_t)n * N * sizeof(float));
        double *tb = malloc((size_t)reps * 3 * sizeof(double)), *to = tb + reps, *rt = tb + 2 * reps;
        if (!x || !y || !z || !tb) {
            fprintf(stderr, "bench_engine: out of memory in --sgemm\n");
            exit(2);
        }
        for (long i = 0; i < (long)n * K; i++) x[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
        /* one untimed call of each first: page faults of the weight mapping, warm caches */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, N, K, 1.0f, x, K, w[s], N, 0.0f, y, N);
        hs_k_gemm_blas_set(0);
        hs_k_gemm(z, N, x, K, hs_w_f32(w[s]), N, 0, n, K, N, 0.0f);
        for (int r = 0; r < reps; r++) {
            double t0 = hs_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, N, K, 1.0f, x, K, w[s], N, 0.0f, y, N);
            double t1 = hs_now();
            hs_k_gemm(z, N, x, K, hs_w_f32(w[s]), N, 0, n, K, N, 0.0f);
            double t2 = hs_now();
            tb[r] = 2.0 * n * K * N / (t1 - t0) / 1e9;
            to[r] = 2.0 * n * K * N / (t2 - t1) / 1e9;
            rt[r] = to[r] / tb[r];
        }
        hs_k_gemm_blas_set(route);
        printf("{\"sgemm_shape\": [%d, %d, %d], \"openblas_gflops\": %.2f, \"headsweep_gflops\": %.2f, "
               "\"ratio_median\": %.3f, \"openblas_max_rel_err\": %.2g, \"headsweep_max_rel_err\": %.2g}\n",
               n, K, N, hs_bench_median(tb, reps), hs_bench_median(to, reps), hs_bench_median(rt, reps),
               sgemm_error(x, w[s], y, n, K, N), sgemm_error(x, w[s], z, n, K, N));
        fflush(stdout);
        free(x), free(y), free(z), free(tb);
    }
}

/* bf16 (or int8, or W8A8) weight mode against f32 on the same token sequence (np tokens, logits at
 * every position, decode-free so both see the same inputs): largest absolute logit
 * difference, the same relative to the f32 logits' spread, and how often the top token
 * agrees. */
static int bench_weights_error(const char *dir, int np, hs_weights w)
{
    hs_model m32, m16;
    if (hs_model_load(&m32, dir, NULL) || hs_model_load(&m16, dir, &(hs_model_opts){.weights = w})) {
        fprintf(stderr, "bench: %s\n", hs_err_msg());
        return 2;
    }
    int V = m32.cfg.vocab_size;
    if (np > m32.cfg.n_positions) np = m32.cfg.n_positions;
    int32_t *ids = malloc((size_t)np * sizeof(int32_t));
    float *a = malloc((size_t)np * V * sizeof(float)), *b = malloc((size_t)np * V * sizeof(float));
    for (int i = 0; i < np; i++) ids[i] = (int32_t)((i * 7919 + 13) % V);
    hs_ctx *c32, *c16;
    if (hs_ctx_init(&c32, &m32, np, HS_GATING_MASK) || hs_ctx_init(&c16, &m16, np, HS_GATING_MASK) ||
        hs_ctx_forward(c32, ids, np, a, 1) || hs_ctx_forward(c16, ids, np, b, 1)) {
        fprintf(stderr, "bench: %s\n", hs_err_msg());
        return 2;
    }
    double worst = 0, spread = 0;
    int agree = 0;
    for (int t = 0; t < np; t++) {
        const float *x = a + (size_t)t * V, *y = b + (size_t)t * V;
        float lo = x[0], hi = x[0];
        for (int v = 0; v < V; v++) {
            worst = fmax(worst, fabs((double)x[v] - y[v]));
            lo = fminf(lo, x[v]), hi = fmaxf(hi, x[v]);
        }
        spread = fmax(spread, hi - lo);
        agree += argmax(x, V) == argmax(y, V);
    }
    printf("{\"%s_vs_f32\": {\"positions\": %d, \"max_abs_logit_diff\": %.4g, \"logit_spread\": %.4g, "
           "\"top1_agreement\": %.4f}}\n", hs_weights_name(w), np, worst, spread, (double)agree / np);
    hs_ctx_free(c32), hs_ctx_free(c16);
    hs_model_free(&m32), hs_model_free(&m16);
    free(ids), free(a), free(b);
    return 0;
}

/* Throughput mode: B sequences (prompt np each) decoded together for nn steps;
 * reports aggregate decode tokens/s beside B = 1 measured in the same run. */
static void bench_batch(const hs_model *m, int B, int np, int nn, int reps, int pack)
{
    int V = m->cfg.vocab_size;
    hs_ctx **seqs = calloc((size_t)B, sizeof *seqs);
    int32_t *ids = malloc((size_t)np * sizeof(int32_t)), *tok = malloc((size_t)B * sizeof(int32_t));
    float *lg = malloc((size_t)B * V * sizeof(float));
    double *tps = malloc((size_t)reps * sizeof(double));
    for (int i = 0; i < np; i++) ids[i] = (int32_t)((i * 7919 + 13) % V);
    for (int b = 0; b < B; b++) hs_ctx_init(&seqs[b], m, np + nn, HS_GATING_MASK);
    /* r = -1: an untimed warm-up, as run() does: the first pass pays the KV caches'
     * page faults (their pages are first written by the decode steps' appends: 7% of a
     * batch-32 step on the gpt2 shape in a VM), which a sweep pays once per cell, its
     * contexts reused from prompt to prompt */
    for (int r = -1; r < reps; r++) {
        for (int b = 0; b < B; b++) {
            hs_ctx_reset(seqs[b]);
            hs_ctx_forward(seqs[b], ids, np, lg, 0);
            tok[b] = (int32_t)((b * 31) % V);
        }
        double t0 = hs_now();
        for (int s = 0; s < nn; s++) {
            /* batch 1 as latency mode decodes (its panels), the baseline throughput mode
             * is judged against; the batch step gives the same bits either way */
            if (B == 1) hs_ctx_forward(seqs[0], tok, 1, lg, 0);
            else hs_ctx_forward_batch(seqs, B, tok, lg);
            for (int b = 0; b < B; b++) tok[b] = (int32_t)argmax(lg + (size_t)b * V, V);
        }
        if (r >= 0) tps[r] = (double)B * nn / (hs_now() - t0);
    }
    printf("{\"engine\": \"headsweep\", \"mode\": \"batch\", \"batch\": %d, \"prompt\": %d, \"new\": %d, "
           "\"packed\": %d, \"decode_tokens_per_s\": %.2f}\n", B, np, nn, pack, hs_bench_median(tps, reps));
    fflush(stdout);
    for (int b = 0; b < B; b++) hs_ctx_free(seqs[b]);
    free(seqs), free(ids), free(tok), free(lg), free(tps);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The read-bandwidth probe: a pass reads every float of a once, as k streams side by side
 * (k equal parts of a, 64 floats = 4 cache lines of each in turn), optionally prefetching
 * pf bytes ahead in every stream. Batch-1 decode reads its weights as 8 prefetched row
 * streams (src/model/kernels_wt.h), the W8A8 kernel as 4, the LM head as 1: a probe that
 * reads only one way is no ceiling for the others (one stream read 12 GB/s on a CPU where
 * W8A8 decode read 20.5). n % (64 * k) == 0. */
#define READ_STEP 64
#if defined(__x86_64__)
#define READ_PASS(NAME, TARGET, VEC, ZERO, LOAD, ADD, WIDTH)                                                     \
    __attribute__((target(TARGET))) static float NAME(const float *a, size_t n, int k, size_t pf)              \
    {                                                                                                         \
        size_t q = n / (size_t)k;                                                                             \
        VEC s[16];                                                                                            \
        for (int p = 0; p < k; p++) s[p] = ZERO();                                                            \
        for (size_t i = 0; i < q; i += READ_STEP)                                                             \
            for (int p = 0; p < k; p++) {                                                                     \
                const float *b = a + (size_t)p * q + i;                                                       \
                if (pf && i * sizeof *a + pf < q * sizeof *a)                                                 \
                    for (int l = 0; l < READ_STEP * (int)sizeof *a; l += 64)                                  \
                        _mm_prefetch((const char *)b + pf + l, _MM_HINT_T0);                                  \
                VEC t = ZERO();                                                                               \
                for (int j = 0; j < READ_STEP; j += WIDTH) t = ADD(t, LOAD(b + j));                           \
                s[p] = ADD(s[p], t);                                                                          \
            }                                                                                                 \
        float o[16] = {0}, sum = 0;                                                                           \
        for (int p = 0; p < k; p++) {                                                                         \
            VEC u = s[p];                                                                                     \
            memcpy(o, &u, sizeof u);                                                                          \
            for (int j = 0; j < WIDTH; j++) sum += o[j];                                                      \
        }                                                                                                     \
        return sum;                                                                                           \
    }
READ_PASS(read_pass_avx2, "avx2", __m256, _mm256_setzero_ps, _mm256_load_ps, _mm256_add_ps, 8)
READ_PASS(read_pass_avx512, "avx512f", __m512, _mm512_setzero_ps, _mm512_load_ps, _mm512_add_ps, 16)
static int read_wide(void) { return __builtin_cpu_supports("avx512f"); }
static float read_pass(const float *a, size_t n, int k, size_t pf)
{
    return read_wide() ? read_pass_avx512(a, n, k, pf) : read_pass_avx2(a, n, k, pf);
}
#else
static int read_wide(void) { return 0; }
static float read_pass(const float *a, size_t n, int k, size_t pf)
{
    (void)pf;
    size_t q = n / (size_t)k;
    float s[16] = {0}, sum = 0;
    for (size_t i = 0; i < q; i++)
        for (int p = 0; p < k; p++) s[p] += a[(size_t)p * q + i];
    for (int p = 0; p < k; p++) sum += s[p];
    return sum;
}
#endif

/* Median seconds of reps passes over a (n floats) as k streams prefetching pf bytes ahead. */
static double read_time(const float *a, size_t n, int k, size_t pf, int reps, double *t, volatile float *sink)
{
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        *sink += read_pass(a, n, k, pf);
        t[r] = now_s() - t0;
    }
    return hs_bench_median(t, reps);
}

/* The ways of reading the probe tries (--read-streams 0, --roofline): stream counts and
 * prefetch distances. */
static const int read_ks[] = {1, 2, 4, 8, 16};
static const size_t read_pfs[] = {0, 1024, 4096};

/* One core's read bandwidth over MB megabytes (make it the weight bytes a token reads: on a
 * CPU whose last-level cache holds part of them, a buffer of another size is cached
 * differently), median of reps passes. streams 1, 2, 4, 8 or 16 reads that way without
 * prefetch; streams 0 tries every stream count with prefetch 0, 1 KiB and 4 KiB ahead and
 * reports the fastest as the ceiling (and every way tried). */
static int bench_read_bw(int mb, int reps, int huge, int streams)
{
    size_t n = (size_t)mb * (1u << 20) / sizeof(float) / (READ_STEP * 16) * (READ_STEP * 16);
    float *a = !n ? NULL : huge ? hs_malloc_huge(n * sizeof *a, "read-bw buffer") : aligned_alloc(64, n * sizeof *a);
    double *t = calloc((size_t)(reps > 0 ? reps : 1), sizeof *t);
    if (!a || !t || reps < 1) return fprintf(stderr, "bench: cannot allocate %d MB\n", mb), free(a), free(t), 2;
    for (size_t i = 0; i < n; i++) a[i] = 1.0f; /* touch every page before timing */
    if (huge) fprintf(stderr, "bench: %ld kB on huge pages\n", hs_anon_huge_kb());
    volatile float sink = 0;
    double best = 0;
    int best_k = streams, nk = streams ? 1 : 5, npf = streams ? 1 : 3;
    size_t best_pf = 0;
    char all[1024] = "";
    size_t used = 0;
    read_pass(a, n, streams ? streams : 1, 0); /* warm-up: the caches hold what a pass leaves */
    for (int i = 0; i < nk; i++)
        for (int j = 0; j < npf; j++) {
            int k = streams ? streams : read_ks[i];
            size_t pf = streams ? 0 : read_pfs[j];
            double gb_s = (double)(n * sizeof *a) / read_time(a, n, k, pf, reps, t, &sink) / 1e9;
            used += (size_t)snprintf(all + used, used < sizeof all ? sizeof all - used : 0, "%s[%d, %zu, %.3f]",
                                     used ? ", " : "", k, pf, gb_s);
            if (gb_s > best) best = gb_s, best_k = k, best_pf = pf;
        }
    printf("{\"read_bw_gb_s\": %.3f, \"bytes\": %zu, \"streams\": %d, \"prefetch_bytes\": %zu, \"loads\": \"%s\", "
           "\"tried_streams_prefetch_gb_s\": [%s]}\n",
           best, n * sizeof *a, best_k, best_pf, read_wide() ? "avx512" : "avx2", all);
    free(a), free(t);
    return sink < 0;
}

/* One way of reading the probe buffer: k streams, prefetching pf bytes ahead. */
typedef struct {
    int k;
    size_t pf;
} read_way;

enum { ROOF_WAYS = 15 }; /* bench_read_bw's ways (streams 0), read after the tokens in turn */

/* Decode of nn tokens after an np-token prompt, reps times, each token followed by one
 * read of the probe buffer, the 15 ways of --read-bw --read-streams 0 taking turns token
 * by token (see the file's comment). One read per token, so that each read, like each
 * token, follows a pass over other bytes (the token's weights, the probe's buffer): reads
 * back to back find the buffer's tail in the last-level cache, which a token never finds
 * its weights in, and a ranking of the ways made that way picked ways that were not the
 * fastest after a token (f32 decode then read faster than the probe's "fastest" ways).
 * Prints, for the way whose reads were fastest (median; picking the best of 15 noisy
 * medians makes the probe look faster, never slower), the medians of its tokens'
 * fractions and its read rate. Use nn x reps of 90 or more (6 reads per way). */
static int bench_roofline(const hs_model *m, double mb, int np, int nn, int reps)
{
    int V = m->cfg.vocab_size;
    size_t n = (size_t)(mb * (1u << 20)) / sizeof(float) / (READ_STEP * 16) * (READ_STEP * 16);
    size_t nt = (size_t)nn * (size_t)reps, cap = nt / ROOF_WAYS + 1;
    float *a = n ? aligned_alloc(64, n * sizeof *a) : NULL, *lg = malloc((size_t)V * sizeof *lg);
    int32_t *ids = malloc((size_t)np * sizeof *ids);
    double *tok = malloc(nt * sizeof *tok), *pr = malloc(ROOF_WAYS * cap * sizeof *pr);
    double *fr = malloc(ROOF_WAYS * cap * sizeof *fr);
    size_t cnt[ROOF_WAYS] = {0};
    hs_ctx *c = NULL;
    int ok = a && lg && ids && tok && pr && fr && nn > 0 && reps > 0 && np > 0;
    if (!ok || hs_ctx_init(&c, m, np + nn, HS_GATING_MASK)) {
        fprintf(stderr, "bench: --roofline: %s\n", !ok ? "out of memory or bad sizes" : hs_err_msg());
        free(a), free(lg), free(ids), free(tok), free(pr), free(fr);
        return 2;
    }
    for (size_t i = 0; i < n; i++) a[i] = 1.0f; /* touch every page before timing */
    for (int i = 0; i < np; i++) ids[i] = (int32_t)((i * 7919 + 13) % V);
    volatile float sink = 0;
    read_way w[ROOF_WAYS];
    for (int j = 0; j < ROOF_WAYS; j++) w[j] = (read_way){read_ks[j / 3], read_pfs[j % 3]};
    read_pass(a, n, 4, 0); /* warm-up */
    size_t done = 0;
    for (int r = -1; r < reps; r++) { /* r = -1: the warm-up, not recorded */
        hs_ctx_reset(c);
        hs_ctx_forward(c, ids, np, lg, 0);
        for (int i = 0; i < nn; i++) {
            int32_t t = argmax(lg, V);
            double t0 = now_s();
            hs_ctx_forward(c, &t, 1, lg, 0);
            double dt = now_s() - t0;
            int j = (int)((r + 1 + i) % ROOF_WAYS); /* r + 1: each repeat starts on another way */
            double p0 = now_s();
            sink += read_pass(a, n, w[j].k, w[j].pf);
            double dp = now_s() - p0;
            if (r < 0) continue;
            tok[done++] = dt;
            pr[j * cap + cnt[j]] = dp, fr[j * cap + cnt[j]] = dp / dt;
            cnt[j]++;
        }
    }
    double pmed[ROOF_WAYS], fmed[ROOF_WAYS];
    int best = -1;
    for (int j = 0; j < ROOF_WAYS; j++) {
        if (!cnt[j]) continue;
        pmed[j] = hs_bench_median(pr + j * cap, (int)cnt[j]);
        fmed[j] = hs_bench_median(fr + j * cap, (int)cnt[j]);
        if (best < 0 || pmed[j] < pmed[best]) best = j;
    }
    double *fb = fr + best * cap; /* sorted by hs_bench_median */
    double tmed = hs_bench_median(tok, (int)nt);
    printf("{\"roofline\": \"%s\", \"bytes\": %zu, \"prompt\": %d, \"new\": %d, \"repeats\": %d, "
           "\"decode_ms_per_token\": %.3f, \"probe_ms\": %.3f, \"probe_gb_s\": %.3f, \"fraction_median\": %.4f, "
           "\"fraction_q1\": %.4f, \"fraction_q3\": %.4f, \"way\": [%d, %zu], \"reads_per_way\": %zu}\n",
           hs_weights_name(m->weights), n * sizeof *a, np, nn, reps, 1e3 * tmed, 1e3 * pmed[best],
           (double)(n * sizeof *a) / pmed[best] / 1e9, fmed[best], fb[cnt[best] / 4], fb[(3 * cnt[best]) / 4],
           w[best].k, w[best].pf, cnt[best]);
    hs_ctx_free(c);
    free(a), free(lg), free(ids), free(tok), free(pr), free(fr);
    return sink < 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_engine MODEL_DIR [--prompt N] [--new N] [--repeats N] [--threads N] "
                        "[--gating mask|skip] [--off-pct 0,50] [--weights f32|bf16|int8|w8a8] [--batch 1,8,16] "
                        "[--sgemm 1] [--pack 0|1] [--bf16-error 1] [--int8-error 1] [--w8a8-error 1] [--read-bw MB] "
                        "[--read-streams 0|1|2|4|8|16] [--roofline MiB] [--paired R] [--huge-pages 0|1] "
                        "[--head-major 0|1] "
                        "[--panels 0|1]\n");
        return 2;
    }
    int np = 128, nn = 128, reps = 5, threads = 1;
    const char *gating = "mask", *pcts = "0";
    int head_major = -1, sgemm = 0, bf16_error = 0, int8_error = 0, w8a8_error = 0;
    int read_bw = 0, read_streams = 1, paired = 0;
    double roofline = 0;
    int pack = 1, huge = 0, panels = 1;
    const char *batches = NULL, *weights = "f32";
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--prompt")) np = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--new")) nn = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeats")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--gating")) gating = argv[i + 1];
        else if (!strcmp(argv[i], "--off-pct")) pcts = argv[i + 1];
        else if (!strcmp(argv[i], "--sgemm")) sgemm = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batches = argv[i + 1];
        else if (!strcmp(argv[i], "--weights")) weights = argv[i + 1];
        else if (!strcmp(argv[i], "--bf16-error")) bf16_error = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--int8-error")) int8_error = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--w8a8-error")) w8a8_error = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--read-bw")) read_bw = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--read-streams")) read_streams = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--roofline")) roofline = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--paired")) paired = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pack")) pack = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--huge-pages")) huge = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--head-major")) head_major = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--panels")) panels = atoi(argv[i + 1]);
        else return fprintf(stderr, "bench: unknown option %s\n", argv[i]), 2;
    }
    hs_model_set_threads(threads);
    if (read_streams < 0 || read_streams > 16 || (read_streams & (read_streams - 1)))
        return fprintf(stderr, "bench: --read-streams 1, 2, 4, 8, 16, or 0 (the fastest of all)\n"), 2;
    if (read_bw) return bench_read_bw(read_bw, reps, huge, read_streams);
    if (bf16_error) return bench_weights_error(argv[1], np, HS_WEIGHTS_BF16);
    if (int8_error) return bench_weights_error(argv[1], np, HS_WEIGHTS_INT8);
    if (w8a8_error) return bench_weights_error(argv[1], np, HS_WEIGHTS_W8A8);
    hs_model m;
    hs_gating mode;
    /* latency mode's batch-1 panels unless --panels 0, also with --batch: its batch 1 is
     * the baseline throughput mode is judged against, so it runs as latency mode would */
    hs_model_opts mo = {.pack = batches && pack, .huge_pages = huge, .panels = panels};
    int bad = hs_gating_parse(gating, &mode) || hs_weights_parse(weights, &mo.weights);
    /* skip mode's head-major c_attn, as the sweep loads the model for skip variants */
    mo.head_major = head_major >= 0 ? head_major : mode == HS_GATING_SKIP || paired;
    if (bad || hs_model_load(&m, argv[1], &mo)) {
        fprintf(stderr, "bench: %s\n", hs_err_msg());
        return 2;
    }
    if (huge) fprintf(stderr, "bench: %ld kB on huge pages\n", hs_anon_huge_kb());
    if (batches) {
        char *bl = strdup(batches);
        for (char *tok = strtok(bl, ","); tok; tok = strtok(NULL, ",")) bench_batch(&m, atoi(tok), np, nn, reps, pack);
        free(bl);
        hs_model_free(&m);
        return 0;
    }
    if (roofline > 0) {
        int rc = bench_roofline(&m, roofline, np, nn, reps);
        hs_model_free(&m);
        return rc;
    }
    if (paired) {
        int rc = bench_paired(&m, pcts, np, nn, paired);
        hs_model_free(&m);
        return rc;
    }
    if (sgemm) {
        bench_sgemm(&m, np, reps);
        hs_model_free(&m);
        return 0;
    }
    char *list = strdup(pcts);
    int rc = 0;
    for (char *tok = strtok(list, ","); tok && !rc; tok = strtok(NULL, ","))
        rc = run(&m, mode, atof(tok), np, nn, reps);
    free(list);
    hs_model_free(&m);
    return rc;
}
