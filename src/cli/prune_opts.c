/* prune_opts.c: the shared pruning options of the subcommands (prune_opts.h) and their
 * translation into head gates: an explicit list, or a level over head scores that are
 * read from a file or computed on a calibration set on the spot, through the same pruning
 * plan as the sweep (src/prune/plan.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "headsweep/prompts.h"
#include "headsweep/prune.h"
#include "prune_opts.h"

void hs_cli_prune_init(hs_prune_cli *o)
{
    memset(o, 0, sizeof *o);
    o->prune_level = -1.0;
}

static int parse_strategy(const hs_opt *p, const char *s, const char **out)
{
    hs_strategy st;
    if (hs_strategy_parse(s, &st)) return hs_opt_error(p, "--strategy: %s", hs_err_msg());
    *out = s;
    return 0;
}

int hs_cli_prune_parse_opt(const hs_opt *p, hs_prune_cli *o, int opt_code, const char *arg)
{
    switch (opt_code) {
    case HS_OPT_HEADS_OFF: o->heads_off = arg; return 0;
    case HS_OPT_PRUNE_LEVEL:
        if (hs_opt_parse_double(arg, "--prune-level", 0, 100, &o->prune_level))
            return hs_opt_error(p, "%s", hs_err_msg());
        return 0;
    case HS_OPT_STRATEGY: return parse_strategy(p, arg, &o->strategy);
    case HS_OPT_SCORES: o->scores_file = arg; return 0;
    case HS_OPT_CALIB: o->calib = arg; return 0;
    case HS_OPT_PER_LAYER: o->per_layer = 1; return 0;
    case HS_OPT_KEEP_ONE: o->keep_one = 1; return 0;
    case HS_OPT_PRUNE_SEED: return hs_cli_parse_u64(p, arg, "--prune-seed", &o->seed) ? 2 : 0;
    default: return 1;
    }
}

int hs_cli_prune_requested(const hs_prune_cli *o)
{
    return o->heads_off != NULL || o->prune_level >= 0.0;
}

static hs_status check_combination(const hs_prune_cli *o)
{
    if (o->heads_off && o->prune_level >= 0.0)
        return hs_err(HS_EINPUT, "give --heads-off or --prune-level, not both");
    if (o->prune_level < 0.0 && (o->strategy || o->scores_file || o->calib || o->per_layer || o->keep_one))
        return hs_err(HS_EINPUT,
                      "--strategy, --scores, --calib, --per-layer and --keep-one-per-layer need --prune-level");
    return HS_OK;
}

/* The calibration file: --calib, else the default set when it is readable. */
static hs_status calib_path(const hs_prune_cli *o, hs_strategy s, const char **out)
{
    if (o->calib) *out = o->calib;
    else if (access(HS_DEFAULT_CALIB, R_OK) == 0) *out = HS_DEFAULT_CALIB;
    else
        return hs_err(HS_EINPUT, "--prune-level with --strategy %s needs head scores: give --scores FILE "
                                 "(from `headsweep score --out FILE`) or --calib FILE (no %s here)",
                      hs_strategy_name(s), HS_DEFAULT_CALIB);
    return HS_OK;
}

/* Scores computed on the spot: the calibration set (and a tokenizer when the caller has
 * none) only for the strategies that run prompts; --calib is ignored by magnitude and
 * random, so one command line serves a loop over strategies. */
static hs_status compute_scores(const hs_prune_cli *o, hs_prune_plan *plan, const hs_plan_spec *spec, hs_model *m,
                                const hs_tokenizer *tok)
{
    if (!hs_prune_plan_needs_calib(plan, spec)) return hs_prune_plan_compute(plan, spec, m, NULL, NULL, NULL);
    const char *path = NULL;
    hs_prompt_set set;
    hs_tokenizer *own = NULL;
    hs_status st = calib_path(o, spec->strategy, &path);
    if (st || (st = hs_prompts_load(&set, path))) return st;
    if (!tok) st = hs_tokenizer_load(&own, m->dir);
    if (!st) st = hs_prune_plan_compute(plan, spec, m, tok ? tok : own, &set, stderr);
    hs_tokenizer_free(own);
    hs_prompts_free(&set);
    return st;
}

/* The options as a one-variant, one-level plan (prune.h): the sweep's code path. */
static hs_status plan_gates(const hs_prune_cli *o, hs_model *m, const hs_tokenizer *tok, float *gates)
{
    hs_plan_variant var = {"", HS_STRATEGY_ENTROPY, o->strategy ? "--strategy" : NULL, o->scores_file, NULL, 1,
                           {o->per_layer, o->keep_one}, HS_ABLATION_ZERO, NULL};
    if (o->strategy && hs_strategy_parse(o->strategy, &var.strategy)) return HS_EINPUT;
    hs_plan_spec spec = {&var, 1, &o->prune_level, 1, NULL, o->heads_off, NULL, 0, var.strategy,
                         {0, 0, o->seed, NULL, HS_STRATEGY_GRADIENT, 10.0}};
    hs_prune_plan plan;
    hs_status st = hs_prune_plan_init(&plan, &spec, m->cfg.n_layer, m->cfg.n_head);
    if (st) return st;
    if (!o->heads_off) st = o->scores_file ? hs_prune_plan_read_files(&plan, &spec, m)
                                            : compute_scores(o, &plan, &spec, m, tok);
    if (!st) st = hs_prune_plan_select(&plan, &spec);
    if (!st) memcpy(gates, hs_prune_plan_gates(&plan, 0, 0), (size_t)plan.L * plan.H * sizeof *gates);
    hs_prune_plan_free(&plan);
    return st;
}

int hs_cli_prune_gates(const hs_prune_cli *o, hs_model *m, const hs_tokenizer *tok, float *gates)
{
    int L = m->cfg.n_layer, H = m->cfg.n_head;
    for (int i = 0; i < L * H; i++) gates[i] = 1.0f;
    hs_status st = check_combination(o);
    if (!st && hs_cli_prune_requested(o)) st = plan_gates(o, m, tok, gates);
    return st ? hs_cli_fail(st) : 0;
}
