/* bench_kern.c: batch-1 decode's weight products alone against the read probe over the
 * same bytes, interleaved pass by pass, to split "products vs memory" from "the rest of a
 * token" (attention, LayerNorm, GELU, argmax), which bench/ab_weights.sh sees together.
 *
 *   bench_kern MODEL_DIR [--weights f32|bf16|int8|w8a8] [--passes 15]
 *
 * Loads the model with latency mode's panels (hs_model_opts.panels), takes a fixed
 * activation vector and, in each pass and in an order rotated pass by pass, times:
 *   - the layers' 4 L products (QKV, attention projection, MLP up and down) through
 *     hs_k_matmul_rows on the original rows (the row kernel) and on the panels;
 *   - the LM head through hs_k_dot_rows on the original rows and on the panels;
 *   - the probe: a read of as many bytes as the layers (and as the head) from one buffer,
 *     the ways bench_engine --read-bw --read-streams 0 finds fastest on this CPU (4
 *     streams without prefetch, 4 and 8 streams 1 KiB ahead), the fastest of the pass.
 * Prints per part the median ms, GB/s and the median over passes of its rate over the
 * pass's probe rate, after checking that rows and panels give the same bits. Decode
 * reads the layers and head back to back; here each part is timed alone, so the head's
 * probe (a smaller buffer) may be served partly from the last-level cache.
 *
 * int8 times the whole product as decode calls it (hs_k_matmul_rows scales x by the row
 * scales first, hs_k_dot_rows scales the logits after). W8A8 has one layout (its vpdpbusd
 * panels), so its "rows" and "panels" parts are the same call, timed twice; activation
 * quantizing is included, as in decode. */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/model.h"
#include "bench_util.h"
#include "kernels.h"

enum { STEP = 256 }; /* floats per stream per turn, as bench_engine's read pass */

/* A read of a (n floats) as k streams, prefetching pf bytes ahead (bench_engine's probe). */
__attribute__((target("avx512f"))) static float read_pass(const float *a, size_t n, int k, size_t pf)
{
    size_t q = n / (size_t)k;
    __m512 s[8];
    for (int p = 0; p < k; p++) s[p] = _mm512_setzero_ps();
    for (size_t i = 0; i < q; i += STEP)
        for (int p = 0; p < k; p++) {
            const float *b = a + (size_t)p * q + i;
            if (pf && (i + STEP) * sizeof *a + pf <= q * sizeof *a)
                for (int l = 0; l < STEP * (int)sizeof *a; l += 64) _mm_prefetch((const char *)b + pf + l, _MM_HINT_T0);
            __m512 t = _mm512_setzero_ps();
            for (int j = 0; j < STEP; j += 16) t = _mm512_add_ps(t, _mm512_load_ps(b + j));
            s[p] = _mm512_add_ps(s[p], t);
        }
    float o[16], sum = 0;
    for (int p = 0; p < k; p++) {
        _mm512_storeu_ps(o, s[p]);
        for (int j = 0; j < 16; j++) sum += o[j];
    }
    return sum;
}

/* Seconds of the fastest of the probe's ways over n floats of a. */
static double probe(const float *a, size_t n, volatile float *sink)
{
    static const int ks[] = {4, 4, 8};
    static const size_t pfs[] = {0, 1024, 1024};
    double best = 1e30;
    for (int j = 0; j < 3; j++) {
        double t0 = hs_now();
        *sink += read_pass(a, n / (STEP * 8) * (STEP * 8), ks[j], pfs[j]);
        best = fmin(best, hs_now() - t0);
    }
    return best;
}

typedef struct {
    int K, N;
    hs_w rows, panels; /* the same matrix without and with its panels */
    float *y;
} product;

typedef struct {
    const hs_model *m;
    product *p; /* (4 L) */
    int np;
    hs_w head_rows, head_panels;
    const float *x;
    float *logits;
    const float *buf;
    size_t layer_floats, head_floats;
} bench;

static void layers(const bench *b, int panels)
{
    for (int i = 0; i < b->np; i++) {
        const product *p = &b->p[i];
        hs_k_matmul_rows(p->y, p->N, b->x, p->K, panels ? p->panels : p->rows, p->N, 1, p->K, p->N, 0.0f);
    }
}

static void head(const bench *b, int panels)
{
    int C = b->m->cfg.n_embd, V = b->m->cfg.vocab_size;
    hs_k_dot_rows(b->logits, V, panels ? b->head_panels : b->head_rows, C, b->x, C, 1, V, C);
}

