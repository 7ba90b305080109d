/* plots.c: line plots against level, the speed/quality summary with Pareto frontiers, and
 * the radar chart. Each writes NAME.dat (the numbers, one block per variant) and NAME.gp.
 * Means and intervals are the ones of the tables (analyze.c), so figures and tables agree. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caption.h"
#include "gnuplot.h"
#include "plots.h"
#include "stats.h"

/* Appends "Means over fewer prompts: agency at 70% (12 of 24), ...; they cover other
 * prompts than the rest." for the partial cells of table t among levels [l0, l1]. */
static hs_status partial_note(hs_figure *fig, const hs_report *r, const hs_table *t, int l0, int l1)
{
    const hs_study *s = r->st;
    int k = 0;
    hs_status st = HS_OK;
    for (int v = 0; !st && v < s->nv; v++)
        for (int l = l0; !st && l <= l1; l++) {
            int n = t->cell[hs_vl(s, v, l)].n;
            if (n == 0 || n == s->np) continue;
            st = k++ ? hs_fig_more(fig, ", %s at %g%% (%d of %d)", s->variant[v], s->level[l], n, s->np)
                     : hs_fig_note(fig, "Means over fewer prompts: %s at %g%% (%d of %d)", s->variant[v],
                                   s->level[l], n, s->np);
        }
    if (!st && k) st = hs_fig_more(fig, "; they cover other prompts than the rest.");
    return st;
}

/* Whether a figure has a value for (v, l). */
typedef int (*cell_has)(const hs_report *r, const void *ctx, int v, int l);

/* One variant's missing levels among [l0, l1]: "agency at 70%" or "agency (every level)". */
static hs_status missing_variant(hs_figure *fig, const hs_report *r, cell_has has, const void *ctx, int v,
                                 int l0, int l1, int *k)
{
    const hs_study *s = r->st;
    int miss = 0;
    for (int l = l0; l <= l1; l++) miss += !has(r, ctx, v, l);
    if (miss == 0) return HS_OK;
    if (miss == l1 - l0 + 1 && l1 > l0)
        return hs_fig_more(fig, "%s%s (every level)", (*k)++ ? ", " : "", s->variant[v]);
    hs_status st = HS_OK;
    for (int l = l0; !st && l <= l1; l++)
        if (!has(r, ctx, v, l)) st = hs_fig_more(fig, "%s%s at %g%%", (*k)++ ? ", " : "", s->variant[v], s->level[l]);
    return st;
}

/* Appends "Missing, not drawn: agency at 70%, baseline-skip (every level)." for the
 * (variant, level) cells among levels [l0, l1] that the figure has no value for. */
static hs_status missing_note(hs_figure *fig, const hs_report *r, cell_has has, const void *ctx, int l0, int l1)
{
    int any = 0, k = 0;
    for (int v = 0; v < r->st->nv; v++)
        for (int l = l0; l <= l1; l++) any |= !has(r, ctx, v, l);
    if (!any) return HS_OK;
    hs_status st = hs_fig_note(fig, "Missing (no value), not drawn: ");
    for (int v = 0; !st && v < r->st->nv; v++) st = missing_variant(fig, r, has, ctx, v, l0, l1, &k);
    return st ? st : hs_fig_more(fig, ".");
}

static int has_cell(const hs_table *t, const hs_study *s, int v, int l)
{
    return t->cell[hs_vl(s, v, l)].n > 0;
}

static int table_has(const hs_report *r, const void *ctx, int v, int l)
{
    return has_cell(ctx, r->st, v, l);
}

static int variant_has_data(const hs_table *t, const hs_study *s, int v)
{
    for (int l = 0; l < s->nl; l++)
        if (has_cell(t, s, v, l)) return 1;
    return 0;
}

/* ---- value against level, one line per variant ---- */

