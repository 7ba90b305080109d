/* bench_util.h: the order statistics the bench programs share (one copy instead of one per
 * program; duplicates found five). Header-only, static inline: the bench programs link no
 * common library of their own. */
#ifndef HEADSWEEP_BENCH_UTIL_H
#define HEADSWEEP_BENCH_UTIL_H

#include <stdlib.h>

/* qsort's comparison of two doubles, ascending (no NaN among timings). */
static inline int hs_bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v (n > 0), v reordered (sorted ascending). */
static inline double hs_bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, hs_bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
