/* eval.h: sampling, generation, perplexity and the per-prompt metrics of a study.
 *
 * Sampling draws from a counter-based RNG keyed by (seed, prompt id, step), so a prompt
 * generates the same tokens on any rank, in any order, on any machine. */
#ifndef HEADSWEEP_EVAL_H
#define HEADSWEEP_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "headsweep/agency.h"
#include "headsweep/model.h"
#include "headsweep/prompts.h"
#include "headsweep/tokenizer.h"
#include "headsweep/util.h"

typedef struct {
    int max_new;       /* tokens to generate at most */
    float temperature; /* 0: greedy */
    int top_k;         /* 0: off */
    float top_p;       /* 1: off */
    uint64_t seed;
} hs_sample_params;

void hs_sample_params_default(hs_sample_params *p);
hs_status hs_sample_params_check(const hs_sample_params *p);

/* Uniform double in [0, 1) from the key (seed, prompt id, step): a stateless hash. */
double hs_rng_uniform(uint64_t seed, const char *prompt_id, int step);

/* Picks the next token from logits (V). scratch holds 2V floats+ints, see hs_sampler. */
typedef struct {
    int V;
    float *prob;   /* (V) */
    int32_t *idx;  /* (V) */
} hs_sampler;

/* The index of the first largest of x[0 .. n), n >= 1, as the loop keeping the first
 * x[i] > x[best] finds it (NaN included): greedy sampling's pick, 8 lanes at a time. */
int32_t hs_argmax(const float *x, int n);

hs_status hs_sampler_init(hs_sampler *s, int vocab);
/* The ids generation samples from: the model's, but only those tok has a token for (tok
 * NULL: all). A padded model (nanoGPT pads GPT-2's 50,257 ids to 50,304) has logits for ids
 * no token has, and one sampled there failed the sweep when its text was decoded. */
int hs_sample_vocab(const hs_model *m, const hs_tokenizer *tok);
void hs_sampler_free(hs_sampler *s);
int32_t hs_sample(hs_sampler *s, const float *logits, const hs_sample_params *p, double u);

/* Lexical statistics of a generated token sequence (token ids):
 *   distinct-n  = unique n-grams / n-grams (Li et al. 2016), n = 1, 2
 *   ttr         = unique words / words, words = whitespace-separated pieces of the text
 *   repetition  = share of 4-grams that already occurred earlier in the sequence */
typedef struct {
    double distinct1, distinct2, ttr, repetition;
} hs_lexical;

void hs_lexical_ids(const int32_t *ids, int n, hs_lexical *out);
/* Word type-token ratio of text (len bytes); NaN when it has no words. */
double hs_lexical_ttr(const char *text, size_t len);

/* What a generation keeps of its prompt's prefill, so that scoring a continuation of the
 * same prompt in the same context (hs_eval_nll_fork) starts from it instead of running
 * the prompt again (issue 22): the context is marked after the prefill (hs_ctx_mark:
 * the prompt's cache rows survive the decode steps, which only append), and with agency
 * the state machine after its prefill step and the prefill's logits are copied here. */
typedef struct {
    int n_prompt;   /* the marked prefix; 0: nothing kept */
    float *logits;  /* (V) the prefill's last-position logits (agency only) */
    hs_agency ag;   /* the state after the prefill step (agency only) */
    int has_ag;
} hs_prefill_fork;

/* like: the agency whose state is to be kept (its L, H), or NULL without agency. */
hs_status hs_prefill_fork_init(hs_prefill_fork *f, int vocab, const hs_agency *like);
void hs_prefill_fork_free(hs_prefill_fork *f);

/* Negative log-likelihood of ids[first .. n) given everything before it, teacher-forced.
 * Sequences longer than the context slide a window of the context length with a stride
 * of half of it (each token scored once, with at least half a window of history). When
 * ag is not NULL the tokens are fed one decode step at a time with the state machine
 * running (agency changes gates between steps); otherwise in batched prefills. */
