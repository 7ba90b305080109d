/* forward_step.c: one forward call over n new tokens (prefill when n > 1, decode when
 * n == 1), appending to the KV cache. Shapes: n new rows at positions [pos, pos + n);
 * C = n_embd, D = C / H, F = n_inner, V = vocab. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward_impl.h"
#include "kernels.h"

/* Every weight matmul goes through here so that the context counts the FLOPs it really
 * performed (tests use it to show skipped heads cost nothing). */
static void mm(hs_ctx *c, float *y, int ldy, const float *x, int ldx, const float *W, int ldw, int n, int K, int N,
               float beta)
{
    c->flops += 2.0 * n * K * N;
    hs_k_matmul(y, ldy, x, ldx, W, ldw, n, K, N, beta);
}

/* qkv (n, 3C) = xn (n, C) @ c_attn + b, only the live heads' Q, K and V columns. */
static void attn_qkv(hs_ctx *c, const hs_block *b, const hs_layer_cache *lc, int n)
{
    int C = c->cfg.n_embd, D = c->D;
    if (lc->n_live == c->cfg.n_head) {
        mm(c, c->qkv, 3 * C, c->xn, C, b->attn_w, 3 * C, n, C, 3 * C, 0.0f);
        hs_k_add_bias(c->qkv, 3 * C, b->attn_b, n, 3 * C);
        return;
    }
    for (int r = 0; r < lc->n_runs; r++)
        for (int part = 0; part < 3; part++) {
            int col = part * C + lc->runs[r].h0 * D, w = lc->runs[r].len * D;
            mm(c, c->qkv + col, 3 * C, c->xn, C, b->attn_w + col, 3 * C, n, C, w, 0.0f);
            hs_k_add_bias(c->qkv + col, 3 * C, b->attn_b + col, n, w);
        }
}

/* Copies the new rows' K and V of each live head into its cache slot. */
static void cache_append(hs_ctx *c, hs_layer_cache *lc, int n)
{
    int C = c->cfg.n_embd, D = c->D, H = c->cfg.n_head;
    for (int h = 0; h < H; h++) {
        int s = lc->slot[h];
        if (s < 0) continue;
        float *kd = lc->k + ((size_t)s * c->max_t + c->pos) * D;
        float *vd = lc->v + ((size_t)s * c->max_t + c->pos) * D;
        for (int i = 0; i < n; i++) {
            memcpy(kd + (size_t)i * D, c->qkv + (size_t)i * 3 * C + C + h * D, (size_t)D * sizeof(float));
            memcpy(vd + (size_t)i * D, c->qkv + (size_t)i * 3 * C + 2 * C + h * D, (size_t)D * sizeof(float));
        }
    }
}

/* Records the row's entropy and utilisation 1 - H/ln(T) (rows over one key carry no
 * information about where a head looks, so they are left out, as DESIGN.md says). */
static void stats_row(hs_ctx *c, int l, int h, const float *p, int T)
{
    if (!c->stats || T < 2) return;
    int i = l * c->cfg.n_head + h;
    double ent = hs_k_entropy(p, T);
    c->stats->entropy[i] += (float)ent;
    c->stats->util[i] += (float)(1.0 - ent / log((double)T));
    c->stats->rows[i]++;
}

/* a[:, h*D:(h+1)*D] (n, D) = gate * softmax(q k^T / sqrt(D), causal) v for one head. */
static void attn_head(hs_ctx *c, const hs_layer_cache *lc, int l, int h, int n)
{
    int C = c->cfg.n_embd, D = c->D, s = lc->slot[h], T0 = c->pos;
    const float *K = lc->k + (size_t)s * c->max_t * D, *V = lc->v + (size_t)s * c->max_t * D;
    float scale = 1.0f / sqrtf((float)D), g = c->eff[l * c->cfg.n_head + h];
    for (int i = 0; i < n; i++) {
        const float *q = c->qkv + (size_t)i * 3 * C + h * D;
        float *p = c->att, *out = c->a + (size_t)i * C + h * D;
        int T = T0 + i + 1; /* causal: keys 0 .. pos + i */
        for (int t = 0; t < T; t++) p[t] = hs_k_dot(q, K + (size_t)t * D, D) * scale;
        c->flops += 4.0 * T * D; /* scores and the weighted sum of values */
        hs_k_softmax(p, T);
        stats_row(c, l, h, p, T);
        memset(out, 0, (size_t)D * sizeof(float));
        for (int t = 0; t < T; t++) {
            const float *vt = V + (size_t)t * D;
            float pt = p[t];
            for (int d = 0; d < D; d++) out[d] += pt * vt[d];
        }
        for (int d = 0; d < D; d++) out[d] *= g;
    }
}

