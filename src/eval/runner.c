/* runner.c: evaluates prompts for one (variant, level): the timed generation, then the
 * quality metrics, then resource use. Timing covers the generation only; the scoring
 * passes that follow do not disturb it. Time, CPU and peak-RSS growth are recorded per
 * phase: prefill, decode (both in hs_generate) and scoring. The reference is scored from
 * the generation's prefill of the prompt wherever that gives the same bits (issue 22,
 * hs_eval_nll_forkable), so the prompt runs through the variant once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    int share;            /* score references from the generation's prefill (HS_SHARE_PREFILL) */
    long shared;          /* prompts scored so */
    hs_prefill_fork fork; /* the single path's kept prefill */
    /* throughput mode (hs_runner_eval_batch), made on first use */
    int slots;            /* contexts below */
    hs_ctx **bctx;        /* (slots) the variant's gating and gates, like ctx */
    hs_agency *bag;       /* (slots) with agency, else NULL */
    hs_head_stats *bstats;/* (slots) with agency, else NULL */
};

static hs_status runner_setup(hs_runner *r)
{
    const hs_runner_config *c = &r->cfg;
    int L = c->model->cfg.n_layer, H = c->model->cfg.n_head;
    hs_status st = hs_ctx_init(&r->ctx, c->model, c->max_t, c->mode);
    if (!st) st = hs_ctx_set_head_means(r->ctx, c->head_means);
    if (!st) st = hs_ctx_set_gates(r->ctx, c->gates);
    if (!st && c->measure_unpruned_ppl) st = hs_ctx_init(&r->unpruned, c->model, c->max_t, HS_GATING_MASK);
    if (!st) st = hs_sampler_init(&r->smp, hs_sample_vocab(c->model, c->tok));
    if (!st && !(r->gen.ids = hs_malloc((size_t)c->sample.max_new * sizeof(int32_t), "generation"))) st = HS_ENOMEM;
    if (!st && !(r->seq = hs_malloc((size_t)c->max_t * sizeof(int32_t), "sequence"))) st = HS_ENOMEM;
    if (!st && c->agency_on) {
        st = hs_agency_init(&r->ag, L, H, &c->agency);
        r->has_agency = !st;
        if (!st) st = hs_head_stats_init(&r->stats, L, H);
        if (!st) st = hs_ctx_collect_stats(r->ctx, &r->stats);
    }
    if (!st) st = hs_prefill_fork_init(&r->fork, c->model->cfg.vocab_size, r->has_agency ? &r->ag : NULL);
    for (int i = 0; i < L * H; i++) r->live_heads += c->gates[i] != 0.0f;
    const char *share = getenv("HS_SHARE_PREFILL");
    r->share = !(share && !strcmp(share, "0"));
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

static void batch_free(hs_runner *r)
{
    for (int k = 0; k < r->slots; k++) {
        if (r->bctx) hs_ctx_free(r->bctx[k]);
        if (r->bag) hs_agency_free(&r->bag[k]);
        if (r->bstats) hs_head_stats_free(&r->bstats[k]);
    }
    free(r->bctx);
    free(r->bag);
    free(r->bstats);
    r->slots = 0;
}

void hs_runner_free(hs_runner *r)
{
    if (!r) return;
    batch_free(r);
    hs_ctx_free(r->ctx);
    hs_ctx_free(r->unpruned);
    if (r->has_agency) hs_agency_free(&r->ag);
    hs_head_stats_free(&r->stats);
    hs_sampler_free(&r->smp);
    hs_prefill_fork_free(&r->fork);
    free(r->gen.ids);
    free(r->seq);
    free(r);
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
    m[HS_M_PREFILL_CPU_S] = g->prefill_use.cpu_s;
    m[HS_M_DECODE_CPU_S] = g->decode_use.cpu_s;
    m[HS_M_PREFILL_RSS_GROWTH] = g->prefill_use.rss_growth;
    m[HS_M_DECODE_RSS_GROWTH] = g->decode_use.rss_growth;
    int computed = r->cfg.mode == HS_GATING_MASK ? r->cfg.model->cfg.n_layer * r->cfg.model->cfg.n_head : r->live_heads;
    m[HS_M_LIVE_HEADS] = r->live_heads;
    const hs_config *mc = &r->cfg.model->cfg;
    double flops = hs_model_flops_per_token(mc, computed, n_prompt + g->n / 2);
    /* agency's misalignment signal: one c_proj product (2 D C) per live head per step */
    if (r->cfg.agency_on) flops += (double)r->live_heads * 2.0 * mc->n_embd * (mc->n_embd / mc->n_head);
    m[HS_M_FLOPS_PER_TOKEN] = flops;
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

/* A prompt's token ids and its reference's (NULL, 0 when it has none). */
typedef struct {
    int32_t *pids, *rids;
    int np, nr;
} prompt_ids;

static hs_status encode_prompt(hs_runner *r, const hs_prompt *p, prompt_ids *t)
{
    size_t n = 0;
    *t = (prompt_ids){0};
    hs_status st = encode(r, p->prompt, &t->pids, &n);
    t->np = (int)n;
    if (!st && p->reference && p->reference[0]) {
        st = encode(r, p->reference, &t->rids, &n);
        t->nr = (int)n;
    }
    return st ? hs_err_wrap(st, "prompt %s (line %d)", p->id, p->line) : HS_OK;
}

/* Whether the generation keeps its prefill for the reference's scoring. */
static int wants_fork(const hs_runner *r, const prompt_ids *t)
{
    return r->share && t->nr > 0 && hs_eval_nll_forkable(r->ctx, r->has_agency, t->np, t->np + t->nr);
}

/* Teacher-forced perplexity of the reference continuation under the variant, from the
 * generation's prefill when it kept it (r->fork). */
static hs_status reference_ppl(hs_runner *r, const hs_prompt *p, const prompt_ids *t, double *m)
{
    if (!p->reference || !p->reference[0]) return HS_OK;
    m[HS_M_REFERENCE_TOKENS] = (double)t->nr;
    int n = t->np + t->nr;
    if (t->nr > 0 && n > r->cfg.max_t)
        return hs_err(HS_EINPUT, "prompt %s (line %d): prompt + reference are %d tokens, over the context of %d",
                      p->id, p->line, n, r->cfg.max_t);
    if (t->nr == 0) return HS_OK;
    memcpy(r->seq, t->pids, (size_t)t->np * sizeof(int32_t));
    memcpy(r->seq + t->np, t->rids, (size_t)t->nr * sizeof(int32_t));
    if (r->fork.n_prompt != t->np) return perplexity(r, r->ctx, r->has_agency ? &r->ag : NULL, n, t->np,
                                                     &m[HS_M_REFERENCE_PPL]);
    hs_agency *ag = r->has_agency ? &r->ag : NULL;
    double sum;
    int count;
    hs_status st = hs_eval_nll_fork(r->ctx, ag, ag ? &r->stats : NULL, &r->fork, r->seq, n, t->np, &sum, &count);
    if (!st && count > 0) m[HS_M_REFERENCE_PPL] = exp(sum / count);
    r->shared += !st;
    return st;
}

static hs_status unpruned_ppl(hs_runner *r, const int32_t *pids, int np, double *m)
{
    if (!r->unpruned || r->gen.n == 0) return HS_OK;
    memcpy(r->seq, pids, (size_t)np * sizeof(int32_t));
    memcpy(r->seq + np, r->gen.ids, (size_t)r->gen.n * sizeof(int32_t));
    return perplexity(r, r->unpruned, NULL, np + r->gen.n, np, &m[HS_M_GENERATED_PPL_UNPRUNED]);
}

/* The generation of prompt t, keeping its prefill when the reference's scoring can use it. */
static hs_status generate(hs_runner *r, const hs_prompt *p, const prompt_ids *t)
{
    hs_agency *ag = r->has_agency ? &r->ag : NULL;
    r->fork.n_prompt = 0;
    int rows = t->nr > 0 ? hs_eval_prefill_rows(r->ctx, r->has_agency, t->np, t->np + t->nr) : 0;
    return hs_generate(r->ctx, ag, ag ? &r->stats : NULL, &r->smp, t->pids, t->np, rows, &r->cfg.sample, p->id,
                       hs_tokenizer_eot(r->cfg.tok), &r->gen, wants_fork(r, t) ? &r->fork : NULL);
}

static hs_status eval_prompt(hs_runner *r, const hs_prompt *p, double *m, int64_t *occupancy, int64_t *transitions)
{
    prompt_ids t;
    hs_status st = encode_prompt(r, p, &t);
    m[HS_M_PROMPT_TOKENS] = (double)t.np;
    hs_agency *ag = r->has_agency ? &r->ag : NULL;
    if (!st) st = generate(r, p, &t);
    if (!st) {
        record_generation(r, m, t.np);
        size_t LHS = (size_t)r->cfg.model->cfg.n_layer * r->cfg.model->cfg.n_head * HS_AG_NSTATES;
        if (occupancy && ag) memcpy(occupancy, ag->occupancy, LHS * sizeof(int64_t));
        else if (occupancy) memset(occupancy, 0, LHS * sizeof(int64_t));
        if (transitions && ag) memcpy(transitions, ag->transitions, LHS / HS_AG_NSTATES * sizeof(int64_t));
        else if (transitions) memset(transitions, 0, LHS / HS_AG_NSTATES * sizeof(int64_t));
    }
    hs_phase ph;
    hs_phase_begin(&ph);
    if (!st) st = generated_ttr(r, m);
    if (!st) st = reference_ppl(r, p, &t, m);
    if (!st) st = unpruned_ppl(r, t.pids, t.np, m);
    hs_phase_use u = hs_phase_end(&ph);
    m[HS_M_SCORING_S] = u.wall_s;
    m[HS_M_SCORING_CPU_S] = u.cpu_s;
    m[HS_M_SCORING_RSS_GROWTH] = u.rss_growth;
    /* the prompt's peak: the phases reset the watermark, so it is the largest phase peak */
    double peak = u.peak_rss;
    if (r->gen.prefill_use.peak_rss > peak) peak = r->gen.prefill_use.peak_rss;
    if (r->gen.decode_use.peak_rss > peak) peak = r->gen.decode_use.peak_rss;
    m[HS_M_PEAK_RSS] = peak;
    free(t.pids);
    free(t.rids);
    return st;
}

hs_status hs_runner_eval(hs_runner *r, const hs_prompt *p, double *metrics, int32_t *gen_ids, int64_t *occupancy,
                         int64_t *transitions)
{
    for (int i = 0; i < HS_M_COUNT; i++) metrics[i] = NAN;
    hs_peak_rss_reset();
    double u0, s0, u1, s1;
    hs_cpu_times(&u0, &s0);
    hs_status st = eval_prompt(r, p, metrics, occupancy, transitions);
    if (st) return st;
    hs_cpu_times(&u1, &s1);
    metrics[HS_M_CPU_USER_S] = u1 - u0;
    metrics[HS_M_CPU_SYSTEM_S] = s1 - s0;
    if (gen_ids) {
        for (int i = 0; i < r->cfg.sample.max_new; i++) gen_ids[i] = i < r->gen.n ? r->gen.ids[i] : -1;
    }
    return HS_OK;
}

hs_status hs_runner_generate(hs_runner *r, const hs_prompt *p, double *metrics, int32_t *gen_ids)
{
    for (int i = 0; i < HS_M_COUNT; i++) metrics[i] = NAN;
    prompt_ids t;
    hs_status st = encode_prompt(r, p, &t);
    /* keeps the prefill as hs_runner_eval does, so that the prefill phase is the same work */
    if (!st) st = generate(r, p, &t);
    free(t.pids);
    free(t.rids);
    if (st) return st;
    record_generation(r, metrics, t.np);
    for (int i = 0; i < r->cfg.sample.max_new; i++) gen_ids[i] = i < r->gen.n ? r->gen.ids[i] : -1;
    return HS_OK;
}

/* ---- throughput mode ---- */

/* The batch contexts (and agency states) of the variant, made once per runner. */
static hs_status batch_setup(hs_runner *r)
{
    const hs_runner_config *c = &r->cfg;
    if (r->slots) return HS_OK;
    int S = c->batch > 1 ? c->batch : 1, L = c->model->cfg.n_layer, H = c->model->cfg.n_head;
    r->bctx = hs_calloc((size_t)S, sizeof *r->bctx, "batch contexts");
    if (c->agency_on) {
        r->bag = hs_calloc((size_t)S, sizeof *r->bag, "batch agency");
        r->bstats = hs_calloc((size_t)S, sizeof *r->bstats, "batch statistics");
    }
    if (!r->bctx || (c->agency_on && (!r->bag || !r->bstats))) return HS_ENOMEM;
    r->slots = S;
    hs_status st = HS_OK;
    for (int k = 0; k < S && !st; k++) {
        st = hs_ctx_init(&r->bctx[k], c->model, c->max_t, c->mode);
        if (!st) st = hs_ctx_set_head_means(r->bctx[k], c->head_means);
        if (!st) st = hs_ctx_set_gates(r->bctx[k], c->gates);
        if (!st && c->agency_on) st = hs_agency_init(&r->bag[k], L, H, &c->agency);
        if (!st && c->agency_on) st = hs_head_stats_init(&r->bstats[k], L, H);
        if (!st && c->agency_on) st = hs_ctx_collect_stats(r->bctx[k], &r->bstats[k]);
    }
    if (st) batch_free(r);
    return st;
}

/* Buffers of one batch: prompt ids, generations, and the sequences scored afterwards. */
typedef struct {
    int n;
    int32_t **pids;       /* (n) prompt ids */
    int *np;              /* (n) */
    const char **keys;    /* (n) prompt ids as sampler keys */
    hs_generation *gen;   /* (n) */
    int32_t *gen_ids;     /* (n, max_new) */
    int32_t **seq;        /* (n) prompt + continuation, for perplexity */
    int *seq_n, *first;   /* (n) */
    double *nll;          /* (n) */
    int *count;           /* (n) */
    int *has_ref;         /* (n) the prompt's reference is in seq and to be scored */
    const int32_t **share_seq; /* (n) seq[i] when scored from the generation's prefill, else NULL */
    double *share_nll;    /* (n) its NLL sum */
    int *share_count;     /* (n) */
    int *prefill_rows;    /* (n) the rows each prompt's prefill is routed as (hs_eval_prefill_rows) */
} batch_bufs;

static void bufs_free(batch_bufs *b)
{
    for (int i = 0; i < b->n; i++) {
        if (b->pids) free(b->pids[i]);
        if (b->seq) free(b->seq[i]);
    }
    free(b->pids);
    free(b->np);
    free(b->keys);
    free(b->gen);
    free(b->gen_ids);
    free(b->seq);
    free(b->seq_n);
    free(b->first);
    free(b->nll);
    free(b->count);
    free(b->has_ref);
    free(b->share_seq);
    free(b->share_nll);
    free(b->share_count);
    free(b->prefill_rows);
}

static hs_status bufs_init(batch_bufs *b, int n, int max_new)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    size_t N = (size_t)(n > 0 ? n : 1);
    b->pids = hs_calloc(N, sizeof *b->pids, "batch prompts");
    b->np = hs_calloc(N, sizeof *b->np, "batch prompts");
    b->keys = hs_calloc(N, sizeof *b->keys, "batch prompts");
    b->gen = hs_calloc(N, sizeof *b->gen, "batch generations");
    b->gen_ids = hs_calloc(N * (size_t)max_new, sizeof *b->gen_ids, "batch generations");
    b->seq = hs_calloc(N, sizeof *b->seq, "batch sequences");
    b->seq_n = hs_calloc(N, sizeof *b->seq_n, "batch sequences");
    b->first = hs_calloc(N, sizeof *b->first, "batch sequences");
    b->nll = hs_calloc(N, sizeof *b->nll, "batch perplexity");
    b->count = hs_calloc(N, sizeof *b->count, "batch perplexity");
    b->has_ref = hs_calloc(N, sizeof *b->has_ref, "batch perplexity");
    b->share_seq = hs_calloc(N, sizeof *b->share_seq, "batch perplexity");
    b->share_nll = hs_calloc(N, sizeof *b->share_nll, "batch perplexity");
    b->share_count = hs_calloc(N, sizeof *b->share_count, "batch perplexity");
    b->prefill_rows = hs_calloc(N, sizeof *b->prefill_rows, "batch prompts");
    if (!b->pids || !b->np || !b->keys || !b->gen || !b->gen_ids || !b->seq || !b->seq_n || !b->first || !b->nll ||
        !b->count || !b->has_ref || !b->share_seq || !b->share_nll || !b->share_count || !b->prefill_rows)
        return HS_ENOMEM;
    for (int i = 0; i < n; i++) b->gen[i].ids = b->gen_ids + (size_t)i * max_new;
    return HS_OK;
}

/* Sequence i = prompt + tail (nt ids), scored from the tail's first token. */
static hs_status bufs_seq(const hs_runner *r, batch_bufs *b, int i, const int32_t *tail, int nt, const hs_prompt *p)
{
    int n = b->np[i] + nt;
    if (n > r->cfg.max_t)
        return hs_err(HS_EINPUT, "prompt %s (line %d): prompt + reference are %d tokens, over the context of %d", p->id,
                      p->line, n, r->cfg.max_t);
    free(b->seq[i]);
    b->seq[i] = hs_malloc((size_t)n * sizeof(int32_t), "batch sequence");
    if (!b->seq[i]) return HS_ENOMEM;
    memcpy(b->seq[i], b->pids[i], (size_t)b->np[i] * sizeof(int32_t));
    memcpy(b->seq[i] + b->np[i], tail, (size_t)nt * sizeof(int32_t));
    b->seq_n[i] = n;
    b->first[i] = b->np[i];
    return HS_OK;
}

static hs_status batch_encode(hs_runner *r, batch_bufs *b, const hs_prompt *const *prompts, double *metrics)
{
    for (int i = 0; i < b->n; i++) {
        size_t np;
        hs_status st = encode(r, prompts[i]->prompt, &b->pids[i], &np);
        if (st) return hs_err_wrap(st, "prompt %s (line %d)", prompts[i]->id, prompts[i]->line);
        b->np[i] = (int)np;
        b->keys[i] = prompts[i]->id;
        metrics[(size_t)i * HS_M_COUNT + HS_M_PROMPT_TOKENS] = (double)np;
    }
    return HS_OK;
}

/* Generation of every prompt, then its quality metrics; timings are the caller's. */
static hs_status batch_generate(hs_runner *r, batch_bufs *b, double *metrics, int64_t *occupancy,
                                int64_t *transitions)
{
    hs_batch_job job = {r->bctx, r->bag, r->bstats, r->slots, (const int32_t *const *)b->pids, b->np, b->keys,
                        b->n, &r->cfg.sample, hs_tokenizer_eot(r->cfg.tok), b->gen, occupancy, transitions,
                        b->share_seq, b->seq_n, b->share_nll, b->share_count, b->prefill_rows};
    hs_status st = hs_generate_batch(&job, &r->smp);
    static const hs_metric_id untimed[] = {HS_M_PREFILL_S, HS_M_TTFT_S, HS_M_DECODE_S, HS_M_GENERATION_S,
                                           HS_M_DECODE_TOKENS_PER_S, HS_M_PREFILL_CPU_S, HS_M_DECODE_CPU_S,
                                           HS_M_PREFILL_RSS_GROWTH, HS_M_DECODE_RSS_GROWTH};
    hs_generation own = r->gen; /* record_generation and generated_ttr read r->gen */
    for (int i = 0; i < b->n && !st; i++) {
        double *m = metrics + (size_t)i * HS_M_COUNT;
        r->gen = b->gen[i];
        record_generation(r, m, b->np[i]);
        for (size_t j = 0; j < sizeof untimed / sizeof *untimed; j++) m[untimed[j]] = NAN;
        st = generated_ttr(r, m);
    }
    r->gen = own;
    return st;
}

/* Scores the sequences listed in idx (k of them) and stores exp(mean NLL) as metric id. */
static hs_status batch_score(hs_runner *r, batch_bufs *b, hs_ctx **ctx, int slots, int agency, const int *idx,
                             int k, double *metrics, hs_metric_id id)
{
    if (k == 0) return HS_OK;
    const int32_t **ids = hs_malloc((size_t)k * sizeof *ids, "batch perplexity");
    int *n = hs_malloc((size_t)k * sizeof *n, "batch perplexity"),
        *first = hs_malloc((size_t)k * sizeof *first, "batch perplexity");
    hs_status st = ids && n && first ? HS_OK : HS_ENOMEM;
    for (int j = 0; j < k && !st; j++) ids[j] = b->seq[idx[j]], n[j] = b->seq_n[idx[j]], first[j] = b->first[idx[j]];
    hs_nll_batch_job job = {ctx, agency ? r->bag : NULL, agency ? r->bstats : NULL, slots, ids, n, first, k,
                            b->nll, b->count};
    if (!st) st = hs_eval_nll_batch(&job);
    for (int j = 0; j < k && !st; j++)
        if (b->count[j] > 0) metrics[(size_t)idx[j] * HS_M_COUNT + id] = exp(b->nll[j] / b->count[j]);
    free(ids);
    free(n);
    free(first);
    return st;
}

/* Each reference's sequence (prompt + reference), before the generation: without agency
 * the generation scores those it can from the prompt's prefill (share_seq). With agency
 * the references are scored token by token, the slots stepping together after the
 * generation (hs_eval_nll_batch); sharing the prefill there would mean keeping every
 * prompt's cache rows until then, so each is prefilled again. */
static hs_status batch_reference_prepare(hs_runner *r, batch_bufs *b, const hs_prompt *const *prompts,
                                         double *metrics)
{
    hs_status st = HS_OK;
    for (int i = 0; i < b->n && !st; i++) {
        const hs_prompt *p = prompts[i];
        if (!p->reference || !p->reference[0]) continue;
        int32_t *rids;
        size_t nr;
        st = encode(r, p->reference, &rids, &nr);
        if (st) break;
        metrics[(size_t)i * HS_M_COUNT + HS_M_REFERENCE_TOKENS] = (double)nr;
        if (nr > 0) st = bufs_seq(r, b, i, rids, (int)nr, p);
        b->has_ref[i] = !st && nr > 0;
        if (b->has_ref[i])
            b->prefill_rows[i] = hs_eval_prefill_rows(r->bctx[0], r->cfg.agency_on, b->np[i], b->seq_n[i]);
        if (b->has_ref[i] && r->share && !r->cfg.agency_on &&
            hs_eval_nll_forkable(r->bctx[0], 0, b->np[i], b->seq_n[i]))
            b->share_seq[i] = b->seq[i];
        free(rids);
    }
    return st;
}

/* Teacher-forced perplexity of each reference under the variant (with its agency): those
 * the generation did not score already. */
static hs_status batch_reference(hs_runner *r, batch_bufs *b, double *metrics, int *idx)
{
    int k = 0;
    for (int i = 0; i < b->n; i++) {
        if (!b->has_ref[i]) continue;
        if (!b->share_seq[i]) {
            idx[k++] = i;
            continue;
        }
        if (b->share_count[i] > 0)
            metrics[(size_t)i * HS_M_COUNT + HS_M_REFERENCE_PPL] = exp(b->share_nll[i] / b->share_count[i]);
        r->shared++;
    }
    return batch_score(r, b, r->bctx, r->slots, r->cfg.agency_on, idx, k, metrics, HS_M_REFERENCE_PPL);
}

/* Perplexity of each generation under the unpruned model (plain prefills). */
static hs_status batch_unpruned(hs_runner *r, batch_bufs *b, const hs_prompt *const *prompts, double *metrics,
                                int *idx)
{
    if (!r->unpruned) return HS_OK;
    int k = 0;
    hs_status st = HS_OK;
    for (int i = 0; i < b->n && !st; i++) {
        if (b->gen[i].n == 0) continue;
        st = bufs_seq(r, b, i, b->gen[i].ids, b->gen[i].n, prompts[i]);
        idx[k++] = i;
    }
    if (!st) st = batch_score(r, b, &r->unpruned, 1, 0, idx, k, metrics, HS_M_GENERATED_PPL_UNPRUNED);
    return st;
}

hs_status hs_runner_eval_batch(hs_runner *r, const hs_prompt *const *prompts, int n, double *metrics,
                               int32_t *gen_ids, int64_t *occupancy, int64_t *transitions)
{
    int max_new = r->cfg.sample.max_new;
    size_t LH = (size_t)r->cfg.model->cfg.n_layer * r->cfg.model->cfg.n_head;
    for (size_t i = 0; i < (size_t)n * HS_M_COUNT; i++) metrics[i] = NAN;
    if (occupancy) memset(occupancy, 0, LH * HS_AG_NSTATES * sizeof(int64_t));
    if (transitions) memset(transitions, 0, LH * sizeof(int64_t));
    hs_peak_rss_reset();
    batch_bufs b;
    hs_status st = bufs_init(&b, n, max_new);
    int *idx = hs_malloc((size_t)(n > 0 ? n : 1) * sizeof *idx, "batch index");
    if (!st && !idx) st = HS_ENOMEM;
    if (!st) st = batch_setup(r);
    if (!st) st = batch_encode(r, &b, prompts, metrics);
    if (!st) st = batch_reference_prepare(r, &b, prompts, metrics);
    if (!st) st = batch_generate(r, &b, metrics, occupancy, transitions);
    if (!st) st = batch_reference(r, &b, metrics, idx);
    if (!st) st = batch_unpruned(r, &b, prompts, metrics, idx);
    double rss = (double)hs_peak_rss_bytes();
    for (int i = 0; i < n && !st; i++) {
        metrics[(size_t)i * HS_M_COUNT + HS_M_PEAK_RSS] = rss;
        for (int j = 0; gen_ids && j < max_new; j++)
            gen_ids[(size_t)i * max_new + j] = j < b.gen[i].n ? b.gen[i].ids[j] : -1;
    }
    bufs_free(&b);
    free(idx);
    return st;
}

long hs_runner_shared_prefills(const hs_runner *r) { return r->shared; }
