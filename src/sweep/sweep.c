/* sweep.c: `headsweep sweep`, the driver that runs a study's cells on every rank.
 *
 * Phases (every rank runs them in step; each ends in hs_comm_agree, so a failure on any
 * rank stops all of them with that rank's message):
 *   1. the job: rank 0 reads the file, every rank parses the same bytes;
 *   2. inputs: every rank loads the tokenizer, the model (mmap, shared pages) and the
 *      evaluation prompts, and sizes the pruning plan (src/prune/plan.c: the levels as
 *      run, a heads_off list checked against the model);
 *   3. the output (rank 0): reads the scores files, locks, then opens and verifies the
 *      existing file or computes the head scores on the calibration set and creates the
 *      file; either way the plan's gate matrix is selected;
 *   4. the plan (broadcast): cells still to do, run number, context size, gate matrix;
 *   5. work: cells from the shared counter; rank 0 also writes every finished cell
 *      (its own and those the other ranks send), between its own prompts;
 *   6. the end: rank 0 stamps and closes the file, releases the lock.
 * Head scores and gates come from rank 0 alone and the gates are broadcast: every rank
 * then prunes the very same heads, even on a cluster whose nodes round floating point
 * differently, and a resumed run selects from the scores saved in the file instead of
 * recomputing them. The parsed job is never changed: what the plan resolves is seen
 * through hs_job_as_run (src/sweep/jobplan.c).
 * A signal (SIGTERM, SIGINT, SIGUSR1, SIGUSR2) stops every rank at its next prompt: the
 * cells in flight are abandoned (they are computed again next time), finished cells are
 * saved, and the run ends with HS_EINTR (exit code 3). */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "headsweep/prompts.h"
#include "headsweep/tokenizer.h"
#include "headsweep/version.h"
#include "sweep_impl.h"

#define STOP_ERROR 1000 /* stop reason when a rank failed (signals use their number) */

typedef struct {
    hs_comm *comm;
    int rank;
    const hs_sweep_opts *o;
    hs_job job;
    int have_job;
    hs_tokenizer *tok;
    hs_model model;
    int have_model;
    hs_prompt_set prompts;    /* the prompts used (max_prompts), in file order */
    size_t *file_index;       /* (prompts.n) each one's index among the file's prompts */
    int have_prompts;
    const char *output;    /* --out, else the job's */
    hs_grid grid;
    hs_plan_spec spec;     /* the job's pruning settings (borrows the job) */
    hs_prune_plan plan;    /* levels as run, head scores (rank 0), gates (every rank) */
    int have_plan;
    float *means;          /* (n_variants, L, H, D) head means of the mean-ablation variants (rank 0's,
                              broadcast; zeros for the others), NULL when no variant uses them */
    hs_job as_run;         /* rank 0: the job seen through the plan (study text, results file) */
    int have_as_run;
    int max_t;
    int64_t *todo;         /* (n_todo) cell indices this run computes */
    int64_t n_todo, todo_prompts, n_done_before;
    int32_t run;
    char *hosts;           /* rank 0 */
    hs_study_inputs digests; /* every rank: the SHA-256 of the model's files and the prompt file */
    /* rank 0: the output */
    hs_lock lock;
    hs_results *res;
    int created;
    hs_progress progress;
    int64_t cells_written;
    hs_status write_st;    /* first failure writing a cell */
    double write_seconds;  /* rank 0: wall time spent writing cells to the results file */
    /* work */
    hs_runner **runners;   /* (n_variants) the runners of runner_level made so far */
    int runner_level;
    int64_t *group_start;  /* (n_groups + 1) work item g: cells todo[group_start[g] .. group_start[g + 1]) */
    int64_t n_groups;
    int64_t *occ;          /* (L, H, NSTATES) one prompt's agency occupancy */
    int64_t *trans;        /* (L, H) one prompt's agency state changes */
    int stop;              /* stop reason seen */
    int stop_sent;
    double start;
    long pace_ms;          /* HS_TEST_PROMPT_PACE_MS: pause after each prompt (fault tests) */
    double output_checked; /* rank 0: when check_output last found the results file in place */
} sweep;

/* HS_EINTR when a signal arrived (checked at the ends of the set-up phases). */
static hs_status signal_status(hs_status st)
{
    if (st || !hs_sweep_signal()) return st;
    return hs_err(HS_EINTR, "stopped by %s before any cell was computed", hs_sweep_signal_name(hs_sweep_signal()));
}

static hs_status agree(sweep *s, hs_status st)
{
    return hs_comm_agree(s->comm, signal_status(st));
}

/* ---- phase 1: the job ---- */

static hs_status load_job(sweep *s)
{
    char *text = NULL;
    size_t len;
    hs_status st = HS_OK;
    if (s->rank == 0) {
        st = hs_read_file(s->o->job_path, &text, &len);
        if (st) st = hs_err_wrap(st, "job file");
        else if (strlen(text) != len) st = hs_err(HS_EINPUT, "%s: job file contains a NUL byte", s->o->job_path);
    }
    st = agree(s, st);
    if (!st) st = hs_comm_agree(s->comm, hs_comm_bcast_string(s->comm, &text));
    if (!st) {
        st = hs_job_parse(&s->job, s->o->job_path, text, s->o->sets, s->o->n_sets);
        s->have_job = !st;
    }
    if (!st) s->output = s->o->output ? s->o->output : s->job.output;
    free(text);
    return agree(s, st);
}

/* ---- phase 2: inputs ---- */

/* The pruning plan's levels (a heads_off list, checked against the model, becomes the
 * study's one level) and its gate matrix, on every rank; rank 0 fills it later. */
static hs_status init_plan(sweep *s)
{
    hs_status st = hs_job_plan_spec(&s->job, &s->spec);
    if (!st) st = hs_prune_plan_init(&s->plan, &s->spec, s->model.cfg.n_layer, s->model.cfg.n_head);
    s->have_plan = !st;
    return st;
}

/* max_prompts: a seeded sample stratified by book (docs/sweep.md, "Which prompts"), or the
 * file's first prompts with prompt_order = head. The set keeps only the prompts used, and
 * s->file_index where each was in the file (written to /prompts/file_index, checked on resume). */
static hs_status choose_prompts(sweep *s)
{
    const hs_job *job = &s->job;
    size_t k = 0;
    s->file_index = hs_malloc((s->prompts.n ? s->prompts.n : 1) * sizeof *s->file_index, "prompt sample");
    if (!s->file_index) return HS_ENOMEM;
    hs_status st = hs_prompts_choose(&s->prompts, job->max_prompts, job->prompt_head, job->prompt_seed,
                                     s->file_index, &k);
    if (!st) hs_prompts_keep(&s->prompts, s->file_index, k);
    return st ? hs_err_wrap(st, "%s", hs_job_where(job, "job", "max_prompts")) : HS_OK;
}

