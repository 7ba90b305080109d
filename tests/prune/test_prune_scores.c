/* test_prune_scores.c: head scores on a tiny random model (2 layers x 4 heads).
 *
 * - random is a seeded permutation, pinned against an independent splitmix64 + Fisher-Yates
 *   (tests/prune/README: python snippet) and identical run to run;
 * - magnitude equals a hand computation on the mapped weights;
 * - entropy is real: layer 0 matches an independent double-precision recomputation of
 *   mean(1 - H/ln T) from the weights, and with one head made uniform (q = 0) and one
 *   peaked by construction the ranking follows attention entropy, not gate values;
 * - ablation matches NLL differences computed here from logits, and switching off the
 *   top head hurts more than the bottom one;
 * - gradient has unit norm per layer and taylor equals central differences of the NLL
 *   (the torch check is tests/reference/ref_gate_grad.py); scoring under a mask;
 * - iterative: removal ranks, each round the base's lowest under the current mask, levels
 *   nested;
 * - a pruned model really is pruned (logits move), and mask and skip gating agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>

#include "headsweep/fixture.h"
#include "headsweep/prune.h"
#include "test_util.h"

static char *g_dir; /* tiny model, seed 1 */

enum { NSEQ = 4 };
static int32_t g_ids[NSEQ][48];
static hs_token_seq g_seqs[NSEQ];

