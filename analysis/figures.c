/* figures.c: the list of figures, shared gnuplot helpers, and rendering (see figures.h). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "figures_impl.h"

const char *hs_gp_color(int i)
{
    static const char *const colors[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a",
                                         "#66a61e", "#e6ab02", "#a6761d", "#666666"};
    return colors[(unsigned)i % 8];
}

/* A single-quoted gnuplot string: gnuplot expands backquotes (command substitution) and
 * backslash escapes inside double quotes but nothing inside single quotes, where the only
 * special character is the quote itself, written twice. Control characters (a newline
 * would end the command) become spaces. */
void hs_gp_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\'') fputc('\'', f);
        fputc(c < 0x20 || c == 0x7f ? ' ' : c, f);
    }
    fputc('\'', f);
}

#define HS_MAX_TICS 8

/* Tics every step (1, 2 or 5 x 10^k, about 5 of them) in [lo, hi]: for ranges under a
 * factor 2, where a log axis looks linear anyway. */
static int linear_tics(double lo, double hi, double *t)
{
    double raw = (hi - lo) / 5, p = pow(10, floor(log10(raw))), step = p;
    if (raw > 5 * p) step = 10 * p;
    else if (raw > 2 * p) step = 5 * p;
    else if (raw > p) step = 2 * p;
    int n = 0;
    for (double v = ceil(lo / step) * step; v <= hi * (1 + 1e-12) && n < HS_MAX_TICS + 4; v += step) t[n++] = v;
    return n;
}

/* Values m x 10^e in [lo, hi] for the mantissas m (0-terminated); returns how many
 * (possibly more than fit: only the first cap are stored). */
static int mantissa_tics(double lo, double hi, const double *m, double *t, int cap)
{
    int n = 0;
    for (int e = (int)floor(log10(lo)); e <= (int)ceil(log10(hi)); e++)
        for (int j = 0; m[j] > 0; j++) {
            double v = m[j] * pow(10, e);
            if (v < lo || v > hi) continue;
            if (n < cap) t[n] = v;
            n++;
        }
    return n;
}

/* The densest of these sets that gives at most HS_MAX_TICS tics; 0 when even decades are
 * too many (gnuplot's own decade tics are then right). */
static int log_tics(double lo, double hi, double *t, int cap)
{
    static const double sets[][12] = {{1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9, 0}, {1, 2, 3, 4, 5, 6, 8, 0},
                                      {1, 2, 3, 5, 7, 0}, {1, 2, 5, 0}, {1, 3, 0}, {1, 0}};
    if (hi < 2 * lo) return linear_tics(lo, hi, t);
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        int n = mantissa_tics(lo, hi, sets[k], t, cap);
        if (n <= HS_MAX_TICS) return n;
    }
    return 0;
}

void hs_gp_log_axis(FILE *f, char axis, double lo, double hi, int reverse)
{
    double pad = hi > lo ? pow(hi / lo, 0.05) : 1.1, t[HS_MAX_TICS + 4];
    if (pad < 1.02) pad = 1.02;
    double a = lo / pad, b = hi * pad;
    fprintf(f, "set logscale %c\nset %crange [%.6g:%.6g]\n", axis, axis, reverse ? b : a, reverse ? a : b);
    int n = log_tics(a, b, t, HS_MAX_TICS + 4);
    if (n < 2) return;
    fprintf(f, "set %ctics (", axis);
    for (int i = 0; i < n; i++) fprintf(f, "%s%.6g", i ? ", " : "", t[i]);
    fprintf(f, ")\nset m%ctics 1\n", axis);
}

void hs_gp_preamble(FILE *f, const char *name, int width, int height)
{
    fprintf(f, "# %s.gp: written by headsweep-report; run `gnuplot %s.gp` in this directory.\n"
               "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
               "    set terminal pngcairo size %d,%d noenhanced font \",10\"\n"
               "} else {\n"
               "    set terminal png size %d,%d noenhanced\n"
               "}\n"
               "set output \"%s.png\"\n",
            name, name, width, height, width, height, name);
}

hs_status hs_fig_open(const hs_report *r, const char *name, hs_out *dat, hs_out *gp)
{
    char file[300];
    gp->f = NULL, gp->path = NULL;
    snprintf(file, sizeof file, "%s.dat", name);
    hs_status st = hs_out_open(dat, r->opt.out, file);
    if (st) return st;
    snprintf(file, sizeof file, "%s.gp", name);
    st = hs_out_open(gp, r->opt.out, file);
    if (st) hs_out_close(dat);
    return st;
}

hs_status hs_fig_close(hs_out *dat, hs_out *gp)
{
    hs_status a = hs_out_close(dat), b = hs_out_close(gp);
    return a ? a : b;
}

/* Appends sep and the formatted text to the caption, reallocating it to fit. */
static hs_status caption_vappend(hs_figure *fig, const char *sep, const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) return hs_err(HS_EINTERNAL, "figure %s: caption format failed", fig->name);
    size_t old = fig->caption ? strlen(fig->caption) : 0, k = old ? strlen(sep) : 0;
    char *c = realloc(fig->caption, old + k + (size_t)n + 1);
    if (!c) return hs_err(HS_ENOMEM, "out of memory for the caption of %s", fig->name);
    memcpy(c + old, sep, k);
    vsnprintf(c + old + k, (size_t)n + 1, fmt, ap);
    fig->caption = c;
    return HS_OK;
}

