/* cmd_sweep.c: `headsweep sweep`: command-line options -> hs_sweep_run (src/sweep). The
 * usage text is printed with fputs (hs_opt_help), not printf: a '%' stands for itself. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cmd_sweep.h"
#include "headsweep/sweep.h"

static const char sweep_usage[] =
    "usage: [mpirun -n N] headsweep sweep JOB.ini [--set SECTION.KEY=VALUE ...] [--out FILE]\n"
    "                                   [--cells K/N] [--progress bar|lines] [--progress-interval S]\n"
    "                                   [--dry-run [--json]]\n"
    "Runs every (variant x pruning level x prompt shard) cell of the study in JOB.ini on\n"
    "all MPI ranks (serially without mpirun) and writes one HDF5 results file. Running the\n"
    "same command again resumes: only cells not yet in the file are computed.\n"
    "  --set S.K=V    override a job-file setting, e.g. --set generation.seed=7\n"
    "  --out FILE     results file (default: [job] output, else results/NAME.h5)\n"
    "  --cells K/N    compute only part K of N of the work items (levels x shards, whose\n"
    "                 variants are timed together; cells with timing_order = sequential):\n"
    "                 item % N == K-1, N at most their count; e.g. one SLURM array task\n"
    "                 each; combine parts with headsweep merge\n"
    "  --progress M   bar (redrawn line) or lines (plain log lines); default: bar on a\n"
    "                 terminal, lines otherwise (mpirun's pipes, batch logs)\n"
    "  --progress-interval S  seconds between progress lines (default 10), printed\n"
    "                 whether a cell has finished or not\n"
    "  --dry-run      print what would run (variants, levels, prompts, cells, after every\n"
    "                 --set) and compute nothing, refusing what the sweep would refuse;\n"
    "                 reads the job, the prompt file, the model's config.json and\n"
    "                 tokenizer, the calibration set and scores files (hashing the\n"
    "                 weights for those), never the results file; no MPI\n"
    "  --json         with --dry-run: the same as one JSON object on stdout\n"
    "See docs/sweep.md for the job-file keys.\n";

static const char sweep_exits[] =
    "Exit status: 0 done, 2 bad input, 3 stopped by SIGTERM/SIGINT/SIGUSR1/SIGUSR2 with the\n"
    "finished cells saved (requeue and run again), 4 the results file is held by another\n"
    "live sweep (nothing was done; `headsweep status FILE` names it), 1 other failures.\n";

/* Books of the prompts used, in order of their first prompt, with counts (the strata of a
 * max_prompts sample); book[i] is prompt i's book number. Returns the number of books. */
static int plan_books(const hs_sweep_plan *p, int *book, int *count)
{
    int nb = 0;
    for (int i = 0; i < p->n_prompts; i++) {
        const char *id = p->prompts.items[i].id;
        size_t len = hs_prompt_book_len(id);
        int k = 0;
        while (k < nb) {
            const char *first = p->prompts.items[count[2 * k + 1]].id;
            if (hs_prompt_book_len(first) == len && !strncmp(first, id, len)) break;
            k++;
        }
        if (k == nb) count[2 * nb++] = 0, count[2 * k + 1] = i;
        count[2 * k]++;
        book[i] = k;
    }
    return nb;
}

static const char *plan_order(const hs_sweep_plan *p)
{
    return p->n_prompts == p->n_file ? "all" : p->job.prompt_head ? "head" : "sample";
}

#define HS_DRY_ROWS 50 /* prompts listed in the text form; --json lists every one */

/* The prompts used: how chosen, books and counts, and their rows of the prompt file. */
static hs_status plan_print_sample(const hs_sweep_plan *p)
{
    int *book = hs_malloc((size_t)p->n_prompts * 3 * sizeof *book, "dry run books"), *count = book + p->n_prompts;
    if (!book) return HS_ENOMEM;
    int nb = plan_books(p, book, count);
    printf("sample      %s, %d of %d", plan_order(p), p->n_prompts, p->n_file);
    if (!strcmp(plan_order(p), "sample")) printf(", prompt_seed %llu", (unsigned long long)p->job.prompt_seed);
    printf("; %d book%s:", nb, nb == 1 ? "" : "s");
    for (int k = 0; k < nb; k++) {
        const char *id = p->prompts.items[count[2 * k + 1]].id;
        printf(" %.*s %d%s", (int)hs_prompt_book_len(id), id, count[2 * k], k + 1 < nb ? "," : "\n");
    }
    printf("rows       ");
    for (int i = 0; i < p->n_prompts && i < HS_DRY_ROWS; i++)
        printf(" %s (line %d)%s", p->prompts.items[i].id, p->prompts.items[i].line, i + 1 < p->n_prompts ? "," : "");
    if (p->n_prompts > HS_DRY_ROWS) printf(" and %d more (--json lists every one)", p->n_prompts - HS_DRY_ROWS);
    putchar('\n');
    free(book);
    return HS_OK;
}

