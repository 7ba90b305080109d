/* analyze.c: tables and paired comparisons of a study (see analyze.h).
 *
 * The metric names below are the ones the report promises to show; their units and
 * descriptions come from the file's attributes. Any other /metrics/<name> in the file is
 * tabulated too, under "other metrics", so a writer adding a metric needs no change here. */
#include "analyze.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/model.h"
#include "headsweep/prompts.h"

typedef struct {
    const char *key, *label, *src0, *src1, *weight;
} table_spec;

static const table_spec promised[] = {
    {"decode_tokens_per_second", "decode speed", "decode_tokens_per_second", NULL, NULL},
    {"generation_seconds", "generation time", "generation_seconds", NULL, NULL},
    {"time_to_first_token", "time to first token", "time_to_first_token", NULL, NULL},
    {"corpus_reference_perplexity", "corpus reference perplexity (token-weighted)", "reference_perplexity", NULL,
     "reference_tokens"},
    {"reference_perplexity", "reference perplexity (mean of per-prompt perplexities)", "reference_perplexity",
     NULL, NULL},
    {"generated_perplexity_unpruned", "perplexity of the generated text under the unpruned model",
     "generated_perplexity_unpruned", NULL, NULL},
    {"distinct_1", "distinct-1", "distinct_1", NULL, NULL},
    {"distinct_2", "distinct-2", "distinct_2", NULL, NULL},
    {"type_token_ratio", "type-token ratio", "type_token_ratio", NULL, NULL},
    {"repetition_rate", "repetition rate", "repetition_rate", NULL, NULL},
    {"peak_rss_bytes", "peak RSS", "peak_rss_bytes", NULL, NULL},
    {"cpu_seconds", "CPU seconds, user + system", "cpu_user_seconds", "cpu_system_seconds", NULL},
};
#define N_PROMISED (int)(sizeof promised / sizeof promised[0])

/* Margins: differences a reader would not act on. Timings 2% (drift of a shared machine
 * over minutes is of that order: docs/report.md), perplexity 1%, distinct-2 1% (of its
 * value, about 0.01 absolute), perplexity of generated text 2% (it moves with any change
 * of the sampled tokens). Overridden with --margin KEY=PCT. */
static const hs_cmp_metric cmp_metrics[] = {
    {"speed", "speed (decode tokens/s)", "decode_tokens_per_second", 0, 1, "faster", "slower", 2.0, NULL},
    {"efficiency", "efficiency (1 / generation time)", "generation_seconds", 1, 1, "faster", "slower", 2.0, NULL},
    {"corpus_perplexity", "corpus reference perplexity (per-token NLL)", "reference_perplexity", 0, 0, "worse",
     "better", 1.0, "reference_tokens"},
    {"perplexity", "reference perplexity (geometric mean of per-prompt ratios)", "reference_perplexity", 0, 0, "worse",
     "better", 1.0, NULL},
    {"quality", "quality (1 / reference perplexity, geometric mean of per-prompt ratios)", "reference_perplexity", 1, 0,
     "better", "worse", 1.0, NULL},
    {"diversity", "lexical diversity (distinct-2)", "distinct_2", 0, 0, "better (more diverse)",
     "worse (less diverse)", 1.0, NULL},
    {"generated_perplexity", "perplexity of generated text (unpruned model)",
     "generated_perplexity_unpruned", 0, 0, "worse", "better", 2.0, NULL},
};
#define N_CMP (int)(sizeof cmp_metrics / sizeof cmp_metrics[0])

const hs_cmp_metric *hs_report_cmp_metrics(int *n)
{
    *n = N_CMP;
    return cmp_metrics;
}

/* The ablation that separates skipping pruned heads from agency states (DESIGN.md). */
#define HS_ABLATION_NAME "baseline-skip"
#define HS_SUBJECT_NAME "agency"

/* Four significant digits, without an exponent between 0.001 and 10^6 (16548 rather than
 * 1.655e+04: tables are read by people). */
const char *hs_fmt(char *buf, size_t cap, double x)
{
    double a = fabs(x);
    if (isnan(x)) snprintf(buf, cap, "n/a");
    else if (a >= 1e-3 && a < 1e6) {
        int dec = 3 - (int)floor(log10(a));
        snprintf(buf, cap, "%.*f", dec > 0 ? dec : 0, x);
    } else {
        snprintf(buf, cap, "%.4g", x);
    }
    return buf;
}

const char *hs_fmt_pct(char *buf, size_t cap, double x)
{
    if (isnan(x)) snprintf(buf, cap, "n/a");
    else if (x != 0 && fabs(x) < 0.005) snprintf(buf, cap, "%+.1e", x);
    else snprintf(buf, cap, "%+.2f", x);
    return buf;
}

double hs_report_p(const hs_report *r, const hs_cmp_cell *c)
{
    return r->opt.holm ? c->p_holm : c->perm.p;
}

const char *hs_fmt_p_value(char *buf, size_t cap, double p, double alpha)
{
    if (isnan(p)) {
        snprintf(buf, cap, "n/a");
        return buf;
    }
    /* more digits until the printed number is on p's side of alpha: 0.0496 is "0.0496", not
     * "0.050" beside a verdict that needs p < 0.05 */
    for (int d = 0; d < 8; d++) {
        snprintf(buf, cap, p >= 0.001 ? "%.*f" : "%.*e", p >= 0.001 ? 3 + d : 1 + d, p);
        if ((strtod(buf, NULL) < alpha) == (p < alpha)) break;
    }
    return buf;
}

