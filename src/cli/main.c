/* main.c: the `headsweep` command: dispatches to one subcommand per file (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cmd_score.h"
#include "cmd_sweep.h"
#include "commands.h"
#include "headsweep/cliopt.h"
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
    {"status", hs_cmd_status, "cells done/missing, lock holder and study of a results file"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: headsweep COMMAND [options]\n"
                 "       headsweep help COMMAND      (the same as headsweep COMMAND --help)\n"
                 "       headsweep --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nEvery command takes -h/--help (its options and exit codes) and --version.\n"
                 "%s", HS_OPT_EXITS_DEFAULT);
}

static const hs_command *find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name)) return &commands[i];
    return NULL;
}

static int unknown(const char *name)
{
    fprintf(stderr, "headsweep: unknown command '%s'\nsee 'headsweep --help'\n", name);
    return 2;
}

/* headsweep help [COMMAND] */
static int help(int argc, char **argv)
{
    if (argc < 3) {
        usage(stdout);
        return 0;
    }
    const hs_command *c = find(argv[2]);
    if (!c) return unknown(argv[2]);
    char *args[] = {argv[2], "--help", NULL};
    return c->run(2, args);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "headsweep: a command is required\n");
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "help")) return help(argc, argv);
    if (!strcmp(argv[1], "--version")) {
        printf("headsweep %s (%s)\n", HS_VERSION, HS_GIT_DESCRIBE);
        return 0;
    }
    const hs_command *c = find(argv[1]);
    return c ? c->run(argc - 1, argv + 1) : unknown(argv[1]);
}
