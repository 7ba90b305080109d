/* report_md.c: REPORT.md (see report_md.h).
 *
 * The summary restates each claim of the seed document (seed/agency_pruning_comparison.md)
 * next to what this study measured, at the seed's levels when the study has them (50%
 * for speed and perplexity, 70% for the radar claims) and at the nearest level otherwise.
 * Every number is a paired per-prompt comparison from analyze.c; the wording follows the
 * verdict rule of docs/report.md (the interval excludes 0 or it does not). */
#include "report_md.h"
#include "report_timing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "h5read.h"
#include "headsweep/results.h"
#include "headsweep/version.h"
#include "outfile.h"
#include "tables.h"

/* Index of the level nearest to want (ties: the lower one). */
static int nearest_level(const hs_study *s, double want)
{
    int best = 0;
    for (int l = 1; l < s->nl; l++)
        if (fabs(s->level[l] - want) < fabs(s->level[best] - want)) best = l;
    return best;
}

/* The comparison behind the seed document's claims: subject vs reference (listed, as
 * unavailable, when the file lacks the reference), or -1 when there is no subject. */
static int claim_pair(const hs_report *r)
{
    for (int p = 0; r->subject >= 0 && p < r->n_variant_pairs; p++)
        if (r->pair[p].a == r->subject && !strcmp(r->pair[p].b_name, r->opt.reference)) return p;
    return -1;
}

static int own_pair(const hs_report *r, int v)
{
    for (int p = r->n_variant_pairs; v >= 0 && p < r->npair; p++)
        if (r->pair[p].a == v) return p;
    return -1;
}

/* "At 50%" or "At 40% (the study has no 50% level; nearest)". */
static int level_intro(FILE *f, const hs_study *s, double want)
{
    int l = nearest_level(s, want);
    if (s->level[l] == want) fprintf(f, "At %g%%", want);
    else fprintf(f, "At %g%% (the study has no %g%% level; this is the nearest)", s->level[l], want);
    return l;
}

static void claim_line(FILE *f, const hs_report *r, int p, const char *metric, int l)
{
    int m = hs_report_cm(r, metric);
    if (p < 0) {
        fprintf(f, "%s: unavailable (the file has no agency variant: none is named `agency` or runs the agency "
                   "state machine)", r->cm[m].label);
        return;
    }
    fprintf(f, "%s, %s: ", r->pair[p].title, r->cm[m].label);
    hs_md_cmp_phrase(f, r, p, m, l);
}

/* The claim's difference split, in the claim's own bullet, into what not computing pruned
 * heads buys (`baseline-skip` vs the reference) and what agency states add on top (the
 * subject vs `baseline-skip`), so no bullet credits agency with what skipping does. */
static void claim_split(FILE *f, const hs_report *r, const char *metric, int l, const char *sep)
{
    int sb = hs_report_pair(r, r->ablation, r->ref), as = hs_report_pair(r, r->subject, r->ablation);
    if (sb < 0 || as < 0) {
        fprintf(f, "%sAttribution: not available (it needs the reference, `baseline-skip` and an agency variant)",
                sep);
        return;
    }
    fprintf(f, "%sAttribution: skipping pruned heads, ", sep);
    claim_line(f, r, sb, metric, l);
    fputs("; agency states on top, ", f);
    claim_line(f, r, as, metric, l);
}

static void claim_speed_ppl(FILE *f, const hs_report *r, int ab)
{
    fputs("- Seed: \"At 50% pruning, agency models demonstrate **XX% faster generation** than "
          "baseline\".  \n  Measured: ", f);
    int l = level_intro(f, r->st, 50);
    fputs(", ", f);
    claim_line(f, r, ab, "speed", l);
    claim_split(f, r, "speed", l, ".  \n  ");
    fputs(".\n- Seed: \"Agency models show **XX% better perplexity** at 50% pruning\".  \n  Measured: ", f);
    level_intro(f, r->st, 50);
    fputs(", ", f);
    claim_line(f, r, ab, "corpus_perplexity", l);
    fputs(" (ratio of corpus perplexities, from per-token NLL differences); as a geometric mean of per-prompt "
          "ratios: ", f);
    claim_line(f, r, ab, "perplexity", l);
    claim_split(f, r, "corpus_perplexity", l, ".  \n  ");
    fputs(".\n", f);
}

/* Variant v (role, -1 when absent: `missing` says which) at level l against its own
 * lowest level. */
static void own_level_line(FILE *f, const hs_report *r, int v, const char *missing, const char *metric, int l)
{
    int p = own_pair(r, v), m = hs_report_cm(r, metric);
    if (p < 0) {
        fprintf(f, "%s: unavailable (the file has no %s)", missing, missing);
        return;
    }
    const char *name = r->st->variant[v];
    if (l == 0) {
        fprintf(f, "%s: no level below %g%% in this study to compare with", name, r->st->level[0]);
        return;
    }
    fprintf(f, "%s at %g%% against its own %g%% level: ", name, r->st->level[l], r->st->level[0]);
    hs_md_cmp_phrase(f, r, p, m, l);
}

static void claim_stability(FILE *f, const hs_report *r)
{
    const hs_study *s = r->st;
    int l = nearest_level(s, 70);
    fputs("- Seed: \"Baseline perplexity rises sharply at higher pruning levels\" and \"agency-enabled "
          "models maintain stable perplexity up to 70% pruning\".  \n  Measured (corpus reference perplexity, "
          "per-token NLL paired per prompt): ", f);
    char ref[300];
    snprintf(ref, sizeof ref, "reference variant `%s`", r->opt.reference);
    own_level_line(f, r, r->ref, ref, "corpus_perplexity", l);
    fputs("; ", f);
    own_level_line(f, r, r->subject, "agency variant", "corpus_perplexity", l);
    fputs(".\n", f);
}

