/* calibrate.c: agency thresholds from the distributions of the per-step head statistics on
 * a calibration set (agency.h). With the seed's fixed thresholds (0.85, 0.6) the states
 * almost never fire on a small trained model (issue 18: median per-step utilisation 0.07),
 * so a study could not say what the mechanism does when it acts; thresholds at a
 * percentile of what the heads actually show make it act on a known share of steps.
 * The recovery time comes from the same pass (agency_recovery = calibrated): the mean length
 * of the runs of steps in which a head meets a transition's condition.
 * Limits: every observation of every head is pooled (one threshold and one recovery time for
 * all heads, as the machine has), and the text is read token by token, not generated. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/agency.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double hs_agency_percentile(double *x, size_t n, double p)
{
    qsort(x, n, sizeof *x, cmp_double);
    double h = (double)(n - 1) * p / 100.0;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n) return x[n - 1];
    return x[lo] + (h - (double)lo) * (x[lo + 1] - x[lo]);
}

typedef struct {
    double *util, *cosine; /* (capacity) observations, pooled for the percentiles */
    int64_t n_util, n_cosine;
    float *u_step, *c_step; /* (steps, L, H) the same in order, per sequence, step and head; utilisation
                               NaN at a step whose row spans 1 key: the series the machine's runs come from */
    int64_t n_step;         /* entries filled */
} observations;

/* Steps of 2+ tokens' sequences: upper bounds for the observation arrays. */
static int64_t count_steps(const hs_token_seq *seqs, int n_seqs, int *longest)
{
    int64_t steps = 0;
    *longest = 0;
    for (int i = 0; i < n_seqs; i++)
        if (seqs[i].n >= 2) {
            steps += seqs[i].n;
            if (seqs[i].n > *longest) *longest = seqs[i].n;
        }
    return steps;
}

/* One sequence, token by token; every step's statistics appended to o. */
static hs_status observe_seq(hs_ctx *ctx, const hs_head_stats *st, const hs_token_seq *seq, size_t LH,
                             observations *o)
{
    hs_ctx_reset(ctx);
    for (int t = 0; t < seq->n; t++) {
        hs_status s = hs_ctx_forward(ctx, seq->ids + t, 1, NULL, 0);
        if (s) return s;
        for (size_t i = 0; i < LH; i++) {
            if (st->rows[i] > 0) o->util[o->n_util++] = st->util[i];
            o->cosine[o->n_cosine++] = st->cosine[i];
            o->u_step[o->n_step] = st->rows[i] > 0 ? st->util[i] : NAN;
            o->c_step[o->n_step++] = st->cosine[i];
        }
    }
    return HS_OK;
}

static int (*interrupt_poll)(void);

void hs_agency_set_interrupt(int (*poll)(void)) { interrupt_poll = poll; }

static hs_status observe(const hs_model *m, const hs_token_seq *seqs, int n_seqs, int longest, observations *o)
{
    size_t LH = (size_t)m->cfg.n_layer * m->cfg.n_head;
    float *gates = hs_malloc(LH * sizeof *gates, "agency calibration gates");
    hs_head_stats st;
    hs_ctx *ctx = NULL;
    memset(&st, 0, sizeof st);
    hs_status s = gates ? hs_head_stats_init(&st, m->cfg.n_layer, m->cfg.n_head) : HS_ENOMEM;
    for (size_t i = 0; gates && i < LH; i++) gates[i] = 1.0f;
    if (!s) s = hs_ctx_init(&ctx, m, longest, HS_GATING_MASK);
    if (!s) s = hs_ctx_set_gates(ctx, gates);
    if (!s) s = hs_ctx_collect_stats(ctx, &st);
    for (int i = 0; !s && i < n_seqs; i++) {
        if (interrupt_poll && interrupt_poll())
            s = hs_err(HS_EINTR, "agency calibration: stopped before sequence %d of %d", i + 1, n_seqs);
        else if (seqs[i].n >= 2 && (s = observe_seq(ctx, &st, &seqs[i], LH, o)))
            s = hs_err_wrap(s, "agency calibration: sequence %d", i + 1);
    }
    hs_ctx_free(ctx);
    hs_head_stats_free(&st);
    free(gates);
    return s;
}