const char *hs_fmt_p(const hs_report *r, const hs_cmp_cell *c, char *buf, size_t cap)
{
    char a[32], b[32];
    if (!c->available || c->ci.n < 2) {
        snprintf(buf, cap, "p n/a");
        return buf;
    }
    double alpha = 1.0 - r->opt.conf;
    if (c->perm.exact)
        snprintf(buf, cap, "p = %s (exact, %d differ)", hs_fmt_p_value(a, sizeof a, c->perm.p, alpha),
                 c->perm.n_nonzero);
    else
        snprintf(buf, cap, "p = %s (Monte Carlo, %d draws, %d differ)", hs_fmt_p_value(a, sizeof a, c->perm.p, alpha),
                 c->perm.resamples, c->perm.n_nonzero);
    if (r->opt.cluster_books) {
        size_t k = strlen(buf);
        snprintf(buf + k, cap - k, ", %d books", c->n_clusters);
    }
    if (r->opt.holm && !isnan(c->p_holm)) {
        size_t k = strlen(buf);
        snprintf(buf + k, cap - k, ", Holm %s", hs_fmt_p_value(b, sizeof b, c->p_holm, alpha));
    }
    return buf;
}

/* Nothing switched off for v at level l (from /heads/pruned; level 0 when unknown). */
static int nothing_pruned(const hs_study *s, int v, int l)
{
    size_t LH = (size_t)s->L * (size_t)s->H;
    if (!s->heads_known[hs_vl(s, v, l)]) return s->level[l] == 0;
    for (size_t i = 0; i < LH; i++)
        if (s->pruned[hs_vl(s, v, l) * LH + i]) return 0;
    return 1;
}

int hs_report_same_code(const hs_report *r, int p, int l)
{
    const hs_study *s = r->st;
    const hs_pair *pr = &r->pair[p];
    if (pr->a < 0 || pr->b < 0 || pr->b_level >= 0) return 0;
    return !s->agency[pr->a] && !s->agency[pr->b] && nothing_pruned(s, pr->a, l) && nothing_pruned(s, pr->b, l);
}

hs_status hs_report_check_input(const hs_study *s, const char *path)
{
    for (int i = 0; i < N_PROMISED; i++) {
        const char *src[2] = {promised[i].src0, promised[i].src1};
        for (int k = 0; k < 2; k++)
            if (src[k] && !hs_study_metric(s, src[k]))
                return hs_err(HS_EINPUT, "%s: /metrics/%s: missing dataset (see docs/results-format.md)",
                              path, src[k]);
    }
    return HS_OK;
}