static void claim_radar(FILE *f, const hs_report *r, int ab)
{
    const char *metrics[] = {"speed", "quality", "diversity", "efficiency"};
    fputs("- Seed: \"At 70% pruning ... agency-enabled models outperform baseline models by XX% in "
          "generation speed, XX% in quality (inverse perplexity), XX% in lexical diversity, XX% in "
          "efficiency (inverse generation time)\".  \n  Measured: ", f);
    int l = level_intro(f, r->st, 70);
    fputs(":\n", f);
    for (int i = 0; i < 4; i++) {
        fputs("  - ", f);
        claim_line(f, r, ab, metrics[i], l);
        claim_split(f, r, metrics[i], l, ". ");
        fputs("\n", f);
    }
}

/* Coefficient of variation of decode speed per variant at level l (descriptive only). */
static void claim_variance(FILE *f, const hs_report *r)
{
    const hs_study *s = r->st;
    const hs_table *t = hs_report_table(r, "decode_tokens_per_second");
    fputs("- Seed: \"**Lower variance** in performance across test prompts\".  \n  Measured "
          "(coefficient of variation of decode tokens/s across prompts, sd/mean, no interval): ", f);
    int l = level_intro(f, s, 50);
    for (int v = 0; v < s->nv; v++) {
        const hs_ci *c = &t->cell[hs_vl(s, v, l)];
        fprintf(f, "%s %s ", v ? ";" : ":", s->variant[v]);
        if (c->n >= 2 && c->mean != 0) fprintf(f, "%.3f", c->sd / c->mean);
        else fputs("n/a", f);
    }
    fputs(". Prompts differ in length, so much of this spread is the prompts', not the variant's.\n", f);
}

/* A difference at level l (directional) against the 0% control, by the paired test of the
 * change between them (hs_report_level_contrast): "comes with pruning" only when that
 * change is significant in the same direction; an interval of the 0% row that merely
 * holds the difference, or a 0% row without a verdict, decides nothing either way. */
static void credit_contrast(FILE *f, const hs_report *r, int p, int m, int l, const char *what)
{
    const hs_cmp_cell *c = hs_report_cmp(r, p, m, l), *c0 = hs_report_cmp(r, p, m, 0);
    hs_contrast k;
    char w[160], w0[160], a[32], lo[32], hi[32], pv[32];
    if (hs_report_level_contrast(r, p, m, l, &k)) {
        fprintf(f, "%s at %g%%; its change from the 0%% control could not be computed (%s)",
                hs_report_verdict(r, m, c, w, sizeof w), r->st->level[l], hs_err_msg());
        return;
    }
    int dir = c->verdict == HS_V_UP ? 1 : -1, shown = k.ci.n >= r->opt.min_pairs &&
              k.perm.n_nonzero >= r->opt.min_pairs && hs_ci_sign(&k.ci) == dir && k.perm.p < 1.0 - r->opt.conf &&
              !(r->opt.cluster_books && k.n_clusters < HS_MIN_BOOKS);
    fprintf(f, "%s at %g%%", hs_report_verdict(r, m, c, w, sizeof w), r->st->level[l]);
    if (hs_verdict_directional(c0->verdict))
        fprintf(f, hs_report_same_code(r, p, 0) ? " (already %s at 0%%, where both variants run the same code: "
                                                  "run order, machine load or noise, not overhead)"
                                                : " (already %s at 0%%, where nothing is pruned: gating or agency "
                                                  "overhead, machine load or noise)",
                hs_report_verdict(r, m, c0, w0, sizeof w0));
    fprintf(f, "; from 0%% to %g%% the ratio changes by %s%% (95%% CI %s .. %s, p = %s, %d paired prompts), ",
            r->st->level[l],
            hs_fmt_pct(a, sizeof a, k.ci.mean), hs_fmt_pct(lo, sizeof lo, k.ci.lo), hs_fmt_pct(hi, sizeof hi, k.ci.hi),
            hs_fmt_p_value(pv, sizeof pv, k.perm.p, 1.0 - r->opt.conf), k.ci.n);
    if (shown)
        fprintf(f, "so the difference grows with pruning and that growth can be put down to %s", what);
    else
        fprintf(f, "which does not show the difference growing beyond the 0%% control, so it cannot be put down "
                   "to %s", what);
}

/* What the 0% control says about comparison p at level l (speed): a difference can be
 * put down to pruning only when it grows from 0%, where nothing is pruned, to l
 * (credit_contrast). When the two run the same code at 0% (hs_report_same_code), a
 * difference there is run order, machine load or noise, never overhead. */
static void credit(FILE *f, const hs_report *r, int p, int l, const char *what)
{
    int m = hs_report_cm(r, "speed");
    const hs_cmp_cell *c = hs_report_cmp(r, p, m, l), *c0 = hs_report_cmp(r, p, m, 0);
    fprintf(f, "%s: ", r->pair[p].title);
    if (c->verdict == HS_V_ORDER || c0->verdict == HS_V_ORDER)
        fprintf(f, "timings not interleaved at %g%% or at 0%%, so run order confounds them and no speed difference "
                   "can be put down to %s", r->st->level[l], what);
    else if (c->verdict == HS_V_COPIES || c0->verdict == HS_V_COPIES)
        fprintf(f, "at %g%% or at 0%% every pair mixes a cell timed with a speed copy and one timed without it (the "
                   "copy gave way for memory), so no speed difference can be put down to %s", r->st->level[l], what);
    else if (c->verdict == HS_V_FEW || c0->verdict == HS_V_FEW) {
        char w[160];
        const hs_cmp_cell *few = c->verdict == HS_V_FEW ? c : c0;
        fprintf(f, "%s at %g%%, so no difference can be put down to %s", hs_report_verdict(r, m, few, w, sizeof w),
                r->st->level[few == c ? l : 0], what);
    }
    else if (c->verdict == HS_V_EQUIV)
        fprintf(f, "equivalent within +-%g%% at %g%%, so no speed difference beyond that margin can be put down "
                   "to %s", c->margin, r->st->level[l], what);
    else if (!hs_verdict_directional(c->verdict))
        fprintf(f, "no significant difference beyond the +-%g%% margin at %g%%, so no speed difference can be put "
                   "down to %s", c->margin, r->st->level[l], what);
    else
        credit_contrast(f, r, p, m, l, what);
}

