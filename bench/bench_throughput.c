/* bench_throughput.c: headsweep's throughput mode on the demo study's work per prompt, the
 * side of bench/ab_throughput.sh that faces PyTorch's batched generation (bench/torch_batched.py,
 * issue 22): greedy generation of --new tokens and the reference's teacher-forced NLL, per
 * prompt, through hs_runner_eval_batch as a throughput sweep's cell runs it (weights
 * pre-packed, one thread, mask or skip gating, zero ablation), without the unpruned model's
 * scoring of the generated text (PyTorch's script does not do it either).
 *
 *   bench_throughput MODEL_DIR PROMPTS.jsonl [--prompts 64] [--seed 1234] [--new 32]
 *                    [--batch 16] [--heads-off "L.H,..."] [--gating mask|skip] [--dump FILE]
 *
 * The prompts are the sweep's seeded sample of the file (hs_prompts_sample, as max_prompts
 * takes it). Prints one JSON line: wall and CPU seconds of the evaluation (tokenization
 * included, runner set-up not), prompts per second of each, and the route of the prefill's
 * products (prefill_route: "openblas CORE" or "tiles", matmul.c; HS_GEMM_BLAS=0|1 forces
 * it). --dump FILE writes one JSON line per prompt: its ids as the runner encodes them
 * (prompt and reference apart), the generated ids and the reference's mean NLL:
 * torch_batched.py's input and its check. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "headsweep/eval.h"
#include "kernels.h"

typedef struct {
    const char *model, *prompts, *heads_off, *dump;
    int n, max_new, batch, skip;
    unsigned long long seed;
} opts;

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){NULL, NULL, "", NULL, 64, 32, 16, 0, 1234};
    if (argc < 3) return 0;
    o->model = argv[1], o->prompts = argv[2];
    for (int i = 3; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--prompts")) o->n = atoi(v);
        else if (!strcmp(k, "--seed")) o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--new")) o->max_new = atoi(v);
        else if (!strcmp(k, "--batch")) o->batch = atoi(v);
        else if (!strcmp(k, "--heads-off")) o->heads_off = v;
        else if (!strcmp(k, "--gating") && (!strcmp(v, "mask") || !strcmp(v, "skip"))) o->skip = !strcmp(v, "skip");
        else if (!strcmp(k, "--dump")) o->dump = v;
        else return 0;
    }
    return o->n > 0 && o->max_new > 0 && o->batch > 0;
}

/* gates (L*H) = 1, then 0 for each "L.H" of the list; the number switched off, -1 if bad. */
static int gates_from_list(const char *list, int L, int H, float *gates)
{
    int off = 0;
    for (int i = 0; i < L * H; i++) gates[i] = 1.0f;
    for (const char *s = list; *s;) {
        char *e;
        long l = strtol(s, &e, 10), h = *e == '.' ? strtol(e + 1, &e, 10) : -1;
        if (l < 0 || l >= L || h < 0 || h >= H || (*e && *e != ',')) return -1;
        off += gates[l * H + h] != 0.0f;
        gates[l * H + h] = 0.0f;
        s = *e ? e + 1 : e;
    }
    return off;
}

static void dump_ids(FILE *f, const char *key, const int32_t *ids, size_t n)
{
    fprintf(f, "\"%s\": [", key);
    for (size_t i = 0; i < n && ids[i] >= 0; i++) fprintf(f, "%s%d", i ? ", " : "", (int)ids[i]);
    fprintf(f, "]");
}

/* One JSON line per prompt (ids are plain decimal, the id a JSON-safe string of the prompt file's). */
static int dump(const char *path, const hs_tokenizer *tok, const hs_prompt *const *pp, int n, const double *m,
                const int32_t *gen, int max_new)
{
    FILE *f = fopen(path, "w");
    if (!f) return perror(path), 1;
    int bad = 0;
    for (int i = 0; i < n && !bad; i++) {
        int32_t *p = NULL, *r = NULL;
        size_t np = 0, nr = 0;
        bad = hs_tokenizer_encode(tok, pp[i]->prompt, strlen(pp[i]->prompt), 0, &p, &np) ||
              hs_tokenizer_encode(tok, pp[i]->reference, strlen(pp[i]->reference), 0, &r, &nr);
        if (!bad) {
            fprintf(f, "{\"line\": %d, \"eot\": %d, ", pp[i]->line, hs_tokenizer_eot(tok));
            dump_ids(f, "prompt_ids", p, np);
            fprintf(f, ", ");
            dump_ids(f, "reference_ids", r, nr);
            fprintf(f, ", ");
            dump_ids(f, "generated", gen + (size_t)i * max_new, (size_t)max_new);
            fprintf(f, ", \"reference_nll\": %.17g}\n", log(m[(size_t)i * HS_M_COUNT + HS_M_REFERENCE_PPL]));
        }
        free(p);
        free(r);
    }
    if (bad) fprintf(stderr, "bench_throughput: %s: %s\n", path, hs_err_msg());
    if (ferror(f) | fclose(f)) return perror(path), 1;
    return bad;
}

