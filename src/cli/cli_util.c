/* cli_util.c: shared option parsing and error reporting of the subcommands (cli_util.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

void hs_cli_put_safe(FILE *f, const char *s, int keep_lines)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        putc(hs_is_control(*c) && !(keep_lines && (*c == '\n' || *c == '\t')) ? '?' : *c, f);
    }
}

int hs_cli_fail(hs_status st)
{
    fprintf(stderr, "headsweep: %s\n", hs_err_msg());
    return hs_status_exit_code(st);
}

void hs_cli_opt_init(hs_opt *p, const char *cmd, const char *usage, const char *exits, const struct option *opts)
{
    hs_opt_init(p, "headsweep", cmd, usage, exits, opts);
}

int hs_cli_parse_u64(const hs_opt *p, const char *s, const char *opt, uint64_t *out)
{
    return hs_opt_parse_u64(s, opt, out) ? hs_opt_error(p, "%s", hs_err_msg()) : 0;
}

int hs_cli_parse_int(const hs_opt *p, const char *s, const char *opt, int lo, int hi, int *out)
{
    return hs_opt_parse_int(s, opt, lo, hi, out) ? hs_opt_error(p, "%s", hs_err_msg()) : 0;
}

int hs_cli_parse_float(const hs_opt *p, const char *s, const char *opt, double lo, double hi, float *out)
{
    double v;
    if (hs_opt_parse_double(s, opt, lo, hi, &v)) return hs_opt_error(p, "%s", hs_err_msg());
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