static void level_lines_dat(FILE *f, const hs_report *r, const hs_table *t)
{
    const hs_study *s = r->st;
    int block = 0;
    fputs("# variant level_pct mean ci_low ci_high n\n", f);
    for (int v = 0; v < s->nv; v++) {
        if (!variant_has_data(t, s, v)) continue;
        char name[128];
        hs_out_safe_name(s->variant[v], name, sizeof name);
        if (block++) fputs("\n\n", f);
        for (int l = 0; l < s->nl; l++) {
            const hs_ci *c = &t->cell[hs_vl(s, v, l)];
            if (c->n == 0) continue;
            /* One prompt has no interval: draw the point without a bar (n says why). */
            double lo = c->n >= 2 ? c->lo : c->mean, hi = c->n >= 2 ? c->hi : c->mean;
            fprintf(f, "%s %g %.9g %.9g %.9g %d\n", name, s->level[l], c->mean, lo, hi, c->n);
        }
    }
}

/* Smallest and largest value drawn, bars included; 0 when none is positive (no log axis). */
static int level_lines_span(const hs_study *s, const hs_table *t, double *lo, double *hi)
{
    *lo = INFINITY, *hi = 0;
    for (size_t i = 0; i < (size_t)s->nv * (size_t)s->nl; i++) {
        const hs_ci *c = &t->cell[i];
        if (c->n == 0) continue;
        double a = c->n >= 2 ? c->lo : c->mean, b = c->n >= 2 ? c->hi : c->mean;
        if (a > 0 && a < *lo) *lo = a;
        if (b > *hi) *hi = b;
    }
    return isfinite(*lo) && *hi >= *lo;
}

static void level_lines_gp(FILE *f, const hs_report *r, const hs_table *t, const char *name,
                           const char *ylabel, int logy, int nseries)
{
    double lo, hi;
    const hs_study *s = r->st;
    double span = s->level[s->nl - 1] - s->level[0];
    if (span <= 0) span = 10;
    hs_gp_preamble(f, name, 900, 560);
    fprintf(f, "set xlabel \"pruning level (%%)\"\nset ylabel ");
    char yl[300];
    snprintf(yl, sizeof yl, "%s%s%s%s", ylabel, t->units[0] ? " [" : "", t->units, t->units[0] ? "]" : "");
    hs_gp_str(f, yl);
    fprintf(f, "\nset grid\nset key outside right top\nset xrange [%g:%g]\n", s->level[0] - 0.08 * span,
            s->level[s->nl - 1] + 0.08 * span);
    if (logy && level_lines_span(s, t, &lo, &hi)) hs_gp_log_axis(f, 'y', lo, hi, 0);
    else if (logy) fputs("set logscale y\n", f);
    else fputs("set yrange [0:*]\n", f); /* a magnitude: an axis from 0 does not magnify gaps */
    /* What every slide that shows the figure should say too (the caption is not on it). */
    fputs(logy ? "set title \"log scale; bars: 95% bootstrap intervals over prompts\"\n"
               : "set title \"bars: 95% bootstrap intervals over prompts; levels were timed minutes apart: "
                 "compare variants within a level\"\n", f);
    fputs("plot \\\n", f);
    int i = 0;
    for (int v = 0; v < s->nv; v++) {
        if (!variant_has_data(t, s, v)) continue;
        double dx = (i - (nseries - 1) / 2.0) * 0.012 * span;
        fprintf(f, "  \"%s.dat\" index %d using ($2%+g):3:4:5 with yerrorlines ", name, i, dx);
        hs_gp_series(f, v, 0);
        fputs(" title ", f);
        hs_gp_str(f, s->variant[v]);
        fputs(++i < nseries ? ", \\\n" : "\n", f);
    }
}