/* Per-head contributions through c_proj and their cosine with the rest of the layer
 * (agency's misalignment signal). Costs one extra pass over c_proj, stats only. */
static void stats_contrib(hs_ctx *c, const hs_block *b, const hs_layer_cache *lc, int l, int n)
{
    int C = c->cfg.n_embd, D = c->D, H = c->cfg.n_head;
    float *sum = c->o; /* (n, C), o is free until the projection */
    memset(sum, 0, (size_t)n * C * sizeof(float));
    for (int h = 0; h < H; h++) {
        if (lc->slot[h] < 0) continue;
        float *ch = c->contrib + (size_t)h * c->max_t * C;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, C, D, 1.0f, c->a + h * D, C,
                    b->proj_w + (size_t)h * D * C, C, 0.0f, ch, C);
        cblas_saxpy(n * C, 1.0f, ch, 1, sum, 1);
    }
    for (int h = 0; h < H; h++) {
        if (lc->slot[h] < 0) continue;
        const float *ch = c->contrib + (size_t)h * c->max_t * C;
        double acc = 0;
        for (int i = 0; i < n; i++) {
            double dot = 0, n1 = 0, n2 = 0;
            for (int j = 0; j < C; j++) {
                double x = ch[(size_t)i * C + j], r = sum[(size_t)i * C + j] - x;
                dot += x * r, n1 += x * x, n2 += r * r;
            }
            acc += (n1 > 0 && n2 > 0) ? dot / sqrt(n1 * n2) : 0.0;
        }
        c->stats->cosine[l * H + h] += (float)(acc / n);
    }
}

/* o (n, C) = a (n, C) @ c_proj + b over the live heads' input rows. */
static void attn_proj(hs_ctx *c, const hs_block *b, const hs_layer_cache *lc, int n)
{
    int C = c->cfg.n_embd, D = c->D;
    if (lc->n_live == c->cfg.n_head) {
        mm(c, c->o, C, c->a, C, b->proj_w, C, n, C, C, 0.0f);
    } else if (lc->n_live == 0) {
        memset(c->o, 0, (size_t)n * C * sizeof(float));
    } else {
        for (int r = 0; r < lc->n_runs; r++) {
            int h0 = lc->runs[r].h0, w = lc->runs[r].len * D;
            mm(c, c->o, C, c->a + h0 * D, C, b->proj_w + (size_t)h0 * D * C, C, n, w, C,
                        r == 0 ? 0.0f : 1.0f);
        }
    }
    hs_k_add_bias(c->o, C, b->proj_b, n, C);
}

static void block_attn(hs_ctx *c, int l, int n)
{
    const hs_block *b = &c->m->blocks[l];
    hs_layer_cache *lc = &c->layers[l];
    int C = c->cfg.n_embd;
    hs_k_layernorm(c->xn, c->x, b->ln1_w, b->ln1_b, n, C, c->cfg.ln_eps);
    attn_qkv(c, b, lc, n);
    cache_append(c, lc, n);
    for (int h = 0; h < c->cfg.n_head; h++)
        if (lc->slot[h] >= 0) attn_head(c, lc, l, h, n);
    if (c->stats) stats_contrib(c, b, lc, l, n);
    attn_proj(c, b, lc, n);
    cblas_saxpy(n * C, 1.0f, c->o, 1, c->x, 1);
}

