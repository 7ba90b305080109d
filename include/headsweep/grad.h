/* grad.h: the gradient of a sequence's next-token loss with respect to the head gates.
 *
 * Gradient head importance (Michel, Levy and Neubig, "Are Sixteen Heads Really Better
 * than One?", NeurIPS 2019) needs dL/d(gate) for every head. hs_grad_gates runs one
 * forward pass over a whole sequence keeping every activation, then the backward pass
 * down to the gates of layer 0 (input gradients only: no weight gradients are formed).
 *
 * The gate of head h of layer l multiplies that head's attention output z_h (T, D)
 * before c_proj, as the forward pass does (model.h), so
 *     dL/dg_h = sum over positions t and d of dL/d(g_h z_h[t, d]) * z_h[t, d].
 * Heads with gate 0 are computed too (their gradient is the one at gate 0, which
 * re-scoring a pruned model uses). The loss is the mean NLL of tokens 1 .. n-1 given
 * their prefixes, in float32 arithmetic with float64 sums where rows are reduced.
 *
 * Memory: about L x (8 T C + 2 T F + H T^2) + T V floats for a context of T tokens
 * (the bundled model at T = 256: ~40 MB; a 124M gpt2 at T = 1024: ~1.3 GB). */
#ifndef HEADSWEEP_GRAD_H
#define HEADSWEEP_GRAD_H

#include <stdint.h>

#include "headsweep/model.h"
#include "headsweep/util.h"

typedef struct hs_grad_ctx hs_grad_ctx;

/* Activations for sequences of up to max_t tokens (2 <= max_t <= n_positions). */
hs_status hs_grad_init(hs_grad_ctx **out, const hs_model *m, int max_t);
void hs_grad_free(hs_grad_ctx *g);

/* For ids (n), 2 <= n <= max_t, under gates (L, H) in [0, 1]:
 *   *loss      mean over t = 0 .. n-2 of -log p(ids[t+1] | ids[0..t]);
 *   dgate      (L, H) dloss/dg at these gates;
 *   head_sum   (L, H, D) when not NULL: += the ungated head outputs z_h summed over the
 *              n positions (mean ablation averages these over the calibration tokens). */
hs_status hs_grad_gates(hs_grad_ctx *g, const float *gates, const int32_t *ids, int n,
                        double *loss, double *dgate, double *head_sum);

#endif
