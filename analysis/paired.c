/* paired.c: the paired-difference figure, the report's result as a picture: for each
 * comparison between variants, the paired difference (the geometric mean ratio's percent
 * change; for corpus perplexity the ratio of the corpus perplexities) against pruning
 * level with its bootstrap 95% interval as error bars, one panel per comparison metric the report computes
 * (all of them, in the tables' order: a reader looking up a row of comparisons.csv finds
 * its panel), a zero line and the equivalence margin as a grey band. The numbers are those
 * of comparisons.csv (analyze.c), so figure and tables agree; comparisons of a variant with
 * its own lowest level are not drawn (they answer another question and have their own
 * rows in the tables). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caption.h"
#include "gnuplot.h"
#include "plots.h"

/* Panel geometry in pixels (the PDF keeps it, see hs_gp_preamble). */
#define PD_W 520
#define PD_H 380
#define PD_KEY_W 330 /* the key's column, at least */

typedef struct {
    int nm, *m;  /* (nm) comparison-metric index of each panel with data, in r->cm order */
    int np, *p;  /* (np) variant comparisons drawn, in the report's order */
    int *color;  /* (np) colour index of each drawn comparison */
    int key_w;   /* width the key needs, pixels */
    int in_slot; /* the key sits in the empty last slot of the grid (odd panel count) */
} pd_plan;

static int pd_drawn(const hs_cmp_cell *c) { return c->available && c->ci.n > 0 && isfinite(c->ci.mean); }

static int pd_series_has(const hs_report *r, int p, int m)
{
    for (int l = 0; l < r->st->nl; l++)
        if (pd_drawn(hs_report_cmp(r, p, m, l))) return 1;
    return 0;
}

/* A comparison takes the colour of its first variant, as that variant's line has in the other
 * figures (a study of strategies against one reference), unless two drawn comparisons share a
 * first variant (agency vs baseline and vs baseline-skip): then each its own. */
static void pd_colors(const hs_report *r, pd_plan *pl)
{
    int unique = 1;
    for (int j = 0; j < pl->np; j++)
        for (int k = 0; k < j; k++) unique &= r->pair[pl->p[j]].a != r->pair[pl->p[k]].a;
    for (int j = 0; j < pl->np; j++) pl->color[j] = unique ? r->pair[pl->p[j]].a : pl->p[j];
}

/* Panels with at least one point, and comparisons with at least one point in them. */
static void pd_make_plan(const hs_report *r, pd_plan *pl)
{
    pl->nm = pl->np = 0;
    for (int m = 0; m < r->ncm; m++) {
        int any = 0;
        for (int p = 0; p < r->n_variant_pairs; p++) any |= pd_series_has(r, p, m);
        if (any) pl->m[pl->nm++] = m;
    }
    for (int p = 0; p < r->n_variant_pairs; p++) {
        int any = 0;
        for (int i = 0; i < pl->nm; i++) any |= pd_series_has(r, p, pl->m[i]);
        if (any) pl->p[pl->np++] = p;
    }
    pd_colors(r, pl);
    /* Room for the longest comparison title: about 6.5 pixels a character at 10 points. */
    pl->key_w = PD_KEY_W;
    for (int j = 0; j < pl->np; j++) {
        int need = 70 + (int)(6.5 * (double)strlen(r->pair[pl->p[j]].title));
        pl->key_w = need > pl->key_w ? need : pl->key_w;
    }
    /* An odd number of panels in two columns leaves the last slot empty: the key goes
     * there when it fits, instead of in a column of its own beside a blank slot. */
    pl->in_slot = pl->nm > 1 && pl->nm % 2 == 1 && pl->key_w <= PD_W;
}

/* One block: the comparison's points of one metric. nll_nats is the per-token NLL
 * difference D = ln(1 + pct/100) for the corpus metric (docs/report.md), else nan. */