static hs_status load_inputs(sweep *s)
{
    const hs_job *job = &s->job;
    int got = hs_model_set_threads(job->threads);
    if (got < job->threads && s->rank == 0)
        fprintf(stderr,
                "headsweep: warning: %s: threads = %d, but %d per rank are available (a build without OpenMP, "
                "or OMP_THREAD_LIMIT)\n",
                hs_job_where(job, "job", "threads"), job->threads, got);
    hs_status st = hs_tokenizer_load(&s->tok, job->model_dir);
    /* throughput mode: decode batches stream pre-packed weights; latency mode: batch 1
     * reads the layers' matrices in panels (each one more copy of those matrices per rank;
     * docs/sweep.md, "Memory per rank") */
    hs_model_opts mo = {.weights = job->weights, .pack = job->throughput, .panels = job->panels,
                        .huge_pages = job->huge_pages};
    /* throughput mode needs the panels only for latency_prompts, which time latency mode */
    if (job->throughput && job->latency_prompts == 0) mo.panels = 0;
    /* latency mode with skip-mode variants: their one-token decode reads the head-major
     * c_attn (a quarter of the layers' weights once more per rank; "Memory per rank") */
    for (int v = 0; v < job->n_variants && !job->throughput; v++)
        if (job->variants[v].gating == HS_GATING_SKIP) mo.head_major = 1;
    if (!st) st = hs_model_load(&s->model, job->model_dir, &mo);
    s->have_model = !st;
    if (st) return hs_err_wrap(st, "%s: model = %s", hs_job_where(job, "job", "model"), job->model_dir);
    st = init_plan(s);
    if (!st) st = hs_prompts_load(&s->prompts, job->prompts_path);
    s->have_prompts = !st;
    if (!st) st = choose_prompts(s);
    if (st) return st;
    int n = (int)s->prompts.n;
    if ((st = hs_job_check_prompts(job, n))) return st;
    int text_bytes = 0;
    if ((st = hs_sweep_check_vocab(job, s->tok, &s->model.cfg))) return st;
    if ((st = hs_sweep_text_bytes(job, s->tok, &text_bytes))) return st;
    int mean = 0; /* a mean-ablation variant: the results file stores its head means */
    for (int v = 0; v < job->n_variants; v++) mean |= job->variants[v].ablation == HS_ABLATION_MEAN;
    s->grid = (hs_grid){job->n_variants, s->plan.n_levels, job->shards, n, s->model.cfg.n_layer, s->model.cfg.n_head,
                        job->sample.max_new, mean ? s->model.cfg.n_embd / s->model.cfg.n_head : 0, text_bytes};
    if ((st = hs_slice_check(&s->o->slice, &s->grid, !job->sequential))) return st;
    size_t LH = (size_t)s->grid.n_layers * s->grid.n_heads;
    s->occ = hs_malloc(LH * HS_AG_NSTATES * sizeof *s->occ, "occupancy");
    s->trans = hs_malloc(LH * sizeof *s->trans, "transitions");
    return s->occ && s->trans ? HS_OK : HS_ENOMEM;
}

/* ---- phase 3: the output (rank 0) ---- */

static hs_status study_inputs(sweep *s, hs_prompt_set *calib, hs_study_inputs *in)
{
    *in = s->digests; /* agree_inputs */
    in->n_prompts = s->grid.n_prompts;
    in->prefill_route = hs_model_prefill_route(s->job.weights);
    for (int v = 0; v < s->job.n_variants; v++)
        if (s->plan.scores_sha256[v][0]) in->variant_scores_sha256 = s->plan.scores_sha256;
    if (s->job.scores_path) {
        for (int v = 0; v < s->job.n_variants; v++)
            if (s->job.variants[v].scores_path == s->job.scores_path) {
                snprintf(in->calibration_sha256, sizeof in->calibration_sha256, "%s",
                         s->plan.scores[v].calibration_sha256);
                break;
            }
        hs_status st = hs_sha256_file(s->job.scores_path, in->scores_sha256);
        if (st || !s->job.calib_path) return st; /* else variants compute scores too */
    }
    if (!s->job.calib_path) return HS_OK;
    hs_status st = hs_sweep_load_calib(&s->job, calib);
    if (!st) snprintf(in->calibration_sha256, sizeof in->calibration_sha256, "%s", calib->sha256);
    return st;
}

/* agency_thresholds = calibrated: each such variant's thresholds at its percentile of the
 * calibration set's per-step statistics (hs_agency_calibrate), set on the job before the
 * study text is written, so the file's `study` attribute records them with the percentile
 * and a resume that would derive others refuses. Rank 0; share_arrays sends them. */
static hs_status calibrate_agency(sweep *s, const hs_prompt_set *calib)
{
    hs_token_seq *seqs = NULL;
    int n = 0;
    hs_status st = HS_OK;
    for (int v = 0; v < s->job.n_variants && !st; v++) {
        hs_variant *var = &s->job.variants[v];
        if (var->agency_percentile <= 0) continue;
        if (!seqs) st = hs_calib_tokenize(&s->model, s->tok, calib, &s->job.score, &seqs, &n);
        /* it runs the calibration set token by token: minutes on a large model */
        if (!st)
            fprintf(stderr, "headsweep: variant %s: calibrating agency thresholds on %s (%d sequences)\n", var->name,
                    calib->path, n);
        hs_agency_calib c;
        if (!st) st = hs_agency_calibrate(&s->model, seqs, n, var->agency_percentile, var->agency.ema_alpha, &c);
        if (!st && var->recovery_calibrated && c.n_runs == 0)
            st = hs_err(HS_EINPUT, "no head-step meets a condition at percentile %g, so there is no run length for "
                                   "agency_recovery = calibrated", c.percentile);
        if (st == HS_EINTR)
            st = hs_err(HS_EINTR, "stopped by %s while calibrating the agency thresholds of variant %s, before any "
                                  "cell: no results file was created; run the same command again",
                        hs_sweep_signal_name(hs_sweep_signal()), var->name);
        else if (st) st = hs_err_wrap(st, "%s: variant %s", calib->path, var->name);
        if (st) break;
        var->agency.overload_threshold = c.overload_threshold;
        var->agency.alignment_threshold = c.alignment_threshold;
        if (var->recovery_calibrated) var->agency.recovery_steps = c.recovery_steps;
        fprintf(stderr, "headsweep: variant %s: agency thresholds at percentile %g of %s: overload_threshold %.6g "
                        "(of %lld per-step utilisations), alignment_threshold %.6g (of %lld cosines)\n",
                var->name, c.percentile, calib->path, c.overload_threshold, (long long)c.n_util,
                c.alignment_threshold, (long long)c.n_cosine);
        fprintf(stderr, "headsweep: variant %s: %lld of %lld head-steps (%.2f%%) meet a condition, in %lld runs of "
                        "mean length %.6g%s%d\n",
                var->name, (long long)c.n_exceed, (long long)c.n_head_steps,
                c.n_head_steps ? 100.0 * (double)c.n_exceed / (double)c.n_head_steps : 0.0, (long long)c.n_runs,
                c.mean_run, var->recovery_calibrated ? ": recovery_steps " : ": recovery_steps stays ",
                var->agency.recovery_steps);
    }
    hs_calib_free(seqs, n);
    return st;
}

/* Rank 0, a new file: the head scores (unless read from scores files), the gates of
 * every level. A signal stops the scoring between calibration prompts (hs_prune_poll),
 * and one that arrives after it still comes before the file is created. */
static hs_status make_scores(sweep *s, const hs_prompt_set *calib)
{
    hs_status st = hs_prune_plan_compute(&s->plan, &s->spec, &s->model, s->tok, calib->path ? calib : NULL, stderr);
    if (!st) st = hs_prune_plan_select(&s->plan, &s->spec);
    if (st == HS_EINTR || (!st && hs_sweep_signal()))
        return hs_err(HS_EINTR, "stopped by %s while computing the head scores, before any cell: no results file was "
                                "created; run the same command again", hs_sweep_signal_name(hs_sweep_signal()));
    return st;
}

/* Where each prompt used is in the prompt file: rows[i] its index among the file's prompts,
 * rows[np + i] its line (2 np entries). */
static int32_t *prompt_rows(const sweep *s)
{
    size_t np = (size_t)s->grid.n_prompts;
    int32_t *rows = hs_malloc(2 * np * sizeof *rows, "prompt rows");
    for (size_t i = 0; rows && i < np; i++) {
        rows[i] = (int32_t)s->file_index[i];
        rows[np + i] = s->prompts.items[i].line;
    }
    return rows;
}

/* The books (strata) of the prompts used, as the sample took them: books[i] points into buf. */
static char *prompt_books(const sweep *s, const char **books)
{
    size_t np = (size_t)s->grid.n_prompts, size = 0;
    for (size_t i = 0; i < np; i++) size += hs_prompt_book_len(s->prompts.items[i].id) + 1;
    char *buf = hs_malloc(size ? size : 1, "prompt books"), *at = buf;
    for (size_t i = 0; buf && i < np; i++) {
        size_t len = hs_prompt_book_len(s->prompts.items[i].id);
        memcpy(at, s->prompts.items[i].id, len);
        at[len] = '\0';
        books[i] = at;
        at += len + 1;
    }
    return buf;
}

