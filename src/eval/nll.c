/* nll.c: teacher-forced negative log-likelihood with a sliding window past the context,
 * from scratch or from a prompt's prefill that a generation kept (hs_eval_nll_fork). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/eval.h"

/* -log softmax(logits)[target], in double for long vocabularies. */
static double token_nll(const float *logits, int V, int32_t target)
{
    float mx = hs_model_max(logits, V); /* 8 at a time, exact in any order */
    /* 8 exps at a time: a scalar libm exp per logit took 3-4% of a throughput-mode run
     * on the gpt2 shape (docs/performance.md) */
    double sum = hs_model_sum_exp(logits, V, mx);
    return log(sum) - (double)(logits[target] - mx);
}

/* Scores ids[first .. n) given ids[0 .. first) within one window (n <= context): one
 * prefill, logits of the positions first-1 .. n-2 only (those that predict a scored
 * token; the context's own positions need no LM head). */
static hs_status window_batched(hs_ctx *ctx, const int32_t *ids, int n, int first, int V,
                                double *sum, int *count)
{
    float *logits = hs_malloc((size_t)(n - first) * V * sizeof(float), "logits");
    if (!logits) return HS_ENOMEM;
    hs_ctx_reset(ctx);
    hs_status st = hs_ctx_forward_rows(ctx, ids, n, logits, first - 1, n - 1);
    for (int t = first; t < n && !st; t++) {
        *sum += token_nll(logits + (size_t)(t - first) * V, V, ids[t]);
        (*count)++;
    }
    free(logits);
    return st;
}

/* Scores ids[first .. n) one token per step from the logits (V) of position first - 1,
 * the agency machine updating gates between steps. */
static hs_status stepwise_from(hs_ctx *ctx, hs_agency *ag, hs_head_stats *stats, const int32_t *ids, int n,
                               int first, int V, float *logits, double *sum, int *count)
{
    hs_status st = HS_OK;
    for (int t = first; t < n && !st; t++) {
        *sum += token_nll(logits, V, ids[t]);
        (*count)++;
        if (t + 1 == n) break;
        hs_ctx_scale_gates(ctx, ag->factors);
        st = hs_ctx_forward(ctx, ids + t, 1, logits, 0);
        if (!st) hs_agency_step(ag, stats, 1);
    }
    return st;
}

/* Same as window_batched, one token per step with the agency machine updating gates
 * between steps. */
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
    if (!st) st = stepwise_from(ctx, ag, stats, ids, n, first, V, logits, sum, count);
    free(logits);
    return st;
}

