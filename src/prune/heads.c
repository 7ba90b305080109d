/* heads.c: explicit head lists ("L.H,L.H,...") and the head count of a level. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/prune.h"

int hs_prune_count(double pct, int L, int H)
{
    return (int)lround(pct / 100.0 * (double)L * (double)H);
}

/* Parses a non-negative decimal integer at *p and advances *p; -1 when none. */
static long parse_index(const char **p)
{
    const char *s = *p;
    if (*s < '0' || *s > '9') return -1;
    long v = 0;
    while (*s >= '0' && *s <= '9' && v < 1000000) v = v * 10 + (*s++ - '0');
    *p = s;
    return v;
}

hs_status hs_heads_parse(const char *spec, int L, int H, float *gates)
{
    const char *p = spec;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        const char *start = p;
        long l = parse_index(&p), h = -1;
        if (l >= 0 && *p == '.') {
            p++;
            h = parse_index(&p);
        }
        if (l < 0 || h < 0 || (*p && *p != ',' && *p != ' '))
            return hs_err(HS_EINPUT, "head list '%s': '%.*s' is not LAYER.HEAD", spec, (int)strcspn(start, ", "),
                          start);
        if (l >= L || h >= H)
            return hs_err(HS_EINPUT, "head list '%s': head %ld.%ld does not exist (model has %d layers x %d heads)",
                          spec, l, h, L, H);
        gates[l * H + h] = 0.0f;
    }
    return HS_OK;
}
