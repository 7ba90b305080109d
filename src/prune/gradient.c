/* gradient.c: the head scores read off the gate gradients (grad.h).
 *
 * For each calibration sequence s (n_s >= 2 tokens) the backward pass gives
 * g_s[h] = dL_s/d(gate_h), L_s the mean NLL of the sequence's n_s - 1 predicted tokens,
 * at the gates being scored (all 1, or the current mask when re-scoring).
 *
 * gradient  Michel, Levy and Neubig (NeurIPS 2019), section 4.1 and their code
 *           (run_prune_gpt / bertology): I_h = sum over sequences of |g_s[h]| (the
 *           absolute value is taken per sequence, each sequence being one batch of one),
 *           then each layer's scores are divided by their L2 norm over the layer's heads
 *           (a layer whose scores are all 0 is left at 0). Their extra global min-max
 *           rescaling does not change the ranking and is not applied.
 * taylor    the first-order Taylor estimate of the ablation score: with L the mean NLL
 *           per token over all calibration tokens (ablation's objective, calib.c),
 *           L(gate_h = 0) - L(gate_h = 1) ~ -dL/d(gate_h) = -sum_s (n_s - 1) g_s[h] /
 *           sum_s (n_s - 1). Signed and not normalised: a head whose removal helps
 *           scores below 0, as in the ablation score.
 * Sequences are walked in order and sums kept in double, so scores do not depend on
 * threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/grad.h"
#include "prune_impl.h"

typedef struct {
    double *abs_sum; /* (L, H) sum over sequences of |g_s| */
    double *tok_sum; /* (L, H) sum over sequences of (n_s - 1) g_s */
    double *g;       /* (L, H) one sequence's gradient */
    long tokens;     /* predicted tokens so far */
} grad_acc;

static void normalise_per_layer(double *score, int L, int H)
{
    for (int l = 0; l < L; l++) {
        double ss = 0;
        for (int h = 0; h < H; h++) ss += score[l * H + h] * score[l * H + h];
        if (ss > 0)
            for (int h = 0; h < H; h++) score[l * H + h] /= sqrt(ss);
    }
}

static hs_status grad_walk(hs_grad_ctx *gc, const float *gates, const hs_token_seq *seqs, int n_seqs,
                           grad_acc *a, size_t LH, double *head_sum)
{
    for (int i = 0; i < n_seqs; i++) {
        if (seqs[i].n < 2) continue;
        double loss = 0;
        hs_status st = hs_prune_poll();
        if (st) return st;
        st = hs_grad_gates(gc, gates, seqs[i].ids, seqs[i].n, &loss, a->g, head_sum);
        if (st) return hs_err_wrap(st, "calibration sequence %d", i + 1);
        for (size_t k = 0; k < LH; k++) {
            a->abs_sum[k] += fabs(a->g[k]);
            a->tok_sum[k] += (double)(seqs[i].n - 1) * a->g[k];
        }
        a->tokens += seqs[i].n - 1;
    }
    return a->tokens ? HS_OK : hs_err(HS_EINPUT, "no calibration sequence has 2 or more tokens");
}

hs_status hs_head_means(const hs_model *m, const hs_token_seq *seqs, int n_seqs, float *means)
{
    int L = m->cfg.n_layer, H = m->cfg.n_head, max_t = 0;
    size_t LH = (size_t)L * H, n = (size_t)m->cfg.n_embd * L;
    long positions = 0;
    for (int i = 0; i < n_seqs; i++)
        if (seqs[i].n > max_t) max_t = seqs[i].n;
    if (max_t < 2) return hs_err(HS_EINPUT, "no calibration sequence has 2 or more tokens");
    double *sum = hs_calloc(n, sizeof *sum, "head means"), *g = hs_malloc(LH * sizeof *g, "gradients");
    float *ones = hs_malloc(LH * sizeof *ones, "gates");
    hs_grad_ctx *gc = NULL;
    hs_status st = sum && g && ones ? hs_grad_init(&gc, m, max_t) : HS_ENOMEM;
    for (size_t k = 0; !st && k < LH; k++) ones[k] = 1.0f;
    for (int i = 0; !st && i < n_seqs; i++) {
        double loss;
        if (seqs[i].n < 2) continue;
        st = hs_prune_poll();
        if (!st) st = hs_grad_gates(gc, ones, seqs[i].ids, seqs[i].n, &loss, g, sum);
        positions += seqs[i].n;
    }
    for (size_t k = 0; !st && k < n; k++) means[k] = (float)(sum[k] / (double)positions);
    hs_grad_free(gc);
    free(sum);
    free(g);
    free(ones);
    return st;
}

hs_status hs_prune_score_gradient(double *score, const hs_model *m, const hs_token_seq *seqs, int n_seqs,
                                  const float *gates, int taylor)
{
    int L = m->cfg.n_layer, H = m->cfg.n_head, max_t = 0;
    size_t LH = (size_t)L * H;
    for (int i = 0; i < n_seqs; i++)
        if (seqs[i].n > max_t) max_t = seqs[i].n;
    if (max_t < 2) return hs_err(HS_EINPUT, "no calibration sequence has 2 or more tokens");
    grad_acc a = {hs_calloc(LH, sizeof(double), "gradient sums"), hs_calloc(LH, sizeof(double), "gradient sums"),
                  hs_calloc(LH, sizeof(double), "gradient sums"), 0};
    hs_grad_ctx *gc = NULL;
    hs_status st = a.abs_sum && a.tok_sum && a.g ? HS_OK : HS_ENOMEM;
    if (!st) st = hs_grad_init(&gc, m, max_t);
    if (!st) st = grad_walk(gc, gates, seqs, n_seqs, &a, LH, NULL);
    for (size_t k = 0; !st && k < LH; k++) score[k] = taylor ? -a.tok_sum[k] / (double)a.tokens : a.abs_sum[k];
    if (!st && !taylor) normalise_per_layer(score, L, H);
    hs_grad_free(gc);
    free(a.abs_sum);
    free(a.tok_sum);
    free(a.g);
    return st;
}
