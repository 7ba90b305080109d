/* tables.h: tables.md, one CSV per table, and the markdown pieces REPORT.md reuses.
 *
 * Files written into the output directory:
 *   tables.md                 every table below in markdown
 *   coverage.csv              prompts done per variant and level
 *   table_<metric>.csv        mean, sd and bootstrap interval per variant and level
 *   comparisons.csv           paired differences (percent changes) of every comparison
 * CSV numbers are printed with %.9g; markdown with 4 significant digits (percentages with
 * two decimals). */
#ifndef HS_REPORT_TABLES_H
#define HS_REPORT_TABLES_H

#include <stdio.h>

#include "analyze.h"

hs_status hs_tables_write(const hs_report *r);

/* Markdown pieces. */
void hs_md_coverage(FILE *f, const hs_report *r);
/* Bullet list of cells with missing prompts and of NaN values left out; returns the
 * number of bullets (0: "no missing data" is printed). */
int hs_md_missing(FILE *f, const hs_report *r);
void hs_md_metric_table(FILE *f, const hs_report *r, const hs_table *t);
/* Comparison table of pair p for the metrics whose keys are listed (NULL-terminated; NULL
 * list = all). */
void hs_md_comparison(FILE *f, const hs_report *r, int p, const char *const *metrics);
/* "+12.34% (95% CI +8.10 .. +16.02, 24 prompts): faster" or why it is not available. */
void hs_md_cmp_phrase(FILE *f, const hs_report *r, int p, int m, int l);

#endif