static int setup(void **state)
{
    static const int lens[NSEQ] = {9, 24, 1, 40}; /* the 1-token sequence is skipped */
    uint64_t s = 2024;
    for (int i = 0; i < NSEQ; i++) {
        for (int t = 0; t < lens[i]; t++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            g_ids[i][t] = (int32_t)((s >> 33) % 1000);
        }
        g_seqs[i] = (hs_token_seq){g_ids[i], lens[i]};
    }
    g_dir = tu_mkdtemp("prune-scores");
    if (!g_dir) return -1;
    return hs_model_make_random(g_dir, "tiny", 1, "f32") == HS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static void load(hs_model *m)
{
    assert_int_equal(hs_model_load(m, g_dir, NULL), HS_OK);
    assert_int_equal(m->cfg.n_layer, 2);
    assert_int_equal(m->cfg.n_head, 4);
}

/* ---- weights edited by construction: a block's attention weights copied and re-pointed ---- */

typedef struct {
    float *attn_w, *attn_b, *proj_w; /* (C, 3C), (3C), (C, C) */
} owned_attn;

static float *copy_floats(const float *src, size_t n)
{
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    memcpy(p, src, n * sizeof *p);
    return p;
}

static void own_attn(hs_model *m, int l, owned_attn *o)
{
    size_t C = (size_t)m->cfg.n_embd;
    o->attn_w = copy_floats(m->blocks[l].attn_w, C * 3 * C);
    o->attn_b = copy_floats(m->blocks[l].attn_b, 3 * C);
    o->proj_w = copy_floats(m->blocks[l].proj_w, C * C);
    m->blocks[l].attn_w = o->attn_w;
    m->blocks[l].attn_b = o->attn_b;
    m->blocks[l].proj_w = o->proj_w;
}

static void free_attn(owned_attn *o)
{
    free(o->attn_w);
    free(o->attn_b);
    free(o->proj_w);
}

/* q = bias for every token: zero the head's Q columns, set its Q bias to `bias`. With
 * bias 0 every key gets the same score and attention is exactly uniform (H = ln T); a
 * large bias makes the scores b.k_t spread widely, so attention is nearly one-hot. */
static void set_query_constant(const hs_model *m, owned_attn *o, int h, float bias)
{
    int C = m->cfg.n_embd, D = C / m->cfg.n_head;
    for (int i = 0; i < C; i++)
        for (int d = 0; d < D; d++) o->attn_w[(size_t)i * 3 * C + h * D + d] = 0.0f;
    for (int d = 0; d < D; d++) o->attn_b[h * D + d] = bias * (d % 2 ? 1.0f : -1.0f);
}

static void scale_head_output(const hs_model *m, owned_attn *o, int h, float factor)
{
    int C = m->cfg.n_embd, D = C / m->cfg.n_head;
    for (size_t k = (size_t)h * D * C; k < (size_t)(h + 1) * D * C; k++) o->proj_w[k] *= factor;
}

/* ---- random ---- */

static void test_random_seeded(void **state)
{
    hs_model m;
    load(&m);
    /* independent splitmix64 + Fisher-Yates (python, see the file header) */
    const double want1[8] = {4, 3, 2, 7, 5, 6, 0, 1}, want42[8] = {3, 1, 6, 2, 4, 0, 7, 5};
    hs_score_opts o = {0, 0, 1, NULL, HS_STRATEGY_GRADIENT, 10.0};
    hs_head_scores a, b;
    assert_int_equal(hs_scores_compute_ids(&a, &m, NULL, 0, HS_STRATEGY_RANDOM, &o), HS_OK);
    assert_memory_equal(a.score, want1, sizeof want1);
    assert_int_equal(hs_scores_compute(&b, &m, NULL, NULL, HS_STRATEGY_RANDOM, &o), HS_OK);
    assert_memory_equal(a.score, b.score, sizeof want1);
    assert_true(b.seed == 1 && b.strategy == HS_STRATEGY_RANDOM && b.n_prompts == 0);
    assert_string_equal(b.calibration, "");
    assert_string_equal(b.model_sha256, hs_model_sha256(&m));
    hs_scores_free(&b);
    o.seed = 42;
    assert_int_equal(hs_scores_compute_ids(&b, &m, NULL, 0, HS_STRATEGY_RANDOM, &o), HS_OK);
    assert_memory_equal(b.score, want42, sizeof want42);
    hs_scores_free(&a);
    hs_scores_free(&b);
    hs_model_free(&m);
}

/* ---- magnitude ---- */

static void test_magnitude_by_hand(void **state)
{
    hs_model m;
    load(&m);
    hs_head_scores sc;
    assert_int_equal(hs_scores_compute_ids(&sc, &m, NULL, 0, HS_STRATEGY_MAGNITUDE, NULL), HS_OK);
    int C = m.cfg.n_embd, H = m.cfg.n_head, D = C / H;
    for (int l = 0; l < m.cfg.n_layer; l++)
        for (int h = 0; h < H; h++) {
            /* column by column over c_attn's (C, 3C) Conv1D layout: Q at h*D, K at C + h*D,
             * V at 2C + h*D; then the head's D input rows of c_proj (C, C) */
            double ss = 0;
            for (int col = 0; col < 3 * C; col++) {
                if ((col % C) / D != h) continue;
                for (int row = 0; row < C; row++) {
                    double w = m.blocks[l].attn_w[(size_t)row * 3 * C + col];
                    ss += w * w;
                }
            }
            for (int row = h * D; row < (h + 1) * D; row++)
                for (int col = 0; col < C; col++) {
                    double w = m.blocks[l].proj_w[(size_t)row * C + col];
                    ss += w * w;
                }
            assert_true(fabs(sc.score[l * H + h] - sqrt(ss)) <= 1e-12 * sqrt(ss));
        }
    /* normal(0, 0.02) weights: sqrt(3 x C x D + D x C) x 0.02 = sqrt(4 x 64 x 16) x 0.02 */
    assert_true(fabs(sc.score[0] - 1.28) < 0.1);
    hs_scores_free(&sc);
    hs_model_free(&m);
}

/* ---- entropy ---- */

static void layernorm_d(double *y, const float *x, const float *w, const float *b, int C, double eps)
{
    double mean = 0, var = 0;
    for (int j = 0; j < C; j++) mean += x[j];
    mean /= C;
    for (int j = 0; j < C; j++) var += (x[j] - mean) * (x[j] - mean);
    var /= C;
    for (int j = 0; j < C; j++) y[j] = (x[j] - mean) / sqrt(var + eps) * w[j] + b[j];
}

/* q, k of one head at one position of layer 0, from the embeddings, in double. */
static void qk_layer0(const hs_model *m, int32_t id, int pos, int h, double *q, double *k)
{
    int C = m->cfg.n_embd, D = C / m->cfg.n_head;
    const hs_block *b = &m->blocks[0];
    float x[256];
    double xn[256];
    for (int j = 0; j < C; j++) x[j] = m->wte[(size_t)id * C + j] + m->wpe[(size_t)pos * C + j];
    layernorm_d(xn, x, b->ln1_w, b->ln1_b, C, m->cfg.ln_eps);
    for (int d = 0; d < D; d++) {
        int cq = h * D + d, ck = C + h * D + d;
        q[d] = b->attn_b[cq], k[d] = b->attn_b[ck];
        for (int j = 0; j < C; j++) {
            q[d] += xn[j] * b->attn_w[(size_t)j * 3 * C + cq];
            k[d] += xn[j] * b->attn_w[(size_t)j * 3 * C + ck];
        }
    }
}

/* Independent recomputation of a layer-0 head's entropy score: the mean over every causal
 * attention row with T >= 2 keys of 1 - H/ln T, H = -sum p ln p in double. */
static double ref_util_layer0(const hs_model *m, int h)
{
    int D = m->cfg.n_embd / m->cfg.n_head;
    double sum = 0, q[48][64], k[48][64], p[48];
    long rows = 0;
    for (int s = 0; s < NSEQ; s++) {
        int n = g_seqs[s].n;
        for (int t = 0; t < n; t++) qk_layer0(m, g_seqs[s].ids[t], t, h, q[t], k[t]);
        for (int i = 1; i < n; i++) {
            int T = i + 1;
            double mx = -INFINITY, z = 0, ent = 0;
            for (int t = 0; t < T; t++) {
                p[t] = 0;
                for (int d = 0; d < D; d++) p[t] += q[i][d] * k[t][d];
                p[t] /= sqrt((double)D);
                mx = p[t] > mx ? p[t] : mx;
            }
            for (int t = 0; t < T; t++) z += (p[t] = exp(p[t] - mx));
            for (int t = 0; t < T; t++) {
                double pt = p[t] / z;
                if (pt > 0) ent -= pt * log(pt);
            }
            sum += 1.0 - ent / log((double)T);
            rows++;
        }
    }
    return sum / (double)rows;
}

static void scale_query_key(const hs_model *m, owned_attn *o, int h, float factor)
{
    int C = m->cfg.n_embd, D = C / m->cfg.n_head;
    for (int i = 0; i < C; i++)
        for (int part = 0; part < 2; part++)
            for (int d = 0; d < D; d++) o->attn_w[(size_t)i * 3 * C + part * C + h * D + d] *= factor;
}

/* Layer 0 against ref_util_layer0, on the random weights (attention nearly uniform,
 * utilisation ~1e-4) and with Q and K scaled per head so utilisation spreads over (0, 1). */
static void test_entropy_matches_reference(void **state)
{
    static const float factors[2][4] = {{1, 1, 1, 1}, {4, 8, 16, 32}};
    for (int k = 0; k < 2; k++) {
        hs_model m;
        load(&m);
        owned_attn b0;
        own_attn(&m, 0, &b0);
        for (int h = 0; h < 4; h++) scale_query_key(&m, &b0, h, factors[k][h]);
        hs_head_scores sc, again;
        assert_int_equal(hs_scores_compute_ids(&sc, &m, g_seqs, NSEQ, HS_STRATEGY_ENTROPY, NULL), HS_OK);
        assert_int_equal(sc.n_prompts, NSEQ);
        for (int h = 0; h < 4; h++) {
            double ref = ref_util_layer0(&m, h);
            print_message("entropy 0.%d (Q, K x%g): %.9f (reference %.9f)\n", h, factors[k][h], sc.score[h], ref);
            if (fabs(sc.score[h] - ref) > 1e-7 + 1e-4 * fabs(ref))
                fail_msg("head 0.%d: %.9g vs reference %.9g", h, sc.score[h], ref);
        }
        for (int i = 0; i < 8; i++) assert_true(sc.score[i] >= -1e-6 && sc.score[i] <= 1.0);
        /* deterministic: the same numbers, bit for bit */
        assert_int_equal(hs_scores_compute_ids(&again, &m, g_seqs, NSEQ, HS_STRATEGY_ENTROPY, NULL), HS_OK);
        assert_memory_equal(sc.score, again.score, 8 * sizeof(double));
        hs_scores_free(&sc);
        hs_scores_free(&again);
        hs_model_free(&m);
        free_attn(&b0);
    }
}

/* Head 0.0 made peaked and head 1.3 uniform. Ranking by gate values (all 1 before
 * pruning, ties by index: the study's original bug) would switch 0.0 off first; ranking
 * by entropy switches 1.3 off first and 0.0 last. */
static void test_entropy_ranks_by_entropy_not_gates(void **state)
{
    hs_model m;
    load(&m);
    owned_attn b0, b1;
    own_attn(&m, 0, &b0);
    own_attn(&m, 1, &b1);
    set_query_constant(&m, &b0, 0, 100.0f);
    set_query_constant(&m, &b1, 3, 0.0f);
    hs_head_scores sc;
    assert_int_equal(hs_scores_compute_ids(&sc, &m, g_seqs, NSEQ, HS_STRATEGY_ENTROPY, NULL), HS_OK);
    print_message("peaked 0.0: %.6f, uniform 1.3: %.3g, others 0.1: %.6f 1.0: %.6f\n", sc.score[0],
                  sc.score[7], sc.score[1], sc.score[4]);
    assert_true(fabs(sc.score[7]) < 1e-5);    /* uniform: H = ln T exactly */
    assert_true(sc.score[0] > 0.5);           /* peaked */
    assert_true(fabs(sc.score[0] - ref_util_layer0(&m, 0)) < 1e-4);
    int order[8];
    assert_int_equal(hs_prune_order(&sc, order), HS_OK);
    assert_int_equal(order[0], 7);
    assert_int_equal(order[7], 0);
    float g[8];
    assert_int_equal(hs_prune_select(&sc, 12.5, NULL, g), HS_OK);
    assert_true(g[7] == 0.0f && g[0] == 1.0f);
    /* what ranking by gate values would have done */
    double gate_values[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    hs_head_scores by_gate = sc;
    by_gate.score = gate_values;
    assert_int_equal(hs_prune_select(&by_gate, 12.5, NULL, g), HS_OK);
    assert_true(g[0] == 0.0f && g[7] == 1.0f);
    hs_scores_free(&sc);
    hs_model_free(&m);
    free_attn(&b0);
    free_attn(&b1);
}

/* ---- ablation ---- */

static int longest(void)
{
    int t = 0;
    for (int i = 0; i < NSEQ; i++) t = g_seqs[i].n > t ? g_seqs[i].n : t;
    return t;
}

/* Mean NLL per predicted token under the gates, from all-position logits computed here. */
static double own_mean_nll(const hs_model *m, const float *gates)
{
    int V = m->cfg.vocab_size;
    hs_ctx *ctx;
    assert_int_equal(hs_ctx_init(&ctx, m, longest(), HS_GATING_MASK), HS_OK);
    assert_int_equal(hs_ctx_set_gates(ctx, gates), HS_OK);
    float *logits = malloc((size_t)longest() * V * sizeof *logits);
    assert_non_null(logits);
    double total = 0;
    long count = 0;
    for (int s = 0; s < NSEQ; s++) {
        int n = g_seqs[s].n;
        if (n < 2) continue;
        hs_ctx_reset(ctx);
        assert_int_equal(hs_ctx_forward(ctx, g_seqs[s].ids, n, logits, 1), HS_OK);
        for (int t = 1; t < n; t++) {
            const float *lg = logits + (size_t)(t - 1) * V;
            double mx = lg[0], z = 0;
            for (int v = 1; v < V; v++) mx = fmax(mx, lg[v]);
            for (int v = 0; v < V; v++) z += exp((double)lg[v] - mx);
            total += log(z) + mx - lg[g_seqs[s].ids[t]];
            count++;
        }
    }
    free(logits);
    hs_ctx_free(ctx);
    return total / (double)count;
}

static void test_ablation(void **state)
{
    hs_model m;
    load(&m);
    owned_attn b1;
    own_attn(&m, 1, &b1);
    scale_head_output(&m, &b1, 2, 40.0f); /* head 1.2 matters: its output is 40x louder */
    hs_head_scores sc;
    assert_int_equal(hs_scores_compute_ids(&sc, &m, g_seqs, NSEQ, HS_STRATEGY_ABLATION, NULL), HS_OK);
    int order[8];
    assert_int_equal(hs_prune_order(&sc, order), HS_OK);
    int top = order[7], bottom = order[0];
    assert_int_equal(top, 6);
    float g[8];
    for (int i = 0; i < 8; i++) g[i] = 1.0f;
    double base = own_mean_nll(&m, g);
    g[top] = 0.0f;
    double off_top = own_mean_nll(&m, g);
    g[top] = 1.0f, g[bottom] = 0.0f;
    double off_bottom = own_mean_nll(&m, g);
    print_message("ablation: base %.6f, top %d.%d +%.6f (score %.6f), bottom %d.%d +%.3g (score %.3g)\n",
                  base, top / 4, top % 4, off_top - base, sc.score[top], bottom / 4, bottom % 4,
                  off_bottom - base, sc.score[bottom]);
    assert_true(off_top - base > off_bottom - base);
    assert_true(off_top - base > 1e-3);
    assert_true(fabs(sc.score[top] - (off_top - base)) < 1e-6);
    assert_true(fabs(sc.score[bottom] - (off_bottom - base)) < 1e-6);
    hs_scores_free(&sc);
    hs_model_free(&m);
    free_attn(&b1);
}

/* gradient and taylor against central differences of the NLL (own_mean_nll) under
 * gates of 0.5 (so both sides of the gate stay in [0, 1]); ablation and the gradient
 * under a mask: a head already off scores 0 in ablation. */
static void test_gradient_taylor(void **state)
{
    hs_model m;
    load(&m);
    owned_attn b1;
    own_attn(&m, 1, &b1);
    scale_head_output(&m, &b1, 2, 40.0f);
    float half[8] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    hs_score_opts o = {0, 0, 0, half, HS_STRATEGY_GRADIENT, 10.0};
    hs_head_scores gr, ty;
    assert_int_equal(hs_scores_compute_ids(&gr, &m, g_seqs, NSEQ, HS_STRATEGY_GRADIENT, &o), HS_OK);
    assert_int_equal(hs_scores_compute_ids(&ty, &m, g_seqs, NSEQ, HS_STRATEGY_TAYLOR, &o), HS_OK);
    assert_int_equal(gr.n_prompts, NSEQ);
    for (int l = 0; l < 2; l++) {
        double ss = 0;
        for (int h = 0; h < 4; h++) ss += gr.score[l * 4 + h] * gr.score[l * 4 + h];
        assert_true(fabs(ss - 1.0) < 1e-9); /* unit L2 norm per layer */
    }
    const float eps = 0.01f;
    for (int i = 0; i < 8; i++) {
        float g[8];
        memcpy(g, half, sizeof g);
        g[i] = 0.5f + eps;
        double up = own_mean_nll(&m, g);
        g[i] = 0.5f - eps;
        double down = own_mean_nll(&m, g);
        double fd = -(up - down) / (2 * eps);
        print_message("taylor %d.%d: %.6g, central difference %.6g\n", i / 4, i % 4, ty.score[i], fd);
        if (fabs(ty.score[i] - fd) > 2e-6 + 1e-2 * fabs(fd))
            fail_msg("taylor %d.%d = %g, central difference %g", i / 4, i % 4, ty.score[i], fd);
    }
    assert_true(ty.score[6] > 0.01); /* the loud head 1.2 matters */
    hs_scores_free(&gr);
    hs_scores_free(&ty);
    float mask[8] = {1, 0, 1, 1, 1, 1, 1, 0};
    hs_score_opts om = {0, 0, 0, mask, HS_STRATEGY_GRADIENT, 10.0};
    hs_head_scores ab;
    assert_int_equal(hs_scores_compute_ids(&ab, &m, g_seqs, NSEQ, HS_STRATEGY_ABLATION, &om), HS_OK);
    double base = own_mean_nll(&m, mask);
    mask[6] = 0.0f;
    double off = own_mean_nll(&m, mask);
    assert_true(ab.score[1] == 0.0 && ab.score[7] == 0.0);
    assert_true(fabs(ab.score[6] - (off - base)) < 1e-6);
    hs_scores_free(&ab);
    hs_model_free(&m);
    free_attn(&b1);
}

/* iterative: scores are the removal ranks 0 .. L*H-1; every round's heads are the two
 * lowest of the base scores recomputed here under the mask of the rounds before; the
 * head sets of the levels are nested. */
static void test_iterative(void **state)
{
    hs_model m;
    load(&m);
    owned_attn b1;
    own_attn(&m, 1, &b1);
    scale_head_output(&m, &b1, 2, 40.0f);
    hs_score_opts o = {0, 0, 0, NULL, HS_STRATEGY_TAYLOR, 25.0}; /* 2 of 8 heads a round */
    hs_head_scores it;
    assert_int_equal(hs_scores_compute_ids(&it, &m, g_seqs, NSEQ, HS_STRATEGY_ITERATIVE, &o), HS_OK);
    assert_true(it.base == HS_STRATEGY_TAYLOR && it.step == 25.0);
    int seen[8] = {0};
    for (int i = 0; i < 8; i++) {
        int r = (int)it.score[i];
        assert_true(r >= 0 && r < 8 && r == it.score[i] && !seen[r]);
        seen[r] = 1;
    }
    float mask[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    for (int round = 0; round < 4; round++) {
        hs_score_opts bo = {0, 0, 0, mask, HS_STRATEGY_GRADIENT, 10.0};
        hs_head_scores b;
        assert_int_equal(hs_scores_compute_ids(&b, &m, g_seqs, NSEQ, HS_STRATEGY_TAYLOR, &bo), HS_OK);
        int lo1 = -1, lo2 = -1; /* the two lowest of the heads still on, ties by index */
        for (int i = 0; i < 8; i++) {
            if (mask[i] == 0.0f) continue;
            if (lo1 < 0 || b.score[i] < b.score[lo1]) lo2 = lo1, lo1 = i;
            else if (lo2 < 0 || b.score[i] < b.score[lo2]) lo2 = i;
        }
        assert_int_equal((int)it.score[lo1], 2 * round);
        assert_int_equal((int)it.score[lo2], 2 * round + 1);
        mask[lo1] = mask[lo2] = 0.0f;
        hs_scores_free(&b);
    }
    float prev[8] = {1, 1, 1, 1, 1, 1, 1, 1}, g[8];
    for (int pct = 10; pct <= 90; pct += 10) {
        assert_int_equal(hs_prune_select(&it, pct, NULL, g), HS_OK);
        for (int i = 0; i < 8; i++) assert_true(g[i] <= prev[i]); /* off stays off */
        memcpy(prev, g, sizeof g);
    }
    hs_scores_free(&it);
    hs_model_free(&m);
    free_attn(&b1);
}

/* ---- the pruned model really is pruned; mask and skip agree ---- */

static void last_logits(const hs_model *m, const float *gates, hs_gating mode, float *out)
{
    hs_ctx *ctx;
    assert_int_equal(hs_ctx_init(&ctx, m, g_seqs[3].n, mode), HS_OK);
    assert_int_equal(hs_ctx_set_gates(ctx, gates), HS_OK);
    assert_int_equal(hs_ctx_forward(ctx, g_seqs[3].ids, g_seqs[3].n, out, 0), HS_OK);
    hs_ctx_free(ctx);
}

static double max_abs_diff(const float *a, const float *b, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void test_pruned_baseline_differs(void **state)
{
    hs_model m;
    load(&m);
    int V = m.cfg.vocab_size;
    float *full = malloc(3 * (size_t)V * sizeof *full), *mask = full + V, *skip = full + 2 * V;
    assert_non_null(full);
    float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1}, g[8];
    last_logits(&m, ones, HS_GATING_MASK, full);
    for (int s = 0; s < 7; s++) {
        hs_head_scores sc;
        hs_score_opts o = {0, 0, 7, NULL, HS_STRATEGY_GRADIENT, 10.0};
        assert_int_equal(hs_scores_compute_ids(&sc, &m, g_seqs, NSEQ, (hs_strategy)s, &o), HS_OK);
        assert_int_equal(hs_prune_select(&sc, 50, NULL, g), HS_OK);
        assert_int_equal((int)(g[0] + g[1] + g[2] + g[3] + g[4] + g[5] + g[6] + g[7]), 4);
        last_logits(&m, g, HS_GATING_MASK, mask);
        last_logits(&m, g, HS_GATING_SKIP, skip);
        double moved = max_abs_diff(full, mask, V), gap = max_abs_diff(mask, skip, V);
        print_message("%s 50%%: logits moved %.3g, mask vs skip %.3g\n", hs_strategy_name(sc.strategy),
                      moved, gap);
        if (moved <= 1e-3) fail_msg("%s 50%%: logits moved only %g", hs_strategy_name(sc.strategy), moved);
        if (gap > 1e-4) fail_msg("%s 50%%: mask vs skip differ by %g", hs_strategy_name(sc.strategy), gap);
        hs_scores_free(&sc);
    }
    free(full);
    hs_model_free(&m);
}

/* ---- scores tied to a model; bad calibration input ---- */

static void test_check_model_and_inputs(void **state)
{
    hs_model m;
    load(&m);
    hs_head_scores sc;
    assert_int_equal(hs_scores_compute_ids(&sc, &m, NULL, 0, HS_STRATEGY_MAGNITUDE, NULL), HS_OK);
    assert_int_equal(hs_scores_check_model(&sc, &m, "s.json"), HS_OK);
    sc.model_sha256[0] = sc.model_sha256[0] == 'a' ? 'b' : 'a';
    assert_int_equal(hs_scores_check_model(&sc, &m, "s.json"), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "s.json"));
    sc.H = 3;
    assert_int_equal(hs_scores_check_model(&sc, &m, "s.json"), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "3 heads"));
    sc.H = 4;
    hs_scores_free(&sc);
    /* entropy and ablation need sequences of 2+ tokens */
    hs_token_seq one = {g_ids[2], 1};
    assert_int_equal(hs_scores_compute_ids(&sc, &m, &one, 1, HS_STRATEGY_ENTROPY, NULL), HS_EINPUT);
    assert_null(sc.score);
    assert_int_equal(hs_scores_compute_ids(&sc, &m, NULL, 0, HS_STRATEGY_ABLATION, NULL), HS_EINPUT);
    int32_t bad_ids[3] = {1, 5000, 2};
    hs_token_seq bad = {bad_ids, 3};
    assert_int_equal(hs_scores_compute_ids(&sc, &m, &bad, 1, HS_STRATEGY_ENTROPY, NULL), HS_EINPUT);
    assert_int_equal(hs_scores_compute(&sc, &m, NULL, NULL, HS_STRATEGY_ENTROPY, NULL), HS_EINPUT);
    hs_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_seeded),
        cmocka_unit_test(test_magnitude_by_hand),
        cmocka_unit_test(test_entropy_matches_reference),
        cmocka_unit_test(test_entropy_ranks_by_entropy_not_gates),
        cmocka_unit_test(test_ablation),
        cmocka_unit_test(test_gradient_taylor),
        cmocka_unit_test(test_iterative),
        cmocka_unit_test(test_pruned_baseline_differs),
        cmocka_unit_test(test_check_model_and_inputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
