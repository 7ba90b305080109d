/* prune_opts.h: the pruning options every model-running subcommand accepts, parsed the
 * same way everywhere and turned into head gates.
 *
 *   --heads-off "L.H,..."   exactly these heads off
 *   --prune-level P         switch off round(P/100 x L x H) heads (0 <= P <= 100) ranked by
 *   --strategy S            entropy (default), magnitude, random, ablation, gradient or
 *                           taylor, with scores
 *   --scores FILE           read from FILE (`headsweep score --out FILE`), or computed now
 *   --calib FILE            on these calibration prompts (default jobs/prompts/kjv_calib.jsonl
 *                           when it exists; magnitude and random need none)
 *   --per-layer             every layer loses round(P/100 x H) heads instead
 *   --keep-one-per-layer    never switch off the last head of a layer
 *   --prune-seed N          seed of the random strategy (default 0)
 *
 * Use in a subcommand:
 *     hs_prune_cli po;
 *     hs_cli_prune_init(&po);
 *     static const struct option opts[] = {HS_PRUNE_LONG_OPTIONS, {"model", ...}, {0, 0, 0, 0}};
 *     hs_cli_opt_init(&p, "logits", usage, NULL, opts);
 *     while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
 *         if (c == HS_OPT_EXIT) return rc;
 *         int r = hs_cli_prune_parse_opt(&p, &po, c, optarg);
 *         if (r == 2) return 2;
 *         if (r == 0) continue;
 *         ... the subcommand's own options ...
 *     }
 *     ... load the model ...
 *     int rc = hs_cli_prune_gates(&po, &m, tok, gates);
 *     if (rc) return rc;
 */
#ifndef HEADSWEEP_CLI_PRUNE_OPTS_H
#define HEADSWEEP_CLI_PRUNE_OPTS_H

#include <stdint.h>

#include "headsweep/cliopt.h"

#include "headsweep/model.h"
#include "headsweep/tokenizer.h"

/* Default calibration set, relative to the current directory. */
#define HS_DEFAULT_CALIB "jobs/prompts/kjv_calib.jsonl"

typedef struct {
    const char *heads_off;   /* --heads-off, NULL when unset */
    double prune_level;      /* --prune-level in [0, 100], < 0 when unset */
    const char *strategy;    /* --strategy, NULL = entropy */
    const char *scores_file; /* --scores, NULL = compute */
    const char *calib;       /* --calib, NULL = HS_DEFAULT_CALIB if it exists */
    int per_layer;           /* --per-layer */
    int keep_one;            /* --keep-one-per-layer */
    uint64_t seed;           /* --prune-seed, random strategy */
} hs_prune_cli;

/* getopt_long codes of the pruning options; subcommands keep their own codes below 2000. */
enum {
    HS_OPT_HEADS_OFF = 2000,
    HS_OPT_PRUNE_LEVEL,
    HS_OPT_STRATEGY,
    HS_OPT_SCORES,
    HS_OPT_CALIB,
    HS_OPT_PER_LAYER,
    HS_OPT_KEEP_ONE,
    HS_OPT_PRUNE_SEED,
};

/* Entries for a subcommand's struct option array (put them first, end with {0,0,0,0}). */
#define HS_PRUNE_LONG_OPTIONS                                                                \
    {"heads-off", required_argument, 0, HS_OPT_HEADS_OFF},                                   \
        {"prune-level", required_argument, 0, HS_OPT_PRUNE_LEVEL},                           \
        {"strategy", required_argument, 0, HS_OPT_STRATEGY},                                 \
        {"scores", required_argument, 0, HS_OPT_SCORES},                                     \
        {"calib", required_argument, 0, HS_OPT_CALIB},                                       \
        {"per-layer", no_argument, 0, HS_OPT_PER_LAYER},                                     \
        {"keep-one-per-layer", no_argument, 0, HS_OPT_KEEP_ONE},                             \
        {"prune-seed", required_argument, 0, HS_OPT_PRUNE_SEED}

/* Lines for a subcommand's usage text. */
#define HS_PRUNE_USAGE                                                                       \
    "pruning (give --heads-off or --prune-level, not both):\n"                               \
    "  --heads-off \"L.H,...\"   switch these heads off\n"                                   \
    "  --prune-level P         switch off round(P/100 x layers x heads) lowest-scoring heads\n" \
    "  --strategy S            entropy (default), magnitude, random, ablation, gradient,\n"  \
    "                          taylor\n"                                                     \
    "  --scores FILE           scores from `headsweep score --out FILE` (else computed now)\n" \
    "  --calib FILE            calibration prompts for entropy/ablation/gradient/taylor\n"                   \
    "                          (default " HS_DEFAULT_CALIB " when it exists)\n"              \
    "  --per-layer             every layer loses round(P/100 x heads) heads\n"               \
    "  --keep-one-per-layer    never switch off the last head of a layer\n"                  \
    "  --prune-seed N          seed of the random strategy (default 0)\n"

/* No pruning: all fields unset. */
void hs_cli_prune_init(hs_prune_cli *o);
/* Handles one hs_opt_next result: 0 when it was a pruning option, 1 when it is not one,
 * 2 when its value is bad (a usage error of p printed). */
int hs_cli_prune_parse_opt(const hs_opt *p, hs_prune_cli *o, int opt_code, const char *optarg_value);
/* 1 when any pruning was asked for (--heads-off or --prune-level). */
int hs_cli_prune_requested(const hs_prune_cli *o);
/* Fills gates (L, H) from the options: all 1 when no pruning was asked for. tok may be
 * NULL: a tokenizer is then loaded from the model directory if calibration needs one.
 * Returns an exit code: 0 ok, 2 bad input, 1 other failure (message printed). */
int hs_cli_prune_gates(const hs_prune_cli *o, hs_model *m, const hs_tokenizer *tok, float *gates);

#endif