hs_status hs_plot_level_lines(const hs_report *r, hs_figure *fig, const char *table_key,
                              const char *ylabel, int logy)
{
    const hs_table *t = hs_report_table(r, table_key);
    int nseries = 0;
    for (int v = 0; v < r->st->nv; v++) nseries += variant_has_data(t, r->st, v);
    if (nseries == 0) return hs_fig_note(fig, "(Not drawn: no variant has data.)");
    hs_out dat, gp;
    hs_status st = hs_gp_open(r->opt.out, fig->name, &dat, &gp);
    if (st) return st;
    level_lines_dat(dat.f, r, t);
    level_lines_gp(gp.f, r, t, fig->name, ylabel, logy, nseries);
    fig->has_data = 1;
    st = hs_gp_close(&dat, &gp, fig->name);
    if (!st) st = partial_note(fig, r, t, 0, r->st->nl - 1);
    if (!st) st = missing_note(fig, r, table_has, t, 0, r->st->nl - 1);
    return st;
}

/* ---- speed against quality, with each variant's Pareto frontier ----
 * Quality is the corpus (token-weighted) reference perplexity, the tables' and the
 * literature figure's number, not a mean of per-prompt perplexities (issue 19); both axes
 * carry the tables' 95% bootstrap intervals, so a frontier point is read with its spread. */

typedef struct {
    const hs_table *speed, *ppl;
} sq_tables;

typedef struct {
    int v, l;
    double x, y;   /* mean decode tokens/s, corpus reference perplexity */
    double x0, x1; /* interval of x (x itself when the cell has one prompt) */
    double y0, y1; /* interval of y, likewise */
    uint8_t front; /* on its variant's Pareto frontier */
    int label;     /* 0: hidden (a label of the same level is next to it), 1: right, 2: left */
} sq_pt;

/* The interval of c, or its mean when it has none (one prompt: drawn without a bar). */
static void sq_bar(const hs_ci *c, double *lo, double *hi)
{
    int bar = c->n >= 2 && isfinite(c->lo) && isfinite(c->hi);
    *lo = bar ? c->lo : c->mean, *hi = bar ? c->hi : c->mean;
}

static int sq_point(const hs_report *r, const sq_tables *t, int v, int l, sq_pt *p)
{
    const hs_ci *a = &t->speed->cell[hs_vl(r->st, v, l)], *b = &t->ppl->cell[hs_vl(r->st, v, l)];
    *p = (sq_pt){v, l, a->mean, b->mean, 0, 0, 0, 0, 0, 1};
    sq_bar(a, &p->x0, &p->x1);
    sq_bar(b, &p->y0, &p->y1);
    return a->n > 0 && b->n > 0 && isfinite(p->x) && isfinite(p->y) && p->y > 0 && p->y0 > 0;
}

static int sq_has(const hs_report *r, const void *ctx, int v, int l)
{
    sq_pt p;
    return sq_point(r, ctx, v, l, &p);
}

/* Points of every variant (level order within a variant) with their frontier flags;
 * x, y, front are scratch of nl entries. Returns how many. */
static int sq_collect(const hs_report *r, const sq_tables *t, sq_pt *pt, double *x, double *y, uint8_t *front)
{
    int n = 0;
    for (int v = 0; v < r->st->nv; v++) {
        int k = 0;
        for (int l = 0; l < r->st->nl; l++) {
            if (!sq_point(r, t, v, l, &pt[n + k])) continue;
            x[k] = pt[n + k].x, y[k] = pt[n + k].y;
            k++;
        }
        hs_pareto_front(x, y, k, front);
        for (int i = 0; i < k; i++) pt[n + i].front = front[i];
        n += k;
    }
    return n;
}

/* Data range of the points (bars = 0) or of their bars (bars = 1): x linear, y (perplexity)
 * positive for the log axis. */
static void sq_range(const sq_pt *pt, int n, int bars, double *x0, double *x1, double *y0, double *y1)
{
    *x0 = *y0 = INFINITY, *x1 = *y1 = -INFINITY;
    for (int i = 0; i < n; i++) {
        *x0 = fmin(*x0, bars ? pt[i].x0 : pt[i].x), *x1 = fmax(*x1, bars ? pt[i].x1 : pt[i].x);
        *y0 = fmin(*y0, bars ? pt[i].y0 : pt[i].y), *y1 = fmax(*y1, bars ? pt[i].y1 : pt[i].y);
    }
}

