/* forward.c: the GPT-2 forward pass with a KV cache and per-head gates.
 *
 * Pre-LN blocks: x += attn(ln_1(x)); x += mlp(ln_2(x)); logits = ln_f(x) @ wte^T.
 * Matmuls go through the kernels' dispatcher (matmul.c: our row kernels and tiles, and
 * OpenBLAS's sgemm for f32 prefill products when it has AVX-512 kernels) on the
 * checkpoint's Conv1D (in, out) layout in place: a head's Q/K/V columns are a strided
 * slice of c_attn (ldb = 3C) and its c_proj input rows a contiguous block, so skip mode
 * simply issues matmuls over the live runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward_impl.h"
#include "kernels.h"

static void layer_cache_free(hs_layer_cache *lc)
{
    free(lc->slot);
    free(lc->runs);
    free(lc->k);
    free(lc->v);
    memset(lc, 0, sizeof *lc);
}

/* Live heads are all heads in mask mode, heads with a non-zero gate in skip mode. */
static hs_status layer_cache_build(hs_layer_cache *lc, const hs_ctx *c, const float *g)
{
    int H = c->cfg.n_head;
    layer_cache_free(lc);
    lc->slot = hs_malloc((size_t)H * sizeof *lc->slot, "head slots");
    lc->runs = hs_malloc((size_t)H * sizeof *lc->runs, "head runs");
    if (!lc->slot || !lc->runs) return HS_ENOMEM;
    for (int h = 0; h < H; h++) {
        int live = c->mode == HS_GATING_MASK || g[h] != 0.0f;
        lc->slot[h] = live ? lc->n_live++ : -1;
        if (!live) continue;
        if (lc->n_runs && lc->runs[lc->n_runs - 1].h0 + lc->runs[lc->n_runs - 1].len == h)
            lc->runs[lc->n_runs - 1].len++;
        else
            lc->runs[lc->n_runs++] = (hs_head_run){h, 1};
    }
    size_t n = (size_t)lc->n_live * (size_t)c->max_t * (size_t)c->D;
    lc->k = hs_malloc(n * sizeof(float), "KV cache");
    lc->v = hs_malloc(n * sizeof(float), "KV cache");
    return lc->k && lc->v ? HS_OK : HS_ENOMEM;
}

static hs_status ctx_alloc_scratch(hs_ctx *c)
{
    size_t T = (size_t)c->max_t, C = (size_t)c->cfg.n_embd, F = (size_t)c->cfg.n_inner;
    size_t LH = (size_t)c->cfg.n_layer * (size_t)c->cfg.n_head;
    size_t wide = F > C ? F : C;
    c->gates = hs_malloc(LH * sizeof(float), "gates");
    c->eff = hs_malloc(LH * sizeof(float), "gates");
    c->layers = hs_calloc((size_t)c->cfg.n_layer, sizeof *c->layers, "layer caches");
    c->x = hs_malloc(T * C * sizeof(float), "activations");
    c->xn = hs_malloc(T * C * sizeof(float), "activations");
    c->qkv = hs_malloc(T * 3 * C * sizeof(float), "activations");
    c->a = hs_malloc(T * C * sizeof(float), "activations");
    c->o = hs_malloc(T * wide * sizeof(float), "activations");
    c->att = hs_malloc(T * T * sizeof(float), "attention scores");
    c->logit_scratch = hs_malloc((size_t)c->cfg.vocab_size * sizeof(float), "logits");
    c->row_seq = hs_malloc(T * sizeof *c->row_seq, "row table");
    c->row_pos = hs_malloc(T * sizeof *c->row_pos, "row table");
    if (!c->gates || !c->eff || !c->layers || !c->x || !c->xn || !c->qkv || !c->a || !c->o ||
        !c->att || !c->logit_scratch || !c->row_seq || !c->row_pos)
        return HS_ENOMEM;
    return HS_OK;
}

