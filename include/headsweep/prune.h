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

hs_status hs_scores_compute(hs_head_scores *out, hs_model *m, const hs_tokenizer *tok,
                            const hs_prompt_set *calib, hs_strategy s, const hs_score_opts *o);
hs_status hs_scores_save(const hs_head_scores *sc, const char *path);
hs_status hs_scores_load(hs_head_scores *sc, const char *path);
void hs_scores_free(hs_head_scores *sc);

/* The calibration text of a prompt is prompt + reference, tokenized and cut to the first
 * max_tokens tokens (o->max_tokens, or the model's context when 0 or larger). */
typedef struct {
    const int32_t *ids; /* (n) */
    int n;
} hs_token_seq;

/* hs_scores_compute on already tokenized calibration sequences (tests, tools): the
 * calibration path and sha256 stay "" and n_prompts is n_seqs. Sequences shorter than 2
 * tokens carry no attention row over 2+ keys and no predicted token, and are skipped.
 * magnitude and random take no sequences (seqs may be NULL). */
hs_status hs_scores_compute_ids(hs_head_scores *out, hs_model *m, const hs_token_seq *seqs,
                                int n_seqs, hs_strategy s, const hs_score_opts *o);
/* Mean ablation's vectors: means (L, H, D) = each head's ungated output averaged over
 * every position of the calibration sequences of 2+ tokens (all gates 1). */
hs_status hs_head_means(const hs_model *m, const hs_token_seq *seqs, int n_seqs, float *means);
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
/* Selection rules (o NULL = defaults: global, no keep-one):
 *   global     the round(pct/100 x L x H) lowest-scoring heads over the whole model;
 *   per_layer  each layer loses its round(pct/100 x H) lowest-scoring heads (the total
 *              is L times that, which can differ from the global count);
 *   keep_one_per_layer  a head is passed over when it is the last live one of its layer
 *              (the global walk goes on to the next lowest head); a level that cannot
 *              be met that way (more than L x (H - 1) heads) is HS_EINPUT. */
/* Parses "L.H,L.H,..." and sets those gates to 0 (others untouched); "" is no head. */
hs_status hs_heads_parse(const char *spec, int L, int H, float *gates);

#endif
