/* plan.c: a study's pruning settings -> head scores per variant -> gates per variant and
 * level (prune.h, "the pruning plan"). The sweep and the subcommands' pruning options
 * both go through here, so a level selects the same heads everywhere. The order of the
 * steps is the caller's: the sweep reads scores files before it takes its output's lock
 * (a bad file is refused before anything is written) and computes scores only for a new
 * results file (a resumed one has them). */
#include <stdlib.h>
#include <string.h>

#include "headsweep/prune.h"

/* ---- the head list ---- */

/* gates (L, H): 1, and 0 for every head of the list. */
static hs_status list_gates(const hs_plan_spec *spec, int L, int H, float *gates)
{
    for (int i = 0; i < L * H; i++) gates[i] = 1.0f;
    hs_status st = hs_heads_parse(spec->heads_off, L, H, gates);
    if (st && spec->heads_off_where) return hs_err_wrap(st, "%s: heads_off", spec->heads_off_where);
    return st;
}

/* The head list, checked against the model, becomes the one level (the percentage of heads
 * it lists) and its canonical spelling. */
static hs_status list_level(hs_prune_plan *p, const hs_plan_spec *spec)
{
    int LH = p->L * p->H, off = 0;
    size_t cap = (size_t)LH * 32 + 1, len = 0; /* ", L.H" with two ints fits 32 bytes */
    float *g = hs_malloc((size_t)LH * sizeof *g, "head list");
    p->heads_off = hs_calloc(cap, 1, "head list");
    hs_status st = g && p->heads_off ? list_gates(spec, p->L, p->H, g) : HS_ENOMEM;
    for (int i = 0; !st && i < LH; i++)
        if (g[i] == 0.0f)
            len += (size_t)snprintf(p->heads_off + len, cap - len, "%s%d.%d", off++ ? ", " : "", i / p->H, i % p->H);
    if (!st) p->levels[0] = 100.0 * off / LH;
    free(g);
    return st;
}

/* ---- set-up ---- */

/* each_head: the study's levels, then one level per head (layer-major) whose only head off
 * is that one; its value is the share of heads it switches off, 100 / (L*H). */
static void single_head_levels(hs_prune_plan *p, int n_listed)
{
    for (int l = 0; l < p->n_levels; l++) p->level_head[l] = l < n_listed ? -1 : l - n_listed;
    for (int l = n_listed; l < p->n_levels; l++) p->levels[l] = 100.0 / (p->L * p->H);
}

/* Levels a variant's selection rules cannot meet whatever the scores (keep_one_per_layer),
 * refused before any score is computed, as hs_prune_plan_select would refuse them after. */
static hs_status check_levels(const hs_prune_plan *p, const hs_plan_spec *spec)
{
    for (int v = 0; !spec->heads_off && v < p->n_variants; v++)
        for (int l = 0; l < p->n_levels; l++) {
            if (p->level_head[l] >= 0) continue; /* each_head: one head, whatever the rules */
            const hs_plan_variant *var = &spec->variants[v];
            hs_status st = hs_prune_check_level(p->levels[l], p->L, p->H, &var->select);
            if (st && spec->levels_where)
                return hs_err_wrap(st, "%s: variant %s, level %g", spec->levels_where, var->name, p->levels[l]);
            if (st) return st;
        }
    return HS_OK;
}