static void pd_block(FILE *f, const hs_report *r, int p, int m)
{
    char name[128];
    hs_out_safe_name(r->pair[p].key, name, sizeof name);
    for (int l = 0; l < r->st->nl; l++) {
        const hs_cmp_cell *c = hs_report_cmp(r, p, m, l);
        if (!pd_drawn(c)) continue;
        int bar = c->ci.n >= 2 && isfinite(c->ci.lo) && isfinite(c->ci.hi);
        double nll = r->cm[m].weight ? log1p(c->ci.mean / 100) : NAN;
        fprintf(f, "%s %s %g %.9g %.9g %.9g %d %d %.9g %g\n", r->cm[m].key, name, r->st->level[l], c->ci.mean,
                bar ? c->ci.lo : c->ci.mean, bar ? c->ci.hi : c->ci.mean, c->ci.n,
                hs_verdict_directional(c->verdict), nll, c->margin);
    }
}

static void pd_dat(FILE *f, const hs_report *r, const pd_plan *pl)
{
    int block = 0;
    fputs("# metric comparison level_pct mean_pct ci_low_pct ci_high_pct n_pairs directional nll_nats "
          "margin_pct\n", f);
    for (int i = 0; i < pl->nm; i++)
        for (int j = 0; j < pl->np; j++) {
            if (!pd_series_has(r, pl->p[j], pl->m[i])) continue;
            if (block++) fputs("\n\n", f);
            pd_block(f, r, pl->p[j], pl->m[i]);
        }
}

/* The layout: up to two panels a row; the key in the grid's empty last slot (in_slot) or in
 * a column of its own on the right. */
static void pd_layout(FILE *f, const hs_report *r, const pd_plan *pl, const char *name)
{
    const hs_study *s = r->st;
    int cols = pl->nm < 2 ? 1 : 2, rows = (pl->nm + cols - 1) / cols, key_w = pl->in_slot ? 30 : pl->key_w;
    int w = cols * PD_W + key_w, h = rows * PD_H + 30;
    double span = s->level[s->nl - 1] - s->level[0];
    if (span <= 0) span = 10;
    hs_gp_preamble(f, name, w, h);
    fprintf(f, "set grid\nset xlabel \"pruning level (%%)\"\nset xrange [%g:%g]\n"
               "set xzeroaxis linetype -1 linewidth 1.5\n",
            s->level[0] - 0.08 * span, s->level[s->nl - 1] + 0.08 * span);
    /* Margins and spacing as fractions of the figure (left, right, bottom, top; x, y). */
    double l = 75.0 / w, rm = 1 - (key_w - 10.0) / w, b = 55.0 / h, t = 1 - 60.0 / h, sx = 85.0 / w, sy = 110.0 / h;
    fprintf(f, "set multiplot layout %d,%d margins %.4f,%.4f,%.4f,%.4f spacing %.4f,%.4f\n", rows, cols, l, rm, b, t,
            sx, sy);
    if (!pl->in_slot) {
        fprintf(f, "set key at screen %.4f,%.4f left top Left reverse\n", 1 - (key_w - 25.0) / w, t);
        return;
    }
    /* The empty slot: right column, bottom row (its top is the bottom margin plus one panel height). */
    double pw = (rm - l - sx) / 2, ph = (t - b - (rows - 1) * sy) / rows;
    fprintf(f, "set key at screen %.4f,%.4f left top Left reverse\n", l + pw + sx + 15.0 / w, b + ph);
}

/* The key, drawn with the first panel: one entry per comparison (same colour in every
 * panel), then what the band and the filled points mean. */
static void pd_key(FILE *f, const hs_report *r, const pd_plan *pl)
{
    for (int j = 0; j < pl->np; j++) {
        fputs(", \\\n  keyentry with yerrorlines ps 1.2 ", f);
        hs_gp_series(f, pl->color[j], 1);
        fputs(" title ", f);
        hs_gp_str(f, r->pair[pl->p[j]].title);
    }
    fputs(", \\\n  keyentry with boxes fs solid noborder fc rgb \"#e3e3e3\" title \"equivalence margin\""
          ", \\\n  keyentry with points pt 7 ps 1.2 lc rgb \"#444444\" title \"filled: a difference (verdict)\""
          ", \\\n  keyentry with points pt 6 ps 1.2 lc rgb \"#444444\" title \"open: no verdict of a difference\"",
          f);
}