hs_status hs_ctx_init(hs_ctx **out, const hs_model *m, int max_t, hs_gating mode)
{
    *out = NULL;
    if (max_t < 1 || max_t > m->cfg.n_positions)
        return hs_err(HS_EINPUT, "context of %d tokens: the model allows 1 to %d", max_t, m->cfg.n_positions);
    hs_ctx *c = hs_calloc(1, sizeof *c, "forward context");
    if (!c) return HS_ENOMEM;
    c->m = m;
    c->cfg = m->cfg;
    c->max_t = max_t;
    c->mode = mode;
    c->D = m->cfg.n_embd / m->cfg.n_head;
    hs_status st = ctx_alloc_scratch(c);
    if (!st) {
        size_t LH = (size_t)c->cfg.n_layer * (size_t)c->cfg.n_head;
        for (size_t i = 0; i < LH; i++) c->gates[i] = 1.0f;
        st = hs_ctx_set_gates(c, c->gates);
    }
    if (st) {
        hs_ctx_free(c);
        return st;
    }
    *out = c;
    return HS_OK;
}

void hs_ctx_free(hs_ctx *c)
{
    if (!c) return;
    if (c->layers)
        for (int l = 0; l < c->cfg.n_layer; l++) layer_cache_free(&c->layers[l]);
    free(c->layers);
    free(c->gates);
    free(c->eff);
    free(c->x);
    free(c->xn);
    free(c->qkv);
    free(c->a);
    free(c->o);
    free(c->att);
    free(c->contrib);
    free(c->logit_scratch);
    free(c->row_seq);
    free(c->row_pos);
    free(c->head_mean);
    free(c->mean_off);
    free(c->x_mark);
    free(c);
}

/* mean_off[l] (C) = sum over heads of (1 - g_h) head_mean[l, h] (D) @ c_proj rows of h. */
static void mean_offsets(hs_ctx *c)
{
    int L = c->cfg.n_layer, H = c->cfg.n_head, C = c->cfg.n_embd, D = c->D;
    for (int l = 0; l < L; l++) {
        float *off = c->mean_off + (size_t)l * C;
        const float *W = c->m->blocks[l].proj_w;
        memset(off, 0, (size_t)C * sizeof *off);
        for (int h = 0; h < H; h++) {
            float w = 1.0f - c->gates[l * H + h];
            const float *mu = c->head_mean + ((size_t)l * H + h) * D;
            for (int d = 0; w != 0.0f && d < D; d++)
                for (int j = 0; j < C; j++) off[j] += w * mu[d] * W[(size_t)(h * D + d) * C + j];
        }
    }
}

hs_status hs_ctx_set_head_means(hs_ctx *c, const float *means)
{
    int L = c->cfg.n_layer, H = c->cfg.n_head, C = c->cfg.n_embd;
    free(c->head_mean);
    free(c->mean_off);
    c->head_mean = c->mean_off = NULL;
    if (!means) return HS_OK;
    size_t n = (size_t)L * H * c->D;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(means[i])) return hs_err(HS_EINPUT, "head means: value %zu is not finite", i);
    c->head_mean = hs_malloc(n * sizeof(float), "head means");
    c->mean_off = hs_malloc((size_t)L * C * sizeof(float), "head means");
    if (!c->head_mean || !c->mean_off) {
        free(c->head_mean);
        free(c->mean_off);
        c->head_mean = c->mean_off = NULL;
        return HS_ENOMEM;
    }
    memcpy(c->head_mean, means, n * sizeof(float));
    mean_offsets(c);
    return HS_OK;
}

hs_status hs_ctx_set_gates(hs_ctx *c, const float *gates)
{
    int L = c->cfg.n_layer, H = c->cfg.n_head;
    for (int i = 0; i < L * H; i++)
        if (!(gates[i] >= 0.0f && gates[i] <= 1.0f))
            return hs_err(HS_EINPUT, "gate of head %d.%d is %g, outside [0, 1]", i / H, i % H, gates[i]);
    if (gates != c->gates) memcpy(c->gates, gates, (size_t)(L * H) * sizeof(float));
    memcpy(c->eff, c->gates, (size_t)(L * H) * sizeof(float));
    for (int l = 0; l < L; l++) {
        hs_status st = layer_cache_build(&c->layers[l], c, c->gates + l * H);
        if (st) return st;
    }
    if (c->head_mean) mean_offsets(c);
    c->pos = c->mark_pos = c->last_n = c->last_as = c->mark_as = 0;
    return HS_OK;
}

void hs_ctx_scale_gates(hs_ctx *c, const float *factors)
{
    int LH = c->cfg.n_layer * c->cfg.n_head;
    for (int i = 0; i < LH; i++) c->eff[i] = c->gates[i] * factors[i];
}

