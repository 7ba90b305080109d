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
    "  --cells K/N    compute only part K of N of the cells (cell index % N == K-1),\n"
    "                 e.g. one SLURM array task each; combine parts with headsweep merge\n"
    "  --progress M   bar (redrawn line) or lines (plain log lines); default: bar on a\n"
    "                 terminal, lines otherwise (mpirun's pipes, batch logs)\n"
    "  --progress-interval S  seconds between progress lines (default 10), printed\n"
    "                 whether a cell has finished or not\n"
    "  --dry-run      print what would run (variants, levels, prompts, cells, after every\n"
    "                 --set) and compute nothing; reads the job, the prompt file and the\n"
    "                 model's config.json only, never the results file; no MPI\n"
    "  --json         with --dry-run: the same as one JSON object on stdout\n"
    "See docs/sweep.md for the job-file keys.\n";

static const char sweep_exits[] =
    "Exit status: 0 done, 2 bad input, 3 stopped by SIGTERM/SIGINT/SIGUSR1/SIGUSR2 with the\n"
    "finished cells saved (requeue and run again), 4 the results file is held by another\n"
    "live sweep (nothing was done; `headsweep status FILE` names it), 1 other failures.\n";

/* --dry-run as text: one "key  value" line each. */
static void plan_print_text(const hs_sweep_plan *p, const hs_sweep_opts *o)
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
    printf("levels     ");
    for (int l = 0; l < p->prune.n_levels; l++)
        printf(" %g%s", p->prune.levels[l], l + 1 < p->prune.n_levels ? "," : "\n");
    if (j->heads_off) printf("heads_off   %s\n", j->heads_off);
    else printf("strategy    %s\n", hs_strategy_name(j->strategy));
    printf("cells       %lld (%d variants x %d levels x %d shards)\n", (long long)p->cells, j->n_variants,
           p->prune.n_levels, j->shards);
    if (o->slice.n) printf("this part   %lld (--cells %d/%d)\n", (long long)p->cells_slice, o->slice.k, o->slice.n);
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
    json_t *slice = o->slice.n ? json_pack("{s:i, s:i}", "k", o->slice.k, "n", o->slice.n) : json_null();
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:i, s:i}, s:o, s:o, s:s, s:s?, s:i, s:I, s:o, s:I}",
                     "job", j->name, "job_file", j->path, "output", j->output, "model", j->model_dir,
                     "prompts", "file", j->prompts_path, "used", p->n_prompts, "shards", j->shards,
                     "variants", variants, "levels", levels, "strategy", hs_strategy_name(j->strategy),
                     "heads_off", j->heads_off, "max_new_tokens", j->sample.max_new, "cells", (json_int_t)p->cells,
                     "slice", slice, "cells_in_slice", (json_int_t)p->cells_slice);
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
        plan_print_text(&p, o);
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
