/* figures.h: plot data files, gnuplot scripts and (when gnuplot is on PATH) PNG figures.
 *
 * For each figure NAME the output directory receives NAME.dat (whitespace-separated
 * columns, first line a '#'-prefixed header, one block per series separated by two blank
 * lines so gnuplot's `index` selects it), NAME.gp (run as `gnuplot NAME.gp` inside the
 * directory) and NAME.png with NAME.pdf beside it (vector, same layout). A figure without any
 * data gets no files and says why. */
#ifndef HS_REPORT_FIGURES_H
#define HS_REPORT_FIGURES_H

#include "analyze.h"

typedef struct {
    char name[160];    /* file stem: speed_comparison */
    char *caption;     /* one paragraph for REPORT.md; grows with every note (never cut) */
    int has_data;      /* .dat and .gp were written */
    int rendered;      /* .png was made */
    int pdf;           /* .pdf was made beside it (gnuplot has pdfcairo) */
} hs_figure;

typedef struct {
    int n;
    hs_figure *fig;         /* (n) */
    int gnuplot_found;      /* gnuplot is on PATH */
    int attempted;          /* figures were to be rendered (no --no-figures, gnuplot found) */
    char gnuplot_path[512];
} hs_figures;

/* Writes every figure's data and script; captions list the cells a figure leaves out; renders PNGs unless
 * r->opt.figures is 0 or gnuplot is missing (then a note goes to stderr). A gnuplot failure is HS_EIO (exit 1) with
 * gnuplot's stderr in the message; the figures before it stay listed in out. */
hs_status hs_figures_write(const hs_report *r, hs_figures *out);
void hs_figures_free(hs_figures *f);

#endif