/* Labels that would overlap: one of the same level is hidden (the other says it), one of
 * another level goes to the other side of its point. Closeness is measured on the axes as
 * sq_gp_head draws them (the bars' span, x widened by a fifth, y on its log scale and
 * padded): within 6% of the width (a "100%" label is about 4%) and 4% of the height. */
static void sq_place_labels(sq_pt *pt, int n)
{
    double x0, x1, y0, y1;
    sq_range(pt, n, 1, &x0, &x1, &y0, &y1);
    double sx = x1 > x0 ? 1.2 * (x1 - x0) : 1, sy = y1 > y0 && y0 > 0 ? 1.1 * log(y1 / y0) : 1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i && pt[i].label; j++) {
            if (!pt[j].label || fabs(pt[i].x - pt[j].x) / sx > 0.06 || fabs(log(pt[i].y / pt[j].y)) / sy > 0.04)
                continue;
            if (pt[i].l == pt[j].l) pt[i].label = 0;
            else if (pt[i].label == pt[j].label) pt[i].label = 3 - pt[j].label;
        }
}

static void sq_front_block(FILE *f, const char *name, const sq_pt *pt, int n)
{
    /* Frontier points in order of speed, so the dashed line runs left to right. */
    double last = -INFINITY;
    for (int done = 0; done < n;) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (pt[i].front && pt[i].x > last && (best < 0 || pt[i].x < pt[best].x)) best = i;
        if (best < 0) break;
        fprintf(f, "%s %.9g %.9g\n", name, pt[best].x, pt[best].y);
        last = pt[best].x;
        done++;
    }
}

static void sq_gp_series(FILE *f, const hs_report *r, int v, int i, int nfront)
{
    const char *c = hs_gp_color(v);
    /* Thin, half-transparent bars first (#AARRGGBB), so points, rings and labels stay readable over
     * the bars of seven strategies. */
    fprintf(f, "  \"pruning_summary.dat\" index %d using 3:4:7:8:9:10 with xyerrorbars pt -1 lw 0.8 "
               "lc rgb \"#80%s\" notitle, \\\n", i, c + 1);
    fprintf(f, "  \"pruning_summary.dat\" index %d using 3:4 with points pt %d ps 1.5 lc rgb \"%s\" title ", i,
            hs_gp_point(v), c);
    hs_gp_str(f, r->st->variant[v]);
    fprintf(f, ", \\\n  \"pruning_summary.dat\" index %d using 3:4:($6 == 1 ? sprintf(\"%%g%%%%\", $2) : \"\") "
               "with labels left offset 0.9,0.7 tc rgb \"%s\" notitle", i, c);
    fprintf(f, ", \\\n  \"pruning_summary.dat\" index %d using 3:4:($6 == 2 ? sprintf(\"%%g%%%%\", $2) : \"\") "
               "with labels right offset -0.9,-0.7 tc rgb \"%s\" notitle", i, c);
    /* A ring marks every frontier point, so a frontier of one point is visible too. */
    fprintf(f, ", \\\n  \"pruning_summary_front.dat\" index %d using 2:3 with points pt 6 ps 2.6 lw 1.5 "
               "lc rgb \"%s\" notitle", i, c);
    if (nfront >= 2)
        fprintf(f, ", \\\n  \"pruning_summary_front.dat\" index %d using 2:3 with lines dt 2 lw 2 "
                   "lc rgb \"%s\" notitle", i, c);
    fputs(", \\\n", f);
}

