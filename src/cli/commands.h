/* commands.h: subcommands of the `headsweep` command. Each takes argv with argv[0] the
 * subcommand name and returns the process exit code (0 ok, 2 bad input, 1 failure). */
#ifndef HEADSWEEP_CLI_COMMANDS_H
#define HEADSWEEP_CLI_COMMANDS_H

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} hs_command;

int hs_cmd_info(int argc, char **argv);
int hs_cmd_tokenize(int argc, char **argv);
int hs_cmd_detokenize(int argc, char **argv);
int hs_cmd_logits(int argc, char **argv);
int hs_cmd_generate(int argc, char **argv);
int hs_cmd_ppl(int argc, char **argv);
int hs_cmd_mkmodel(int argc, char **argv);
int hs_cmd_prompts(int argc, char **argv);

#endif
