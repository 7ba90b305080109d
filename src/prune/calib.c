/* calib.c: the head scores that run the model over calibration sequences.
 *
 * entropy   For every sequence one prefill in a mask-mode context with all gates 1 and
 *           head statistics on. Each call reports, per head, the mean over its query rows
 *           (rows over 2+ keys) of the utilisation 1 - H_row / ln T_row and the number of
 *           rows; the score is the row-weighted mean over all sequences. Heads that spread
 *           attention evenly (H = ln T, utilisation 0) score lowest. These are entropies
 *           of attention rows measured on text, never the gate values (the study's
 *           original code ranked "entropy" by gates, which are all 1 before pruning).
 * ablation  Mean teacher-forced NLL per token over the sequences (every token after the
 *           first), with one head switched off, minus the same with none off: the
 *           leave-one-out form of the head importance of Michel, Levy and Neubig,
 *           "Are Sixteen Heads Really Better than One?" (NeurIPS 2019). L*H + 1 passes.
 * Both run under the given gates (all 1 at first; the current mask when iterative pruning
 * re-scores): ablation then switches off one more head at a time, and a head already
 * off scores 0.
 * Both walk the sequences in order in one context, so results do not depend on threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/eval.h"
#include "prune_impl.h"

static int longest_seq(const hs_token_seq *seqs, int n)
{
    int t = 0;
    for (int i = 0; i < n; i++)
        if (seqs[i].n > t) t = seqs[i].n;
    return t;
}

static hs_status check_seqs(const hs_model *m, const hs_token_seq *seqs, int n)
{
    int t = longest_seq(seqs, n);
    if (t < 2) return hs_err(HS_EINPUT, "no calibration sequence has 2 or more tokens");
    if (t > m->cfg.n_positions)
        return hs_err(HS_EINPUT, "calibration sequence of %d tokens exceeds the context of %d",
                      t, m->cfg.n_positions);
    return HS_OK;
}

typedef struct {
    hs_head_stats st;
    double *util_sum; /* (L, H) sum over rows of 1 - H/ln T */
    long *rows;       /* (L, H) */
} entropy_acc;

static void entropy_acc_free(entropy_acc *a)
{
    free(a->st.util);
    free(a->st.entropy);
    free(a->st.rows);
    free(a->st.cosine);
    free(a->util_sum);
    free(a->rows);
}

static hs_status entropy_acc_init(entropy_acc *a, size_t LH)
{
    memset(a, 0, sizeof *a);
    a->st.util = hs_calloc(LH, sizeof(float), "head statistics");
    a->st.entropy = hs_calloc(LH, sizeof(float), "head statistics");
    a->st.rows = hs_calloc(LH, sizeof(int), "head statistics");
    a->st.cosine = hs_calloc(LH, sizeof(float), "head statistics");
    a->util_sum = hs_calloc(LH, sizeof(double), "entropy sums");
    a->rows = hs_calloc(LH, sizeof(long), "entropy sums");
    if (a->st.util && a->st.entropy && a->st.rows && a->st.cosine && a->util_sum && a->rows)
        return HS_OK;
    entropy_acc_free(a);
    return HS_ENOMEM;
}

/* One prefill of seq; adds each head's rows x (mean utilisation of the call). */
static hs_status entropy_one(hs_ctx *ctx, entropy_acc *a, const hs_token_seq *seq, size_t LH)
{
    hs_ctx_reset(ctx);
    hs_status st = hs_ctx_forward(ctx, seq->ids, seq->n, NULL, 0);
    if (st) return st;
    for (size_t i = 0; i < LH; i++) {
        a->util_sum[i] += (double)a->st.util[i] * a->st.rows[i];
        a->rows[i] += a->st.rows[i];
    }
    return HS_OK;
}