hs_status hs_eval_nll(hs_ctx *ctx, hs_agency *ag, hs_head_stats *stats, const int32_t *ids, int n,
                      int first, double *nll_sum, int *count);
/* 1 when hs_eval_nll of ids[first .. n) given a prompt ids[0 .. first) can start from the
 * prompt's prefill kept in ctx (hs_eval_nll_fork) and give the same bits: one window,
 * and without agency a prefix whose products split exactly (hs_ctx_prefix_exact). */
int hs_eval_nll_forkable(const hs_ctx *ctx, int agency, int first, int n);
/* The row count the generation's prefill of prompt ids[0 .. first) is routed as when
 * ids[first .. n) is scored after it: n where that lets the scoring continue from the
 * prefill exactly (hs_ctx_prefix_route: a prompt under 48 tokens whose reference takes
 * it past 48, on our tiles), else first. Without agency only (with agency the scoring's
 * prefill is the prompt's own call). It does not depend on whether the prefill is then
 * shared, so sharing on and off give the same bits. */
int hs_eval_prefill_rows(const hs_ctx *ctx, int agency, int first, int n);
/* hs_eval_nll from the prefill of ids[0 .. first) that f and ctx kept (f->n_prompt ==
 * first; after any later steps in ctx, which it rewinds), bit-identical to it. */
hs_status hs_eval_nll_fork(hs_ctx *ctx, hs_agency *ag, hs_head_stats *stats, const hs_prefill_fork *f,
                           const int32_t *ids, int n, int first, double *nll_sum, int *count);

typedef struct {
    int32_t *ids;      /* (max_new) generated tokens, n of them */
    int n;
    int hit_eot;       /* stopped at <|endoftext|> (not stored in ids) */
    double prefill_s;  /* the prompt's forward pass */
    double ttft_s;     /* prompt forward + first token sampled */
    double decode_s;   /* every later step */
    double total_s;
    /* per phase (hs_phase_use): prefill = the prompt's forward pass; decode = the rest of
     * the generation (sampling and decode steps). Wall seconds are prefill_s and
     * total_s - prefill_s; the probes' own time between the phases is in neither. */
    hs_phase_use prefill_use, decode_use;
} hs_generation;

/* Generates up to p->max_new tokens after prompt (n_prompt ids). The caller sizes the
 * context for n_prompt + max_new. eot < 0 disables stopping at end of text. keep, when
 * not NULL, receives the prefill (above); its copies are part of the prefill phase.
 * prefill_rows: the row count the prompt's prefill is routed as (hs_ctx_forward_prefix;
 * hs_eval_prefill_rows for a prompt whose reference is scored after it), 0: n_prompt. */
hs_status hs_generate(hs_ctx *ctx, hs_agency *ag, hs_head_stats *stats, hs_sampler *smp,
                      const int32_t *prompt, int n_prompt, int prefill_rows, const hs_sample_params *p,
                      const char *prompt_id, int eot, hs_generation *out, hs_prefill_fork *keep);

/* Throughput mode: count prompts generated through `slots` contexts that decode together
 * (hs_ctx_forward_batch), a slot refilled with the next prompt as soon as its sequence
 * ends. out[i] receives exactly what hs_generate gives prompt i alone (timings 0). The
 * contexts share model, gating mode, gates and size; agency and stats are per slot
 * (both NULL without agency). */