/* Layers and head, rows against panels: the number of outputs whose bits differ. */
static long check_bits(const bench *b)
{
    long bad = 0;
    int V = b->m->cfg.vocab_size, n = V; /* t holds a product's outputs or the logits */
    for (int i = 0; i < b->np; i++) n = b->p[i].N > n ? b->p[i].N : n;
    float *t = malloc((size_t)n * sizeof(float));
    if (!t) return -1;
    for (int i = 0; i < b->np; i++) {
        const product *p = &b->p[i];
        hs_k_matmul_rows(p->y, p->N, b->x, p->K, p->rows, p->N, 1, p->K, p->N, 0.0f);
        memcpy(t, p->y, (size_t)p->N * sizeof(float));
        hs_k_matmul_rows(p->y, p->N, b->x, p->K, p->panels, p->N, 1, p->K, p->N, 0.0f);
        for (int j = 0; j < p->N; j++) bad += memcmp(&t[j], &p->y[j], sizeof(float)) != 0;
    }
    head(b, 0);
    memcpy(t, b->logits, (size_t)V * sizeof(float));
    head(b, 1);
    for (int j = 0; j < V; j++) bad += memcmp(&t[j], &b->logits[j], sizeof(float)) != 0;
    free(t);
    return bad;
}

/* The weight matrices of the model as products, each with and without its panels. */
static int bench_init(bench *b, const hs_model *m, size_t *layer_bytes)
{
    int L = m->cfg.n_layer, C = m->cfg.n_embd, F = m->cfg.n_inner;
    size_t es = m->owned16 ? sizeof(uint16_t) : m->owned8 ? 1 : sizeof(float);
    b->m = m, b->np = 4 * L, *layer_bytes = 0;
    if (!(b->p = calloc((size_t)b->np, sizeof *b->p))) return 0;
    for (int l = 0; l < L; l++) {
        const hs_block *k = &m->blocks[l];
        const int Ks[4] = {C, C, C, F}, Ns[4] = {3 * C, C, F, C};
        const float *wf[4] = {k->attn_w, k->proj_w, k->fc_w, k->fc_proj_w};
        const uint16_t *wh[4] = {k->attn_w16, k->proj_w16, k->fc_w16, k->fc_proj_w16};
        const int8_t *wq[4] = {k->attn_w8, k->proj_w8, k->fc_w8, k->fc_proj_w8};
        const float *ws[4] = {k->attn_w_s8, k->proj_w_s8, k->fc_w_s8, k->fc_proj_w_s8};
        const hs_wq8 *wv[4] = {&k->attn_wv, &k->proj_wv, &k->fc_wv, &k->fc_proj_wv};
        const hs_wpanel *wg[4] = {&k->attn_wg, &k->proj_wg, &k->fc_wg, &k->fc_proj_wg};
        for (int i = 0; i < 4; i++) {
            product *p = &b->p[4 * l + i];
            p->K = Ks[i], p->N = Ns[i];
            p->rows = m->owned16 ? hs_w_bf16(wh[i])
                      : wv[i]->q ? hs_w_w8a8(wv[i])
                      : wq[i]    ? hs_w_i8(wq[i], ws[i])
                                 : hs_w_f32(wf[i]);
            p->panels = p->rows;
            if (!wv[i]->q) p->panels.g = wg[i];
            if (!(p->y = malloc((size_t)p->N * sizeof(float)))) return 0;
            *layer_bytes += (size_t)p->K * p->N * es;
        }
    }
    b->head_rows = m->lm_head16   ? hs_w_bf16(m->lm_head16)
                   : m->lm_headv.q ? hs_w_w8a8(&m->lm_headv)
                   : m->lm_head8   ? hs_w_i8(m->lm_head8, m->lm_head_s8)
                                   : hs_w_f32(m->lm_head);
    b->head_panels = b->head_rows;
    if (!m->lm_headv.q) b->head_panels.g = &m->lm_headg;
    return 1;
}

enum { ROWS_L, PANELS_L, ROWS_H, PANELS_H, PROBE_L, PROBE_H, NPART };

/* One pass: every part once, starting at part `first`; seconds into t. */
static void pass(const bench *b, int first, double *t, volatile float *sink)
{
    for (int i = 0; i < NPART; i++) {
        int w = (first + i) % NPART;
        double t0 = hs_now();
        switch (w) {
        case ROWS_L: layers(b, 0); break;
        case PANELS_L: layers(b, 1); break;
        case ROWS_H: head(b, 0); break;
        case PANELS_H: head(b, 1); break;
        case PROBE_L: t[w] = probe(b->buf, b->layer_floats, sink); continue;
        default: t[w] = probe(b->buf, b->head_floats, sink); continue;
        }
        t[w] = hs_now() - t0;
    }
}

