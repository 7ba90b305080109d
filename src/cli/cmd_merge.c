/* cmd_merge.c: `headsweep merge OUT.h5 IN.h5...` -> hs_merge (src/sweep/merge.c). */
#include <stdio.h>

#include "cli_util.h"
#include "cmd_sweep.h"
#include "headsweep/sweep.h"

static const char merge_usage[] =
    "usage: headsweep merge OUT.h5 IN.h5...\n"
    "Combines results files of one study (job-array parts, collaborators' runs) into a new\n"
    "file OUT.h5. Inputs whose model, prompts or job settings differ are refused, and so are\n"
    "cells done in several inputs whose quality numbers disagree.\n";

int hs_cmd_merge(int argc, char **argv)
{
    static const struct option none[] = {{0, 0, 0, 0}};
    hs_opt p;
    int rc;
    hs_cli_opt_init(&p, "merge", merge_usage, NULL, none);
    if (hs_opt_next(&p, argc, argv, &rc) == HS_OPT_EXIT) return rc; /* help, version or a bad option */
    if (hs_opt_operands(&p, argc, 2, argc, "an output and at least one input are required")) return 2;
    char **files = argv + p.next;
    int n_in = argc - p.next - 1;
    int64_t done, total;
    hs_status st = hs_merge(files[0], (const char *const *)files + 1, n_in, &done, &total);
    if (st) return hs_cli_fail(st);
    fprintf(stderr, "headsweep: merged %d file%s into %s: %lld of %lld cells done\n", n_in, n_in == 1 ? "" : "s",
            files[0], (long long)done, (long long)total);
    return 0;
}