static hs_status create_output(sweep *s, const char *study, const hs_study_inputs *in, const hs_prompt_set *calib)
{
    hs_status st = make_scores(s, calib);
    if (st) return st;
    size_t np = (size_t)s->grid.n_prompts;
    const char **ids = hs_calloc(4 * np, sizeof *ids, "prompt ids"); /* ids, texts, references, books */
    int32_t *rows = prompt_rows(s);
    char *books = ids ? prompt_books(s, ids + 3 * np) : NULL;
    if (!ids || !rows || !books) st = HS_ENOMEM;
    for (size_t i = 0; !st && i < np; i++) {
        ids[i] = s->prompts.items[i].id;
        ids[np + i] = s->prompts.items[i].prompt;
        ids[2 * np + i] = s->prompts.items[i].reference;
    }
    hs_results_spec spec = {.grid = s->grid, .study = study, .inputs = in, .prompt_ids = ids,
                            .prompt_text = ids + np, .reference_text = ids + 2 * np, .prompt_file_index = rows,
                            .prompt_line = rows + np, .prompt_book = ids + 3 * np,
                            .scores = s->plan.scores, .gates = s->plan.gates};
    if (!st) st = hs_job_results_view(&s->as_run, &spec.job);
    if (!st) st = hs_results_create(s->output, &spec);
    hs_job_results_view_free(&spec.job);
    free(ids);
    free(rows);
    free(books);
    s->created = !st;
    return st;
}

/* Resuming: the file's prompts must be this run's, row for row of the prompt file, by the
 * merge rule's hs_results_same_prompt. */
static hs_status verify_prompts(sweep *s)
{
    size_t np = (size_t)s->grid.n_prompts;
    hs_prompt_row *want = hs_calloc(np ? np : 1, sizeof *want, "prompt rows");
    const char **books = hs_calloc(np ? np : 1, sizeof *books, "prompt books");
    char *buf = books ? prompt_books(s, books) : NULL;
    size_t n = strlen(s->job.prompts_path) + 32;
    char *run = hs_malloc(n, "run name");
    hs_status st = want && books && buf && run ? HS_OK : HS_ENOMEM;
    for (size_t i = 0; !st && i < np; i++)
        want[i] = (hs_prompt_row){s->prompts.items[i].id, (int32_t)s->file_index[i], s->prompts.items[i].line,
                                  books[i]};
    if (!st) snprintf(run, n, "this run's sample of %s", s->job.prompts_path);
    if (!st) st = hs_results_check_prompts(s->res, (int)np, want, run);
    free(want);
    free(books);
    free(buf);
    free(run);
    return st;
}

/* Resuming: mean-ablation variants whose means neither the results file nor a scores file
 * holds get them recomputed on the calibration set, which the study text pins (its sha256
 * and limits), so they are the numbers the first run used. */
static hs_status resume_means(sweep *s, const hs_prompt_set *calib)
{
    hs_head_mean_set ms;
    memset(&ms, 0, sizeof ms);
    hs_status st = HS_OK;
    for (int v = 0; !st && v < s->job.n_variants; v++) {
        hs_head_scores *sc = &s->plan.scores[v];
        if (s->job.variants[v].ablation != HS_ABLATION_MEAN || sc->means.v) continue;
        if (!calib->path)
            return hs_err(HS_EINTERNAL, "variant %s: no head means to resume with", s->job.variants[v].name);
        if (!ms.v) st = hs_head_mean_set_compute(&ms, &s->model, s->tok, calib, &s->job.score);
        if (!st) st = hs_head_mean_set_copy(&sc->means, &ms, s->plan.L, s->plan.H);
    }
    hs_head_mean_set_free(&ms);
    return st;
}

/* An existing file must hold this study, with the heads this build would prune. */
static hs_status verify_output(sweep *s, const char *study)
{
    const char *last = hs_results_last_version(s->res);
    if (last[0] && strcmp(last, HS_GIT_DESCRIBE))
        fprintf(stderr, "headsweep: warning: %s was last written by headsweep %s, this is %s: if the engine "
                        "changed, its cells and this run's may differ\n", s->output, last, HS_GIT_DESCRIBE);
    if (!hs_results_has_transitions(s->res))
        fprintf(stderr, "headsweep: note: %s predates /agency/transitions: this run does not record agency "
                        "transitions either\n", s->output);
    if (!hs_results_has_text(s->res))
        fprintf(stderr, "headsweep: note: %s predates /prompts/generated: this run does not record the generated "
                        "texts either (decode /text/generated_ids with headsweep detokenize)\n", s->output);
    hs_status st = hs_results_check_study(s->res, study);
    const hs_grid *fg = hs_results_grid(s->res), *jg = &s->grid;
    /* The study text names the grid, but a file made by hand can say one thing in its
     * text and hold another shape: every buffer below is sized from the job. */
    if (!st && (fg->n_variants != jg->n_variants || fg->n_levels != jg->n_levels || fg->n_shards != jg->n_shards ||
                fg->n_prompts != jg->n_prompts || fg->n_layers != jg->n_layers || fg->n_heads != jg->n_heads ||
                fg->max_new != jg->max_new || (fg->text_bytes && fg->text_bytes != jg->text_bytes)))
        st = hs_err(HS_EINPUT,
                    "%s: its dimensions (%d variants, %d levels, %d shards, %d prompts, %d x %d heads, "
                    "%d new tokens) are not this job's (%d, %d, %d, %d, %d x %d, %d); refusing to mix results",
                    s->output, fg->n_variants, fg->n_levels, fg->n_shards, fg->n_prompts, fg->n_layers, fg->n_heads,
                    fg->max_new, jg->n_variants, jg->n_levels, jg->n_shards, jg->n_prompts, jg->n_layers, jg->n_heads,
                    jg->max_new);
    for (int v = 0; !st && !s->job.heads_off && v < s->job.n_variants; v++) {
        hs_head_scores sc; /* a scores file's, if any, give way to the results file's copy */
        st = hs_results_read_scores(s->res, v, &sc);
        if (!st && !sc.means.v) { /* a file without means: keep the scores file's */
            sc.means = s->plan.scores[v].means;
            memset(&s->plan.scores[v].means, 0, sizeof sc.means);
        }
        if (!st) st = hs_prune_plan_set_scores(&s->plan, v, &sc);
    }
    if (!st) st = verify_prompts(s);
    if (!st) st = hs_prune_plan_select(&s->plan, &s->spec);
    if (st) return st;
    const hs_grid *g = &s->grid;
    size_t LH = (size_t)g->n_layers * g->n_heads, n = (size_t)g->n_variants * g->n_levels * LH;
    uint8_t *pruned = hs_malloc(n, "pruned heads");
    if (!pruned) return HS_ENOMEM;
    st = hs_results_read_pruned(s->res, pruned);
    for (size_t i = 0; !st && i < n; i++)
        if (pruned[i] != (s->plan.gates[i] == 0.0f))
            st = hs_err(HS_EINPUT, "%s: /heads/pruned differs from what this build selects from the saved scores "
                                   "(pruning code changed?); refusing to mix results", s->output);
    free(pruned);
    return st;
}

static hs_status plan_cells(sweep *s)
{
    int64_t n = hs_grid_cells(&s->grid);
    uint8_t *done = hs_malloc((size_t)n, "done flags");
    s->todo = hs_malloc((size_t)n * sizeof *s->todo, "cell list");
    if (!done || !s->todo) {
        free(done);
        return HS_ENOMEM;
    }
    hs_status st = hs_results_read_done(s->res, done);
    for (int64_t i = 0; !st && i < n; i++) {
        s->n_done_before += done[i] != 0;
        if (done[i] || !hs_slice_has(&s->o->slice, hs_grid_slice_key(&s->grid, i, !s->job.sequential))) continue;
        s->todo[s->n_todo++] = i;
        s->todo_prompts += hs_grid_shard_size(&s->grid, hs_grid_cell(&s->grid, i).shard);
    }
    free(done);
    return st;
}

static hs_status begin_run(sweep *s)
{
    /* the prefill's route beside OpenBLAS's configuration: the two routes' rows round
     * differently, and which one runs depends on the CPU and the core OpenBLAS loaded */
    char blas[256];
    snprintf(blas, sizeof blas, "%s; prefill route: %s", openblas_get_config(),
             hs_model_prefill_route(s->job.weights));
    hs_run_info info = {s->o->command_line, hs_comm_size(s->comm), s->hosts, hs_comm_library(s->comm), blas};
    int run = 0;
    hs_status st = hs_results_begin_run(s->res, &info, &run);
    s->run = run;
    return st;
}