static void attribution_control(FILE *f, const hs_report *r, int sb, int as, int l)
{
    if (r->st->level[0] != 0) {
        fputs("  This study has no 0% level, so there is no control: part of either difference may be gating or "
              "agency overhead, machine load or noise rather than pruning.\n", f);
        return;
    }
    if (l == 0) {
        fputs("  These are the 0% control itself (nothing is pruned): between `baseline-skip` and the reference, "
              "which run the same code when nothing is pruned, a difference here is run order, machine load or noise, "
              "never overhead; between the agency variant and `baseline-skip` it may also be agency "
              "bookkeeping.\n", f);
        return;
    }
    fputs("  Control at 0% (nothing is pruned, so `baseline-skip` has no head to skip): ", f);
    claim_line(f, r, sb, "speed", 0);
    fputs("; ", f);
    claim_line(f, r, as, "speed", 0);
    fputs(".  \n  Reading: ", f);
    credit(f, r, sb, l, "skipping pruned heads");
    fputs("; ", f);
    credit(f, r, as, l, "agency states (both variants skip pruned heads)");
    fputs(".\n", f);
}

static void claim_attribution(FILE *f, const hs_report *r)
{
    fputs("- Where a speed difference comes from (not claimed by the seed; the ablation `baseline-skip` computes no "
          "pruned head but has no agency states).  \n  Measured: ", f);
    int sb = hs_report_pair(r, r->ablation, r->ref), as = hs_report_pair(r, r->subject, r->ablation);
    if (sb < 0 || as < 0) {
        fprintf(f, "not available: it needs the reference `%s`, a variant named `baseline-skip` and an agency "
                   "variant in the file.\n", r->opt.reference);
        return;
    }
    int l = level_intro(f, r->st, 50);
    fputs(": ", f);
    claim_line(f, r, sb, "speed", l);
    fputs("; ", f);
    claim_line(f, r, as, "speed", l);
    fputs(".  \n", f);
    attribution_control(f, r, sb, as, l);
}

static void claim_control(FILE *f, const hs_report *r, int ab)
{
    const hs_study *s = r->st;
    int m = hs_report_cm(r, "speed");
    if (s->level[0] != 0 || ab < 0) return;
    const hs_cmp_cell *c = hs_report_cmp(r, ab, m, 0);
    fputs("- Control at 0% (no head pruned, so pruning cannot explain a difference): ", f);
    claim_line(f, r, ab, "speed", 0);
    if (!c->available || !hs_verdict_directional(c->verdict)) fputs(".\n", f);
    else if (hs_report_same_code(r, ab, 0))
        fputs(". Both variants run the same code here, so this difference is run order, machine load or noise; "
              "discount the other levels' speed differences accordingly.\n", f);
    else
        fputs(". A difference here comes from the gating mode, agency bookkeeping, run order or the machines the "
              "cells ran on; discount the other levels' speed differences accordingly.\n", f);
}

/* Which variants stand for the seed's "agency" and "baseline" models here. */
static void write_roles(FILE *f, const hs_report *r)
{
    fputs("The seed's agency model is ", f);
    if (r->subject >= 0) fprintf(f, "`%s`", r->st->variant[r->subject]);
    else fputs("absent here (no variant is named `agency` or runs the agency state machine)", f);
    fprintf(f, "; its baseline is the reference `%s` (--reference)%s.\n\n", r->opt.reference,
            r->ref >= 0 ? "" : ", which the file does not have: choose another with --reference VARIANT");
}

static int state_index(const hs_study *s, const char *name)
{
    for (int k = 0; k < s->ns; k++)
        if (!strcmp(s->state[k], name)) return k;
    return -1;
}

/* Head-steps of variant v at level l in each state, summed over heads and prompts. */
static void occupancy_sums(const hs_study *s, int v, int l, int64_t *sum)
{
    size_t LH = (size_t)s->L * (size_t)s->H;
    const int64_t *o = s->occupancy + hs_vl(s, v, l) * LH * (size_t)s->ns;
    for (int k = 0; k < s->ns; k++) sum[k] = 0;
    for (size_t i = 0; i < LH; i++)
        for (int k = 0; k < s->ns; k++) sum[k] += o[i * (size_t)s->ns + k];
}

/* How often variant v's states acted, per level ("; 0%: overloaded 0.10%, ... of N"): a
 * state that almost never fires cannot explain a difference, whatever the verdicts say. */
static void occupancy_levels(FILE *f, const hs_study *s, int v)
{
    int w = state_index(s, "withdrawn");
    for (int l = 0; l < s->nl; l++) {
        int64_t sum[16], live = 0;
        occupancy_sums(s, v, l, sum);
        for (int k = 0; k < s->ns; k++) live += k == w ? 0 : sum[k];
        fprintf(f, "%s %g%%:", l ? ";" : "", s->level[l]);
        if (live == 0) {
            fputs(" no data", f);
            continue;
        }
        for (int k = 0, first = 1; k < s->ns; k++)
            if (k != w && strcmp(s->state[k], "active"))
                fprintf(f, "%s %s %.2f%%", first ? "" : ",", s->state[k], 100.0 * (double)sum[k] / (double)live),
                    first = 0;
        fprintf(f, " of %lld", (long long)live);
    }
}

static void claim_occupancy(FILE *f, const hs_report *r)
{
    const hs_study *s = r->st;
    if (r->subject < 0 || !s->occupancy || s->ns > 16) return;
    fprintf(f, "- How often `%s`'s states acted (head-steps of heads not withdrawn, summed over prompts; "
               "withdrawn = pruned):", s->variant[r->subject]);
    occupancy_levels(f, s, r->subject);
    fputs(". Where these shares are small the agency variant differs from `baseline-skip` only on the few steps "
          "they cover.\n", f);
}

/* Variant v's thresholds as its line of the study text records them (overload and alignment
 * threshold, the calibration percentile, recovery_steps: hs_variant_line_read), or nothing
 * when the line lacks either threshold. */
