/* report_main.c: the headsweep-report command.
 *
 *   headsweep-report FILE.h5 [FILE2.h5 ...] --out DIR [--seed S] [--bootstrap N] [--no-figures]
 *                    [--reference VARIANT] [--min-pairs N] [--holm] [--margin METRIC=PCT ...]
 *
 * Reads one or more results files of the same study (merged in memory), writes tables,
 * plot data, gnuplot scripts, PNG figures and REPORT.md into DIR, and prints REPORT.md's
 * path. Exit status: 0 done, 2 bad input or usage, 1 anything else (including gnuplot
 * failing, after REPORT.md has been written with gnuplot's message). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "figures.h"
#include "h5read.h"
#include "outfile.h"
#include "report_md.h"
#include "tables.h"

#define HS_DEFAULT_SEED 20240601ULL
#define HS_DEFAULT_BOOTSTRAP 10000
#define HS_DEFAULT_REFERENCE "baseline"

typedef struct {
    hs_report_opts opt;
    int nfiles;
    char **files; /* (nfiles) borrowed from argv */
    int reference_given; /* --reference was on the command line: it must exist */
} cli_args;

static void usage(FILE *f)
{
    fprintf(f, "usage: headsweep-report FILE.h5 [FILE2.h5 ...] --out DIR [--seed S] [--bootstrap N] "
               "[--no-figures]\n"
               "                        [--reference VARIANT] [--min-pairs N] [--holm] [--margin METRIC=PCT ...]\n"
               "  Several files are merged as one study (they must share model, prompts, calibration\n"
               "  and sampling settings). Every variant is compared with the reference variant; a\n"
               "  comparison with fewer than --min-pairs paired prompts, or prompts that differ, gets\n"
               "  no verdict. --bootstrap N also sets the Monte Carlo draws of the sign-flip test.\n"
               "  --holm: verdicts use Holm-adjusted p-values. --margin METRIC=PCT (repeatable):\n"
               "  equivalence margin in percent of a comparison metric.\n"
               "  Defaults: --seed %llu, --bootstrap %d, --reference %s, --min-pairs %d, margins",
            HS_DEFAULT_SEED, HS_DEFAULT_BOOTSTRAP, HS_DEFAULT_REFERENCE, HS_DEFAULT_MIN_PAIRS);
    int n;
    const hs_cmp_metric *cm = hs_report_cmp_metrics(&n);
    for (int i = 0; i < n; i++) fprintf(f, "%s %s=%g", i ? "," : "", cm[i].key, cm[i].margin_pct);
    fputs(".\n", f);
}

/* --margin METRIC=PCT: METRIC one of the comparison metrics, PCT a finite number >= 0. */
static hs_status parse_margin(cli_args *a, const char *v)
{
    int n;
    const hs_cmp_metric *cm = hs_report_cmp_metrics(&n);
    const char *eq = strchr(v, '=');
    char *end;
    if (a->opt.n_margin >= (int)(sizeof a->opt.margin / sizeof a->opt.margin[0]))
        return hs_err(HS_EINPUT, "--margin: too many (at most %d)", (int)(sizeof a->opt.margin / sizeof a->opt.margin[0]));
    int k = -1;
    for (int i = 0; eq && i < n; i++)
        if (strlen(cm[i].key) == (size_t)(eq - v) && !strncmp(cm[i].key, v, (size_t)(eq - v))) k = i;
    if (k < 0) {
        char list[256] = "";
        for (int i = 0, o = 0; i < n; i++) o += snprintf(list + o, sizeof list - (size_t)o, "%s%s", i ? ", " : "", cm[i].key);
        return hs_err(HS_EINPUT, "--margin '%s': expected METRIC=PCT with METRIC one of %s", v, list);
    }
    errno = 0;
    double pct = strtod(eq + 1, &end);
    if (errno || end == eq + 1 || *end || !(pct >= 0) || pct > 1000)
        return hs_err(HS_EINPUT, "--margin '%s': PCT must be a number from 0 to 1000", v);
    a->opt.margin[a->opt.n_margin].key = cm[k].key;
    a->opt.margin[a->opt.n_margin++].pct = pct;
    return HS_OK;
}

static hs_status parse_u64(const char *opt, const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-') return hs_err(HS_EINPUT, "%s: expected a non-negative integer", opt);
    *out = strtoull(s, &end, 10);
    if (errno || *end || *out > max) return hs_err(HS_EINPUT, "%s: bad value '%s'", opt, s);
    return HS_OK;
}

