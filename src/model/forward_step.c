/* forward_step.c: one forward call over a set of rows, appending to the KV caches.
 *
 * A row is one token of one sequence at one position. A prefill is n rows of one
 * sequence; a decode batch (throughput mode) is one row of each of n sequences, which
 * share the weight pass (each weight byte read once for all of them) but keep their
 * own caches, gates and statistics. Every row's arithmetic is the same in both cases,
 * so a sequence decoded in a batch gets bit-identical logits to the one-at-a-time path.
 * Shapes: n rows; C = n_embd, D = C / H, F = n_inner, V = vocab. */
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward_impl.h"
#include "kernels.h"

typedef struct {
    hs_ctx *lead;      /* owns the row scratch (x, xn, qkv, a, o, att) and counts FLOPs */
    int n;             /* rows */
    hs_ctx **seq;      /* (n) the sequence of each row */
    const int *pos;    /* (n) the position of each row */
    int batch;         /* rows are different sequences (one row each) */
    int whole;         /* rows the products' route is chosen for: n, or a split prefill's total */
} rowset;

/* Weight matrix `field` of block b from element off on: its bf16 copy in bf16 weight
 * mode (HS_WEIGHTS_BF16), its int8 copy and row scales in int8 mode, its panels in W8A8
 * mode (the whole matrix, the slice at off), else the F32 one;
 * with its packed copy when the model has one (hs_model_opts.pack), which decode batches
 * then read, and its batch-1 panels (hs_model_opts.panels), which batch 1 then reads. */