hs_status hs_prune_plan_init(hs_prune_plan *p, const hs_plan_spec *spec, int L, int H)
{
    memset(p, 0, sizeof *p);
    int n_listed = spec->heads_off ? 1 : spec->n_levels;
    p->n_variants = spec->n_variants;
    p->n_single = spec->each_head && !spec->heads_off ? L * H : 0;
    p->n_levels = n_listed + p->n_single;
    p->L = L;
    p->H = H;
    p->strategy = spec->strategy;
    p->score = spec->score;
    size_t nv = (size_t)p->n_variants, LH = (size_t)L * H;
    p->levels = hs_calloc((size_t)p->n_levels, sizeof *p->levels, "levels");
    p->level_head = hs_calloc((size_t)p->n_levels, sizeof *p->level_head, "single-head levels");
    p->vstrategy = hs_calloc(nv, sizeof *p->vstrategy, "variant strategies");
    p->scores = hs_calloc(nv, sizeof *p->scores, "head scores");
    p->scores_sha256 = hs_calloc(nv, sizeof *p->scores_sha256, "scores digests");
    p->gates = hs_malloc(nv * (size_t)p->n_levels * LH * sizeof *p->gates, "gates");
    hs_status st = p->levels && p->level_head && p->vstrategy && p->scores && p->scores_sha256 && p->gates
                       ? HS_OK : HS_ENOMEM;
    for (int v = 0; !st && v < p->n_variants; v++) p->vstrategy[v] = spec->variants[v].strategy;
    if (!st) single_head_levels(p, n_listed);
    if (!st && spec->heads_off) st = list_level(p, spec);
    else if (!st) memcpy(p->levels, spec->levels, (size_t)n_listed * sizeof *p->levels);
    if (!st) st = check_levels(p, spec);
    if (st) hs_prune_plan_free(p);
    return st;
}

void hs_prune_plan_free(hs_prune_plan *p)
{
    if (!p) return;
    for (int v = 0; p->scores && v < p->n_variants; v++) hs_scores_free(&p->scores[v]);
    free(p->scores);
    free(p->levels);
    free(p->level_head);
    free(p->heads_off);
    free(p->vstrategy);
    free(p->scores_sha256);
    free(p->gates);
    memset(p, 0, sizeof *p);
}

int hs_prune_plan_needs_means(const hs_plan_spec *spec)
{
    for (int v = 0; v < spec->n_variants; v++)
        if (!spec->variants[v].scores_path && spec->variants[v].ablation == HS_ABLATION_MEAN) return 1;
    return 0;
}

int hs_prune_plan_needs_calib(const hs_prune_plan *p, const hs_plan_spec *spec)
{
    for (int v = 0; !spec->heads_off && v < p->n_variants; v++)
        if (!spec->variants[v].scores_path && hs_strategy_needs_calib(spec->variants[v].strategy)) return 1;
    return hs_prune_plan_needs_means(spec);
}

const float *hs_prune_plan_means(const hs_prune_plan *p, const hs_plan_spec *spec, int v)
{
    return spec->variants[v].ablation == HS_ABLATION_MEAN ? p->scores[v].means.v : NULL;
}

const float *hs_prune_plan_gates(const hs_prune_plan *p, int v, int l)
{
    return p->gates + ((size_t)v * p->n_levels + l) * p->L * p->H;
}

/* ---- scores ---- */

static hs_status scores_copy(hs_head_scores *dst, const hs_head_scores *src)
{
    size_t LH = (size_t)src->L * src->H;
    *dst = *src;
    dst->means.v = NULL;
    dst->score = hs_malloc(LH * sizeof(double), "head scores");
    if (!dst->score) return HS_ENOMEM;
    memcpy(dst->score, src->score, LH * sizeof(double));
    return hs_head_mean_set_copy(&dst->means, &src->means, src->L, src->H);
}

/* The study's scores file decides the study's strategy, seed and iterative settings. */
static void adopt_study_scores(hs_prune_plan *p, const hs_head_scores *sc)
{
    p->strategy = sc->strategy;
    p->score.seed = sc->seed;
    if (sc->strategy == HS_STRATEGY_ITERATIVE) {
        p->score.iterative_base = sc->base;
        p->score.iterative_step = sc->step;
    }
}

/* Variant v's scores file: read (or shared with an earlier variant naming the same file),
 * checked against the model (shape and sha256) and the strategy given beside it. */
