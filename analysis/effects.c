/* effects.c: individual and cumulative head effects of an each_head study (see effects.h):
 * the numbers, their CSV files, one heat map per variant and REPORT.md's section. */
#include "effects.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caption.h"
#include "gnuplot.h"
#include "outfile.h"

#define TOP_EFFECTS 10        /* rows of the largest-effects table per variant */
#define LABELLED_HEADS_MAX 200 /* heat maps print each cell's value up to this many heads */

/* ---- per-prompt values ---- */

/* ln(perplexity) of prompt p in cell (v, l) of s: its mean NLL per reference token; NaN when
 * the cell is not done there or the value is not a positive number. */
static double log_ppl(const hs_study *s, const hs_metric_data *m, int v, int l, int p)
{
    size_t i = hs_vlp(s, v, l, p);
    return m && s->done[i] && m->v[i] > 0 && isfinite(m->v[i]) ? log(m->v[i]) : NAN;
}

/* The reference tokens of prompt p (the same text in every cell), from v's reference. */
static double weight_of(const hs_effects *e, int v, int p)
{
    const hs_metric_data *w = hs_study_metric(e->st, "reference_tokens");
    double x = w ? w->v[hs_vlp(e->st, v, e->ref[v], p)] : NAN;
    return x > 0 && isfinite(x) ? x : NAN;
}

/* Level 0 of variant v with no head switched off (its map, where known, says so). */
static int find_ref(const hs_study *s, int v)
{
    size_t LH = (size_t)s->L * (size_t)s->H;
    for (int l = 0; l < s->nl; l++) {
        if (s->level[l] != 0) continue;
        int any = 0;
        for (size_t k = 0; s->heads_known[hs_vl(s, v, l)] && k < LH; k++) any |= s->pruned[hs_vl(s, v, l) * LH + k];
        if (!any) return l;
    }
    return -1;
}

/* ---- individual effects ---- */

/* Effect of the head of single-head level sl in variant v: x = w ln(a / b), bootstrapped
 * as sum x / sum w (buf: 2 np doubles). */
static hs_status head_effect(hs_effects *e, const hs_report *r, int v, int sl, double *buf)
{
    const hs_study *s = e->st, *one = e->single;
    const hs_metric_data *m = hs_study_metric(s, "reference_perplexity"),
                         *m1 = hs_study_metric(one, "reference_perplexity");
    int sv = hs_study_variant(one, s->variant[v]), head = one->level_head[sl], n = 0;
    double *x = buf, *w = buf + s->np;
    for (int p = 0; sv >= 0 && p < s->np; p++) {
        double a = log_ppl(one, m1, sv, sl, p), b = log_ppl(s, m, v, e->ref[v], p), wi = weight_of(e, v, p);
        if (isfinite(a) && isfinite(b) && isfinite(wi)) x[n] = wi * (a - b), w[n++] = wi;
    }
    char key[300];
    snprintf(key, sizeof key, "effect/%s/%d.%d", s->variant[v], head / e->H, head % e->H);
    hs_ci *c = &e->effect[(size_t)v * e->L * e->H + head];
    return hs_bootstrap_ratio(x, w, n, r->opt.bootstrap, r->opt.conf, hs_stream_seed(r->opt.seed, key), c);
}

/* ---- interactions ---- */

/* slot[h]: the single-head level of head h in e->single, -1 when the study has none. */
static void head_slots(const hs_effects *e, int *slot)
{
    for (int h = 0; h < e->L * e->H; h++) slot[h] = -1;
    for (int l = 0; l < e->single->nl; l++) slot[e->single->level_head[l]] = l;
}

/* Per prompt: the cumulative log-ratio of level l and the sum of the individual ones of its
 * heads (off: the level's heads, n_off of them); 0 when a value is missing. */
static int prompt_terms(const hs_effects *e, int v, int l, const int *off, int n_off, int p, double *cum,
                        double *sum)
{
    const hs_study *s = e->st, *one = e->single;
    const hs_metric_data *m = hs_study_metric(s, "reference_perplexity"),
                         *m1 = hs_study_metric(one, "reference_perplexity");
    int sv = hs_study_variant(one, s->variant[v]);
    double b = log_ppl(s, m, v, e->ref[v], p), c = log_ppl(s, m, v, l, p);
    if (sv < 0 || !isfinite(b) || !isfinite(c)) return 0;
    *cum = c - b, *sum = 0;
    for (int k = 0; k < n_off; k++) {
        double a = log_ppl(one, m1, sv, off[k], p);
        if (!isfinite(a)) return 0;
        *sum += a - b;
    }
    return 1;
}