static void pd_panel_head(FILE *f, const hs_report *r, int m)
{
    const hs_cmp_metric *cm = &r->cm[m];
    char below[100];
    snprintf(below, sizeof below, "above 0 = %s", cm->up_word);
    /* two lines: the longest label and its verdict word are wider than a panel */
    fputs("set title ", f);
    hs_gp_str(f, cm->label);
    fputs(".\"\\n\".", f);
    hs_gp_str(f, below);
    fputs(" font \",11\"", f);
    fputs("\nset ylabel ", f);
    hs_gp_str(f, cm->weight ? "ratio of corpus perplexities - 1 (%)" : "geometric mean ratio - 1 (%)");
    /* The band is clipped to the plot: where the data lie inside the margin it fills it. */
    fprintf(f, "\nset object 1 rectangle from graph 0, first %g to graph 1, first %g fillcolor rgb \"#e3e3e3\" "
               "fillstyle solid noborder behind clip\n", -r->margin[m], r->margin[m]);
}

/* The panel's y range always holds 0. When every point and bar of the panel is exactly 0
 * (variants that compute the same thing: "identical" rows) gnuplot would have an empty
 * range and warn, so the range is then the equivalence band. */
static void pd_yrange(FILE *f, const hs_report *r, const pd_plan *pl, int m)
{
    int flat = 1;
    for (int j = 0; j < pl->np; j++)
        for (int l = 0; l < r->st->nl; l++) {
            const hs_cmp_cell *c = hs_report_cmp(r, pl->p[j], m, l);
            if (!pd_drawn(c)) continue;
            flat &= c->ci.mean == 0 && (c->ci.n < 2 || ((c->ci.lo == 0 || !isfinite(c->ci.lo)) &&
                                                        (c->ci.hi == 0 || !isfinite(c->ci.hi))));
        }
    double half = r->margin[m] > 0 ? 1.5 * r->margin[m] : 1;
    if (flat) fprintf(f, "set yrange [%g:%g]\n", -half, half);
    else fputs("set yrange [*<0:0<*]\n", f);
}

/* One panel; *block is the data block of its first series. */
static void pd_panel(FILE *f, const hs_report *r, const pd_plan *pl, int i, const char *name, int *block)
{
    int m = pl->m[i], first = 1;
    double span = r->st->level[r->st->nl - 1] - r->st->level[0];
    if (span <= 0) span = 10;
    pd_panel_head(f, r, m);
    pd_yrange(f, r, pl, m);
    fputs(i == 0 ? "" : "unset key\n", f);
    fputs("plot \\\n", f);
    for (int j = 0; j < pl->np; j++) {
        int p = pl->p[j];
        if (!pd_series_has(r, p, m)) continue;
        double dx = (j - (pl->np - 1) / 2.0) * 0.012 * span;
        int k = pl->color[j];
        fprintf(f, "%s  \"%s.dat\" index %d using ($3%+g):4:5:6 with yerrorlines ps 1.2 ", first ? "" : ", \\\n", name,
                *block, dx);
        hs_gp_series(f, k, 1);
        fprintf(f, " notitle, \\\n  \"%s.dat\" index %d using ($3%+g):($8 > 0 ? $4 : NaN) with points pt %d ps 1.2 "
                   "lc rgb \"%s\" notitle", name, *block, dx, hs_gp_point(k), hs_gp_color(k));
        (*block)++, first = 0;
    }
    if (i == 0) pd_key(f, r, pl);
    fputc('\n', f);
}

static void pd_gp(FILE *f, const hs_report *r, const pd_plan *pl, const char *name)
{
    int block = 0;
    pd_layout(f, r, pl, name);
    for (int i = 0; i < pl->nm; i++) pd_panel(f, r, pl, i, name, &block);
    fputs("unset multiplot\n", f);
}

/* Appends "<intro>: agency vs baseline speed at 70%, ..." for the cells of the drawn panels
 * that match want(); nothing when none does. */
