/* test_stats.c: the report's statistics (analysis/stats.c) against answers known in
 * closed form: type-7 quantiles, the exact bootstrap distribution of a two-point sample,
 * the bootstrap standard error sigma_hat / sqrt(n) of a mean, paired percent differences
 * computed per prompt, Pareto dominance, and the sign-flip test's p-values against a
 * brute-force enumeration of every sign assignment written out here. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analyze.h"
#include "stats.h"

static void test_rng_reproducible(void **state)
{
    hs_rng a, b, c;
    hs_rng_seed(&a, 42);
    hs_rng_seed(&b, 42);
    hs_rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = hs_rng_next(&a);
        assert_true(x == hs_rng_next(&b));
        differ += x != hs_rng_next(&c);
    }
    assert_true(differ > 90);
}

/* xoshiro256** reference output for the splitmix64-expanded seed 0: pins the generator,
 * so intervals printed by an older report stay reproducible. */
static void test_rng_known_values(void **state)
{
    hs_rng r;
    hs_rng_seed(&r, 0);
    /* splitmix64(0) sequence, first value: the published test vector. */
    assert_true(r.s[0] == 0xe220a8397b1dcdafULL);
    uint64_t first = hs_rng_next(&r);
    /* result = rotl(s1 * 5, 7) * 9, computed independently here. */
    hs_rng q;
    hs_rng_seed(&q, 0);
    uint64_t m = q.s[1] * 5;
    assert_true(first == ((m << 7) | (m >> 57)) * 9);
}

static void test_rng_below_range_and_balance(void **state)
{
    hs_rng r;
    hs_rng_seed(&r, 7);
    int count[3] = {0};
    for (int i = 0; i < 30000; i++) {
        uint64_t k = hs_rng_below(&r, 3);
        assert_true(k < 3);
        count[k]++;
    }
    /* Each share 1/3 +- 5 binomial sd (sd = sqrt(30000 * 2/9) ~ 82). */
    for (int k = 0; k < 3; k++) assert_true(abs(count[k] - 10000) < 410);
    assert_true(hs_rng_below(&r, 1) == 0);
}

static void test_stream_seed_depends_on_key_and_seed(void **state)
{
    assert_true(hs_stream_seed(1, "a") == hs_stream_seed(1, "a"));
    assert_true(hs_stream_seed(1, "a") != hs_stream_seed(1, "b"));
    assert_true(hs_stream_seed(1, "a") != hs_stream_seed(2, "a"));
}

static void test_quantile_type7(void **state)
{
    const double x[] = {1, 2, 3, 4};
    assert_true(hs_quantile_sorted(x, 4, 0.0) == 1.0);
    assert_true(hs_quantile_sorted(x, 4, 1.0) == 4.0);
    assert_true(fabs(hs_quantile_sorted(x, 4, 0.5) - 2.5) < 1e-15);
    assert_true(fabs(hs_quantile_sorted(x, 4, 0.25) - 1.75) < 1e-15);
    const double one[] = {5};
    assert_true(hs_quantile_sorted(one, 1, 0.3) == 5.0);
}

static void test_bootstrap_degenerate(void **state)
{
    hs_ci c;
    assert_int_equal(hs_bootstrap_mean(NULL, 0, 100, 0.95, 1, &c), HS_OK);
    assert_int_equal(c.n, 0);
    assert_true(isnan(c.mean) && isnan(c.lo) && isnan(c.hi));
    const double one[] = {3.5};
    assert_int_equal(hs_bootstrap_mean(one, 1, 100, 0.95, 1, &c), HS_OK);
    assert_true(c.mean == 3.5 && isnan(c.lo) && isnan(c.hi) && isnan(c.sd));
    const double same[] = {2, 2, 2, 2, 2};
    assert_int_equal(hs_bootstrap_mean(same, 5, 500, 0.95, 1, &c), HS_OK);
    assert_true(c.mean == 2 && c.lo == 2 && c.hi == 2 && c.sd == 0);
}

/* Sample {0, 1}: a resample's mean is 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4, so with
 * 2000 resamples the 2.5% and 97.5% quantiles are exactly 0 and 1. */
static void test_bootstrap_two_point_exact(void **state)
{
    const double x[] = {0, 1};
    hs_ci c;
    assert_int_equal(hs_bootstrap_mean(x, 2, 2000, 0.95, 99, &c), HS_OK);
    assert_true(c.mean == 0.5);
    assert_true(c.lo == 0.0);
    assert_true(c.hi == 1.0);
    assert_true(fabs(c.sd - sqrt(0.5)) < 1e-15);
}