typedef struct {
    hs_ctx **ctx;                 /* (slots) */
    hs_agency *agency;            /* (slots) or NULL */
    hs_head_stats *stats;         /* (slots) collected by ctx[k], or NULL */
    int slots;
    const int32_t *const *prompts;/* (count) token ids of each prompt */
    const int *n_prompt;          /* (count) */
    const char *const *prompt_ids;/* (count) keys of the sampler */
    int count;
    const hs_sample_params *params;
    int eot;                      /* end-of-text id, < 0: none */
    hs_generation *out;           /* (count), ids sized max_new by the caller */
    int64_t *occupancy;           /* (L, H, NSTATES) agency state counts of every prompt's
                                     generation added up, or NULL */
    int64_t *transitions;         /* (L, H) agency state changes added up the same way, or NULL */
    /* Without agency: a continuation of prompt i scored from the prompt's own prefill
     * right after it (issue 22), as hs_eval_nll_fork: score_seq[i] (score_n[i] ids, the
     * prompt then the continuation; hs_eval_nll_forkable must hold) or NULL; the NLL sum
     * and count go to score_nll[i], score_count[i]. score_seq NULL: none. */
    const int32_t *const *score_seq; /* (count) */
    const int *score_n;           /* (count) */
    double *score_nll;            /* (count) out */
    int *score_count;             /* (count) out */
    const int *prefill_rows;      /* (count) as hs_generate's prefill_rows, or NULL: none */
} hs_batch_job;

hs_status hs_generate_batch(const hs_batch_job *job, hs_sampler *smp);

/* Teacher-forced NLL of many sequences, each exactly as hs_eval_nll gives it alone.
 * With agency the tokens of every sequence that fits the context are fed one decode
 * step at a time, the slots stepping together through hs_ctx_forward_batch (matrix
 * products instead of one matrix-vector product per token); longer sequences, and all
 * sequences without agency (one prefill each, already a matrix product), go through
 * hs_eval_nll on ctx[0]. */
typedef struct {
    hs_ctx **ctx;                 /* (slots) same model, gating mode, gates and size */
    hs_agency *agency;            /* (slots) or NULL */
    hs_head_stats *stats;         /* (slots) collected by ctx[k], or NULL */
    int slots;
    const int32_t *const *ids;    /* (count) sequences */
    const int *n;                 /* (count) their lengths */
    const int *first;             /* (count) first scored position, >= 1 */
    int count;
    double *nll_sum;              /* (count) out */
    int *nll_count;               /* (count) out: tokens scored */
} hs_nll_batch_job;

hs_status hs_eval_nll_batch(const hs_nll_batch_job *job);

/* ---- per-prompt metrics of a sweep cell ---- */

typedef enum {
    HS_M_PROMPT_TOKENS, HS_M_REFERENCE_TOKENS, HS_M_GENERATED_TOKENS,
    HS_M_PREFILL_S, HS_M_DECODE_S, HS_M_GENERATION_S, HS_M_DECODE_TOKENS_PER_S, HS_M_TTFT_S,
    HS_M_REFERENCE_PPL, HS_M_GENERATED_PPL_UNPRUNED, HS_M_DISTINCT_1, HS_M_DISTINCT_2,
    HS_M_TYPE_TOKEN_RATIO, HS_M_REPETITION, HS_M_PEAK_RSS, HS_M_CPU_USER_S, HS_M_CPU_SYSTEM_S,
    HS_M_LIVE_HEADS, HS_M_FLOPS_PER_TOKEN, HS_M_HIT_EOT,
    /* per phase: prefill, decode (generation), scoring (quality metrics after it) */
    HS_M_PREFILL_CPU_S, HS_M_DECODE_CPU_S, HS_M_SCORING_S, HS_M_SCORING_CPU_S, HS_M_PREFILL_RSS_GROWTH,
    HS_M_DECODE_RSS_GROWTH, HS_M_SCORING_RSS_GROWTH,
    /* the order of timed runs (docs/timing.md) */
    HS_M_RUN_POSITION, HS_M_RUN_START, HS_M_TIMING_REPEATS,
    HS_M_COUNT
} hs_metric_id;

typedef struct {
    const char *name;        /* dataset name under /metrics */
    const char *units;
    const char *description;
    int timing;              /* 1 for timing/memory (vary run to run), 0 for quality (exact) */
    double lo, hi;           /* every value a run can record is in [lo, hi] (or NaN: not recorded) */
} hs_metric_info;

