/* prune_impl.h: helpers shared by the files of src/prune (not part of the public API). */
#ifndef HEADSWEEP_PRUNE_IMPL_H
#define HEADSWEEP_PRUNE_IMPL_H

#include "headsweep/prune.h"

/* HS_EINTR when the poll of hs_prune_set_interrupt asks to stop (scorers.c); checked
 * before each calibration sequence. */
hs_status hs_prune_poll(void);

/* Every scorer runs under gates (L, H): all 1 for the first scores, the current mask when
 * iterative pruning re-scores the heads still on. */
/* entropy: score (L, H) = row-weighted mean over the sequences of 1 - H_row / ln T_row. */
hs_status hs_prune_score_entropy(double *score, const hs_model *m, const hs_token_seq *seqs,
                                 int n_seqs, const float *gates);
/* ablation: score (L, H) = mean NLL with that head also off - mean NLL under gates. */
hs_status hs_prune_score_ablation(double *score, const hs_model *m, const hs_token_seq *seqs,
                                  int n_seqs, const float *gates);
/* gradient (taylor 0) or taylor (1) scores from the gate gradients at gates (gradient.c). */
hs_status hs_prune_score_gradient(double *score, const hs_model *m, const hs_token_seq *seqs,
                                  int n_seqs, const float *gates, int taylor);

/* One strategy other than iterative under gates: score (L, H) as the functions above (and
 * magnitude, random) give it; HS_EINPUT for iterative (scorers.c). */
hs_status hs_prune_score_once(double *score, const hs_model *m, const hs_token_seq *seqs, int n_seqs, hs_strategy s,
                              const float *gates, uint64_t seed);

/* iterative: score (L, H) = removal rank of iterative pruning with re-scoring by
 * o->iterative_base every o->iterative_step percent of heads (iterative.c). */
hs_status hs_prune_score_iterative(double *score, hs_model *m, const hs_token_seq *seqs, int n_seqs,
                                   const hs_score_opts *o);

#endif
