/* backward.c: dL/d(head gate) by a forward pass that keeps its activations and a
 * backward pass through them (grad.h).
 *
 * This is a second, plain implementation of the GPT-2 forward (cblas products on the
 * checkpoint's F32 Conv1D matrices, no KV cache, no skip mode), written for clarity:
 * it runs only when scores are computed. The backward forms input gradients only; at
 * each attention block it reads off the gate gradients and goes on to the block below,
 * and it stops at layer 0's gates (nothing below them has a gate).
 * Shapes: n tokens of this call; C = n_embd, H heads of D = C / H, F = n_inner,
 * V = vocab. Rows are positions, every matrix row-major. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/grad.h"

typedef struct {
    float *x_in;  /* (T, C) residual stream entering the block */
    float *ln1;   /* (T, C) ln_1(x_in) */
    float *mr1;   /* (T, 2) mean and 1/std of each row of x_in */
    float *qkv;   /* (T, 3C) */
    float *att;   /* (H, T, T) attention probabilities, row t over keys 0 .. t */
    float *z;     /* (T, C) ungated head outputs, head h at columns h*D */
    float *x_mid; /* (T, C) residual stream after the attention sublayer */
    float *ln2;   /* (T, C) */
    float *mr2;   /* (T, 2) */
    float *pre;   /* (T, F) MLP pre-activation */
    float *act;   /* (T, F) gelu_new(pre) */
} layer_acts;

struct hs_grad_ctx {
    const hs_model *m;
    hs_config cfg;
    int max_t, D;
    float *block;       /* every array below points into this one allocation */
    layer_acts *layers; /* (L) */
    float *x_fin;       /* (T, C) stream after the last block */
    float *lnf;         /* (T, C) */
    float *mrf;         /* (T, 2) */
    float *logits;      /* (T, V) logits, then their gradient */
    float *dx;          /* (T, C) gradient of the residual stream */
    float *d1, *d2;     /* (T, C) scratch */
    float *dbig;        /* (T, max(F, 3C)) MLP hidden / qkv gradient */
    float *drow;        /* (T) one attention row's dP */
};

static size_t layer_floats(const hs_config *c, size_t T)
{
    size_t C = (size_t)c->n_embd, F = (size_t)c->n_inner, H = (size_t)c->n_head;
    return T * (8 * C + 2 * F + 4) + H * T * T;
}

/* Points each array of the context into the block (llm.c's malloc_and_point). */
static void point_arrays(hs_grad_ctx *g)
{
    size_t T = (size_t)g->max_t, C = (size_t)g->cfg.n_embd, F = (size_t)g->cfg.n_inner;
    size_t H = (size_t)g->cfg.n_head, V = (size_t)g->cfg.vocab_size;
    float *p = g->block;
#define TAKE(dst, count) (dst = p, p += (count))
    for (int l = 0; l < g->cfg.n_layer; l++) {
        layer_acts *a = &g->layers[l];
        TAKE(a->x_in, T * C), TAKE(a->ln1, T * C), TAKE(a->mr1, 2 * T), TAKE(a->qkv, 3 * T * C);
        TAKE(a->att, H * T * T), TAKE(a->z, T * C), TAKE(a->x_mid, T * C), TAKE(a->ln2, T * C);
        TAKE(a->mr2, 2 * T), TAKE(a->pre, T * F), TAKE(a->act, T * F);
    }
    TAKE(g->x_fin, T * C), TAKE(g->lnf, T * C), TAKE(g->mrf, 2 * T), TAKE(g->logits, T * V);
    TAKE(g->dx, T * C), TAKE(g->d1, T * C), TAKE(g->d2, T * C);
    TAKE(g->dbig, T * (F > 3 * C ? F : 3 * C)), TAKE(g->drow, T);
#undef TAKE
}

hs_status hs_grad_init(hs_grad_ctx **out, const hs_model *m, int max_t)
{
    *out = NULL;
    const hs_config *c = &m->cfg;
    if (max_t < 2 || max_t > c->n_positions)
        return hs_err(HS_EINPUT, "gate gradients: context of %d tokens, the model allows 2 to %d", max_t,
                      c->n_positions);
    size_t T = (size_t)max_t, C = (size_t)c->n_embd, F = (size_t)c->n_inner;
    size_t total = (size_t)c->n_layer * layer_floats(c, T) + T * (3 * C + 2 + (size_t)c->vocab_size) +
                   T * (3 * C + (F > 3 * C ? F : 3 * C) + 1);
    hs_grad_ctx *g = hs_calloc(1, sizeof *g, "gradient context");
    if (!g) return HS_ENOMEM;
    g->m = m;
    g->cfg = *c;
    g->max_t = max_t;
    g->D = c->n_embd / c->n_head;
    g->layers = hs_calloc((size_t)c->n_layer, sizeof *g->layers, "gradient context");
    g->block = hs_malloc(total * sizeof(float), "activations for the backward pass");
    if (!g->layers || !g->block) {
        hs_grad_free(g);
        return HS_ENOMEM;
    }
    point_arrays(g);
    *out = g;
    return HS_OK;
}