/* One head's steps through one sequence (stride LH apart): the machine's own test of each
 * step (agency.c head_step: the EMA of utilisation over its threshold, or the cosine below
 * minus the alignment threshold, in the same float arithmetic), counting the steps that pass
 * and the runs of consecutive such steps. */
static void head_runs(const float *u, const float *c, int n, size_t LH, const hs_agency_calib *k, float alpha,
                      int64_t *exceed, int64_t *runs)
{
    float ema = NAN;
    int prev = 0;
    for (int t = 0; t < n; t++) {
        float obs = u[(size_t)t * LH];
        if (!isnan(obs)) ema = isnan(ema) ? obs : alpha * ema + (1.0f - alpha) * obs;
        int ex = (!isnan(ema) && ema > k->overload_threshold) || c[(size_t)t * LH] < -k->alignment_threshold;
        *exceed += ex;
        *runs += ex && !prev;
        prev = ex;
    }
}

/* agency_recovery = calibrated: recovery_steps = the mean length of the runs in which a head
 * meets a transition's condition, rounded (at least 1, 0 without any run). A state then lasts as long as the
 * condition that caused it does on average, so the expected occupied head-steps (runs x
 * recovery) equal the steps that meet a condition: about 100 - p % of them, where a fixed
 * recovery longer than the generation keeps every head that once fired in its state. */
static void recovery_runs(const observations *o, const hs_token_seq *seqs, int n_seqs, size_t LH, float alpha,
                          hs_agency_calib *k)
{
    int64_t base = 0, exceed = 0, runs = 0;
    for (int q = 0; q < n_seqs; q++) {
        if (seqs[q].n < 2) continue;
        for (size_t i = 0; i < LH; i++)
            head_runs(o->u_step + base + i, o->c_step + base + i, seqs[q].n, LH, k, alpha, &exceed, &runs);
        base += (int64_t)seqs[q].n * (int64_t)LH;
    }
    k->n_head_steps = base;
    k->n_exceed = exceed;
    k->n_runs = runs;
    k->mean_run = runs ? (double)exceed / (double)runs : 0.0;
    k->recovery_steps = runs ? (int)lround(k->mean_run) : 0; /* mean_run >= 1: at least 1 */
}

hs_status hs_agency_calibrate(const hs_model *m, const hs_token_seq *seqs, int n_seqs, double p, float ema_alpha,
                              hs_agency_calib *out)
{
    memset(out, 0, sizeof *out);
    if (!(p > 0 && p < 100)) return hs_err(HS_EINPUT, "agency calibration: percentile %g not in (0, 100)", p);
    int longest;
    int64_t steps = count_steps(seqs, n_seqs, &longest);
    if (steps == 0) return hs_err(HS_EINPUT, "agency calibration: no sequence of 2 or more tokens");
    if (longest > m->cfg.n_positions)
        return hs_err(HS_EINPUT, "agency calibration: a sequence of %d tokens exceeds the context of %d", longest,
                      m->cfg.n_positions);
    size_t cap = (size_t)steps * m->cfg.n_layer * m->cfg.n_head;
    observations o = {hs_malloc(cap * sizeof(double), "agency observations"),
                      hs_malloc(cap * sizeof(double), "agency observations"), 0, 0,
                      hs_malloc(cap * sizeof(float), "agency observations"),
                      hs_malloc(cap * sizeof(float), "agency observations"), 0};
    hs_status s = o.util && o.cosine && o.u_step && o.c_step ? observe(m, seqs, n_seqs, longest, &o) : HS_ENOMEM;
    if (!s && o.n_util == 0) s = hs_err(HS_EINPUT, "agency calibration: no attention row over 2 or more keys");
    if (!s) {
        out->percentile = p;
        out->overload_threshold = (float)hs_agency_percentile(o.util, (size_t)o.n_util, p);
        out->alignment_threshold = (float)-hs_agency_percentile(o.cosine, (size_t)o.n_cosine, 100.0 - p);
        out->n_util = o.n_util;
        out->n_cosine = o.n_cosine;
        recovery_runs(&o, seqs, n_seqs, (size_t)m->cfg.n_layer * m->cfg.n_head, ema_alpha, out);
    }
    free(o.util);
    free(o.cosine);
    free(o.u_step);
    free(o.c_step);
    return s;
}
