/* cmd_score.c: `headsweep score`: head scores of a model for one strategy, printed as a
 * layer x head table with the order in which pruning levels switch heads off, and saved
 * as JSON (--out) for `--scores FILE` and a sweep job's `[pruning] scores = FILE`. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cmd_score.h"
#include "headsweep/prompts.h"
#include "headsweep/prune.h"
#include "headsweep/tokenizer.h"

static const char score_usage[] =
    "usage: headsweep score --model DIR --prompts FILE --strategy S [--out FILE] [--seed N]\n"
    "                       [--max-prompts N] [--max-tokens N]\n"
    "Computes one score per attention head (higher = more useful; pruning levels switch\n"
    "off the lowest first), prints them as a layer x head table with the pruning order,\n"
    "and writes them as JSON with --out (for --scores FILE and [pruning] scores = FILE\n"
    "in sweep jobs, which then reuse them for every variant).\n"
    "  --strategy S      entropy: mean 1 - H/ln T of the head's attention rows\n"
    "                    magnitude: L2 norm of the head's Q, K, V and c_proj weights\n"
    "                    random: seeded shuffle (--seed)\n"
    "                    ablation: calibration NLL increase with the head alone off\n"
    "                    gradient: sum over calibration sequences of |dNLL/d gate|,\n"
    "                    unit L2 norm per layer (Michel et al. 2019)\n"
    "                    taylor: -dNLL/d gate, first-order estimate of ablation\n"
    "                    iterative: removal rank of iterative pruning: switch off\n"
    "                    the --step lowest heads by --base, re-score the rest, repeat\n"
    "  --prompts FILE    calibration prompts (JSONL; prompt + reference text is scored);\n"
    "                    required for all but magnitude and random; never the\n"
    "                    evaluation prompts. With it, --out also stores each head's\n"
    "                    mean output over these prompts, for ablation = mean\n"
    "  --max-prompts N   use the first N prompts (default all)\n"
    "  --max-tokens N    cut each calibration text to N tokens (default the context)\n"
    "  --seed N          seed of the random strategy (default 0)\n"
    "  --base S          iterative: the strategy that re-scores the heads still on\n"
    "                    (default gradient)\n"
    "  --step P          iterative: percent of heads switched off per round (default 10)\n";

typedef struct {
    const char *model, *prompts, *strategy, *out;
    hs_score_opts so;
} score_opts;

enum { O_MODEL = 1, O_PROMPTS, O_STRATEGY, O_OUT, O_SEED, O_MAX_PROMPTS, O_MAX_TOKENS, O_BASE, O_STEP };

static int parse_base(const hs_opt *p, const char *arg, hs_strategy *out)
{
    if (hs_strategy_parse(arg, out) || *out == HS_STRATEGY_ITERATIVE)
        return hs_opt_error(p, "--base: '%s': expected entropy, magnitude, random, ablation, gradient or taylor", arg);
    return 0;
}

static int parse_step(const hs_opt *p, const char *arg, double *out)
{
    float v;
    if (hs_cli_parse_float(p, arg, "--step", 0.0, 100.0, &v)) return 2;
    if (!(v > 0)) return hs_opt_error(p, "--step: must be above 0 percent");
    *out = v;
    return 0;
}

/* 0 handled, 2 bad value (usage error printed). */
static int score_opt(const hs_opt *p, score_opts *o, int c, const char *arg)
{
    switch (c) {
    case O_MODEL: o->model = arg; return 0;
    case O_PROMPTS: o->prompts = arg; return 0;
    case O_STRATEGY: o->strategy = arg; return 0;
    case O_OUT: o->out = arg; return 0;
    case O_SEED: return hs_cli_parse_u64(p, arg, "--seed", &o->so.seed) ? 2 : 0;
    case O_BASE: return parse_base(p, arg, &o->so.iterative_base);
    case O_STEP: return parse_step(p, arg, &o->so.iterative_step);
    case O_MAX_PROMPTS: return hs_cli_parse_int(p, arg, "--max-prompts", 1, 1 << 30, &o->so.max_prompts) ? 2 : 0;
    case O_MAX_TOKENS: return hs_cli_parse_int(p, arg, "--max-tokens", 2, 1 << 30, &o->so.max_tokens) ? 2 : 0;
    default: return hs_opt_error(p, "option code %d is not handled (a bug)", c);
    }
}