/* An output path that is a symbolic link to nothing: the file would be created through it
 * (elsewhere than the user sees), and was refused only after the head scores, as a file that
 * "appeared while it was being written". */
static hs_status prepare_output(sweep *s)
{
    hs_prompt_set calib;
    memset(&calib, 0, sizeof calib);
    hs_study_inputs in;
    char *study = NULL;
    hs_status st = hs_sweep_check_output(s->output);
    /* the context every runner allocates: the longest prompt + max(reference, max_new) */
    if (!st) st = hs_sweep_context(&s->job, s->tok, &s->prompts, s->model.cfg.n_positions, &s->max_t);
    if (!st) st = hs_prune_plan_read_files(&s->plan, &s->spec, &s->model);
    if (!st) st = study_inputs(s, &calib, &in);
    if (!st) st = calibrate_agency(s, &calib);
    if (!st) st = hs_job_as_run(&s->job, &s->plan, &s->as_run);
    s->have_as_run = !st;
    if (!st && !(study = hs_study_text(&s->as_run, &in))) st = HS_ENOMEM;
    /* the root attribute study, like job_file_text, must stay in the checksummed object
     * header (64 KiB an attribute): hundreds of variants would pass it, and the file made
     * would be refused by every reader, this sweep's resume included */
    if (!st && strlen(study) > HS_STUDY_TEXT_MAX)
        st = hs_err(HS_EINPUT, "%s: the study's identity text would be %zu bytes (%d variants), over the %d a "
                               "results file keeps: split the variants over several jobs and merge nothing, or "
                               "compare them in fewer", s->o->job_path, strlen(study), s->job.n_variants,
                    HS_STUDY_TEXT_MAX);
    if (!st) st = hs_lock_acquire(&s->lock, s->output);
    if (!st && access(s->output, F_OK) != 0) st = create_output(s, study, &in, &calib);
    if (!st) st = hs_lock_identity(&s->lock, s->output); /* a file just created: key the lock on it too */
    if (!st) st = hs_results_open(&s->res, s->output, 1);
    if (!st) st = hs_lock_note_file(&s->lock, s->output); /* for check_output */
    if (!st && !s->created) st = verify_output(s, study);
    if (!st && !s->created) st = resume_means(s, &calib);
    if (!st) st = plan_cells(s);
    if (!st && s->n_todo > 0) st = begin_run(s);
    if (calib.path || calib.items) hs_prompts_free(&calib);
    free(study);
    return st;
}

/* ---- phase 4: the plan, from rank 0 to all ---- */

static hs_status share_plan(sweep *s)
{
    hs_comm *c = s->comm;
    int64_t head[3] = {s->n_todo, s->todo_prompts, s->n_done_before};
    int32_t ints[2] = {s->run, s->max_t};
    hs_status st = hs_comm_bcast(c, head, sizeof head);
    if (!st) st = hs_comm_bcast(c, ints, sizeof ints);
    if (st || s->rank == 0) return st;
    s->n_todo = head[0];
    s->todo_prompts = head[1];
    s->n_done_before = head[2];
    s->run = ints[0];
    s->max_t = ints[1];
    s->todo = hs_malloc((size_t)(s->n_todo ? s->n_todo : 1) * sizeof *s->todo, "cell list");
    return s->todo ? HS_OK : HS_ENOMEM;
}

/* The head means of the mean-ablation variants, from rank 0's plan to every rank (one
 * copy for all levels: they depend on the variant only). */
static hs_status share_means(sweep *s)
{
    int any = 0;
    for (int v = 0; v < s->job.n_variants; v++) any |= s->job.variants[v].ablation == HS_ABLATION_MEAN;
    if (!any) return HS_OK;
    size_t LHD = (size_t)s->model.cfg.n_layer * s->model.cfg.n_embd; /* L * H * D */
    if (!(s->means = hs_calloc((size_t)s->job.n_variants * LHD, sizeof *s->means, "head means"))) return HS_ENOMEM;
    hs_status st = HS_OK; /* rank 0 broadcasts even after a failure, so no rank waits forever */
    for (int v = 0; s->rank == 0 && !st && v < s->job.n_variants; v++) {
        const float *mu = hs_prune_plan_means(&s->plan, &s->spec, v);
        if (mu) memcpy(s->means + (size_t)v * LHD, mu, LHD * sizeof *mu);
        else if (s->job.variants[v].ablation == HS_ABLATION_MEAN)
            st = hs_err(HS_EINTERNAL, "variant %s: mean ablation without head means", s->job.variants[v].name);
    }
    hs_status bst = hs_comm_bcast(s->comm, s->means, (size_t)s->job.n_variants * LHD * sizeof *s->means);
    return st ? st : bst;
}

/* Rank 0's agency thresholds and recovery times (calibrated ones are derived there only). */
static hs_status share_thresholds(sweep *s)
{
    int nv = s->job.n_variants;
    float *t = hs_malloc((size_t)nv * 2 * sizeof *t, "agency thresholds");
    int32_t *rec = hs_malloc((size_t)nv * sizeof *rec, "agency recovery");
    if (!t || !rec) {
        free(t);
        free(rec);
        return HS_ENOMEM;
    }
    for (int v = 0; v < nv; v++) {
        t[2 * v] = s->job.variants[v].agency.overload_threshold;
        t[2 * v + 1] = s->job.variants[v].agency.alignment_threshold;
        rec[v] = s->job.variants[v].agency.recovery_steps;
    }
    hs_status st = hs_comm_bcast(s->comm, t, (size_t)nv * 2 * sizeof *t);
    if (!st) st = hs_comm_bcast(s->comm, rec, (size_t)nv * sizeof *rec);
    for (int v = 0; v < nv && !st; v++) {
        s->job.variants[v].agency.overload_threshold = t[2 * v];
        s->job.variants[v].agency.alignment_threshold = t[2 * v + 1];
        s->job.variants[v].agency.recovery_steps = rec[v];
    }
    free(t);
    free(rec);
    return st;
}

/* The cells to do and rank 0's gate matrix: every rank prunes exactly the heads rank 0
 * selected, even on a cluster whose nodes round floating point differently. */
static hs_status share_arrays(sweep *s)
{
    const hs_prune_plan *p = &s->plan;
    size_t gates = (size_t)p->n_variants * p->n_levels * p->L * p->H * sizeof *p->gates;
    hs_status st = hs_comm_bcast(s->comm, s->todo, (size_t)s->n_todo * sizeof *s->todo);
    if (!st) st = hs_comm_bcast(s->comm, s->plan.gates, gates);
    if (!st) st = share_thresholds(s);
    return st ? st : share_means(s);
}

/* ---- phase 5: work ---- */

static void report_start(const sweep *s)
{
    int64_t total = hs_grid_cells(&s->grid);
    const char *what = s->created ? "created" : "resuming";
    if (s->n_todo == 0)
        fprintf(stderr, "headsweep: %s: nothing to do, %lld of %lld cells done%s\n", s->output,
                (long long)s->n_done_before, (long long)total, s->o->slice.n ? " (or outside this slice)" : "");
    else
        fprintf(stderr,
                "headsweep: %s: %s, %lld of %lld cells done; computing %lld cells (%lld prompts) on %d rank%s\n",
                s->output, what, (long long)s->n_done_before, (long long)total, (long long)s->n_todo,
                (long long)s->todo_prompts, hs_comm_size(s->comm), hs_comm_size(s->comm) == 1 ? "" : "s");
}

/* Rank 0 writes a finished cell; a write failure stops everyone (data written stays). */
static void store_cell(sweep *s, const hs_cell_result *c)
{
    if (s->write_st) return;
    double t0 = hs_now();
    hs_status st = hs_results_write_cell(s->res, c);
    s->write_seconds += hs_now() - t0;
    if (st) {
        s->write_st = st;
        hs_comm_request_stop(s->comm, STOP_ERROR);
        return;
    }
    s->cells_written++;
}

