/* cliopt.c: the shared command-line layer (cliopt.h): getopt_long with -h/--help and
 * --version added to every command, and one wording for every usage error. getopt's own
 * messages are switched off (opterr = 0, optstring ":h") so that they are ours. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/cliopt.h"
#include "headsweep/version.h"

void hs_opt_init(hs_opt *p, const char *prog, const char *cmd, const char *usage, const char *exits,
                 const struct option *opts)
{
    memset(p, 0, sizeof *p);
    p->prog = prog;
    p->cmd = cmd;
    p->usage = usage;
    p->exits = exits ? exits : HS_OPT_EXITS_DEFAULT;
    int n = 0;
    while (opts && opts[n].name) {
        HS_CHECK(n < HS_OPT_MAX);
        p->all[n] = opts[n];
        n++;
    }
    p->all[n++] = (struct option){"help", no_argument, 0, HS_OPT_HELP};
    p->all[n++] = (struct option){"version", no_argument, 0, HS_OPT_VERSION};
    p->all[n] = (struct option){0, 0, 0, 0};
    optind = 0; /* 0, not 1: glibc re-initialises its state for a new argv */
}

int hs_opt_help(const hs_opt *p)
{
    if (p->quiet) return 0;
    fputs(p->usage, stdout);
    putchar('\n');
    fputs(p->exits, stdout);
    return 0;
}

static void vmessage(const hs_opt *p, const char *fmt, va_list ap)
{
    if (p->quiet) return;
    fprintf(stderr, "%s: ", p->prog);
    if (p->cmd) fprintf(stderr, "%s: ", p->cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nsee '%s%s%s --help'\n", p->prog, p->cmd ? " " : "", p->cmd ? p->cmd : "");
}

int hs_opt_error(const hs_opt *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(p, fmt, ap);
    va_end(ap);
    return 2;
}

/* The option as the user wrote it, without "=value". */
static const char *written(const char *arg, char *buf, size_t size)
{
    size_t n = strcspn(arg, "=");
    snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), arg);
    return buf;
}

/* getopt_long said '?': an unknown option, or "--flag=value" for a flag without one. */
static int bad_option(const hs_opt *p, const char *arg)
{
    char name[128];
    written(arg, name, sizeof name);
    if (strncmp(arg, "--", 2) == 0 && strchr(arg, '='))
        for (const struct option *o = p->all; o->name; o++)
            if (!strcmp(o->name, name + 2) && o->has_arg == no_argument)
                return hs_opt_error(p, "option '%s' takes no value", name);
    if (arg[0] == '-' && arg[1] != '-' && optopt) return hs_opt_error(p, "unknown option '-%c'", optopt);
    return hs_opt_error(p, "unknown option '%s'", name);
}

int hs_opt_next(hs_opt *p, int argc, char **argv, int *rc)
{
    opterr = 0;
    int c = getopt_long(argc, argv, ":h", p->all, NULL);
    if (c == -1) {
        p->next = optind;
        return HS_OPT_END;
    }
    if (c == HS_OPT_HELP) return *rc = hs_opt_help(p), HS_OPT_EXIT;
    if (c == HS_OPT_VERSION) {
        *rc = 0;
        if (!p->quiet) printf("%s %s (%s)\n", p->prog, HS_VERSION, HS_GIT_DESCRIBE);
        return HS_OPT_EXIT;
    }
    if (c == ':') { /* the option without a value was the last argument */
        char name[128];
        *rc = hs_opt_error(p, "option '%s' needs a value", written(argv[optind - 1], name, sizeof name));
        return HS_OPT_EXIT;
    }
    if (c == '?') { /* getopt has moved past the offending argument */
        *rc = bad_option(p, argv[optind - 1]);
        return HS_OPT_EXIT;
    }
    return c;
}

int hs_opt_operands(const hs_opt *p, int argc, int lo, int hi, const char *what)
{
    int n = argc - p->next;
    if (n >= lo && n <= hi) return 0;
    return hs_opt_error(p, "%s", what);
}

hs_status hs_opt_parse_u64(const char *s, const char *opt, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || s[0] == ' ')
        return hs_err(HS_EINPUT, "%s: '%s' is not a non-negative integer", opt, s);
    *out = v;
    return HS_OK;
}

hs_status hs_opt_parse_int(const char *s, const char *opt, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return hs_err(HS_EINPUT, "%s: '%s' is not an integer in [%d, %d]", opt, s, lo, hi);
    *out = (int)v;
    return HS_OK;
}

hs_status hs_opt_parse_double(const char *s, const char *opt, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return hs_err(HS_EINPUT, "%s: '%s' is not a number in [%g, %g]", opt, s, lo, hi);
    *out = v;
    return HS_OK;
}
