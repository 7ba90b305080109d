/* report_md.h: REPORT.md — the seed document's claims as measured numbers, coverage,
 * comparison and metric tables, figures (relative links), checks and provenance. */
#ifndef HS_REPORT_REPORT_MD_H
#define HS_REPORT_REPORT_MD_H

#include "analyze.h"
#include "effects.h"
#include "figures.h"

typedef struct {
    const hs_figures *figs;
    const char *figure_error; /* gnuplot's failure message, or NULL */
    const hs_effects *effects; /* each_head studies: the section "Each head alone"; NULL otherwise */
} hs_report_md_extra;

/* Writes DIR/REPORT.md; *path receives its path (caller frees). */
hs_status hs_report_md_write(const hs_report *r, const hs_report_md_extra *x, char **path);

#endif