/* The interaction of (v, l): off receives the single-head levels of its heads (LH room). */
static hs_status interaction(hs_effects *e, const hs_report *r, hs_head_interaction *it, const int *slot, int *off,
                             double *buf)
{
    const hs_study *s = e->st;
    size_t LH = (size_t)e->L * e->H;
    const uint8_t *map = s->pruned + hs_vl(s, it->v, it->l) * LH;
    int n_off = 0, n = 0;
    for (size_t h = 0; h < LH; h++)
        if (map[h]) {
            it->n_off++;
            if (slot[h] < 0) it->n_missing++;
            else off[n_off++] = slot[h];
        }
    double *z = buf, *w = buf + s->np, cum = 0, sum = 0, wsum = 0;
    for (int p = 0; !it->n_missing && p < s->np; p++) {
        double ci, si, wi = weight_of(e, it->v, p);
        if (!isfinite(wi) || !prompt_terms(e, it->v, it->l, off, n_off, p, &ci, &si)) continue;
        z[n] = wi * (ci - si), w[n++] = wi;
        cum += wi * ci, sum += wi * si, wsum += wi;
    }
    it->cum = n ? cum / wsum : NAN;
    it->sum = n ? sum / wsum : NAN;
    char key[300];
    snprintf(key, sizeof key, "interaction/%s/%g", s->variant[it->v], s->level[it->l]);
    return hs_bootstrap_ratio(z, w, n, r->opt.bootstrap, r->opt.conf, hs_stream_seed(r->opt.seed, key), &it->ci);
}

/* Every (variant, level) with a known map that switches heads off, and a reference. */
static hs_status interactions(hs_effects *e, const hs_report *r, double *buf)
{
    const hs_study *s = e->st;
    size_t LH = (size_t)e->L * e->H;
    int *slot = hs_malloc(2 * LH * sizeof *slot, "head slots");
    e->inter = hs_calloc((size_t)s->nv * (size_t)s->nl + 1, sizeof *e->inter, "interactions");
    hs_status st = slot && e->inter ? HS_OK : HS_ENOMEM;
    if (!st) head_slots(e, slot);
    for (int v = 0; !st && v < s->nv; v++)
        for (int l = 0; !st && l < s->nl; l++) {
            int any = 0;
            for (size_t k = 0; s->heads_known[hs_vl(s, v, l)] && k < LH; k++) any |= s->pruned[hs_vl(s, v, l) * LH + k];
            if (e->ref[v] < 0 || !any) continue;
            hs_head_interaction *it = &e->inter[e->n_inter++];
            it->v = v, it->l = l;
            st = interaction(e, r, it, slot, slot + LH, buf);
        }
    free(slot);
    return st;
}

hs_status hs_effects_compute(hs_effects *e, const hs_report *r, const hs_study *single)
{
    const hs_study *s = r->st;
    memset(e, 0, sizeof *e);
    *e = (hs_effects){.st = s, .single = single, .L = s->L, .H = s->H, .nv = s->nv};
    size_t LH = (size_t)s->L * s->H;
    e->ref = hs_malloc((size_t)s->nv * sizeof *e->ref, "references");
    e->effect = hs_calloc((size_t)s->nv * LH, sizeof *e->effect, "head effects");
    double *buf = hs_malloc(2 * (size_t)s->np * sizeof *buf, "paired values");
    hs_status st = e->ref && e->effect && buf ? HS_OK : HS_ENOMEM;
    for (size_t i = 0; !st && i < (size_t)s->nv * LH; i++) e->effect[i] = (hs_ci){0, NAN, NAN, NAN, NAN};
    for (int v = 0; !st && v < s->nv; v++) {
        e->ref[v] = find_ref(s, v);
        for (int sl = 0; !st && e->ref[v] >= 0 && sl < single->nl; sl++) st = head_effect(e, r, v, sl, buf);
    }
    if (!st) st = interactions(e, r, buf);
    free(buf);
    return st;
}