hs_status hs_eval_nll(hs_ctx *ctx, hs_agency *ag, hs_head_stats *stats, const int32_t *ids, int n,
                      int first, double *nll_sum, int *count)
{
    *nll_sum = 0;
    *count = 0;
    if (first < 1 || first >= n)
        return hs_err(HS_EINPUT, "perplexity: need at least one context token and one scored token (first %d of %d)",
                      first, n);
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

/* ---- from a kept prefill (issue 22) ---- */

int hs_eval_nll_forkable(const hs_ctx *ctx, int agency, int first, int n)
{
    if (first < 1 || first >= n || n > hs_ctx_max_t(ctx)) return 0; /* one window, from position 0 */
    return agency || hs_ctx_prefix_exact(ctx, first, n);
}

int hs_eval_prefill_rows(const hs_ctx *ctx, int agency, int first, int n)
{
    if (agency || first < 1 || first >= n || n > hs_ctx_max_t(ctx)) return first;
    return hs_ctx_prefix_route(ctx, first, n);
}

/* Without agency: the continuation in one call after the prompt, its products routed as
 * window_batched's one call of n rows, logits from the prompt's last position on. */
static hs_status fork_batched(hs_ctx *ctx, const int32_t *ids, int n, int first, int V, double *sum, int *count)
{
    float *logits = hs_malloc((size_t)(n - first) * V * sizeof(float), "logits");
    if (!logits) return HS_ENOMEM;
    hs_status st = hs_ctx_forward_cont(ctx, ids + first, n - first, logits, -1, n - first - 1);
    for (int t = first; t < n && !st; t++) {
        *sum += token_nll(logits + (size_t)(t - first) * V, V, ids[t]);
        (*count)++;
    }
    free(logits);
    return st;
}

/* With agency: window_stepwise after its prefill step, from the kept state and logits. */
static hs_status fork_stepwise(hs_ctx *ctx, hs_agency *ag, hs_head_stats *stats, const hs_prefill_fork *f,
                               const int32_t *ids, int n, int first, int V, double *sum, int *count)
{
    float *logits = hs_malloc((size_t)V * sizeof(float), "logits");
    if (!logits) return HS_ENOMEM;
    memcpy(logits, f->logits, (size_t)V * sizeof(float));
    hs_agency_copy(ag, &f->ag);
    hs_status st = stepwise_from(ctx, ag, stats, ids, n, first, V, logits, sum, count);
    free(logits);
    return st;
}

hs_status hs_eval_nll_fork(hs_ctx *ctx, hs_agency *ag, hs_head_stats *stats, const hs_prefill_fork *f,
                           const int32_t *ids, int n, int first, double *nll_sum, int *count)
{
    *nll_sum = 0;
    *count = 0;
    if (f->n_prompt != first || !hs_eval_nll_forkable(ctx, ag != NULL, first, n) || (ag && (!f->has_ag || !stats)))
        return hs_err(HS_EINTERNAL, "perplexity from a kept prefill of %d tokens: cannot score %d .. %d that way",
                      f->n_prompt, first, n - 1);
    hs_status st = hs_ctx_rewind(ctx);
    if (st) return st;
    if (hs_ctx_pos(ctx) != first)
        return hs_err(HS_EINTERNAL, "perplexity from a kept prefill: the context's mark is at %d, not %d",
                      hs_ctx_pos(ctx), first);
    int V = hs_ctx_vocab(ctx);
    return ag ? fork_stepwise(ctx, ag, stats, f, ids, n, first, V, nll_sum, count)
              : fork_batched(ctx, ids, n, first, V, nll_sum, count);
}

/* ---- many sequences at once (hs_eval_nll_batch) ---- */

typedef struct {
    int seq;      /* index into the job, -1 when the slot is free */
    int t;        /* position whose token the slot's current logits score */
} nll_slot;

/* Scores the slot's current position from its logits; returns 1 when the sequence is done. */
static int nll_score(const hs_nll_batch_job *job, nll_slot *s, const float *logits, int V)
{
    job->nll_sum[s->seq] += token_nll(logits, V, job->ids[s->seq][s->t]);
    job->nll_count[s->seq]++;
    return ++s->t == job->n[s->seq];
}

/* Starts sequence i in slot k: prefill of its context (as window_stepwise), first score. */
static hs_status nll_start(const hs_nll_batch_job *job, int k, int i, nll_slot *s, float *logits, int V)
{
    hs_ctx *c = job->ctx[k];
    hs_agency *ag = &job->agency[k];
    hs_ctx_reset(c);
    hs_agency_begin(ag, hs_ctx_gates(c));
    hs_ctx_scale_gates(c, ag->factors);
    hs_status st = hs_ctx_forward(c, job->ids[i], job->first[i], logits, 0);
    if (st) return st;
    hs_agency_step(ag, &job->stats[k], 0);
    *s = (nll_slot){i, job->first[i]};
    if (nll_score(job, s, logits, V)) s->seq = -1;
    return HS_OK;
}

/* Sequences that need the sliding window (or run without agency) go alone. */
static int nll_alone(const hs_nll_batch_job *job, int i, int W)
{
    return !job->agency || job->n[i] > W;
}

static hs_status nll_refill(const hs_nll_batch_job *job, nll_slot *slots, int *next, float *logits, int V,
                            int *active)
{
    int W = hs_ctx_max_t(job->ctx[0]);
    *active = 0;
    for (int k = 0; k < job->slots; k++) {
        while (slots[k].seq < 0 && *next < job->count) {
            int i = (*next)++;
            if (job->first[i] < 1 || job->first[i] >= job->n[i])
                return hs_err(HS_EINPUT, "perplexity: need at least one context token and one scored token "
                                         "(first %d of %d)", job->first[i], job->n[i]);
            if (nll_alone(job, i, W)) continue;
            hs_status st = nll_start(job, k, i, &slots[k], logits, V);
            if (st) return st;
        }
        *active += slots[k].seq >= 0;
    }
    return HS_OK;
}

/* One teacher-forced decode step of every active slot: feeds the token before the one
 * each slot scores next. */
static hs_status nll_step(const hs_nll_batch_job *job, nll_slot *slots, float *logits, int V, hs_ctx **act,
                          int32_t *tok, int *map)
{
    int B = 0;
    for (int k = 0; k < job->slots; k++) {
        if (slots[k].seq < 0) continue;
        hs_ctx_scale_gates(job->ctx[k], job->agency[k].factors);
        act[B] = job->ctx[k], tok[B] = job->ids[slots[k].seq][slots[k].t - 1], map[B++] = k;
    }
    hs_status st = hs_ctx_forward_batch(act, B, tok, logits);
    for (int b = 0; b < B && !st; b++) {
        int k = map[b];
        hs_agency_step(&job->agency[k], &job->stats[k], 1);
        if (nll_score(job, &slots[k], logits + (size_t)b * V, V)) slots[k].seq = -1;
    }
    return st;
}

static hs_status nll_batched(const hs_nll_batch_job *job)
{
    int V = hs_ctx_vocab(job->ctx[0]), S = job->slots;
    nll_slot *slots = hs_malloc((size_t)S * sizeof *slots, "perplexity slots");
    float *logits = hs_malloc((size_t)S * V * sizeof(float), "perplexity logits");
    hs_ctx **act = hs_malloc((size_t)S * sizeof *act, "perplexity batch");
    int32_t *tok = hs_malloc((size_t)S * sizeof *tok, "perplexity batch");
    int *map = hs_malloc((size_t)S * sizeof *map, "perplexity batch");
    hs_status st = (slots && logits && act && tok && map) ? HS_OK : HS_ENOMEM;
    for (int k = 0; k < S && !st; k++) slots[k].seq = -1;
    int next = 0, active = 0;
    if (!st) st = nll_refill(job, slots, &next, logits, V, &active);
    while (!st && active > 0) {
        st = nll_step(job, slots, logits, V, act, tok, map);
        if (!st) st = nll_refill(job, slots, &next, logits, V, &active);
    }
    free(slots);
    free(logits);
    free(act);
    free(tok);
    free(map);
    return st;
}

hs_status hs_eval_nll_batch(const hs_nll_batch_job *job)
{
    if (job->slots < 1 || (job->agency && !job->stats))
        return hs_err(HS_EINTERNAL, "batched perplexity: %s",
                      job->slots < 1 ? "no slots" : "agency needs head statistics");
    for (int i = 0; i < job->count; i++) job->nll_sum[i] = 0, job->nll_count[i] = 0;
    hs_status st = job->agency ? nll_batched(job) : HS_OK;
    int W = hs_ctx_max_t(job->ctx[0]);
    for (int i = 0; i < job->count && !st; i++) {
        if (!nll_alone(job, i, W)) continue;
        hs_agency *ag = job->agency ? &job->agency[0] : NULL;
        st = hs_eval_nll(job->ctx[0], ag, ag ? &job->stats[0] : NULL, job->ids[i], job->n[i], job->first[i],
                         &job->nll_sum[i], &job->nll_count[i]);
    }
    return st;
}