/* --dry-run as text: one "key  value" line each. */
static hs_status plan_print_text(const hs_sweep_plan *p, const hs_sweep_opts *o)
{
    const hs_job *j = &p->job;
    printf("job         %s (%s)\noutput      %s\nmodel       %s\n", j->name, j->path, j->output, j->model_dir);
    printf("prompts     %s: %d used, %d shard%s\n", j->prompts_path, p->n_prompts, j->shards,
           j->shards == 1 ? "" : "s");
    printf("variants   ");
    for (int v = 0; v < j->n_variants; v++) {
        const hs_variant *var = &j->variants[v];
        printf(" %s (%s%s%s)%s", var->name, hs_gating_name(var->gating), var->agency_on ? ", agency" : "",
               var->ablation == HS_ABLATION_MEAN ? ", mean ablation" : "", v + 1 < j->n_variants ? "," : "\n");
    }
    int listed = p->prune.n_levels - p->prune.n_single; /* each_head's single-head levels come last */
    printf("levels     ");
    for (int l = 0; l < listed; l++) printf(" %g%s", p->prune.levels[l], l + 1 < listed ? "," : "");
    if (p->prune.n_single)
        printf(", and %d single-head levels (each_head: heads 0.0 to %d.%d alone, layer by layer, one head off "
               "each, %g%%)", p->prune.n_single, p->prune.L - 1, p->prune.H - 1, p->prune.levels[listed]);
    putchar('\n');
    if (j->heads_off) printf("heads_off   %s\n", j->heads_off);
    else printf("strategy    %s\n", hs_strategy_name(j->strategy));
    printf("cells       %lld (%d variants x %d levels x %d shards)\n", (long long)p->cells, j->n_variants,
           p->prune.n_levels, j->shards);
    if (o->slice.n) printf("this part   %lld (--cells %d/%d)\n", (long long)p->cells_slice, o->slice.k, o->slice.n);
    return plan_print_sample(p);
}

/* "sample": how the prompts were chosen, books with counts, and each prompt's row of the
 * prompt file (index among its prompts, line) and book, as /prompts/ of the results file. */
static json_t *plan_sample_json(const hs_sweep_plan *p)
{
    int *book = hs_malloc((size_t)p->n_prompts * 3 * sizeof *book, "dry run books"), *count = book + p->n_prompts;
    if (!book) return NULL;
    int nb = plan_books(p, book, count);
    json_t *books = json_array(), *rows = json_array();
    for (int k = 0; k < nb; k++) {
        const char *id = p->prompts.items[count[2 * k + 1]].id;
        json_array_append_new(books, json_pack("{s:s%, s:i}", "book", id, hs_prompt_book_len(id), "count",
                                               count[2 * k]));
    }
    for (int i = 0; i < p->n_prompts; i++) {
        const hs_prompt *q = &p->prompts.items[i];
        json_array_append_new(rows, json_pack("{s:s, s:I, s:i, s:s%}", "id", q->id, "file_index",
                                              (json_int_t)p->file_index[i], "line", q->line, "book", q->id,
                                              hs_prompt_book_len(q->id)));
    }
    free(book);
    json_t *seed = strcmp(plan_order(p), "sample") ? json_null() : json_integer((json_int_t)p->job.prompt_seed);
    return json_pack("{s:s, s:o, s:i, s:i, s:o, s:o}", "order", plan_order(p), "seed", seed, "used", p->n_prompts,
                     "of", p->n_file, "books", books, "prompts", rows);
}

static json_t *plan_json(const hs_sweep_plan *p, const hs_sweep_opts *o)
{
    const hs_job *j = &p->job;
    json_t *variants = json_array(), *levels = json_array();
    for (int v = 0; v < j->n_variants; v++)
        json_array_append_new(variants,
                              json_pack("{s:s, s:s, s:b}", "name", j->variants[v].name, "gating",
                                        hs_gating_name(j->variants[v].gating), "agency", j->variants[v].agency_on));
    for (int l = 0; l < p->prune.n_levels; l++) json_array_append_new(levels, json_real(p->prune.levels[l]));
    /* each_head: which head a single-head level switches off alone ("L.H"), null elsewhere */
    json_t *single = json_array();
    for (int l = 0; l < p->prune.n_levels; l++) {
        int h = p->prune.level_head[l];
        char lab[32];
        snprintf(lab, sizeof lab, "%d.%d", h / (p->prune.H ? p->prune.H : 1), h % (p->prune.H ? p->prune.H : 1));
        json_array_append_new(single, h < 0 ? json_null() : json_string(lab));
    }
    json_t *slice = o->slice.n ? json_pack("{s:i, s:i}", "k", o->slice.k, "n", o->slice.n) : json_null();
    json_t *sample = plan_sample_json(p);
    if (!sample) return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:i, s:i}, s:o, s:o, s:o, s:s, s:s?, s:i, s:I, s:o, s:I, s:o}",
                     "job", j->name, "job_file", j->path, "output", j->output, "model", j->model_dir,
                     "prompts", "file", j->prompts_path, "used", p->n_prompts, "shards", j->shards,
                     "variants", variants, "levels", levels, "single_head", single,
                     "strategy", hs_strategy_name(j->strategy),
                     "heads_off", j->heads_off, "max_new_tokens", j->sample.max_new, "cells", (json_int_t)p->cells,
                     "slice", slice, "cells_in_slice", (json_int_t)p->cells_slice, "sample", sample);
}

