/* nll.c: teacher-forced negative log-likelihood with a sliding window past the context. */
#include <math.h>
#include <stdlib.h>

#include "headsweep/eval.h"

/* -log softmax(logits)[target], in double for long vocabularies. */
static double token_nll(const float *logits, int V, int32_t target)
{
    float mx = logits[0];
    for (int i = 1; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0;
    for (int i = 0; i < V; i++) sum += exp((double)(logits[i] - mx));
    return log(sum) - (double)(logits[target] - mx);
}

/* Scores ids[first .. n) given ids[0 .. first) within one window (n <= context). */
static hs_status window_batched(hs_ctx *ctx, const int32_t *ids, int n, int first, int V,
                                double *sum, int *count)
{
    float *logits = hs_malloc((size_t)n * V * sizeof(float), "logits");
    if (!logits) return HS_ENOMEM;
    hs_ctx_reset(ctx);
    hs_status st = hs_ctx_forward(ctx, ids, n, logits, 1);
    for (int t = first; t < n && !st; t++) {
        *sum += token_nll(logits + (size_t)(t - 1) * V, V, ids[t]);
        (*count)++;
    }
    free(logits);
    return st;
}

/* Same, one token per step with the agency machine updating gates between steps. */
static hs_status window_stepwise(hs_ctx *ctx, hs_agency *ag, hs_head_stats *stats, const int32_t *ids,
                                 int n, int first, int V, double *sum, int *count)
{
    float *logits = hs_malloc((size_t)V * sizeof(float), "logits");
    if (!logits) return HS_ENOMEM;
    hs_ctx_reset(ctx);
    hs_agency_begin(ag, hs_ctx_gates(ctx));
    hs_ctx_scale_gates(ctx, ag->factors);
    hs_status st = hs_ctx_forward(ctx, ids, first, logits, 0);
    if (!st) hs_agency_step(ag, stats, 0);
    for (int t = first; t < n && !st; t++) {
        *sum += token_nll(logits, V, ids[t]);
        (*count)++;
        if (t + 1 == n) break;
        hs_ctx_scale_gates(ctx, ag->factors);
        st = hs_ctx_forward(ctx, ids + t, 1, logits, 0);
        if (!st) hs_agency_step(ag, stats, 1);
    }
    free(logits);
    return st;
}

hs_status hs_eval_nll(hs_ctx *ctx, hs_agency *ag, hs_head_stats *stats, const int32_t *ids, int n,
                      int first, double *nll_sum, int *count)
{
    *nll_sum = 0;
    *count = 0;
    if (first < 1 || first >= n) return hs_err(HS_EINPUT, "perplexity: need at least one context token and one scored token (first %d of %d)", first, n);
    int W = hs_ctx_max_t(ctx), V = hs_ctx_vocab(ctx);
    if (ag && !stats) return hs_err(HS_EINTERNAL, "perplexity with agency needs head statistics");
    /* Windows of W tokens ending at `end`; each scores the tokens not scored before. */
    int scored_to = first, stride = W / 2 > 0 ? W / 2 : 1;
    hs_status st = HS_OK;
    while (scored_to < n && !st) {
        int end = scored_to + (n - scored_to > stride ? stride : n - scored_to);
        if (end - scored_to < W && n <= W) end = n;
        int start = end - W > 0 ? end - W : 0;
        int lo = scored_to - start;
        if (lo < 1) lo = 1;
        st = ag ? window_stepwise(ctx, ag, stats, ids + start, end - start, lo, V, nll_sum, count)
                : window_batched(ctx, ids + start, end - start, lo, V, nll_sum, count);
        scored_to = end;
    }
    return st;
}