static void sq_gp_head(FILE *f, const sq_pt *pt, int n)
{
    double x0, x1, y0, y1;
    sq_range(pt, n, 1, &x0, &x1, &y0, &y1);
    /* Room on the right for the labels; a single speed is centred. */
    double sx = x1 - x0, a = x0 - 0.08 * sx, b = x1 + 0.12 * sx;
    if (sx <= 0) a = x0 - 0.05 * fabs(x0) - 0.5, b = x0 + 0.05 * fabs(x0) + 0.5;
    hs_gp_preamble(f, "pruning_summary", 900, 620);
    fprintf(f, "set xlabel \"decode tokens/s (right = faster)\"\n"
               "set ylabel \"corpus reference perplexity, log scale, reversed (up = better)\"\n"
               "set xrange [%.6g:%.6g]\n", a, b);
    hs_gp_log_axis(f, 'y', y0, y1, 1);
    fputs("set title \"bars: 95% bootstrap intervals over prompts; levels were timed minutes apart, so speeds of "
          "two levels may differ by the load\" font \",10\"\n", f);
    fputs("set grid\nset key outside right top\nplot \\\n", f);
}

static void sq_write(const hs_report *r, sq_pt *pt, int n, FILE *dat, FILE *gp, FILE *front)
{
    sq_place_labels(pt, n);
    fputs("# variant level_pct tokens_per_s corpus_perplexity on_frontier label tokens_per_s_ci_low "
          "tokens_per_s_ci_high corpus_perplexity_ci_low corpus_perplexity_ci_high\n", dat);
    fputs("# variant tokens_per_s perplexity\n", front);
    sq_gp_head(gp, pt, n);
    for (int i = 0, series = 0; i < n; series++) {
        int j = i, nfront = 0;
        for (; j < n && pt[j].v == pt[i].v; j++) nfront += pt[j].front;
        char name[128];
        hs_out_safe_name(r->st->variant[pt[i].v], name, sizeof name);
        if (series) fputs("\n\n", dat), fputs("\n\n", front);
        for (int k = i; k < j; k++)
            fprintf(dat, "%s %g %.9g %.9g %d %d %.9g %.9g %.9g %.9g\n", name, r->st->level[pt[k].l], pt[k].x,
                    pt[k].y, pt[k].front, pt[k].label, pt[k].x0, pt[k].x1, pt[k].y0, pt[k].y1);
        sq_front_block(front, name, pt + i, j - i);
        sq_gp_series(gp, r, pt[i].v, series, nfront);
        i = j;
    }
    /* One key entry explains the rings and dashes of every colour. */
    fputs("  NaN with linespoints dt 2 lw 2 pt 6 ps 2.6 lc rgb \"#444444\" title \"Pareto frontier\"\n", gp);
}

static hs_status sq_files(const hs_report *r, hs_figure *fig, sq_pt *pt, int n)
{
    hs_out dat, gp, front;
    hs_status st = hs_gp_open(r->opt.out, fig->name, &dat, &gp);
    if (st) return st;
    st = hs_out_open(&front, r->opt.out, "pruning_summary_front.dat");
    if (!st) sq_write(r, pt, n, dat.f, gp.f, front.f);
    hs_status c = st ? HS_OK : hs_out_close(&front);
    hs_status d = hs_gp_close(&dat, &gp, fig->name);
    fig->has_data = !st && !c && !d;
    return st ? st : c ? c : d;
}

hs_status hs_plot_pruning_summary(const hs_report *r, hs_figure *fig)
{
    const hs_study *s = r->st;
    sq_tables t = {hs_report_table(r, "decode_tokens_per_second"),
                   hs_report_table(r, "corpus_reference_perplexity")};
    sq_pt *pt = hs_calloc((size_t)s->nv * (size_t)s->nl, sizeof *pt, "summary points");
    double *xy = hs_calloc(2 * (size_t)s->nl, sizeof *xy, "summary points");
    uint8_t *front = hs_calloc((size_t)s->nl, 1, "summary points");
    hs_status st = pt && xy && front ? HS_OK : HS_ENOMEM;
    int n = st ? 0 : sq_collect(r, &t, pt, xy, xy + s->nl, front);
    if (!st && n == 0) st = hs_fig_note(fig, "(Not drawn: no variant has both speed and perplexity.)");
    else if (!st) st = sq_files(r, fig, pt, n);
    if (!st && n) st = partial_note(fig, r, t.ppl, 0, s->nl - 1);
    if (!st && n) st = missing_note(fig, r, sq_has, &t, 0, s->nl - 1);
    free(pt), free(xy), free(front);
    return st;
}

