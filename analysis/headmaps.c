/* headmaps.c: layer x head heat maps — which heads each level switches off (/heads/pruned)
 * and, for agency variants, the share of steps each head spent in each state
 * (/agency/occupancy). One multiplot panel per level and group of variants with the same
 * head sets (or per level and state), one data block each, and no empty slot in either
 * grid; the occupancy grid has one row per level and one column per state, one colour scale
 * and bar. */
#include <stdlib.h>
#include <string.h>

#include "caption.h"
#include "gnuplot.h"
#include "plots.h"

/* Integer tics, at most about 12 of them. */
static int tic_step(int n) { return n <= 12 ? 1 : (n + 11) / 12; }

/* ---- pruned heads ----
 * A grid with no blank slot (issue 20): when the variants fall into several groups with
 * different head sets (a study of strategies), one row per level and one column per group,
 * so a column reads as one strategy's nested sets; when every variant switches off the same
 * heads, one panel per level in as many columns as leave the last row full (or shortest). A
 * (level, group) whose cell is not done gets its panel, marked, rather than a hole. */

typedef struct {
    int ng;      /* groups: variants whose head maps agree wherever both are known */
    int *group;  /* (nv) group of each variant, -1 for one with no map at any level */
    int rows, cols, n; /* n = rows x cols panels when ng > 1, nl when ng == 1 */
} pruned_grid;

static const uint8_t *pruned_map(const hs_study *s, int v, int l)
{
    return s->pruned + hs_vl(s, v, l) * (size_t)s->L * (size_t)s->H;
}

/* Whether variants a and b switch off the same heads at every level both have a map. */
static int same_heads(const hs_study *s, int a, int b)
{
    size_t LH = (size_t)s->L * (size_t)s->H;
    for (int l = 0; l < s->nl; l++)
        if (s->heads_known[hs_vl(s, a, l)] && s->heads_known[hs_vl(s, b, l)] &&
            memcmp(pruned_map(s, a, l), pruned_map(s, b, l), LH))
            return 0;
    return 1;
}

static int has_any_map(const hs_study *s, int v)
{
    for (int l = 0; l < s->nl; l++)
        if (s->heads_known[hs_vl(s, v, l)]) return 1;
    return 0;
}

/* Columns for n panels in one group: one row up to 6, else 3..6 columns with the fewest empty
 * slots in the last row (more columns on a tie): 10 levels are 2 x 5, not 3 x 4 with 2 blanks. */
static int wrap_cols(int n)
{
    if (n <= 6) return n;
    int best = 3;
    for (int c = 4; c <= 6; c++)
        if ((c - n % c) % c <= (best - n % best) % best) best = c;
    return best;
}

static void pruned_make_grid(const hs_study *s, pruned_grid *g)
{
    g->ng = 0;
    for (int v = 0; v < s->nv; v++) {
        g->group[v] = -1;
        if (!has_any_map(s, v)) continue;
        for (int u = 0; u < v && g->group[v] < 0; u++)
            if (g->group[u] >= 0 && same_heads(s, u, v)) g->group[v] = g->group[u];
        if (g->group[v] < 0) g->group[v] = g->ng++;
    }
    if (g->ng == 1) g->n = s->nl, g->cols = wrap_cols(s->nl), g->rows = (s->nl + g->cols - 1) / g->cols;
    else g->rows = s->nl, g->cols = g->ng, g->n = g->rows * g->cols;
}

/* The map of group k at level l: a member's that is known, or NULL (no member's cell done). */
static const uint8_t *group_map(const hs_study *s, const pruned_grid *g, int k, int l, int *first)
{
    *first = -1;
    for (int v = 0; v < s->nv; v++) {
        if (g->group[v] != k) continue;
        if (*first < 0) *first = v;
        if (s->heads_known[hs_vl(s, v, l)]) return pruned_map(s, v, l);
    }
    return NULL;
}

static int count_on(const uint8_t *m, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++) k += m[i] != 0;
    return k;
}

/* The group's members as a title: "ablation, ablation-mean" (cap bytes). */
static void group_names(const hs_study *s, const pruned_grid *g, int k, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (int v = 0; v < s->nv && n < cap; v++)
        if (g->group[v] == k) n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", s->variant[v]);
}