static void agency_thresholds(FILE *f, const hs_report *r, int v)
{
    hs_variant_line l;
    if (hs_variant_line_read(hs_study_attr(r->st, "study"), r->st->variant[v], &l) < 0) return;
    if (!(l.has & HS_VL_OVERLOAD) || !(l.has & HS_VL_ALIGNMENT)) return;
    fprintf(f, " (overload_threshold %.4g, alignment_threshold %.4g", l.overload_threshold, l.alignment_threshold);
    if (l.has & HS_VL_PERCENTILE)
        fprintf(f, ", calibrated: percentile %g of the calibration set's per-step statistics", l.percentile);
    if (l.has & HS_VL_RECOVERY_STEPS) fprintf(f, "; recovery_steps %d", l.recovery_steps);
    if (l.has & HS_VL_RECOVERY_CALIBRATED)
        fputs(", calibrated: the mean length of the runs of steps in which a head met a condition there", f);
    fputs(")", f);
}

/* Every agency variant besides the subject (calibrated thresholds, say): its occupancy
 * beside its quality and speed against the reference and against `baseline-skip`, so a
 * difference can be read against how often its states acted. */
static void claim_other_agency(FILE *f, const hs_report *r)
{
    const hs_study *s = r->st;
    for (int v = 0; v < s->nv; v++) {
        if (!s->agency[v] || v == r->subject || v == r->ref || v == r->ablation) continue;
        fprintf(f, "- Agency variant `%s`", s->variant[v]);
        agency_thresholds(f, r, v);
        if (s->occupancy && s->ns <= 16) {
            fputs(". States acted (head-steps of heads not withdrawn):", f);
            occupancy_levels(f, s, v);
        }
        fputs(".  \n  ", f);
        int l = level_intro(f, s, 50), pr = hs_report_pair(r, v, r->ref), pa = hs_report_pair(r, v, r->ablation);
        const char *metrics[] = {"speed", "corpus_perplexity"};
        for (int k = 0; k < 2; k++) {
            fputs(k ? "; " : ", ", f);
            if (pr >= 0) claim_line(f, r, pr, metrics[k], l);
            if (pa >= 0) fputs(pr >= 0 ? "; " : "", f), claim_line(f, r, pa, metrics[k], l);
        }
        fputs(".\n", f);
    }
}

static void write_summary(FILE *f, const hs_report *r)
{
    int ab = claim_pair(r);
    fprintf(f, "## The seed document's claims, measured\n\n"
               "Each line quotes a claim of the seed document and gives the paired per-prompt difference "
               "measured here: the geometric mean of the per-prompt ratios a / b over the prompts both variants "
               "completed, as a percent change, 100 (exp(mean of ln(a / b)) - 1) (log ratios, so that swapping "
               "a and b only flips the sign; for corpus perplexity instead the ratio of the two corpus perplexities, "
               "exp of the token-weighted mean per-token NLL difference, the primary quality effect), a 95%% "
               "paired bootstrap interval and a sign-flip p-value%s. The verdict is "
               "\"faster\"/\"slower\" or \"better\"/\"worse\" only when the interval excludes 0, p < %g and "
               "the mean lies beyond the metric's equivalence margin; an interval wholly inside the margin reads "
               "\"equivalent\"; at least %d pairs must differ (--min-pairs; ties carry no sign). See the caveats "
               "below before quoting any of it. ", r->opt.holm ? " (Holm-adjusted, --holm)" : "",
            1.0 - r->opt.conf, r->opt.min_pairs);
    write_roles(f, r);
    claim_speed_ppl(f, r, ab);
    claim_occupancy(f, r);
    claim_other_agency(f, r);
    claim_control(f, r, ab);
    claim_stability(f, r);
    claim_radar(f, r, ab);
    claim_variance(f, r);
    claim_attribution(f, r);
    fputs("- Not tested as statements: \"linear scaling with pruning percentage\", \"the gap widens\", "
          "\"upper-right quadrant\" and \"better Pareto frontier\"; the tables and figures below show the "
          "numbers they would rest on.\n\n", f);
}

/* ---- figures ---- */

static void write_figures(FILE *f, const hs_report *r, const hs_report_md_extra *x)
{
    const hs_figures *g = x->figs;
    fputs("## Figures\n\n", f);
    if (!r->opt.figures)
        fputs("Figures were not rendered (--no-figures); `gnuplot NAME.gp` in this directory draws NAME.png and "
              "NAME.pdf.\n\n", f);
    else if (!g->gnuplot_found)
        fputs("**Note: gnuplot was not found on PATH, so no PNG or PDF figure was rendered.** The plot data "
              "(`*.dat`) and gnuplot scripts (`*.gp`) are here; run `gnuplot NAME.gp` in this directory.\n\n", f);
    if (x->figure_error) fprintf(f, "**gnuplot failed:**\n\n```\n%s\n```\n\n", x->figure_error);
    int png = 0, pdf = 0;
    for (int i = 0; i < g->n; i++) png += g->fig[i].rendered, pdf += g->fig[i].pdf;
    if (png > pdf)
        fputs("Note: this gnuplot has no `pdfcairo` terminal, so some figures have no PDF beside the PNG "
              "(Debian's gnuplot-nox has it).\n\n", f);
    for (int i = 0; i < g->n; i++) {
        const hs_figure *fig = &g->fig[i];
        fprintf(f, "### %s\n\n%s\n\n", fig->name, fig->caption ? fig->caption : "");
        if (fig->rendered) fprintf(f, "![%s](%s.png)\n\n", fig->name, fig->name);
        if (fig->pdf) fprintf(f, "Vector (PDF): [%s.pdf](%s.pdf). ", fig->name, fig->name);
        if (fig->has_data) fprintf(f, "Data: [%s.dat](%s.dat), script: [%s.gp](%s.gp).\n\n", fig->name,
                                   fig->name, fig->name, fig->name);
    }
}

/* ---- checks ---- */