/* x = 1..100: the bootstrap distribution of the mean has sd sigma_hat / sqrt(n) with
 * sigma_hat^2 = (n^2 - 1) / 12 = 833.25 (the plug-in variance), so the 95% percentile
 * interval is close to 50.5 -+ 1.96 * 2.8866 = [44.842, 56.158]. Monte Carlo error of each
 * end with 20000 resamples is about 0.06; the tolerance allows 6 of those. */
static void test_bootstrap_matches_normal_theory(void **state)
{
    double x[100];
    for (int i = 0; i < 100; i++) x[i] = i + 1;
    hs_ci c;
    assert_int_equal(hs_bootstrap_mean(x, 100, 20000, 0.95, 2024, &c), HS_OK);
    double se = sqrt(833.25 / 100.0);
    assert_true(fabs(c.mean - 50.5) < 1e-12);
    assert_true(fabs(c.lo - (50.5 - 1.959964 * se)) < 0.35);
    assert_true(fabs(c.hi - (50.5 + 1.959964 * se)) < 0.35);
    assert_true(c.lo < c.mean && c.mean < c.hi);
}

static void test_bootstrap_reproducible_with_seed(void **state)
{
    const double x[] = {3.1, 4.1, 5.9, 2.6, 5.3, 5.8, 9.7, 9.3, 2.3, 8.4};
    hs_ci a, b, c;
    hs_bootstrap_mean(x, 10, 2000, 0.95, 5, &a);
    hs_bootstrap_mean(x, 10, 2000, 0.95, 5, &b);
    hs_bootstrap_mean(x, 10, 2000, 0.95, 6, &c);
    assert_true(a.lo == b.lo && a.hi == b.hi);
    assert_true(a.lo != c.lo || a.hi != c.hi);
    assert_true(a.lo <= a.mean && a.mean <= a.hi);
}

static void test_paired_logratio_per_prompt(void **state)
{
    /* Prompt 3 is missing in a, prompt 4 has a zero baseline, prompt 5 a zero value: all
     * three left out, the last two counted. */
    const double a[] = {110, 90, 200, NAN, 5, 0};
    const double b[] = {100, 100, 100, 100, 0, 7};
    double d[6];
    int zero = -1;
    int n = hs_paired_logratio(a, b, 6, 0, d, &zero);
    assert_int_equal(n, 3);
    assert_int_equal(zero, 2);
    assert_true(fabs(d[0] - log(1.1)) < 1e-15 && fabs(d[1] - log(0.9)) < 1e-15 && fabs(d[2] - log(2.0)) < 1e-15);

    /* Antisymmetry, the reason for logs: a = 2b on one prompt and b = 2a on another is no
     * change (mean 0), where the mean of percent differences would say +25% (+100%, -50%),
     * and +25% again with a and b swapped. */
    const double x[] = {2, 1}, y[] = {1, 2};
    n = hs_paired_logratio(x, y, 2, 0, d, NULL);
    assert_int_equal(n, 2);
    assert_true(d[0] + d[1] == 0.0);
    n = hs_paired_logratio(y, x, 2, 0, d + 2, NULL);
    assert_true(n == 2 && d[2] == -d[0] && d[3] == -d[1]);
}

static void test_paired_logratio_inverted(void **state)
{
    /* 1/a against 1/b: times 2 s and 4 s against 4 s -> efficiency ratio 2 and 1. */
    const double a[] = {2, 4, 0};
    const double b[] = {4, 4, 4};
    double d[3];
    int zero = 0;
    int n = hs_paired_logratio(a, b, 3, 1, d, &zero);
    assert_int_equal(n, 2);
    assert_int_equal(zero, 1);
    assert_true(fabs(d[0] - log(2.0)) < 1e-15 && d[1] == 0.0);
    assert_true(fabs(100.0 * expm1(d[0]) - 100.0) < 1e-12);
}

static void test_pareto_front(void **state)
{
    /* higher x better, lower y better */
    const double x[] = {1, 2, 1, 0.5, 2, NAN, 2};
    const double y[] = {1, 2, 2, 0.5, 3, 0.1, 2};
    uint8_t f[7];
    hs_pareto_front(x, y, 7, f);
    const uint8_t want[] = {1, 1, 0, 1, 0, 0, 1}; /* equal points do not dominate each other */
    assert_memory_equal(f, want, 7);
}

