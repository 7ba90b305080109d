/* fuzz_results_report.c: whole results files (HDF5, docs/results-format.md) through the
 * report's reader, in memory: hs_h5_read_study_image opens the bytes with HDF5's core
 * driver (hs_results_reader_open_image: the schema check, then the schema version) and
 * reads every dataset the report uses, as headsweep-report does for a file on disk.
 * A refused file is HS_EINPUT naming it. An accepted one has every extent in
 * 1..HS_RESULTS_DIM_MAX, names the report may print (letters, digits, '_', '-'), done
 * and pruned flags 0/1, finite levels, origins in range, and every array readable over
 * its whole extent (AddressSanitizer checks the bytes). HDF5 itself is not instrumented:
 * its crashes show, its branches give no coverage feedback. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "h5read.h"
#include "headsweep/results.h"

#define NAME "fuzzed-results.h5"

static void check_names(char *const *names, int n, const char *what)
{
    FZ_CHECK(names, "%s: no names", what);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        FZ_CHECK(len >= 1 && len < 64, "%s %d: length %zu", what, i, len);
        for (const char *c = names[i]; *c; c++)
            FZ_CHECK((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                         *c == '-', "%s %d: character 0x%02x", what, i, (unsigned char)*c);
    }
}

static void check_flags(const uint8_t *f, size_t n, const char *what)
{
    FZ_CHECK(f || !n, "%s: missing", what);
    for (size_t i = 0; i < n; i++) FZ_CHECK(f[i] <= 1, "%s[%zu] = %u", what, i, f[i]);
}

static void check_study(const hs_study *s)
{
    const int dims[] = {s->nv, s->nl, s->np, s->L, s->H, s->ns};
    for (int i = 0; i < 6; i++) FZ_CHECK(dims[i] >= 1 && dims[i] <= HS_RESULTS_DIM_MAX, "extent %d is %d", i, dims[i]);
    size_t nvl = (size_t)s->nv * (size_t)s->nl, nvlp = nvl * (size_t)s->np, LH = (size_t)s->L * (size_t)s->H;
    check_names(s->variant, s->nv, "variant");
    check_names(s->state, s->ns, "state");
    check_names(s->gating, s->nv, "gating");
    for (int l = 0; l < s->nl; l++) FZ_CHECK(isfinite(s->level[l]), "level %d is %g", l, s->level[l]);
    for (int p = 0; p < s->np; p++) fz_touch(s->prompt[p], strlen(s->prompt[p]));
    check_flags(s->done, nvlp, "done");
    check_flags(s->pruned, nvl * LH, "pruned");
    fz_touch(s->score, LH * sizeof *s->score);
    if (s->occupancy) fz_touch(s->occupancy, nvl * LH * (size_t)s->ns * sizeof *s->occupancy);
    for (int m = 0; m < s->nm; m++) {
        FZ_CHECK(s->metric[m].name && s->metric[m].units && s->metric[m].v, "metric %d incomplete", m);
        fz_touch(s->metric[m].v, nvlp * sizeof *s->metric[m].v);
    }
    for (size_t i = 0; s->origin && i < nvlp; i++)
        FZ_CHECK(s->origin[i] >= -1 && s->origin[i] < s->norigins, "origin %zu is %d of %d", i, s->origin[i],
                 s->norigins);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_study s;
    hs_err_clear();
    hs_status st = hs_h5_read_study_image(NAME, data, size, &s);
    if (st) fz_expect_input_error(st, NAME, NULL);
    else {
        fz_trace(HS_OK);
        check_study(&s);
    }
    hs_study_free(&s);
    return 0;
}
