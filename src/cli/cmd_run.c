/* cmd_run.c: `headsweep logits`, `generate` and `ppl`: one model, one sequence, with
 * optional head gates. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "prune_opts.h"
#include "headsweep/eval.h"
#include "headsweep/model.h"
#include "headsweep/prune.h"
#include "headsweep/tokenizer.h"

/* Options every model-running subcommand shares. */
typedef struct {
    const char *model_dir;
    hs_prune_cli prune;
    hs_gating gating;
    int gating_set; /* --gating given */
    int agency;
    hs_sample_params sp;
    int truncate;
    hs_model_opts load; /* --weights, --huge-pages */
    int threads;  /* --threads N (0: 1) */
} run_opts;

enum { O_MODEL = 1000, O_GATING, O_AGENCY, O_MAX_NEW, O_TEMP, O_TOPK, O_TOPP, O_SEED,
       O_IDS, O_PROMPT, O_CONT, O_TRUNC, O_WEIGHTS, O_THREADS, O_HUGE };

/* Engine options of every model-running subcommand (appended to each usage). */
#define RUN_USAGE                                                                                \
    "Engine: --weights f32|bf16|int8|w8a8 (bf16: weight matrices rounded to bfloat16, half\n"   \
    "        the bytes read per token; int8: int8 with a scale per row, about a quarter;\n"      \
    "        w8a8: int8 weights and activations, integer dot products (VNNI), same bytes),\n"  \
    "        --threads N (threads for the forward pass; default 1),\n"                           \
    "        --huge-pages (a private copy of the weights on 2 MB pages: fewer TLB misses).\n"

#define RUN_OPTIONS                                                                         \
    HS_PRUNE_LONG_OPTIONS, {"model", required_argument, 0, O_MODEL},                          \
        {"gating", required_argument, 0, O_GATING},                                               \
        {"weights", required_argument, 0, O_WEIGHTS}, {"threads", required_argument, 0, O_THREADS}, \
        {"huge-pages", no_argument, 0, O_HUGE}

/* Handles a shared option; returns 0 when handled, 2 on a bad value (usage error printed).
 * Every option hs_opt_next returns is one of these or the caller's own. */
static int run_opt(const hs_opt *p, run_opts *o, int c, const char *arg)
{
    int r = hs_cli_prune_parse_opt(p, &o->prune, c, arg);
    if (r != 1) return r;
    switch (c) {
    case O_MODEL: o->model_dir = arg; return 0;
    case O_GATING:
        o->gating_set = 1;
        return hs_gating_parse(arg, &o->gating) ? hs_opt_error(p, "%s", hs_err_msg()) : 0;
    case O_AGENCY: o->agency = 1; return 0;
    case O_TRUNC: o->truncate = 1; return 0;
    case O_HUGE: o->load.huge_pages = 1; return 0;
    case O_THREADS: return hs_cli_parse_int(p, arg, "--threads", 1, 1024, &o->threads) ? 2 : 0;
    case O_WEIGHTS:
        if (hs_weights_parse(arg, &o->load.weights))
            return hs_opt_error(p, "--weights %s: expected f32, bf16, int8 or w8a8", arg);
        return 0;
    case O_MAX_NEW: return hs_cli_parse_int(p, arg, "--max-new", 1, 1 << 20, &o->sp.max_new) ? 2 : 0;
    case O_TEMP: return hs_cli_parse_float(p, arg, "--temperature", 0, 100, &o->sp.temperature) ? 2 : 0;
    case O_TOPK: return hs_cli_parse_int(p, arg, "--top-k", 0, 1 << 24, &o->sp.top_k) ? 2 : 0;
    case O_TOPP: return hs_cli_parse_float(p, arg, "--top-p", 1e-6, 1, &o->sp.top_p) ? 2 : 0;
    case O_SEED: return hs_cli_parse_u64(p, arg, "--seed", &o->sp.seed) ? 2 : 0;
    default: return hs_opt_error(p, "option code %d is not handled (a bug)", c);
    }
}

/* Loaded model, gates and context for one run. */
typedef struct {
    hs_model m;
    hs_tokenizer *tok;
    float *gates;
    hs_ctx *ctx;
} run_env;

static void env_free(run_env *e)
{
    hs_ctx_free(e->ctx);
    free(e->gates);
    hs_tokenizer_free(e->tok);
    hs_model_free(&e->m);
}

/* Loads the model (and tokenizer) and computes the gates; decode: token-by-token
 * generation follows, which reads latency mode's batch-1 panels. Returns an exit code: the
 * pruning helper prints its own messages, so errors are reported here. */