static void test_ci_sign(void **state)
{
    hs_ci c = {10, 1, 1, 0.5, 2};
    assert_int_equal(hs_ci_sign(&c), 1);
    c.lo = -2, c.hi = -0.1;
    assert_int_equal(hs_ci_sign(&c), -1);
    c.lo = -1, c.hi = 1;
    assert_int_equal(hs_ci_sign(&c), 0);
    c.n = 1;
    assert_int_equal(hs_ci_sign(&c), -2);
}

static void test_finite_values(void **state)
{
    double x[] = {1, NAN, 3, INFINITY, 5};
    assert_int_equal(hs_finite_values(x, 5, x), 3);
    assert_true(x[0] == 1 && x[1] == 3 && x[2] == 5);
}

/* p-value by brute force: every one of the 2^k sign assignments of the non-zero values,
 * each sum added up afresh, ties within 1e-9 of sum |d| counted as extreme. */
static double brute_p(const double *d, int n)
{
    double v[24], s = 0, abs_sum = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (d[i] != 0) v[k++] = d[i], s += d[i], abs_sum += fabs(d[i]);
    double t = fabs(s) - 1e-9 * abs_sum;
    if (k == 0 || t <= 0) return 1.0;
    long hits = 0;
    for (long mask = 0; mask < (1L << k); mask++) {
        double x = 0;
        for (int i = 0; i < k; i++) x += (mask >> i & 1) ? -v[i] : v[i];
        hits += fabs(x) >= t;
    }
    return (double)hits / (double)(1L << k);
}

/* The case: 4 prompts of 24 differ, all upwards, 20 are ties. Only the 4 count;
 * the two extreme assignments of 16 give p = 2/16 = 0.125. */
static void test_signflip_ties_dropped(void **state)
{
    double d[24] = {0};
    d[3] = 2.5, d[8] = 1.0, d[11] = 4.0, d[20] = 0.5;
    hs_perm t;
    assert_int_equal(hs_signflip_test(d, 24, 20, 1000, 1, &t), HS_OK);
    assert_int_equal(t.n_nonzero, 4);
    assert_true(t.exact && t.p == 0.125);
    /* No difference at all: every assignment ties, p = 1. */
    double z[5] = {0};
    assert_int_equal(hs_signflip_test(z, 5, 20, 1000, 1, &t), HS_OK);
    assert_true(t.n_nonzero == 0 && t.p == 1.0);
    /* Equal magnitudes: {2, 1, -1}: |S| >= 2 in 6 of 8 assignments (the ties count). */
    const double e[] = {2, 1, -1};
    assert_int_equal(hs_signflip_test(e, 3, 20, 1000, 1, &t), HS_OK);
    assert_true(t.p == 0.75);
}

/* Random samples of 1..20 values, some zeros, some repeated magnitudes: the meet-in-the-
 * middle count equals brute force exactly. */
static void test_signflip_exact_vs_enumeration(void **state)
{
    hs_rng r;
    hs_rng_seed(&r, 77);
    for (int trial = 0; trial < 60; trial++) {
        int n = 1 + (int)hs_rng_below(&r, 20);
        double d[20];
        for (int i = 0; i < n; i++) {
            int k = (int)hs_rng_below(&r, 9);
            d[i] = k == 0 ? 0.0 : (double)(k - 4) * 0.37 + (trial % 3 ? 0.1 * (double)hs_rng_below(&r, 5) : 0);
        }
        hs_perm t;
        assert_int_equal(hs_signflip_test(d, n, 20, 1000, 1, &t), HS_OK);
        double want = brute_p(d, n);
        assert_true(t.exact);
        assert_true(fabs(t.p - want) < 1e-15);
    }
}

/* 22 non-zero values with max_exact 20: Monte Carlo with 20000 draws lands within 5
 * binomial standard errors of the exact p (brute force over 4M assignments). */
static void test_signflip_monte_carlo(void **state)
{
    double d[22];
    for (int i = 0; i < 22; i++) d[i] = (i % 3 == 0 ? -1.0 : 1.0) * (0.5 + 0.1 * i);
    double want = brute_p(d, 22);
    hs_perm t;
    assert_int_equal(hs_signflip_test(d, 22, 20, 20000, 5, &t), HS_OK);
    assert_true(!t.exact && t.resamples == 20000 && t.p > 0);
    double se = sqrt(want * (1 - want) / 20000);
    assert_true(fabs(t.p - want) < 5 * se + 1.0 / 20001);
    /* The same seed gives the same p; exact mode agrees with brute force above 20 too. */
    hs_perm u;
    hs_signflip_test(d, 22, 20, 20000, 5, &u);
    assert_true(u.p == t.p);
    assert_int_equal(hs_signflip_test(d, 22, 26, 0, 5, &u), HS_OK);
    assert_true(u.exact && fabs(u.p - want) < 1e-15);
}