static void block_mlp(hs_ctx *c, int l, int n)
{
    const hs_block *b = &c->m->blocks[l];
    int C = c->cfg.n_embd, F = c->cfg.n_inner;
    hs_k_layernorm(c->xn, c->x, b->ln2_w, b->ln2_b, n, C, c->cfg.ln_eps);
    mm(c, c->o, F, c->xn, C, b->fc_w, F, n, C, F, 0.0f);
    hs_k_add_bias(c->o, F, b->fc_b, n, F);
    hs_k_gelu_new(c->o, (long)n * F);
    /* xn is free again: use it for the MLP output before adding to the residual */
    mm(c, c->xn, C, c->o, F, b->fc_proj_w, C, n, F, C, 0.0f);
    hs_k_add_bias(c->xn, C, b->fc_proj_b, n, C);
    cblas_saxpy(n * C, 1.0f, c->xn, 1, c->x, 1);
}

/* logits (rows, V) = ln_f(x[first .. first + rows)) @ lm_head^T. */
static void lm_head(hs_ctx *c, int first, int rows, float *logits)
{
    const hs_model *m = c->m;
    int C = c->cfg.n_embd, V = c->cfg.vocab_size;
    hs_k_layernorm(c->xn, c->x + (size_t)first * C, m->lnf_w, m->lnf_b, rows, C, c->cfg.ln_eps);
    c->flops += 2.0 * rows * V * C;
    if (rows == 1)
        hs_k_dot_rows(logits, m->lm_head, C, c->xn, V, C);
    else
        hs_k_gemm(logits, V, c->xn, C, m->lm_head, C, 1, rows, C, V, 0.0f);
}

static hs_status check_input(const hs_ctx *c, const int32_t *ids, int n)
{
    if (n < 1) return hs_err(HS_EINPUT, "forward: no tokens");
    if (c->pos + n > c->max_t)
        return hs_err(HS_EINPUT, "sequence of %d tokens exceeds the context of %d", c->pos + n, c->max_t);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->cfg.vocab_size)
            return hs_err(HS_EINPUT, "token id %d at position %d is out of range [0, %d)", ids[i], i, c->cfg.vocab_size);
    return HS_OK;
}

static void stats_begin(hs_ctx *c)
{
    size_t LH = (size_t)c->cfg.n_layer * c->cfg.n_head;
    memset(c->stats->util, 0, LH * sizeof(float));
    memset(c->stats->entropy, 0, LH * sizeof(float));
    memset(c->stats->cosine, 0, LH * sizeof(float));
    memset(c->stats->rows, 0, LH * sizeof(int));
}

/* Turns the sums of attn_head into means over the rows that entered them. */
static void stats_end(hs_ctx *c)
{
    size_t LH = (size_t)c->cfg.n_layer * c->cfg.n_head;
    for (size_t i = 0; i < LH; i++)
        if (c->stats->rows[i] > 0) {
            c->stats->util[i] /= (float)c->stats->rows[i];
            c->stats->entropy[i] /= (float)c->stats->rows[i];
        }
}

hs_status hs_ctx_forward(hs_ctx *c, const int32_t *ids, int n, float *logits, int all_positions)
{
    hs_status st = check_input(c, ids, n);
    if (st) return st;
    int C = c->cfg.n_embd;
    if (c->stats) stats_begin(c);
    for (int i = 0; i < n; i++) {
        const float *te = c->m->wte + (size_t)ids[i] * C, *pe = c->m->wpe + (size_t)(c->pos + i) * C;
        for (int j = 0; j < C; j++) c->x[(size_t)i * C + j] = te[j] + pe[j];
    }
    for (int l = 0; l < c->cfg.n_layer; l++) {
        block_attn(c, l, n);
        block_mlp(c, l, n);
    }
    if (logits) {
        if (all_positions) lm_head(c, 0, n, logits);
        else lm_head(c, n - 1, 1, logits);
    }
    if (c->stats) stats_end(c);
    c->pos += n;
    return HS_OK;
}
