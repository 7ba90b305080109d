/* cliopt.h: the one command-line layer of every headsweep tool (each `headsweep`
 * subcommand and headsweep-report), so that all of them read options and say what is wrong
 * the same way:
 *
 *   -h, --help     the command's usage and its exit codes on stdout, exit 0
 *   --version      "headsweep VERSION (git describe)" on stdout, exit 0
 *   an unknown option, a missing or unexpected value, a bad number:
 *                  "PROG: CMD: PROBLEM" and "see 'PROG CMD --help'" on stderr, exit 2
 *
 * It wraps getopt_long (GNU permutation: options and operands in any order, "--opt=V" and
 * "--opt V" both work, "--" ends the options). Unlike the library modules this one prints:
 * help and usage errors are its output, and only command front ends (main, cmd_*.c) use it.
 *
 *     hs_opt p;
 *     hs_opt_init(&p, "headsweep", "info", info_usage, NULL, opts);
 *     int c, rc;
 *     while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
 *         if (c == HS_OPT_EXIT) return rc;
 *         ... c is the val of one of opts ...
 *     }
 *     ... operands are argv[p.next .. argc-1] ...
 */
#ifndef HEADSWEEP_CLIOPT_H
#define HEADSWEEP_CLIOPT_H

#include <getopt.h>
#include <stdint.h>

#include "headsweep/util.h"

/* hs_opt_next's results besides an option's val. */
enum { HS_OPT_END = -1, HS_OPT_EXIT = -2 };
/* vals the layer reserves for -h/--help and --version; commands use others. */
enum { HS_OPT_HELP = 'h', HS_OPT_VERSION = 0x7ff0 };
/* Most options a command may have (its own, without help and version). */
#define HS_OPT_MAX 64

/* The exit-status paragraph of a command that has no codes of its own. */
#define HS_OPT_EXITS_DEFAULT "Exit status: 0 done, 1 failure (I/O, memory, internal), 2 bad input or usage.\n"

typedef struct {
    const char *prog;  /* "headsweep" or "headsweep-report": first word of every message */
    const char *cmd;   /* "sweep", "prompts check", ...; NULL for a tool without subcommands */
    const char *usage; /* printed as it is (never as a printf format) by --help */
    const char *exits; /* the exit-status paragraph printed after usage */
    int quiet;         /* print nothing (MPI ranks other than 0); exit codes are unchanged */
    int next;          /* after HS_OPT_END: index of the first operand in the permuted argv */
    struct option all[HS_OPT_MAX + 3]; /* the command's options + help + version + end */
} hs_opt;

/* opts ends with {0, 0, 0, 0}; exits NULL means HS_OPT_EXITS_DEFAULT. */
void hs_opt_init(hs_opt *p, const char *prog, const char *cmd, const char *usage, const char *exits,
                 const struct option *opts);
/* The next option: its val (optarg holds its value), HS_OPT_END after the last one, or
 * HS_OPT_EXIT when the command must stop now with exit code *rc (help or version printed:
 * 0; a usage error printed: 2). Call with the same argv until HS_OPT_END or HS_OPT_EXIT. */
int hs_opt_next(hs_opt *p, int argc, char **argv, int *rc);
/* Usage and exit codes on stdout; returns 0. */
int hs_opt_help(const hs_opt *p);
/* "PROG: CMD: <message>" and the --help hint on stderr; returns 2. */
int hs_opt_error(const hs_opt *p, const char *fmt, ...) HS_PRINTF(2, 3);
/* Checks the number of operands left (next .. argc-1): at least lo, at most hi; else
 * prints "what" as the problem and returns 2. Returns 0 when the count is fine. */
int hs_opt_operands(const hs_opt *p, int argc, int lo, int hi, const char *what);

/* Strict number parsing with one wording for every tool; a bad value is an hs_err
 * (HS_EINPUT) naming opt, e.g. "--seed: 'x' is not a non-negative integer". */
hs_status hs_opt_parse_u64(const char *s, const char *opt, uint64_t *out);
hs_status hs_opt_parse_int(const char *s, const char *opt, int lo, int hi, int *out);
hs_status hs_opt_parse_double(const char *s, const char *opt, double lo, double hi, double *out);

#endif
