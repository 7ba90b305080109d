/* prune_impl.h: helpers shared by the files of src/prune (not part of the public API). */
#ifndef HEADSWEEP_PRUNE_IMPL_H
#define HEADSWEEP_PRUNE_IMPL_H

#include "headsweep/prune.h"

/* entropy: score (L, H) = row-weighted mean over the sequences of 1 - H_row / ln T_row. */
hs_status hs_prune_score_entropy(double *score, const hs_model *m, const hs_token_seq *seqs,
                                 int n_seqs);
/* ablation: score (L, H) = mean NLL with that head alone off - mean NLL unpruned. */
hs_status hs_prune_score_ablation(double *score, const hs_model *m, const hs_token_seq *seqs,
                                  int n_seqs);

#endif
