/* plots.c: line plots against level, the speed/quality summary with Pareto frontiers, and
 * the radar chart. Each writes NAME.dat (the numbers, one block per variant) and NAME.gp.
 * Means and intervals are the ones of the tables (analyze.c), so figures and tables agree. */
#include <math.h>
#include <string.h>

#include "figures_impl.h"
#include "stats.h"

static void caption_append(hs_figure *fig, const char *text)
{
    size_t k = strlen(fig->caption);
    snprintf(fig->caption + k, sizeof fig->caption - k, " %s", text);
}

/* Appends "Means over fewer prompts: agency at 70% (12 of 24); they cover other prompts
 * than the rest." for the partial cells of table t among levels [l0, l1]. */
static void partial_note(hs_figure *fig, const hs_report *r, const hs_table *t, int l0, int l1)
{
    const hs_study *s = r->st;
    char buf[sizeof fig->caption];
    size_t k = 0;
    for (int v = 0; v < s->nv; v++)
        for (int l = l0; l <= l1 && k < sizeof buf; l++) {
            int n = t->cell[hs_vl(s, v, l)].n;
            if (n == 0 || n == s->np) continue;
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%s %s at %g%% (%d of %d)",
                                  k ? "," : "Means over fewer prompts:", s->variant[v], s->level[l], n, s->np);
        }
    if (k == 0 || k >= sizeof buf) return;
    snprintf(buf + k, sizeof buf - k, "; they cover other prompts than the rest.");
    caption_append(fig, buf);
}