/* Rank 0: takes in the cells other ranks finished (all waiting ones, or one with block). */
static hs_status collect_cells(sweep *s, int block)
{
    for (;;) {
        void *buf;
        size_t n;
        hs_status st = hs_comm_receive(s->comm, block, &buf, &n);
        if (st) return st;
        if (!buf) return HS_OK;
        hs_cell_result c;
        st = hs_cell_unpack(&c, &s->grid, buf, n);
        free(buf);
        if (st) return st;
        store_cell(s, &c);
        hs_cell_result_free(&c);
        if (block) return HS_OK;
    }
}

/* Rank 0: HS_EIO (exit 1) when the results path no longer names the file the sweep writes
 * (removed, or moved away and replaced): its cells would go on into a file nobody finds
 * while the run ended in success. One stat, at most once a second (and at the end). */
static hs_status check_output(sweep *s, int now)
{
    double t = hs_now();
    if (!now && t - s->output_checked < 1.0) return HS_OK;
    s->output_checked = t;
    int gone;
    if (!hs_lock_file_moved(&s->lock, s->output, &gone)) return HS_OK;
    unsigned long long dev = s->lock.file_dev, ino = s->lock.file_ino;
    return hs_err(HS_EIO, "results file %s was %s while the sweep ran: every cell written to it (%lld in this run) "
                          "went into the file the sweep had open (device %llu, inode %llu), %s; stopping: run the "
                          "sweep again to compute them", s->output, gone ? "removed" : "replaced by another file",
                  (long long)s->cells_written, dev, ino,
                  gone ? "which is lost if it was deleted, or is wherever it was moved to" : "not into the file now "
                  "at that path (the earlier file is lost if it was deleted, or is wherever it was moved to)");
}

/* Between prompts: signals, the stop flag, rank 0's mail and progress. Sets s->stop. */
static hs_status check_in(sweep *s)
{
    hs_status st = HS_OK;
    if (hs_sweep_signal() && !s->stop_sent) {
        s->stop_sent = 1;
        st = hs_comm_request_stop(s->comm, hs_sweep_signal());
    }
    if (!st) st = hs_comm_stop_reason(s->comm, &s->stop);
    if (!st && s->rank == 0) st = collect_cells(s, 0);
    if (!st && s->rank == 0) {
        int64_t prompts;
        st = hs_comm_progress(s->comm, &prompts);
        hs_progress_update(&s->progress, s->cells_written, prompts, 0);
    }
    if (!st && s->rank == 0) st = check_output(s, 0);
    return st;
}

/* The runner of (variant, level). With `only`, every other runner is freed first (one
 * alive at a time: sequential cells, throughput batches with their batch contexts);
 * otherwise the runners of one level stay alive together for interleaved timings. */
static hs_status get_runner(sweep *s, int variant, int level, int only, hs_runner **out)
{
    for (int v = 0; v < s->grid.n_variants; v++)
        if (s->runners[v] && (s->runner_level != level || (only && v != variant))) {
            hs_runner_free(s->runners[v]);
            s->runners[v] = NULL;
        }
    s->runner_level = level;
    *out = s->runners[variant];
    if (*out) return HS_OK;
    const hs_variant *v = &s->job.variants[variant];
    size_t LHD = (size_t)s->model.cfg.n_layer * s->model.cfg.n_embd;
    const float *means = v->ablation == HS_ABLATION_MEAN ? s->means + (size_t)variant * LHD : NULL;
    hs_runner_config cfg = {&s->model, s->tok, v->gating, v->agency_on, v->agency,
                            hs_prune_plan_gates(&s->plan, variant, level),
                            s->job.sample, s->max_t, s->job.measure_unpruned_ppl, s->job.batch, means};
    hs_status st = hs_runner_init(&s->runners[variant], &cfg);
    *out = s->runners[variant];
    return st;
}

static hs_status cell_error(const sweep *s, hs_status st, const hs_cell *cell)
{
    return hs_err_wrap(st, "cell (variant %s, level %g, shard %d)", s->job.variants[cell->variant].name,
                       s->plan.levels[cell->level], cell->shard);
}

/* The fault-injection tests (tests/sweep) send signals and kill -9 "while cells are being
 * computed"; on a tiny model and a fast machine the whole sweep can end before they do.
 * HS_TEST_PROMPT_PACE_MS stretches every prompt by that many milliseconds so they can
 * act at a point of their choosing. It changes timings only, never a quality metric. */
static long pace_from_env(void)
{
    const char *v = getenv("HS_TEST_PROMPT_PACE_MS");
    char *end;
    long ms = v ? strtol(v, &end, 10) : 0;
    return v && *v && !*end && ms > 0 && ms <= 60000 ? ms : 0;
}

static void pace(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR && !hs_sweep_signal()) {
    }
}

/* The head scoring's poll (hs_prune_set_interrupt), before each calibration prompt: the
 * signal flag, after HS_TEST_PROMPT_PACE_MS's pause there too, so that a test can stop a
 * sweep during its scoring on any machine. */
static long score_pace_ms;

static int score_poll(void)
{
    if (score_pace_ms > 0 && !hs_sweep_signal()) pace(score_pace_ms);
    return hs_sweep_signal();
}

/* Adds one prompt's (or batch's) agency counts to the cell's sums. */
static void add_counts(hs_cell_result *c, const int64_t *occ, const int64_t *trans, size_t LH)
{
    for (size_t i = 0; i < LH * HS_AG_NSTATES; i++) c->occupancy[i] += occ[i];
    for (size_t i = 0; i < LH; i++) c->transitions[i] += trans[i];
}

/* ---- a work item: the cells of one (level, shard), timed interleaved ----
 *
 * docs/timing.md: for each prompt of the shard the item's variants
 * run back to back, in the order of the next row of a Williams design from prompt to
 * prompt and from repeat to repeat (hs_order_variant: positions and predecessors balanced);
 * with timing_order = sequential an item is one cell (the variant alone). Quality numbers
 * do not depend on the order: each variant has its own runner, and a prompt's evaluation
 * depends on nothing but the prompt. */

typedef struct {
    hs_cell_result *c;  /* (nv) the item's cells, one per variant, same level and shard */
    hs_cell *cell;      /* (nv) their coordinates */
    double *busy;       /* (nv) wall seconds spent on each cell (its /cells/seconds) */
    double *rounds;     /* (nv, timing_repeats, HS_M_COUNT) one prompt's timed runs */
    int32_t *ids;       /* (max_new) tokens of a repeated run */
    int nv, level, shard;
} work_item;

/* Metrics of the generation that timing_repeats repeats, recorded as their medians. */
static const hs_metric_id repeated[] = {HS_M_PREFILL_S, HS_M_TTFT_S, HS_M_DECODE_S, HS_M_GENERATION_S,
                                        HS_M_DECODE_TOKENS_PER_S, HS_M_PREFILL_CPU_S, HS_M_DECODE_CPU_S,
                                        HS_M_PREFILL_RSS_GROWTH, HS_M_DECODE_RSS_GROWTH};
#define N_REPEATED (int)(sizeof repeated / sizeof repeated[0])

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the finite values among x[0], x[stride], ... (n of them); NaN if none. */
static double median_of(const double *x, int n, int stride, double *tmp)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[(size_t)i * stride])) tmp[k++] = x[(size_t)i * stride];
    if (k == 0) return NAN;
    qsort(tmp, (size_t)k, sizeof *tmp, cmp_double);
    return k % 2 ? tmp[k / 2] : 0.5 * (tmp[k / 2 - 1] + tmp[k / 2]);
}

static double epoch_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Variant k's first timed run of prompt j. Latency mode: its whole evaluation. Throughput
 * mode (the latency sample): the prompt again alone, whose tokens must equal the batch's
 * (this checks the batched path on every sampled prompt of a real run) and whose timing,
 * phase and memory metrics replace the batch's NaNs. */