/* Panel i (level l, group k): its data block (pruned 0/1, NaN when not done) and title. */
static int pruned_block(FILE *f, const hs_study *s, const pruned_grid *g, int l, int k, char *title, size_t cap)
{
    size_t LH = (size_t)s->L * (size_t)s->H;
    int first;
    const uint8_t *m = group_map(s, g, k, l, &first);
    char name[128], who[200];
    hs_out_safe_name(g->ng == 1 ? "all" : s->variant[first], name, sizeof name);
    for (int a = 0; a < s->L; a++)
        for (int h = 0; h < s->H; h++) {
            if (m) fprintf(f, "%s %g %d %d %d\n", name, s->level[l], a, h, m[(size_t)a * s->H + h] != 0);
            else fprintf(f, "%s %g %d %d NaN\n", name, s->level[l], a, h);
        }
    group_names(s, g, k, who, sizeof who);
    if (!m) snprintf(title, cap, "%s%s%g%%: not done", g->ng == 1 ? "level " : who, g->ng == 1 ? "" : " at ",
                     s->level[l]);
    else if (g->ng == 1) snprintf(title, cap, "level %g%%: %d of %zu heads off", s->level[l], count_on(m, LH), LH);
    else snprintf(title, cap, "%s at %g%%: %d of %zu heads off", who, s->level[l], count_on(m, LH), LH);
    return m != NULL;
}

static void pruned_gp_head(FILE *f, const hs_report *r, const char *name, const pruned_grid *g)
{
    /* Cairo draws at most 32767 pixels a side: many levels get smaller panels instead
     * of a figure that cannot be drawn (122 levels in 4 columns did that). */
    double scale = 1;
    if (270.0 * g->rows + 40 > HS_GP_MAX_PX) scale = (HS_GP_MAX_PX - 40) / (270.0 * g->rows);
    if (300.0 * g->cols + 60 > HS_GP_MAX_PX && (HS_GP_MAX_PX - 60) / (300.0 * g->cols) < scale)
        scale = (HS_GP_MAX_PX - 60) / (300.0 * g->cols);
    hs_gp_preamble(f, name, (int)(300 * g->cols * scale) + 60, (int)(270 * g->rows * scale) + 40);
    fprintf(f, "set palette defined (0 \"#f4f4f4\", 1 \"#b2182b\")\nunset colorbox\nset cbrange [0:1]\n"
               "set xrange [-0.5:%g]\nset yrange [-0.5:%g]\nset xlabel \"head\"\nset ylabel \"layer\"\n"
               "set size ratio -1\nset xtics 0,%d\nset ytics 0,%d\nset multiplot layout %d,%d\n",
            r->st->H - 0.5, r->st->L - 0.5, tic_step(r->st->H), tic_step(r->st->L), g->rows, g->cols);
}

static void pruned_gp_panel(FILE *f, const char *name, int i, const char *title, int known)
{
    fputs("set title ", f);
    hs_gp_str(f, title);
    if (!known) fputs("\nset label 1 \"cell not done\" at graph 0.5,0.5 center front", f);
    fprintf(f, "\nplot \"%s.dat\" index %d using 4:3:5 with image notitle\nunset label 1\n", name, i);
}

static hs_status pruned_write(const hs_report *r, hs_figure *fig, const pruned_grid *g)
{
    const hs_study *s = r->st;
    hs_out dat, gp;
    hs_status st = hs_gp_open(r->opt.out, fig->name, &dat, &gp);
    if (st) return st;
    fputs("# variant level_pct layer head pruned\n", dat.f);
    pruned_gp_head(gp.f, r, fig->name, g);
    for (int i = 0; i < g->n; i++) {
        int l = g->ng == 1 ? i : i / g->cols, k = g->ng == 1 ? 0 : i % g->cols;
        char title[320];
        if (i) fputs("\n\n", dat.f);
        int known = pruned_block(dat.f, s, g, l, k, title, sizeof title);
        pruned_gp_panel(gp.f, fig->name, i, title, known);
    }
    fputs("unset multiplot\n", gp.f);
    fig->has_data = 1;
    return hs_gp_close(&dat, &gp, fig->name);
}

