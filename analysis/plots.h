/* plots.h: the figure writers of headsweep-report (plots.c, corpus.c, paired.c, headmaps.c), called
 * by figures.c. Each writes NAME.dat / NAME.gp through the gnuplot kit (gnuplot.h) when it
 * has data, sets fig->has_data, and notes in the caption what it leaves out. */
#ifndef HS_REPORT_PLOTS_H
#define HS_REPORT_PLOTS_H

#include "analyze.h"
#include "figures.h"

hs_status hs_plot_level_lines(const hs_report *r, hs_figure *fig, const char *table_key,
                              const char *ylabel, int logy);
hs_status hs_plot_pruning_summary(const hs_report *r, hs_figure *fig);
/* Corpus perplexity against % heads off, one line per variant, with a table (corpus.c). */
hs_status hs_plot_corpus_perplexity(const hs_report *r, hs_figure *fig);
/* Paired difference against level per comparison between variants, one panel per metric (paired.c). */
hs_status hs_plot_paired_differences(const hs_report *r, hs_figure *fig);
hs_status hs_plot_radar(const hs_report *r, hs_figure *fig);
hs_status hs_plot_heads_pruned(const hs_report *r, hs_figure *fig);
hs_status hs_plot_occupancy(const hs_report *r, hs_figure *fig, int v);

#endif