static void write_checks(FILE *f, const hs_report *r)
{
    const hs_study *s = r->st;
    size_t LH = (size_t)s->L * (size_t)s->H;
    fprintf(f, "## Checks\n\nHeads switched off per level (from /heads/pruned) against DESIGN.md's "
               "round(level/100 x %d x %d); cells without a map are left out.\n\n", s->L, s->H);
    fputs("| level % | expected | ", f);
    for (int v = 0; v < s->nv; v++) fprintf(f, "%s | ", s->variant[v]);
    fputs("\n|---:|---:|", f);
    for (int v = 0; v < s->nv; v++) fputs("---:|", f);
    fputc('\n', f);
    for (int l = 0; l < s->nl; l++) {
        long expect = lround(s->level[l] / 100.0 * (double)LH);
        fprintf(f, "| %g | %ld |", s->level[l], expect);
        for (int v = 0; v < s->nv; v++) {
            if (!s->heads_known[hs_vl(s, v, l)]) {
                fputs(" n/a |", f);
                continue;
            }
            int k = 0;
            for (size_t i = 0; i < LH; i++) k += s->pruned[hs_vl(s, v, l) * LH + i] != 0;
            fprintf(f, k == expect ? " %d |" : " **%d (differs)** |", k);
        }
        fputc('\n', f);
    }
    fputc('\n', f);
}

/* ---- provenance ---- */

/* Root attributes in the provenance table's order, as rows of the results stage's attribute
 * table (results.h), which names them. */
static const int prov_order[] = {
    HS_RA_JOB_NAME, HS_RA_HEADSWEEP_VERSION, HS_RA_GIT_DESCRIBE, HS_RA_CREATED_UTC, HS_RA_UPDATED_UTC,
    HS_RA_COMMAND_LINE, HS_RA_RUNS, HS_RA_N_RANKS, HS_RA_HOSTS, HS_RA_MODEL_DIR, HS_RA_MODEL_SHA256,
    HS_RA_PROMPTS_PATH, HS_RA_PROMPTS_SHA256, HS_RA_CALIBRATION_PATH, HS_RA_CALIBRATION_SHA256, HS_RA_STRATEGY,
    HS_RA_SEED, HS_RA_MAX_NEW_TOKENS, HS_RA_TEMPERATURE, HS_RA_TOP_K, HS_RA_TOP_P, HS_RA_MPI_VERSION,
    HS_RA_HDF5_VERSION, HS_RA_OPENBLAS_VERSION, HS_RA_SCHEMA_VERSION,
};
#define N_PROV (int)(sizeof prov_order / sizeof prov_order[0])

static const char *prov_key(int i) { return hs_results_attrs[prov_order[i]].name; }

static int in_prov_order(const char *k)
{
    for (int i = 0; i < N_PROV; i++)
        if (!strcmp(prov_key(i), k)) return 1;
    return !strcmp(k, hs_results_attrs[HS_RA_JOB_FILE_TEXT].name) || !strcmp(k, hs_results_attrs[HS_RA_STUDY].name);
}

static void prov_row(FILE *f, const char *k, const char *v)
{
    fputs("| ", f);
    hs_out_md_cell(f, k);
    fputs(" | ", f);
    hs_out_md_cell(f, v);
    fputs(" |\n", f);
}

static const char *src_attr(const hs_source *src, const char *key)
{
    for (int k = 0; k < src->n_attrs; k++)
        if (!strcmp(src->attrs[k].key, key)) return src->attrs[k].value;
    return NULL;
}

/* A fence longer than any backtick run in text, so the job file cannot close it. */
static void fenced(FILE *f, const char *text, const char *lang)
{
    int run = 0, longest = 0;
    for (const char *p = text; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > longest) longest = run;
    }
    int n = longest < 3 ? 3 : longest + 1;
    for (int i = 0; i < n; i++) fputc('`', f);
    fprintf(f, "%s\n", lang);
    for (const char *p = text; *p; p++) /* control characters but newline and tab as spaces */
        fputc(hs_is_control((unsigned char)*p) && *p != '\n' && *p != '\t' ? ' ' : *p, f);
    fputs(text[0] && text[strlen(text) - 1] == '\n' ? "" : "\n", f);
    for (int i = 0; i < n; i++) fputc('`', f);
    fputs("\n\n", f);
}

static void write_source(FILE *f, const hs_source *src)
{
    fputs("### ", f);
    hs_out_md_cell(f, src->path);
    fputs("\n\n| attribute | value |\n|---|---|\n", f);
    for (int i = 0; i < N_PROV; i++) {
        const char *v = src_attr(src, prov_key(i));
        prov_row(f, prov_key(i), v ? v : "(absent)");
    }
    for (int k = 0; k < src->n_attrs; k++)
        if (!in_prov_order(src->attrs[k].key)) prov_row(f, src->attrs[k].key, src->attrs[k].value);
    const char *job = src_attr(src, "job_file_text"), *study = src_attr(src, "study");
    fputs("\nJob file (with --set overrides):\n\n", f);
    if (job) fenced(f, job, "ini");
    else fputs("(absent)\n\n", f);
    if (study) {
        fputs("Study identity (`study`: the settings that decide the results):\n\n", f);
        fenced(f, study, "");
    }
}

/* Each variant with what decides its numbers: gating, agency and head-pruning strategy. */
static void write_variant_list(FILE *f, const hs_study *s)
{
    fputs("Variants (gating, agency, head-pruning strategy from the /variant attributes):", f);
    for (int v = 0; v < s->nv; v++) {
        fputs(v ? "; " : " ", f);
        hs_out_md_code(f, s->variant[v]);
        fputs(": ", f);
        hs_out_md_cell(f, s->gating[v]);
        fprintf(f, ", agency %s, strategy ", s->agency[v] ? "on" : "off");
        hs_out_md_cell(f, s->strategy[v][0] ? s->strategy[v] : "not recorded (file predates it)");
    }
    fputs(".\n\n", f);
}

