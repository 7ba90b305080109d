/* effects.h: individual and cumulative head effects of an each_head study (docs/pruning.md,
 * "Each head alone"; docs/report.md, "Each head alone").
 *
 * - A head's individual effect in a variant: the per-token NLL difference of the reference
 *   texts with that head alone switched off against the variant's unpruned level (level 0),
 *   sum_i w_i ln(a_i / b_i) / sum_i w_i over the prompts done in both (w_i the prompt's
 *   reference tokens): the corpus perplexity comparison of analyze.c, so 100 (exp(D) - 1) is
 *   the change of the corpus perplexity in percent. Interval: the paired percentile bootstrap
 *   of that ratio over prompts (hs_bootstrap_ratio).
 * - The interaction at a level of the strategies: its cumulative effect (the same difference
 *   for the level's head set) minus the sum of the individual effects of the heads in the set,
 *   per prompt z_i = w_i [ln(c_i / b_i) - sum_h ln(a_hi / b_i)], estimated as sum z / sum w over
 *   the prompts done in every cell involved, with the same bootstrap. 0 means the heads' effects
 *   add up; above 0 they compound, below 0 they overlap (removing one makes another matter less).
 * Each bootstrap is seeded by hs_stream_seed(seed, key) with the key in the CSV files. */
#ifndef HS_REPORT_EFFECTS_H
#define HS_REPORT_EFFECTS_H

#include <stdio.h>

#include "analyze.h"
#include "figures.h"

typedef struct {
    int v, l;       /* variant and level index in the report's study */
    int n_off;      /* heads the level switches off */
    int n_missing;  /* of those, heads without a single-head level in the study */
    double cum;     /* cumulative effect (nats per token) on the prompts used */
    double sum;     /* sum of the individual effects on the same prompts */
    hs_ci ci;       /* interaction cum - sum, nats per token; ci.n = prompts used */
} hs_head_interaction;

typedef struct {
    const hs_study *st;     /* the report's study (levels of the strategies) */
    const hs_study *single; /* its single-head levels (hs_study_split_heads) */
    int L, H, nv;
    int *ref;               /* (nv) level index of the variant's unpruned reference, -1 none */
    hs_ci *effect;          /* (nv, L*H) individual effects, nats per token; ci.n = 0 not measured */
    int n_inter;
    hs_head_interaction *inter; /* (n_inter) every (variant, level) with heads off and a reference */
} hs_effects;

/* Computes every effect and interaction (r: options and the study; single: its single-head
 * levels, same variants and prompts). */
hs_status hs_effects_compute(hs_effects *e, const hs_report *r, const hs_study *single);
void hs_effects_free(hs_effects *e);

/* head_effects.csv and head_interactions.csv in r->opt.out. */
hs_status hs_effects_write_csv(const hs_effects *e, const hs_report *r);
/* One heat map per variant with effects (head_effects_<variant>), added to figs and rendered
 * when figs->attempted. */
hs_status hs_effects_figures(const hs_effects *e, const hs_report *r, hs_figures *figs);
/* REPORT.md's section "Each head alone". */
void hs_effects_md(FILE *f, const hs_effects *e);

#endif
