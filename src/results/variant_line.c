/* variant_line.c: a variant's line of the study text ("variant.NAME = gating skip, agency on,
 * ..."), written and read here only, so the sweep that writes it (hs_study_text) and the
 * report that reads it back never disagree about its fields.
 *
 * The line is part of the study's identity: the writer must produce the same bytes for the
 * same settings as every earlier version (files are compared by their study text), so
 * optional fields keep their order and appear only where they always did. The reader takes
 * the text from a results file, i.e. hostile input: it never reads past len, copies each
 * field into a bounded buffer, skips unknown fields (as the report's substring searches
 * did) and leaves out of `has` a known field whose value does not parse. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/results.h"

/* ---- writing ---- */

typedef struct {
    char *buf;
    size_t cap, len;
    int over; /* a piece did not fit */
} line_buf;

static void lb_printf(line_buf *b, const char *fmt, ...) HS_PRINTF(2, 3);

static void lb_printf(line_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = b->over ? -1 : vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) b->over = 1;
    else b->len += (size_t)n;
}

static const char *onoff(int b) { return b ? "on" : "off"; }

/* The agency numbers: floats in the sweep, written with %.9g, enough to read back the same float. */
static void format_agency(line_buf *b, const hs_variant_line *v)
{
    lb_printf(b, ", ema_alpha %.9g, overload_threshold %.9g, alignment_threshold %.9g, recovery_steps %d, "
                 "factors %.9g %.9g %.9g %.9g",
              v->ema_alpha, v->overload_threshold, v->alignment_threshold, v->recovery_steps, v->factor[0],
              v->factor[1], v->factor[2], v->factor[3]);
    /* the thresholds above were derived at plan time (hs_agency_calibrate) */
    if (v->percentile > 0) lb_printf(b, ", thresholds calibrated at percentile %.9g", v->percentile);
    if (v->recovery_calibrated) lb_printf(b, ", recovery calibrated (mean run length)");
}

hs_status hs_variant_line_format(const char *name, const hs_variant_line *v, char *buf, size_t cap)
{
    line_buf b = {buf, cap, 0, cap == 0};
    lb_printf(&b, "variant.%s = gating %s, agency %s", name, hs_gating_name(v->gating), onoff(v->agency_on));
    /* only a variant that prunes its own way says so: older studies keep their text */
    if (v->own_pruning)
        lb_printf(&b, ", strategy %s, scores %s, per_layer %s, keep_one_per_layer %s", hs_strategy_name(v->strategy),
                  v->scores[0] ? v->scores : "computed", onoff(v->per_layer), onoff(v->keep_one_per_layer));
    if (v->ablation != HS_ABLATION_ZERO) lb_printf(&b, ", ablation %s", hs_ablation_name(v->ablation));
    if (v->agency_on) format_agency(&b, v);
    if (b.over)
        return hs_err(HS_EINTERNAL, "study text: the line of variant %.64s is longer than %zu bytes", name, cap);
    return HS_OK;
}

/* ---- reading ---- */

typedef int (*field_reader)(const char *value, void *dst); /* 0: read; -1: malformed */

static int read_onoff(const char *s, void *dst)
{
    if (strcmp(s, "on") && strcmp(s, "off")) return -1;
    *(int *)dst = !strcmp(s, "on");
    return 0;
}

/* The *_parse functions are the names' owners; their message on a bad name is not wanted
 * here (a bad field is only left out), but leaving it set is harmless: every later error
 * sets its own. */
static int read_gating(const char *s, void *dst) { return hs_gating_parse(s, dst) ? -1 : 0; }
static int read_strategy(const char *s, void *dst) { return hs_strategy_parse(s, dst) ? -1 : 0; }
static int read_ablation(const char *s, void *dst) { return hs_ablation_parse(s, dst) ? -1 : 0; }

/* A finite number at s (no leading blank: the writer puts exactly one space before it). */
static int scan_number(const char *s, char **end, double *x)
{
    if (!*s || isspace((unsigned char)*s)) return -1;
    errno = 0;
    *x = strtod(s, end);
    return *end == s || errno || !isfinite(*x) ? -1 : 0;
}

/* A finite number that is the whole of s. */
static int read_number(const char *s, void *dst)
{
    char *end;
    double x;
    if (scan_number(s, &end, &x) || *end) return -1;
    *(double *)dst = x;
    return 0;
}

