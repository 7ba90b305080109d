/* analyze.h: the numbers of the report, computed once from an hs_study and shared by the
 * writers (tables.c, figures.c, report_md.c).
 *
 * - Tables: for each metric and each (variant, level), the mean over the prompts whose
 *   cell is done and whose value is finite, with a percentile-bootstrap 95% interval.
 * - Comparisons: paired per-prompt log ratios (shown as percent changes) between two
 *   variants at the same level (or a variant against its own lowest level), mean and paired-bootstrap interval,
 *   a sign-flip p-value (optionally Holm-adjusted), and a verdict in words that also
 *   weighs a practical-equivalence margin per metric. Each bootstrap is seeded by
 *   hs_stream_seed(seed, key) and each Monte Carlo sign-flip test by
 *   hs_stream_seed(seed, "perm/" key), with the key written next to it in the CSV, so any
 *   number can be recomputed alone. */
#ifndef HS_REPORT_ANALYZE_H
#define HS_REPORT_ANALYZE_H

#include "stats.h"
#include "study.h"

typedef struct {
    uint64_t seed;         /* --seed */
    int bootstrap;         /* --bootstrap: resamples per interval */
    double conf;           /* 0.95 */
    int figures;           /* 0 with --no-figures */
    const char *out;       /* --out DIR */
    int min_pairs;         /* --min-pairs: fewer paired prompts give no verdict */
    const char *reference; /* --reference: the variant every other one is compared with */
    int holm;              /* --holm: verdicts use Holm-adjusted p-values */
    int cluster_books;     /* --cluster-books: comparisons resample and flip whole books */
    int n_margin;          /* --margin KEY=PCT overrides, in command-line order */
    struct {
        const char *key;   /* comparison metric key ("speed") */
        double pct;        /* equivalence margin in percent, >= 0 */
    } margin[16];
} hs_report_opts;

/* One table: a metric (or the sum of two, for CPU seconds) per variant and level. */
typedef struct {
    char *key;          /* file-name part: table_<key>.csv */
    char *label;        /* heading */
    char *units;        /* display units (after scaling) */
    char *description;
    double scale;       /* display value = file value x scale (bytes -> MiB) */
    int promised;       /* one of the metrics the report must show (else "other metrics") */
    const char *src[2]; /* metric names (src[1] may be NULL), borrowed from the study */
    const char *weight; /* NULL, or the token count that makes this a corpus perplexity:
                           exp(sum w ln x / sum w) of the per-prompt perplexities x */
    hs_ci *cell;        /* (nv, nl) in display units */
    int *n_bad;         /* (nv, nl) done prompts whose value is NaN/inf (left out) */
} hs_table;

/* How a comparison metric is computed and worded. */
typedef struct {
    const char *key;      /* "speed" */
    const char *label;    /* "speed (decode tokens/s)" */
    const char *metric;   /* dataset name under /metrics */
    int invert;           /* compare 1/value (efficiency = 1 / generation time) */
    int timing;           /* measured time: depends on the machine that ran the cell */
    const char *up_word;  /* verdict when the difference is > 0: "faster" */
    const char *down_word;/* when < 0: "slower" */
    double margin_pct;    /* default practical-equivalence margin, percent (--margin) */
    const char *weight;   /* NULL: mean of per-prompt log ratios. Else a perplexity compared
                             as a corpus: the per-token NLL difference sum w_i ln(a_i / b_i) /
                             sum w_i with w the reference's token count, shown as
                             100 x (exp(.) - 1), the ratio of the corpus perplexities */
} hs_cmp_metric;

/* The comparison metrics, for option checking and help: *n receives how many. */
const hs_cmp_metric *hs_report_cmp_metrics(int *n);

/* Verdict of a comparison cell (docs/report.md, "Verdict rule"). */
enum {
    HS_V_FEW = -2,      /* fewer than --min-pairs pairs, or non-zero pairs */
    HS_V_DOWN = -1,     /* significant, beyond the margin, below 0 */
    HS_V_NONE = 0,      /* no significant difference */
    HS_V_UP = 1,        /* significant, beyond the margin, above 0 */
    HS_V_EQUIV = 2,     /* the whole interval within +-margin */
    HS_V_IDENTICAL = 3, /* every paired difference is exactly 0 */
    HS_V_SMALL = 4,     /* significant, but the mean lies within the margin: inconclusive */
    HS_V_ORDER = 5,     /* timings between variants that were not interleaved: run order confounds them */
    HS_V_COPIES = 6,    /* timings whose every pair mixes a cell with a speed copy and one without it */
};

