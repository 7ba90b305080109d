/* test_results_variant_line.c: a variant's line of the study text (src/results/variant_line.c):
 * the writer's exact bytes (a study's identity), every field read back as written, and
 * truncated, garbled or oversized lines from a hostile file read without reading past the
 * line and with the bad fields left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/results.h"

#define ALL_FIELDS ((1u << 14) - 1) /* HS_VL_GATING .. HS_VL_RECOVERY_CALIBRATED */
#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Every field set; the agency numbers are floats, as the sweep's hs_agency_params holds them. */
static hs_variant_line full(void)
{
    hs_variant_line v = {.gating = HS_GATING_SKIP, .agency_on = 1, .own_pruning = 1, .strategy = HS_STRATEGY_TAYLOR,
                         .scores = SHA, .per_layer = 1, .keep_one_per_layer = 1, .ablation = HS_ABLATION_MEAN,
                         .ema_alpha = 0.9f, .overload_threshold = 0.85f, .alignment_threshold = 0.6f,
                         .recovery_steps = 17, .factor = {1, 0.5, 0.7f, 0}, .percentile = 90.5,
                         .recovery_calibrated = 1};
    return v;
}

static const char full_text[] =
    "variant.v-1 = gating skip, agency on, strategy taylor, scores " SHA ", per_layer on, keep_one_per_layer on, "
    "ablation mean, ema_alpha 0.899999976, overload_threshold 0.850000024, alignment_threshold 0.600000024, "
    "recovery_steps 17, factors 1 0.5 0.699999988 0, thresholds calibrated at percentile 90.5, "
    "recovery calibrated (mean run length)";

static void assert_same_factors(const double *a, const double *b)
{
    for (int i = 0; i < HS_VARIANT_LINE_FACTORS; i++) assert_true((float)a[i] == (float)b[i]);
}

static void assert_same(const hs_variant_line *a, const hs_variant_line *b)
{
    assert_int_equal(a->gating, b->gating);
    assert_int_equal(a->agency_on, b->agency_on);
    assert_int_equal(a->own_pruning, b->own_pruning);
    assert_int_equal(a->strategy, b->strategy);
    assert_string_equal(a->scores, b->scores);
    assert_int_equal(a->per_layer, b->per_layer);
    assert_int_equal(a->keep_one_per_layer, b->keep_one_per_layer);
    assert_int_equal(a->ablation, b->ablation);
    /* exact as floats: %.9g of a float reads back as that float (not as the float's double) */
    assert_true((float)a->ema_alpha == (float)b->ema_alpha);
    assert_true((float)a->overload_threshold == (float)b->overload_threshold);
    assert_true((float)a->alignment_threshold == (float)b->alignment_threshold);
    assert_true(a->percentile == b->percentile);
    assert_int_equal(a->recovery_steps, b->recovery_steps);
    assert_same_factors(a->factor, b->factor);
    assert_int_equal(a->recovery_calibrated, b->recovery_calibrated);
}

/* The line of a study text "head\n<line>\ntail\n", found by name and read back. */
static void round_trip(const char *name, const hs_variant_line *v, unsigned want_has)
{
    char line[HS_VARIANT_LINE_MAX], study[HS_VARIANT_LINE_MAX + 64];
    assert_int_equal(hs_variant_line_format(name, v, line, sizeof line), HS_OK);
    snprintf(study, sizeof study, "schema_version = 3\n%s\nvariant.%s-2 = gating mask, agency off\n", line, name);
    hs_variant_line got;
    assert_int_equal(hs_variant_line_read(study, name, &got), 0);
    assert_int_equal(got.has, want_has);
    assert_same(&got, v);
}

static void test_full_line(void **state)
{
    hs_variant_line v = full();
    char line[HS_VARIANT_LINE_MAX];
    assert_int_equal(hs_variant_line_format("v-1", &v, line, sizeof line), HS_OK);
    assert_string_equal(line, full_text); /* the order and spelling older files were written with */
    round_trip("v-1", &v, ALL_FIELDS);
}

/* The optional groups are written only when set: a plain variant is two fields, and the
 * parse says so (zero ablation is not written, so not "had"). */
static void test_plain_line(void **state)
{
    hs_variant_line v = {.gating = HS_GATING_MASK};
    char line[HS_VARIANT_LINE_MAX];
    assert_int_equal(hs_variant_line_format("base", &v, line, sizeof line), HS_OK);
    assert_string_equal(line, "variant.base = gating mask, agency off");
    round_trip("base", &v, HS_VL_GATING | HS_VL_AGENCY);
    hs_variant_line own = {.gating = HS_GATING_SKIP, .own_pruning = 1, .strategy = HS_STRATEGY_RANDOM};
    assert_int_equal(hs_variant_line_format("r", &own, line, sizeof line), HS_OK);
    assert_string_equal(line, "variant.r = gating skip, agency off, strategy random, scores computed, per_layer off, "
                              "keep_one_per_layer off");
    round_trip("r", &own, HS_VL_GATING | HS_VL_AGENCY | HS_VL_STRATEGY | HS_VL_SCORES | HS_VL_PER_LAYER |
                              HS_VL_KEEP_ONE);
}

