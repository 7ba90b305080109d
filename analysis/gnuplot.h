/* gnuplot.h: the gnuplot kit of headsweep-report: finding and running gnuplot, writing
 * strings into its scripts, the terminal and output set-up, axes, and the NAME.dat /
 * NAME.gp pair a figure is made of. It knows nothing of reports or figures: callers pass
 * the output directory and the figure's file stem, and nothing here calls back. */
#ifndef HS_REPORT_GNUPLOT_H
#define HS_REPORT_GNUPLOT_H

#include <stdio.h>

#include "headsweep/util.h"
#include "outfile.h"

/* Series i's marks: a colour (8, told apart by colour-blind readers too), a point shape
 * (a filled gnuplot point type, 5 shapes; its open twin is one less) and a dash type (4):
 * shape and dash keep series apart in grayscale, where colours of like lightness merge.
 * hs_gp_series writes all three and lw 2 ("lw 2 pt P dt D lc rgb C"; open: the open
 * shape). */
const char *hs_gp_color(int i);
int hs_gp_point(int i);
int hs_gp_dash(int i);
void hs_gp_series(FILE *f, int i, int open);
/* Writes s (any bytes, e.g. a variant name from a results file) as a gnuplot string that
 * gnuplot takes literally: single-quoted, quotes doubled, control characters as spaces. */
void hs_gp_str(FILE *f, const char *s);
/* Largest PNG side we ask gnuplot for (Cairo's limit is 32767). */
#define HS_GP_MAX_PX 32000
/* A log-scaled axis ('x' or 'y') over data in [lo, hi] (both > 0): the range padded by 5% of
 * its span in log space (gnuplot's own autoscale would widen it to whole decades) and
 * explicit tics at 1-2-5 style values (gnuplot labels only decades, so a range inside one
 * decade would have no label). reverse flips the axis. */
void hs_gp_log_axis(FILE *f, char axis, double lo, double hi, int reverse);
/* The script's head: the terminal (pngcairo when available, else png) and output NAME.png of
 * width x height pixels, or, in the script's second pass (hs_pdf = 1, see hs_gp_close), pdfcairo
 * and NAME.pdf with the same layout (width/72 x height/72 inches). Starts with `reset`, so the
 * second pass draws on a clean slate. */
void hs_gp_preamble(FILE *f, const char *name, int width, int height);

/* Opens dir/NAME.dat and dir/NAME.gp. */
hs_status hs_gp_open(const char *dir, const char *name, hs_out *dat, hs_out *gp);
/* Ends the script NAME.gp with its PDF pass (it loads itself again with hs_pdf = 1 when
 * gnuplot has pdfcairo, so `gnuplot NAME.gp` draws NAME.png and NAME.pdf), then closes both
 * files (keeps the first error). */
hs_status hs_gp_close(hs_out *dat, hs_out *gp, const char *name);

/* gnuplot on PATH: fills path (cap bytes) and returns 1, or 0. */
int hs_gnuplot_find(char *path, size_t cap);
/* Runs `gnuplot NAME.gp` in dir (after removing an old NAME.png and NAME.pdf); HS_EIO with its
 * output when it fails, makes no PNG or makes a NAME.pdf that is not a PDF. *pdf = 1 when it
 * made NAME.pdf (0: this gnuplot has no pdfcairo). Warnings of a successful run go to stderr.
 * gnuplot draws into new temporary files through inherited descriptors, renamed over NAME.png
 * and NAME.pdf: a symlink at either name is replaced, never written through. */
hs_status hs_gnuplot_run(const char *gnuplot, const char *dir, const char *name, int *pdf);

#endif