/* Cells without a head map (not done, nothing pruned recorded): "agency at 70%", or a whole
 * level when no variant has one, so no level is left unexplained. */
static hs_status pruned_missing_note(const hs_study *s, hs_figure *fig)
{
    int k = 0;
    hs_status st = HS_OK;
    for (int l = 0; !st && l < s->nl; l++) {
        int known = 0;
        for (int v = 0; v < s->nv; v++) known += s->heads_known[hs_vl(s, v, l)] != 0;
        if (known == 0) st = hs_fig_more(fig, "%slevel %g%% (panels marked)", k++ ? ", " : "", s->level[l]);
        for (int v = 0; !st && known && v < s->nv; v++)
            if (!s->heads_known[hs_vl(s, v, l)])
                st = hs_fig_more(fig, "%s%s at %g%%", k++ ? ", " : "", s->variant[v], s->level[l]);
    }
    return st;
}

/* Variants whose maps agree share a column: say which, so a missing name is not a missing variant. */
static hs_status pruned_group_note(const hs_study *s, hs_figure *fig, const pruned_grid *g)
{
    hs_status st = HS_OK;
    for (int k = 0; !st && k < g->ng; k++) {
        int members = 0;
        for (int v = 0; v < s->nv; v++) members += g->group[v] == k;
        if (members < 2 || g->ng == 1) continue;
        char who[200];
        group_names(s, g, k, who, sizeof who);
        st = hs_fig_note(fig, "One column for %s: they switch off the same heads at every level.", who);
    }
    if (!st && g->ng > 1) st = hs_fig_note(fig, "Rows: levels; columns: variants with different head sets.");
    return st;
}

hs_status hs_plot_heads_pruned(const hs_report *r, hs_figure *fig)
{
    const hs_study *s = r->st;
    pruned_grid g;
    g.group = calloc((size_t)s->nv, sizeof *g.group);
    if (!g.group) return hs_err(HS_ENOMEM, "out of memory for head map panels");
    pruned_make_grid(s, &g);
    int complete = 1;
    for (size_t i = 0; i < (size_t)s->nv * (size_t)s->nl; i++) complete &= s->heads_known[i] != 0;
    hs_status st = g.ng ? pruned_write(r, fig, &g) : hs_fig_note(fig, "(Not drawn: no cell is done yet.)");
    if (!st && g.ng) st = pruned_group_note(s, fig, &g);
    if (!st && g.ng && !complete) st = hs_fig_note(fig, "No head map (cell not done) for: ");
    if (!st && g.ng && !complete) st = pruned_missing_note(s, fig);
    if (!st && g.ng && !complete) st = hs_fig_more(fig, ".");
    free(g.group);
    return st;
}

/* ---- agency occupancy ---- */

static const int64_t *occ_map(const hs_study *s, int v, int l)
{
    return s->occupancy + hs_vl(s, v, l) * (size_t)s->L * (size_t)s->H * (size_t)s->ns;
}

static int64_t occ_total(const hs_study *s, int v, int l)
{
    const int64_t *o = occ_map(s, v, l);
    int64_t t = 0;
    for (size_t i = 0; i < (size_t)s->L * (size_t)s->H * (size_t)s->ns; i++) t += o[i];
    return t;
}

static void occ_block(FILE *f, const hs_study *s, int v, int l, int k)
{
    const int64_t *o = occ_map(s, v, l);
    for (int a = 0; a < s->L; a++)
        for (int h = 0; h < s->H; h++) {
            const int64_t *c = o + ((size_t)a * s->H + h) * s->ns;
            int64_t tot = 0;
            for (int j = 0; j < s->ns; j++) tot += c[j];
            fprintf(f, "%g %s %d %d %lld %.6g\n", s->level[l], s->state[k], a, h, (long long)c[k],
                    tot > 0 ? (double)c[k] / (double)tot : 0.0);
        }
}

/* Steps of variant v in state k at level l, over every head. */
static int64_t occ_state_total(const hs_study *s, int v, int l, int k)
{
    const int64_t *o = occ_map(s, v, l);
    int64_t t = 0;
    for (size_t i = 0; i < (size_t)s->L * (size_t)s->H; i++) t += o[i * (size_t)s->ns + (size_t)k];
    return t;
}