void hs_grad_free(hs_grad_ctx *g)
{
    if (!g) return;
    free(g->block);
    free(g->layers);
    free(g);
}

/* ---- forward, keeping activations ---- */

/* y = LayerNorm(x) * w + b per row; mr (n, 2) keeps each row's mean and 1/std. */
static void ln_forward(float *y, float *mr, const float *x, const float *w, const float *b, int n, int C,
                       float eps)
{
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * C;
        double mean = 0, var = 0;
        for (int j = 0; j < C; j++) mean += xi[j];
        mean /= C;
        for (int j = 0; j < C; j++) var += (xi[j] - mean) * (xi[j] - mean);
        double rstd = 1.0 / sqrt(var / C + eps);
        mr[2 * i] = (float)mean, mr[2 * i + 1] = (float)rstd;
        for (int j = 0; j < C; j++) y[(size_t)i * C + j] = (float)((xi[j] - mean) * rstd) * w[j] + b[j];
    }
}

/* y (n, N) = x (n, K) @ W (K, N) + bias. */
static void linear(float *y, const float *x, const float *W, const float *bias, int n, int K, int N)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, N, K, 1.0f, x, K, W, N, 0.0f, y, N);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < N; j++) y[(size_t)i * N + j] += bias[j];
}

static float gelu_new(float x)
{
    const double k = 0.7978845608028654; /* sqrt(2/pi), Hendrycks & Gimpel 2016 */
    return (float)(0.5 * x * (1.0 + tanh(k * (x + 0.044715 * (double)x * x * x))));
}

/* d gelu_new(x) / dx. */
static float gelu_new_grad(float x)
{
    const double k = 0.7978845608028654;
    double u = k * (x + 0.044715 * (double)x * x * x), t = tanh(u);
    return (float)(0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3 * 0.044715 * (double)x * x));
}

/* Causal attention of head h: att rows and z (n, D) at columns h*D. */
static void attn_head_forward(const hs_grad_ctx *g, layer_acts *a, int h, int n)
{
    int C = g->cfg.n_embd, D = g->D;
    double scale = 1.0 / sqrt((double)D);
    for (int t = 0; t < n; t++) {
        const float *q = a->qkv + (size_t)t * 3 * C + h * D;
        float *p = a->att + ((size_t)h * n + t) * n;
        double mx = -INFINITY, sum = 0;
        for (int s = 0; s <= t; s++) {
            const float *k = a->qkv + (size_t)s * 3 * C + C + h * D;
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)q[d] * k[d];
            p[s] = (float)(dot * scale);
            if (p[s] > mx) mx = p[s];
        }
        for (int s = 0; s <= t; s++) sum += (p[s] = (float)exp(p[s] - mx));
        for (int s = 0; s <= t; s++) p[s] = (float)(p[s] / sum);
        for (int s = t + 1; s < n; s++) p[s] = 0.0f;
        float *z = a->z + (size_t)t * C + h * D;
        for (int d = 0; d < D; d++) {
            double acc = 0;
            for (int s = 0; s <= t; s++) acc += (double)p[s] * a->qkv[(size_t)s * 3 * C + 2 * C + h * D + d];
            z[d] = (float)acc;
        }
    }
}

/* One block; the next block's input (or x_fin) is written to x_out. */
static void block_forward(hs_grad_ctx *g, int l, const float *gates, int n, float *x_out)
{
    const hs_block *b = &g->m->blocks[l];
    layer_acts *a = &g->layers[l];
    int C = g->cfg.n_embd, F = g->cfg.n_inner, H = g->cfg.n_head, D = g->D;
    float eps = g->cfg.ln_eps;
    ln_forward(a->ln1, a->mr1, a->x_in, b->ln1_w, b->ln1_b, n, C, eps);
    linear(a->qkv, a->ln1, b->attn_w, b->attn_b, n, C, 3 * C);
    for (int h = 0; h < H; h++) attn_head_forward(g, a, h, n);
    for (int t = 0; t < n; t++) /* d1 = gated z */
        for (int j = 0; j < C; j++) g->d1[(size_t)t * C + j] = a->z[(size_t)t * C + j] * gates[l * H + j / D];
    linear(a->x_mid, g->d1, b->proj_w, b->proj_b, n, C, C);
    for (size_t i = 0; i < (size_t)n * C; i++) a->x_mid[i] += a->x_in[i];
    ln_forward(a->ln2, a->mr2, a->x_mid, b->ln2_w, b->ln2_b, n, C, eps);
    linear(a->pre, a->ln2, b->fc_w, b->fc_b, n, C, F);
    for (size_t i = 0; i < (size_t)n * F; i++) a->act[i] = gelu_new(a->pre[i]);
    linear(x_out, a->act, b->fc_proj_w, b->fc_proj_b, n, F, C);
    for (size_t i = 0; i < (size_t)n * C; i++) x_out[i] += a->x_mid[i];
}