/* Value of option opt at argv[*i]: "--opt VALUE" or "--opt=VALUE"; NULL if not this option. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt, int *missing)
{
    size_t n = strlen(opt);
    if (strncmp(argv[*i], opt, n)) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

static hs_status parse_option(cli_args *a, int argc, char **argv, int *i)
{
    int missing = 0;
    unsigned long long u = 0;
    const char *v;
    if (!strcmp(argv[*i], "--no-figures")) a->opt.figures = 0;
    else if (!strcmp(argv[*i], "--holm")) a->opt.holm = 1;
    else if ((v = opt_value(argc, argv, i, "--margin", &missing))) {
        if (parse_margin(a, v)) return HS_EINPUT;
    }
    else if ((v = opt_value(argc, argv, i, "--out", &missing))) a->opt.out = v;
    else if ((v = opt_value(argc, argv, i, "--seed", &missing))) {
        if (parse_u64("--seed", v, ~0ULL, &u)) return HS_EINPUT;
        a->opt.seed = u;
    } else if ((v = opt_value(argc, argv, i, "--bootstrap", &missing))) {
        if (parse_u64("--bootstrap", v, 10000000ULL, &u)) return HS_EINPUT;
        if (u < 100) return hs_err(HS_EINPUT, "--bootstrap: %llu resamples are too few for a 95%% interval (use >= 100)", u);
        a->opt.bootstrap = (int)u;
    } else if ((v = opt_value(argc, argv, i, "--min-pairs", &missing))) {
        if (parse_u64("--min-pairs", v, 1000000ULL, &u)) return HS_EINPUT;
        if (u < 2) return hs_err(HS_EINPUT, "--min-pairs: %llu is too few: an interval needs at least 2 pairs", u);
        a->opt.min_pairs = (int)u;
    } else if ((v = opt_value(argc, argv, i, "--reference", &missing))) {
        if (!*v) return hs_err(HS_EINPUT, "--reference: empty variant name");
        a->opt.reference = v;
        a->reference_given = 1;
    } else if (missing) return hs_err(HS_EINPUT, "%s: needs a value", argv[*i]);
    else return hs_err(HS_EINPUT, "unknown option %s", argv[*i]);
    return HS_OK;
}

static hs_status parse_args(cli_args *a, int argc, char **argv)
{
    a->opt = (hs_report_opts){.seed = HS_DEFAULT_SEED, .bootstrap = HS_DEFAULT_BOOTSTRAP, .conf = 0.95,
                              .figures = 1, .out = NULL, .min_pairs = HS_DEFAULT_MIN_PAIRS,
                              .reference = HS_DEFAULT_REFERENCE};
    a->files = calloc((size_t)argc, sizeof *a->files);
    if (!a->files) return hs_err(HS_ENOMEM, "out of memory");
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            hs_status st = parse_option(a, argc, argv, &i);
            if (st) return st;
        } else {
            a->files[a->nfiles++] = argv[i];
        }
    }
    if (a->nfiles == 0) return hs_err(HS_EINPUT, "no results file given");
    if (!a->opt.out) return hs_err(HS_EINPUT, "--out DIR is required");
    return HS_OK;
}

/* Reads every file, checks it, merges into *s. */
static hs_status load_study(const cli_args *a, hs_study *s)
{
    hs_status st = hs_h5_read_study(a->files[0], s);
    if (!st) st = hs_report_check_input(s, a->files[0]);
    for (int i = 1; !st && i < a->nfiles; i++) {
        hs_study b;
        st = hs_h5_read_study(a->files[i], &b);
        if (!st) st = hs_report_check_input(&b, a->files[i]);
        if (!st) st = hs_study_merge(s, &b);
        hs_study_free(&b);
    }
    if (!st) st = hs_study_sort_levels(s);
    if (!st && a->reference_given) st = hs_report_check_reference(s, a->opt.reference);
    return st;
}

/* An unfinished sweep is said on stderr too, not only in REPORT.md. */
static void warn_incomplete(const hs_study *s)
{
    size_t missing, total;
    hs_study_not_done(s, &missing, &total);
    for (int i = 0; i < s->nsrc; i++)
        if (hs_study_src_incomplete(s, i))
            fprintf(stderr, "headsweep-report: warning: %s is incomplete (complete = 0: its sweep was interrupted, "
                            "is still running or ran only some cells); %zu of %zu results are not done in the "
                            "input%s\n", s->src[i].path, missing, total,
                    missing ? ", REPORT.md lists them" : "");
}

static hs_status write_outputs(const hs_report *r, char **report_path)
{
    hs_figures figs;
    hs_status st = hs_tables_write(r);
    if (st) return st;
    hs_status fst = hs_figures_write(r, &figs);
    char *fig_err = fst ? hs_strdup(hs_err_msg()) : NULL;
    hs_report_md_extra x = {&figs, fig_err};
    st = hs_report_md_write(r, &x, report_path);
    hs_figures_free(&figs);
    if (fst) {
        /* The figure failure is the error to report, REPORT.md notwithstanding. */
        hs_err(fst, "%s", fig_err ? fig_err : "figures failed");
        st = fst;
    }
    free(fig_err);
    return st;
}

static hs_status run(const cli_args *a, char **report_path)
{
    hs_study s;
    hs_report r;
    memset(&r, 0, sizeof r);
    hs_status st = load_study(a, &s);
    if (!st) warn_incomplete(&s);
    if (!st) st = hs_mkdir_p(a->opt.out);
    if (!st) st = hs_report_compute(&r, &s, &a->opt);
    if (!st) st = write_outputs(&r, report_path);
    hs_report_free(&r);
    hs_study_free(&s);
    return st;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    cli_args a = {0};
    char *report_path = NULL;
    hs_status st = parse_args(&a, argc, argv);
    if (st) {
        fprintf(stderr, "headsweep-report: %s\n", hs_err_msg());
        usage(stderr);
    } else if ((st = run(&a, &report_path)) != HS_OK) {
        fprintf(stderr, "headsweep-report: %s\n", hs_err_msg());
    } else {
        printf("%s\n", report_path);
    }
    free(report_path);
    free(a.files);
    return hs_status_exit_code(st);
}