static int env_load(run_env *e, const run_opts *o, int need_tok, int decode)
{
    memset(e, 0, sizeof *e);
    hs_model_set_threads(o->threads > 0 ? o->threads : 1);
    hs_model_opts load = o->load;
    load.head_major = decode && o->gating == HS_GATING_SKIP; /* skip mode's one-token decode reads it */
    load.panels = decode;
    hs_status st = hs_model_load(&e->m, o->model_dir, &load);
    if (!st && need_tok) st = hs_tokenizer_load(&e->tok, o->model_dir);
    int LH = e->m.cfg.n_layer * e->m.cfg.n_head;
    if (!st && !(e->gates = hs_malloc((size_t)LH * sizeof(float), "gates"))) st = HS_ENOMEM;
    if (st) return hs_cli_fail(st);
    return hs_cli_prune_gates(&o->prune, &e->m, e->tok, e->gates);
}

static hs_status env_ctx(run_env *e, const run_opts *o, int max_t)
{
    if (max_t > e->m.cfg.n_positions) max_t = e->m.cfg.n_positions;
    hs_status st = hs_ctx_init(&e->ctx, &e->m, max_t, o->gating);
    if (!st) st = hs_ctx_set_gates(e->ctx, e->gates);
    return st;
}

/* ---- logits ---- */

static const char logits_usage[] =
    "usage: headsweep logits --model DIR --ids \"464 2068 ...\" [--heads-off \"L.H,...\"]\n"
    "                        [--gating mask|skip] [pruning options]\n"
    "Prints the last position's logits, one per line (%.9g).\n" HS_PRUNE_USAGE RUN_USAGE;

static int logits_run(const run_opts *o, const int32_t *ids, int n)
{
    run_env e;
    int rc = env_load(&e, o, 0, 0);
    if (rc) return env_free(&e), rc;
    hs_status st = HS_OK;
    if (n > e.m.cfg.n_positions)
        st = hs_err(HS_EINPUT, "--ids: %d tokens exceed the context of %d", n, e.m.cfg.n_positions);
    if (!st) st = env_ctx(&e, o, n);
    float *logits = st ? NULL : hs_malloc((size_t)e.m.cfg.vocab_size * sizeof(float), "logits");
    if (!st && !logits) st = HS_ENOMEM;
    if (!st) st = hs_ctx_forward(e.ctx, ids, n, logits, 0);
    if (!st)
        for (int v = 0; v < e.m.cfg.vocab_size; v++) printf("%.9g\n", logits[v]);
    free(logits);
    env_free(&e);
    return st ? hs_cli_fail(st) : 0;
}

int hs_cmd_logits(int argc, char **argv)
{
    run_opts o = {0};
    hs_cli_prune_init(&o.prune);
    hs_sample_params_default(&o.sp);
    const char *ids_s = NULL;
    static const struct option opts[] = {RUN_OPTIONS, {"ids", required_argument, 0, O_IDS}, {0, 0, 0, 0}};
    int c, rc;
    hs_opt p;
    hs_cli_opt_init(&p, "logits", logits_usage, NULL, opts);
    while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        if (c == HS_OPT_EXIT) return rc;
        if (c == O_IDS) ids_s = optarg;
        else if (run_opt(&p, &o, c, optarg)) return 2;
    }
    if (hs_opt_operands(&p, argc, 0, 0, "logits takes no operands (the ids are --ids LIST)")) return 2;
    if (!o.model_dir || !ids_s) return hs_opt_error(&p, "--model and --ids are required");
    int32_t *ids;
    int n;
    if (hs_cli_parse_ids(ids_s, &ids, &n)) return 2;
    rc = logits_run(&o, ids, n);
    free(ids);
    return rc;
}

/* ---- generate ---- */

static const char gen_usage[] =
    "usage: headsweep generate --model DIR --prompt TEXT [--max-new N] [--temperature T]\n"
    "                          [--top-k K] [--top-p P] [--seed S] [--heads-off \"L.H,...\"]\n"
    "                          [--gating mask|skip] [--agency] [--truncate]\n"
    "Writes the prompt's continuation to stdout and timings to stderr. --temperature 0\n"
    "(the default) is greedy. --truncate keeps the prompt's last tokens when prompt +\n"
    "max-new exceed the context (otherwise that is an error). --agency runs the head state\n"
    "machine (default thresholds) with --gating skip (withdrawn heads are never computed;\n"
    "--gating mask is refused) and prints its state occupancy: totals, then one line per\n"
    "head.\n" HS_PRUNE_USAGE RUN_USAGE;

