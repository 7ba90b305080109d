/* runner.c: evaluates prompts for one (variant, level): the timed generation, then the
 * quality metrics, then resource use. Timing covers the generation only; the scoring
 * passes that follow do not disturb it. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "headsweep/eval.h"

struct hs_runner {
    hs_runner_config cfg;
    hs_ctx *ctx;          /* the variant: its gating mode and gates */
    hs_ctx *unpruned;     /* mask mode, all gates 1: for generated_perplexity_unpruned */
    hs_agency ag;
    int has_agency;
    hs_head_stats stats;  /* (L, H) arrays, used when agency is on */
    hs_sampler smp;
    hs_generation gen;
    int32_t *seq;         /* (max_t) prompt + continuation ids */
    int live_heads;
};

static hs_status runner_setup(hs_runner *r)
{
    const hs_runner_config *c = &r->cfg;
    int L = c->model->cfg.n_layer, H = c->model->cfg.n_head;
    hs_status st = hs_ctx_init(&r->ctx, c->model, c->max_t, c->mode);
    if (!st) st = hs_ctx_set_gates(r->ctx, c->gates);
    if (!st && c->measure_unpruned_ppl) st = hs_ctx_init(&r->unpruned, c->model, c->max_t, HS_GATING_MASK);
    if (!st) st = hs_sampler_init(&r->smp, c->model->cfg.vocab_size);
    if (!st && !(r->gen.ids = hs_malloc((size_t)c->sample.max_new * sizeof(int32_t), "generation"))) st = HS_ENOMEM;
    if (!st && !(r->seq = hs_malloc((size_t)c->max_t * sizeof(int32_t), "sequence"))) st = HS_ENOMEM;
    if (!st && c->agency_on) {
        st = hs_agency_init(&r->ag, L, H, &c->agency);
        r->has_agency = !st;
        if (!st) st = hs_head_stats_init(&r->stats, L, H);
        if (!st) st = hs_ctx_collect_stats(r->ctx, &r->stats);
    }
    for (int i = 0; i < L * H; i++) r->live_heads += c->gates[i] != 0.0f;
    return st;
}

hs_status hs_runner_init(hs_runner **out, const hs_runner_config *cfg)
{
    *out = NULL;
    hs_status st = hs_sample_params_check(&cfg->sample);
    if (st) return st;
    hs_runner *r = hs_calloc(1, sizeof *r, "runner");
    if (!r) return HS_ENOMEM;
    r->cfg = *cfg;
    st = runner_setup(r);
    if (st) {
        hs_runner_free(r);
        return st;
    }
    *out = r;
    return HS_OK;
}

void hs_runner_free(hs_runner *r)
{
    if (!r) return;
    hs_ctx_free(r->ctx);
    hs_ctx_free(r->unpruned);
    if (r->has_agency) hs_agency_free(&r->ag);
    hs_head_stats_free(&r->stats);
    hs_sampler_free(&r->smp);
    free(r->gen.ids);
    free(r->seq);
    free(r);
}

/* Resets the kernel's peak-RSS watermark so VmHWM measures this prompt alone
 * (Linux >= 4.0: writing 5 to clear_refs). Best effort: without it the peak is the
 * process's so far, which is still an upper bound. */
static void reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd < 0) return;
    if (write(fd, "5", 1) != 1) { /* ignore: measurement degrades to process peak */ }
    close(fd);
}

/* exp(mean NLL) of seq[first .. n) under ctx (with agency when ag is given). */
static hs_status perplexity(hs_runner *r, hs_ctx *ctx, hs_agency *ag, int n, int first, double *ppl)
{
    double sum;
    int count;
    *ppl = NAN;
    hs_status st = hs_eval_nll(ctx, ag, ag ? &r->stats : NULL, r->seq, n, first, &sum, &count);
    if (!st && count > 0) *ppl = exp(sum / count);
    return st;
}

static hs_status encode(hs_runner *r, const char *text, int32_t **ids, size_t *n)
{
    return hs_tokenizer_encode(r->cfg.tok, text, strlen(text), 0, ids, n);
}

static void record_generation(hs_runner *r, double *m, int n_prompt)
{
    hs_generation *g = &r->gen;
    int steps = g->n + g->hit_eot - 1; /* samples after the first one */
    m[HS_M_GENERATED_TOKENS] = g->n;
    m[HS_M_HIT_EOT] = g->hit_eot;
    m[HS_M_PREFILL_S] = g->prefill_s;
    m[HS_M_TTFT_S] = g->ttft_s;
    m[HS_M_DECODE_S] = g->decode_s;
    m[HS_M_GENERATION_S] = g->total_s;
    m[HS_M_DECODE_TOKENS_PER_S] = steps > 0 && g->decode_s > 0 ? steps / g->decode_s : NAN;
    int computed = r->cfg.mode == HS_GATING_MASK ? r->cfg.model->cfg.n_layer * r->cfg.model->cfg.n_head : r->live_heads;
    m[HS_M_LIVE_HEADS] = r->live_heads;
    m[HS_M_FLOPS_PER_TOKEN] = hs_model_flops_per_token(&r->cfg.model->cfg, computed, n_prompt + g->n / 2);
    hs_lexical lx;
    hs_lexical_ids(g->ids, g->n, &lx);
    m[HS_M_DISTINCT_1] = lx.distinct1;
    m[HS_M_DISTINCT_2] = lx.distinct2;
    m[HS_M_REPETITION] = lx.repetition;
}

