/* stats.h: the statistics of the report, as pure functions on arrays of doubles.
 *
 * - A seeded generator (xoshiro256**, seeded through splitmix64; Blackman & Vigna 2018)
 *   so every confidence interval is reproducible from the seed printed in the report.
 * - Percentile bootstrap of the mean (Efron & Tibshirani 1993, ch. 13) with quantiles
 *   by linear interpolation between order statistics (Hyndman & Fan 1996 type 7, numpy's
 *   default), so an independent reader can recompute them.
 * - Paired per-prompt log ratios, the design behind every variant comparison.
 * - Sign-flip (permutation) test of a zero mean difference, exact by enumeration when the
 *   non-zero differences are few, Monte Carlo otherwise, and Holm's step-down adjustment.
 * - Pareto frontier of (speed up, perplexity down) points.
 * Missing values are NaN on input; callers filter them out before bootstrapping. */
#ifndef HS_REPORT_STATS_H
#define HS_REPORT_STATS_H

#include <stdint.h>

#include "headsweep/util.h"

typedef struct {
    uint64_t s[4];
} hs_rng;

void hs_rng_seed(hs_rng *r, uint64_t seed);
uint64_t hs_rng_next(hs_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias (rejection sampling). */
uint64_t hs_rng_below(hs_rng *r, uint64_t n);
/* Seed of one named statistic: splitmix64(seed ^ FNV-1a(key)). Keying each statistic
 * by name keeps its interval unchanged when other variants or levels are added. */
uint64_t hs_stream_seed(uint64_t seed, const char *key);

typedef struct {
    int n;       /* values used */
    double mean; /* NaN when n == 0 */
    double sd;   /* sample standard deviation (n - 1); NaN when n < 2 */
    double lo;   /* bootstrap interval; NaN when n < 2 */
    double hi;
} hs_ci;

/* Quantile p in [0, 1] of n >= 1 sorted values, type 7. */
double hs_quantile_sorted(const double *x, int n, double p);

/* Mean, sd and percentile-bootstrap interval (coverage conf, e.g. 0.95) of the mean of
 * x[0..n) from B resamples of size n drawn with the generator seeded with seed. All x
 * must be finite. Fails only when the B means cannot be allocated. */
hs_status hs_bootstrap_mean(const double *x, int n, int B, double conf, uint64_t seed,
                            hs_ci *out);

/* Ratio estimator sum(x) / sum(w) of x[0..n), w[0..n) (w > 0; e.g. a prompt's total log
 * likelihood and its token count, giving the corpus per-token mean), with a percentile
 * bootstrap that resamples the (x_i, w_i) pairs together (Efron & Tibshirani 1993, sec.
 * 9.4): same generator, quantiles and seed use as hs_bootstrap_mean. out->sd is NaN. */
hs_status hs_bootstrap_ratio(const double *x, const double *w, int n, int B, double conf, uint64_t seed,
                             hs_ci *out);

/* Cluster bootstrap of the ratio sum(x) / sum(w) (w NULL: all 1, the pooled mean), for
 * values that come in dependent groups (prompts of one book): cl[i] in [0, n) names x[i]'s
 * cluster; whole clusters are drawn with replacement, as many as there are (Davison &
 * Hinkley 1997, sec. 3.8, "Hierarchical data", the first-stage-only scheme). *n_clusters
 * receives how many clusters have values; with fewer than 2 the interval is NaN. */
hs_status hs_bootstrap_cluster_ratio(const double *x, const double *w, const int *cl, int n, int B, double conf,
                                     uint64_t seed, hs_ci *out, int *n_clusters);

/* Keeps the finite values of x[0..n) in out (which may be x); returns how many. */
int hs_finite_values(const double *x, int n, double *out);

/* Per-prompt log ratios of a against b, ln a_i - ln b_i, for every i where both are finite
 * and above 0 (with invert, of 1/a against 1/b: ln b_i - ln a_i). Writes them to d in prompt
 * order and returns how many; *n_zero (if not NULL) receives the number of pairs left out
 * because a value was 0 (or below). Unlike the percent difference (a_i - b_i) / b_i, a log
 * ratio changes sign when a and b swap, so two exchangeable variants have mean 0 and a
 * sign-flip test of it is fair; the percent difference's mean is biased upwards by about
 * half the variance of the log ratios (exchangeable variants read "worse" and "faster" at
 * once). 100 (exp(mean) - 1) is the percent change of the geometric mean ratio. */
int hs_paired_logratio(const double *a, const double *b, int n, int invert, double *d, int *n_zero);

/* Two-sided sign-flip test of "the mean of d is 0" (Fisher 1935, ch. 21; Good 2005,
 * "Permutation, Parametric and Bootstrap Tests of Hypotheses", sec. 3.1.2): under the null
 * hypothesis each paired difference is as likely to have either sign, so the statistic
 * |sum d_i| is compared with its values under every sign assignment. Zero differences
 * (prompts on which the two variants agree exactly) add nothing to any sum and are not
 * counted in n_nonzero. */
typedef struct {
    int n_nonzero; /* differences != 0 */
    int exact;     /* 1: all 2^n_nonzero assignments enumerated; 0: Monte Carlo */
    int resamples; /* Monte Carlo assignments drawn (0 when exact) */
    double p;      /* two-sided p-value; 1 when n_nonzero == 0 (every assignment ties) */
} hs_perm;

/* The test on d[0..n) (all finite): exact when n_nonzero <= max_exact (at most
 * HS_PERM_EXACT_MAX), else B random assignments drawn with the generator seeded with seed
 * and p = (1 + #{|S*| >= |S|}) / (B + 1) (Phipson & Smyth 2010), never 0. Sums within a
 * relative 1e-9 of the observed one count as ties (>=). Fails only on allocation. */
#define HS_PERM_EXACT_MAX 26
/* Above max_exact, when fewer than HS_PERM_TAIL_DRAWS of the B draws reach |S|, the tail is
 * counted exactly by branch and bound if that takes at most HS_PERM_TAIL_NODES steps (then
 * exact = 1, resamples = 0), else the Monte Carlo p stays. */
#define HS_PERM_TAIL_DRAWS 10
#define HS_PERM_TAIL_NODES 4000000L
hs_status hs_signflip_test(const double *d, int n, int max_exact, int B, uint64_t seed, hs_perm *out);

/* Holm's step-down adjustment (Holm 1979) of the m p-values p[0..m): with p sorted
 * ascending, adj_(j) = max over i <= j of min(1, (m - i + 1) p_(i)). NaN entries are left
 * NaN and not counted in m. Rejecting where adj < alpha controls the family-wise error
 * rate at alpha. Fails only on allocation. */
hs_status hs_holm(const double *p, int m, double *adj);

/* front[i] = 1 when point i is not dominated: no j has x_j >= x_i and y_j <= y_i with one
 * of them strict (higher x and lower y are better). Points with NaN are never on it. */
void hs_pareto_front(const double *x, const double *y, int n, uint8_t *front);

/* Verdict of an interval for a difference: +1 when it lies above 0, -1 below, 0 when
 * it contains 0, and -2 when it is undefined (too few pairs). */
int hs_ci_sign(const hs_ci *c);

#endif
