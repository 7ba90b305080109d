/* prune.h: head scores and the head sets that pruning levels switch off.
 *
 * Scores follow one convention: higher = more useful, so a level removes the lowest
 * scores first. Strategies (DESIGN.md, "Pruning"):
 *   entropy   utility 1 - H/ln T of the head's attention rows, averaged over the
 *             calibration prompts (most diffuse attention pruned first)
 *   magnitude L2 norm of the head's Q, K, V columns and c_proj rows
 *   random    a seeded shuffle
 *   ablation  increase in calibration NLL when that head alone is switched off
 *   gradient  Michel et al. 2019: sum over calibration sequences of |dL/d(gate)|,
 *             normalised to unit L2 norm within each layer (src/prune/gradient.c)
 *   taylor    first-order Taylor estimate of the ablation score, -dL/d(gate) of the
 *             mean calibration NLL per token
 *   iterative removal rank of iterative pruning: re-score the heads still on with a
 *             base strategy every step of heads (src/prune/iterative.c)
 *   list      an explicit head list (--heads-off), no scores
 * Scores are computed once on a calibration set and shared by every variant, so all
 * variants at a level switch off the same heads. */
#ifndef HEADSWEEP_PRUNE_H
#define HEADSWEEP_PRUNE_H

#include <stdint.h>
#include <stdio.h>

#include "headsweep/model.h"
#include "headsweep/prompts.h"
#include "headsweep/tokenizer.h"
#include "headsweep/util.h"

typedef enum {
    HS_STRATEGY_ENTROPY,
    HS_STRATEGY_MAGNITUDE,
    HS_STRATEGY_RANDOM,
    HS_STRATEGY_ABLATION,
    HS_STRATEGY_GRADIENT,
    HS_STRATEGY_TAYLOR,
    HS_STRATEGY_ITERATIVE,
} hs_strategy;

hs_status hs_strategy_parse(const char *s, hs_strategy *out);
const char *hs_strategy_name(hs_strategy s);
/* 1 for the strategies that run the model on calibration prompts (all but magnitude
 * and random). */
int hs_strategy_needs_calib(hs_strategy s);

/* What a pruned head contributes (docs/pruning.md, "Mean ablation"): nothing (zero, the
 * default) or its mean output over a calibration set (mean). */
typedef enum { HS_ABLATION_ZERO, HS_ABLATION_MEAN } hs_ablation;

hs_status hs_ablation_parse(const char *s, hs_ablation *out);
const char *hs_ablation_name(hs_ablation a);

/* Mean ablation's vectors and where they come from. */
typedef struct {
    int D;                  /* head size n_embd / n_head; 0: no means */
    float *v;               /* (L, H, D) each head's output averaged over every position of
                               the calibration sequences (hs_head_means), NULL: none */
    char calibration[512];  /* path of the calibration set they were averaged over */
    char calibration_sha256[65];
    int n_prompts;          /* calibration prompts used */
    int max_tokens;         /* tokens per prompt at most (0: the model's context) */
} hs_head_mean_set;

typedef struct {
    int L, H;
    double *score;          /* (L, H), higher = more useful */
    hs_strategy strategy;
    uint64_t seed;
    char calibration[512];  /* path of the calibration set ("" for magnitude/random) */
    char calibration_sha256[65];
    char model_sha256[65];
    int n_prompts;          /* calibration prompts used */
    hs_strategy base;       /* iterative: the re-scoring strategy */
    double step;            /* iterative: percent of heads per round */
    hs_head_mean_set means; /* stored beside the scores when computed on a calibration set */
} hs_head_scores;

typedef struct {
    int max_prompts;        /* calibration prompts to use at most (0: all) */
    int max_tokens;         /* tokens per calibration prompt at most (0: context) */
    uint64_t seed;          /* random strategy */
    const float *gates;     /* (L, H) gates to score under; NULL: all 1 (iterative
                               pruning re-scores under the current mask) */
    hs_strategy iterative_base; /* iterative: the strategy that re-scores (zeroed:
                                   entropy; the CLI and job files default to gradient) */
    double iterative_step;      /* iterative: percent of heads switched off per round
                                   (<= 0: 10) */
} hs_score_opts;

/* A poll for a stop request (the sweep's signal flag: nonzero when one arrived), called
 * between calibration sequences by every scorer and the head means: they then return
 * HS_EINTR, so a stop does not wait for the whole scoring (an hour on a large model with
 * ablation). Process-wide, as signals are; NULL (the default) never stops. */
void hs_prune_set_interrupt(int (*poll)(void));

hs_status hs_scores_compute(hs_head_scores *out, hs_model *m, const hs_tokenizer *tok,
                            const hs_prompt_set *calib, hs_strategy s, const hs_score_opts *o);