static void forward(hs_grad_ctx *g, const float *gates, const int32_t *ids, int n)
{
    const hs_model *m = g->m;
    int C = g->cfg.n_embd, L = g->cfg.n_layer;
    float *x0 = g->layers[0].x_in;
    for (int t = 0; t < n; t++)
        for (int j = 0; j < C; j++)
            x0[(size_t)t * C + j] = m->wte[(size_t)ids[t] * C + j] + m->wpe[(size_t)t * C + j];
    for (int l = 0; l < L; l++) block_forward(g, l, gates, n, l + 1 < L ? g->layers[l + 1].x_in : g->x_fin);
    ln_forward(g->lnf, g->mrf, g->x_fin, m->lnf_w, m->lnf_b, n, C, g->cfg.ln_eps);
}

/* Logits of rows 0 .. n-2, the mean NLL of their next tokens, and in place their
 * gradient (softmax - one_hot) / (n - 1). */
static double loss_and_dlogits(hs_grad_ctx *g, const int32_t *ids, int n)
{
    int C = g->cfg.n_embd, V = g->cfg.vocab_size, rows = n - 1;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, V, C, 1.0f, g->lnf, C, g->m->lm_head, C, 0.0f,
                g->logits, V);
    double total = 0;
    for (int t = 0; t < rows; t++) {
        float *z = g->logits + (size_t)t * V;
        double mx = -INFINITY, sum = 0;
        for (int v = 0; v < V; v++)
            if (z[v] > mx) mx = z[v];
        for (int v = 0; v < V; v++) sum += exp(z[v] - mx);
        total += log(sum) + mx - z[ids[t + 1]];
        for (int v = 0; v < V; v++) z[v] = (float)(exp(z[v] - mx) / sum / rows);
        z[ids[t + 1]] -= 1.0f / (float)rows;
    }
    return total / rows;
}

/* ---- backward ---- */

/* dx += d LayerNorm(x) given dy, from the kept mean and 1/std:
 * dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = dy w. */
static void ln_backward(float *dx, const float *dy, const float *x, const float *mr, const float *w, int n, int C)
{
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * C, *dyi = dy + (size_t)i * C;
        double mean = mr[2 * i], rstd = mr[2 * i + 1], m1 = 0, m2 = 0;
        for (int j = 0; j < C; j++) {
            double dxh = (double)dyi[j] * w[j];
            m1 += dxh;
            m2 += dxh * (xi[j] - mean) * rstd;
        }
        m1 /= C, m2 /= C;
        for (int j = 0; j < C; j++) {
            double xh = (xi[j] - mean) * rstd, dxh = (double)dyi[j] * w[j];
            dx[(size_t)i * C + j] += (float)(rstd * (dxh - m1 - xh * m2));
        }
    }
}

/* dx (the stream after the block) becomes dL/d x_mid. */
static void mlp_backward(hs_grad_ctx *g, int l, int n)
{
    const hs_block *b = &g->m->blocks[l];
    const layer_acts *a = &g->layers[l];
    int C = g->cfg.n_embd, F = g->cfg.n_inner;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, F, C, 1.0f, g->dx, C, b->fc_proj_w, C, 0.0f, g->dbig, F);
    for (size_t i = 0; i < (size_t)n * F; i++) g->dbig[i] *= gelu_new_grad(a->pre[i]);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, C, F, 1.0f, g->dbig, F, b->fc_w, F, 0.0f, g->d1, C);
    ln_backward(g->dx, g->d1, a->x_mid, a->mr2, b->ln2_w, n, C);
}

/* Given dz (n, D) of head h at columns h*D of d1, adds the head's dq, dk, dv to dqkv
 * (n, 3C): through z_t = sum_s P[t,s] v_s and P = softmax(scale q_t . k_s). */
