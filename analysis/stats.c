/* stats.c: seeded generator, percentile bootstrap, paired differences, sign-flip test,
 * Holm adjustment, Pareto frontier.
 * See stats.h for the definitions; everything here is pure and deterministic. */
#include "stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

void hs_rng_seed(hs_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = hs_splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t hs_rng_next(hs_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Rejection of the lowest 2^64 mod n raw values leaves a range whose size is a multiple
 * of n, so x % n is exactly uniform. */
/* hs_rng_below with its rejection threshold (0 - n) % n computed once by the caller: the
 * bootstrap loops draw millions of indices below one n, and that division per draw was a
 * good part of a 130-level report's time. Same draws as hs_rng_below. */
static inline uint64_t rng_below_t(hs_rng *r, uint64_t n, uint64_t threshold)
{
    for (;;) {
        uint64_t x = hs_rng_next(r);
        if (x >= threshold) return x % n;
    }
}

uint64_t hs_rng_below(hs_rng *r, uint64_t n) { return rng_below_t(r, n, (0 - n) % n); }

uint64_t hs_stream_seed(uint64_t seed, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    uint64_t x = seed ^ h;
    return hs_splitmix64(&x);
}

double hs_quantile_sorted(const double *x, int n, double p)
{
    double h = (n - 1) * p;
    int lo = (int)floor(h);
    if (lo >= n - 1) return x[n - 1];
    if (lo < 0) return x[0];
    return x[lo] + (h - lo) * (x[lo + 1] - x[lo]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* x[k] becomes the k-th smallest of x[0..n), with no larger value before it and no smaller
 * one after it (Hoare's selection; x holds no NaN). */
static void select_kth(double *x, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = x[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot) i++;
            while (x[j] > pivot) j--;
            if (i <= j) {
                double t = x[i];
                x[i++] = x[j];
                x[j--] = t;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return;
    }
}

/* hs_quantile_sorted of x as if sorted, by selection: O(n) rather than a sort's O(n log n)
 * (the bootstrap intervals sorted B replicates twice per comparison). Reorders x. */
static double quantile_select(double *x, int n, double p)
{
    double h = (n - 1) * p;
    int lo = (int)floor(h);
    if (lo >= n - 1) lo = n - 1;
    if (lo < 0) lo = 0;
    select_kth(x, n, lo);
    double a = x[lo], b = a;
    if (lo + 1 < n) { /* the next order statistic: the smallest after position lo */
        b = x[lo + 1];
        for (int i = lo + 2; i < n; i++)
            if (x[i] < b) b = x[i];
    }
    if ((int)floor(h) >= n - 1 || h < 0) return a; /* as hs_quantile_sorted: the extreme itself */
    return a + (h - lo) * (b - a);
}

/* The percentile interval of B replicates r at level conf (r reordered). */
static void percentile_ci(double *r, int B, double conf, hs_ci *out)
{
    int nan = 0;
    for (int b = 0; b < B; b++) nan |= isnan(r[b]);
    if (nan) { /* selection needs an order; keep what the sort gave such input */
        qsort(r, (size_t)B, sizeof *r, cmp_double);
        out->lo = hs_quantile_sorted(r, B, (1.0 - conf) / 2.0);
        out->hi = hs_quantile_sorted(r, B, 1.0 - (1.0 - conf) / 2.0);
        return;
    }
    out->lo = quantile_select(r, B, (1.0 - conf) / 2.0);
    out->hi = quantile_select(r, B, 1.0 - (1.0 - conf) / 2.0);
}

static void mean_sd(const double *x, int n, double *mean, double *sd)
{
    double s = 0.0;
    for (int i = 0; i < n; i++) s += x[i];
    *mean = n > 0 ? s / n : NAN;
    if (n < 2) {
        *sd = NAN;
        return;
    }
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *sd = sqrt(ss / (n - 1));
}

hs_status hs_bootstrap_mean(const double *x, int n, int B, double conf, uint64_t seed,
                            hs_ci *out)
{
    out->n = n;
    out->lo = out->hi = NAN;
    mean_sd(x, n, &out->mean, &out->sd);
    if (n < 2 || B < 1) return HS_OK;
    double *means = hs_malloc((size_t)B * sizeof *means, "bootstrap means");
    if (!means) return HS_ENOMEM;
    hs_rng r;
    hs_rng_seed(&r, seed);
    uint64_t threshold = (0 - (uint64_t)n) % (uint64_t)n;
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int i = 0; i < n; i++) s += x[rng_below_t(&r, (uint64_t)n, threshold)];
        means[b] = s / n;
    }
    percentile_ci(means, B, conf, out);
    free(means);
    return HS_OK;
}

hs_status hs_bootstrap_ratio(const double *x, const double *w, int n, int B, double conf, uint64_t seed,
                             hs_ci *out)
{
    double sx = 0.0, sw = 0.0;
    for (int i = 0; i < n; i++) sx += x[i], sw += w[i];
    *out = (hs_ci){n, n > 0 ? sx / sw : NAN, NAN, NAN, NAN};
    if (n < 2 || B < 1) return HS_OK;
    double *r = hs_malloc((size_t)B * sizeof *r, "bootstrap ratios");
    if (!r) return HS_ENOMEM;
    hs_rng g;
    hs_rng_seed(&g, seed);
    uint64_t threshold = (0 - (uint64_t)n) % (uint64_t)n;
    for (int b = 0; b < B; b++) {
        double bx = 0.0, bw = 0.0;
        for (int i = 0; i < n; i++) {
            uint64_t k = rng_below_t(&g, (uint64_t)n, threshold);
            bx += x[k], bw += w[k];
        }
        r[b] = bx / bw;
    }
    percentile_ci(r, B, conf, out);
    free(r);
    return HS_OK;
}

hs_status hs_bootstrap_cluster_ratio(const double *x, const double *w, const int *cl, int n, int B, double conf,
                                     uint64_t seed, hs_ci *out, int *n_clusters)
{
    /* per-cluster sums, then the clusters that have values packed to the front */
    double *cx = hs_calloc((size_t)(n > 0 ? n : 1) * 2, sizeof *cx, "cluster sums");
    double *r = hs_malloc((size_t)(B > 0 ? B : 1) * sizeof *r, "cluster bootstrap");
    int *has = hs_calloc((size_t)(n > 0 ? n : 1), sizeof *has, "clusters");
    hs_status st = cx && r && has ? HS_OK : HS_ENOMEM;
    int nc = 0;
    double sx = 0.0, sw = 0.0;
    for (int i = 0; !st && i < n; i++) {
        cx[2 * cl[i]] += x[i], cx[2 * cl[i] + 1] += w ? w[i] : 1.0, has[cl[i]] = 1;
        sx += x[i], sw += w ? w[i] : 1.0;
    }
    for (int c = 0; !st && c < n; c++)
        if (has[c]) cx[2 * nc] = cx[2 * c], cx[2 * nc + 1] = cx[2 * c + 1], nc++;
    *out = (hs_ci){n, n > 0 ? sx / sw : NAN, NAN, NAN, NAN};
    *n_clusters = nc;
    if (!st && nc >= 2 && B >= 1) {
        hs_rng g;
        hs_rng_seed(&g, seed);
        uint64_t threshold = (0 - (uint64_t)nc) % (uint64_t)nc;
        for (int b = 0; b < B; b++) {
            double bx = 0.0, bw = 0.0;
            for (int i = 0; i < nc; i++) {
                uint64_t k = rng_below_t(&g, (uint64_t)nc, threshold);
                bx += cx[2 * k], bw += cx[2 * k + 1];
            }
            r[b] = bx / bw;
        }
        percentile_ci(r, B, conf, out);
    }
    free(cx);
    free(r);
    free(has);
    return st;
}

int hs_finite_values(const double *x, int n, double *out)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) out[k++] = x[i];
    return k;
}

int hs_paired_logratio(const double *a, const double *b, int n, int invert, double *d, int *n_zero)
{
    int k = 0, zero = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) continue;
        if (!(a[i] > 0.0 && b[i] > 0.0)) {
            zero++;
            continue;
        }
        double x = log(a[i]) - log(b[i]);
        d[k++] = invert ? -x : x;
    }
    if (n_zero) *n_zero = zero;
    return k;
}