static hs_status first_run(sweep *s, work_item *w, int k, int j, hs_runner *r, double *m)
{
    hs_cell_result *c = &w->c[k];
    const hs_prompt *p = &s->prompts.items[c->prompt[j]];
    size_t LH = (size_t)s->grid.n_layers * s->grid.n_heads, max_new = (size_t)s->grid.max_new;
    double *cm = c->metrics + (size_t)j * HS_M_COUNT;
    if (!s->job.throughput) {
        hs_status st = hs_runner_eval(r, p, cm, c->gen_ids + j * max_new, s->occ, s->trans);
        if (!st) add_counts(c, s->occ, s->trans, LH);
        if (!st) memcpy(m, cm, HS_M_COUNT * sizeof *m);
        return st;
    }
    hs_status st = hs_runner_eval(r, p, m, w->ids, NULL, NULL); /* counts: the batch's */
    if (st) return st;
    if (memcmp(w->ids, c->gen_ids + j * max_new, max_new * sizeof(int32_t)))
        return hs_err(HS_EINTERNAL, "prompt %s (line %d): throughput and latency mode generated different tokens",
                      p->id, p->line);
    for (int i = 0; i < HS_M_COUNT; i++)
        if (hs_metrics[i].timing) cm[i] = m[i];
    return HS_OK;
}

/* A repeated timed run: the generation alone, its tokens checked against the first run's. */
static hs_status repeat_run(sweep *s, work_item *w, int k, int j, hs_runner *r, double *m)
{
    const hs_prompt *p = &s->prompts.items[w->c[k].prompt[j]];
    size_t max_new = (size_t)s->grid.max_new;
    hs_status st = hs_runner_generate(r, p, m, w->ids);
    if (!st && memcmp(w->ids, w->c[k].gen_ids + j * max_new, max_new * sizeof(int32_t)))
        st = hs_err(HS_EINTERNAL, "prompt %s (line %d): a repeated timing generated other tokens", p->id, p->line);
    return st;
}

/* One timed run of variant k (round r of prompt j) at position pos of its round. */
static hs_status timed_run(sweep *s, work_item *w, int k, int j, int r, int pos)
{
    hs_runner *runner;
    hs_status st = get_runner(s, w->cell[k].variant, w->level, s->job.sequential, &runner);
    if (st) return cell_error(s, st, &w->cell[k]);
    double *m = w->rounds + ((size_t)k * s->job.timing_repeats + r) * HS_M_COUNT, t0 = hs_now(), start = epoch_now();
    st = r == 0 ? first_run(s, w, k, j, runner, m) : repeat_run(s, w, k, j, runner, m);
    if (!s->job.throughput) w->busy[k] += hs_now() - t0; /* throughput: the batches' time alone */
    if (st) return cell_error(s, st, &w->cell[k]);
    if (r == 0) {
        double *cm = w->c[k].metrics + (size_t)j * HS_M_COUNT;
        cm[HS_M_RUN_POSITION] = s->job.sequential ? NAN : pos;
        cm[HS_M_RUN_START] = start;
        cm[HS_M_TIMING_REPEATS] = s->job.timing_repeats;
    }
    if (s->pace_ms > 0) pace(s->pace_ms);
    return HS_OK;
}

/* HS_TEST_TIMING_LOG=FILE: every timed run's repeated metrics appended to FILE, one line
 * per (variant, level, prompt, round): tests/sweep/sweep_timing.sh checks that the results
 * file holds their medians. One write per line (O_APPEND), so ranks may share the file.
 * Reads timings only, changes nothing. */
static void log_rounds(const sweep *s, const work_item *w, int j)
{
    const char *path = getenv("HS_TEST_TIMING_LOG");
    if (!path || !*path) return;
    FILE *f = fopen(path, "a");
    if (!f) return; /* a test hook: the test sees the missing lines */
    setvbuf(f, NULL, _IOLBF, 0);
    int R = s->job.timing_repeats;
    for (int k = 0; k < w->nv; k++)
        for (int r = 0; r < R; r++) {
            const double *m = w->rounds + ((size_t)k * R + r) * HS_M_COUNT;
            fprintf(f, "%s %.17g %s %d", s->job.variants[w->cell[k].variant].name, s->plan.levels[w->level],
                    s->prompts.items[w->c[k].prompt[j]].id, r);
            for (int i = 0; i < N_REPEATED; i++) fprintf(f, " %s=%.17g", hs_metrics[repeated[i]].name, m[repeated[i]]);
            fputc('\n', f);
        }
    fclose(f);
}

/* Prompt j of every cell of the item: timing_repeats rounds of the variants back to back,
 * round r of prompt j in the order of Williams row j + shard + r, so that over a full
 * cycle of rows every variant runs at every position and after every other variant
 * equally often (a cyclic rotation balances only positions); then each repeated metric's
 * median. */
static hs_status item_prompt(sweep *s, work_item *w, int j)
{
    int nv = w->nv, R = s->job.timing_repeats;
    for (int r = 0; r < R; r++) {
        for (int pos = 0; pos < nv; pos++) {
            hs_status st = timed_run(s, w, hs_order_variant(nv, (int64_t)j + w->shard + r, pos), j, r, pos);
            if (st) return st;
        }
    }
    log_rounds(s, w, j);
    double tmp[1000];
    for (int k = 0; k < nv && R > 1; k++)
        for (int i = 0; i < N_REPEATED; i++)
            w->c[k].metrics[(size_t)j * HS_M_COUNT + repeated[i]] =
                median_of(w->rounds + (size_t)k * R * HS_M_COUNT + repeated[i], R, HS_M_COUNT, tmp);
    return HS_OK;
}

/* Latency mode: every prompt, one at a time, each variant's timed. */
static hs_status item_latency(sweep *s, work_item *w)
{
    for (int j = 0; j < w->c[0].n; j++) {
        hs_status st = item_prompt(s, w, j);
        if (st) return st;
        if ((st = hs_comm_add_progress(s->comm, w->nv)) || (st = check_in(s))) return st;
        if (s->stop) return HS_EINTR;
    }
    return HS_OK;
}

/* Throughput mode, one cell: its prompts decoded together, in chunks so that a signal is
 * seen within a few batches. *batch_s: wall seconds of the batched part (/cells/seconds). */
static hs_status cell_batches(sweep *s, hs_cell_result *c, const hs_cell *cell, double *batch_s)
{
    double t0 = hs_now();
    size_t LH = (size_t)s->grid.n_layers * s->grid.n_heads, max_new = (size_t)s->grid.max_new;
    int chunk = s->job.batch * 8;
    hs_runner *runner;
    const hs_prompt **pp = hs_malloc((size_t)c->n * sizeof *pp, "cell prompts");
    if (!pp) return HS_ENOMEM;
    hs_status st = get_runner(s, cell->variant, cell->level, 1, &runner);
    if (st) st = cell_error(s, st, cell);
    for (int j = 0; j < c->n && !st; j++) pp[j] = &s->prompts.items[c->prompt[j]];
    for (int j = 0; j < c->n && !st && !s->stop; j += chunk) {
        int k = c->n - j < chunk ? c->n - j : chunk;
        st = hs_runner_eval_batch(runner, pp + j, k, c->metrics + (size_t)j * HS_M_COUNT, c->gen_ids + j * max_new,
                                  s->occ, s->trans);
        if (st) st = cell_error(s, st, cell);
        if (!st) add_counts(c, s->occ, s->trans, LH);
        if (!st && s->pace_ms > 0) pace(s->pace_ms * k);
        if (!st) st = hs_comm_add_progress(s->comm, k);
        if (!st) st = check_in(s);
    }
    *batch_s = hs_now() - t0;
    free(pp);
    return st;
}

/* Throughput mode: each cell's batches, then the latency sample (latency_prompts prompts
 * spread over the shard, hs_latency_prompt) timed like latency mode, interleaved. */
static hs_status item_throughput(sweep *s, work_item *w)
{
    hs_status st = HS_OK;
    for (int k = 0; k < w->nv && !st && !s->stop; k++) st = cell_batches(s, &w->c[k], &w->cell[k], &w->busy[k]);
    int n = w->c[0].n, k = s->job.latency_prompts < n ? s->job.latency_prompts : n;
    for (int t = 0; t < k && !st && !s->stop; t++) {
        st = item_prompt(s, w, hs_latency_prompt(t, k, n));
        if (!st) st = check_in(s);
    }
    return !st && s->stop ? HS_EINTR : st;
}

static void item_free(work_item *w)
{
    for (int k = 0; w->c && k < w->nv; k++) hs_cell_result_free(&w->c[k]);
    free(w->c);
    free(w->cell);
    free(w->busy);
    free(w->rounds);
    free(w->ids);
}