static hs_status generated_ttr(hs_runner *r, double *m)
{
    char *text;
    size_t len;
    hs_status st = hs_tokenizer_decode(r->cfg.tok, r->gen.ids, (size_t)r->gen.n, &text, &len);
    if (st) return st;
    m[HS_M_TYPE_TOKEN_RATIO] = hs_lexical_ttr(text, len);
    free(text);
    return HS_OK;
}

/* Teacher-forced perplexity of the reference continuation under the variant. */
static hs_status reference_ppl(hs_runner *r, const hs_prompt *p, const int32_t *pids, int np, double *m)
{
    if (!p->reference || !p->reference[0]) return HS_OK;
    int32_t *rids;
    size_t nr;
    hs_status st = encode(r, p->reference, &rids, &nr);
    if (st) return st;
    m[HS_M_REFERENCE_TOKENS] = (double)nr;
    int n = np + (int)nr;
    if (nr > 0 && n <= r->cfg.max_t) {
        memcpy(r->seq, pids, (size_t)np * sizeof(int32_t));
        memcpy(r->seq + np, rids, nr * sizeof(int32_t));
        st = perplexity(r, r->ctx, r->has_agency ? &r->ag : NULL, n, np, &m[HS_M_REFERENCE_PPL]);
    } else if (nr > 0) {
        st = hs_err(HS_EINPUT, "prompt %s (line %d): prompt + reference are %d tokens, over the context of %d", p->id, p->line, n, r->cfg.max_t);
    }
    free(rids);
    return st;
}

static hs_status unpruned_ppl(hs_runner *r, const int32_t *pids, int np, double *m)
{
    if (!r->unpruned || r->gen.n == 0) return HS_OK;
    memcpy(r->seq, pids, (size_t)np * sizeof(int32_t));
    memcpy(r->seq + np, r->gen.ids, (size_t)r->gen.n * sizeof(int32_t));
    return perplexity(r, r->unpruned, NULL, np + r->gen.n, np, &m[HS_M_GENERATED_PPL_UNPRUNED]);
}

static hs_status eval_prompt(hs_runner *r, const hs_prompt *p, double *m, int64_t *occupancy)
{
    int32_t *pids;
    size_t np;
    hs_status st = encode(r, p->prompt, &pids, &np);
    if (st) return hs_err_wrap(st, "prompt %s (line %d)", p->id, p->line);
    m[HS_M_PROMPT_TOKENS] = (double)np;
    hs_agency *ag = r->has_agency ? &r->ag : NULL;
    st = hs_generate(r->ctx, ag, ag ? &r->stats : NULL, &r->smp, pids, (int)np, &r->cfg.sample, p->id,
                     hs_tokenizer_eot(r->cfg.tok), &r->gen);
    if (!st) {
        record_generation(r, m, (int)np);
        size_t LHS = (size_t)r->cfg.model->cfg.n_layer * r->cfg.model->cfg.n_head * HS_AG_NSTATES;
        if (occupancy && ag) memcpy(occupancy, ag->occupancy, LHS * sizeof(int64_t));
        else if (occupancy) memset(occupancy, 0, LHS * sizeof(int64_t));
    }
    if (!st) st = generated_ttr(r, m);
    if (!st) st = reference_ppl(r, p, pids, (int)np, m);
    if (!st) st = unpruned_ppl(r, pids, (int)np, m);
    free(pids);
    return st;
}

hs_status hs_runner_eval(hs_runner *r, const hs_prompt *p, double *metrics, int32_t *gen_ids, int64_t *occupancy)
{
    for (int i = 0; i < HS_M_COUNT; i++) metrics[i] = NAN;
    reset_peak_rss();
    double u0, s0, u1, s1;
    hs_cpu_times(&u0, &s0);
    hs_status st = eval_prompt(r, p, metrics, occupancy);
    if (st) return st;
    hs_cpu_times(&u1, &s1);
    metrics[HS_M_CPU_USER_S] = u1 - u0;
    metrics[HS_M_CPU_SYSTEM_S] = s1 - s0;
    metrics[HS_M_PEAK_RSS] = (double)hs_peak_rss_bytes();
    if (gen_ids) {
        for (int i = 0; i < r->cfg.sample.max_new; i++) gen_ids[i] = i < r->gen.n ? r->gen.ids[i] : -1;
    }
    return HS_OK;
}