/* A count in decimal digits that is the whole of s. */
static int read_count(const char *s, void *dst)
{
    if (!isdigit((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (*end || errno || x > INT_MAX) return -1;
    *(int *)dst = (int)x;
    return 0;
}

/* "a b c d": the four state factors, each finite. */
static int read_factors(const char *s, void *dst)
{
    double f[HS_VARIANT_LINE_FACTORS];
    char *end = (char *)s;
    for (int i = 0; i < HS_VARIANT_LINE_FACTORS; i++)
        if ((i && *end++ != ' ') || scan_number(end, &end, &f[i])) return -1;
    if (*end) return -1;
    memcpy(dst, f, sizeof f);
    return 0;
}

/* A scores digest (lowercase hex, the writer's sha256), or "computed", which is stored as ""
 * (what the writer takes for "no scores file"). */
static int read_scores(const char *s, void *dst)
{
    size_t n = strlen(s);
    if (!strcmp(s, "computed")) n = 0;
    else if (!n || n >= sizeof((hs_variant_line *)0)->scores || strspn(s, "0123456789abcdef") != n) return -1;
    memcpy(dst, s, n);
    ((char *)dst)[n] = '\0';
    return 0;
}

/* A field without a value: present means on. */
static int read_flag(const char *s, void *dst)
{
    if (*s) return -1;
    *(int *)dst = 1;
    return 0;
}

#define FIELD(key, bit, read, member) \
    {key, bit, read, offsetof(hs_variant_line, member), sizeof((hs_variant_line *)0)->member}

static const struct {
    const char *key;
    unsigned bit;
    field_reader read;
    size_t at, size; /* where the value goes in hs_variant_line */
} fields[] = {
    FIELD("gating", HS_VL_GATING, read_gating, gating),
    FIELD("agency", HS_VL_AGENCY, read_onoff, agency_on),
    FIELD("strategy", HS_VL_STRATEGY, read_strategy, strategy),
    FIELD("scores", HS_VL_SCORES, read_scores, scores),
    FIELD("per_layer", HS_VL_PER_LAYER, read_onoff, per_layer),
    FIELD("keep_one_per_layer", HS_VL_KEEP_ONE, read_onoff, keep_one_per_layer),
    FIELD("ablation", HS_VL_ABLATION, read_ablation, ablation),
    FIELD("ema_alpha", HS_VL_EMA_ALPHA, read_number, ema_alpha),
    FIELD("overload_threshold", HS_VL_OVERLOAD, read_number, overload_threshold),
    FIELD("alignment_threshold", HS_VL_ALIGNMENT, read_number, alignment_threshold),
    FIELD("recovery_steps", HS_VL_RECOVERY_STEPS, read_count, recovery_steps),
    FIELD("factors", HS_VL_FACTORS, read_factors, factor),
    FIELD("thresholds calibrated at percentile", HS_VL_PERCENTILE, read_number, percentile),
    FIELD("recovery calibrated (mean run length)", HS_VL_RECOVERY_CALIBRATED, read_flag, recovery_calibrated),
};

/* One field "key value" (NUL-terminated copy): 0 read or unknown (skipped), -1 malformed. */
static int parse_field(const char *field, hs_variant_line *out)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        size_t n = strlen(fields[i].key);
        if (strncmp(field, fields[i].key, n) || (field[n] && field[n] != ' ')) continue;
        /* a repeated field is refused: which of the two would the writer have meant? A
         * refused field keeps its zero value, so no reader can take it by mistake. */
        if (out->has & fields[i].bit || fields[i].read(field + n + !!field[n], (char *)out + fields[i].at)) {
            out->has &= ~fields[i].bit;
            memset((char *)out + fields[i].at, 0, fields[i].size);
            return -1;
        }
        out->has |= fields[i].bit;
        return 0;
    }
    return 0;
}

int hs_variant_line_parse(const char *value, size_t len, hs_variant_line *out)
{
    memset(out, 0, sizeof *out);
    int bad = 0;
    const char *p = value, *end = value + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = (size_t)((comma ? comma : end) - p);
        char field[HS_VARIANT_FIELD_MAX];
        /* longer than any field the writer makes, or not text */
        if (n >= sizeof field || memchr(p, '\0', n)) bad++;
        else {
            memcpy(field, p, n);
            field[n] = '\0';
            bad += parse_field(field, out) ? 1 : 0;
        }
        p = comma ? comma + 1 : end;
        if (p < end && *p == ' ') p++; /* the writer's ", " */
    }
    out->own_pruning = !!(out->has & HS_VL_STRATEGY);
    return bad;
}

int hs_variant_line_read(const char *study, const char *name, hs_variant_line *out)
{
    memset(out, 0, sizeof *out);
    char key[HS_VARIANT_LINE_MAX];
    int n = snprintf(key, sizeof key, "variant.%s", name);
    size_t len = 0;
    const char *value = n < 0 || (size_t)n >= sizeof key ? NULL : hs_results_study_value(study, key, &len);
    if (!value) return -1;
    return hs_variant_line_parse(value, len, out);
}