hs_status hs_prune_score_entropy(double *score, const hs_model *m, const hs_token_seq *seqs,
                                 int n_seqs, const float *gates)
{
    hs_status st = check_seqs(m, seqs, n_seqs);
    if (st) return st;
    size_t LH = (size_t)m->cfg.n_layer * m->cfg.n_head;
    entropy_acc a;
    if ((st = entropy_acc_init(&a, LH))) return st;
    hs_ctx *ctx = NULL;
    st = hs_ctx_init(&ctx, m, longest_seq(seqs, n_seqs), HS_GATING_MASK);
    if (!st) st = hs_ctx_set_gates(ctx, gates);
    if (!st) st = hs_ctx_collect_stats(ctx, &a.st);
    for (int i = 0; !st && i < n_seqs; i++)
        if (seqs[i].n >= 2) {
            st = hs_prune_poll();
            if (!st) st = entropy_one(ctx, &a, &seqs[i], LH);
            if (st) hs_err_wrap(st, "calibration sequence %d", i + 1);
        }
    for (size_t i = 0; !st && i < LH; i++) {
        /* every head of a mask-mode context sees the same rows; guard anyway */
        if (a.rows[i] == 0) st = hs_err(HS_EINTERNAL, "entropy: head %zu saw no attention rows", i);
        else score[i] = a.util_sum[i] / (double)a.rows[i];
    }
    hs_ctx_free(ctx);
    entropy_acc_free(&a);
    return st;
}

/* Mean NLL per predicted token over all sequences under the context's current gates. */
static hs_status mean_nll(hs_ctx *ctx, const hs_token_seq *seqs, int n_seqs, double *out)
{
    double total = 0;
    long count = 0;
    for (int i = 0; i < n_seqs; i++) {
        if (seqs[i].n < 2) continue;
        double s = 0;
        int c = 0;
        hs_status stop = hs_prune_poll(); /* ablation: L*H + 1 passes over the set */
        if (stop) return stop;
        hs_ctx_reset(ctx);
        hs_status st = hs_eval_nll(ctx, NULL, NULL, seqs[i].ids, seqs[i].n, 1, &s, &c);
        if (st) return hs_err_wrap(st, "calibration sequence %d", i + 1);
        total += s;
        count += c;
    }
    if (count == 0) return hs_err(HS_EINPUT, "no calibration tokens to score");
    *out = total / (double)count;
    return HS_OK;
}

static hs_status ablation_run(hs_ctx *ctx, float *gates, size_t LH, double *score,
                              const hs_token_seq *seqs, int n_seqs)
{
    double base = 0, off = 0;
    hs_status st = hs_ctx_set_gates(ctx, gates);
    if (!st) st = mean_nll(ctx, seqs, n_seqs, &base);
    for (size_t i = 0; !st && i < LH; i++) {
        float keep = gates[i];
        if (keep == 0.0f) { /* already off: switching it off again changes nothing */
            score[i] = 0.0;
            continue;
        }
        gates[i] = 0.0f;
        st = hs_ctx_set_gates(ctx, gates);
        if (!st) st = mean_nll(ctx, seqs, n_seqs, &off);
        gates[i] = keep;
        if (!st) score[i] = off - base;
    }
    return st;
}

hs_status hs_prune_score_ablation(double *score, const hs_model *m, const hs_token_seq *seqs,
                                  int n_seqs, const float *base_gates)
{
    hs_status st = check_seqs(m, seqs, n_seqs);
    if (st) return st;
    size_t LH = (size_t)m->cfg.n_layer * m->cfg.n_head;
    float *gates = hs_malloc(LH * sizeof *gates, "gates");
    if (!gates) return HS_ENOMEM;
    memcpy(gates, base_gates, LH * sizeof *gates);
    hs_ctx *ctx = NULL;
    st = hs_ctx_init(&ctx, m, longest_seq(seqs, n_seqs), HS_GATING_MASK);
    if (!st) st = ablation_run(ctx, gates, LH, score, seqs, n_seqs);
    hs_ctx_free(ctx);
    free(gates);
    return st;
}