static void write_provenance(FILE *f, const hs_report *r)
{
    fprintf(f, "## Provenance\n\nReport: headsweep-report %s (%s), HDF5 %s, bootstrap %d resamples, seed %llu.\n\n",
            HS_VERSION, HS_GIT_DESCRIBE, hs_results_hdf5_version(), r->opt.bootstrap, (unsigned long long)r->opt.seed);
    write_variant_list(f, r->st);
    for (int i = 0; i < r->st->nsrc; i++) write_source(f, &r->st->src[i]);
    if (r->st->nnotes) fputs("### Notes from merging the input files\n\n", f);
    for (int i = 0; i < r->st->nnotes; i++) {
        fputs("- ", f);
        hs_out_md_cell(f, r->st->notes[i]);
        fputc('\n', f);
    }
    if (r->st->nnotes) fputc('\n', f);
}

/* ---- the document ---- */

/* ---- incomplete input ---- */

/* A file whose sweep did not finish: said first, before any number is read. */
static void write_incomplete(FILE *f, const hs_study *s)
{
    size_t missing, total;
    int any = 0;
    for (int i = 0; i < s->nsrc; i++) {
        if (!hs_study_src_incomplete(s, i)) continue;
        fprintf(f, "%s> **Warning: incomplete results.** ", any ? ">\n" : "");
        hs_out_md_code(f, s->src[i].path);
        fputs(" has `complete = 0`: its sweep was interrupted, is still running, or ran only some of its "
              "cells (`--cells`).\n", f);
        any = 1;
    }
    if (!any) return;
    hs_study_not_done(s, &missing, &total);
    if (missing)
        fprintf(f, ">\n> %zu of %zu (variant, level, prompt) results are not done; every mean and comparison below "
                   "uses the done prompts only (see \"Coverage and missing data\"). Resume the sweep on the same "
                   "file to complete it.\n\n", missing, total);
    else
        fputs(">\n> The input files together have every cell done, so no result is missing.\n\n", f);
}

/* The lowest and highest known line of the prompt file among the prompts; 0 when unknown. */
static int line_range(const hs_study *s, int *lo, int *hi)
{
    *lo = *hi = -1;
    for (int p = 0; s->row && p < s->np; p++) {
        int l = (int)s->row[2 * p + 1];
        if (l < 0) continue;
        if (*lo < 0 || l < *lo) *lo = l;
        if (l > *hi) *hi = l;
    }
    return *lo >= 0;
}

/* Where the prompts come from: books (as the sweep's sample recorded them in /prompts/book,
 * else from the ids) and counts, their rows of the prompt file, and how comparisons treat
 * them (prompts of one passage are not independent). */
static void write_books(FILE *f, const hs_report *r)
{
    int lo, hi;
    fprintf(f, "Prompts: %d from %d book(s) (%s):", r->st->np, r->nbooks,
            r->st->book ? "as the sweep's sample recorded them, /prompts/book" : "from the ids");
    for (int k = 0; k < r->nbooks && k < 40; k++) {
        fputs(k ? ", " : " ", f);
        hs_out_md_cell(f, r->book_name[k]);
        fprintf(f, " %d", r->book_count[k]);
    }
    if (r->nbooks > 40) fprintf(f, ", and %d more", r->nbooks - 40);
    if (line_range(r->st, &lo, &hi))
        fprintf(f, "; lines %d to %d of the prompt file (each prompt's row: `prompts.csv`)", lo, hi);
    else
        fputs("; the file does not record their rows of the prompt file", f);
    /* hs_prompts_sample: one prompt a book first, the rest in proportion (docs/sweep.md) */
    if (hs_results_study_is(hs_study_attr(r->st, "study"), "prompt_order", "sample"))
        fputs(". Every mean and comparison below is over these prompts, unweighted, and speaks for them: the "
              "sweep's `max_prompts` sample gives every book at least one prompt before the rest in proportion, "
              "so when it takes fewer prompts than the file holds, small books weigh more here than there", f);
    if (r->opt.cluster_books)
        fputs(". Comparisons resample whole books and flip each book's sum of differences (--cluster-books); "
              "metric tables still resample prompts.\n\n", f);
    else
        fprintf(f,
                ". Comparisons resample prompts as if independent; neighbouring prompts of one book are passages "
                "of one text%s (--cluster-books resamples books instead).\n\n",
                r->nbooks == 1 ? ", and here every prompt comes from one book: the intervals speak for that book only"
                               : "");
}

/* The distinct pruning strategies of the variants, in variant order, joined by ", ";
 * 0 (nothing written) when the file does not record them. */
static int write_strategies(FILE *f, const hs_study *s)
{
    int n = 0;
    for (int v = 0; v < s->nv; v++) {
        int seen = !s->strategy[v][0];
        for (int u = 0; u < v && !seen; u++) seen = !strcmp(s->strategy[u], s->strategy[v]);
        if (seen) continue;
        if (n++) fputs(", ", f);
        hs_out_md_cell(f, s->strategy[v]);
    }
    return n;
}

static int has_strategies(const hs_study *s)
{
    for (int v = 0; v < s->nv; v++)
        if (s->strategy[v][0]) return 1;
    return 0;
}

static void write_head(FILE *f, const hs_report *r)
{
    const hs_study *s = r->st;
    const char *job = hs_study_attr(s, "job_name");
    fputs("# headsweep report: ", f);
    hs_out_md_cell(f, job ? job : "(unnamed job)");
    if (has_strategies(s)) {
        fputs(" (head pruning: ", f);
        write_strategies(f, s);
        fputc(')', f);
    }
    fputs("\n\n", f);
    write_incomplete(f, s);
    fprintf(f, "%d variant(s), %d level(s), %d prompt(s), model of %d layers x %d heads; read from "
               "%d file(s):", s->nv, s->nl, s->np, s->L, s->H, s->nsrc);
    for (int i = 0; i < s->nsrc; i++) fputc(' ', f), hs_out_md_code(f, s->src[i].path);
    fprintf(f, ". Intervals: %g%% percentile bootstrap, %d resamples, seed %llu; p-values: sign-flip test, exact "
               "up to %d differing pairs, else %d Monte Carlo draws (exact again in the far tail, where fewer than "
               "%d draws reach the observed sum)%s; equivalence margins:",
            100 * r->opt.conf, r->opt.bootstrap, (unsigned long long)r->opt.seed, HS_PERM_EXACT, r->opt.bootstrap,
            HS_PERM_TAIL_DRAWS,
            r->opt.holm ? ", Holm-adjusted" : ", not adjusted for multiplicity");
    for (int m = 0; m < r->ncm; m++) fprintf(f, "%s %s +-%g%%", m ? "," : "", r->cm[m].key, r->margin[m]);
    fputs(" (docs/report.md). All tables: [tables.md](tables.md) and the CSV files beside it.\n\n", f);
    write_books(f, r);
}

