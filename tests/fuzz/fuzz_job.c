/* fuzz_job.c: the sweep's job-file parser, hs_job_parse (src/sweep/job.c: inih plus our
 * checks), with --set overrides. The input is split at NUL bytes: the first piece is the
 * job text (a job file holding a NUL is refused before parsing, by hs_job_load), each
 * further piece (at most 8) is one "--set section.key=value" argument.
 *
 * Relative paths in a job are taken from the current directory, so the target runs in
 * a scratch directory holding a model directory `m` (config.json only: the parser
 * checks that it is readable, nothing more) and prompt files `p.jsonl` and `c.jsonl`.
 * Corpus and artifact paths given to this binary must therefore be absolute
 * (tests/fuzz/run_fuzz.sh passes them so).
 *
 * A refused job is HS_EINPUT whose message names the job file or the --set argument. An
 * accepted one has every field the sweep relies on filled and in range, and its study
 * text can be built. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "headsweep/sweep.h"

#define PATH "fuzz.ini"
#define MAX_SETS 8

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = fz_dir();
    char *m = fz_path(dir, "m");
    if (mkdir(m, 0700) != 0) FZ_FAIL("mkdir %s", m);
    char *cfg = fz_path(m, "config.json");
    static const char config[] =
        "{\"n_layer\": 2, \"n_head\": 4, \"n_embd\": 64, \"n_positions\": 128, \"vocab_size\": 1024}\n";
    fz_write(cfg, config, sizeof config - 1);
    static const char prompts[] = "{\"id\": \"a\", \"prompt\": \"In the beginning\", \"reference\": \" God\"}\n";
    char *p = fz_path(dir, "p.jsonl"), *c = fz_path(dir, "c.jsonl");
    fz_write(p, prompts, sizeof prompts - 1);
    fz_write(c, prompts, sizeof prompts - 1);
    free(m);
    free(cfg);
    free(p);
    free(c);
    if (chdir(dir) != 0) FZ_FAIL("chdir %s", dir);
    return 0;
}

static int valid_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
    return 1;
}

/* The ranges of docs/sweep.md, for the floats the agency code receives. */
static void check_agency(const hs_agency_params *a, const char *name)
{
    FZ_CHECK(a->ema_alpha >= 0 && a->ema_alpha < 1, "variant %s: ema_alpha %.9g outside [0, 1)", name, a->ema_alpha);
    FZ_CHECK(a->overload_threshold >= 0 && a->overload_threshold <= 1, "variant %s: overload_threshold %.9g", name,
             a->overload_threshold);
    FZ_CHECK(a->alignment_threshold >= 0 && a->alignment_threshold <= 1, "variant %s: alignment_threshold %.9g", name,
             a->alignment_threshold);
    FZ_CHECK(a->recovery_steps >= 1, "variant %s: recovery_steps %d", name, a->recovery_steps);
    for (int s = 0; s < HS_AG_NSTATES; s++)
        FZ_CHECK(a->factor[s] >= 0 && a->factor[s] <= 1, "variant %s: factor %d is %.9g", name, s, a->factor[s]);
    FZ_CHECK(a->factor[HS_AG_WITHDRAWN] == 0, "variant %s: withdrawn factor %.9g", name, a->factor[HS_AG_WITHDRAWN]);
}

static void check_job(const hs_job *job)
{
    FZ_CHECK(job->path && job->text && job->name && job->model_dir && job->prompts_path && job->output,
             "a path field is NULL");
    FZ_CHECK(job->n_variants >= 1 && job->variants, "%d variants", job->n_variants);
    for (int i = 0; i < job->n_variants; i++) {
        const hs_variant *v = &job->variants[i];
        FZ_CHECK(memchr(v->name, '\0', sizeof v->name) && valid_name(v->name), "variant name");
        FZ_CHECK(v->gating == HS_GATING_MASK || v->gating == HS_GATING_SKIP, "gating %d", (int)v->gating);
        check_agency(&v->agency, v->name);
        for (int j = 0; j < i; j++) FZ_CHECK(strcmp(job->variants[j].name, v->name), "variant %s twice", v->name);
    }
    FZ_CHECK(job->n_levels >= 1 && job->levels, "%d levels", job->n_levels);
    for (int i = 0; i < job->n_levels; i++)
        FZ_CHECK(isfinite(job->levels[i]) && job->levels[i] >= 0 && job->levels[i] <= 100, "level %g", job->levels[i]);
    FZ_CHECK(job->shards >= 1 && job->threads >= 1 && job->max_prompts >= 0, "shards/threads/max_prompts");
    FZ_CHECK(hs_sample_params_check(&job->sample) == HS_OK, "sampling: %s", hs_err_msg());
    /* scores = FILE and heads_off replace the computed scores: no calibration set then */
    int computed = !job->scores_path && !job->heads_off;
    FZ_CHECK((computed && hs_strategy_needs_calib(job->strategy)) == (job->calib_path != NULL), "calibration path");
    FZ_CHECK(!job->heads_off || (job->n_levels == 1 && !job->scores_path), "heads_off with %d levels", job->n_levels);
    FZ_CHECK(hs_job_where(job, "job", "model") && hs_job_where(job, "pruning", "nothing"), "hs_job_where");
    hs_study_inputs in = {.n_prompts = 1};
    memset(in.model_sha256, 'a', 64);
    char *study = hs_study_text(job, &in);
    FZ_CHECK(study, "study text: %s", hs_err_msg());
    free(study);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    FZ_CHECK(buf, "out of memory");
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *sets[MAX_SETS];
    int n_sets = 0;
    for (char *p = memchr(buf, '\0', size + 1); p < buf + size && n_sets < MAX_SETS;
         p = p + strlen(p + 1) + 1)
        sets[n_sets++] = p + 1;
    hs_job job;
    hs_err_clear();
    hs_status st = hs_job_parse(&job, PATH, buf, sets, n_sets);
    if (st) {
        fz_expect_input_error(st, PATH, "--set");
        free(buf);
        return 0;
    }
    fz_trace(HS_OK);
    check_job(&job);
    hs_job_free(&job);
    free(buf);
    return 0;
}
