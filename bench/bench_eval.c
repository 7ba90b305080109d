/* bench_eval.c: the evaluation's work per prompt (generation + scoring of the reference,
 * hs_runner_eval) and in throughput mode (hs_runner_eval_batch), with the prompt's prefill
 * shared between generation and scoring (issue 22) and without (HS_SHARE_PREFILL=0), side
 * by side: each round times every configuration once, in turn, so the per-round ratios
 * (off / on) cancel most of a shared machine's drift.
 *
 *   bench_eval MODEL_DIR PROMPTS.jsonl [--prompts 12] [--new 32] [--rounds 5] [--batch 16]
 *              [--agency 0|1] [--pack 0|1]
 *
 * Prints one line per round and configuration (wall and CPU seconds), then per mode the
 * medians and the median of the per-round ratios, and how many prompts shared their
 * prefill. Gates are all 1 in mask mode (the baseline variant); --agency 1 turns the
 * state machine on. Quality numbers are checked equal between on and off. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "headsweep/eval.h"
#include "bench_util.h"
#include "kernels.h"

enum { MAX_ROUNDS = 64 };

typedef struct {
    const char *model, *prompts;
    int n, max_new, rounds, batch, agency;
    int pack; /* weights pre-packed as a throughput-mode sweep loads them; 0: as latency mode */
} opts;

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Median of v (n <= MAX_ROUNDS), v left as it is. */
static double median(const double *v, int n)
{
    double s[MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *s);
    return hs_bench_median(s, n);
}

/* One evaluation of the n prompts (batch 0: one at a time); reference perplexities to ppl. */
static hs_status eval_all(hs_runner_config *rc, int share, int batch, const hs_prompt *const *pp, int n, double *ppl,
                          double *wall, double *cpu, long *shared)
{
    if (setenv("HS_SHARE_PREFILL", share ? "1" : "0", 1)) return hs_err(HS_EIO, "setenv HS_SHARE_PREFILL failed");
    rc->batch = batch > 0 ? batch : 1;
    hs_runner *r;
    hs_status st = hs_runner_init(&r, rc);
    if (st) return st;
    double *m = malloc((size_t)n * HS_M_COUNT * sizeof *m);
    int32_t *ids = malloc((size_t)n * rc->sample.max_new * sizeof *ids);
    if (!m || !ids) st = HS_ENOMEM;
    double w0 = hs_now(), c0 = cpu_now();
    if (!st && batch > 0) st = hs_runner_eval_batch(r, pp, n, m, ids, NULL, NULL);
    for (int i = 0; !st && batch == 0 && i < n; i++)
        st = hs_runner_eval(r, pp[i], m + (size_t)i * HS_M_COUNT, ids + (size_t)i * rc->sample.max_new, NULL, NULL);
    *wall = hs_now() - w0;
    *cpu = cpu_now() - c0;
    for (int i = 0; !st && i < n; i++) ppl[i] = m[(size_t)i * HS_M_COUNT + HS_M_REFERENCE_PPL];
    *shared = hs_runner_shared_prefills(r);
    free(m);
    free(ids);
    hs_runner_free(r);
    return st;
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){NULL, NULL, 12, 32, 5, 16, 0, 1};
    if (argc < 3) return 0;
    o->model = argv[1], o->prompts = argv[2];
    for (int i = 3; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--prompts")) o->n = v;
        else if (!strcmp(argv[i], "--new")) o->max_new = v;
        else if (!strcmp(argv[i], "--rounds")) o->rounds = v;
        else if (!strcmp(argv[i], "--batch")) o->batch = v;
        else if (!strcmp(argv[i], "--agency")) o->agency = v;
        else if (!strcmp(argv[i], "--pack")) o->pack = v;
        else return 0;
    }
    return o->n > 0 && o->max_new > 0 && o->rounds > 0 && o->rounds <= MAX_ROUNDS && o->batch > 0;
}