/* Integer value of "key = N" on a line of the study text, or -1. */
static long study_int(const char *study, const char *key)
{
    size_t len = 0;
    const char *v = hs_results_study_value(study, key, &len);
    return v ? strtol(v, NULL, 10) : -1;
}

/* Which prompts of a cell throughput mode timed alone: spread over it since the study text's
 * `latency_sample = spread` (src/sweep/grid.c hs_latency_prompt), its first ones before. */
static const char *latency_sample_words(const char *study)
{
    return hs_results_study_is(study, "latency_sample", "spread")
               ? "spread evenly through it"
               : "its first ones (a file from before the sample was spread: with a prompt file that keeps books "
                 "together, these are the file's first books)";
}

/* Which numbers come from which measurement mode (job key `mode`, docs/sweep.md). */
static void write_mode(FILE *f, const hs_report *r)
{
    const char *study = hs_study_attr(r->st, "study");
    if (!hs_results_study_is(study, "mode", "throughput")) {
        fputs("Measurement mode: **latency** (prompts generated one at a time per rank and timed; speed, time and "
              "resource numbers are per prompt).\n\n", f);
        return;
    }
    long batch = study_int(study, "batch"), k = study_int(study, "latency_prompts");
    fprintf(f, "Measurement mode: **throughput** (the prompts of a cell decoded together, %ld at a time). Quality "
               "numbers (perplexity, diversity, repetition, tokens generated) come from every prompt and equal what "
               "latency mode gives. ", batch);
    if (k > 0)
        fprintf(f, "Speed, time and resource numbers (tokens/s, generation time, time to first token, CPU seconds, "
                   "peak RSS) come only from %ld prompt(s) of each cell, %s, run again alone in latency mode "
                   "(their tokens checked equal to the batch's); the n of those tables counts them. Batched wall "
                   "time per cell is in /cells/seconds.\n\n", k, latency_sample_words(study));
    else
        fputs("No prompt was timed alone (`latency_prompts = 0`): the per-prompt speed and time tables are empty "
              "by design; batched wall time per cell is in /cells/seconds. Peak RSS is each batch's.\n\n", f);
}

/* ---- caveats ---- */

/* -1 in latency mode, else the prompts per cell re-run alone in throughput mode. */
static long timed_alone(const hs_report *r)
{
    const char *study = hs_study_attr(r->st, "study");
    if (!hs_results_study_is(study, "mode", "throughput")) return -1;
    long k = study_int(study, "latency_prompts");
    return k > 0 ? k : 0;
}

typedef struct {
    int decided;     /* rows with a verdict (enough differing pairs) */
    int tested;      /* of them, rows with a p-value that decides (the Holm family): not identical */
    int at_floor;    /* tested rows whose Monte Carlo p is within HS_PERM_TAIL_DRAWS draws of its floor */
    int significant; /* of them, a direction (faster/slower, better/worse) */
    int equivalent;  /* of them, equivalent within the margin or identical */
    int few;         /* rows with fewer than --min-pairs pairs or differing pairs */
    int min_n, max_n;/* pairs per row with any pair */
    int cross;       /* timing pairs across hosts or runs */
} cmp_count;

static void count_rows(const hs_report *r, int p0, int p1, cmp_count *k)
{
    *k = (cmp_count){0, 0, 0, 0, 0, 0, -1, -1, 0};
    for (int p = p0; p < p1; p++)
        for (int m = 0; m < r->ncm; m++)
            for (int l = 0; l < r->st->nl; l++) {
                const hs_cmp_cell *c = hs_report_cmp(r, p, m, l);
                if (!c->available) continue;
                k->decided += c->verdict != HS_V_FEW && c->verdict != HS_V_ORDER && c->verdict != HS_V_COPIES;
                int tested = !isnan(c->p_holm); /* analyze.c sets p_holm on tested rows only */
                k->tested += tested;
                k->at_floor += tested && !c->perm.exact &&
                               c->perm.p * (r->opt.bootstrap + 1.0) < 1.0 + HS_PERM_TAIL_DRAWS;
                k->significant += hs_verdict_directional(c->verdict);
                k->equivalent += c->verdict == HS_V_EQUIV || c->verdict == HS_V_IDENTICAL;
                k->few += c->verdict == HS_V_FEW;
                k->cross += r->cm[m].timing ? c->n_cross : 0;
                if (c->ci.n == 0) continue;
                if (k->min_n < 0 || c->ci.n < k->min_n) k->min_n = c->ci.n;
                if (c->ci.n > k->max_n) k->max_n = c->ci.n;
            }
}

static void caveat_sizes(FILE *f, const hs_report *r, const cmp_count *between, const cmp_count *own)
{
    fprintf(f, "- **Sample sizes.** %d prompt(s) per cell; ", r->st->np);
    if (between->min_n < 0) fputs("no comparison between variants has a paired prompt. ", f);
    else fprintf(f, "comparisons between variants pair %d to %d prompts. ", between->min_n, between->max_n);
    fprintf(f, "A verdict needs at least %d pairs that differ (--min-pairs: a prompt on which both variants give "
               "exactly the same value says nothing about which is better); %d comparison row(s) have fewer and "
               "say \"too few prompts\" or \"too few differing prompts\". The percentile bootstrap is approximate: "
               "with fewer than about 20 prompts, or skewed values such as perplexity, its intervals are too "
               "narrow, which is why a verdict also needs the sign-flip p-value (exact with up to %d differing "
               "pairs).\n", r->opt.min_pairs, between->few + own->few, HS_PERM_EXACT);
}