/* ---- radar at the highest level ---- */

#define RADAR_AXES 4
static const char *const radar_axis[RADAR_AXES] = {"speed", "1/corpus perplexity", "distinct-2", "1/time"};
static const char *const radar_col[RADAR_AXES] = {"speed", "inv_corpus_perplexity", "distinct_2",
                                                  "inv_generation_time"};

/* The four raw values of variant v at level l (higher = better each); 0 if any missing.
 * Quality is the corpus (token-weighted) reference perplexity, the report's primary quality
 * number (issue 18), not the mean of per-prompt perplexities; the other axes are means over
 * prompts (1/time: one over the mean time), so every axis is a ratio of such numbers between
 * variants, never a mean of per-prompt ratios. */
static int radar_values(const hs_report *r, int v, int l, double *val)
{
    const char *keys[RADAR_AXES] = {"decode_tokens_per_second", "corpus_reference_perplexity", "distinct_2",
                                    "generation_seconds"};
    for (int k = 0; k < RADAR_AXES; k++) {
        const hs_ci *c = &hs_report_table(r, keys[k])->cell[hs_vl(r->st, v, l)];
        if (c->n == 0 || !isfinite(c->mean) || c->mean <= 0) return 0;
        val[k] = (k == 1 || k == 3) ? 1.0 / c->mean : c->mean;
    }
    return 1;
}

static void radar_xy(int k, double rad, double *x, double *y)
{
    double a = M_PI / 2 - k * 2 * M_PI / RADAR_AXES;
    *x = rad * cos(a), *y = rad * sin(a);
}

static void radar_grid_gp(FILE *f)
{
    double x, y;
    int obj = 1;
    for (int ring = 1; ring <= 4; ring++) {
        fprintf(f, "set object %d polygon from ", obj++);
        for (int k = 0; k <= RADAR_AXES; k++) {
            radar_xy(k % RADAR_AXES, ring / 4.0, &x, &y);
            fprintf(f, "%s%.6f,%.6f", k ? " to " : "", x, y);
        }
        fputs(" fs empty border lc rgb \"#bbbbbb\" back\n", f);
    }
    for (int k = 0; k < RADAR_AXES; k++) {
        radar_xy(k, 1.0, &x, &y);
        fprintf(f, "set arrow from 0,0 to %.6f,%.6f nohead lc rgb \"#bbbbbb\" back\n", x, y);
        radar_xy(k, 1.08, &x, &y);
        /* Labels beside the axis end, pointing away from the centre. */
        const char *align = x > 0.01 ? "left" : x < -0.01 ? "right" : "center";
        fprintf(f, "set label \"%s\" at %.6f,%.6f %s offset 0,%d\n", radar_axis[k], x, y, align,
                y > 0.01 ? 1 : y < -0.01 ? -1 : 0);
    }
    fputs("set label \"rings: 0.25, 0.5, 0.75, 1 (1 = best variant)\" at -1.35,-1.3 left\n", f);
}

static void radar_block(FILE *f, const char *name, const double *val, const double *best)
{
    for (int k = 0; k <= RADAR_AXES; k++) {
        int a = k % RADAR_AXES;
        double norm = val[a] / best[a], x, y;
        radar_xy(a, norm, &x, &y);
        fprintf(f, "%s %s %g %.9g %.9g %.9g %.9g\n", name, radar_col[a], 90.0 - a * 360.0 / RADAR_AXES,
                val[a], norm, x, y);
    }
}