/* Rounds of the four configurations (single/batch x on/off, the order turning each round). */
static int run(const opts *o, hs_runner_config *rc, const hs_prompt *const *pp, int n)
{
    double wall[4][MAX_ROUNDS], cpu[4][MAX_ROUNDS], *ppl = malloc((size_t)4 * n * sizeof *ppl);
    long shared[4] = {0};
    static const char *name[4] = {"single shared", "single not shared", "batch shared", "batch not shared"};
    for (int r = 0; r < o->rounds; r++)
        for (int j = 0; j < 4; j++) {
            int k = (j + r) % 4;
            hs_status st = eval_all(rc, k % 2 == 0, k < 2 ? 0 : o->batch, pp, n, ppl + (size_t)k * n, &wall[k][r],
                                    &cpu[k][r], &shared[k]);
            if (st) return fprintf(stderr, "bench_eval: %s\n", hs_err_msg()), 1;
            printf("round %d %-18s wall %.3f s cpu %.3f s\n", r + 1, name[k], wall[k][r], cpu[k][r]);
            fflush(stdout);
        }
    for (int i = 0; i < n; i++)
        for (int k = 1; k < 4; k++)
            if (memcmp(&ppl[i], &ppl[(size_t)k * n + i], sizeof(double)) && !(isnan(ppl[i]) && isnan(ppl[k * n + i])))
                return fprintf(stderr, "bench_eval: prompt %d: reference perplexity differs (%s)\n", i, name[k]), 1;
    for (int mode = 0; mode < 2; mode++) {
        double rw[MAX_ROUNDS], rcpu[MAX_ROUNDS];
        int on = 2 * mode, off = on + 1;
        for (int r = 0; r < o->rounds; r++) rw[r] = wall[off][r] / wall[on][r], rcpu[r] = cpu[off][r] / cpu[on][r];
        printf("%s: shared %ld of %d prompts; median wall %.3f s shared, %.3f s not; median per-round ratio "
               "not/shared: wall %.3fx, cpu %.3fx\n",
               mode ? "batch" : "single", shared[on], n, median(wall[on], o->rounds), median(wall[off], o->rounds),
               median(rw, o->rounds), median(rcpu, o->rounds));
    }
    free(ppl);
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (!parse(argc, argv, &o)) {
        fprintf(stderr, "usage: bench_eval MODEL_DIR PROMPTS.jsonl [--prompts N] [--new N] [--rounds N] [--batch N] "
                        "[--agency 0|1] [--pack 0|1]\n");
        return 2;
    }
    hs_model m;
    hs_tokenizer *tok = NULL;
    hs_prompt_set set = {0};
    hs_model_opts mo = {.pack = o.pack != 0}; /* 1: as the sweep's throughput mode loads it */
    hs_status st = hs_model_load(&m, o.model, &mo);
    if (!st) st = hs_tokenizer_load(&tok, o.model);
    if (!st) st = hs_prompts_load(&set, o.prompts);
    if (st) return fprintf(stderr, "bench_eval: %s\n", hs_err_msg()), 1;
    int n = (int)set.n < o.n ? (int)set.n : o.n, LH = m.cfg.n_layer * m.cfg.n_head;
    const hs_prompt **pp = malloc((size_t)n * sizeof *pp);
    float *gates = malloc((size_t)LH * sizeof *gates);
    for (int i = 0; i < n; i++) pp[i] = &set.items[i];
    for (int i = 0; i < LH; i++) gates[i] = 1.0f;
    hs_runner_config rc = {.model = &m, .tok = tok, .mode = HS_GATING_MASK, .agency_on = o.agency, .gates = gates,
                           .max_t = m.cfg.n_positions, .measure_unpruned_ppl = 1};
    hs_agency_params_default(&rc.agency);
    hs_sample_params_default(&rc.sample);
    rc.sample.max_new = o.max_new;
    rc.sample.temperature = 0.8f;
    rc.sample.top_k = 40;
    rc.sample.seed = 1234;
    const char *core = openblas_get_corename(); /* the prefill's route (matmul.c) */
    printf("bench_eval %s, %d prompts, %d new tokens, batch %d, agency %d, pack %d, %d rounds, prefill route %s%s\n",
           o.model, n, o.max_new, o.batch, o.agency, mo.pack, o.rounds, hs_k_gemm_blas() ? "openblas " : "tiles",
           hs_k_gemm_blas() ? (core ? core : "?") : "");
    int rc_exit = run(&o, &rc, pp, n);
    free(pp);
    free(gates);
    hs_prompts_free(&set);
    hs_tokenizer_free(tok);
    hs_model_free(&m);
    return rc_exit;
}
