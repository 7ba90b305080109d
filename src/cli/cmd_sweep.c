/* cmd_sweep.c: `headsweep sweep`: command-line options -> hs_sweep_run (src/sweep). The
 * usage text is printed with fputs (hs_opt_help), not printf: a '%' stands for itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cmd_sweep.h"
#include "headsweep/sweep.h"

static const char sweep_usage[] =
    "usage: [mpirun -n N] headsweep sweep JOB.ini [--set SECTION.KEY=VALUE ...] [--out FILE]\n"
    "                                   [--cells K/N] [--progress bar|lines]\n"
    "Runs every (variant x pruning level x prompt shard) cell of the study in JOB.ini on\n"
    "all MPI ranks (serially without mpirun) and writes one HDF5 results file. Running the\n"
    "same command again resumes: only cells not yet in the file are computed.\n"
    "  --set S.K=V    override a job-file setting, e.g. --set generation.seed=7\n"
    "  --out FILE     results file (default: [job] output, else results/NAME.h5)\n"
    "  --cells K/N    compute only part K of N of the cells (cell index % N == K-1),\n"
    "                 e.g. one SLURM array task each; combine parts with headsweep merge\n"
    "  --progress M   bar (redrawn line) or lines (plain log lines); default: bar on a\n"
    "                 terminal, lines otherwise\n"
    "See docs/sweep.md for the job-file keys.\n";

static const char sweep_exits[] =
    "Exit status: 0 done, 2 bad input, 3 stopped by SIGTERM/SIGINT/SIGUSR1/SIGUSR2 with the\n"
    "finished cells saved (requeue and run again), 1 other failures.\n";

/* Rank of this process as the MPI launcher announces it (before MPI_Init), so that a
 * usage error is printed once, not once per rank. */
static int launcher_rank(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v) return atoi(v);
    }
    return 0;
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
                                         {"progress", required_argument, 0, 'p'}, {0, 0, 0, 0}};
    hs_sweep_opts o = {.progress = -1};
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    char *cmdline = join_args(argc, argv);
    if (!sets || !cmdline) {
        free(sets);
        free(cmdline);
        fprintf(stderr, "headsweep: out of memory\n");
        return 1;
    }
    int c, rc = -1;
    hs_opt p;
    hs_cli_opt_init(&p, "sweep", sweep_usage, sweep_exits, opts);
    p.quiet = launcher_rank() != 0; /* a usage error is printed once, not once per rank */
    while (rc < 0 && (c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        if (c == 's') sets[o.n_sets++] = optarg;
        else if (c == 'o') o.output = optarg;
        else if (c == 'c' && hs_slice_parse(optarg, &o.slice)) rc = hs_opt_error(&p, "%s", hs_err_msg());
        else if (c == 'p' && !strcmp(optarg, "bar")) o.progress = 1;
        else if (c == 'p' && !strcmp(optarg, "lines")) o.progress = 0;
        else if (c == 'p') rc = hs_opt_error(&p, "--progress: expected bar or lines, not '%s'", optarg);
    }
    if (rc < 0 && p.next != argc - 1) rc = hs_opt_error(&p, "%s", p.next >= argc ? "a job file is required" : "exactly one job file");
    if (rc < 0) {
        o.job_path = argv[p.next];
        o.sets = sets;
        o.command_line = cmdline;
        rc = hs_status_exit_code(hs_sweep_run(&o));
    }
    free(sets);
    free(cmdline);
    return rc;
}