static void radar_write(const hs_report *r, int l, FILE *dat, FILE *gp, const char *name)
{
    const hs_study *s = r->st;
    double val[RADAR_AXES], best[RADAR_AXES] = {0};
    for (int v = 0; v < s->nv; v++)
        if (radar_values(r, v, l, val))
            for (int k = 0; k < RADAR_AXES; k++) best[k] = val[k] > best[k] ? val[k] : best[k];
    fputs("# variant axis angle_deg value normalised x y\n", dat);
    hs_gp_preamble(gp, name, 760, 700);
    fprintf(gp, "set title \"level %g%%: each axis divided by the best variant (ratios of means)\"\n"
                "set size square\nunset border\nunset tics\nset key outside right top\n"
                "set xrange [-1.4:1.4]\nset yrange [-1.4:1.4]\n", s->level[l]);
    radar_grid_gp(gp);
    fputs("plot \\\n", gp);
    int i = 0;
    for (int v = 0; v < s->nv; v++) {
        if (!radar_values(r, v, l, val)) continue;
        char safe[128];
        hs_out_safe_name(s->variant[v], safe, sizeof safe);
        if (i) fputs("\n\n", dat), fputs(", \\\n", gp);
        radar_block(dat, safe, val, best);
        fprintf(gp, "  \"%s.dat\" index %d using 6:7 with linespoints ", name, i++);
        hs_gp_series(gp, v, 0);
        fputs(" title ", gp);
        hs_gp_str(gp, s->variant[v]);
    }
    fputc('\n', gp);
}

static int radar_has(const hs_report *r, const void *ctx, int v, int l)
{
    double val[RADAR_AXES];
    (void)ctx;
    return radar_values(r, v, l, val);
}

/* A radar of one variant is a square of 1s by construction: it is not drawn (issue 20), and
 * the caption says why rather than leave the reader looking for it. */
static hs_status radar_single_note(hs_figure *fig, const hs_report *r, int l)
{
    int drawn = -1;
    for (int v = 0; v < r->st->nv; v++)
        if (radar_has(r, NULL, v, l)) drawn = v;
    if (r->st->nv == 1)
        return hs_fig_note(fig, "(Not drawn: the study has one variant (%s), so every axis would be 1 by "
                                "construction: a radar compares variants.)", r->st->variant[drawn]);
    return hs_fig_note(fig, "(Not drawn: only %s has all four values at level %g%%, so every axis would be 1 by "
                            "construction: a radar compares variants.)", r->st->variant[drawn], r->st->level[l]);
}

hs_status hs_plot_radar(const hs_report *r, hs_figure *fig)
{
    int l = r->st->nl - 1, drawn = 0;
    for (int v = 0; v < r->st->nv; v++) drawn += radar_has(r, NULL, v, l);
    if (!drawn)
        return hs_fig_note(fig, "(Not drawn: no variant has all four values at level %g%%.)", r->st->level[l]);
    hs_status st = drawn == 1 ? radar_single_note(fig, r, l) : HS_OK;
    if (!st && drawn == 1) st = missing_note(fig, r, radar_has, NULL, l, l);
    if (st || drawn == 1) return st;
    st = hs_fig_note(fig, "(Level %g%%.)", r->st->level[l]);
    hs_out dat, gp;
    if (!st) st = hs_gp_open(r->opt.out, fig->name, &dat, &gp);
    if (st) return st;
    radar_write(r, l, dat.f, gp.f, fig->name);
    fig->has_data = 1;
    st = hs_gp_close(&dat, &gp, fig->name);
    if (!st) st = partial_note(fig, r, hs_report_table(r, "decode_tokens_per_second"), l, l);
    if (!st) st = missing_note(fig, r, radar_has, NULL, l, l);
    return st;
}