static hs_status read_variant_file(hs_prune_plan *p, const hs_plan_variant *var, int v, hs_model *m)
{
    hs_head_scores *sc = &p->scores[v];
    const hs_plan_variant *all = var - v;
    for (int u = 0; u < v; u++)
        if (all[u].scores_path && !strcmp(all[u].scores_path, var->scores_path)) {
            p->vstrategy[v] = p->scores[u].strategy;
            if (!var->study_scores) memcpy(p->scores_sha256[v], p->scores_sha256[u], sizeof p->scores_sha256[v]);
            else adopt_study_scores(p, &p->scores[u]);
            return scores_copy(sc, &p->scores[u]);
        }
    hs_status st = hs_scores_load(sc, var->scores_path);
    if (!st) st = hs_scores_check_model(sc, m, var->scores_path);
    if (st) return var->scores_where ? hs_err_wrap(st, "%s: scores", var->scores_where) : st;
    if (var->strategy_where && sc->strategy != var->strategy)
        return hs_err(HS_EINPUT, "%s: strategy = %s, but the scores file (%s) holds %s scores", var->strategy_where,
                      hs_strategy_name(var->strategy), var->scores_where ? var->scores_where : var->scores_path,
                      hs_strategy_name(sc->strategy));
    p->vstrategy[v] = sc->strategy;
    if (var->study_scores) {
        adopt_study_scores(p, sc);
        return HS_OK;
    }
    return hs_sha256_file(var->scores_path, p->scores_sha256[v]);
}

/* Mean ablation with a scores file takes the file's means: one computed without them
 * (before they existed, or by a strategy without a calibration set) cannot serve. */
static hs_status check_file_means(const hs_prune_plan *p, const hs_plan_variant *var, int v)
{
    if (var->ablation != HS_ABLATION_MEAN || p->scores[v].means.v) return HS_OK;
    return hs_err(HS_EINPUT, "%s: variant %s has ablation = mean, but its scores file %s holds no head means; "
                             "recompute it with `headsweep score --prompts CALIB --out FILE`, which stores them",
                  var->ablation_where ? var->ablation_where : "ablation", var->name, var->scores_path);
}

hs_status hs_prune_plan_read_files(hs_prune_plan *p, const hs_plan_spec *spec, hs_model *m)
{
    hs_status st = HS_OK;
    for (int v = 0; !st && !spec->heads_off && v < p->n_variants; v++)
        if (spec->variants[v].scores_path) {
            st = read_variant_file(p, &spec->variants[v], v, m);
            if (!st) st = check_file_means(p, &spec->variants[v], v);
        }
    return st;
}

/* "8 of 192 prompts" when calibration_max_prompts takes fewer than the file holds. */
typedef struct {
    char s[64];
} calib_words;

static calib_words calib_count(const hs_prompt_set *calib, const hs_score_opts *o)
{
    calib_words w;
    int used = hs_calib_prompts_used(calib, o);
    if ((size_t)used < calib->n) snprintf(w.s, sizeof w.s, "%d of %zu prompts", used, calib->n);
    else snprintf(w.s, sizeof w.s, "%zu prompts", calib->n);
    return w;
}

static hs_status compute_variant(hs_prune_plan *p, const hs_plan_spec *spec, int v, hs_model *m,
                                 const hs_tokenizer *tok, const hs_prompt_set *calib, FILE *log)
{
    hs_strategy s = spec->variants[v].strategy;
    int uses_calib = hs_strategy_needs_calib(s);
    if (uses_calib && !calib) return hs_err(HS_EINTERNAL, "%s head scores: no calibration set", hs_strategy_name(s));
    if (log && uses_calib)
        fprintf(log, "headsweep: computing %s head scores on %s (%s)\n", hs_strategy_name(s), calib->path,
                calib_count(calib, &spec->score).s);
    else if (log)
        fprintf(log, "headsweep: computing %s head scores\n", hs_strategy_name(s));
    hs_status st = hs_scores_compute(&p->scores[v], m, tok, uses_calib ? calib : NULL, s, &p->score);
    return st ? hs_err_wrap(st, "%s head scores", hs_strategy_name(s)) : HS_OK;
}

/* One average of the head outputs over the calibration set, for every variant that
 * computes its scores and uses mean ablation (the means do not depend on the strategy). */
