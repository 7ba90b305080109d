/* caption.c: figure entries and their growing captions (see caption.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "caption.h"

/* Appends sep and the formatted text to the caption, reallocating it to fit. */
static hs_status caption_vappend(hs_figure *fig, const char *sep, const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) return hs_err(HS_EINTERNAL, "figure %s: caption format failed", fig->name);
    size_t old = fig->caption ? strlen(fig->caption) : 0, k = old ? strlen(sep) : 0;
    char *c = realloc(fig->caption, old + k + (size_t)n + 1);
    if (!c) return hs_err(HS_ENOMEM, "out of memory for the caption of %s", fig->name);
    memcpy(c + old, sep, k);
    vsnprintf(c + old + k, (size_t)n + 1, fmt, ap);
    fig->caption = c;
    return HS_OK;
}

hs_status hs_fig_note(hs_figure *fig, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hs_status st = caption_vappend(fig, " ", fmt, ap);
    va_end(ap);
    return st;
}

hs_status hs_fig_more(hs_figure *fig, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hs_status st = caption_vappend(fig, "", fmt, ap);
    va_end(ap);
    return st;
}

hs_figure *hs_fig_add(hs_figures *out, const char *name, const char *fmt, ...)
{
    hs_figure *grown = realloc(out->fig, (size_t)(out->n + 1) * sizeof *grown);
    if (!grown) {
        hs_err(HS_ENOMEM, "out of memory listing figures");
        return NULL;
    }
    out->fig = grown;
    hs_figure *f = &grown[out->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    va_list ap;
    va_start(ap, fmt);
    hs_status st = caption_vappend(f, "", fmt, ap);
    va_end(ap);
    return st ? NULL : f;
}