/* ---- sign-flip test ---- */

/* All 2^k signed sums of v[0..k), k <= 13, into out (bit i of the index set: -v[i]). Each
 * sum is added up directly, so no rounding error accumulates across the enumeration. */
static void signed_sums(const double *v, int k, double *out)
{
    for (uint32_t mask = 0; mask < (1u << k); mask++) {
        double s = 0.0;
        for (int i = 0; i < k; i++) s += (mask >> i & 1u) ? -v[i] : v[i];
        out[mask] = s;
    }
}

/* First index of sorted x[0..n) with x[i] >= t (n when none). */
static size_t lower_bound(const double *x, size_t n, double t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x[mid] < t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* First index of sorted x[0..n) with x[i] > t (n when none). */
static size_t upper_bound(const double *x, size_t n, double t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x[mid] <= t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Exact count of assignments with |S*| >= t > 0 by meeting in the middle: the sums of the
 * two halves are enumerated apart, and for each sum a of the first half the sums b of the
 * second with b >= t - a or b <= -t - a (disjoint since t > 0) are counted by binary
 * search: 2 x 2^13 sums at most instead of 2^26. */
static hs_status exact_count(const double *v, int k, double t, double *count)
{
    int h = k / 2;
    size_t na = (size_t)1 << h, nb = (size_t)1 << (k - h);
    double *a = hs_malloc((na + nb) * sizeof *a, "sign-flip sums");
    if (!a) return HS_ENOMEM;
    double *b = a + na;
    signed_sums(v, h, a);
    signed_sums(v + h, k - h, b);
    qsort(b, nb, sizeof *b, cmp_double);
    double c = 0.0;
    for (size_t i = 0; i < na; i++)
        c += (double)(nb - lower_bound(b, nb, t - a[i])) + (double)upper_bound(b, nb, -t - a[i]);
    free(a);
    *count = c;
    return HS_OK;
}

/* Monte Carlo count over B assignments, 64 random signs per generator draw. */
static double mc_count(const double *v, int k, double t, int B, uint64_t seed)
{
    hs_rng r;
    hs_rng_seed(&r, seed);
    double c = 0.0;
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        uint64_t bits = 0;
        for (int i = 0; i < k; i++) {
            if (i % 64 == 0) bits = hs_rng_next(&r);
            s += (bits >> (i % 64) & 1u) ? -v[i] : v[i];
        }
        c += fabs(s) >= t;
    }
    return c;
}

static int cmp_double_desc(const void *a, const void *b) { return cmp_double(b, a); }

/* Exact P(|S*| >= t), t > 0, for any k by branch and bound, or -1 when that takes over
 * max_nodes steps. By symmetry it is 2 P(S* >= t) with S* = sum s_i a_i, a = |v| sorted
 * descending (the distribution of a sign-flip sum does not depend on the signs of v). A
 * node fixes the signs of a[0..i) with partial sum x; with R_i = a_i + ... + a_{k-1}, if
 * x - R_i >= t every completion counts (2^(k-i) of 2^k: 2^-i of the probability), if
 * x + R_i < t none does, else both signs of a_i are tried. The work grows with the number
 * of nodes near the boundary, so it is cheap exactly where the Monte Carlo estimate is
 * poor: far in the tail, where few assignments reach t (all signs alike: 2k + 1 nodes). */
static double tail_exact(const double *v, int k, double t, long max_nodes)
{
    double *a = hs_malloc((size_t)(2 * k + 2) * sizeof *a, "sign-flip bound");
    int *depth = hs_malloc((size_t)(k + 2) * sizeof *depth, "sign-flip bound");
    double *sx = hs_malloc((size_t)(k + 2) * sizeof *sx, "sign-flip bound");
    if (!a || !depth || !sx) {
        free(a), free(depth), free(sx);
        return -1.0;
    }
    double *R = a + k; /* (k + 1) suffix sums */
    for (int i = 0; i < k; i++) a[i] = fabs(v[i]);
    qsort(a, (size_t)k, sizeof *a, cmp_double_desc);
    R[k] = 0.0;
    for (int i = k - 1; i >= 0; i--) R[i] = R[i + 1] + a[i];
    double p = 0.0;
    long nodes = 0;
    int top = 0; /* explicit stack: recursion would be k deep (a study of 10^5 prompts) */
    depth[0] = 0, sx[0] = 0.0;
    while (top >= 0 && nodes <= max_nodes) {
        int i = depth[top];
        double x = sx[top--];
        nodes++;
        if (x - R[i] >= t) p += ldexp(1.0, -i);
        else if (x + R[i] >= t) { /* i < k here: R[k] = 0 decides every leaf */
            depth[++top] = i + 1, sx[top] = x - a[i];
            depth[++top] = i + 1, sx[top] = x + a[i];
        }
    }
    free(a), free(depth), free(sx);
    /* 2 / 2^k underflows past k = 1074: DBL_MIN is above the true value, so still a bound */
    return top >= 0 ? -1.0 : fmax(2.0 * p, DBL_MIN);
}

hs_status hs_signflip_test(const double *d, int n, int max_exact, int B, uint64_t seed, hs_perm *out)
{
    *out = (hs_perm){0, 1, 0, 1.0};
    double *v = hs_malloc((size_t)(n > 0 ? n : 1) * sizeof *v, "sign-flip values");
    if (!v) return HS_ENOMEM;
    double s = 0.0, abs_sum = 0.0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (d[i] != 0.0) {
            v[k++] = d[i];
            s += d[i];
            abs_sum += fabs(d[i]);
        }
    out->n_nonzero = k;
    /* Sums that equal |S| up to rounding are ties and count as at least as extreme; when
     * S itself is 0 up to rounding every assignment does, and p stays 1. */
    double t = fabs(s) - 1e-9 * abs_sum;
    hs_status st = HS_OK;
    if (k > 0 && t > 0) {
        if (max_exact > HS_PERM_EXACT_MAX) max_exact = HS_PERM_EXACT_MAX;
        double c = 0.0;
        out->exact = k <= max_exact;
        if (out->exact) {
            st = exact_count(v, k, t, &c);
            out->p = c / ldexp(1.0, k);
        } else {
            out->resamples = B;
            c = mc_count(v, k, t, B, seed);
            out->p = (1.0 + c) / (B + 1.0);
            /* Few draws reached |S|: p sits near its floor 1 / (B + 1), which Holm multiplies
             * by the family size (700 rows at B = 10^4 could never reach 0.05); the exact
             * tail is then usually cheap to count. */
            double e = c < HS_PERM_TAIL_DRAWS ? tail_exact(v, k, t, HS_PERM_TAIL_NODES) : -1.0;
            if (e >= 0.0) out->p = e, out->exact = 1, out->resamples = 0;
        }
    }
    free(v);
    return st;
}

/* ---- Holm ---- */

typedef struct {
    double p;
    int i;
} p_index;

static int cmp_p_index(const void *a, const void *b)
{
    const p_index *x = a, *y = b;
    if (x->p != y->p) return (x->p > y->p) - (x->p < y->p);
    return (x->i > y->i) - (x->i < y->i);
}

hs_status hs_holm(const double *p, int m, double *adj)
{
    p_index *o = hs_malloc((size_t)(m > 0 ? m : 1) * sizeof *o, "Holm order");
    if (!o) return HS_ENOMEM;
    int k = 0;
    for (int i = 0; i < m; i++) {
        adj[i] = NAN;
        if (!isnan(p[i])) o[k++] = (p_index){p[i], i};
    }
    qsort(o, (size_t)k, sizeof *o, cmp_p_index);
    double run = 0.0;
    for (int j = 0; j < k; j++) {
        double a = (k - j) * o[j].p;
        if (a > 1.0) a = 1.0;
        if (a > run) run = a;
        adj[o[j].i] = run;
    }
    free(o);
    return HS_OK;
}

/* ---- Pareto ---- */

static int dominates(double xj, double yj, double xi, double yi)
{
    return xj >= xi && yj <= yi && (xj > xi || yj < yi);
}

void hs_pareto_front(const double *x, const double *y, int n, uint8_t *front)
{
    for (int i = 0; i < n; i++) {
        front[i] = isfinite(x[i]) && isfinite(y[i]);
        for (int j = 0; j < n && front[i]; j++)
            if (j != i && isfinite(x[j]) && isfinite(y[j]) && dominates(x[j], y[j], x[i], y[i]))
                front[i] = 0;
    }
}

int hs_ci_sign(const hs_ci *c)
{
    if (c->n < 2 || !isfinite(c->lo) || !isfinite(c->hi)) return -2;
    if (c->lo > 0.0) return 1;
    if (c->hi < 0.0) return -1;
    return 0;
}