void hs_effects_free(hs_effects *e)
{
    if (!e) return;
    free(e->ref);
    free(e->effect);
    free(e->inter);
    memset(e, 0, sizeof *e);
}

/* ---- CSV ---- */

static const hs_ci *effect_at(const hs_effects *e, int v, int head)
{
    return &e->effect[(size_t)v * e->L * e->H + head];
}

/* 100 (exp(x) - 1): a per-token NLL difference as the change of the corpus perplexity. */
static double pct(double x) { return 100.0 * expm1(x); }

static void effects_csv(FILE *f, const hs_effects *e)
{
    fputs("variant,layer,head,prompts,delta_nll,ci_low,ci_high,ppl_change_pct,pct_low,pct_high,seed_key\n", f);
    for (int v = 0; v < e->nv; v++)
        for (int k = 0; k < e->L * e->H; k++) {
            const hs_ci *c = effect_at(e, v, k);
            if (c->n == 0) continue;
            hs_out_csv_cell(f, e->st->variant[v]);
            fprintf(f, ",%d,%d,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,", k / e->H, k % e->H, c->n, c->mean, c->lo, c->hi,
                    pct(c->mean), pct(c->lo), pct(c->hi));
            char key[300];
            snprintf(key, sizeof key, "effect/%s/%d.%d", e->st->variant[v], k / e->H, k % e->H);
            hs_out_csv_cell(f, key);
            fputc('\n', f);
        }
}

static void interactions_csv(FILE *f, const hs_effects *e)
{
    fputs("variant,level_pct,heads_off,heads_without_effect,prompts,cumulative_nll,sum_individual_nll,"
          "interaction_nll,ci_low,ci_high,seed_key\n", f);
    for (int i = 0; i < e->n_inter; i++) {
        const hs_head_interaction *it = &e->inter[i];
        hs_out_csv_cell(f, e->st->variant[it->v]);
        fprintf(f, ",%.9g,%d,%d,%d,%.9g,%.9g,%.9g,%.9g,%.9g,", e->st->level[it->l], it->n_off, it->n_missing,
                it->ci.n, it->cum, it->sum, it->ci.mean, it->ci.lo, it->ci.hi);
        char key[300];
        snprintf(key, sizeof key, "interaction/%s/%g", e->st->variant[it->v], e->st->level[it->l]);
        hs_out_csv_cell(f, key);
        fputc('\n', f);
    }
}

hs_status hs_effects_write_csv(const hs_effects *e, const hs_report *r)
{
    hs_out o;
    hs_status st = hs_out_open(&o, r->opt.out, "head_effects.csv");
    if (st) return st;
    effects_csv(o.f, e);
    st = hs_out_close(&o);
    if (!st) st = hs_out_open(&o, r->opt.out, "head_interactions.csv");
    if (st) return st;
    interactions_csv(o.f, e);
    return hs_out_close(&o);
}

/* ---- heat maps ---- */

static int variant_measured(const hs_effects *e, int v)
{
    for (int k = 0; k < e->L * e->H; k++)
        if (effect_at(e, v, k)->n > 0) return 1;
    return 0;
}

/* The largest |effect| (%) of any measured head of any variant: one colour scale for every
 * map, so that the same colour is the same effect in the maps set side by side. */
static double heatmap_top(const hs_effects *e)
{
    double top = 0;
    for (int v = 0; v < e->nv; v++)
        for (int k = 0; k < e->L * e->H; k++) {
            const hs_ci *c = effect_at(e, v, k);
            if (c->n > 0 && fabs(pct(c->mean)) > top) top = fabs(pct(c->mean));
        }
    return top > 0 ? top : 1;
}

/* A cell's label: the effect to 0.1% ("0.0", never "-0.0"), and "*" when its 95% interval
 * excludes 0. */
static void heatmap_label(const hs_ci *c, char *out, size_t cap)
{
    double p = pct(c->mean);
    if (fabs(p) < 0.05) p = 0;
    int sure = c->n >= 2 && isfinite(c->lo) && isfinite(c->hi) && (c->lo > 0 || c->hi < 0);
    snprintf(out, cap, "%.1f%s", p, sure ? "*" : "");
}