static hs_status pd_cells_note(hs_figure *fig, const hs_report *r, const pd_plan *pl, const char *intro,
                               int (*want)(const hs_cmp_cell *))
{
    int k = 0;
    hs_status st = HS_OK;
    for (int j = 0; !st && j < pl->np; j++)
        for (int i = 0; !st && i < pl->nm; i++)
            for (int l = 0; !st && l < r->st->nl; l++) {
                if (!want(hs_report_cmp(r, pl->p[j], pl->m[i], l))) continue;
                st = k++ ? hs_fig_more(fig, ", ") : hs_fig_note(fig, "%s: ", intro);
                if (!st) st = hs_fig_more(fig, "%s, %s at %g%%", r->pair[pl->p[j]].title, r->cm[pl->m[i]].key,
                                          r->st->level[l]);
            }
    return !st && k ? hs_fig_more(fig, ".") : st;
}

static int pd_no_pairs(const hs_cmp_cell *c) { return c->available && !pd_drawn(c); }
static int pd_no_bar(const hs_cmp_cell *c) { return pd_drawn(c) && c->ci.n < 2; }
static int pd_not_interleaved(const hs_cmp_cell *c) { return pd_drawn(c) && c->verdict == HS_V_ORDER; }
static int pd_copies(const hs_cmp_cell *c) { return pd_drawn(c) && c->verdict == HS_V_COPIES; }

/* What the figure leaves out or draws differently: comparisons it cannot make (a variant
 * is missing), cells without pairs, points without an interval, timings not interleaved. */
static hs_status pd_notes(hs_figure *fig, const hs_report *r, const pd_plan *pl)
{
    hs_status st = HS_OK;
    int k = 0, j = 0;
    for (int p = 0; !st && p < r->n_variant_pairs; p++) {
        if (j < pl->np && pl->p[j] == p) {
            j++;
            continue;
        }
        st = k++ ? hs_fig_more(fig, ", %s", r->pair[p].title)
                 : hs_fig_note(fig, "Not drawn (a variant is not in the study, or no prompt is done in both): %s",
                               r->pair[p].title);
    }
    if (!st && k) st = hs_fig_more(fig, ".");
    if (!st) st = pd_cells_note(fig, r, pl, "No pairs (no value), not drawn", pd_no_pairs);
    if (!st) st = pd_cells_note(fig, r, pl, "One pair, drawn without an interval", pd_no_bar);
    if (!st) st = pd_cells_note(fig, r, pl, "Timings not interleaved (run order confounds them; no verdict, drawn "
                                "open)", pd_not_interleaved);
    if (!st) st = pd_cells_note(fig, r, pl, "Timings with and without a speed copy that gave way for memory (no "
                                "verdict)", pd_copies);
    return st;
}

hs_status hs_plot_paired_differences(const hs_report *r, hs_figure *fig)
{
    pd_plan pl;
    pl.p = hs_calloc((size_t)r->n_variant_pairs + 1, sizeof *pl.p, "paired-difference series");
    pl.m = hs_calloc((size_t)r->ncm + 1, sizeof *pl.m, "paired-difference panels");
    pl.color = hs_calloc((size_t)r->n_variant_pairs + 1, sizeof *pl.color, "paired-difference colours");
    if (!pl.p || !pl.m || !pl.color) {
        free(pl.p), free(pl.m), free(pl.color);
        return HS_ENOMEM;
    }
    pd_make_plan(r, &pl);
    hs_status st = HS_OK;
    if (pl.np == 0) st = hs_fig_note(fig, "(Not drawn: no comparison between variants has a paired value.)");
    hs_out dat, gp;
    if (!st && pl.np) st = hs_gp_open(r->opt.out, fig->name, &dat, &gp);
    if (!st && pl.np) {
        pd_dat(dat.f, r, &pl);
        pd_gp(gp.f, r, &pl, fig->name);
        fig->has_data = 1;
        st = hs_gp_close(&dat, &gp, fig->name);
    }
    if (!st) st = pd_notes(fig, r, &pl);
    free(pl.p), free(pl.m), free(pl.color);
    return st;
}