static hs_status item_init(sweep *s, work_item *w, int64_t first, int nv)
{
    memset(w, 0, sizeof *w);
    w->c = hs_calloc((size_t)nv, sizeof *w->c, "work item");
    w->cell = hs_calloc((size_t)nv, sizeof *w->cell, "work item");
    w->busy = hs_calloc((size_t)nv, sizeof *w->busy, "work item");
    w->rounds = hs_malloc((size_t)nv * s->job.timing_repeats * HS_M_COUNT * sizeof *w->rounds, "timings");
    w->ids = hs_malloc((size_t)s->grid.max_new * sizeof *w->ids, "timed tokens");
    if (!w->c || !w->cell || !w->busy || !w->rounds || !w->ids) return HS_ENOMEM;
    w->nv = nv;
    hs_status st = HS_OK;
    for (int k = 0; k < nv && !st; k++) {
        w->cell[k] = hs_grid_cell(&s->grid, s->todo[first + k]);
        st = hs_cell_result_init(&w->c[k], &s->grid, hs_grid_shard_size(&s->grid, w->cell[k].shard));
        if (!st) hs_grid_shard_prompts(&s->grid, w->cell[k].shard, w->c[k].prompt);
        w->c[k].index = s->todo[first + k];
    }
    w->level = w->cell[0].level;
    w->shard = w->cell[0].shard;
    return st;
}

/* Each prompt's generated text from its ids (up to the -1 padding), for /prompts/generated. */
static hs_status decode_texts(sweep *s, hs_cell_result *c)
{
    int max_new = s->grid.max_new;
    hs_status st = HS_OK;
    for (int j = 0; !st && c->text && j < c->n; j++) {
        const int32_t *ids = c->gen_ids + (size_t)j * max_new;
        int n = 0;
        while (n < max_new && ids[n] >= 0) n++;
        st = hs_tokenizer_decode_text(s->tok, ids, (size_t)n, c->text + (size_t)j * c->text_bytes,
                                      (size_t)c->text_bytes);
    }
    return st;
}

/* The speed copies (HS_COPY_*) a variant's cells read when the rank has them: the packed
 * copy (throughput mode's batches) and the panels (batch 1) whatever the gating, the
 * head-major c_attn in skip mode only. A cell records those the rank asked for and those
 * it had (/cells/copies_requested, /cells/copies_used), so the report can tell a cell timed
 * without a copy that gave way for memory from one timed with it. */
static unsigned cell_copies(const sweep *s, int variant)
{
    unsigned skip = s->job.variants[variant].gating == HS_GATING_SKIP;
    return HS_COPY_PACK | HS_COPY_PANELS | (skip ? HS_COPY_HEAD_MAJOR : 0u);
}

/* Evaluates work item g (its cells todo[group_start[g] ..]) into w; HS_EINTR when a stop
 * abandoned it. */
static hs_status run_item(sweep *s, int64_t g, work_item *w)
{
    hs_status st = item_init(s, w, s->group_start[g], (int)(s->group_start[g + 1] - s->group_start[g]));
    if (!st) st = s->job.throughput ? item_throughput(s, w) : item_latency(s, w);
    if (st) return st;
    for (int k = 0; k < w->nv; k++) {
        hs_cell_result *c = &w->c[k];
        st = decode_texts(s, c);
        if (st) return cell_error(s, st, &w->cell[k]);
        c->seconds = w->busy[k];
        c->rank = s->rank;
        c->run = s->run;
        unsigned reads = cell_copies(s, w->cell[k].variant);
        c->copies_requested = (uint8_t)(s->model.copies_asked & reads);
        c->copies_used = (uint8_t)(s->model.copies_made & reads);
        snprintf(c->host, sizeof c->host, "%s", hs_comm_host(s->comm));
        hs_utc_now(c->finished_utc);
    }
    return HS_OK;
}

/* The work items, on every rank from the broadcast cell list: interleaved, the cells of
 * one (level, shard) together (the list reordered level- and shard-major, variants in job
 * order within an item); sequential, each cell alone in the list's order. */
static hs_status make_groups(sweep *s)
{
    const hs_grid *g = &s->grid;
    int64_t cells = hs_grid_cells(g), k = 0;
    s->runners = hs_calloc((size_t)g->n_variants, sizeof *s->runners, "runners");
    s->group_start = hs_malloc((size_t)(s->n_todo + 1) * sizeof *s->group_start, "work items");
    uint8_t *mark = hs_calloc((size_t)(cells ? cells : 1), 1, "work items");
    if (!s->runners || !s->group_start || !mark) {
        free(mark);
        return HS_ENOMEM;
    }
    s->runner_level = -1;
    s->n_groups = 0;
    if (s->job.sequential) { /* the cell list's order, variant-major */
        for (int64_t i = 0; i <= s->n_todo; i++) s->group_start[i] = i;
        s->n_groups = s->n_todo;
        free(mark);
        return HS_OK;
    }
    for (int64_t i = 0; i < s->n_todo; i++) mark[s->todo[i]] = 1;
    for (int l = 0; l < g->n_levels; l++)
        for (int sh = 0; sh < g->n_shards; sh++) {
            int64_t first = k;
            for (int v = 0; v < g->n_variants; v++) {
                int64_t idx = ((int64_t)v * g->n_levels + l) * g->n_shards + sh;
                if (mark[idx]) s->todo[k++] = idx;
            }
            if (k > first) s->group_start[s->n_groups++] = first;
        }
    s->group_start[s->n_groups] = k;
    free(mark);
    return HS_OK;
}

static hs_status submit_cell(sweep *s, const hs_cell_result *c)
{
    if (s->rank == 0) {
        store_cell(s, c);
        return HS_OK;
    }
    void *buf;
    size_t n;
    hs_status st = hs_cell_pack(c, &s->grid, &buf, &n);
    return st ? st : hs_comm_send(s->comm, buf, n);
}

static hs_status work_loop(sweep *s)
{
    while (!s->stop) {
        int64_t item;
        hs_status st = hs_comm_queue_next(s->comm, &item);
        if (st || item >= s->n_groups) return st;
        work_item w;
        st = run_item(s, item, &w);
        for (int k = 0; !st && k < w.nv; k++) st = submit_cell(s, &w.c[k]);
        item_free(&w);
        if (st == HS_EINTR) return HS_OK;
        if (st) return st;
        if ((st = check_in(s))) return st;
    }
    return HS_OK;
}

/* Every rank's share of the work; rank 0 then waits for the others' last cells. */
static hs_status work(sweep *s)
{
    /* --progress-interval, else the job's progress_interval, else HS_PROGRESS_INTERVAL */
    double interval = s->o->progress_interval > 0 ? s->o->progress_interval : s->job.progress_interval;
    if (s->rank == 0) hs_progress_init(&s->progress, stderr, s->o->progress, interval, s->n_todo, s->todo_prompts);
    hs_status st = hs_comm_queue_open(s->comm, s->n_groups);
    if (st) return st;
    st = work_loop(s);
    if (st) hs_comm_request_stop(s->comm, STOP_ERROR);
    hs_status fin = s->rank == 0 ? HS_OK : hs_comm_send_done(s->comm);
    while (!fin && hs_comm_receive_open(s->comm)) fin = collect_cells(s, 1);
    if (!st) st = fin;
    if (!st && s->rank == 0) st = s->write_st;
    if (!st) st = hs_comm_stop_reason(s->comm, &s->stop);
    hs_status closed = hs_comm_queue_close(s->comm);
    return st ? st : closed;
}

/* ---- phase 6: the end ---- */

static hs_status finish_output(sweep *s, hs_status st)
{
    if (s->res && s->n_todo > 0) {
        int64_t prompts = 0;
        if (s->rank == 0 && s->progress.out) {
            hs_comm_progress(s->comm, &prompts);
            hs_progress_finish(&s->progress, s->cells_written, prompts);
        }
        hs_status end = hs_results_end_run(s->res);
        if (!st) st = end;
        /* the last word on where the cells are: also over a stop by a signal, whose
         * message would say they are saved in s->output */
        hs_status moved = s->rank == 0 ? check_output(s, 1) : HS_OK;
        if (moved && (!st || st == HS_EINTR)) st = moved;
    } else if (s->res && !st) {
        st = hs_results_settle(s->res);
    }
    hs_status closed = hs_results_close(s->res);
    s->res = NULL;
    if (!st) st = closed;
    hs_lock_release(&s->lock);
    return st;
}

