/* lexical.c: lexical diversity of generated text (distinct-n, type-token ratio,
 * repetition). distinct-n follows Li et al. 2016 ("A Diversity-Promoting Objective
 * Function for Neural Conversation Models"): unique n-grams over all n-grams. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/eval.h"

/* Counts unique n-grams by sorting their start offsets (qsort has no context pointer in
 * C11, hence the file-scope comparator state; a rank evaluates one prompt at a time). */
static const int32_t *g_ids;
static int g_n;
static int cmp_gram(const void *a, const void *b)
{
    const int32_t *x = g_ids + *(const int *)a, *y = g_ids + *(const int *)b;
    for (int i = 0; i < g_n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

static double distinct_n(const int32_t *ids, int n, int gram)
{
    int total = n - gram + 1;
    if (total <= 0) return NAN;
    int *start = malloc((size_t)total * sizeof(int));
    if (!start) return NAN;
    for (int i = 0; i < total; i++) start[i] = i;
    g_ids = ids;
    g_n = gram;
    qsort(start, (size_t)total, sizeof(int), cmp_gram);
    int uniq = 1;
    for (int i = 1; i < total; i++) uniq += cmp_gram(&start[i - 1], &start[i]) != 0;
    free(start);
    return (double)uniq / total;
}

/* Share of 4-grams that already occurred earlier: 0 for fresh text, near 1 for loops. */
static double repetition_rate(const int32_t *ids, int n)
{
    const int G = 4;
    int total = n - G + 1;
    if (total <= 0) return NAN;
    int repeats = 0;
    for (int i = 1; i < total; i++)
        for (int j = 0; j < i; j++)
            if (!memcmp(ids + i, ids + j, G * sizeof(int32_t))) {
                repeats++;
                break;
            }
    return (double)repeats / total;
}

void hs_lexical_ids(const int32_t *ids, int n, hs_lexical *out)
{
    out->distinct1 = distinct_n(ids, n, 1);
    out->distinct2 = distinct_n(ids, n, 2);
    out->repetition = repetition_rate(ids, n);
    out->ttr = NAN;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static const char *w_text;
static int cmp_word(const void *a, const void *b)
{
    const int *x = a, *y = b; /* (start, len) pairs */
    int l = x[1] < y[1] ? x[1] : y[1];
    int c = memcmp(w_text + x[0], w_text + y[0], (size_t)l);
    return c ? c : (x[1] > y[1]) - (x[1] < y[1]);
}

double hs_lexical_ttr(const char *text, size_t len)
{
    int *w = malloc((len / 2 + 2) * 2 * sizeof(int)), nw = 0;
    if (!w) return NAN;
    for (size_t i = 0; i < len;) {
        while (i < len && is_space(text[i])) i++;
        size_t s = i;
        while (i < len && !is_space(text[i])) i++;
        if (i > s) w[2 * nw] = (int)s, w[2 * nw + 1] = (int)(i - s), nw++;
    }
    double r = NAN;
    if (nw) {
        w_text = text;
        qsort(w, (size_t)nw, 2 * sizeof(int), cmp_word);
        int uniq = 1;
        for (int i = 1; i < nw; i++) uniq += cmp_word(&w[2 * i - 2], &w[2 * i]) != 0;
        r = (double)uniq / nw;
    }
    free(w);
    return r;
}
