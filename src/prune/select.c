/* select.c: pruning level -> the set of heads switched off (prune.h).
 *
 * One removal order serves every level and both selection rules: heads sorted by score,
 * lowest first, ties broken by (layer, head). A level walks that order and switches heads
 * off until its count is reached, honouring the per-layer quota (per_layer) and the
 * last-head-of-a-layer rule (keep_one_per_layer). Because the walk is a prefix of one
 * order, a higher level always removes a superset of a lower level's heads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/prune.h"

typedef struct {
    double score;
    int index;
} ranked_head;

static int cmp_ranked(const void *pa, const void *pb)
{
    const ranked_head *a = pa, *b = pb;
    if (a->score != b->score) return a->score < b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static hs_status check_scores(const hs_head_scores *sc)
{
    if (!sc->score || sc->L < 1 || sc->H < 1)
        return hs_err(HS_EINPUT, "head scores: empty (L = %d, H = %d)", sc->L, sc->H);
    for (int i = 0; i < sc->L * sc->H; i++)
        if (!isfinite(sc->score[i]))
            return hs_err(HS_EINPUT, "head scores: head %d.%d has the non-finite score %g",
                          i / sc->H, i % sc->H, sc->score[i]);
    return HS_OK;
}

hs_status hs_prune_order(const hs_head_scores *sc, int *order)
{
    hs_status st = check_scores(sc);
    if (st) return st;
    int n = sc->L * sc->H;
    ranked_head *r = hs_malloc((size_t)n * sizeof *r, "head ranking");
    if (!r) return HS_ENOMEM;
    for (int i = 0; i < n; i++) r[i] = (ranked_head){sc->score[i], i};
    qsort(r, (size_t)n, sizeof *r, cmp_ranked);
    for (int i = 0; i < n; i++) order[i] = r[i].index;
    free(r);
    return HS_OK;
}

/* Heads to switch off in total and at most per layer; HS_EINPUT when the rules conflict. */
static hs_status level_counts(double pct, int L, int H, const hs_select_opts *o, int *total,
                              int *per_layer_max)
{
    int cap = o->keep_one_per_layer ? H - 1 : H;
    if (o->per_layer) {
        int k = hs_prune_count(pct, 1, H);
        if (k > cap)
            return hs_err(HS_EINPUT,
                          "level %g%% switches off %d of %d heads in every layer, but keep-one-per-layer keeps one",
                          pct, k, H);
        *total = k * L;
        *per_layer_max = k;
    } else {
        *total = hs_prune_count(pct, L, H);
        *per_layer_max = cap;
        if (*total > cap * L)
            return hs_err(HS_EINPUT, "level %g%% switches off %d heads, but keep-one-per-layer allows at most %d",
                          pct, *total, cap * L);
    }
    return HS_OK;
}

hs_status hs_prune_check_level(double pct, int L, int H, const hs_select_opts *o)
{
    static const hs_select_opts defaults = {0, 0};
    int total = 0, per_layer_max = 0;
    if (!o) o = &defaults;
    return level_counts(pct, L, H, o, &total, &per_layer_max);
}

/* Walks the removal order switching heads off (gate 0) until total are off; off (L) is
 * scratch counting each layer's heads switched off so far. */
static void walk_order(const int *order, int L, int H, int total, int per_layer_max,
                       int *off, float *gates)
{
    memset(off, 0, (size_t)L * sizeof *off);
    for (int i = 0; i < L * H; i++) gates[i] = 1.0f;
    for (int i = 0, done = 0; i < L * H && done < total; i++) {
        int l = order[i] / H;
        if (off[l] >= per_layer_max) continue;
        gates[order[i]] = 0.0f;
        off[l]++;
        done++;
    }
}

hs_status hs_prune_select(const hs_head_scores *sc, double pct, const hs_select_opts *o,
                          float *gates)
{
    static const hs_select_opts defaults = {0, 0};
    if (!o) o = &defaults;
    if (!(pct >= 0.0 && pct <= 100.0))
        return hs_err(HS_EINPUT, "pruning level %g%% is outside [0, 100]", pct);
    int total = 0, per_layer_max = 0;
    hs_status st = check_scores(sc);
    if (!st) st = level_counts(pct, sc->L, sc->H, o, &total, &per_layer_max);
    if (st) return st;
    size_t LH = (size_t)sc->L * sc->H;
    int *order = hs_malloc((LH + (size_t)sc->L) * sizeof *order, "head order");
    if (!order) return HS_ENOMEM;
    st = hs_prune_order(sc, order);
    if (!st) walk_order(order, sc->L, sc->H, total, per_layer_max, order + LH, gates);
    free(order);
    return st;
}