static int has_cell(const hs_table *t, const hs_study *s, int v, int l)
{
    return t->cell[hs_vl(s, v, l)].n > 0;
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

static void level_lines_gp(FILE *f, const hs_report *r, const hs_table *t, const char *name,
                           const char *ylabel, int logy, int nseries)
{
    const hs_study *s = r->st;
    double span = s->level[s->nl - 1] - s->level[0];
    if (span <= 0) span = 10;
    hs_gp_preamble(f, name, 900, 560);
    fprintf(f, "set xlabel \"pruning level (%%)\"\nset ylabel ");
    char yl[300];
    snprintf(yl, sizeof yl, "%s%s%s%s", ylabel, t->units[0] ? " [" : "", t->units, t->units[0] ? "]" : "");
    hs_gp_str(f, yl);
    fprintf(f, "\nset grid\nset key outside right top\nset xrange [%g:%g]\n%s", s->level[0] - 0.08 * span,
            s->level[s->nl - 1] + 0.08 * span, logy ? "set logscale y\n" : "");
    fputs("plot \\\n", f);
    int i = 0;
    for (int v = 0; v < s->nv; v++) {
        if (!variant_has_data(t, s, v)) continue;
        double dx = (i - (nseries - 1) / 2.0) * 0.012 * span;
        fprintf(f, "  \"%s.dat\" index %d using ($2%+g):3:4:5 with yerrorlines lw 2 pt 7 lc rgb \"%s\" title ",
                name, i, dx, hs_gp_color(v));
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
    if (nseries == 0) {
        caption_append(fig, "(Not drawn: no variant has data.)");
        return HS_OK;
    }
    hs_out dat, gp;
    hs_status st = hs_fig_open(r, fig->name, &dat, &gp);
    if (st) return st;
    level_lines_dat(dat.f, r, t);
    level_lines_gp(gp.f, r, t, fig->name, ylabel, logy, nseries);
    partial_note(fig, r, t, 0, r->st->nl - 1);
    fig->has_data = 1;
    return hs_fig_close(&dat, &gp);
}

/* ---- speed against perplexity, with each variant's Pareto frontier ---- */

typedef struct {
    const hs_table *speed, *ppl;
} sq_tables;

static int sq_point(const hs_report *r, const sq_tables *t, int v, int l, double *x, double *y)
{
    const hs_ci *a = &t->speed->cell[hs_vl(r->st, v, l)], *b = &t->ppl->cell[hs_vl(r->st, v, l)];
    *x = a->mean, *y = b->mean;
    return a->n > 0 && b->n > 0 && isfinite(*x) && isfinite(*y);
}

/* Points of variant v (level order) into x, y, lev; returns how many; marks its frontier. */
static int sq_points(const hs_report *r, const sq_tables *t, int v, double *x, double *y,
                     double *lev, uint8_t *front)
{
    int n = 0;
    for (int l = 0; l < r->st->nl; l++)
        if (sq_point(r, t, v, l, &x[n], &y[n])) lev[n++] = r->st->level[l];
    hs_pareto_front(x, y, n, front);
    return n;
}

static void sq_front_block(FILE *f, const char *name, const double *x, const double *y,
                           const uint8_t *front, int n)
{
    /* Frontier points in order of speed: a selection sort is plenty for a few levels. */
    uint8_t used[256] = {0};
    for (int k = 0; k < n; k++) {
        int best = -1;
        for (int i = 0; i < n && i < 256; i++)
            if (front[i] && !used[i] && (best < 0 || x[i] < x[best])) best = i;
        if (best < 0) break;
        used[best] = 1;
        fprintf(f, "%s %.9g %.9g\n", name, x[best], y[best]);
    }
}

static int sq_count_front(const uint8_t *front, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) k += front[i];
    return k;
}

static void sq_gp_series(FILE *f, const hs_report *r, int v, int i, int nfront, int first)
{
    const char *c = hs_gp_color(v);
    fprintf(f, "%s  \"pruning_summary.dat\" index %d using 3:4 with points pt 7 ps 1.5 lc rgb \"%s\" title ",
            first ? "" : ", \\\n", i, c);
    hs_gp_str(f, r->st->variant[v]);
    fprintf(f, ", \\\n  \"pruning_summary.dat\" index %d using 3:4:(sprintf(\"%%g%%%%\", $2)) with labels "
               "offset 1.2,0.6 tc rgb \"%s\" notitle", i, c);
    if (nfront >= 2)
        fprintf(f, ", \\\n  \"pruning_summary_front.dat\" index %d using 2:3 with lines dt 2 lw 2 "
                   "lc rgb \"%s\" notitle", i, c);
}

static hs_status sq_write(const hs_report *r, const sq_tables *t, hs_out *dat, hs_out *gp,
                          hs_out *front_out)
{
    const hs_study *s = r->st;
    double x[256], y[256], lev[256];
    uint8_t front[256];
    fputs("# variant level_pct tokens_per_s perplexity on_frontier\n", dat->f);
    fputs("# variant tokens_per_s perplexity\n", front_out->f);
    hs_gp_preamble(gp->f, "pruning_summary", 900, 620);
    fputs("set xlabel \"decode tokens/s (right = faster)\"\n"
          "set ylabel \"reference perplexity, log scale, reversed (up = better)\"\n"
          "set logscale y\nset yrange [*:*] reverse\nset grid\nset key outside right top\nplot \\\n",
          gp->f);
    int i = 0;
    for (int v = 0; v < s->nv; v++) {
        int n = sq_points(r, t, v, x, y, lev, front);
        if (n == 0) continue;
        char name[128];
        hs_out_safe_name(s->variant[v], name, sizeof name);
        if (i) fputs("\n\n", dat->f), fputs("\n\n", front_out->f);
        for (int k = 0; k < n; k++)
            fprintf(dat->f, "%s %g %.9g %.9g %d\n", name, lev[k], x[k], y[k], front[k]);
        sq_front_block(front_out->f, name, x, y, front, n);
        sq_gp_series(gp->f, r, v, i, sq_count_front(front, n), i == 0);
        i++;
    }
    fputc('\n', gp->f);
    return HS_OK;
}

hs_status hs_plot_pruning_summary(const hs_report *r, hs_figure *fig)
{
    sq_tables t = {hs_report_table(r, "decode_tokens_per_second"), hs_report_table(r, "reference_perplexity")};
    int any = 0;
    double x, y;
    for (int v = 0; v < r->st->nv; v++)
        for (int l = 0; l < r->st->nl; l++) any |= sq_point(r, &t, v, l, &x, &y);
    if (!any || r->st->nl > 256) {
        caption_append(fig, any ? "(Not drawn: more than 256 levels.)"
                                : "(Not drawn: no variant has both speed and perplexity.)");
        return HS_OK;
    }
    hs_out dat, gp, front;
    hs_status st = hs_fig_open(r, fig->name, &dat, &gp);
    if (st) return st;
    st = hs_out_open(&front, r->opt.out, "pruning_summary_front.dat");
    if (!st) st = sq_write(r, &t, &dat, &gp, &front);
    partial_note(fig, r, t.ppl, 0, r->st->nl - 1);
    hs_status c = hs_out_close(&front);
    hs_status d = hs_fig_close(&dat, &gp);
    fig->has_data = !st;
    return st ? st : c ? c : d;
}

/* ---- radar at the highest level ---- */

#define RADAR_AXES 4
static const char *const radar_axis[RADAR_AXES] = {"speed", "1/perplexity", "distinct-2", "1/time"};
static const char *const radar_col[RADAR_AXES] = {"speed", "inv_perplexity", "distinct_2",
                                                  "inv_generation_time"};

/* The four raw values of variant v at level l (higher = better each); 0 if any missing. */
static int radar_values(const hs_report *r, int v, int l, double *val)
{
    const char *keys[RADAR_AXES] = {"decode_tokens_per_second", "reference_perplexity", "distinct_2",
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
    fprintf(gp, "set title \"level %g%%: each axis divided by the best variant\"\n"
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
        fprintf(gp, "  \"%s.dat\" index %d using 6:7 with linespoints lw 2 pt 7 lc rgb \"%s\" title ",
                name, i++, hs_gp_color(v));
        hs_gp_str(gp, s->variant[v]);
    }
    fputc('\n', gp);
}

hs_status hs_plot_radar(const hs_report *r, hs_figure *fig)
{
    int l = r->st->nl - 1, any = 0;
    double val[RADAR_AXES];
    for (int v = 0; v < r->st->nv; v++) any |= radar_values(r, v, l, val);
    char note[128];
    snprintf(note, sizeof note, any ? "(Level %g%%.)" : "(Not drawn: no variant has all four values at level %g%%.)",
             r->st->level[l]);
    caption_append(fig, note);
    if (!any) return HS_OK;
    hs_out dat, gp;
    hs_status st = hs_fig_open(r, fig->name, &dat, &gp);
    if (st) return st;
    radar_write(r, l, dat.f, gp.f, fig->name);
    partial_note(fig, r, hs_report_table(r, "decode_tokens_per_second"), l, l);
    fig->has_data = 1;
    return hs_fig_close(&dat, &gp);
}
