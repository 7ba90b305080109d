/* report_timing.h: REPORT.md paragraphs about timings: whether the variants' timings were
 * interleaved (docs/timing.md) and resources per phase. */
#ifndef HS_REPORT_REPORT_TIMING_H
#define HS_REPORT_REPORT_TIMING_H

#include <stdio.h>

#include "analyze.h"
#include "outfile.h"

/* One paragraph: interleaved or not (then speed verdicts are withheld), and the repeats. */
void hs_md_timing_order(FILE *f, const hs_report *r);
/* REPORT.md's paragraph on the speed copies the timings had (nothing when no prompt is done). */
void hs_md_speed_copies(FILE *f, const hs_report *r);
/* "## Resources per phase": wall, CPU and RSS growth of prefill, decode and scoring. */
void hs_md_phases(FILE *f, const hs_report *r);

#endif