/* The data (layer x head, NaN where not measured) and the script: a diverging palette
 * centred on 0 (red: the perplexity rises without the head), top % at either end. */
static void heatmap_files(FILE *dat, FILE *gp, const hs_effects *e, int v, const char *name, double top)
{
    fputs("# layer head ppl_change_pct delta_nll ci_low ci_high prompts label\n", dat);
    for (int k = 0; k < e->L * e->H; k++) {
        const hs_ci *c = effect_at(e, v, k);
        char label[32];
        heatmap_label(c, label, sizeof label);
        fprintf(dat, "%d %d %.9g %.9g %.9g %.9g %d %s\n", k / e->H, k % e->H, c->n ? pct(c->mean) : NAN, c->mean,
                c->lo, c->hi, c->n, c->n ? label : "-");
    }
    hs_gp_preamble(gp, name, 140 + 60 * e->H, 120 + 50 * e->L);
    fprintf(gp, "set palette defined (-1 \"#2166ac\", 0 \"#f7f7f7\", 1 \"#b2182b\")\nset cbrange [%g:%g]\n"
                "set cblabel \"corpus perplexity change (%%)\"\nset xrange [-0.5:%g]\nset yrange [-0.5:%g]\n"
                "set xlabel \"head\"\nset ylabel \"layer\"\nset xtics 1\nset ytics 1\nset title ",
            -top, top, e->H - 0.5, e->L - 0.5);
    char title[200];
    snprintf(title, sizeof title, "%s: each head switched off alone, against level 0", e->st->variant[v]);
    hs_gp_str(gp, title);
    fprintf(gp, "\nplot \"%s.dat\" using 2:1:3 with image notitle", name);
    if (e->L * e->H <= LABELLED_HEADS_MAX)
        fprintf(gp, ", \\\n  \"%s.dat\" using 2:1:8 with labels font \",8\" notitle", name);
    fputc('\n', gp);
}

static hs_status heatmap(const hs_effects *e, const hs_report *r, hs_figures *figs, int v, double top)
{
    char name[160], safe[128];
    hs_out_safe_name(e->st->variant[v], safe, sizeof safe);
    snprintf(name, sizeof name, "head_effects_%s", safe);
    hs_figure *fig = hs_fig_add(figs, name, "Each head of variant %s switched off alone: the change of the corpus "
                                "perplexity of the references (%%, i.e. 100 (exp(D) - 1) for the per-token NLL "
                                "difference D) against the variant at level 0, paired per prompt; * marks a head "
                                "whose 95%% interval excludes 0 (not corrected for the number of heads); the "
                                "intervals are in head_effects.csv and the section \"Each head alone\". Every "
                                "head map of the report has the same colour scale.", e->st->variant[v]);
    if (!fig) return HS_ENOMEM;
    hs_out dat, gp;
    hs_status st = hs_gp_open(r->opt.out, name, &dat, &gp);
    if (st) return st;
    heatmap_files(dat.f, gp.f, e, v, name, top);
    fig->has_data = 1;
    st = hs_gp_close(&dat, &gp, name);
    if (!st && figs->attempted) {
        st = hs_gnuplot_run(figs->gnuplot_path, r->opt.out, name, &fig->pdf);
        fig->rendered = !st;
    }
    return st;
}

hs_status hs_effects_figures(const hs_effects *e, const hs_report *r, hs_figures *figs)
{
    hs_status st = HS_OK;
    double top = heatmap_top(e);
    for (int v = 0; !st && v < e->nv; v++)
        if (variant_measured(e, v)) st = heatmap(e, r, figs, v, top);
    return st;
}

/* ---- REPORT.md ---- */

static void md_ci(FILE *f, const hs_ci *c, int as_pct)
{
    char a[32], b[32], m[32];
    double x = as_pct ? pct(c->mean) : c->mean, lo = as_pct ? pct(c->lo) : c->lo, hi = as_pct ? pct(c->hi) : c->hi;
    if (c->n < 2) fprintf(f, " %s (n=%d) |", hs_fmt(m, sizeof m, x), c->n);
    else fprintf(f, " %s [%s, %s] |", hs_fmt(m, sizeof m, x), hs_fmt(a, sizeof a, lo), hs_fmt(b, sizeof b, hi));
}

