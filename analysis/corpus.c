/* corpus.c: the head-pruning literature's figure (Michel et al. 2019, fig. 3; Voita et al.
 * 2019): quality against the share of heads pruned, one line per variant (a strategy).
 *
 * Quality is the corpus perplexity of the reference texts of the table
 * corpus_reference_perplexity (analyze.c: exp(sum n ln ppl / sum n) over the cell's done
 * prompts, n = reference tokens, with its bootstrap interval), pooled rather than a mean
 * of per-prompt perplexities, as a language-modelling evaluation reports it. The x axis
 * is the share of heads the cell really switched off (from /heads/pruned), which
 * per-layer selection can make differ from the nominal level. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caption.h"
#include "gnuplot.h"
#include "plots.h"

typedef struct {
    double x;  /* % of heads off */
    hs_ci ci;  /* corpus perplexity; ci.n = prompts */
} corpus_pt;

static double share_off(const hs_study *s, int v, int l)
{
    size_t LH = (size_t)s->L * s->H, off = 0;
    if (!s->heads_known[hs_vl(s, v, l)]) return s->level[l];
    for (size_t k = 0; k < LH; k++) off += s->pruned[hs_vl(s, v, l) * LH + k];
    return 100.0 * (double)off / (double)LH;
}

/* pt (nv, nl): every cell's point from the corpus table; ci.n = 0 where it has no prompt. */
static void corpus_points(const hs_report *r, const hs_table *t, corpus_pt *pt)
{
    const hs_study *s = r->st;
    for (int v = 0; v < s->nv; v++)
        for (int l = 0; l < s->nl; l++) {
            corpus_pt *p = &pt[hs_vl(s, v, l)];
            p->x = share_off(s, v, l);
            p->ci = t->cell[hs_vl(s, v, l)];
        }
}

static void corpus_dat(FILE *f, const hs_study *s, const corpus_pt *pt, const int *series)
{
    fputs("# variant strategy heads_off_pct corpus_perplexity ci_low ci_high prompts\n", f);
    int block = 0;
    for (int v = 0; v < s->nv; v++) {
        if (!series[v]) continue;
        char name[128], strat[64];
        hs_out_safe_name(s->variant[v], name, sizeof name);
        hs_out_safe_name(s->strategy[v][0] ? s->strategy[v] : "-", strat, sizeof strat);
        if (block++) fputs("\n\n", f);
        for (int l = 0; l < s->nl; l++) {
            const corpus_pt *p = &pt[hs_vl(s, v, l)];
            if (p->ci.n == 0) continue;
            double lo = p->ci.n >= 2 ? p->ci.lo : p->ci.mean, hi = p->ci.n >= 2 ? p->ci.hi : p->ci.mean;
            fprintf(f, "%s %s %.9g %.9g %.9g %.9g %d\n", name, strat, p->x, p->ci.mean, lo, hi, p->ci.n);
        }
    }
}

static void corpus_gp(FILE *f, const hs_study *s, const char *name, const int *series, int nseries)
{
    hs_gp_preamble(f, name, 900, 560);
    fputs("set xlabel \"heads switched off (% of all heads)\"\n"
          "set ylabel \"corpus perplexity of the references (lower is better)\"\n"
          "set grid\nset key outside right top\nset xrange [-4:104]\nplot \\\n", f);
    int i = 0;
    for (int v = 0; v < s->nv; v++) {
        if (!series[v]) continue;
        double dx = (i - (nseries - 1) / 2.0) * 0.6;
        fprintf(f, "  \"%s.dat\" index %d using ($3%+g):4:5:6 with yerrorlines ", name, i, dx);
        hs_gp_series(f, v, 0);
        fputs(" title ", f);
        char title[200];
        /* "variant: strategy", since a strategy may carry its own parentheses: "ablation (mean ablation)". */
        if (s->strategy[v][0] && strcmp(s->strategy[v], s->variant[v]))
            snprintf(title, sizeof title, "%s: %s", s->variant[v], s->strategy[v]);
        else snprintf(title, sizeof title, "%s", s->variant[v]);
        hs_gp_str(f, title);
        fputs(++i < nseries ? ", \\\n" : "\n", f);
    }
}

/* The numbers of the figure as a Markdown table in its caption (levels x variants). */
static hs_status corpus_table(hs_figure *fig, const hs_study *s, const corpus_pt *pt, const int *series)
{
    hs_status st = hs_fig_more(fig, "\n\n| level %% |");
    for (int v = 0; !st && v < s->nv; v++)
        if (series[v]) st = hs_fig_more(fig, " %s |", s->variant[v]);
    if (!st) st = hs_fig_more(fig, "\n|---:|");
    for (int v = 0; !st && v < s->nv; v++)
        if (series[v]) st = hs_fig_more(fig, "---:|");
    for (int l = 0; !st && l < s->nl; l++) {
        st = hs_fig_more(fig, "\n| %g |", s->level[l]);
        for (int v = 0; !st && v < s->nv; v++) {
            if (!series[v]) continue;
            const corpus_pt *p = &pt[hs_vl(s, v, l)];
            if (p->ci.n == 0) st = hs_fig_more(fig, " - |");
            else if (p->ci.n < 2) st = hs_fig_more(fig, " %.2f (n=1) |", p->ci.mean);
            else st = hs_fig_more(fig, " %.2f [%.2f, %.2f] |", p->ci.mean, p->ci.lo, p->ci.hi);
        }
    }
    return st;
}

hs_status hs_plot_corpus_perplexity(const hs_report *r, hs_figure *fig)
{
    const hs_study *s = r->st;
    const hs_table *t = hs_report_table(r, "corpus_reference_perplexity");
    if (!t) return hs_fig_note(fig, "(Not drawn: no corpus perplexity table.)");
    corpus_pt *pt = hs_calloc((size_t)s->nv * s->nl, sizeof *pt, "corpus points");
    int *series = hs_calloc((size_t)s->nv, sizeof *series, "series");
    hs_status st = pt && series ? HS_OK : HS_ENOMEM;
    if (!st) corpus_points(r, t, pt);
    int nseries = 0;
    for (int v = 0; !st && v < s->nv; v++) {
        for (int l = 0; l < s->nl; l++) series[v] |= pt[hs_vl(s, v, l)].ci.n > 0;
        nseries += series[v];
    }
    if (!st && nseries == 0) st = hs_fig_note(fig, "(Not drawn: no variant has data.)");
    else if (!st) {
        hs_out dat, gp;
        st = hs_gp_open(r->opt.out, fig->name, &dat, &gp);
        if (!st) {
            corpus_dat(dat.f, s, pt, series);
            corpus_gp(gp.f, s, fig->name, series, nseries);
            fig->has_data = 1;
            st = hs_gp_close(&dat, &gp, fig->name);
        }
        if (!st) st = corpus_table(fig, s, pt, series);
    }
    free(pt);
    free(series);
    return st;
}
