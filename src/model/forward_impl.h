/* forward_impl.h: the forward context, private to src/model. */
#ifndef HEADSWEEP_FORWARD_IMPL_H
#define HEADSWEEP_FORWARD_IMPL_H

#include "headsweep/model.h"

/* A run of consecutive live heads [h0, h0 + len) of one layer: skip mode issues one
 * matmul per run, so a layer with few gaps costs few BLAS calls. */
typedef struct {
    int h0, len;
} hs_head_run;

typedef struct {
    int n_live;
    int *slot;          /* (H): cache slot of each head, -1 when skipped */
    hs_head_run *runs;  /* (n_runs) */
    int n_runs;
    float *k, *v;       /* (n_live, max_t, D) */
} hs_layer_cache;

struct hs_ctx {
    const hs_model *m;
    hs_config cfg;
    int max_t, pos, D;
    hs_gating mode;
    float *gates;       /* (L, H) as set */
    float *eff;         /* (L, H) gates x agency factors, used in the matmuls */
    hs_layer_cache *layers; /* (L) */
    hs_head_stats *stats;   /* collect when not NULL */
    double flops;           /* FLOPs of matmuls and attention performed so far */
    /* scratch, sized for max_t rows */
    float *x;    /* (max_t, C) residual stream */
    float *xn;   /* (max_t, C) normalised */
    float *qkv;  /* (max_t, 3C) */
    float *a;    /* (max_t, C) attention output, head h at columns h*D */
    float *o;    /* (max_t, max(C, F)) sublayer output / MLP hidden */
    float *att;  /* (max_t, max_t) scores of one head */
    float *contrib; /* (H + 1, C) one row's per-head residual contributions and their sum, stats only */
    struct hs_ctx **row_seq; /* (max_t) sequence of each row of a forward call */
    int *row_pos;            /* (max_t) position of each row */
    float *logit_scratch; /* (V) */
    float *head_mean;     /* (L, H, D) mean ablation's head outputs, NULL: zero ablation */
    float *mean_off;      /* (L, C) sum_h (1 - g_h) head_mean[l, h] W_O[h], with head_mean */
    /* a shared prefix (hs_ctx_mark): its end and the final hidden state (residual stream
     * before ln_f) of its last position; mark_pos 0: none */
    int mark_pos;
    float *x_mark;        /* (C) */
    int last_n;           /* rows of the last single-sequence forward call, 0 after others */
    int last_as;          /* rows that call's products were routed as (hs_ctx_forward_prefix) */
    int mark_as;          /* the same for the marked prefix; -1: not one call from position 0 */
};

#endif