/* The timed evaluation of the n prompts; metrics (n, HS_M_COUNT), gen (n, max_new). */
static int evaluate(const hs_runner_config *rc, const hs_prompt *const *pp, int n, double *m, int32_t *gen,
                    double *wall, double *cpu)
{
    hs_runner *r = NULL;
    hs_status st = hs_runner_init(&r, rc);
    double w0 = hs_now(), c0 = cpu_now();
    if (!st) st = hs_runner_eval_batch(r, pp, n, m, gen, NULL, NULL);
    *wall = hs_now() - w0, *cpu = cpu_now() - c0;
    hs_runner_free(r);
    if (st) fprintf(stderr, "bench_throughput: %s\n", hs_err_msg());
    return st != HS_OK;
}

static int run(const opts *o, const hs_model *mdl, const hs_tokenizer *tok, const hs_prompt_set *set)
{
    int n = (int)set->n, L = mdl->cfg.n_layer, H = mdl->cfg.n_head;
    const hs_prompt **pp = malloc((size_t)n * sizeof *pp);
    float *gates = malloc((size_t)L * H * sizeof *gates);
    double *m = malloc((size_t)n * HS_M_COUNT * sizeof *m), wall, cpu;
    int32_t *gen = malloc((size_t)n * o->max_new * sizeof *gen);
    int off = gates ? gates_from_list(o->heads_off, L, H, gates) : -1, rc_exit = 1;
    if (!pp || !m || !gen || off < 0) {
        fprintf(stderr, "bench_throughput: %s\n", off < 0 && gates ? "bad --heads-off list" : "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) pp[i] = &set->items[i];
    hs_runner_config rc = {.model = mdl, .tok = tok, .mode = o->skip ? HS_GATING_SKIP : HS_GATING_MASK,
                           .gates = gates, .max_t = mdl->cfg.n_positions, .batch = o->batch};
    hs_agency_params_default(&rc.agency);
    hs_sample_params_default(&rc.sample);
    rc.sample.max_new = o->max_new;
    rc.sample.temperature = 0.0f; /* greedy: the tokens PyTorch must reproduce */
    if (evaluate(&rc, pp, n, m, gen, &wall, &cpu)) goto done;
    /* the route the prefill's F32 layer products took (matmul.c): OpenBLAS when it loaded
     * AVX-512 kernels (or HS_GEMM_BLAS=1), else our tiles on the pre-packed weights */
    const char *core = openblas_get_corename();
    printf("{\"impl\": \"headsweep\", \"model\": \"%s\", \"prompts\": %d, \"batch\": %d, \"new_tokens\": %d, "
           "\"gating\": \"%s\", \"heads_off\": %d, \"threads\": 1, \"wall_s\": %.6f, \"cpu_s\": %.6f, "
           "\"prompts_per_s\": %.6f, \"prompts_per_cpu_s\": %.6f, \"prefill_route\": \"%s%s\"}\n",
           o->model, n, o->batch, o->max_new, o->skip ? "skip" : "mask", off, wall, cpu, n / wall, n / cpu,
           hs_k_gemm_blas() ? "openblas " : "tiles", hs_k_gemm_blas() ? (core ? core : "?") : "");
    rc_exit = o->dump ? dump(o->dump, tok, pp, n, m, gen, o->max_new) : 0;
done:
    free(pp);
    free(gates);
    free(m);
    free(gen);
    return rc_exit;
}

int main(int argc, char **argv)
{
    opts o;
    if (!parse(argc, argv, &o)) {
        fprintf(stderr, "usage: bench_throughput MODEL_DIR PROMPTS.jsonl [--prompts N] [--seed S] [--new N] "
                        "[--batch N] [--heads-off \"L.H,...\"] [--gating mask|skip] [--dump FILE]\n");
        return 2;
    }
    hs_model mdl;
    hs_tokenizer *tok = NULL;
    hs_prompt_set set = {0};
    hs_model_opts mo = {.pack = 1}; /* as the sweep's throughput mode loads it */
    size_t *idx = malloc((size_t)o.n * sizeof *idx);
    hs_status st = idx ? hs_model_load(&mdl, o.model, &mo) : HS_ENOMEM;
    if (!st) st = hs_tokenizer_load(&tok, o.model);
    if (!st) st = hs_prompts_load(&set, o.prompts);
    if (!st && (size_t)o.n > set.n) o.n = (int)set.n;
    if (!st) st = hs_prompts_sample(&set, (size_t)o.n, o.seed, idx);
    if (st) return fprintf(stderr, "bench_throughput: %s\n", hs_err_msg()), 1;
    hs_prompts_keep(&set, idx, (size_t)o.n);
    for (size_t i = 0; i < set.n; i++)
        if (!set.items[i].reference || !set.items[i].reference[0])
            return fprintf(stderr, "bench_throughput: %s line %d has no reference\n", o.prompts, set.items[i].line), 2;
    int rc_exit = run(&o, &mdl, tok, &set);
    free(idx);
    hs_prompts_free(&set);
    hs_tokenizer_free(tok);
    hs_model_free(&mdl);
    return rc_exit;
}
