/* cli_util.h: option parsing and error reporting shared by the subcommands. */
#ifndef HEADSWEEP_CLI_UTIL_H
#define HEADSWEEP_CLI_UTIL_H

#include <stdint.h>

#include "headsweep/util.h"

/* Prints "headsweep: <message>" and returns the exit code for st. */
int hs_cli_fail(hs_status st);
/* Prints usage to stdout and returns 0. */
int hs_cli_help(const char *usage);
/* Prints an optional problem and the usage to stderr and returns 2. */
int hs_cli_usage_error(const char *usage, const char *problem);
/* Strict number parsing; print a message and return non-zero on bad input. */
int hs_cli_parse_u64(const char *s, const char *opt, uint64_t *out);
int hs_cli_parse_int(const char *s, const char *opt, int lo, int hi, int *out);
int hs_cli_parse_float(const char *s, const char *opt, double lo, double hi, float *out);
/* Parses "464 2068 ..." (spaces or commas) into a new array; message + non-zero on error. */
int hs_cli_parse_ids(const char *s, int32_t **ids, int *n);

#endif