/* One comparison: a against b at every level (b_level < 0), or a at every level against a
 * at level index b_level (degradation against the unpruned model). */
typedef struct {
    char *key;   /* "agency-vs-baseline" */
    char *title; /* "agency vs baseline" */
    char *a_name, *b_name;
    int a, b;    /* variant indices, -1 when the file lacks the variant */
    int b_level; /* -1: same level */
} hs_pair;

typedef struct {
    int available; /* both variants exist and the metric too */
    int n_prompts; /* prompts in the study */
    int n_zero;    /* pairs left out because the divisor was 0 */
    int n_cross;   /* pairs whose two cells ran on different hosts or in different sweep
                      runs (files): their timings were not measured side by side */
    int n_interleaved; /* timing rows between variants: pairs timed interleaved (both runs
                          carry a run_position and share host and sweep run); only these
                          are compared when there are any */
    int n_not_interleaved; /* timing pairs left out, or all pairs when none was interleaved */
    int levels_apart;  /* a timing row of a variant against its own lowest level: the two levels ran as
                          separate work items at different times, so every pair counts as not interleaved */
    int n_copies_mixed;   /* timing pairs whose two cells differ in which requested speed copies they ran
                             without (a copy gave way for memory on one rank): left out when other pairs
                             remain, else every pair stays and the verdict is withheld (HS_V_COPIES) */
    int n_copies_unknown; /* timing pairs with a cell that does not record its speed copies (older files) */
    int copies_withheld;  /* every timing pair was mixed: the verdict is HS_V_COPIES */
    hs_ci ci;      /* ci.n = pairs used */
    hs_perm perm;  /* sign-flip test of a zero mean; perm.n_nonzero pairs differ */
    double p_holm; /* Holm-adjusted p within its family (NaN when the row has no test) */
    int n_clusters;/* books among the pairs (--cluster-books; else 0) */
    double margin; /* equivalence margin (percent) the verdict used */
    int verdict;   /* HS_V_* */
} hs_cmp_cell;

typedef struct {
    const hs_study *st;
    hs_report_opts opt;
    /* Roles of variants (indices, -1 when the file has none): the reference (--reference);
     * the subject of the seed document's claims (the variant named `agency`, else the first
     * other variant running the agency state machine); the ablation `baseline-skip`, which
     * splits the subject's difference from the reference into "skipping pruned heads" and
     * "agency states" when the subject is compared with it. */
    int ref, subject, ablation;
    int ntab, n_promised;
    hs_table *tab;            /* (ntab): the promised tables first, then the other metrics */
    int npair;
    hs_pair *pair;            /* (npair) variant comparisons, then degradation pairs */
    int n_variant_pairs;      /* the first n_variant_pairs compare variants */
    int ncm;
    const hs_cmp_metric *cm;  /* (ncm) */
    double *margin;           /* (ncm) equivalence margins in percent, after --margin */
    int nbooks;               /* books the prompts come from (prompt ids "<book>-<ch>-<v>") */
    int *book;                /* (np) book index of each prompt */
    char **book_name;         /* (nbooks) in order of first appearance */
    int *book_count;          /* (nbooks) prompts per book */
    hs_cmp_cell *cmp;         /* (npair, ncm, nl) */
} hs_report;

/* Checks that a file (already read) has what the report needs: the promised metrics and
 * the comparison metrics. HS_EINPUT naming the file and dataset otherwise. */
hs_status hs_report_check_input(const hs_study *s, const char *path);
/* Checks that --reference names a variant of the study (HS_EINPUT listing them). Only
 * for an explicit --reference: the default `baseline` may be absent (comparisons are then
 * "unavailable" and the report says how to choose another). */
hs_status hs_report_check_reference(const hs_study *s, const char *reference);

#define HS_DEFAULT_MIN_PAIRS 10
/* --cluster-books: books a verdict needs. With k books the percentile interval of the
 * cluster bootstrap is about the range of the k book means (3 books: "equivalent" from a
 * tighter interval than the unclustered one, an outside review found) and the sign-flip p
 * is at least 2/2^k; 10 books give a usable interval and p down to 0.002. */