static void report(double *t[NPART], int passes, size_t lbytes, size_t hbytes)
{
    static const char *names[NPART] = {"layers, rows", "layers, panels", "LM head, rows", "LM head, panels",
                                       "probe, layers' bytes", "probe, head's bytes"};
    double *f = malloc((size_t)passes * sizeof *f), *tt = malloc((size_t)passes * sizeof *tt);
    if (!f || !tt) return;
    printf("| part | MB | ms (median) | GB/s | rate / probe (median of passes) |\n| --- | --- | --- | --- | --- |\n");
    for (int v = 0; v < NPART; v++) {
        int pr = v == ROWS_L || v == PANELS_L || v == PROBE_L ? PROBE_L : PROBE_H;
        double mb = (pr == PROBE_L ? lbytes : hbytes) / 1e6;
        for (int r = 0; r < passes; r++) f[r] = t[pr][r] / t[v][r], tt[r] = t[v][r];
        double ms = hs_bench_median(tt, passes) * 1e3;
        printf("| %s | %.1f | %.3f | %.2f | %.3f |\n", names[v], mb, ms, mb / ms, hs_bench_median(f, passes));
    }
    free(f), free(tt);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc % 2) {
        fprintf(stderr, "usage: bench_kern MODEL_DIR [--weights f32|bf16|int8|w8a8] [--passes 15]\n");
        return 2;
    }
    hs_model_opts o = {.panels = 1};
    int passes = 15;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--weights") && !hs_weights_parse(argv[i + 1], &o.weights)) continue;
        if (!strcmp(argv[i], "--passes") && (passes = atoi(argv[i + 1])) > 0) continue;
        fprintf(stderr, "bench_kern: bad option %s %s (--weights f32|bf16|int8|w8a8, --passes N > 0)\n", argv[i],
                argv[i + 1]);
        return 2;
    }
    hs_model m;
    if (hs_model_load(&m, argv[1], &o)) return fprintf(stderr, "bench_kern: %s\n", hs_err_msg()), 1;
    if (m.weights != HS_WEIGHTS_W8A8 && (!m.owned_panels || !m.lm_headg.N)) {
        fprintf(stderr, "bench_kern: %s: no batch-1 panels (AVX-512 off, or widths not multiples of 64)\n", argv[1]);
        return 1;
    }
    int C = m.cfg.n_embd, F = m.cfg.n_inner, V = m.cfg.vocab_size;
    bench b = {0};
    size_t lbytes, hbytes = (size_t)V * C * (m.owned16 ? 2 : m.owned8 ? 1 : 4);
    float *x = malloc((size_t)F * sizeof(float)), *lg = malloc((size_t)V * sizeof(float)), *buf = NULL;
    double *t[NPART] = {0};
    int ok = bench_init(&b, &m, &lbytes) && x && lg;
    b.layer_floats = lbytes / sizeof(float), b.head_floats = hbytes / sizeof(float);
    ok = ok && !posix_memalign((void **)&buf, 64, (lbytes > hbytes ? lbytes : hbytes));
    for (int v = 0; v < NPART && ok; v++) ok = (t[v] = malloc((size_t)passes * sizeof(double))) != NULL;
    if (!ok) return fprintf(stderr, "bench_kern: out of memory\n"), 1;
    for (int i = 0; i < F; i++) x[i] = sinf(0.37f * (float)i) * 0.5f;
    for (size_t i = 0; i < (lbytes > hbytes ? lbytes : hbytes) / sizeof(float); i++) buf[i] = 1.0f;
    b.x = x, b.logits = lg, b.buf = buf;
    long bad = check_bits(&b);
    printf("bench_kern %s, %s weights, %d passes; outputs whose bits differ between rows and panels: %ld\n", argv[1],
           hs_weights_name(o.weights), passes, bad);
    volatile float sink = 0;
    double warm[NPART];
    pass(&b, 0, warm, &sink);
    for (int r = 0; r < passes; r++) {
        double tr[NPART];
        pass(&b, r % NPART, tr, &sink);
        for (int v = 0; v < NPART; v++) t[v][r] = tr[v];
    }
    report(t, passes, lbytes, hbytes);
    for (int i = 0; i < b.np; i++) free(b.p[i].y);
    for (int v = 0; v < NPART; v++) free(t[v]);
    free(b.p), free(x), free(lg), free(buf);
    hs_model_free(&m);
    return bad != 0 || sink < 0;
}
