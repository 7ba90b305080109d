/* main.c: the `headsweep` command: dispatches to one subcommand per file (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cmd_score.h"
#include "cmd_sweep.h"
#include "commands.h"
#include "headsweep/version.h"

static const hs_command commands[] = {
    {"info", hs_cmd_info, "print a model's shape, parameter count and tensors"},
    {"tokenize", hs_cmd_tokenize, "text on stdin -> token ids"},
    {"detokenize", hs_cmd_detokenize, "token ids -> text on stdout"},
    {"logits", hs_cmd_logits, "last-position logits for a token sequence"},
    {"generate", hs_cmd_generate, "generate a continuation of a prompt"},
    {"ppl", hs_cmd_ppl, "teacher-forced perplexity of a continuation"},
    {"mkmodel", hs_cmd_mkmodel, "write a randomly initialised checkpoint"},
    {"prompts", hs_cmd_prompts, "check or shard a prompt file"},
    {"score", hs_cmd_score, "score heads on calibration prompts (pruning order)"},
    {"sweep", hs_cmd_sweep, "run a study: variants x levels x prompt shards (MPI)"},
    {"merge", hs_cmd_merge, "merge results files of one study"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: headsweep COMMAND [options]   (headsweep COMMAND --help)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("headsweep %s (%s)\n", HS_VERSION, HS_GIT_DESCRIBE);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "headsweep: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
