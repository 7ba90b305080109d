/* report_main.c: the headsweep-report command.
 *
 *   headsweep-report FILE.h5 [FILE2.h5 ...] --out DIR [--seed S] [--bootstrap N] [--no-figures]
 *                    [--reference VARIANT] [--min-pairs N] [--holm] [--margin METRIC=PCT ...] [--cluster-books]
 *                    (and -h/--help, --version: headsweep/cliopt.h)
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
#include "headsweep/cliopt.h"
#include "figures.h"
#include "h5read.h"
#include "outfile.h"
#include "effects.h"
#include "report_md.h"
#include "tables.h"

#define HS_DEFAULT_SEED 20240601ULL
#define HS_DEFAULT_BOOTSTRAP 10000
#define HS_DEFAULT_REFERENCE "baseline"

typedef struct {
    hs_report_opts opt;
    int nfiles;
    char **files; /* (nfiles) the operands of argv */
    int reference_given; /* --reference was on the command line: it must exist */
} cli_args;

static char usage_text[2048];

/* The usage, with the defaults filled in (hs_opt prints it as it is). */
static const char *usage(void)
{
    int n, k = snprintf(usage_text, sizeof usage_text,
             "usage: headsweep-report FILE.h5 [FILE2.h5 ...] --out DIR [--seed S] [--bootstrap N] "
             "[--no-figures]\n"
             "                        [--reference VARIANT] [--min-pairs N] [--holm] [--margin METRIC=PCT ...]\n"
             "                        [--cluster-books]\n"
             "  Several files are merged as one study (they must share model, prompts, calibration\n"
             "  and sampling settings). Every variant is compared with the reference variant; a\n"
             "  comparison with fewer than --min-pairs paired prompts, or prompts that differ, gets\n"
             "  no verdict. --bootstrap N also sets the Monte Carlo draws of the sign-flip test.\n"
             "  --holm: verdicts use Holm-adjusted p-values. --cluster-books: comparisons resample\n"
             "  and sign-flip whole books (prompt ids <book>-<chapter>-<verse>), not prompts; a\n"
             "  verdict then needs at least 10 books.\n"
             "  --margin METRIC=PCT (repeatable):\n"
             "  equivalence margin in percent of a comparison metric.\n"
             "  Defaults: --seed %llu, --bootstrap %d, --reference %s, --min-pairs %d, margins",
             HS_DEFAULT_SEED, HS_DEFAULT_BOOTSTRAP, HS_DEFAULT_REFERENCE, HS_DEFAULT_MIN_PAIRS);
    const hs_cmp_metric *cm = hs_report_cmp_metrics(&n);
    for (int i = 0; i < n && k > 0 && (size_t)k < sizeof usage_text; i++)
        k += snprintf(usage_text + k, sizeof usage_text - (size_t)k, "%s %s=%g", i ? "," : "", cm[i].key,
                      cm[i].margin_pct);
    if (k > 0 && (size_t)k < sizeof usage_text) snprintf(usage_text + k, sizeof usage_text - (size_t)k, ".\n");
    return usage_text;
}

static const char report_exits[] =
    "Exit status: 0 done, 2 bad input or usage, 1 any other failure (gnuplot failing too,\n"
    "after REPORT.md has been written with gnuplot's message).\n";

