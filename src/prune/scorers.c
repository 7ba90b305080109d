/* scorers.c: one strategy other than iterative, scored once under given gates
 * (hs_prune_score_once, prune_impl.h): the weight-only strategies (magnitude, random) here,
 * the forward-pass ones in calib.c (entropy, ablation) and gradient.c (gradient, taylor).
 * scores.c calls it for a strategy's scores and iterative.c for each of its rounds, so
 * neither of those two calls the other back.
 *
 * Everything here is deterministic for a given model, calibration set and seed: no
 * threads of our own, a fixed order of accumulation, and a platform-independent RNG. */
#include <math.h>

#include "prune_impl.h"

static int (*interrupt_poll)(void);

void hs_prune_set_interrupt(int (*poll)(void)) { interrupt_poll = poll; }

hs_status hs_prune_poll(void)
{
    if (!interrupt_poll || !interrupt_poll()) return HS_OK;
    return hs_err(HS_EINTR, "stopped by a signal while scoring the heads");
}

/* Uniform integer in [0, n) without modulo bias: draws below 2^64 mod n are rejected, so
 * the accepted range is a whole number of copies of [0, n). */
static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    uint64_t reject_below = (0 - n) % n;
    for (;;) {
        uint64_t r = hs_splitmix64(s); /* util.h */
        if (r >= reject_below) return r % n;
    }
}

/* random: score[i] = position of head i in a Fisher-Yates shuffle of 0 .. n-1 drawn from
 * splitmix64(seed), so the scores are a permutation (no ties) fixed by the seed. */
static void score_random(double *score, int n, uint64_t seed)
{
    uint64_t s = seed;
    for (int i = 0; i < n; i++) score[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(&s, (uint64_t)i + 1);
        double t = score[i];
        score[i] = score[j];
        score[j] = t;
    }
}

/* Sum of squares of the head's Q, K and V columns of c_attn (C, 3C). */
static double qkv_sumsq(const hs_block *b, int C, int D, int h)
{
    double ss = 0;
    for (int i = 0; i < C; i++)
        for (int part = 0; part < 3; part++) {
            const float *w = b->attn_w + (size_t)i * 3 * C + part * C + h * D;
            for (int d = 0; d < D; d++) ss += (double)w[d] * w[d];
        }
    return ss;
}

/* magnitude: sqrt(||W_Q[:, h]||^2 + ||W_K[:, h]||^2 + ||W_V[:, h]||^2 + ||W_O[h, :]||^2),
 * the Frobenius norm of every weight that only head h uses (biases left out). */
static void score_magnitude(double *score, const hs_model *m)
{
    int L = m->cfg.n_layer, H = m->cfg.n_head, C = m->cfg.n_embd, D = C / H;
    for (int l = 0; l < L; l++) {
        const hs_block *b = &m->blocks[l];
        for (int h = 0; h < H; h++) {
            double ss = qkv_sumsq(b, C, D, h);
            const float *o = b->proj_w + (size_t)h * D * C;
            for (size_t k = 0; k < (size_t)D * C; k++) ss += (double)o[k] * o[k];
            score[l * H + h] = sqrt(ss);
        }
    }
}

hs_status hs_prune_score_once(double *score, const hs_model *m, const hs_token_seq *seqs, int n_seqs, hs_strategy s,
                              const float *gates, uint64_t seed)
{
    int LH = m->cfg.n_layer * m->cfg.n_head;
    switch (s) {
    case HS_STRATEGY_RANDOM: score_random(score, LH, seed); return HS_OK;
    case HS_STRATEGY_MAGNITUDE: score_magnitude(score, m); return HS_OK;
    case HS_STRATEGY_ENTROPY: return hs_prune_score_entropy(score, m, seqs, n_seqs, gates);
    case HS_STRATEGY_ABLATION: return hs_prune_score_ablation(score, m, seqs, n_seqs, gates);
    case HS_STRATEGY_GRADIENT: return hs_prune_score_gradient(score, m, seqs, n_seqs, gates, 0);
    case HS_STRATEGY_TAYLOR: return hs_prune_score_gradient(score, m, seqs, n_seqs, gates, 1);
    case HS_STRATEGY_ITERATIVE: break;
    }
    return hs_err(HS_EINPUT, "head scores: strategy %d cannot be scored in one pass", (int)s);
}