/* Above max_exact, a tail the Monte Carlo draws barely reach is counted exactly (branch and
 * bound): 30 values of one sign give 2 / 2^30, where 1000 draws could say no less than
 * 1 / 1001 and Holm over a few hundred rows could then never reach 0.05 (outside review,
 * 2026-12-07); random strong effects of 8..26 values agree with the meet-in-the-middle
 * count to rounding; 100,000 values of one sign take 2k + 1 steps, not a k-deep recursion. */
static void test_signflip_tail_exact(void **state)
{
    double d[30];
    for (int i = 0; i < 30; i++) d[i] = 1.0 + 0.01 * i;
    hs_perm t;
    assert_int_equal(hs_signflip_test(d, 30, 26, 1000, 3, &t), HS_OK);
    assert_true(t.exact && t.resamples == 0 && t.p == ldexp(1.0, -29));
    hs_rng r;
    hs_rng_seed(&r, 11);
    for (int trial = 0; trial < 40; trial++) {
        int n = 8 + (int)hs_rng_below(&r, 19);
        double v[26];
        for (int i = 0; i < n; i++) v[i] = 0.8 + (double)hs_rng_below(&r, 1000) / 1000.0 - (i % 7 == 0 ? 1.2 : 0.0);
        hs_perm mm, bb;
        assert_int_equal(hs_signflip_test(v, n, 26, 100, 1, &mm), HS_OK);
        assert_int_equal(hs_signflip_test(v, n, 0, 100, 1, &bb), HS_OK);
        assert_true(mm.exact);
        if (bb.exact) assert_true(fabs(bb.p - mm.p) <= 1e-12 * mm.p);
        else assert_true(bb.resamples == 100 && bb.p >= 10.0 / 101); /* drawn often: the estimate stays */
    }
    int big = 100000;
    double *w = malloc((size_t)big * sizeof *w);
    assert_non_null(w);
    for (int i = 0; i < big; i++) w[i] = 1.0 + (double)(i % 97);
    assert_int_equal(hs_signflip_test(w, big, 26, 200, 2, &t), HS_OK);
    assert_true(t.exact && t.p == DBL_MIN); /* 2 / 2^100000 underflows: the smallest double, above it */
    free(w);
}

/* A p-value just under alpha never prints as alpha or above beside a verdict that needs
 * p < alpha (0.0496 read "0.050", outside review 2026-12-07), nor one at alpha below it. */
static void test_fmt_p_value(void **state)
{
    char b[32];
    assert_string_equal(hs_fmt_p_value(b, sizeof b, 0.125, 0.05), "0.125");
    assert_string_equal(hs_fmt_p_value(b, sizeof b, 0.049637, 0.05), "0.0496");
    assert_string_equal(hs_fmt_p_value(b, sizeof b, 0.0499996, 0.05), "0.0499996");
    assert_string_equal(hs_fmt_p_value(b, sizeof b, 0.05, 0.05), "0.050");
    assert_string_equal(hs_fmt_p_value(b, sizeof b, 0.0504, 0.05), "0.050");
    assert_string_equal(hs_fmt_p_value(b, sizeof b, 1.2e-5, 0.05), "1.2e-05");
    assert_string_equal(hs_fmt_p_value(b, sizeof b, 0.00995, 0.01), "0.00995");
    assert_string_equal(hs_fmt_p_value(b, sizeof b, NAN, 0.05), "n/a");
}

/* Holm 1979 by hand: p = (0.01, 0.04, 0.03, 0.005), m = 4 -> sorted 0.005, 0.01, 0.03, 0.04
 * times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06. */
static void test_holm(void **state)
{
    const double p[] = {0.01, 0.04, 0.03, NAN, 0.005};
    double adj[5];
    assert_int_equal(hs_holm(p, 5, adj), HS_OK);
    assert_true(fabs(adj[0] - 0.03) < 1e-15 && fabs(adj[1] - 0.06) < 1e-15 && fabs(adj[2] - 0.06) < 1e-15);
    assert_true(isnan(adj[3]) && fabs(adj[4] - 0.02) < 1e-15);
    const double big[] = {0.5, 0.6};
    assert_int_equal(hs_holm(big, 2, adj), HS_OK);
    assert_true(adj[0] == 1.0 && adj[1] == 1.0);
}