/* The grid: one row per level with counts (lv, nrow), one column per state that some drawn
 * level has steps in (ks, ncol). A state no head ever entered would be a column of blank
 * panels: it gets none, and the caption names it. */
typedef struct {
    int nrow, ncol, *lv, *ks;
} occ_grid;

static void occ_make_grid(const hs_study *s, int v, occ_grid *g)
{
    g->nrow = g->ncol = 0;
    for (int l = 0; l < s->nl; l++)
        if (occ_total(s, v, l) > 0) g->lv[g->nrow++] = l;
    for (int k = 0; k < s->ns; k++) {
        int64_t t = 0;
        for (int i = 0; i < g->nrow; i++) t += occ_state_total(s, v, g->lv[i], k);
        if (t > 0) g->ks[g->ncol++] = k;
    }
}

/* Layout with room on the right for the one colour bar; fractions of the whole figure. */
static void occ_layout(FILE *f, const hs_study *s, const occ_grid *g, const char *name, int *wp, int *hp)
{
    double scale = 1, cw = 300, ch = 270;
    if (ch * g->nrow + 80 > HS_GP_MAX_PX) scale = (HS_GP_MAX_PX - 80) / (ch * g->nrow);
    if (cw * g->ncol + 190 > HS_GP_MAX_PX && (HS_GP_MAX_PX - 190) / (cw * g->ncol) < scale)
        scale = (HS_GP_MAX_PX - 190) / (cw * g->ncol);
    int w = (int)(cw * g->ncol * scale) + 190, h = (int)(ch * g->nrow * scale) + 80;
    *wp = w, *hp = h;
    hs_gp_preamble(f, name, w, h);
    /* One colour scale for every panel (a share is comparable across states and levels). */
    fprintf(f, "set palette defined (0 \"#ffffff\", 1 \"#08306b\")\nset cbrange [0:1]\n"
               "set xrange [-0.5:%g]\nset yrange [-0.5:%g]\nset size ratio -1\nset xtics 0,%d\nset ytics 0,%d\n"
               "unset colorbox\nset cblabel \"share of the head's steps\"\n",
            s->H - 0.5, s->L - 0.5, tic_step(s->H), tic_step(s->L));
    fprintf(f, "set multiplot layout %d,%d margins %.4f,%.4f,%.4f,%.4f spacing %.4f,%.4f\n", g->nrow, g->ncol,
            60.0 / w, 1 - 130.0 / w, 50.0 / h, 1 - 30.0 / h, 45.0 / w, 60.0 / h);
}

/* Panel (row i, column j): axis labels on the outer panels only, the colour bar with the
 * last one, and a panel without a step in its state says so instead of looking empty. */
static void occ_panel(FILE *f, const hs_study *s, const occ_grid *g, int v, int i, int j, const char *name,
                      int w, int h)
{
    int l = g->lv[i], k = g->ks[j], last = i == g->nrow - 1 && j == g->ncol - 1;
    char title[200];
    snprintf(title, sizeof title, "level %g%%: %s", s->level[l], s->state[k]);
    fputs("set title ", f);
    hs_gp_str(f, title);
    fprintf(f, "\nset xlabel \"%s\"\nset ylabel \"%s\"\n", i == g->nrow - 1 ? "head" : "",
            j == 0 ? "layer" : "");
    if (occ_state_total(s, v, l, k) == 0)
        fputs("set label 1 \"no step in this state\" at graph 0.5,0.5 center front\n", f);
    if (last) /* the one colour bar, beside the grid at its full height */
        fprintf(f, "set colorbox user origin screen %.4f,%.4f size screen %.4f,%.4f\n", 1 - 110.0 / w, 50.0 / h,
                18.0 / w, 1 - 80.0 / h);
    fprintf(f, "plot \"%s.dat\" index %d using 4:3:6 with image notitle\nunset label 1\n", name, i * g->ncol + j);
}