/* sweep --dry-run: the plan on stdout (rank 0 only under a launcher), nothing computed. */
static int dry_run(const hs_sweep_opts *o, int as_json)
{
    hs_sweep_plan p;
    hs_status st = hs_sweep_plan_make(&p, o);
    if (st) return hs_sweep_launcher_rank() == 0 ? hs_cli_fail(st) : hs_status_exit_code(st);
    if (hs_sweep_launcher_rank() == 0 && as_json) {
        json_t *js = plan_json(&p, o);
        if (!js || json_dumpf(js, stdout, JSON_INDENT(2)) != 0) st = hs_err(HS_ENOMEM, "--json: cannot build the JSON");
        else putchar('\n');
        json_decref(js);
    } else if (hs_sweep_launcher_rank() == 0) {
        st = plan_print_text(&p, o);
    }
    hs_sweep_plan_free(&p);
    if (!st && (fflush(stdout) || ferror(stdout))) st = hs_err(HS_EIO, "stdout: write error");
    return st ? hs_cli_fail(st) : 0;
}

/* "headsweep sweep a b c" for the results file's provenance. */
static char *join_args(int argc, char **argv)
{
    size_t n = strlen("headsweep") + 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (!s) return NULL;
    strcpy(s, "headsweep");
    for (int i = 0; i < argc; i++) strcat(strcat(s, " "), argv[i]);
    return s;
}

int hs_cmd_sweep(int argc, char **argv)
{
    static const struct option opts[] = {{"set", required_argument, 0, 's'},   {"out", required_argument, 0, 'o'},
                                         {"cells", required_argument, 0, 'c'}, {"slice", required_argument, 0, 'c'},
                                         {"progress", required_argument, 0, 'p'}, {"dry-run", no_argument, 0, 'n'},
                                         {"progress-interval", required_argument, 0, 'i'},
                                         {"json", no_argument, 0, 'j'},           {0, 0, 0, 0}};
    hs_sweep_opts o = {.progress = -1};
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    char *cmdline = join_args(argc, argv);
    if (!sets || !cmdline) {
        free(sets);
        free(cmdline);
        fprintf(stderr, "headsweep: out of memory\n");
        return 1;
    }
    int c, rc = -1, dry = 0, as_json = 0;
    hs_opt p;
    hs_cli_opt_init(&p, "sweep", sweep_usage, sweep_exits, opts);
    p.quiet = hs_sweep_launcher_rank() != 0; /* a usage error is printed once, not once per rank */
    while (rc < 0 && (c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        if (c == 's') sets[o.n_sets++] = optarg;
        else if (c == 'o') o.output = optarg;
        else if (c == 'c' && hs_slice_parse(optarg, &o.slice)) rc = hs_opt_error(&p, "%s", hs_err_msg());
        else if (c == 'p' && !strcmp(optarg, "bar")) o.progress = 1;
        else if (c == 'p' && !strcmp(optarg, "lines")) o.progress = 0;
        else if (c == 'p') rc = hs_opt_error(&p, "--progress: expected bar or lines, not '%s'", optarg);
        else if (c == 'i' && hs_opt_parse_double(optarg, "--progress-interval", 0.01, 86400, &o.progress_interval))
            rc = hs_opt_error(&p, "%s", hs_err_msg());
        else if (c == 'n') dry = 1;
        else if (c == 'j') as_json = 1;
    }
    if (rc < 0 && as_json && !dry) rc = hs_opt_error(&p, "--json goes with --dry-run");
    if (rc < 0 && p.next != argc - 1)
        rc = hs_opt_error(&p, "%s", p.next >= argc ? "a job file is required" : "exactly one job file");
    if (rc < 0) {
        o.job_path = argv[p.next];
        o.sets = sets;
        o.command_line = cmdline;
        rc = dry ? dry_run(&o, as_json) : hs_status_exit_code(hs_sweep_run(&o));
    }
    free(sets);
    free(cmdline);
    return rc;
}