static hs_status encode_prompt(run_env *e, const run_opts *o, const char *text, int32_t **ids, int *n)
{
    size_t nn;
    hs_status st = hs_tokenizer_encode(e->tok, text, strlen(text), 0, ids, &nn);
    if (st) return st;
    *n = (int)nn;
    int room = e->m.cfg.n_positions - o->sp.max_new;
    if (nn == 0) return hs_err(HS_EINPUT, "--prompt: empty prompt");
    if (room < 1)
        return hs_err(HS_EINPUT, "--max-new %d leaves no room for a prompt in the context of %d", o->sp.max_new,
                      e->m.cfg.n_positions);
    if (*n > room && !o->truncate)
        return hs_err(HS_EINPUT, "--prompt: %d tokens + --max-new %d exceed the context of %d "
                                 "(use --truncate to keep the last %d)",
                      *n, o->sp.max_new, e->m.cfg.n_positions, room);
    if (*n > room) {
        memmove(*ids, *ids + (*n - room), (size_t)room * sizeof(int32_t));
        *n = room;
    }
    return HS_OK;
}

static void print_agency(const hs_agency *ag)
{
    int64_t tot[HS_AG_NSTATES] = {0}, trans = 0;
    for (int i = 0; i < ag->L * ag->H; i++) {
        for (int s = 0; s < HS_AG_NSTATES; s++) tot[s] += ag->occupancy[i * HS_AG_NSTATES + s];
        trans += ag->transitions[i];
    }
    fprintf(stderr, "agency: head-steps");
    for (int s = 0; s < HS_AG_NSTATES; s++) fprintf(stderr, " %s=%lld", hs_agency_state_name(s), (long long)tot[s]);
    fprintf(stderr, " transitions=%lld\n", (long long)trans);
    for (int i = 0; i < ag->L * ag->H; i++) {
        fprintf(stderr, "agency head %d.%d:", i / ag->H, i % ag->H);
        for (int s = 0; s < HS_AG_NSTATES; s++)
            fprintf(stderr, " %s=%lld", hs_agency_state_name(s), (long long)ag->occupancy[i * HS_AG_NSTATES + s]);
        fprintf(stderr, " transitions=%lld\n", (long long)ag->transitions[i]);
    }
}

typedef struct {
    hs_agency ag;
    hs_head_stats stats;
    hs_sampler smp;
    hs_generation gen;
} gen_state;

static hs_status gen_setup(gen_state *g, run_env *e, const run_opts *o)
{
    hs_status st = hs_sampler_init(&g->smp, hs_sample_vocab(&e->m, e->tok));
    if (!st && !(g->gen.ids = hs_malloc((size_t)o->sp.max_new * sizeof(int32_t), "generation"))) st = HS_ENOMEM;
    if (st || !o->agency) return st;
    hs_agency_params ap;
    hs_agency_params_default(&ap);
    st = hs_agency_init(&g->ag, e->m.cfg.n_layer, e->m.cfg.n_head, &ap);
    if (!st) st = hs_head_stats_init(&g->stats, e->m.cfg.n_layer, e->m.cfg.n_head);
    if (!st) st = hs_ctx_collect_stats(e->ctx, &g->stats);
    return st;
}

static void gen_free(gen_state *g)
{
    hs_agency_free(&g->ag);
    hs_head_stats_free(&g->stats);
    hs_sampler_free(&g->smp);
    free(g->gen.ids);
}

static int generate_run(const run_opts *o, const char *prompt)
{
    run_env e;
    gen_state g = {0};
    int32_t *ids = NULL;
    int n = 0;
    if (hs_sample_params_check(&o->sp)) return hs_cli_fail(HS_EINPUT);
    int rc = env_load(&e, o, 1, 1);
    if (rc) return env_free(&e), rc;
    hs_status st = encode_prompt(&e, o, prompt, &ids, &n);
    if (!st) st = env_ctx(&e, o, n + o->sp.max_new);
    if (!st) st = gen_setup(&g, &e, o);
    if (!st) st = hs_generate(e.ctx, o->agency ? &g.ag : NULL, o->agency ? &g.stats : NULL, &g.smp, ids, n, 0, &o->sp,
                              "cli", hs_tokenizer_eot(e.tok), &g.gen, NULL);
    char *text = NULL;
    size_t len = 0;
    if (!st) st = hs_tokenizer_decode(e.tok, g.gen.ids, (size_t)g.gen.n, &text, &len);
    if (!st) {
        fwrite(text, 1, len, stdout);
        fputc('\n', stdout);
        int steps = g.gen.n + g.gen.hit_eot - 1;
        fprintf(stderr, "prompt %d tokens, generated %d%s; prefill %.4f s, first token %.4f s, decode %.2f tokens/s\n",
                n, g.gen.n, g.gen.hit_eot ? " (end of text)" : "", g.gen.prefill_s, g.gen.ttft_s,
                steps > 0 ? steps / g.gen.decode_s : NAN);
        if (o->agency) print_agency(&g.ag);
    }
    free(text);
    free(ids);
    gen_free(&g);
    env_free(&e);
    return st ? hs_cli_fail(st) : 0;
}