/* The outcome on rank 0, to stderr (errors are printed by the caller). */
static void report_end(const sweep *s, hs_status st)
{
    if (s->rank != 0 || s->n_todo == 0 || (st && st != HS_EINTR)) return;
    int64_t total = hs_grid_cells(&s->grid), done = s->n_done_before + s->cells_written;
    double wall = hs_now() - s->start;
    fprintf(stderr,
            "headsweep: %s: %lld of %lld cells done (%lld in this run, %.1f s; writing results %.2f s, %.1f%%)\n",
            s->output, (long long)done, (long long)total, (long long)s->cells_written, wall, s->write_seconds,
            wall > 0 ? 100.0 * s->write_seconds / wall : 0.0);
}

static hs_status stop_status(const sweep *s, hs_status st)
{
    if (st || !s->stop || s->stop == STOP_ERROR) return st;
    int64_t left = hs_grid_cells(&s->grid) - s->n_done_before - s->cells_written;
    return hs_err(HS_EINTR, "stopped by %s; finished cells are saved in %s; run the same command again to compute "
                            "the %lld cells left", hs_sweep_signal_name(s->stop), s->output, (long long)left);
}

/* Collective: every rank's prefill takes rank 0's route (hs_model_prefill_route). It
 * depends on the CPU and on the core OpenBLAS loaded, so ranks on different kinds of
 * node would write cells that round differently into one file. */
static hs_status agree_route(sweep *s)
{
    char *route0 = s->rank == 0 ? (char *)hs_model_prefill_route(s->job.weights) : NULL;
    hs_status st = hs_comm_bcast_string(s->comm, &route0);
    const char *mine = hs_model_prefill_route(s->job.weights);
    if (!st && s->rank != 0 && route0 && strcmp(route0, mine))
        st = hs_err(HS_EINPUT, "this rank's prefill products run on %s, rank 0's on %s, and the two round "
                               "differently: run every rank on one kind of node, or set HS_GEMM_BLAS=0 (our tiles) "
                               "or HS_GEMM_BLAS=1 (OpenBLAS) for all of them", mine, route0);
    if (s->rank != 0) free(route0);
    return st;
}

/* The SHA-256 of model.safetensors (as loaded), of config.json, vocab.json and merges.txt
 * beside it, and of the prompt file (as loaded), into s->digests. */
static hs_status digest_inputs(sweep *s)
{
    hs_study_inputs *d = &s->digests;
    const char *sha = hs_model_sha256(&s->model);
    if (!sha) return hs_err(HS_EIO, "%s: cannot compute the sha256 of model.safetensors", s->job.model_dir);
    snprintf(d->model_sha256, sizeof d->model_sha256, "%s", sha);
    snprintf(d->prompts_sha256, sizeof d->prompts_sha256, "%s", s->prompts.sha256);
    static const char *const name[] = {"config.json", "vocab.json", "merges.txt"};
    char *out[] = {d->config_sha256, d->vocab_sha256, d->merges_sha256};
    hs_status st = HS_OK;
    for (int i = 0; i < 3 && !st; i++) {
        char *path = hs_path_join(s->job.model_dir, name[i]);
        st = path ? hs_sha256_file(path, out[i]) : HS_ENOMEM;
        free(path);
    }
    return st;
}

/* Collective: every rank computes from the same bytes as rank 0. Each rank reads the model
 * and the prompts from its own file system, and a stale node-local copy, or a file edited
 * while the job starts, put another model's or other prompts' numbers under rank 0's study
 * (the file's identity) without a word. */
static hs_status agree_inputs(sweep *s)
{
    hs_status st = digest_inputs(s);
    const hs_study_inputs *d = &s->digests;
    char mine[5 * 64 + 1]; /* five hex digests, one after the other */
    snprintf(mine, sizeof mine, "%s%s%s%s%s", d->model_sha256, d->config_sha256, d->vocab_sha256, d->merges_sha256,
             d->prompts_sha256);
    char *ref = s->rank == 0 ? mine : NULL;
    hs_status bst = hs_comm_bcast_string(s->comm, &ref);
    if (!st) st = bst;
    static const char *const what[] = {"model.safetensors", "config.json", "vocab.json", "merges.txt", NULL};
    for (int i = 0; !st && s->rank != 0 && ref && i < 5; i++)
        if (strlen(ref) != strlen(mine) || memcmp(ref + 64 * i, mine + 64 * i, 64))
            st = hs_err(HS_EINPUT, "this rank read another %s than rank 0 (SHA-256 %.12s… against %.12s…): every rank "
                                   "must read the same files (a stale copy on this node, or a file changed while the "
                                   "job started?)",
                        what[i] ? what[i] : s->job.prompts_path, mine + 64 * i,
                        strlen(ref) == strlen(mine) ? ref + 64 * i : "?");
    if (s->rank != 0) free(ref);
    return st;
}

static hs_status run(sweep *s)
{
    hs_status st = load_job(s);
    if (!st) st = agree(s, load_inputs(s));
    if (!st) st = hs_comm_agree(s->comm, hs_comm_hosts(s->comm, &s->hosts));
    if (!st) st = hs_comm_agree(s->comm, agree_route(s));
    if (!st) st = hs_comm_agree(s->comm, agree_inputs(s));
    if (!st) st = agree(s, s->rank == 0 ? prepare_output(s) : HS_OK);
    if (!st) st = hs_comm_agree(s->comm, share_plan(s));
    if (!st) st = hs_comm_agree(s->comm, share_arrays(s));
    if (!st) st = hs_comm_agree(s->comm, make_groups(s));
    if (!st && s->rank == 0) report_start(s);
    hs_status local = st || s->n_todo == 0 ? st : work(s);
    if (s->rank == 0) local = finish_output(s, local);
    if (!st) {
        local = stop_status(s, local);
        report_end(s, local);
        st = hs_comm_agree(s->comm, local);
    }
    return st;
}

static void sweep_free(sweep *s)
{
    hs_results_close(s->res);
    hs_lock_release(&s->lock);
    for (int v = 0; s->runners && v < s->grid.n_variants; v++) hs_runner_free(s->runners[v]);
    free(s->runners);
    free(s->group_start);
    free(s->todo);
    free(s->means);
    free(s->file_index);
    free(s->occ);
    free(s->trans);
    free(s->hosts);
    if (s->have_as_run) hs_job_as_run_free(&s->as_run);
    if (s->have_plan) hs_prune_plan_free(&s->plan);
    hs_job_plan_spec_free(&s->spec);
    if (s->have_prompts) hs_prompts_free(&s->prompts);
    if (s->have_model) hs_model_free(&s->model);
    hs_tokenizer_free(s->tok);
    if (s->have_job) hs_job_free(&s->job);
}

hs_status hs_sweep_run(const hs_sweep_opts *o)
{
    sweep s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.lock.fd = -1;
    s.start = hs_now();
    s.pace_ms = pace_from_env();
    hs_status st = hs_comm_init(&s.comm);
    if (st) {
        fprintf(stderr, "headsweep: %s\n", hs_err_msg());
        hs_comm_finalize(s.comm);
        return st;
    }
    s.rank = hs_comm_rank(s.comm);
    hs_sweep_signals_install();
    score_pace_ms = s.pace_ms;
    hs_prune_set_interrupt(score_poll); /* the head scoring stops at a signal too */
    hs_agency_set_interrupt(score_poll); /* and so does the agency thresholds' calibration */
    st = run(&s);
    /* Rank 0 prints the outcome every rank agreed on, and only then may the others leave:
     * mpirun ends the whole job as soon as one rank exits non-zero. */
    if (st && s.rank == 0) fprintf(stderr, "headsweep: %s\n", hs_err_msg());
    hs_comm_agree(s.comm, HS_OK);
    sweep_free(&s);
    hs_comm_finalize(s.comm);
    return st;
}