hs_status hs_scores_save(const hs_head_scores *sc, const char *path);
hs_status hs_scores_load(hs_head_scores *sc, const char *path);
void hs_scores_free(hs_head_scores *sc);

/* The calibration text of a prompt is prompt + reference, tokenized and cut to the first
 * max_tokens tokens (o->max_tokens, or the model's context when 0 or larger); the first
 * o->max_prompts prompts (all when 0). hs_calib_tokenize makes them (newly allocated; free
 * with hs_calib_free), as hs_scores_compute does. hs_token_seq is in model.h. */
hs_status hs_calib_tokenize(const hs_model *m, const hs_tokenizer *tok, const hs_prompt_set *calib,
                            const hs_score_opts *o, hs_token_seq **out, int *n_out);
/* How many of calib's prompts those are: calib->n, or o->max_prompts when fewer. */
int hs_calib_prompts_used(const hs_prompt_set *calib, const hs_score_opts *o);
void hs_calib_free(hs_token_seq *seqs, int n);

/* hs_scores_compute on already tokenized calibration sequences (tests, tools): the
 * calibration path and sha256 stay "" and n_prompts is n_seqs. Sequences shorter than 2
 * tokens carry no attention row over 2+ keys and no predicted token, and are skipped.
 * magnitude and random take no sequences (seqs may be NULL). */
hs_status hs_scores_compute_ids(hs_head_scores *out, hs_model *m, const hs_token_seq *seqs,
                                int n_seqs, hs_strategy s, const hs_score_opts *o);
/* Mean ablation's vectors: means (L, H, D) = each head's ungated output averaged over
 * every position of the calibration sequences of 2+ tokens (all gates 1). */
hs_status hs_head_means(const hs_model *m, const hs_token_seq *seqs, int n_seqs, float *means);
/* The same on a calibration prompt set, tokenized as the scores are (o: max_prompts and
 * max_tokens), with its provenance. Free with hs_head_mean_set_free (NULL-safe). */
hs_status hs_head_mean_set_compute(hs_head_mean_set *out, const hs_model *m, const hs_tokenizer *tok,
                                   const hs_prompt_set *calib, const hs_score_opts *o);
hs_status hs_head_mean_set_copy(hs_head_mean_set *dst, const hs_head_mean_set *src, int L, int H);
void hs_head_mean_set_free(hs_head_mean_set *ms);
/* Checks that scores (read from path, for messages) belong to the model: same L and H and
 * the same model.safetensors sha256. */
hs_status hs_scores_check_model(const hs_head_scores *sc, hs_model *m, const char *path);

typedef struct {
    int per_layer;          /* rank within each layer instead of globally */
    int keep_one_per_layer; /* never switch off the last head of a layer */
} hs_select_opts;

/* Number of heads a level switches off: round(pct / 100 * L * H) (DESIGN.md). */
int hs_prune_count(double pct, int L, int H);
/* The order in which levels switch heads off: all L*H indices l*H + h, lowest score first,
 * ties by (layer, head). order has L*H entries. Fails on a non-finite score. */
hs_status hs_prune_order(const hs_head_scores *sc, int *order);
/* gates (L, H) = 1 for kept heads, 0 for the lowest-scoring heads of the level. Ties
 * break by (layer, head) order so every rank picks the same set. */
hs_status hs_prune_select(const hs_head_scores *sc, double pct, const hs_select_opts *o,
                          float *gates);
/* HS_EINPUT when no scores could satisfy level pct under o on an L x H model (keep-one-per-layer
 * leaves too few heads to switch off); hs_prune_select makes the same check. */
hs_status hs_prune_check_level(double pct, int L, int H, const hs_select_opts *o);
/* Selection rules (o NULL = defaults: global, no keep-one):
 *   global     the round(pct/100 x L x H) lowest-scoring heads over the whole model;
 *   per_layer  each layer loses its round(pct/100 x H) lowest-scoring heads (the total
 *              is L times that, which can differ from the global count);
 *   keep_one_per_layer  a head is passed over when it is the last live one of its layer
 *              (the global walk goes on to the next lowest head); a level that cannot
 *              be met that way (more than L x (H - 1) heads) is HS_EINPUT. */
/* Parses "L.H,L.H,..." and sets those gates to 0 (others untouched); "" is no head. */
hs_status hs_heads_parse(const char *spec, int L, int H, float *gates);

/* ---- the pruning plan (src/prune/plan.c) ----
 * The one place where a study's pruning settings become head gates, for the sweep (rank 0
 * resolves the plan and broadcasts its gate matrix) and for the subcommands' --heads-off /
 * --prune-level alike: per variant, head scores (a saved file, checked against the model
 * and against a strategy given beside it, or computed on the calibration set, variants
 * with the same strategy and no file sharing one computation), then per level the heads
 * the variant's selection rule switches off; or an explicit head list, the single level of
 * every variant. The settings (hs_plan_spec) stay untouched: what the plan resolves (the
 * level of a head list, a scores file's strategy and seed) lives in the plan. */