/* 0 to go on, -1 after --help or --version, else the exit code of a usage error. */
static int parse_args(score_opts *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL},         {"prompts", required_argument, 0, O_PROMPTS},
        {"strategy", required_argument, 0, O_STRATEGY},   {"out", required_argument, 0, O_OUT},
        {"seed", required_argument, 0, O_SEED},           {"max-prompts", required_argument, 0, O_MAX_PROMPTS},
        {"max-tokens", required_argument, 0, O_MAX_TOKENS}, {"base", required_argument, 0, O_BASE},
        {"step", required_argument, 0, O_STEP},           {0, 0, 0, 0}};
    int c, rc;
    hs_opt p;
    memset(o, 0, sizeof *o);
    o->so.iterative_base = HS_STRATEGY_GRADIENT;
    o->so.iterative_step = 10.0;
    hs_cli_opt_init(&p, "score", score_usage, NULL, opts);
    while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        if (c == HS_OPT_EXIT) return rc ? rc : -1;
        if (score_opt(&p, o, c, optarg)) return 2;
    }
    if (hs_opt_operands(&p, argc, 0, 0, "score takes no operands")) return 2;
    if (!o->model || !o->strategy) return hs_opt_error(&p, "--model and --strategy are required");
    return 0;
}

static void print_table(const hs_head_scores *sc)
{
    printf("layer");
    for (int h = 0; h < sc->H; h++) {
        char label[16];
        snprintf(label, sizeof label, "h%d", h);
        printf(" %13s", label);
    }
    printf("\n");
    for (int l = 0; l < sc->L; l++) {
        printf("%5d", l);
        for (int h = 0; h < sc->H; h++) printf(" %13.6g", sc->score[l * sc->H + h]);
        printf("\n");
    }
}

/* The removal order, H heads a line, each line starting with the rank of its first. */
static hs_status print_order(const hs_head_scores *sc)
{
    int n = sc->L * sc->H;
    int *order = hs_malloc((size_t)n * sizeof *order, "head order");
    if (!order) return HS_ENOMEM;
    hs_status st = hs_prune_order(sc, order);
    if (!st) {
        printf("pruning order (rank: layer.head, switched off first to last):\n");
        for (int i = 0; i < n; i++) {
            if (i % sc->H == 0) printf("%5d:", i + 1);
            printf(" %d.%d", order[i] / sc->H, order[i] % sc->H);
            if ((i + 1) % sc->H == 0 || i + 1 == n) printf("\n");
        }
    }
    free(order);
    return st;
}

static void print_header(const hs_head_scores *sc, const char *model)
{
    printf("# %s head scores of %s (model sha256 %.16s...)\n", hs_strategy_name(sc->strategy),
           model, sc->model_sha256);
    if (sc->strategy == HS_STRATEGY_RANDOM) printf("# seed %" PRIu64 "\n", sc->seed);
    if (sc->strategy == HS_STRATEGY_ITERATIVE)
        printf("# re-scored by %s every %g%% of heads; score = removal rank\n", hs_strategy_name(sc->base), sc->step);
    if (hs_strategy_needs_calib(sc->strategy))
        printf("# calibration %s: %d prompts (sha256 %.16s...)\n", sc->calibration, sc->n_prompts,
               sc->calibration_sha256);
    if (sc->means.v)
        printf("# head means (ablation = mean) over %s: %d prompts\n", sc->means.calibration, sc->means.n_prompts);
    printf("# higher = more useful; a level switches off the lowest scores first\n");
}

/* Loads what the strategy needs and computes the scores; with a calibration set also the
 * head means (mean ablation), saved beside the scores. */
static hs_status compute(const score_opts *o, hs_strategy s, hs_model *m, hs_head_scores *sc)
{
    if (!o->prompts && !hs_strategy_needs_calib(s)) return hs_scores_compute(sc, m, NULL, NULL, s, &o->so);
    if (!o->prompts)
        return hs_err(HS_EINPUT, "--strategy %s needs --prompts FILE (calibration prompts)", o->strategy);
    hs_prompt_set set;
    hs_tokenizer *tok = NULL;
    hs_status st = hs_prompts_load(&set, o->prompts);
    if (st) return st;
    st = hs_tokenizer_load(&tok, o->model);
    if (!st) st = hs_scores_compute(sc, m, tok, &set, s, &o->so);
    if (!st) st = hs_head_mean_set_compute(&sc->means, m, tok, &set, &o->so);
    hs_tokenizer_free(tok);
    hs_prompts_free(&set);
    return st;
}

int hs_cmd_score(int argc, char **argv)
{
    score_opts o;
    int rc = parse_args(&o, argc, argv);
    if (rc) return rc < 0 ? 0 : rc;
    hs_strategy s;
    hs_model m;
    hs_head_scores sc;
    memset(&sc, 0, sizeof sc);
    hs_status st = hs_strategy_parse(o.strategy, &s);
    if (!st && o.out) st = hs_out_path_check(o.out); /* before minutes of scoring, not after */
    if (st) return hs_cli_fail(st);
    if ((st = hs_model_load(&m, o.model, NULL))) return hs_cli_fail(st);
    st = compute(&o, s, &m, &sc);
    if (!st) {
        print_header(&sc, o.model);
        print_table(&sc);
        st = print_order(&sc);
    }
    if (!st && o.out) st = hs_scores_save(&sc, o.out);
    if (!st && o.out) fprintf(stderr, "headsweep: wrote %s\n", o.out);
    hs_scores_free(&sc);
    hs_model_free(&m);
    return st ? hs_cli_fail(st) : 0;
}