static hs_status occ_write(const hs_report *r, hs_figure *fig, int v, const occ_grid *g)
{
    const hs_study *s = r->st;
    hs_out dat, gp;
    hs_status st = hs_gp_open(r->opt.out, fig->name, &dat, &gp);
    if (st) return st;
    fputs("# level_pct state layer head steps fraction\n", dat.f);
    for (int i = 0; i < g->nrow; i++)
        for (int j = 0; j < g->ncol; j++) {
            if (i || j) fputs("\n\n", dat.f);
            occ_block(dat.f, s, v, g->lv[i], g->ks[j]);
        }
    int w, h;
    occ_layout(gp.f, s, g, fig->name, &w, &h);
    for (int i = 0; i < g->nrow; i++)
        for (int j = 0; j < g->ncol; j++) occ_panel(gp.f, s, g, v, i, j, fig->name, w, h);
    fputs("unset multiplot\n", gp.f);
    fig->has_data = 1;
    return hs_gp_close(&dat, &gp, fig->name);
}

/* States without a column, and panels whose state no head entered at that level. */
static hs_status occ_state_notes(const hs_study *s, hs_figure *fig, int v, const occ_grid *g)
{
    hs_status st = HS_OK;
    int k = 0;
    for (int j = 0, c = 0; !st && j < s->ns; j++) {
        if (c < g->ncol && g->ks[c] == j) {
            c++;
            continue;
        }
        st = k++ ? hs_fig_more(fig, ", %s", s->state[j])
                 : hs_fig_note(fig, "No head entered these states at any level drawn, no column: %s", s->state[j]);
    }
    if (!st && k) st = hs_fig_more(fig, ".");
    k = 0;
    for (int i = 0; !st && i < g->nrow; i++)
        for (int j = 0; !st && j < g->ncol; j++) {
            if (occ_state_total(s, v, g->lv[i], g->ks[j]) > 0) continue;
            st = k++ ? hs_fig_more(fig, ", %s at %g%%", s->state[g->ks[j]], s->level[g->lv[i]])
                     : hs_fig_note(fig, "No step in the state (panel marked so): %s at %g%%", s->state[g->ks[j]],
                                   s->level[g->lv[i]]);
        }
    return !st && k ? hs_fig_more(fig, ".") : st;
}

/* Levels left out (no count: cell not done) and levels summed over fewer prompts, so the
 * rows of the map can be read against the study's levels. */
static hs_status occ_notes(const hs_study *s, hs_figure *fig, int v)
{
    hs_status st = HS_OK;
    int k = 0;
    for (int l = 0; !st && l < s->nl; l++)
        if (occ_total(s, v, l) == 0)
            st = k++ ? hs_fig_more(fig, ", %g%%", s->level[l])
                     : hs_fig_note(fig, "Levels without occupancy counts (cell not done or no step counted), "
                                        "no panel: %g%%", s->level[l]);
    if (!st && k) st = hs_fig_more(fig, ".");
    k = 0;
    for (int l = 0; !st && l < s->nl; l++) {
        int done = hs_study_done_count(s, v, l);
        if (done == 0 || done == s->np || occ_total(s, v, l) == 0) continue;
        st = k++ ? hs_fig_more(fig, ", %g%% (%d of %d)", s->level[l], done, s->np)
                 : hs_fig_note(fig, "Counts over fewer prompts: %g%% (%d of %d)", s->level[l], done, s->np);
    }
    if (!st && k) st = hs_fig_more(fig, ".");
    return st;
}

hs_status hs_plot_occupancy(const hs_report *r, hs_figure *fig, int v)
{
    const hs_study *s = r->st;
    occ_grid g;
    g.lv = calloc((size_t)s->nl, sizeof *g.lv);
    g.ks = calloc((size_t)s->ns + 1, sizeof *g.ks);
    hs_status st = g.lv && g.ks ? HS_OK : hs_err(HS_ENOMEM, "out of memory for occupancy panels");
    if (!st) occ_make_grid(s, v, &g);
    if (!st && g.ncol == 0) st = hs_fig_note(fig, "(Not drawn: all occupancy counts are 0.)");
    else if (!st) st = occ_write(r, fig, v, &g);
    if (!st && g.ncol) st = occ_state_notes(s, fig, v, &g);
    if (!st && g.ncol) st = occ_notes(s, fig, v);
    free(g.lv), free(g.ks);
    return st;
}