/* Ratio estimator: with unit weights it is the mean, resample for resample (same draws);
 * with weights it is sum x / sum w, not the mean of x_i / w_i. */
static void test_bootstrap_ratio(void **state)
{
    const double x[] = {3.1, 4.1, 5.9, 2.6, 5.3, 5.8, 9.7, 9.3, 2.3, 8.4};
    const double one[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    hs_ci a, b;
    assert_int_equal(hs_bootstrap_mean(x, 10, 2000, 0.95, 5, &a), HS_OK);
    assert_int_equal(hs_bootstrap_ratio(x, one, 10, 2000, 0.95, 5, &b), HS_OK);
    assert_true(a.mean == b.mean && a.lo == b.lo && a.hi == b.hi && isnan(b.sd));
    const double xs[] = {10, 2}, w[] = {10, 1}; /* ratios 1 and 2; sum/sum = 12/11 */
    assert_int_equal(hs_bootstrap_ratio(xs, w, 2, 1000, 0.95, 5, &b), HS_OK);
    assert_true(fabs(b.mean - 12.0 / 11.0) < 1e-15 && b.lo == 1.0 && b.hi == 2.0);
}

/* Clusters of one value each: the cluster bootstrap is the ordinary one, draw for draw.
 * Two clusters {1, 3} and {2}: the pooled mean is 2 and resamples give 2 (mixed), 2
 * (first twice) or 2 (second twice): a zero-width interval at 2. One cluster: no interval. */
static void test_bootstrap_cluster(void **state)
{
    const double x[] = {3.1, 4.1, 5.9, 2.6, 5.3, 5.8, 9.7, 9.3, 2.3, 8.4};
    const int own[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    hs_ci a, b;
    int nc = 0;
    assert_int_equal(hs_bootstrap_mean(x, 10, 2000, 0.95, 5, &a), HS_OK);
    assert_int_equal(hs_bootstrap_cluster_ratio(x, NULL, own, 10, 2000, 0.95, 5, &b, &nc), HS_OK);
    assert_int_equal(nc, 10);
    assert_true(a.mean == b.mean && a.lo == b.lo && a.hi == b.hi);
    const double y[] = {1, 2, 3};
    const int cl[] = {0, 1, 0};
    assert_int_equal(hs_bootstrap_cluster_ratio(y, NULL, cl, 3, 500, 0.95, 5, &b, &nc), HS_OK);
    assert_true(nc == 2 && b.mean == 2 && b.lo == 2 && b.hi == 2);
    const int one[] = {2, 2, 2};
    assert_int_equal(hs_bootstrap_cluster_ratio(y, NULL, one, 3, 500, 0.95, 5, &b, &nc), HS_OK);
    assert_true(nc == 1 && b.mean == 2 && isnan(b.lo) && isnan(b.hi));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_reproducible),
        cmocka_unit_test(test_rng_known_values),
        cmocka_unit_test(test_rng_below_range_and_balance),
        cmocka_unit_test(test_stream_seed_depends_on_key_and_seed),
        cmocka_unit_test(test_quantile_type7),
        cmocka_unit_test(test_bootstrap_degenerate),
        cmocka_unit_test(test_bootstrap_two_point_exact),
        cmocka_unit_test(test_bootstrap_matches_normal_theory),
        cmocka_unit_test(test_bootstrap_reproducible_with_seed),
        cmocka_unit_test(test_paired_logratio_per_prompt),
        cmocka_unit_test(test_paired_logratio_inverted),
        cmocka_unit_test(test_pareto_front),
        cmocka_unit_test(test_ci_sign),
        cmocka_unit_test(test_finite_values),
        cmocka_unit_test(test_signflip_ties_dropped),
        cmocka_unit_test(test_signflip_exact_vs_enumeration),
        cmocka_unit_test(test_signflip_monte_carlo),
        cmocka_unit_test(test_signflip_tail_exact),
        cmocka_unit_test(test_fmt_p_value),
        cmocka_unit_test(test_holm),
        cmocka_unit_test(test_bootstrap_ratio),
        cmocka_unit_test(test_bootstrap_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