static void test_format_too_long(void **state)
{
    hs_variant_line v = full();
    char line[64];
    assert_int_equal(hs_variant_line_format("v-1", &v, line, sizeof line), HS_EINTERNAL);
}

/* Every prefix of the full value, in a buffer of exactly that size (no NUL after it: a
 * read past the end is a fault under ASan and valgrind): whole fields before the cut are
 * read as written, nothing else is claimed. */
static void test_truncated(void **state)
{
    const char *value = strstr(full_text, " = ") + 3;
    size_t n = strlen(value);
    hs_variant_line v = full(), got;
    for (size_t k = 0; k <= n; k++) {
        char *cut = malloc(k ? k : 1);
        assert_non_null(cut);
        memcpy(cut, value, k);
        int bad = hs_variant_line_parse(cut, k, &got);
        free(cut);
        assert_in_range(bad, 0, 1);
        assert_int_equal(got.has & ~ALL_FIELDS, 0);
        if (k == n || value[k] == ',') { /* cut at a field's end */
            assert_int_equal(bad, 0);
            if (got.has & HS_VL_FACTORS) assert_same_factors(got.factor, v.factor);
            if (got.has & HS_VL_SCORES) assert_string_equal(got.scores, v.scores);
        }
    }
    assert_int_equal(hs_variant_line_parse(value, n, &got), 0);
    assert_same(&got, &v);
    assert_int_equal(hs_variant_line_parse(value, 0, &got), 0);
    assert_int_equal(got.has, 0);
}

/* Malformed known fields are counted and left out; unknown ones are skipped; the rest is read. */
static void test_garbled(void **state)
{
    const char *value = "gating sk1p, agency maybe, colour blue, overload_threshold 0.5x, alignment_threshold nan, "
                        "recovery_steps -3, factors 1 2 3, scores XYZ, ema_alpha  0.5, per_layer on, "
                        "thresholds calibrated at percentile 95, recovery calibrated (mean run length) yes";
    hs_variant_line got;
    assert_int_equal(hs_variant_line_parse(value, strlen(value), &got), 9);
    assert_int_equal(got.has, HS_VL_PER_LAYER | HS_VL_PERCENTILE);
    assert_int_equal(got.per_layer, 1);
    assert_true(got.percentile == 95);
    /* a repeated field: neither value is taken */
    const char *twice = "gating skip, ablation mean, ablation zero";
    assert_int_equal(hs_variant_line_parse(twice, strlen(twice), &got), 1);
    assert_int_equal(got.has, HS_VL_GATING);
    assert_int_equal(got.gating, HS_GATING_SKIP);
    assert_int_equal(got.ablation, HS_ABLATION_ZERO); /* the refused field's zero, not the first value */
}

/* A field longer than any the writer makes is refused whole, without overrunning the copy. */
static void test_oversized_field(void **state)
{
    char value[600];
    memset(value, '7', sizeof value);
    memcpy(value, "agency on, recovery_steps ", 26);
    hs_variant_line got;
    assert_int_equal(hs_variant_line_parse(value, sizeof value, &got), 1);
    assert_int_equal(got.has, HS_VL_AGENCY);
    const char *embedded = "agency on\0, ablation mean";
    assert_int_equal(hs_variant_line_parse(embedded, 25, &got), 1);
}

/* Finding the line: by the whole name (not a prefix of another), none in a NULL text, and a
 * name too long for any line is not found rather than cut to a shorter one. */
static void test_read(void **state)
{
    const char *study = "variants = ab, a\nvariant.ab = gating skip, agency off, ablation mean\n"
                        "variant.a = gating mask, agency off\n";
    hs_variant_line got;
    assert_int_equal(hs_variant_line_read(study, "a", &got), 0);
    assert_int_equal(got.gating, HS_GATING_MASK);
    assert_false(got.has & HS_VL_ABLATION);
    assert_int_equal(hs_variant_line_read(study, "ab", &got), 0);
    assert_int_equal(got.ablation, HS_ABLATION_MEAN);
    assert_int_equal(hs_variant_line_read(study, "c", &got), -1);
    assert_int_equal(got.has, 0);
    assert_int_equal(hs_variant_line_read(NULL, "a", &got), -1);
    char name[HS_VARIANT_LINE_MAX + 8];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    assert_int_equal(hs_variant_line_read(study, name, &got), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_line), cmocka_unit_test(test_plain_line),
        cmocka_unit_test(test_format_too_long), cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbled), cmocka_unit_test(test_oversized_field),
        cmocka_unit_test(test_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
