/* iterative.c: iterative pruning with re-scoring (Michel, Levy and Neubig 2019, §4.2;
 * the bertology example's mask_heads loop).
 *
 * Start with every head on; score the heads still on with a base strategy under the
 * current mask on the calibration sequences; switch off the `step` lowest of them
 * (ties by (layer, head)); repeat until every head is off. Head h's score is the round
 * it was removed in, refined by its place in that round: score = removal rank (0 for
 * the first head off, L*H - 1 for the last). So the scores are a permutation, and the
 * removal order of hs_prune_order is exactly the iterative order: the head set of a
 * level is its first round(p/100 L H) heads, nested across levels by construction; it is
 * the set of whole rounds only when that count is a multiple of step (on 48 heads and
 * step 5, 30% is 14 heads: two rounds and 4 of the third). step = round(step_pct/100 x
 * L x H), at least 1. */
#include <stdlib.h>
#include <string.h>

#include "prune_impl.h"

/* The k lowest-scoring heads still on (gates[i] != 0), lowest first, ties by index. */
static int pick_lowest(const double *sc, const float *gates, int LH, int k, int *out)
{
    int n = 0;
    for (int i = 0; i < LH; i++) {
        if (gates[i] == 0.0f) continue;
        int j = n < k ? n++ : k; /* insertion into the sorted prefix out[0 .. n) */
        if (j == k && sc[i] >= sc[out[k - 1]]) continue;
        if (j == k) j = k - 1;
        while (j > 0 && sc[out[j - 1]] > sc[i]) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = i;
    }
    return n;
}

hs_status hs_prune_score_iterative(double *score, hs_model *m, const hs_token_seq *seqs, int n_seqs,
                                   const hs_score_opts *o)
{
    int LH = m->cfg.n_layer * m->cfg.n_head;
    hs_strategy base = o->iterative_base;
    if (base == HS_STRATEGY_ITERATIVE || (unsigned)base >= (unsigned)HS_STRATEGY_ITERATIVE)
        return hs_err(HS_EINPUT, "iterative pruning: the base strategy must be another strategy");
    double pct = o->iterative_step > 0 ? o->iterative_step : 10.0;
    int step = hs_prune_count(pct, m->cfg.n_layer, m->cfg.n_head);
    if (step < 1) step = 1;
    float *gates = hs_malloc((size_t)LH * sizeof *gates, "gates");
    int *pick = hs_malloc((size_t)step * sizeof *pick, "heads of a step");
    double *sc = hs_malloc((size_t)LH * sizeof *sc, "head scores of a round"); /* (L, H) */
    hs_status st = gates && pick && sc ? HS_OK : HS_ENOMEM;
    for (int i = 0; !st && i < LH; i++) gates[i] = 1.0f;
    for (int removed = 0; !st && removed < LH;) {
        memset(sc, 0, (size_t)LH * sizeof *sc); /* as a fresh hs_head_scores starts */
        st = hs_prune_score_once(sc, m, seqs, n_seqs, base, gates, o->seed);
        if (st) break;
        int n = pick_lowest(sc, gates, LH, step, pick);
        for (int j = 0; j < n; j++) {
            score[pick[j]] = removed++;
            gates[pick[j]] = 0.0f;
        }
    }
    free(gates);
    free(pick);
    free(sc);
    return st;
}
