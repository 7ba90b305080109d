/* figures.c: the list of figures and their rendering (see figures.h). The plots are drawn
 * by plots.c, corpus.c and headmaps.c, run through the gnuplot kit (gnuplot.h). */
#include <stdlib.h>
#include <string.h>

#include "caption.h"
#include "gnuplot.h"
#include "plots.h"

static hs_status plot_speed(const hs_report *r, hs_figure *f)
{
    return hs_plot_level_lines(r, f, "decode_tokens_per_second", "decode speed", 0); /* the table adds [tokens/s] */
}

static hs_status plot_perplexity(const hs_report *r, hs_figure *f)
{
    /* Corpus (token-weighted) perplexity, the tables' primary quality number (issue 18). */
    return hs_plot_level_lines(r, f, "corpus_reference_perplexity", "corpus reference perplexity (lower is better)",
                               1);
}

/* The figures every report has, in the order REPORT.md shows them. */
static const struct {
    const char *name, *caption;
    hs_status (*plot)(const hs_report *, hs_figure *);
} fixed_figures[] = {
    {"paired_differences", "The paired comparisons between variants (comparisons.csv): the mean paired "
     "difference of the first variant from the second against pruning level, with its 95% bootstrap interval "
     "(prompts resampled in pairs), one panel for each comparison metric of the tables: corpus perplexity as the "
     "ratio of the two corpus perplexities minus 1, i.e. 100 (exp(D) - 1) for the per-token NLL difference D "
     "(nats, the data's nll_nats column); every other panel (speed, efficiency = 1 / generation time, reference "
     "perplexity and quality = 1 / reference perplexity, distinct-2, the perplexity of the generated text) as "
     "the geometric mean of the per-prompt ratios, 100 (exp(mean log ratio) - 1). The line is zero, the grey "
     "band the equivalence "
     "margin; a filled point has a verdict of a difference (interval excluding 0, p < 0.05, mean beyond the "
     "margin), an open one any other verdict. The 0% level, where nothing is pruned, is the control.",
     hs_plot_paired_differences},
    {"speed_comparison", "Decode speed (tokens/s) against pruning level, mean over the cell's prompts with its "
     "95% bootstrap interval (prompts resampled), one line per variant, the axis from 0. The variants of a level "
     "were timed interleaved, prompt by prompt, but the levels ran one after another, minutes apart: a line's "
     "change from level to level carries the machine's drift between those minutes as well as pruning's effect "
     "(the report gives it no verdict), so compare variants within a level. The bars include the spread between "
     "prompts; whether two variants differ is answered by the paired comparisons above, which remove it.",
     plot_speed},
    {"perplexity_comparison", "Corpus reference perplexity (exp(sum NLL / sum tokens) over the cell's prompts, "
     "log scale) against pruning level, with the 95% interval of the corpus perplexity table. Overlapping bars do "
     "not mean no difference: see the paired comparisons.", plot_perplexity},
    {"corpus_perplexity", "The head-pruning literature's figure: corpus perplexity of the reference texts "
     "(exp(sum NLL / sum tokens) over the cell's prompts) against the share of heads switched off, one line "
     "per variant and its strategy, with the 95% interval of the corpus perplexity table.",
     hs_plot_corpus_perplexity},
    {"pruning_summary", "Speed against quality per variant and level: mean decode tokens/s against corpus "
     "reference perplexity (exp(sum NLL / sum tokens) over the cell's prompts, as in the figure above), thin bars "
     "the 95% intervals of their tables (the spread between prompts, which the paired comparisons remove); labels: "
     "level %, where points of the same level coincide one label stands for them; rings, joined by a dashed line "
     "when there are several: each variant's Pareto frontier among the means. The levels were timed minutes apart "
     "(see the speed figure), so a frontier's steps in speed may be the machine's load at the time rather than "
     "pruning: its quality axis is sound, its speed axis compares levels only as far as the load held still.",
     hs_plot_pruning_summary},
    {"radar_comparison", "At the highest level: mean decode speed, 1/corpus reference perplexity "
     "(token-weighted), mean distinct-2 and 1/mean generation time, each divided by the best variant's: "
     "ratios of these numbers, not means of per-prompt ratios as in the paired comparisons.", hs_plot_radar},
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
        hs_status st = hs_gnuplot_run(out->gnuplot_path, r->opt.out, out->fig[i].name, &out->fig[i].pdf);
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
