/* cli_util.h: what the subcommands share on top of the option layer (headsweep/cliopt.h):
 * its set-up for `headsweep CMD`, number options reported as usage errors, and runtime
 * errors turned into a message and an exit code. */
#ifndef HEADSWEEP_CLI_UTIL_H
#define HEADSWEEP_CLI_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "headsweep/cliopt.h"
#include "headsweep/util.h"

/* hs_opt_init for the subcommand cmd of `headsweep`. */
void hs_cli_opt_init(hs_opt *p, const char *cmd, const char *usage, const char *exits, const struct option *opts);
/* Prints "headsweep: <message>" and returns the exit code for st. */
int hs_cli_fail(hs_status st);
/* Strict number parsing; a bad value is a usage error of p (message printed, returns 2);
 * 0 when fine. */
int hs_cli_parse_u64(const hs_opt *p, const char *s, const char *opt, uint64_t *out);
int hs_cli_parse_int(const hs_opt *p, const char *s, const char *opt, int lo, int hi, int *out);
int hs_cli_parse_float(const hs_opt *p, const char *s, const char *opt, double lo, double hi, float *out);
/* Writes s to f with every control character (below 0x20, or 0x7f) as '?', except newline
 * and tab when keep_lines: text read from a shared file (a results file's study or build
 * string) must not reach a terminal as escape sequences (the rule of hs_err's messages). */
void hs_cli_put_safe(FILE *f, const char *s, int keep_lines);
/* Parses "464 2068 ..." (spaces or commas) into a new array; message + non-zero on error. */
int hs_cli_parse_ids(const char *s, int32_t **ids, int *n);

#endif