/* One variant's pruning settings. The *_where strings say where a setting came from
 * ("jobs/x.ini:7", "--set ...", "--strategy"), for messages; NULL: not set. */
typedef struct {
    const char *name;           /* for messages */
    hs_strategy strategy;       /* of computed scores; beside a scores file, checked against it */
    const char *strategy_where; /* NULL: not given (a scores file's own strategy is taken) */
    const char *scores_path;    /* saved scores (`headsweep score --out`), NULL: computed */
    const char *scores_where;   /* where scores_path was named */
    int study_scores;           /* scores_path is the study's own ([pruning] scores): its
                                   strategy, seed and iterative settings become the plan's */
    hs_select_opts select;
    hs_ablation ablation;       /* mean: the head means of its scores file, or computed on
                                   the calibration set when the scores are computed */
    const char *ablation_where;
} hs_plan_variant;

typedef struct {
    const hs_plan_variant *variants; /* (n_variants) */
    int n_variants;
    const double *levels;       /* (n_levels) percent of heads off; unused with heads_off */
    int n_levels;
    const char *levels_where;   /* the file that set the levels (messages), NULL: none */
    const char *heads_off;      /* an explicit head list "L.H,...": the one level, NULL: levels */
    const char *heads_off_where;
    int each_head;              /* [pruning] each_head = on: after the levels, one level per head
                                   (layer-major) switching off that head alone in every variant */
    hs_strategy strategy;       /* the study's (variants may have their own) */
    hs_score_opts score;        /* calibration limits, random seed, iterative settings */
} hs_plan_spec;

typedef struct {
    int n_variants, n_levels, L, H;
    double *levels;             /* (n_levels) as run: a head list's share of the heads; with
                                   each_head, the L*H single-head levels (100 / (L*H) each) last */
    int *level_head;            /* (n_levels) -1 for a level of the strategies or the head list,
                                   l*H + h for the level that switches off head (l, h) alone */
    int n_single;               /* single-head levels (each_head: L*H, else 0) */
    char *heads_off;            /* the head list as "L.H, L.H" (layer-major, each head
                                   once, so two spellings of one set are one study), or NULL */
    hs_strategy strategy;       /* the study's: its scores file's when it has one */
    hs_score_opts score;        /* spec's, with the seed and iterative settings of the
                                   study's scores file */
    hs_strategy *vstrategy;     /* (n_variants) each variant's: its scores file's */
    hs_head_scores *scores;     /* (n_variants) once read or computed (a head list: 0 for a
                                   listed head, 1 for the others) */
    char (*scores_sha256)[65];  /* (n_variants) of a variant's own scores file (not the
                                   study's), "" without one */
    float *gates;               /* (n_variants, n_levels, L, H): 1 on, 0 off */
} hs_prune_plan;

/* Checks the head list against an L x H model, and every variant's levels against its
 * selection rules (hs_prune_check_level), and sizes the plan; no scores yet. Needs no
 * weights (sweep --dry-run calls it with config.json's shape). */
hs_status hs_prune_plan_init(hs_prune_plan *p, const hs_plan_spec *spec, int L, int H);
void hs_prune_plan_free(hs_prune_plan *p);
/* 1 when some variant computes scores with a strategy that runs calibration prompts. */
int hs_prune_plan_needs_calib(const hs_prune_plan *p, const hs_plan_spec *spec);
/* Reads and checks the variants' scores files (variants naming one file share one read). */
hs_status hs_prune_plan_read_files(hs_prune_plan *p, const hs_plan_spec *spec, hs_model *m);
/* Computes the scores of the variants without a file; calib (NULL when no variant needs
 * it) was tokenized by tok. Announces each computation on log (NULL: silent). */
hs_status hs_prune_plan_compute(hs_prune_plan *p, const hs_plan_spec *spec, hs_model *m, const hs_tokenizer *tok,
                                const hs_prompt_set *calib, FILE *log);
/* 1 when some variant without a scores file uses mean ablation (its means are computed on
 * the calibration set). */
int hs_prune_plan_needs_means(const hs_plan_spec *spec);
/* Head means (L, H, D) variant v's pruned heads contribute: NULL under zero ablation. */
const float *hs_prune_plan_means(const hs_prune_plan *p, const hs_plan_spec *spec, int v);
/* Variant v's scores from elsewhere (a results file being resumed); takes sc's array. */
hs_status hs_prune_plan_set_scores(hs_prune_plan *p, int v, hs_head_scores *sc);
/* The gate matrix from the scores (or the head list). */
hs_status hs_prune_plan_select(hs_prune_plan *p, const hs_plan_spec *spec);
/* Gates (L, H) of variant v at level l. */
const float *hs_prune_plan_gates(const hs_prune_plan *p, int v, int l);

#endif
