/* caption.h: a figure's entry in the report's list and its caption, which every plot
 * writer extends with what it leaves out (see figures.h for the types). */
#ifndef HS_REPORT_CAPTION_H
#define HS_REPORT_CAPTION_H

#include "figures.h"

/* Appends a figure entry (name, caption printf) to out; returns it or NULL (ENOMEM). */
hs_figure *hs_fig_add(hs_figures *out, const char *name, const char *fmt, ...) HS_PRINTF(3, 4);
/* Appends to the caption, growing it: hs_fig_note after a space, hs_fig_more directly.
 * HS_ENOMEM (caption unchanged) when it cannot grow. */
hs_status hs_fig_note(hs_figure *fig, const char *fmt, ...) HS_PRINTF(2, 3);
hs_status hs_fig_more(hs_figure *fig, const char *fmt, ...) HS_PRINTF(2, 3);

#endif