int hs_cmd_generate(int argc, char **argv)
{
    run_opts o = {0};
    hs_cli_prune_init(&o.prune);
    hs_sample_params_default(&o.sp);
    const char *prompt = NULL;
    static const struct option opts[] = {
        RUN_OPTIONS, {"prompt", required_argument, 0, O_PROMPT}, {"max-new", required_argument, 0, O_MAX_NEW},
        {"temperature", required_argument, 0, O_TEMP}, {"top-k", required_argument, 0, O_TOPK},
        {"top-p", required_argument, 0, O_TOPP}, {"seed", required_argument, 0, O_SEED},
        {"agency", no_argument, 0, O_AGENCY}, {"truncate", no_argument, 0, O_TRUNC}, {0, 0, 0, 0}};
    int c, rc;
    hs_opt p;
    hs_cli_opt_init(&p, "generate", gen_usage, NULL, opts);
    while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        if (c == HS_OPT_EXIT) return rc;
        if (c == O_PROMPT) prompt = optarg;
        else if (run_opt(&p, &o, c, optarg)) return 2;
    }
    if (hs_opt_operands(&p, argc, 0, 0, "generate takes no operands (the prompt is --prompt TEXT)")) return 2;
    if (!o.model_dir || !prompt) return hs_opt_error(&p, "--model and --prompt are required");
    if (o.agency && o.gating_set && o.gating == HS_GATING_MASK)
        return hs_opt_error(&p, "--agency runs with --gating skip: withdrawn heads are never "
                                "computed (DESIGN.md), so --gating mask contradicts it");
    if (o.agency) o.gating = HS_GATING_SKIP;
    return generate_run(&o, prompt);
}

/* ---- ppl ---- */

static const char ppl_usage[] =
    "usage: headsweep ppl --model DIR --prompt TEXT --continuation TEXT [--heads-off \"L.H,...\"]\n"
    "                     [--gating mask|skip]\n"
    "Prints the teacher-forced perplexity of the continuation given the prompt (exp of the\n"
    "mean NLL of the continuation's tokens), with a sliding window past the context.\n" HS_PRUNE_USAGE RUN_USAGE;

static int ppl_run(const run_opts *o, const char *prompt, const char *cont)
{
    run_env e;
    int32_t *a = NULL, *b = NULL, *seq = NULL;
    size_t na = 0, nb = 0;
    int rc = env_load(&e, o, 1, 0);
    if (rc) return env_free(&e), rc;
    hs_status st = hs_tokenizer_encode(e.tok, prompt, strlen(prompt), 0, &a, &na);
    if (!st) st = hs_tokenizer_encode(e.tok, cont, strlen(cont), 0, &b, &nb);
    if (!st && (na == 0 || nb == 0))
        st = hs_err(HS_EINPUT, "ppl: the prompt and the continuation must both have tokens");
    if (!st && !(seq = hs_malloc((na + nb) * sizeof(int32_t), "sequence"))) st = HS_ENOMEM;
    if (!st) {
        memcpy(seq, a, na * sizeof(int32_t));
        memcpy(seq + na, b, nb * sizeof(int32_t));
        st = env_ctx(&e, o, (int)(na + nb));
    }
    double sum = 0;
    int count = 0;
    if (!st) st = hs_eval_nll(e.ctx, NULL, NULL, seq, (int)(na + nb), (int)na, &sum, &count);
    if (!st) printf("perplexity %.6f\nmean_nll %.6f\ntokens %d\n", exp(sum / count), sum / count, count);
    free(a);
    free(b);
    free(seq);
    env_free(&e);
    return st ? hs_cli_fail(st) : 0;
}

int hs_cmd_ppl(int argc, char **argv)
{
    run_opts o = {0};
    hs_cli_prune_init(&o.prune);
    hs_sample_params_default(&o.sp);
    const char *prompt = NULL, *cont = NULL;
    static const struct option opts[] = {RUN_OPTIONS, {"prompt", required_argument, 0, O_PROMPT},
                                         {"continuation", required_argument, 0, O_CONT}, {0, 0, 0, 0}};
    int c, rc;
    hs_opt p;
    hs_cli_opt_init(&p, "ppl", ppl_usage, NULL, opts);
    while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        if (c == HS_OPT_EXIT) return rc;
        if (c == O_PROMPT) prompt = optarg;
        else if (c == O_CONT) cont = optarg;
        else if (run_opt(&p, &o, c, optarg)) return 2;
    }
    if (hs_opt_operands(&p, argc, 0, 0, "ppl takes no operands")) return 2;
    if (!o.model_dir || !prompt || !cont) return hs_opt_error(&p, "--model, --prompt and --continuation are required");
    return ppl_run(&o, prompt, cont);
}