static void attn_head_backward(hs_grad_ctx *g, const layer_acts *a, int h, int n, float *dqkv)
{
    int C = g->cfg.n_embd, D = g->D;
    double scale = 1.0 / sqrt((double)D);
    float *dp = g->drow;
    for (int t = 0; t < n; t++) {
        const float *p = a->att + ((size_t)h * n + t) * n, *dz = g->d1 + (size_t)t * C + h * D;
        double pdp = 0;
        for (int s = 0; s <= t; s++) {
            const float *v = a->qkv + (size_t)s * 3 * C + 2 * C + h * D;
            float *dv = dqkv + (size_t)s * 3 * C + 2 * C + h * D;
            double acc = 0;
            for (int d = 0; d < D; d++) {
                acc += (double)dz[d] * v[d];
                dv[d] += p[s] * dz[d];
            }
            dp[s] = (float)acc;
            pdp += p[s] * acc;
        }
        const float *q = a->qkv + (size_t)t * 3 * C + h * D;
        float *dq = dqkv + (size_t)t * 3 * C + h * D;
        for (int s = 0; s <= t; s++) {
            float ds = (float)(p[s] * (dp[s] - pdp) * scale);
            const float *k = a->qkv + (size_t)s * 3 * C + C + h * D;
            float *dk = dqkv + (size_t)s * 3 * C + C + h * D;
            for (int d = 0; d < D; d++) {
                dq[d] += ds * k[d];
                dk[d] += ds * q[d];
            }
        }
    }
}

/* dx (dL/d x_mid) gives the gate gradients of layer l; unless l is 0, dx then becomes
 * dL/d x_in through the heads, c_attn and ln_1. */
static void attn_backward(hs_grad_ctx *g, int l, const float *gates, int n, double *dgate)
{
    const hs_block *b = &g->m->blocks[l];
    const layer_acts *a = &g->layers[l];
    int C = g->cfg.n_embd, H = g->cfg.n_head, D = g->D;
    /* d1 (n, C) = dL/d(gated z) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, C, C, 1.0f, g->dx, C, b->proj_w, C, 0.0f, g->d1, C);
    for (int h = 0; h < H; h++) {
        double s = 0;
        for (int t = 0; t < n; t++)
            for (int d = 0; d < D; d++) s += (double)g->d1[(size_t)t * C + h * D + d] * a->z[(size_t)t * C + h * D + d];
        dgate[l * H + h] = s;
    }
    if (l == 0) return;
    for (int t = 0; t < n; t++) /* d1 becomes dL/dz */
        for (int j = 0; j < C; j++) g->d1[(size_t)t * C + j] *= gates[l * H + j / D];
    float *dqkv = g->dbig;
    memset(dqkv, 0, (size_t)n * 3 * C * sizeof(float));
    for (int h = 0; h < H; h++) attn_head_backward(g, a, h, n, dqkv);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, C, 3 * C, 1.0f, dqkv, 3 * C, b->attn_w, 3 * C, 0.0f,
                g->d2, C);
    ln_backward(g->dx, g->d2, a->x_in, a->mr1, b->ln1_w, n, C);
}

static hs_status check_call(const hs_grad_ctx *g, const float *gates, const int32_t *ids, int n)
{
    int LH = g->cfg.n_layer * g->cfg.n_head;
    if (n < 2 || n > g->max_t)
        return hs_err(HS_EINPUT, "gate gradients: sequence of %d tokens, expected 2 to %d", n, g->max_t);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= g->cfg.vocab_size)
            return hs_err(HS_EINPUT, "token id %d at position %d is out of range [0, %d)", ids[i], i,
                          g->cfg.vocab_size);
    for (int i = 0; i < LH; i++)
        if (!(gates[i] >= 0.0f && gates[i] <= 1.0f))
            return hs_err(HS_EINPUT, "gate of head %d.%d is %g, outside [0, 1]", i / g->cfg.n_head,
                          i % g->cfg.n_head, gates[i]);
    return HS_OK;
}

static void add_head_sums(const hs_grad_ctx *g, int n, double *head_sum)
{
    int C = g->cfg.n_embd;
    for (int l = 0; l < g->cfg.n_layer; l++)
        for (int t = 0; t < n; t++)
            for (int j = 0; j < C; j++) head_sum[(size_t)l * C + j] += g->layers[l].z[(size_t)t * C + j];
}

hs_status hs_grad_gates(hs_grad_ctx *g, const float *gates, const int32_t *ids, int n, double *loss,
                        double *dgate, double *head_sum)
{
    hs_status st = check_call(g, gates, ids, n);
    if (st) return st;
    int C = g->cfg.n_embd;
    forward(g, gates, ids, n);
    if (head_sum) add_head_sums(g, n, head_sum);
    *loss = loss_and_dlogits(g, ids, n);
    /* the last position predicts nothing: its row of dL/d lnf is 0 */
    memset(g->d1, 0, (size_t)n * C * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n - 1, C, g->cfg.vocab_size, 1.0f, g->logits,
                g->cfg.vocab_size, g->m->lm_head, C, 0.0f, g->d1, C);
    memset(g->dx, 0, (size_t)n * C * sizeof(float));
    ln_backward(g->dx, g->d1, g->x_fin, g->mrf, g->m->lnf_w, n, C);
    for (int l = g->cfg.n_layer - 1; l >= 0; l--) {
        mlp_backward(g, l, n);
        attn_backward(g, l, gates, n, dgate);
    }
    return HS_OK;
}
