/* stats.c: seeded generator, percentile bootstrap, paired differences, Pareto frontier.
 * See stats.h for the definitions; everything here is pure and deterministic. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void hs_rng_seed(hs_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
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
uint64_t hs_rng_below(hs_rng *r, uint64_t n)
{
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = hs_rng_next(r);
        if (x >= threshold) return x % n;
    }
}

uint64_t hs_stream_seed(uint64_t seed, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    uint64_t x = seed ^ h;
    return splitmix64(&x);
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
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int i = 0; i < n; i++) s += x[hs_rng_below(&r, (uint64_t)n)];
        means[b] = s / n;
    }
    qsort(means, (size_t)B, sizeof *means, cmp_double);
    out->lo = hs_quantile_sorted(means, B, (1.0 - conf) / 2.0);
    out->hi = hs_quantile_sorted(means, B, 1.0 - (1.0 - conf) / 2.0);
    free(means);
    return HS_OK;
}

int hs_finite_values(const double *x, int n, double *out)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) out[k++] = x[i];
    return k;
}

int hs_paired_pct(const double *a, const double *b, int n, int invert, double *d, int *n_zero)
{
    int k = 0, zero = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) continue;
        double div = invert ? a[i] : b[i];
        if (div == 0.0) {
            zero++;
            continue;
        }
        d[k++] = invert ? 100.0 * (b[i] / a[i] - 1.0) : 100.0 * (a[i] - b[i]) / b[i];
    }
    if (n_zero) *n_zero = zero;
    return k;
}

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