static hs_status compute_means(hs_prune_plan *p, const hs_plan_spec *spec, const hs_model *m,
                               const hs_tokenizer *tok, const hs_prompt_set *calib, FILE *log)
{
    if (!hs_prune_plan_needs_means(spec)) return HS_OK;
    if (!calib) return hs_err(HS_EINTERNAL, "head means: no calibration set");
    if (log)
        fprintf(log, "headsweep: computing head means on %s (%s)\n", calib->path, calib_count(calib, &spec->score).s);
    hs_head_mean_set ms;
    hs_status st = hs_head_mean_set_compute(&ms, m, tok, calib, &spec->score);
    for (int v = 0; !st && v < p->n_variants; v++) {
        const hs_plan_variant *var = &spec->variants[v];
        if (var->scores_path || var->ablation != HS_ABLATION_MEAN) continue;
        hs_head_mean_set_free(&p->scores[v].means);
        st = hs_head_mean_set_copy(&p->scores[v].means, &ms, p->L, p->H);
    }
    hs_head_mean_set_free(&ms);
    return st;
}

hs_status hs_prune_plan_compute(hs_prune_plan *p, const hs_plan_spec *spec, hs_model *m, const hs_tokenizer *tok,
                                const hs_prompt_set *calib, FILE *log)
{
    for (int v = 0; !spec->heads_off && v < p->n_variants; v++) {
        if (spec->variants[v].scores_path) continue;
        int same = -1; /* an earlier variant computed with the same strategy shares its scores */
        for (int u = 0; u < v && same < 0; u++)
            if (!spec->variants[u].scores_path && spec->variants[u].strategy == spec->variants[v].strategy) same = u;
        hs_status st = same >= 0 ? scores_copy(&p->scores[v], &p->scores[same])
                                 : compute_variant(p, spec, v, m, tok, calib, log);
        if (st) return st;
    }
    return compute_means(p, spec, m, tok, calib, log);
}

hs_status hs_prune_plan_set_scores(hs_prune_plan *p, int v, hs_head_scores *sc)
{
    if (sc->L != p->L || sc->H != p->H)
        return hs_err(HS_EINTERNAL, "variant %d: scores for %d x %d heads, the plan has %d x %d", v, sc->L, sc->H,
                      p->L, p->H);
    hs_scores_free(&p->scores[v]);
    p->scores[v] = *sc;
    memset(sc, 0, sizeof *sc);
    return HS_OK;
}

/* ---- gates ---- */

/* A head list: the same gates for every variant, and scores that say the same as the list
 * (0 for a listed head, 1 for the others) for the results file. */
static hs_status select_list(hs_prune_plan *p, const hs_plan_spec *spec)
{
    size_t LH = (size_t)p->L * p->H;
    for (int v = 0; v < p->n_variants; v++) {
        hs_status st = list_gates(spec, p->L, p->H, p->gates + v * LH);
        if (st) return st;
        hs_head_scores *sc = &p->scores[v];
        hs_head_mean_set means = sc->means; /* mean ablation of the listed heads keeps its means */
        memset(&sc->means, 0, sizeof sc->means);
        hs_scores_free(sc);
        sc->L = p->L;
        sc->H = p->H;
        sc->means = means;
        if (!(sc->score = hs_malloc(LH * sizeof(double), "head scores"))) return HS_ENOMEM;
        for (size_t i = 0; i < LH; i++) sc->score[i] = p->gates[i];
    }
    return HS_OK;
}

hs_status hs_prune_plan_select(hs_prune_plan *p, const hs_plan_spec *spec)
{
    if (spec->heads_off) return select_list(p, spec);
    size_t LH = (size_t)p->L * p->H;
    for (int v = 0; v < p->n_variants; v++) {
        const hs_plan_variant *var = &spec->variants[v];
        if (!p->scores[v].score) return hs_err(HS_EINTERNAL, "variant %s: gates selected before its scores", var->name);
        for (int l = 0; l < p->n_levels; l++) {
            float *g = p->gates + (v * p->n_levels + l) * LH;
            if (p->level_head[l] >= 0) { /* each_head: that head alone, whatever the strategy */
                for (size_t i = 0; i < LH; i++) g[i] = i == (size_t)p->level_head[l] ? 0.0f : 1.0f;
                continue;
            }
            hs_status st = hs_prune_select(&p->scores[v], p->levels[l], &var->select, g);
            if (st && spec->levels_where)
                return hs_err_wrap(st, "%s: variant %s, level %g", spec->levels_where, var->name, p->levels[l]);
            if (st) return st;
        }
    }
    return HS_OK;
}
