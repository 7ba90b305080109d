/* cli_util.c: shared option parsing and error reporting of the subcommands. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

int hs_cli_fail(hs_status st)
{
    fprintf(stderr, "headsweep: %s\n", hs_err_msg());
    return hs_status_exit_code(st);
}

int hs_cli_help(const char *usage)
{
    fputs(usage, stdout);
    return 0;
}

int hs_cli_usage_error(const char *usage, const char *problem)
{
    if (problem) fprintf(stderr, "headsweep: %s\n", problem);
    fputs(usage, stderr);
    return 2;
}

int hs_cli_parse_u64(const char *s, const char *opt, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "headsweep: %s: '%s' is not a non-negative integer\n", opt, s);
        return 1;
    }
    *out = v;
    return 0;
}

int hs_cli_parse_int(const char *s, const char *opt, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "headsweep: %s: '%s' is not an integer in [%d, %d]\n", opt, s, lo, hi);
        return 1;
    }
    *out = (int)v;
    return 0;
}

int hs_cli_parse_float(const char *s, const char *opt, double lo, double hi, float *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "headsweep: %s: '%s' is not a number in [%g, %g]\n", opt, s, lo, hi);
        return 1;
    }
    *out = (float)v;
    return 0;
}

int hs_cli_parse_ids(const char *s, int32_t **ids, int *n)
{
    size_t cap = 16, k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) return fprintf(stderr, "headsweep: out of memory\n"), 1;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX) {
            fprintf(stderr, "headsweep: --ids: '%.20s' is not a token id\n", p);
            free(v);
            return 1;
        }
        if (k == cap) {
            int32_t *nv = realloc(v, 2 * cap * sizeof *v);
            if (!nv) return free(v), fprintf(stderr, "headsweep: out of memory\n"), 1;
            v = nv, cap *= 2;
        }
        v[k++] = (int32_t)x;
        p = end;
    }
    if (!k) {
        free(v);
        fprintf(stderr, "headsweep: --ids: no token ids given\n");
        return 1;
    }
    *ids = v;
    *n = (int)k;
    return 0;
}