hs_status hs_fig_note(hs_figure *fig, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hs_status st = caption_vappend(fig, " ", fmt, ap);
    va_end(ap);
    return st;
}

hs_status hs_fig_more(hs_figure *fig, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hs_status st = caption_vappend(fig, "", fmt, ap);
    va_end(ap);
    return st;
}

hs_figure *hs_fig_add(hs_figures *out, const char *name, const char *fmt, ...)
{
    hs_figure *grown = realloc(out->fig, (size_t)(out->n + 1) * sizeof *grown);
    if (!grown) {
        hs_err(HS_ENOMEM, "out of memory listing figures");
        return NULL;
    }
    out->fig = grown;
    hs_figure *f = &grown[out->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    va_list ap;
    va_start(ap, fmt);
    hs_status st = caption_vappend(f, "", fmt, ap);
    va_end(ap);
    return st ? NULL : f;
}

static hs_status plot_speed(const hs_report *r, hs_figure *f)
{
    return hs_plot_level_lines(r, f, "decode_tokens_per_second", "decode tokens/s", 0);
}

static hs_status plot_perplexity(const hs_report *r, hs_figure *f)
{
    return hs_plot_level_lines(r, f, "reference_perplexity", "reference perplexity (lower is better)", 1);
}

/* The figures every report has, in the order REPORT.md shows them. */
static const struct {
    const char *name, *caption;
    hs_status (*plot)(const hs_report *, hs_figure *);
} fixed_figures[] = {
    {"speed_comparison", "Decode speed (tokens/s) against pruning level, mean with 95% CI, one line "
     "per variant. The bars include the spread between prompts; whether two variants differ is "
     "answered by the paired comparisons above, which remove it.", plot_speed},
    {"perplexity_comparison", "Reference perplexity (log scale) against pruning level, mean with 95% CI. "
     "Overlapping bars do not mean no difference: see the paired comparisons.", plot_perplexity},
    {"corpus_perplexity", "The head-pruning literature's figure: corpus perplexity of the reference texts "
     "(exp(sum NLL / sum tokens) over the cell's prompts) against the share of heads switched off, one line "
     "per variant and its strategy, with the 95% interval of the corpus perplexity table.",
     hs_plot_corpus_perplexity},
    {"pruning_summary", "Speed against quality per variant and level (labels: level %; where points of "
     "the same level coincide one label stands for them); rings, joined by a dashed line when there are "
     "several: each variant's Pareto frontier.", hs_plot_pruning_summary},
    {"radar_comparison", "At the highest level: speed, 1/perplexity, distinct-2 and 1/generation time, "
     "each divided by the best variant's.", hs_plot_radar},
    {"heads_pruned", "Heads switched off at each level (layer x head, dark = off), from /heads/pruned.",
     hs_plot_heads_pruned},
};

/* Data and scripts of every figure: the fixed ones, then one occupancy map per agency variant. */
static hs_status write_all(const hs_report *r, hs_figures *out)
{
    hs_status st = HS_OK;
    hs_figure *f;
    for (size_t i = 0; !st && i < sizeof fixed_figures / sizeof fixed_figures[0]; i++)
        st = (f = hs_fig_add(out, fixed_figures[i].name, "%s", fixed_figures[i].caption))
                 ? fixed_figures[i].plot(r, f) : HS_ENOMEM;
    for (int v = 0; !st && v < r->st->nv; v++) {
        if (!r->st->agency[v]) continue;
        char name[160], safe[128];
        hs_out_safe_name(r->st->variant[v], safe, sizeof safe);
        snprintf(name, sizeof name, "agency_occupancy_%s", safe);
        st = (f = hs_fig_add(out, name, "Agency state occupancy of variant %s: share of steps each head "
                             "spent in each state (rows: levels), from /agency/occupancy.", r->st->variant[v]))
                 ? hs_plot_occupancy(r, f, v) : HS_ENOMEM;
    }
    return st;
}

static hs_status render_all(const hs_report *r, hs_figures *out)
{
    for (int i = 0; i < out->n; i++) {
        if (!out->fig[i].has_data) continue;
        hs_status st = hs_gnuplot_run(out->gnuplot_path, r->opt.out, out->fig[i].name);
        if (st) return st;
        out->fig[i].rendered = 1;
    }
    return HS_OK;
}

hs_status hs_figures_write(const hs_report *r, hs_figures *out)
{
    memset(out, 0, sizeof *out);
    hs_status st = write_all(r, out);
    if (st) return st;
    out->gnuplot_found = hs_gnuplot_find(out->gnuplot_path, sizeof out->gnuplot_path);
    if (!r->opt.figures) return HS_OK;
    if (!out->gnuplot_found) {
        fprintf(stderr, "headsweep-report: note: gnuplot is not on PATH; tables, plot data and "
                        "gnuplot scripts are written, PNG figures are not (run `gnuplot NAME.gp` "
                        "in %s later)\n", r->opt.out);
        return HS_OK;
    }
    out->attempted = 1;
    return render_all(r, out);
}

void hs_figures_free(hs_figures *f)
{
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->fig[i].caption);
    free(f->fig);
    f->fig = NULL;
    f->n = 0;
}