void hs_ctx_reset(hs_ctx *c) { c->pos = c->mark_pos = c->last_n = c->last_as = c->mark_as = 0; }

hs_status hs_ctx_mark(hs_ctx *c)
{
    int C = c->cfg.n_embd;
    if (c->last_n < 1) return hs_err(HS_EINTERNAL, "mark: the last forward call was not this sequence's alone");
    if (!c->x_mark && !(c->x_mark = hs_malloc((size_t)C * sizeof(float), "shared prefix"))) return HS_ENOMEM;
    memcpy(c->x_mark, c->x + (size_t)(c->last_n - 1) * C, (size_t)C * sizeof(float));
    c->mark_pos = c->pos;
    c->mark_as = c->last_n == c->pos ? c->last_as : -1;
    return HS_OK;
}

hs_status hs_ctx_rewind(hs_ctx *c)
{
    if (c->mark_pos < 1) return hs_err(HS_EINTERNAL, "rewind: no marked prefix");
    c->pos = c->mark_pos;
    c->last_n = 0;
    return HS_OK;
}

/* Whether this context's weights are F32, the only mode whose products may reach OpenBLAS. */
static int ctx_f32(const hs_ctx *c) { return c->m->weights == HS_WEIGHTS_F32; }

int hs_ctx_prefix_route(const hs_ctx *c, int prefix, int whole)
{
    if (prefix < 1 || prefix >= whole || hs_k_matmul_same_route(prefix, whole)) return prefix;
    /* prefix and whole on different routes (the row kernels under 48 rows, the tiles
     * from 48): the prefix's rows computed on the whole's route, which our tiles allow */
    int f32 = ctx_f32(c);
    return hs_k_matmul_split_exact(prefix, whole, f32) && hs_k_matmul_split_exact(whole - prefix, whole, f32) ? whole
                                                                                                            : prefix;
}

int hs_ctx_prefix_exact(const hs_ctx *c, int prefix, int whole)
{
    if (prefix < 1 || prefix >= whole || !hs_k_matmul_split_exact(whole - prefix, whole, ctx_f32(c))) return 0;
    return hs_k_matmul_same_route(prefix, whole) || hs_ctx_prefix_route(c, prefix, whole) == whole;
}

int hs_ctx_pos(const hs_ctx *c) { return c->pos; }

const float *hs_ctx_gates(const hs_ctx *c) { return c->gates; }

int hs_ctx_max_t(const hs_ctx *c) { return c->max_t; }

double hs_ctx_flops(const hs_ctx *c) { return c->flops; }

int hs_ctx_vocab(const hs_ctx *c) { return c->cfg.vocab_size; }

int hs_ctx_live_heads(const hs_ctx *c)
{
    int n = 0;
    for (int l = 0; l < c->cfg.n_layer; l++) n += c->layers[l].n_live;
    return n;
}

hs_status hs_ctx_collect_stats(hs_ctx *c, hs_head_stats *stats)
{
    c->stats = stats;
    if (!stats || c->contrib) return HS_OK;
    size_t sz = (size_t)(c->cfg.n_head + 1) * c->cfg.n_embd;
    c->contrib = hs_malloc(sz * sizeof(float), "per-head contributions");
    if (!c->contrib) c->stats = NULL;
    return c->contrib ? HS_OK : HS_ENOMEM;
}

hs_status hs_head_stats_init(hs_head_stats *s, int n_layer, int n_head)
{
    size_t LH = (size_t)n_layer * (size_t)n_head;
    s->util = hs_calloc(LH, sizeof(float), "head stats");
    s->entropy = hs_calloc(LH, sizeof(float), "head stats");
    s->cosine = hs_calloc(LH, sizeof(float), "head stats");
    s->rows = hs_calloc(LH, sizeof(int), "head stats");
    if (s->util && s->entropy && s->cosine && s->rows) return HS_OK;
    hs_head_stats_free(s);
    return HS_ENOMEM;
}

void hs_head_stats_free(hs_head_stats *s)
{
    if (!s) return;
    free(s->util);
    free(s->entropy);
    free(s->cosine);
    free(s->rows);
    memset(s, 0, sizeof *s);
}