hs_status hs_report_check_reference(const hs_study *s, const char *reference)
{
    if (hs_study_variant(s, reference) >= 0) return HS_OK;
    char list[1024] = "";
    size_t k = 0;
    for (int v = 0; v < s->nv && k < sizeof list; v++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", v ? ", " : "", s->variant[v]);
    return hs_err(HS_EINPUT, "--reference %s: no such variant in %s (variants: %s)", reference,
                  s->nsrc == 1 ? s->src[0].path : "the input files", list);
}

/* ---- tables ---- */

/* Per-prompt values of table t at (v, l): sum of the sources, NaN when not done. */
static double table_value(const hs_study *s, const hs_table *t, int v, int l, int p)
{
    size_t i = hs_vlp(s, v, l, p);
    if (!s->done[i]) return NAN;
    double x = hs_study_metric(s, t->src[0])->v[i];
    if (t->src[1]) x += hs_study_metric(s, t->src[1])->v[i];
    return x * t->scale;
}

void hs_report_table_key(const hs_report *r, const hs_table *t, int v, int l, char *buf, size_t cap)
{
    snprintf(buf, cap, "table/%s/%s/%g", t->key, r->st->variant[v], r->st->level[l]);
}

/* A corpus perplexity exp(sum w ln x / sum w) from the per-prompt perplexities x and token
 * counts w (xw holds n values of x, then room for n weights): the bootstrap of the ratio
 * estimator on the log scale, mapped back through exp (monotone, so the interval too). */
static hs_status corpus_cell(const hs_report *r, const hs_table *t, int v, int l, double *xw, int n,
                             uint64_t seed, hs_ci *out)
{
    const hs_study *s = r->st;
    const hs_metric_data *w = hs_study_metric(s, t->weight);
    double *wt = xw + s->np;
    int k = 0;
    for (int p = 0, j = 0; p < s->np && j < n; p++) {
        if (!isfinite(table_value(s, t, v, l, p))) continue;
        double wi = w ? w->v[hs_vlp(s, v, l, p)] : NAN;
        double xi = xw[j++];
        if (!(wi > 0) || !(xi > 0)) continue;
        xw[k] = wi * log(xi), wt[k++] = wi;
    }
    hs_status st = hs_bootstrap_ratio(xw, wt, k, r->opt.bootstrap, r->opt.conf, seed, out);
    out->mean = exp(out->mean), out->lo = exp(out->lo), out->hi = exp(out->hi);
    return st;
}

static hs_status table_cell(const hs_report *r, hs_table *t, int v, int l, double *x)
{
    const hs_study *s = r->st;
    int n = 0, bad = 0;
    for (int p = 0; p < s->np; p++) {
        double y = table_value(s, t, v, l, p);
        if (isfinite(y)) x[n++] = y;
        else if (s->done[hs_vlp(s, v, l, p)]) bad++;
    }
    char key[512];
    hs_report_table_key(r, t, v, l, key, sizeof key);
    t->n_bad[hs_vl(s, v, l)] = bad;
    uint64_t seed = hs_stream_seed(r->opt.seed, key);
    if (t->weight) return corpus_cell(r, t, v, l, x, n, seed, &t->cell[hs_vl(s, v, l)]);
    return hs_bootstrap_mean(x, n, r->opt.bootstrap, r->opt.conf, seed, &t->cell[hs_vl(s, v, l)]);
}

/* Units as the tables and figures show them: "1" (a ratio or a count, CF's way) shows nothing,
 * bytes become MiB (scaled), and a rate of tokens, "s-1" in CF units since schema 2 (the metric's
 * long_name says tokens), reads tokens/s. */
static const char *shown_units(const hs_metric_data *m, int bytes)
{
    if (bytes) return "MiB";
    if (!strcmp(m->units, "1")) return "";
    if (!strcmp(m->units, "s-1") && strstr(m->name, "tokens")) return "tokens/s";
    return m->units;
}

static hs_status table_init(hs_table *t, const hs_study *s, const char *key, const char *label,
                            const char *src0, const char *src1, const char *weight, int is_promised)
{
    const hs_metric_data *m = hs_study_metric(s, src0);
    int bytes = !strcmp(m->units, "bytes") || !strcmp(m->units, "B");
    t->key = hs_strdup(key);
    t->label = hs_strdup(label);
    t->units = hs_strdup(shown_units(m, bytes));
    t->description = hs_strdup(m->description);
    if (src1 && t->description) { /* a sum: say what both parts are */
        const hs_metric_data *m1 = hs_study_metric(s, src1);
        size_t n = strlen(m->description) + strlen(m1->description) + 16;
        char *d = hs_malloc(n, "description");
        if (d) snprintf(d, n, "sum of %s and %s", m->description, m1->description);
        free(t->description);
        t->description = d;
    }
    t->scale = bytes ? 1.0 / (1024.0 * 1024.0) : 1.0;
    t->promised = is_promised;
    t->src[0] = m->name;
    t->src[1] = src1 ? hs_study_metric(s, src1)->name : NULL;
    t->weight = weight;
    size_t vl = (size_t)s->nv * (size_t)s->nl;
    t->cell = hs_calloc(vl, sizeof *t->cell, "table cells");
    t->n_bad = hs_calloc(vl, sizeof *t->n_bad, "table counts");
    if (!t->key || !t->label || !t->units || !t->description || !t->cell || !t->n_bad)
        return HS_ENOMEM;
    return HS_OK;
}

static int used_by_promised(const char *name)
{
    for (int i = 0; i < N_PROMISED; i++)
        if (!strcmp(promised[i].src0, name) || (promised[i].src1 && !strcmp(promised[i].src1, name)))
            return 1;
    return 0;
}

static hs_status make_tables(hs_report *r)
{
    const hs_study *s = r->st;
    r->tab = hs_calloc((size_t)(N_PROMISED + s->nm), sizeof *r->tab, "tables");
    if (!r->tab) return HS_ENOMEM;
    hs_status st = HS_OK;
    for (int i = 0; !st && i < N_PROMISED; i++, r->ntab++)
        st = table_init(&r->tab[r->ntab], s, promised[i].key, promised[i].label, promised[i].src0,
                        promised[i].src1, promised[i].weight, 1);
    r->n_promised = N_PROMISED;
    for (int k = 0; !st && k < s->nm; k++) {
        const char *name = s->metric[k].name;
        if (used_by_promised(name)) continue;
        st = table_init(&r->tab[r->ntab], s, name, name, name, NULL, NULL, 0);
        r->ntab++;
    }
    return st;
}

static hs_status fill_tables(hs_report *r)
{
    const hs_study *s = r->st;
    double *x = hs_malloc(2 * (size_t)s->np * sizeof *x, "prompt values");
    if (!x) return HS_ENOMEM;
    hs_status st = HS_OK;
    for (int t = 0; !st && t < r->ntab; t++)
        for (int v = 0; !st && v < s->nv; v++)
            for (int l = 0; !st && l < s->nl; l++) st = table_cell(r, &r->tab[t], v, l, x);
    free(x);
    return st;
}

/* ---- comparisons ---- */

static hs_status add_pair(hs_report *r, const char *a, const char *b, int b_level)
{
    const hs_study *s = r->st;
    hs_pair *p = &r->pair[r->npair++];
    char key[600], title[600];
    if (b_level < 0) {
        snprintf(key, sizeof key, "%s-vs-%s", a, b);
        snprintf(title, sizeof title, "%s vs %s", a, b);
    } else {
        snprintf(key, sizeof key, "%s-vs-own-%g", a, s->level[b_level]);
        snprintf(title, sizeof title, "%s vs %s at level %g", a, a, s->level[b_level]);
    }
    p->key = hs_strdup(key);
    p->title = hs_strdup(title);
    p->a_name = hs_strdup(a);
    p->b_name = hs_strdup(b);
    p->a = hs_study_variant(s, a);
    p->b = hs_study_variant(s, b);
    p->b_level = b_level;
    return p->key && p->title && p->a_name && p->b_name ? HS_OK : HS_ENOMEM;
}

/* The subject of the seed document's claims: `agency` by name, else the first variant that
 * runs the agency state machine, so a study that names its variants otherwise still gets
 * its claims measured. Never the reference itself. */
static int find_subject(const hs_study *s, int ref)
{
    int v = hs_study_variant(s, HS_SUBJECT_NAME);
    if (v >= 0 && v != ref) return v;
    for (v = 0; v < s->nv; v++)
        if (s->agency[v] && v != ref) return v;
    return -1;
}

static void find_roles(hs_report *r)
{
    const hs_study *s = r->st;
    r->ref = hs_study_variant(s, r->opt.reference);
    r->subject = find_subject(s, r->ref);
    r->ablation = hs_study_variant(s, HS_ABLATION_NAME);
    if (r->ablation == r->ref || r->ablation == r->subject) r->ablation = -1;
}

/* Every other variant against the reference (listed, "unavailable", even when the file
 * lacks the reference), the subject against the ablation when both exist, and so every
 * other agency variant (e.g. calibrated thresholds), then each variant against its own
 * lowest level. */
static hs_status make_pairs(hs_report *r)
{
    const hs_study *s = r->st;
    r->pair = hs_calloc((size_t)(3 * s->nv + 1), sizeof *r->pair, "comparisons");
    if (!r->pair) return HS_ENOMEM;
    hs_status st = HS_OK;
    for (int v = 0; !st && v < s->nv; v++)
        if (v != r->ref) st = add_pair(r, s->variant[v], r->opt.reference, -1);
    if (!st && r->subject >= 0 && r->ablation >= 0)
        st = add_pair(r, s->variant[r->subject], s->variant[r->ablation], -1);
    for (int v = 0; !st && r->ablation >= 0 && v < s->nv; v++)
        if (s->agency[v] && v != r->subject && v != r->ref && v != r->ablation)
            st = add_pair(r, s->variant[v], s->variant[r->ablation], -1);
    r->n_variant_pairs = r->npair;
    for (int v = 0; !st && v < s->nv; v++) st = add_pair(r, s->variant[v], s->variant[v], 0);
    return st;
}

int hs_report_pair(const hs_report *r, int a, int b)
{
    for (int p = 0; a >= 0 && b >= 0 && p < r->n_variant_pairs; p++)
        if (r->pair[p].a == a && r->pair[p].b == b) return p;
    return -1;
}

void hs_report_cmp_key(const hs_report *r, int pair, int m, int l, char *buf, size_t cap)
{
    snprintf(buf, cap, "cmp/%s/%s/%g", r->pair[pair].key, r->cm[m].key, r->st->level[l]);
}

/* Values of the comparison metric for variant v at level l, NaN where not done. */
static void cmp_values(const hs_study *s, const hs_metric_data *m, int v, int l, double *x)
{
    for (int p = 0; p < s->np; p++) {
        size_t i = hs_vlp(s, v, l, p);
        x[p] = s->done[i] ? m->v[i] : NAN;
    }
}

/* Pairs with both values finite whose cells ran on different hosts or in different sweep
 * invocations (both known). */
static int cross_origin_pairs(const hs_study *s, const double *xa, const double *xb, int va, int la,
                            int vb, int lb)
{
    int k = 0;
    for (int p = 0; p < s->np; p++) {
        int ha = s->origin[hs_vlp(s, va, la, p)], hb = s->origin[hs_vlp(s, vb, lb, p)];
        k += isfinite(xa[p]) && isfinite(xb[p]) && ha >= 0 && hb >= 0 && ha != hb;
    }
    return k;
}

/* Per-prompt weighted log-ratios w_i ln(a_i / b_i) into x and the weights w_i (the token
 * count of b's cell; the reference text is the same for every variant) into w, for every
 * prompt where both perplexities and the weight are finite and positive. *n_zero counts
 * the pairs left out because a value was not positive. */
static int corpus_pairs(const hs_study *s, const hs_cmp_metric *cm, int vb, int lb, const double *xa,
                        const double *xb, double *x, double *w, int *idx, int *n_zero)
{
    const hs_metric_data *wm = hs_study_metric(s, cm->weight);
    int k = 0, zero = 0;
    for (int p = 0; p < s->np; p++) {
        double wi = wm ? wm->v[hs_vlp(s, vb, lb, p)] : NAN;
        if (!isfinite(xa[p]) || !isfinite(xb[p]) || !isfinite(wi)) continue;
        if (!(xa[p] > 0) || !(xb[p] > 0) || !(wi > 0)) {
            zero++;
            continue;
        }
        idx[k] = p, x[k] = wi * (log(xa[p]) - log(xb[p])), w[k++] = wi;
    }
    *n_zero = zero;
    return k;
}

/* An interval of log ratios (a mean per-token NLL difference, or a mean per-prompt log ratio)
 * as percent changes: 100 (exp(x) - 1), monotone, so the interval and its sign map through;
 * sd stays on the log scale, times 100. */
static void pct_of_log(hs_ci *c)
{
    c->mean = 100.0 * expm1(c->mean), c->lo = 100.0 * expm1(c->lo), c->hi = 100.0 * expm1(c->hi);
    c->sd *= 100.0;
}

/* Bootstrap of sum x / sum w (per-token NLL difference), shown in percent of the corpus
 * perplexity: 100 (exp(.) - 1), monotone, so the interval maps through as well. */
static hs_status corpus_ci(const hs_report *r, const double *x, const double *w, int n, uint64_t seed, hs_ci *c)
{
    hs_status st = hs_bootstrap_ratio(x, w, n, r->opt.bootstrap, r->opt.conf, seed, c);
    pct_of_log(c);
    return st;
}

/* hs_paired_logratio, also noting which prompt each ratio comes from (idx). */
static int paired_log_idx(const double *a, const double *b, int n, int invert, double *d, int *idx, int *n_zero)
{
    int k = 0, zero = 0, z;
    for (int p = 0; p < n; p++) {
        if (hs_paired_logratio(a + p, b + p, 1, invert, d + k, &z) == 1) idx[k++] = p;
        zero += z;
    }
    *n_zero = zero;
    return k;
}

/* --cluster-books: the interval resamples whole books and the sign-flip test flips each
 * book's sum of differences, since prompts of one passage are not independent. The pair-
 * level count of differing pairs (perm.n_nonzero) still decides --min-pairs. With a
 * corpus metric, x holds NLL differences and w token counts; else w is NULL (means). */
static hs_status cluster_cell(const hs_report *r, hs_cmp_cell *c, const double *x, const double *w, const int *idx,
                              int n, const char *key, const char *pkey)
{
    int *cl = hs_malloc((size_t)(n > 0 ? n : 1) * sizeof *cl, "clusters");
    double *sum = hs_calloc((size_t)(r->nbooks > 0 ? r->nbooks : 1), sizeof *sum, "book sums");
    hs_status st = cl && sum ? HS_OK : HS_ENOMEM;
    for (int i = 0; !st && i < n; i++) cl[i] = r->book[idx[i]], sum[cl[i]] += x[i];
    if (!st) st = hs_bootstrap_cluster_ratio(x, w, cl, n, r->opt.bootstrap, r->opt.conf,
                                             hs_stream_seed(r->opt.seed, key), &c->ci, &c->n_clusters);
    if (!st) pct_of_log(&c->ci); /* both kinds are log ratios */
    hs_perm q;
    if (!st) st = hs_signflip_test(sum, r->nbooks, HS_PERM_EXACT, r->opt.bootstrap,
                                   hs_stream_seed(r->opt.seed, pkey), &q);
    if (!st) c->perm.p = q.p, c->perm.exact = q.exact, c->perm.resamples = q.resamples;
    free(cl);
    free(sum);
    return st;
}

/* Timings of two variants at one level are compared only where the sweep interleaved them
 * (docs/timing.md): both runs of the prompt carry a run_position and
 * come from one host and sweep run, hence from one work item. When some pairs are, the
 * others are left out (NaN in xa); when none is (files from before interleaving,
 * timing_order = sequential), every pair stays and the verdict says run order confounds it. */
static void interleaved_pairs(const hs_study *s, int va, int vb, int l, double *xa, const double *xb,
                              hs_cmp_cell *c)
{
    const hs_metric_data *pos = hs_study_metric(s, "run_position");
    int k = 0, n = 0;
    for (int p = 0; p < s->np; p++) {
        size_t ia = hs_vlp(s, va, l, p), ib = hs_vlp(s, vb, l, p);
        if (!isfinite(xa[p]) || !isfinite(xb[p])) continue;
        n++;
        k += pos && isfinite(pos->v[ia]) && isfinite(pos->v[ib]) && s->origin[ia] >= 0 &&
             s->origin[ia] == s->origin[ib];
    }
    c->n_interleaved = k;
    c->n_not_interleaved = n - k;
    for (int p = 0; p < s->np && k > 0; p++) {
        size_t ia = hs_vlp(s, va, l, p), ib = hs_vlp(s, vb, l, p);
        if (!(isfinite(pos->v[ia]) && isfinite(pos->v[ib]) && s->origin[ia] >= 0 && s->origin[ia] == s->origin[ib]))
            xa[p] = NAN;
    }
}

/* A variant's timings at two levels come from separate work items (docs/timing.md: only the
 * variants of one level run interleaved), run minutes apart and in level order, so the
 * machine's drift between them is in every pair: all count as not interleaved, and the
 * verdict is withheld as for variants timed apart. */
static void levels_apart(const hs_study *s, const double *xa, const double *xb, hs_cmp_cell *c)
{
    int n = 0;
    for (int p = 0; p < s->np; p++) n += isfinite(xa[p]) && isfinite(xb[p]);
    c->levels_apart = 1;
    c->n_interleaved = 0;
    c->n_not_interleaved = n;
}

/* The requested speed copies a prompt's cell ran without (HS_COPY_* bits), -1 when the cell
 * does not record them. */
static int copies_missing(const hs_study *s, size_t i)
{
    const uint8_t *c = s->copies ? s->copies + 2 * i : NULL;
    if (!c || c[0] > HS_COPY_ALL || c[1] > HS_COPY_ALL) return -1;
    return c[0] & ~c[1];
}

/* Timings measured with a speed copy and without it (one gave way for memory on the rank:
 * docs/sweep.md, "Memory per rank") differ by the copy, not by the variants: like run order,
 * a confound. A pair whose cells ran without different copies is left out when other pairs
 * remain (NaN in xa); when none remains, every pair stays and the verdict is withheld.
 * Pairs with a cell that records nothing (older files) count as unknown and stay. */
static void copies_pairs(const hs_study *s, int va, int la, int vb, int lb, double *xa, const double *xb,
                         hs_cmp_cell *c)
{
    int n = 0, mixed = 0, unknown = 0;
    for (int p = 0; p < s->np; p++) {
        if (!isfinite(xa[p]) || !isfinite(xb[p])) continue;
        int ma = copies_missing(s, hs_vlp(s, va, la, p)), mb = copies_missing(s, hs_vlp(s, vb, lb, p));
        n++;
        unknown += ma < 0 || mb < 0;
        mixed += ma >= 0 && mb >= 0 && ma != mb;
    }
    c->n_copies_mixed = mixed;
    c->n_copies_unknown = unknown;
    c->copies_withheld = mixed > 0 && mixed == n;
    for (int p = 0; p < s->np && mixed < n; p++) {
        int ma = copies_missing(s, hs_vlp(s, va, la, p)), mb = copies_missing(s, hs_vlp(s, vb, lb, p));
        if (ma >= 0 && mb >= 0 && ma != mb) xa[p] = NAN;
    }
}

/* The paired values of row (pi, mi, l) into xa and xb (np each), NaN where a pair is left
 * out: not done, or a timing pair the row's rules drop (not interleaved, speed copies); the
 * counters of c say which. 0 when the row is unavailable. */
static int row_values(const hs_report *r, int pi, int mi, int l, double *xa, double *xb, hs_cmp_cell *c)
{
    const hs_study *s = r->st;
    const hs_pair *p = &r->pair[pi];
    const hs_cmp_metric *cm = &r->cm[mi];
    c->n_prompts = s->np;
    c->ci = (hs_ci){0, NAN, NAN, NAN, NAN};
    c->perm = (hs_perm){0, 1, 0, NAN};
    c->n_clusters = 0;
    c->p_holm = NAN;
    c->verdict = HS_V_FEW;
    const hs_metric_data *m = hs_study_metric(s, cm->metric);
    c->available = p->a >= 0 && p->b >= 0 && m && l != p->b_level;
    if (!c->available) return 0;
    int lb = p->b_level < 0 ? l : p->b_level;
    cmp_values(s, m, p->a, l, xa);
    cmp_values(s, m, p->b, lb, xb);
    c->n_interleaved = c->n_not_interleaved = c->levels_apart = 0;
    if (cm->timing && p->b_level < 0) interleaved_pairs(s, p->a, p->b, l, xa, xb, c);
    if (cm->timing && p->b_level >= 0) levels_apart(s, xa, xb, c);
    c->n_copies_mixed = c->n_copies_unknown = c->copies_withheld = 0;
    if (cm->timing) copies_pairs(s, p->a, l, p->b, lb, xa, xb, c);
    c->n_cross = cross_origin_pairs(s, xa, xb, p->a, l, p->b, lb);
    return 1;
}

static hs_status cmp_cell(hs_report *r, int pi, int mi, int l, double *buf)
{
    const hs_study *s = r->st;
    const hs_cmp_metric *cm = &r->cm[mi];
    hs_cmp_cell *c = hs_report_cmp(r, pi, mi, l);
    double *xa = buf, *xb = buf + s->np, *d = buf + 2 * s->np;
    if (!row_values(r, pi, mi, l, xa, xb, c)) return HS_OK;
    const hs_pair *p = &r->pair[pi];
    int lb = p->b_level < 0 ? l : p->b_level;
    char key[700], pkey[710];
    hs_report_cmp_key(r, pi, mi, l, key, sizeof key);
    snprintf(pkey, sizeof pkey, "perm/%s", key);
    int n, *idx = (int *)(buf + 4 * s->np);
    hs_status st;
    if (cm->weight) {
        n = corpus_pairs(s, cm, p->b, lb, xa, xb, d, d + s->np, idx, &c->n_zero);
        st = corpus_ci(r, d, d + s->np, n, hs_stream_seed(r->opt.seed, key), &c->ci);
    } else {
        n = paired_log_idx(xa, xb, s->np, cm->invert, d, idx, &c->n_zero);
        st = hs_bootstrap_mean(d, n, r->opt.bootstrap, r->opt.conf, hs_stream_seed(r->opt.seed, key), &c->ci);
        pct_of_log(&c->ci);
    }
    if (!st) st = hs_signflip_test(d, n, HS_PERM_EXACT, r->opt.bootstrap, hs_stream_seed(r->opt.seed, pkey),
                                   &c->perm);
    if (!st && r->opt.cluster_books) st = cluster_cell(r, c, d, cm->weight ? d + s->np : NULL, idx, n, key, pkey);
    return st;
}

hs_status hs_report_level_contrast(const hs_report *r, int pi, int mi, int l, hs_contrast *out)
{
    const hs_study *s = r->st;
    *out = (hs_contrast){{0, NAN, NAN, NAN, NAN}, {0, 1, 0, NAN}, 0, 0};
    if (r->cm[mi].weight || l == 0) return HS_OK; /* per-prompt log ratios only; level 0 is the control */
    size_t np = (size_t)s->np;
    double *buf = hs_malloc(5 * np * sizeof *buf, "level contrast"); /* xa, xb, d at l, d at 0, e */
    int *idx = hs_malloc(3 * np * sizeof *idx, "level contrast");       /* prompts of d at l, at 0, of e */
    hs_status st = buf && idx ? HS_OK : HS_ENOMEM;
    double *d[2] = {buf + 2 * np, buf + 3 * np}, *e = buf + 4 * np;
    int n[2] = {0, 0};
    for (int k = 0; !st && k < 2; k++) {
        hs_cmp_cell scratch;
        if (!row_values(r, pi, mi, k ? 0 : l, buf, buf + np, &scratch)) goto done;
        int z;
        n[k] = paired_log_idx(buf, buf + np, s->np, r->cm[mi].invert, d[k], idx + k * np, &z);
    }
    /* prompts in both rows: paired_log_idx keeps prompt order, so one merge pass */
    int m = 0, *pe = idx + 2 * np;
    for (int i = 0, j = 0; !st && i < n[0] && j < n[1];) {
        int pa = idx[i], pb = idx[np + (size_t)j];
        if (pa == pb) pe[m] = pa, e[m++] = d[0][i++] - d[1][j++];
        else if (pa < pb) i++;
        else j++;
    }
    char base[700], key[720], pkey[720];
    hs_report_cmp_key(r, pi, mi, l, base, sizeof base);
    snprintf(key, sizeof key, "contrast/%s", base);
    snprintf(pkey, sizeof pkey, "contrast/perm/%s", base);
    out->n_pairs = m;
    if (!st) st = hs_bootstrap_mean(e, m, r->opt.bootstrap, r->opt.conf, hs_stream_seed(r->opt.seed, key), &out->ci);
    if (!st) pct_of_log(&out->ci);
    if (!st) st = hs_signflip_test(e, m, HS_PERM_EXACT, r->opt.bootstrap, hs_stream_seed(r->opt.seed, pkey),
                                   &out->perm);
    if (!st && r->opt.cluster_books) { /* as the rows: whole books resampled and sign-flipped */
        hs_cmp_cell sc = {.perm = out->perm};
        st = cluster_cell(r, &sc, e, NULL, pe, m, key, pkey);
        out->ci = sc.ci, out->perm = sc.perm, out->n_clusters = sc.n_clusters;
    }
done:
    free(buf);
    free(idx);
    return st;
}

/* Every timing pair left mixes a cell with a speed copy and one without it. */
static int copies_confound(const hs_cmp_cell *c) { return c->copies_withheld; }

/* A row is tested (has a p-value that can decide it) when it has enough pairs and enough
 * of them differ: ties carry no information about the sign of an effect. */
static int tested(const hs_report *r, const hs_cmp_cell *c)
{
    return c->available && c->ci.n >= r->opt.min_pairs && c->perm.n_nonzero >= r->opt.min_pairs &&
           !(c->n_not_interleaved > 0 && c->n_interleaved == 0) && /* no verdict: run order confounds it */
           !copies_confound(c) && !(r->opt.cluster_books && c->n_clusters < HS_MIN_BOOKS);
}

/* The verdict rule of docs/report.md, in order: too few pairs or differing pairs; all
 * identical; interval within the margin (equivalent); interval excluding 0 with p below
 * alpha: beyond the margin a direction, within it inconclusive; else no difference. */
static int decide(const hs_report *r, const hs_cmp_cell *c)
{
    double m = c->margin, alpha = 1.0 - r->opt.conf;
    if (c->ci.n < r->opt.min_pairs || c->ci.n < 2) return HS_V_FEW;
    if (c->perm.n_nonzero == 0) return HS_V_IDENTICAL;
    if (c->perm.n_nonzero < r->opt.min_pairs) return HS_V_FEW;
    if (r->opt.cluster_books && c->n_clusters < HS_MIN_BOOKS) return HS_V_FEW; /* no verdict, equivalence too */
    if (c->n_not_interleaved > 0 && c->n_interleaved == 0) return HS_V_ORDER;
    if (copies_confound(c)) return HS_V_COPIES;
    if (m > 0 && c->ci.lo > -m && c->ci.hi < m) return HS_V_EQUIV;
    int excl = hs_ci_sign(&c->ci);
    if ((excl == 1 || excl == -1) && hs_report_p(r, c) < alpha)
        return fabs(c->ci.mean) < m ? HS_V_SMALL : excl;
    return HS_V_NONE;
}

/* Holm over one family of rows (pairs p0..p1): every tested row of it. */
static hs_status holm_family(hs_report *r, int p0, int p1)
{
    size_t n = (size_t)(p1 - p0) * (size_t)r->ncm * (size_t)r->st->nl;
    double *p = hs_malloc((n ? n : 1) * 2 * sizeof *p, "Holm p-values");
    if (!p) return HS_ENOMEM;
    hs_cmp_cell *c0 = hs_report_cmp(r, p0, 0, 0);
    for (size_t i = 0; i < n; i++) p[i] = tested(r, &c0[i]) ? c0[i].perm.p : NAN;
    hs_status st = hs_holm(p, (int)n, p + n);
    for (size_t i = 0; !st && i < n; i++) c0[i].p_holm = p[n + i];
    free(p);
    return st;
}

/* Verdicts once every p-value is known (Holm needs them all): the variant comparisons
 * and the degradation rows are two families. */
static hs_status decide_all(hs_report *r)
{
    hs_status st = holm_family(r, 0, r->n_variant_pairs);
    if (!st) st = holm_family(r, r->n_variant_pairs, r->npair);
    for (int p = 0; !st && p < r->npair; p++)
        for (int m = 0; m < r->ncm; m++)
            for (int l = 0; l < r->st->nl; l++) {
                hs_cmp_cell *c = hs_report_cmp(r, p, m, l);
                c->margin = r->margin[m];
                c->verdict = c->available ? decide(r, c) : HS_V_FEW;
            }
    return st;
}

/* Margins per comparison metric: the defaults, then --margin overrides (checked by the
 * command line against hs_report_cmp_metrics). */
static hs_status set_margins(hs_report *r)
{
    r->margin = hs_malloc(N_CMP * sizeof *r->margin, "margins");
    if (!r->margin) return HS_ENOMEM;
    for (int m = 0; m < N_CMP; m++) {
        r->margin[m] = cmp_metrics[m].margin_pct;
        for (int k = 0; k < r->opt.n_margin; k++)
            if (!strcmp(r->opt.margin[k].key, cmp_metrics[m].key)) r->margin[m] = r->opt.margin[k].pct;
    }
    return HS_OK;
}

static hs_status fill_comparisons(hs_report *r)
{
    const hs_study *s = r->st;
    r->cm = cmp_metrics;
    r->ncm = N_CMP;
    r->cmp = hs_calloc((size_t)r->npair * N_CMP * (size_t)s->nl, sizeof *r->cmp, "comparisons");
    double *buf = hs_malloc(5 * (size_t)s->np * sizeof *buf, "paired values"); /* last: prompt indices */
    hs_status st = r->cmp && buf ? HS_OK : HS_ENOMEM;
    for (int p = 0; !st && p < r->npair; p++)
        for (int m = 0; !st && m < N_CMP; m++)
            for (int l = 0; !st && l < s->nl; l++) st = cmp_cell(r, p, m, l, buf);
    free(buf);
    return st;
}

const char *hs_report_verdict(const hs_report *r, int m, const hs_cmp_cell *c, char *buf, size_t cap)
{
    if (!c->available) return "unavailable";
    switch (c->verdict) {
    case HS_V_UP: return r->cm[m].up_word;
    case HS_V_DOWN: return r->cm[m].down_word;
    case HS_V_NONE: return "no significant difference";
    case HS_V_ORDER:
        return c->levels_apart ? "no verdict: levels timed apart (confounded with run order)"
                               : "no verdict: timings not interleaved (confounded with run order)";
    case HS_V_COPIES: return "no verdict: speed copies differ (some cells ran without a copy: memory or CPU)";
    case HS_V_IDENTICAL: snprintf(buf, cap, "identical (all %d pairs equal)", c->ci.n); return buf;
    case HS_V_EQUIV: snprintf(buf, cap, "equivalent (within +-%g%%)", c->margin); return buf;
    case HS_V_SMALL:
        snprintf(buf, cap, "inconclusive (significant, but the mean is within the +-%g%% margin)", c->margin);
        return buf;
    default:
        if (r->opt.cluster_books && c->ci.n >= r->opt.min_pairs && c->perm.n_nonzero >= r->opt.min_pairs)
            snprintf(buf, cap, "too few books (%d; a clustered verdict needs %d)", c->n_clusters, HS_MIN_BOOKS);
        else if (c->ci.n < r->opt.min_pairs || c->perm.n_nonzero == c->ci.n)
            snprintf(buf, cap, "too few prompts (n=%d)", c->ci.n);
        else
            snprintf(buf, cap, "too few differing prompts (%d of %d differ)", c->perm.n_nonzero, c->ci.n);
        return buf;
    }
}

const hs_table *hs_report_table(const hs_report *r, const char *key)
{
    for (int i = 0; i < r->ntab; i++)
        if (!strcmp(r->tab[i].key, key)) return &r->tab[i];
    return NULL;
}

int hs_report_cm(const hs_report *r, const char *key)
{
    for (int i = 0; i < r->ncm; i++)
        if (!strcmp(r->cm[i].key, key)) return i;
    return -1;
}

/* The book of a prompt id: the rule the sweep's max_prompts sample stratifies by
 * (hs_prompt_book_len, src/eval/prompt_sample.c). */
static void book_of(const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s", (int)hs_prompt_book_len(id), id);
}

/* Books numbered in order of first appearance, found through a hash table of their
 * indices (-1 free; at most half full): ids without a "-<digits>" tail are each their
 * own book, and a linear search made 64,000 of them a quadratic 10 s. */
static hs_status find_books(hs_report *r)
{
    const hs_study *s = r->st;
    size_t n = (size_t)(s->np > 0 ? s->np : 1), cap = 16;
    while (cap < 2 * n) cap *= 2;
    r->book = hs_malloc(n * sizeof *r->book, "books");
    r->book_name = hs_calloc(n, sizeof *r->book_name, "book names");
    r->book_count = hs_calloc(n, sizeof *r->book_count, "book counts");
    int *slot = hs_malloc(cap * sizeof *slot, "book table");
    hs_status st = r->book && r->book_name && r->book_count && slot ? HS_OK : HS_ENOMEM;
    for (size_t i = 0; !st && i < cap; i++) slot[i] = -1;
    for (int p = 0; !st && p < s->np; p++) {
        char b[256];
        if (s->book && s->book[p][0]) snprintf(b, sizeof b, "%s", s->book[p]); /* as the sample took it */
        else book_of(s->prompt[p], b, sizeof b);
        size_t i = hs_hash_bytes(b, strlen(b)) & (cap - 1);
        while (slot[i] >= 0 && strcmp(r->book_name[slot[i]], b)) i = (i + 1) & (cap - 1);
        if (slot[i] < 0) {
            if (!(r->book_name[r->nbooks] = hs_strdup(b))) st = HS_ENOMEM;
            else slot[i] = r->nbooks++;
        }
        if (!st) r->book[p] = slot[i], r->book_count[slot[i]]++;
    }
    free(slot);
    return st;
}

hs_status hs_report_compute(hs_report *r, const hs_study *st, const hs_report_opts *opt)
{
    memset(r, 0, sizeof *r);
    r->st = st;
    r->opt = *opt;
    find_roles(r);
    hs_status s = find_books(r);
    if (!s) s = make_tables(r);
    if (!s) s = fill_tables(r);
    if (!s) s = make_pairs(r);
    if (!s) s = fill_comparisons(r);
    if (!s) s = set_margins(r);
    if (!s) s = decide_all(r);
    return s;
}

void hs_report_free(hs_report *r)
{
    if (!r) return;
    for (int i = 0; r->tab && i < r->ntab; i++) {
        free(r->tab[i].key);
        free(r->tab[i].label);
        free(r->tab[i].units);
        free(r->tab[i].description);
        free(r->tab[i].cell);
        free(r->tab[i].n_bad);
    }
    for (int i = 0; r->pair && i < r->npair; i++) {
        free(r->pair[i].key);
        free(r->pair[i].title);
        free(r->pair[i].a_name);
        free(r->pair[i].b_name);
    }
    free(r->tab);
    free(r->pair);
    free(r->cmp);
    free(r->margin);
    for (int i = 0; r->book_name && i < r->nbooks; i++) free(r->book_name[i]);
    free(r->book_name);
    free(r->book);
    free(r->book_count);
    memset(r, 0, sizeof *r);
}
