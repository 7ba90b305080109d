/* prune.h: head scores and the head sets that pruning levels switch off.
 *
 * Scores follow one convention: higher = more useful, so a level removes the lowest
 * scores first. Strategies (DESIGN.md, "Pruning"):
 *   entropy   utility 1 - H/ln T of the head's attention rows, averaged over the
 *             calibration prompts (most diffuse attention pruned first)
 *   magnitude L2 norm of the head's Q, K, V columns and c_proj rows
 *   random    a seeded shuffle
 *   ablation  increase in calibration NLL when that head alone is switched off
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
} hs_strategy;

hs_status hs_strategy_parse(const char *s, hs_strategy *out);
const char *hs_strategy_name(hs_strategy s);

typedef struct {
    int L, H;
    double *score;          /* (L, H), higher = more useful */
    hs_strategy strategy;
    uint64_t seed;
    char calibration[512];  /* path of the calibration set ("" for magnitude/random) */
    char calibration_sha256[65];
    char model_sha256[65];
    int n_prompts;          /* calibration prompts used */
} hs_head_scores;

typedef struct {
    int max_prompts;        /* calibration prompts to use at most (0: all) */
    int max_tokens;         /* tokens per calibration prompt at most (0: context) */
    uint64_t seed;          /* random strategy */
} hs_score_opts;

hs_status hs_scores_compute(hs_head_scores *out, hs_model *m, const hs_tokenizer *tok,
                            const hs_prompt_set *calib, hs_strategy s, const hs_score_opts *o);
hs_status hs_scores_save(const hs_head_scores *sc, const char *path);
hs_status hs_scores_load(hs_head_scores *sc, const char *path);
void hs_scores_free(hs_head_scores *sc);

typedef struct {
    int per_layer;          /* rank within each layer instead of globally */
    int keep_one_per_layer; /* never switch off the last head of a layer */
} hs_select_opts;

/* Number of heads a level switches off: round(pct / 100 * L * H) (DESIGN.md). */
int hs_prune_count(double pct, int L, int H);
/* gates (L, H) = 1 for kept heads, 0 for the lowest-scoring heads of the level. Ties
 * break by (layer, head) order so every rank picks the same set. */
hs_status hs_prune_select(const hs_head_scores *sc, double pct, const hs_select_opts *o,
                          float *gates);
/* Parses "L.H,L.H,..." and sets those gates to 0 (others untouched); "" is no head. */
hs_status hs_heads_parse(const char *spec, int L, int H, float *gates);

#endif