/* The bounds of hs_metric_info: what no run of this tool can exceed, so that readers refuse
 * a shared file's impossible numbers (a perplexity of -5 was a "better" verdict; speeds of
 * 1e308 overflowed the mean to inf, "no difference, p = 1") and the statistics over up to
 * 2^24 values of each stay far from overflow. Perplexity is exp of a mean NLL >= 0, so >= 1
 * up to the rounding of the NLL's sum. */
#define HS_METRIC_COUNT_MAX 1e9
#define HS_METRIC_SECONDS_MAX 1e9   /* 31 years */
#define HS_METRIC_RATE_MAX 1e9      /* tokens per second */
#define HS_METRIC_BYTES_MAX 1e15    /* a petabyte */
#define HS_METRIC_FLOPS_MAX 1e18
#define HS_METRIC_EPOCH_MAX 1e11    /* the year 5138 */
#define HS_METRIC_PPL_MIN 0.999
#define HS_METRIC_PPL_MAX 1e30

extern const hs_metric_info hs_metrics[HS_M_COUNT];

/* What a runner needs for one variant at one level. */
typedef struct {
    const hs_model *model;
    const hs_tokenizer *tok;
    hs_gating mode;
    int agency_on;
    hs_agency_params agency;
    const float *gates;      /* (L, H) */
    hs_sample_params sample;
    int max_t;               /* context to allocate: longest prompt + reference or + max_new */
    int measure_unpruned_ppl;/* also score the generated text under the unpruned model */
    int batch;               /* sequences decoded together by hs_runner_eval_batch (>= 1) */
    const float *head_means; /* (L, H, D) mean ablation: what a switched-off head contributes
                                (hs_ctx_set_head_means); NULL: zero ablation */
} hs_runner_config;

typedef struct hs_runner hs_runner;

hs_status hs_runner_init(hs_runner **out, const hs_runner_config *cfg);
void hs_runner_free(hs_runner *r);
/* Evaluates one prompt: generation (timed), reference perplexity, lexical metrics,
 * perplexity of the generation under the unpruned model, resources. metrics receives
 * HS_M_COUNT values (NaN where not applicable), gen_ids up to max_new ids padded with -1,
 * occupancy (L, H, NSTATES) the agency state counts of the generation and transitions
 * (L, H) its state changes (zeros without agency; either may be NULL). */
hs_status hs_runner_eval(hs_runner *r, const hs_prompt *p, double *metrics, int32_t *gen_ids,
                         int64_t *occupancy, int64_t *transitions);
/* The generation alone, timed (a repeated timing, docs/timing.md):
 * metrics receives the generation's timing, phase and token-count metrics (NaN for the
 * rest), gen_ids the tokens (max_new, -1 padded), which the caller may check equal to
 * hs_runner_eval's. Agency counts are not reported. */
hs_status hs_runner_generate(hs_runner *r, const hs_prompt *p, double *metrics, int32_t *gen_ids);
/* Throughput mode: the n prompts evaluated together (hs_generate_batch, then
 * hs_eval_nll_batch), cfg.batch at a time. Quality metrics and gen_ids equal what
 * hs_runner_eval gives each prompt; per-prompt timings and CPU seconds are NaN (the
 * caller times the whole batch), peak RSS is the batch's. metrics (n, HS_M_COUNT),
 * gen_ids (n, max_new), occupancy (L, H, NSTATES) and transitions (L, H) summed over the
 * prompts, or NULL. */
hs_status hs_runner_eval_batch(hs_runner *r, const hs_prompt *const *prompts, int n, double *metrics,
                               int32_t *gen_ids, int64_t *occupancy, int64_t *transitions);
/* Prompts so far whose reference was scored from the generation's prefill (issue 22)
 * instead of a prefill of its own. Sharing is on unless HS_SHARE_PREFILL=0 is in the
 * environment when the runner is made (a switch for tests and benchmarks: both ways give
 * the same bits). */
long hs_runner_shared_prefills(const hs_runner *r);

#endif