#define HS_MIN_BOOKS 10
/* Sign-flip p-values are exact (every assignment enumerated, meeting in the middle: 2 x 2^13
 * sums) up to this many non-zero pairs, Monte Carlo with --bootstrap draws above, or exact
 * again in the far tail (hs_signflip_test). */
#define HS_PERM_EXACT 26

hs_status hs_report_compute(hs_report *r, const hs_study *st, const hs_report_opts *opt);
void hs_report_free(hs_report *r);

static inline hs_cmp_cell *hs_report_cmp(const hs_report *r, int pair, int m, int l)
{
    return &r->cmp[((size_t)pair * r->ncm + m) * r->st->nl + l];
}
const hs_table *hs_report_table(const hs_report *r, const char *key);
int hs_report_cm(const hs_report *r, const char *key); /* comparison metric index or -1 */
/* Verdict words of a comparison cell: "faster", "no significant difference", "equivalent
 * (within +-1%)", "too few prompts (n=K)", ...; may be written into buf (cap bytes). */
const char *hs_report_verdict(const hs_report *r, int m, const hs_cmp_cell *c, char *buf, size_t cap);
/* Index of the comparison a vs b (same level), or -1. */
int hs_report_pair(const hs_report *r, int a, int b);
/* Seed key of the bootstrap of a table cell or comparison cell, for the CSV files. */
void hs_report_table_key(const hs_report *r, const hs_table *t, int v, int l, char *buf, size_t cap);
void hs_report_cmp_key(const hs_report *r, int pair, int m, int l, char *buf, size_t cap);

/* Four significant digits (no exponent between 0.001 and 10^6), "n/a" for NaN. */
const char *hs_fmt(char *buf, size_t cap, double x);
/* A p-value: "0.125" (3 decimals), "1.2e-05" below 0.001, with more digits when fewer would
 * put the printed number on the other side of alpha than p; "n/a" for NaN. */
const char *hs_fmt_p_value(char *buf, size_t cap, double p, double alpha);
/* A percentage: "%+.2f", or "%+.1e" when it would print as +0.00 without being 0. */
const char *hs_fmt_pct(char *buf, size_t cap, double x);

/* "p = 0.125 (exact, 4 differ)" or "p = 1.0e-04 (Monte Carlo, 10000 draws)", with the
 * Holm-adjusted value after it under --holm; "p n/a" without a test. */
const char *hs_fmt_p(const hs_report *r, const hs_cmp_cell *c, char *buf, size_t cap);
/* The p-value the verdict uses: Holm-adjusted under --holm, else the test's. */
double hs_report_p(const hs_report *r, const hs_cmp_cell *c);
/* 1 when the variants of comparison p compute the same thing at level l: neither runs the
 * agency state machine and neither switches a head off there (mask and skip gating are
 * then one code path), so a timing difference can only be run order, load or noise. */
int hs_report_same_code(const hs_report *r, int p, int l);
/* Whether a comparison's difference at level l exceeds its difference at level 0 (the
 * control, where nothing is pruned): per prompt, e_i = d_i(l) - d_i(0) with d the row's
 * log ratio (same pair rules as the rows), over the prompts in both rows; ci is 100
 * (exp(mean e) - 1), the change of the a/b ratio from 0% to l, with its bootstrap interval
 * (key "contrast/" + the row's key), perm the sign-flip test of e (key "contrast/perm/...").
 * Machine drift between the two levels' runs is in both variants' timings alike and
 * cancels in each log ratio. With --cluster-books, ci and perm resample and flip books, as
 * the rows do. n_pairs 0 (ci NaN) for corpus metrics and l = 0. */
typedef struct {
    hs_ci ci;
    hs_perm perm;
    int n_pairs;
    int n_clusters; /* --cluster-books: books among the pairs, which ci and perm resample (else 0) */
} hs_contrast;
hs_status hs_report_level_contrast(const hs_report *r, int pi, int mi, int l, hs_contrast *out);
/* Significant and beyond the margin: the verdict says "faster"/"worse"/... */
static inline int hs_verdict_directional(int v) { return v == HS_V_UP || v == HS_V_DOWN; }

#endif