static void caveat_multiple(FILE *f, const hs_report *r, const cmp_count *between, const cmp_count *own)
{
    if (between->decided + own->decided == 0) {
        fputs("- **Multiple comparisons.** No comparison row has a verdict here.\n", f);
        return;
    }
    fprintf(f, "- **Multiple comparisons.** Between variants, %d comparison row(s) (pair x metric x level) have a "
               "verdict: %d significant beyond their margin (faster/slower, better/worse) and %d equivalent or "
               "identical; %d of them have a p-value test (identical rows have none), and at alpha = %g about %.1f "
               "of those %d would pass it by chance alone if no variant differed from another. Against each "
               "variant's own lowest level: %d row(s), %d significant. ",
            between->decided, between->significant, between->equivalent, between->tested, 1.0 - r->opt.conf,
            between->tested * (1.0 - r->opt.conf), between->tested, own->decided, own->significant);
    int floor = between->at_floor + own->at_floor;
    if (!r->opt.holm)
        fputs("The p-values are not corrected for multiplicity (--holm corrects them); ", f);
    else
        fputs("Verdicts use Holm-adjusted p-values (--holm), each of the two groups of rows a family, so the "
              "chance of any false \"significant\" row in a group is at most alpha. ", f);
    if (r->opt.holm && floor > 0)
        fprintf(f, "%d tested row(s) have a Monte Carlo p-value within %d draws of its floor 1/(B + 1) = %.2g "
                   "(the exact tail count gave up): Holm multiplies that floor by the family's size, so those rows "
                   "may lack a verdict they would have with more draws (--bootstrap). ",
                floor, HS_PERM_TAIL_DRAWS, 1.0 / (r->opt.bootstrap + 1.0));
    fputs(r->opt.holm ? "The rows" : "the rows", f); /* after a sentence, or after the ';' above */
    fputs(" are not independent (the same prompts in every row; perplexity and 1/perplexity are one "
          "measurement), and \"no significant difference\" is not evidence of equality: only \"equivalent\" "
          "is.\n", f);
}

static void caveat_timing(FILE *f, const hs_report *r, const cmp_count *between)
{
    long k = timed_alone(r);
    fputs("- **Timings** (tokens/s, generation time, time to first token, CPU seconds, peak RSS) depend on the "
          "machine and on what else ran on it: they hold for this machine and its load only. ", f);
    if (k < 0) fputs("They come from latency-mode prompts (one prompt at a time per rank; ranks sharing a node "
                     "still compete for its cores and memory bandwidth). ", f);
    else if (k > 0)
        fprintf(f, "They come only from latency-mode prompts (%ld of each cell, %s, run alone), not from the batched "
                   "runs. ", k, latency_sample_words(hs_study_attr(r->st, "study")));
    else fputs("No prompt was run alone in latency mode, so there are none here. ", f);
    if (between->cross > 0)
        fprintf(f, "%d timing pair(s) between variants ran on different hosts or in different sweep runs "
                   "(flagged where they occur). ", between->cross);
    fputs("At 0% nothing is pruned, so a speed difference there is noise, run order or gating/agency overhead, not "
          "pruning (and between variants that run the same code there, never overhead). Quality metrics "
          "(perplexity, diversity, repetition) are deterministic for a given build and CPU kernel set: the same "
          "on any number of ranks, but another build or CPU may change the last bits.\n\n", f);
}

static void write_caveats(FILE *f, const hs_report *r)
{
    cmp_count between, own;
    count_rows(r, 0, r->n_variant_pairs, &between);
    count_rows(r, r->n_variant_pairs, r->npair, &own);
    fputs("## Caveats\n\n", f);
    caveat_sizes(f, r, &between, &own);
    caveat_multiple(f, r, &between, &own);
    caveat_timing(f, r, &between);
}

static void write_body(FILE *f, const hs_report *r, const hs_report_md_extra *x)
{
    static const char *const own_metrics[] = {"speed", "corpus_perplexity", "perplexity", NULL};
    write_head(f, r);
    write_mode(f, r);
    hs_md_timing_order(f, r);
    hs_md_speed_copies(f, r);
    /* the seed document's claims are about its agency model: a study without one (a
     * comparison of pruning strategies, say) has nothing to say about them */
    if (r->subject >= 0) write_summary(f, r);
    write_caveats(f, r);
    fputs("## Coverage and missing data\n\n", f);
    hs_md_coverage(f, r);
    hs_md_missing(f, r);
    fputs("## Comparisons between variants\n\n", f);
    for (int p = 0; p < r->n_variant_pairs; p++) hs_md_comparison(f, r, p, NULL);
    fputs("## Each variant against its own lowest level\n\n", f);
    fputs("Levels run as separate work items, one after another, so a variant's timings at two levels were taken "
          "minutes apart and the machine's drift between them is in every pair: speed rows here show their numbers "
          "but no verdict (\"no verdict: levels timed apart\"). What pruning does to speed is read from the "
          "interleaved comparisons between variants at each level, with the 0% rows (nothing pruned) as the "
          "control.\n\n", f);
    for (int p = r->n_variant_pairs; p < r->npair; p++) hs_md_comparison(f, r, p, own_metrics);
    fputs("## Metrics\n\n", f);
    for (int t = 0; t < r->n_promised; t++) hs_md_metric_table(f, r, &r->tab[t]);
    hs_md_phases(f, r);
    if (x->effects) hs_effects_md(f, x->effects);
    write_figures(f, r, x);
    write_checks(f, r);
    write_provenance(f, r);
}

hs_status hs_report_md_write(const hs_report *r, const hs_report_md_extra *x, char **path)
{
    hs_out o;
    *path = NULL;
    hs_status st = hs_out_open(&o, r->opt.out, "REPORT.md");
    if (st) return st;
    write_body(o.f, r, x);
    *path = hs_strdup(o.path);
    st = hs_out_close(&o);
    if (!st && !*path) st = HS_ENOMEM;
    return st;
}
