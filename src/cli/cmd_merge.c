/* cmd_merge.c: `headsweep merge OUT.h5 IN.h5...` -> hs_merge (src/sweep/merge.c). */
#include <stdio.h>
#include <string.h>

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
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return hs_cli_help(merge_usage);
        if (argv[i][0] == '-' && argv[i][1]) return hs_cli_usage_error(merge_usage, "merge takes no options");
    }
    if (argc < 3) return hs_cli_usage_error(merge_usage, "an output and at least one input are required");
    int64_t done, total;
    hs_status st = hs_merge(argv[1], (const char *const *)argv + 2, argc - 2, &done, &total);
    if (st) return hs_cli_fail(st);
    fprintf(stderr, "headsweep: merged %d file%s into %s: %lld of %lld cells done\n", argc - 2, argc == 3 ? "" : "s",
            argv[1], (long long)done, (long long)total);
    return 0;
}