#define BW(b, field, off)                                                                               \
    ((b)->field##v.q ? (hs_w){.v = &(b)->field##v, .poff = (off)}                                        \
                     : (hs_w){(b)->field##16 || (b)->field##8 ? NULL : (b)->field + (off),               \
                              (b)->field##16 ? (b)->field##16 + (off) : NULL,                            \
                              (b)->field##p.data ? &(b)->field##p : NULL, (off),                         \
                              (b)->field##8 ? (b)->field##8 + (off) : NULL, (b)->field##_s8, NULL, 0,             \
                              (b)->field##g.f || (b)->field##g.h || (b)->field##g.q ? &(b)->field##g : NULL})

/* Block b's head-major c_attn (hs_model_opts.head_major) from head h of part (0 Q, 1 K,
 * 2 V) on; every pointer NULL when the model has none. */
static hs_w heads_w(const hs_block *b, int part, int h, int C, int H)
{
    size_t at = ((size_t)part * H + h) * (size_t)C * (C / H);
    return (hs_w){b->attn_wh ? b->attn_wh + at : NULL, b->attn_wh16 ? b->attn_wh16 + at : NULL, NULL, 0,
                  b->attn_wh8 ? b->attn_wh8 + at : NULL, b->attn_w_s8, NULL, 0, NULL};
}

/* 1 when the rows' live Q/K/V columns are read from the head-major copy: one row on the
 * row kernels' route (hs_k_matmul_heads keeps their chains), in a layer with heads off.
 * bf16's paired copy only while the panels' kernel, the one that reads it, is on. */
static int reads_heads(const rowset *R, const hs_block *b, const hs_layer_cache *lc)
{
    int copy = b->attn_wh || b->attn_wh16 || b->attn_wh8 || (b->attn_wh16p && hs_k_avx512());
    return lc->n_live < R->lead->cfg.n_head && copy && R->n == 1 && (R->batch || hs_k_matmul_same_route(R->whole, 1));
}

/* A weight of layer lc's products. In a skip-mode layer with heads off that reads the
 * live heads' Q/K/V as column runs of the checkpoint's c_attn, the batch-1 kernel does not
 * prefetch: there its prefetch made decode 8-11% slower (every product of the layer, the
 * MLP's too), while in layers read whole it makes decode 1-3% faster, and in layers
 * reading the head-major copy it helps too (docs/performance.md, "Batch-1 layer products"
 * and "Skip mode reads head-major c_attn"). Results are the same either way. */
static hs_w layer_w(hs_w w, const rowset *R, const hs_block *b, const hs_layer_cache *lc)
{
    w.no_prefetch = lc->n_live < R->lead->cfg.n_head && !reads_heads(R, b, lc);
    return w;
}

/* Every weight matmul goes through here so that the lead context counts the FLOPs it
 * really performed (tests use it to show that skipped heads cost nothing). */
static void mm(const rowset *R, float *y, int ldy, const float *x, int ldx, hs_w W, int ldw, int K, int N,
               float beta)
{
    R->lead->flops += 2.0 * R->n * K * N;
    if (R->batch) hs_k_matmul_rows(y, ldy, x, ldx, W, ldw, R->n, K, N, beta);
    else hs_k_matmul_as(y, ldy, x, ldx, W, ldw, R->n, R->whole, K, N, beta);
}

/* The live heads' Q/K/V of one row from the head-major copy in one call of the panels'
 * kernel (hs_k_matmul_head_list: four streams over the listed (C, D) blocks, where the
 * row kernel reads each run alone, at half that rate on an AMD EPYC Zen 5); 0 when that
 * kernel cannot read this copy, and nothing done. */
static int attn_qkv_list(hs_ctx *c, const hs_block *b, const hs_layer_cache *lc)
{
    enum { LIST_MAX = 3 * 64 }; /* every GPT-2 size has at most 25 heads */
    int C = c->cfg.n_embd, H = c->cfg.n_head, D = c->D, blocks[LIST_MAX], n = 0;
    if (3 * H > LIST_MAX) return 0;
    for (int part = 0; part < 3; part++)
        for (int r = 0; r < lc->n_runs; r++)
            for (int h = lc->runs[r].h0; h < lc->runs[r].h0 + lc->runs[r].len; h++) blocks[n++] = part * H + h;
    hs_w W = b->attn_wh16p ? hs_w_bf16(b->attn_wh16p) : heads_w(b, 0, 0, C, H);
    return hs_k_matmul_head_list(c->qkv, c->xn, W, C, D, 3 * H, blocks, n);
}

/* qkv (n, 3C) = xn (n, C) @ c_attn + b, only the live heads' Q, K and V columns. */
static void attn_qkv(const rowset *R, const hs_block *b, const hs_layer_cache *lc)
{
    hs_ctx *c = R->lead;
    int C = c->cfg.n_embd, D = c->D, n = R->n;
    if (lc->n_live == c->cfg.n_head) {
        mm(R, c->qkv, 3 * C, c->xn, C, layer_w(BW(b, attn_w, 0), R, b, lc), 3 * C, C, 3 * C, 0.0f);
        hs_k_add_bias(c->qkv, 3 * C, b->attn_b, n, 3 * C);
        return;
    }
    /* each live head's columns one contiguous block; the row kernel cannot read bf16's
     * paired copy, so without the list those go on below as column runs */
    int heads = reads_heads(R, b, lc), listed = heads && attn_qkv_list(c, b, lc);
    if (listed || (heads && !b->attn_wh16p)) {
        for (int r = 0; r < lc->n_runs; r++)
            for (int part = 0; part < 3; part++) {
                int col = part * C + lc->runs[r].h0 * D, w = lc->runs[r].len * D;
                c->flops += 2.0 * C * w; /* mm()'s count for the same product */
                if (!listed)
                    hs_k_matmul_heads(c->qkv + col, c->xn, heads_w(b, part, lc->runs[r].h0, C, c->cfg.n_head), C,
                                      D, lc->runs[r].len);
                hs_k_add_bias(c->qkv + col, 3 * C, b->attn_b + col, n, w);
            }
        return;
    }
    for (int r = 0; r < lc->n_runs; r++)
        for (int part = 0; part < 3; part++) {
            int col = part * C + lc->runs[r].h0 * D, w = lc->runs[r].len * D;
            mm(R, c->qkv + col, 3 * C, c->xn, C, layer_w(BW(b, attn_w, col), R, b, lc), 3 * C, C, w, 0.0f);
            hs_k_add_bias(c->qkv + col, 3 * C, b->attn_b + col, n, w);
        }
}

/* Copies each row's K and V of every live head into its sequence's cache. */
static void cache_append(const rowset *R, int l)
{
    const hs_ctx *c = R->lead;
    int C = c->cfg.n_embd, D = c->D, H = c->cfg.n_head;
    for (int i = 0; i < R->n; i++) {
        const hs_ctx *s = R->seq[i];
        const hs_layer_cache *lc = &s->layers[l];
        const float *row = c->qkv + (size_t)i * 3 * C;
        for (int h = 0; h < H; h++) {
            if (lc->slot[h] < 0) continue;
            size_t at = ((size_t)lc->slot[h] * s->max_t + R->pos[i]) * D;
            memcpy(lc->k + at, row + C + h * D, (size_t)D * sizeof(float));
            memcpy(lc->v + at, row + 2 * C + h * D, (size_t)D * sizeof(float));
        }
    }
}

/* Records the row's entropy and utilisation 1 - H/ln(T) (rows over one key carry no
 * information about where a head looks, so they are left out, as DESIGN.md says). */
static void stats_row(hs_ctx *s, int l, int h, const float *p, int T)
{
    if (!s->stats || T < 2) return;
    int i = l * s->cfg.n_head + h;
    double ent = hs_k_entropy(p, T);
    s->stats->entropy[i] += (float)ent;
    s->stats->util[i] += (float)(1.0 - ent / log((double)T));
    s->stats->rows[i]++;
}

/* out (D) = gate * softmax(q K^T / sqrt(D)) V over keys 0 .. pos of the row's sequence. */
static void attn_row_head(const rowset *R, int i, int l, int h)
{
    hs_ctx *c = R->lead, *s = R->seq[i];
    const hs_layer_cache *lc = &s->layers[l];
    int C = c->cfg.n_embd, D = c->D, T = R->pos[i] + 1; /* causal */
    const float *K = lc->k + (size_t)lc->slot[h] * s->max_t * D, *V = lc->v + (size_t)lc->slot[h] * s->max_t * D;
    const float *q = c->qkv + (size_t)i * 3 * C + h * D;
    float *p = c->att, *out = c->a + (size_t)i * C + h * D;
    float scale = 1.0f / sqrtf((float)D), g = s->eff[l * c->cfg.n_head + h];
    hs_k_attn_scores(p, q, K, T, D, scale);
    c->flops += 4.0 * T * D; /* scores and the weighted sum of values */
    hs_k_softmax(p, T);
    stats_row(s, l, h, p, T);
    hs_k_attn_values(out, p, V, T, D);
    for (int d = 0; d < D; d++) out[d] *= g;
}

/* Cosine of each live head's contribution through c_proj against the sum of the other
 * live heads' (agency's misalignment signal), averaged over the sequence's rows of this
 * call. Per row, with the batch-1 kernel, so batched and single paths agree exactly. */
static void stats_contrib_row(const rowset *R, int i, const hs_block *b, int l)
{
    hs_ctx *s = R->seq[i];
    const hs_layer_cache *lc = &s->layers[l];
    int C = s->cfg.n_embd, D = s->D, H = s->cfg.n_head;
    float *sum = s->contrib + (size_t)H * C; /* (C) after the H per-head rows */
    const float *a = R->lead->a + (size_t)i * C;
    memset(sum, 0, (size_t)C * sizeof(float));
    for (int h = 0; h < H; h++) {
        if (lc->slot[h] < 0) continue;
        float *ch = s->contrib + (size_t)h * C;
        hs_k_matmul_rows(ch, C, a + h * D, D, BW(b, proj_w, (size_t)h * D * C), C, 1, D, C, 0.0f);
        for (int j = 0; j < C; j++) sum[j] += ch[j];
        /* not through mm(), so counted here: agency's signal is real work, and the
         * FLOP count must show what it costs on top of the forward pass */
        R->lead->flops += 2.0 * D * C;
    }
    int rows_of_seq = R->batch ? 1 : R->n;
    for (int h = 0; h < H; h++) {
        if (lc->slot[h] < 0) continue;
        const float *ch = s->contrib + (size_t)h * C;
        double dot = 0, n1 = 0, n2 = 0;
        for (int j = 0; j < C; j++) {
            double x = ch[j], r = sum[j] - x;
            dot += x * r, n1 += x * x, n2 += r * r;
        }
        double cosv = (n1 > 0 && n2 > 0) ? dot / sqrt(n1 * n2) : 0.0;
        s->stats->cosine[l * H + h] += (float)(cosv / rows_of_seq);
    }
}

/* The input columns [*k0, *k1) of c_proj's product that starts at run *r, moving *r past
 * the runs it covers. A run is its heads' columns, except in W8A8 mode: there a product
 * quantizes its activations in blocks of 32 counted from its first column, so a run whose
 * columns do not start on a block of the whole row (head size not a multiple of 32) was
 * quantized in other blocks than mask mode's, 0.02-0.2 off in logits. Its product is then
 * widened to the whole blocks of the row it touches, runs sharing a block merged, so that
 * skip mode quantizes exactly the blocks mask mode does. */
static void proj_span(const hs_layer_cache *lc, int D, int C, int align, int *r, int *k0, int *k1)
{
    *k0 = lc->runs[*r].h0 * D / align * align;
    for (;;) {
        int end = (lc->runs[*r].h0 + lc->runs[*r].len) * D;
        end = (end + align - 1) / align * align;
        *k1 = end < C ? end : C;
        if (++*r == lc->n_runs || lc->runs[*r].h0 * D / align * align >= *k1) return;
    }
}

/* Zeroes the columns of switched-off heads in [k0, k1) of every row of a: what mask mode's
 * zero gates leave there (skip mode never writes them). */
static void zero_dead_cols(const rowset *R, const hs_layer_cache *lc, int D, int C, int k0, int k1)
{
    for (int h = k0 / D; h * D < k1; h++) {
        if (lc->slot[h] >= 0) continue;
        int from = h * D > k0 ? h * D : k0, to = (h + 1) * D < k1 ? (h + 1) * D : k1;
        for (int i = 0; i < R->n; i++)
            memset(R->lead->a + (size_t)i * C + from, 0, (size_t)(to - from) * sizeof(float));
    }
}

/* o (n, C) = a (n, C) @ c_proj + b over the live heads' input rows. */
static void attn_proj(const rowset *R, const hs_block *b, const hs_layer_cache *lc)
{
    hs_ctx *c = R->lead;
    int C = c->cfg.n_embd, D = c->D;
    if (lc->n_live == c->cfg.n_head) {
        mm(R, c->o, C, c->a, C, layer_w(BW(b, proj_w, 0), R, b, lc), C, C, C, 0.0f);
    } else if (lc->n_live == 0) {
        memset(c->o, 0, (size_t)R->n * C * sizeof(float));
    } else {
        int align = BW(b, proj_w, 0).v ? HS_W8A8_BLOCK : 1;
        for (int r = 0, k0, k1, first = 1; r < lc->n_runs; first = 0) {
            proj_span(lc, D, C, align, &r, &k0, &k1);
            if (align > 1) zero_dead_cols(R, lc, D, C, k0, k1);
            hs_w W = layer_w(BW(b, proj_w, (size_t)k0 * C), R, b, lc);
            mm(R, c->o, C, c->a + k0, C, W, C, k1 - k0, C, first ? 0.0f : 1.0f);
        }
    }
    hs_k_add_bias(c->o, C, b->proj_b, R->n, C);
}

static void add_rows(float *x, const float *y, long n)
{
    for (long i = 0; i < n; i++) x[i] += y[i];
}

/* In a batch, prefetches the keys and values that attention reads after row i's head h
 * (the row's next live head, else the next row's first): each row is another sequence,
 * whose cache was last read a whole step ago and has left the near caches since; its
 * reads then overlap this head's arithmetic. No arithmetic: same bits. */
static void prefetch_next_head(const rowset *R, int l, int i, int h)
{
#ifdef __AVX2__
    const hs_layer_cache *lc = &R->lead->layers[l];
    int H = R->lead->cfg.n_head, D = R->lead->D;
    do {
        if (++h == H) h = 0, i++;
    } while (i < R->n && lc->slot[h] < 0);
    if (i >= R->n) return;
    const hs_ctx *s = R->seq[i];
    size_t at = (size_t)s->layers[l].slot[h] * s->max_t * D, bytes = (size_t)(R->pos[i] + 1) * D * sizeof(float);
    const char *k = (const char *)(s->layers[l].k + at), *v = (const char *)(s->layers[l].v + at);
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(k + o, _MM_HINT_T0), _mm_prefetch(v + o, _MM_HINT_T0);
#else
    (void)R, (void)l, (void)i, (void)h;
#endif
}

static void block_attn(const rowset *R, int l)
{
    hs_ctx *c = R->lead;
    const hs_block *b = &c->m->blocks[l];
    const hs_layer_cache *lc = &c->layers[l]; /* same live set in every sequence */
    int C = c->cfg.n_embd, H = c->cfg.n_head;
    hs_k_layernorm(c->xn, c->x, b->ln1_w, b->ln1_b, R->n, C, c->cfg.ln_eps);
    attn_qkv(R, b, lc);
    cache_append(R, l);
    for (int i = 0; i < R->n; i++)
        for (int h = 0; h < H; h++) {
            if (lc->slot[h] < 0) continue;
            if (R->batch) prefetch_next_head(R, l, i, h);
            attn_row_head(R, i, l, h);
        }
    for (int i = 0; i < R->n; i++)
        if (R->seq[i]->stats) stats_contrib_row(R, i, b, l);
    attn_proj(R, b, lc);
    for (int i = 0; i < R->n; i++) /* mean ablation: each row's sequence has its own gates */
        if (R->seq[i]->mean_off) add_rows(c->o + (size_t)i * C, R->seq[i]->mean_off + (size_t)l * C, C);
    add_rows(c->x, c->o, (long)R->n * C);
}

static void block_mlp(const rowset *R, int l)
{
    hs_ctx *c = R->lead;
    const hs_block *b = &c->m->blocks[l];
    const hs_layer_cache *lc = &c->layers[l];
    int C = c->cfg.n_embd, F = c->cfg.n_inner, n = R->n;
    hs_k_layernorm(c->xn, c->x, b->ln2_w, b->ln2_b, n, C, c->cfg.ln_eps);
    mm(R, c->o, F, c->xn, C, layer_w(BW(b, fc_w, 0), R, b, lc), F, C, F, 0.0f);
    hs_k_add_bias(c->o, F, b->fc_b, n, F);
    hs_k_gelu_new(c->o, (long)n * F);
    /* xn is free again: use it for the MLP output before adding to the residual */
    mm(R, c->xn, C, c->o, F, layer_w(BW(b, fc_proj_w, 0), R, b, lc), C, F, C, 0.0f);
    hs_k_add_bias(c->xn, C, b->fc_proj_b, n, C);
    add_rows(c->x, c->xn, (long)n * C);
}

/* The LM head in its weight mode, with its batch-1 panels when the model has them. */
static hs_w lm_head_w(const hs_model *m)
{
    return m->lm_headv.q ? hs_w_w8a8(&m->lm_headv)
                         : (hs_w){m->lm_head16 || m->lm_head8 ? NULL : m->lm_head, m->lm_head16, NULL, 0, m->lm_head8,
                                  m->lm_head_s8, NULL, 0,
                                  m->lm_headg.f || m->lm_headg.h || m->lm_headg.q ? &m->lm_headg : NULL};
}

/* logits (rows, V) = ln_f(x[first .. first + rows)) @ lm_head^T, where first = -1 is the
 * marked prefix's last position (hs_ctx_forward_cont). A prefill asking for every position
 * uses the GEMM; single rows and decode batches the dot-row kernel. */
static void lm_head(const rowset *R, int first, int rows, float *logits)
{
    hs_ctx *c = R->lead;
    const hs_model *m = c->m;
    int C = c->cfg.n_embd, V = c->cfg.vocab_size, pre = first < 0;
    if (pre) hs_k_layernorm(c->xn, c->x_mark, m->lnf_w, m->lnf_b, 1, C, c->cfg.ln_eps);
    hs_k_layernorm(c->xn + (size_t)pre * C, c->x + (size_t)(first + pre) * C, m->lnf_w, m->lnf_b, rows - pre, C,
                   c->cfg.ln_eps);
    c->flops += 2.0 * rows * V * C;
    hs_w W = lm_head_w(m);
    if (rows > 1 && !R->batch) {
        hs_k_gemm(logits, V, c->xn, C, W, C, 1, rows, C, V, 0.0f);
        return;
    }
    if (R->batch && m->lm_head_wp.data) W.p = &m->lm_head_wp; /* the batch's tiles, same bits */
    hs_k_dot_rows(logits, V, W, C, c->xn, C, rows, V, C);
}

static void stats_begin(hs_ctx *s)
{
    size_t LH = (size_t)s->cfg.n_layer * s->cfg.n_head;
    memset(s->stats->util, 0, LH * sizeof(float));
    memset(s->stats->entropy, 0, LH * sizeof(float));
    memset(s->stats->cosine, 0, LH * sizeof(float));
    memset(s->stats->rows, 0, LH * sizeof(int));
}

/* Turns the sums of stats_row into means over the rows that entered them. */
static void stats_end(hs_ctx *s)
{
    size_t LH = (size_t)s->cfg.n_layer * s->cfg.n_head;
    for (size_t i = 0; i < LH; i++)
        if (s->stats->rows[i] > 0) {
            s->stats->util[i] /= (float)s->stats->rows[i];
            s->stats->entropy[i] /= (float)s->stats->rows[i];
        }
}

static hs_status check_ids(const hs_ctx *c, const int32_t *ids, int n)
{
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->cfg.vocab_size)
            return hs_err(HS_EINPUT, "token id %d at position %d is out of range [0, %d)", ids[i], i,
                          c->cfg.vocab_size);
    return HS_OK;
}

/* Embeds the rows, runs every block, and writes logits of the requested rows. */
static void run_rows(const rowset *R, const int32_t *ids, float *logits, int lo, int hi)
{
    hs_ctx *c = R->lead;
    int C = c->cfg.n_embd, stats_rows = R->batch ? R->n : 1;
    for (int i = 0; i < stats_rows; i++)
        if (R->seq[i]->stats) stats_begin(R->seq[i]);
    for (int i = 0; i < R->n; i++) {
        const float *te = c->m->wte + (size_t)ids[i] * C, *pe = c->m->wpe + (size_t)R->pos[i] * C;
        for (int j = 0; j < C; j++) c->x[(size_t)i * C + j] = te[j] + pe[j];
    }
    for (int l = 0; l < c->cfg.n_layer; l++) {
        block_attn(R, l);
        block_mlp(R, l);
    }
    if (logits) lm_head(R, lo, hi - lo, logits);
    for (int i = 0; i < stats_rows; i++)
        if (R->seq[i]->stats) stats_end(R->seq[i]);
}

hs_status hs_ctx_forward(hs_ctx *c, const int32_t *ids, int n, float *logits, int all_positions)
{
    return hs_ctx_forward_rows(c, ids, n, logits, all_positions ? 0 : n - 1, n);
}

/* One call of n rows of c's sequence, the products routed for `whole` rows; logits rows
 * lo .. hi-1, lo = -1 being the marked prefix's last position. */
static hs_status forward_seq(hs_ctx *c, const int32_t *ids, int n, float *logits, int lo, int hi, int whole)
{
    if (n < 1) return hs_err(HS_EINPUT, "forward: no tokens");
    int lo_min = whole > n ? -1 : 0;
    if (logits && (lo < lo_min || lo >= hi || hi > n))
        return hs_err(HS_EINPUT, "forward: logits of positions %d .. %d asked of a call of %d tokens", lo, hi - 1, n);
    if (c->pos + n > c->max_t)
        return hs_err(HS_EINPUT, "sequence of %d tokens exceeds the context of %d", c->pos + n, c->max_t);
    hs_status st = check_ids(c, ids, n);
    if (st) return st;
    for (int i = 0; i < n; i++) c->row_seq[i] = c, c->row_pos[i] = c->pos + i;
    rowset R = {c, n, c->row_seq, c->row_pos, 0, whole};
    run_rows(&R, ids, logits, lo, hi);
    c->pos += n;
    c->last_n = n;
    c->last_as = whole;
    return HS_OK;
}

hs_status hs_ctx_forward_rows(hs_ctx *c, const int32_t *ids, int n, float *logits, int lo, int hi)
{
    return forward_seq(c, ids, n, logits, lo, hi, n);
}

hs_status hs_ctx_forward_prefix(hs_ctx *c, const int32_t *ids, int n, float *logits, int rows)
{
    if (c->pos != 0) return hs_err(HS_EINTERNAL, "prefix: the sequence is at %d, not at its start", c->pos);
    if (rows < n) rows = n;
    return forward_seq(c, ids, n, logits, n - 1, n, hs_ctx_prefix_route(c, n, rows));
}

hs_status hs_ctx_forward_cont(hs_ctx *c, const int32_t *ids, int n, float *logits, int lo, int hi)
{
    if (c->mark_pos < 1 || c->pos != c->mark_pos)
        return hs_err(HS_EINTERNAL, "continuation: the sequence is not at a marked prefix (at %d, mark %d)", c->pos,
                      c->mark_pos);
    int whole = c->pos + n;
    /* the prefix must have been one call, on the route hs_ctx_prefix_route plans for it
     * (its own row count where that is already the whole's route) */
    if (!hs_ctx_prefix_exact(c, c->pos, whole) || c->mark_as != hs_ctx_prefix_route(c, c->pos, whole))
        return hs_err(HS_EINTERNAL, "continuation: %d + %d tokens would not give the bits of one call", c->pos, n);
    return forward_seq(c, ids, n, logits, lo, hi, c->pos + n);
}

/* A batch must share the model, the gating mode, the live heads and the context size. */
static hs_status check_batch(hs_ctx *const *seqs, int B)
{
    const hs_ctx *a = seqs[0];
    if (B > a->max_t) return hs_err(HS_EINPUT, "decode batch of %d sequences exceeds %d rows of scratch", B, a->max_t);
    for (int i = 0; i < B; i++) {
        const hs_ctx *s = seqs[i];
        if (s->m != a->m || s->mode != a->mode || s->max_t != a->max_t)
            return hs_err(HS_EINPUT, "decode batch: sequence %d has another model, gating mode or context size", i);
        if (s->pos + 1 > s->max_t)
            return hs_err(HS_EINPUT, "decode batch: sequence %d is full (%d tokens)", i, s->max_t);
        for (int l = 0; l < a->cfg.n_layer; l++)
            if (memcmp(s->layers[l].slot, a->layers[l].slot, (size_t)a->cfg.n_head * sizeof(int)))
                return hs_err(HS_EINPUT, "decode batch: sequence %d has other live heads in layer %d", i, l);
    }
    return HS_OK;
}

hs_status hs_ctx_forward_batch(hs_ctx *const *seqs, int B, const int32_t *ids, float *logits)
{
    if (B < 1) return hs_err(HS_EINPUT, "decode batch: no sequences");
    hs_status st = check_batch(seqs, B);
    if (!st) st = check_ids(seqs[0], ids, B);
    if (st) return st;
    hs_ctx *lead = seqs[0];
    for (int i = 0; i < B; i++) lead->row_seq[i] = seqs[i], lead->row_pos[i] = seqs[i]->pos;
    rowset R = {lead, B, lead->row_seq, lead->row_pos, 1, B};
    run_rows(&R, ids, logits, 0, B);
    for (int i = 0; i < B; i++) seqs[i]->pos++, seqs[i]->last_n = 0;
    return HS_OK;
}

int hs_ctx_stackable(const hs_ctx *c, int n)
{
    return n >= 1 && !c->stats && hs_k_matmul_same_route(n, 1);
}

/* hs_ctx_forward_stack's checks: stackable rows that fit the lead's scratch and each
 * sequence's context, sequences that could share a decode batch. */
static hs_status check_stack(hs_ctx *const *seqs, int S, const int32_t *const *ids, const int *n, int *rows)
{
    const hs_ctx *a = seqs[0];
    *rows = 0;
    for (int s = 0; s < S; s++) {
        const hs_ctx *c = seqs[s];
        if (!hs_ctx_stackable(c, n[s]))
            return hs_err(HS_EINTERNAL, "stacked prefill: sequence %d (%d tokens) would not give its own call's bits",
                          s, n[s]);
        if (c->m != a->m || c->mode != a->mode || c->max_t != a->max_t)
            return hs_err(HS_EINPUT, "stacked prefill: sequence %d has another model, gating mode or context size", s);
        for (int l = 0; l < a->cfg.n_layer; l++)
            if (memcmp(c->layers[l].slot, a->layers[l].slot, (size_t)a->cfg.n_head * sizeof(int)))
                return hs_err(HS_EINPUT, "stacked prefill: sequence %d has other live heads in layer %d", s, l);
        if (c->pos + n[s] > c->max_t)
            return hs_err(HS_EINPUT, "sequence of %d tokens exceeds the context of %d", c->pos + n[s], c->max_t);
        hs_status st = check_ids(c, ids[s], n[s]);
        if (st) return st;
        *rows += n[s];
    }
    if (*rows > a->max_t)
        return hs_err(HS_EINPUT, "stacked prefill of %d rows exceeds %d rows of scratch", *rows, a->max_t);
    return HS_OK;
}

hs_status hs_ctx_forward_stack(hs_ctx *const *seqs, int S, const int32_t *const *ids, const int *n, float *logits)
{
    if (S < 1) return hs_err(HS_EINPUT, "stacked prefill: no sequences");
    int rows;
    hs_status st = check_stack(seqs, S, ids, n, &rows);
    if (st) return st;
    hs_ctx *lead = seqs[0];
    int C = lead->cfg.n_embd, V = lead->cfg.vocab_size;
    int32_t *all = hs_malloc((size_t)rows * sizeof *all, "stacked prefill");
    if (!all) return HS_ENOMEM;
    for (int s = 0, r = 0; s < S; s++)
        for (int t = 0; t < n[s]; t++, r++) {
            lead->row_seq[r] = seqs[s], lead->row_pos[r] = seqs[s]->pos + t;
            all[r] = ids[s][t];
        }
    /* batch: every product on the row route whatever the row count (mm) */
    rowset R = {lead, rows, lead->row_seq, lead->row_pos, 1, rows};
    run_rows(&R, all, NULL, 0, 0);
    free(all);
    /* the LM head of each sequence's last row, as a decode batch's (one row each) */
    for (int s = 0, r = 0; s < S; s++) {
        r += n[s];
        hs_k_layernorm(lead->xn + (size_t)s * C, lead->x + (size_t)(r - 1) * C, lead->m->lnf_w, lead->m->lnf_b, 1, C,
                       lead->cfg.ln_eps);
    }
    lead->flops += 2.0 * S * V * C;
    hs_k_dot_rows(logits, V, lm_head_w(lead->m), C, lead->xn, C, S, V, C);
    /* each sequence's last final hidden state where hs_ctx_mark looks for it (its own x) */
    for (int s = 0, r = 0; s < S; s++) {
        r += n[s];
        if (s > 0)
            memcpy(seqs[s]->x + (size_t)(n[s] - 1) * C, lead->x + (size_t)(r - 1) * C, (size_t)C * sizeof(float));
        seqs[s]->pos += n[s];
        seqs[s]->last_n = seqs[s]->last_as = n[s]; /* the row route of its own call */
    }
    return HS_OK;
}