/* --margin METRIC=PCT: METRIC one of the comparison metrics, PCT a finite number >= 0. */
static hs_status parse_margin(cli_args *a, const char *v)
{
    int n;
    const hs_cmp_metric *cm = hs_report_cmp_metrics(&n);
    const char *eq = strchr(v, '=');
    char *end;
    if (a->opt.n_margin >= (int)(sizeof a->opt.margin / sizeof a->opt.margin[0]))
        return hs_err(HS_EINPUT, "--margin: too many (at most %d)",
                      (int)(sizeof a->opt.margin / sizeof a->opt.margin[0]));
    int k = -1;
    for (int i = 0; eq && i < n; i++)
        if (strlen(cm[i].key) == (size_t)(eq - v) && !strncmp(cm[i].key, v, (size_t)(eq - v))) k = i;
    if (k < 0) {
        char list[256] = "";
        for (int i = 0, o = 0; i < n; i++)
            o += snprintf(list + o, sizeof list - (size_t)o, "%s%s", i ? ", " : "", cm[i].key);
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

enum { O_OUT = 1, O_SEED, O_BOOTSTRAP, O_MIN_PAIRS, O_REFERENCE, O_NO_FIGURES, O_HOLM, O_MARGIN, O_CLUSTER };

/* One option's value into a; 0 when fine, else a usage error of p (printed: 2). */
static int parse_option(const hs_opt *p, cli_args *a, int c, const char *v)
{
    uint64_t u = 0;
    switch (c) {
    case O_NO_FIGURES: a->opt.figures = 0; return 0;
    case O_HOLM: a->opt.holm = 1; return 0;
    case O_CLUSTER: a->opt.cluster_books = 1; return 0;
    case O_MARGIN:
        if (parse_margin(a, v)) break;
        return 0;
    case O_OUT: a->opt.out = v; return 0;
    case O_SEED:
        if (hs_opt_parse_u64(v, "--seed", &u)) break;
        a->opt.seed = u;
        return 0;
    case O_BOOTSTRAP:
        if (hs_opt_parse_u64(v, "--bootstrap", &u)) break;
        if (u > 10000000ULL) return hs_opt_error(p, "--bootstrap: '%s' is more than 10000000 resamples", v);
        if (u < 100)
            return hs_opt_error(p, "--bootstrap: %llu resamples are too few for a 95%% interval (use >= 100)",
                                (unsigned long long)u);
        a->opt.bootstrap = (int)u;
        return 0;
    case O_MIN_PAIRS:
        if (hs_opt_parse_u64(v, "--min-pairs", &u)) break;
        if (u > 1000000ULL) return hs_opt_error(p, "--min-pairs: '%s' is more than 1000000", v);
        if (u < 2)
            return hs_opt_error(p, "--min-pairs: %llu is too few: an interval needs at least 2 pairs",
                                (unsigned long long)u);
        a->opt.min_pairs = (int)u;
        return 0;
    case O_REFERENCE:
        if (!*v) return hs_opt_error(p, "--reference: empty variant name");
        a->opt.reference = v;
        a->reference_given = 1;
        return 0;
    default: return hs_opt_error(p, "option code %d is not handled (a bug)", c);
    }
    return hs_opt_error(p, "%s", hs_err_msg());
}

/* -1 to go on, else the exit code (0 after --help or --version, 2 after a usage error). */
static int parse_args(cli_args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, O_OUT},           {"seed", required_argument, 0, O_SEED},
        {"bootstrap", required_argument, 0, O_BOOTSTRAP}, {"min-pairs", required_argument, 0, O_MIN_PAIRS},
        {"reference", required_argument, 0, O_REFERENCE}, {"no-figures", no_argument, 0, O_NO_FIGURES},
        {"holm", no_argument, 0, O_HOLM},               {"margin", required_argument, 0, O_MARGIN},
        {"cluster-books", no_argument, 0, O_CLUSTER},
        {0, 0, 0, 0}};
    a->opt = (hs_report_opts){.seed = HS_DEFAULT_SEED, .bootstrap = HS_DEFAULT_BOOTSTRAP, .conf = 0.95,
                              .figures = 1, .out = NULL, .min_pairs = HS_DEFAULT_MIN_PAIRS,
                              .reference = HS_DEFAULT_REFERENCE};
    hs_opt p;
    int c, rc;
    hs_opt_init(&p, "headsweep-report", NULL, usage(), report_exits, opts);
    while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        if (c == HS_OPT_EXIT) return rc;
        if (parse_option(&p, a, c, optarg)) return 2;
    }
    if (p.next >= argc) return hs_opt_error(&p, "no results file given");
    if (!a->opt.out) return hs_opt_error(&p, "--out DIR is required");
    a->files = argv + p.next;
    a->nfiles = argc - p.next;
    return -1;
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

static hs_status write_outputs(const hs_report *r, const hs_effects *fx, char **report_path)
{
    hs_figures figs;
    hs_status st = hs_tables_write(r);
    if (!st && fx) st = hs_effects_write_csv(fx, r);
    if (st) return st;
    hs_status fst = hs_figures_write(r, &figs);
    if (!fst && fx) fst = hs_effects_figures(fx, r, &figs);
    char *fig_err = fst ? hs_strdup(hs_err_msg()) : NULL;
    hs_report_md_extra x = {&figs, fig_err, fx};
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
    hs_study s, single; /* single: an each_head study's single-head levels, kept apart from the tables */
    hs_report r;
    hs_effects fx;
    memset(&r, 0, sizeof r);
    memset(&fx, 0, sizeof fx);
    memset(&single, 0, sizeof single);
    hs_status st = load_study(a, &s);
    if (!st) st = hs_study_split_heads(&s, &single);
    if (!st) warn_incomplete(&s);
    if (!st) st = hs_mkdir_p(a->opt.out);
    if (!st) st = hs_report_compute(&r, &s, &a->opt);
    if (!st && single.nl) st = hs_effects_compute(&fx, &r, &single);
    if (!st) st = write_outputs(&r, single.nl ? &fx : NULL, report_path);
    hs_effects_free(&fx);
    hs_report_free(&r);
    hs_study_free(&single);
    hs_study_free(&s);
    return st;
}

int main(int argc, char **argv)
{
    cli_args a = {0};
    char *report_path = NULL;
    int rc = parse_args(&a, argc, argv);
    if (rc >= 0) return rc;
    hs_status st = run(&a, &report_path);
    if (st) fprintf(stderr, "headsweep-report: %s\n", hs_err_msg());
    else printf("%s\n", report_path);
    free(report_path);
    return hs_status_exit_code(st);
}