/* Heads of v sorted by |effect|, largest first (insertion sort: L*H is small). */
static int largest(const hs_effects *e, int v, int *order)
{
    int n = 0;
    for (int k = 0; k < e->L * e->H; k++) {
        if (effect_at(e, v, k)->n == 0) continue;
        int i = n++;
        for (; i > 0 && fabs(effect_at(e, v, order[i - 1])->mean) < fabs(effect_at(e, v, k)->mean); i--)
            order[i] = order[i - 1];
        order[i] = k;
    }
    return n;
}

static void md_largest(FILE *f, const hs_effects *e, int v, int *order)
{
    int n = largest(e, v, order);
    double total = 0;
    for (int i = 0; i < n; i++) total += effect_at(e, v, order[i])->mean;
    fprintf(f, "Largest individual effects (%d of %d heads measured; sum of all: %.6f nats per token):\n\n"
               "| head (layer.head) | per-token NLL difference (nats) [95%% CI] | corpus perplexity change (%%) "
               "[95%% CI] | prompts |\n|---|---:|---:|---:|\n", n, e->L * e->H, total);
    for (int i = 0; i < n && i < TOP_EFFECTS; i++) {
        const hs_ci *c = effect_at(e, v, order[i]);
        fprintf(f, "| %d.%d |", order[i] / e->H, order[i] % e->H);
        md_ci(f, c, 0);
        md_ci(f, c, 1);
        fprintf(f, " %d |\n", c->n);
    }
    fputc('\n', f);
}

static void md_interactions(FILE *f, const hs_effects *e, int v)
{
    int any = 0;
    for (int i = 0; i < e->n_inter; i++) {
        const hs_head_interaction *it = &e->inter[i];
        if (it->v != v) continue;
        if (!any++)
            fputs("Cumulative effect of each level against the sum of the individual effects of its heads "
                  "(nats per token, on the prompts done in every cell involved):\n\n| level % | heads off | "
                  "cumulative | sum of individual | interaction [95% CI] | prompts |\n"
                  "|---:|---:|---:|---:|---:|---:|\n",
                  f);
        char a[32], b[32];
        fprintf(f, "| %g | %d |", e->st->level[it->l], it->n_off);
        if (it->n_missing) {
            fprintf(f, " - | - | - (%d of its heads have no single-head cell) | 0 |\n", it->n_missing);
            continue;
        }
        fprintf(f, " %s | %s |", hs_fmt(a, sizeof a, it->cum), hs_fmt(b, sizeof b, it->sum));
        md_ci(f, &it->ci, 0);
        fprintf(f, " %d |\n", it->ci.n);
    }
    fputs(any ? "\n" : "No level of the strategies switches heads off in this variant: no interaction to show.\n\n", f);
}

void hs_effects_md(FILE *f, const hs_effects *e)
{
    fprintf(f, "## Each head alone\n\nThis study switched off every head alone (`each_head = on`: %d single-head "
               "cells per variant and prompt shard). A head's individual effect is the per-token NLL difference of "
               "the reference texts with that head alone off against the same variant at level 0, sum w ln(a / b) "
               "/ sum w over the prompts done in both (w: reference tokens), the corpus perplexity comparison of the "
               "tables; 100 (exp(D) - 1) is the change of the corpus perplexity. The interaction at a level is its "
               "cumulative effect minus the sum of the individual effects of the heads it switches off: 0 when the "
               "effects add up, above 0 when they compound, below 0 when they overlap. Intervals: 95%% percentile "
               "bootstrap over prompts, paired (every value of a prompt resampled together). All values: "
               "head_effects.csv, head_interactions.csv (with each interval's seed key).\n\n",
            e->L * e->H);
    int *order = hs_malloc((size_t)e->L * e->H * sizeof *order, "head order");
    for (int v = 0; order && v < e->nv; v++) {
        fprintf(f, "### ");
        hs_out_md_cell(f, e->st->variant[v]);
        fputs("\n\n", f);
        if (e->ref[v] < 0) {
            fputs("No level 0 without pruned heads: no effect measured.\n\n", f);
            continue;
        }
        md_largest(f, e, v, order);
        md_interactions(f, e, v);
    }
    if (!order) fputs("(Out of memory listing the effects.)\n\n", f);
    free(order);
}
