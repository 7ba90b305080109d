/* figures_impl.h: helpers shared by the figure writers (figures.c, plots.c, headmaps.c,
 * gnuplot.c). Not part of the tool's interface. */
#ifndef HS_REPORT_FIGURES_IMPL_H
#define HS_REPORT_FIGURES_IMPL_H

#include <stdio.h>

#include "figures.h"
#include "outfile.h"

/* Colour of series i (cycles through 8 colours that print well). */
const char *hs_gp_color(int i);
/* Writes s as a gnuplot double-quoted string. */
void hs_gp_str(FILE *f, const char *s);
/* Largest PNG side we ask gnuplot for (Cairo's limit is 32767). */
#define HS_GP_MAX_PX 32000
/* A log-scaled axis ('x' or 'y') over data in [lo, hi] (both > 0): the range padded by 5% of
 * its span in log space (gnuplot's own autoscale would widen it to whole decades) and
 * explicit tics at 1-2-5 style values (gnuplot labels only decades, so a range inside one
 * decade would have no label). reverse flips the axis. */
void hs_gp_log_axis(FILE *f, char axis, double lo, double hi, int reverse);
/* Terminal (pngcairo when available, else png), output NAME.png, common settings. */
void hs_gp_preamble(FILE *f, const char *name, int width, int height);

/* Opens NAME.dat and NAME.gp in the output directory. */
hs_status hs_fig_open(const hs_report *r, const char *name, hs_out *dat, hs_out *gp);
/* Closes both (keeps the first error). */
hs_status hs_fig_close(hs_out *dat, hs_out *gp);

/* Appends a figure entry (name, caption printf) to out; returns it or NULL (ENOMEM). */
hs_figure *hs_fig_add(hs_figures *out, const char *name, const char *fmt, ...) HS_PRINTF(3, 4);
/* Appends to the caption, growing it: hs_fig_note after a space, hs_fig_more directly.
 * HS_ENOMEM (caption unchanged) when it cannot grow. */
hs_status hs_fig_note(hs_figure *fig, const char *fmt, ...) HS_PRINTF(2, 3);
hs_status hs_fig_more(hs_figure *fig, const char *fmt, ...) HS_PRINTF(2, 3);

/* The plots: each writes NAME.dat/.gp when it has data and sets fig->has_data. */
hs_status hs_plot_level_lines(const hs_report *r, hs_figure *fig, const char *table_key,
                              const char *ylabel, int logy);
hs_status hs_plot_pruning_summary(const hs_report *r, hs_figure *fig);
/* Corpus perplexity against % heads off, one line per variant, with a table (corpus.c). */
hs_status hs_plot_corpus_perplexity(const hs_report *r, hs_figure *fig);
hs_status hs_plot_radar(const hs_report *r, hs_figure *fig);
hs_status hs_plot_heads_pruned(const hs_report *r, hs_figure *fig);
hs_status hs_plot_occupancy(const hs_report *r, hs_figure *fig, int v);

/* gnuplot on PATH: fills path (cap bytes) and returns 1, or 0. */
int hs_gnuplot_find(char *path, size_t cap);
/* Runs `gnuplot NAME.gp` in dir; HS_EIO with its stderr when it fails or makes no PNG.
 * Warnings of a successful run are copied to stderr. */
hs_status hs_gnuplot_run(const char *gnuplot, const char *dir, const char *name);

#endif
