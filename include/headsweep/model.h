/* model.h: GPT-2 checkpoints in the Hugging Face layout and the forward pass.
 *
 * A model directory holds config.json, model.safetensors, vocab.json and merges.txt, as
 * save_pretrained writes them. The safetensors file is mapped read-only and shared; F32
 * tensors are used in place, F16/BF16 tensors are widened once into one owned block.
 *
 * The forward pass runs in an hs_ctx: a KV cache for one sequence plus scratch space.
 * Head gates g[l][h] in [0,1] scale each head's attention output before c_proj (like
 * Hugging Face's head_mask). In HS_GATING_MASK every head is computed and multiplied by
 * its gate; in HS_GATING_SKIP heads with gate 0 are not computed at all (their Q/K/V
 * columns and c_proj rows are left out, and the cache holds live heads only). Both give
 * the same logits for the same gates. */
#ifndef HEADSWEEP_MODEL_H
#define HEADSWEEP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "headsweep/util.h"

typedef struct {
    int n_layer;     /* L */
    int n_head;      /* H */
    int n_embd;      /* C */
    int n_positions; /* maximum context T_max */
    int vocab_size;  /* V */
    int n_inner;     /* MLP width, 4C when config.json has none */
    float ln_eps;    /* layer_norm_epsilon */
    int tied;        /* tie_word_embeddings (default 1): the LM head is wte */
} hs_config;

/* Reads and validates a config.json (missing or absurd values are HS_EINPUT, and so is
 * every GPT2Config key that asks for a computation the engine does not implement:
 * model_type other than gpt2, scale_attn_weights false, scale_attn_by_inverse_layer_idx
 * or add_cross_attention true, an activation other than gelu_new, an alias such as
 * num_attention_heads that disagrees with the GPT-2 name). */
hs_status hs_config_load(hs_config *cfg, const char *path);

typedef enum { HS_GATING_MASK = 0, HS_GATING_SKIP = 1 } hs_gating;

/* Parses "mask"/"skip"; HS_EINPUT otherwise. */
hs_status hs_gating_parse(const char *s, hs_gating *out);
const char *hs_gating_name(hs_gating g);

/* A weight matrix (K, N) laid out for the products of decode batches (hs_model_opts.pack):
 * blocks of 256 rows, each block's 16-column panels one after another (src/model/gemm.c
 * has the exact layout). data is NULL when the model is not packed. */
typedef struct {
    const float *data;
    int K, N;
} hs_wpack;

/* A weight matrix (K, N) laid out for batch-1 decode (hs_model_opts.panels): N / 64 column
 * groups one after another, group g the (K, 64) block of columns 64g .. 64g+63 with its
 * rows in order, so that a matrix-vector product reads each group as one sequential
 * stream. f holds F32 values, q int8 ones (int8 weight mode, unscaled), or h bf16 ones
 * (bf16 weight mode; there each 32-column half of a group row pairs columns i and 16 + i
 * in one 32-bit word); src/model/panels.c has
 * the kernels. Both NULL when the model has no such copy. The LM head (hs_model.lm_headg)
 * has a layout of its own in the same struct (its rows are the outputs). */
typedef struct {
    const float *f;
    const uint16_t *h;
    int K, N;
    const int8_t *q; /* int8 weight mode's unscaled values (laid out as f), or NULL */
} hs_wpanel;

/* A weight matrix (K, N) in W8A8 weight mode (HS_WEIGHTS_W8A8), laid out for vpdpbusd:
 * one int8 value per weight, stored as the unsigned byte q + 128, with one f32 scale per
 * output column (W[k][n] = s[n] q[k][n]); 64-column groups one after another, group g
 * holding Kp / 4 rows of (64 columns x 4 consecutive weight rows), so element (k, n) is
 * byte
 *   q + (n / 64) * Kp * 64 + ((k / 4) * 64 + n % 64) * 4 + k % 4
 * and batch 1 reads a group as one stream. Kp is K rounded up to 4 and the last group is
 * zero padded (bytes 128); src/model/w8a8.c has the kernels. q is NULL when the model
 * has no such copy. */
typedef struct {
    const uint8_t *q;
    const float *s; /* (N) */
    int K, N, Kp;
} hs_wq8;

/* Weights of one block; every pointer is F32, row-major, Conv1D (in, out) orientation. */
typedef struct {
    const float *ln1_w, *ln1_b;   /* (C) */
    const float *attn_w;          /* (C, 3C), output columns [Q|K|V], head h at h*D */
    const float *attn_b;          /* (3C) */
    const float *proj_w;          /* (C, C), input rows of head h at h*D */
    const float *proj_b;          /* (C) */
    const float *ln2_w, *ln2_b;   /* (C) */
    const float *fc_w;            /* (C, F) */
    const float *fc_b;            /* (F) */
    const float *fc_proj_w;       /* (F, C) */
    const float *fc_proj_b;       /* (C) */
    /* bf16 weight mode (HS_WEIGHTS_BF16): the four matrices above rounded to bfloat16,
     * which the forward pass then reads instead; NULL otherwise */
    const uint16_t *attn_w16, *proj_w16, *fc_w16, *fc_proj_w16;
    /* int8 weight mode (HS_WEIGHTS_INT8): the same four matrices as int8 (same shapes)
     * with one f32 scale per row (attn_w_s8 (C), proj_w_s8 (C), fc_w_s8 (C), fc_proj_w_s8
     * (F)); NULL otherwise */
    const int8_t *attn_w8, *proj_w8, *fc_w8, *fc_proj_w8;
    const float *attn_w_s8, *proj_w_s8, *fc_w_s8, *fc_proj_w_s8;
    /* W8A8 weight mode (HS_WEIGHTS_W8A8): the same four matrices, int8 in vpdpbusd panels
     * with a scale per output column */
    hs_wq8 attn_wv, proj_wv, fc_wv, fc_proj_wv;
    /* throughput mode (hs_model_opts.pack): the same four matrices pre-packed */
    hs_wpack attn_wp, proj_wp, fc_wp, fc_proj_wp;
    /* skip mode's head-major c_attn (hs_model_opts.head_major): the values batch 1 reads
     * (f32, bf16 or int8 as above; int8 keeps attn_w_s8, its rows being attn_w's rows)
     * laid out (3, H, C, D): block (part, h) holds head h's D columns of Q (part 0), K (1)
     * or V (2) for all C input rows, contiguous. NULL otherwise (and in W8A8 mode, whose
     * 64-column panels already hold a gpt2 head's columns together). bf16's copy is
     * attn_wh16p instead when heads are 64 wide and the CPU has AVX-512 at load: the same
     * blocks with each 64-value row in the batch-1 panels' paired order (hs_wpanel), so
     * that the panels' kernel reads it; only that kernel can (src/model/forward_step.c). */
    const float *attn_wh;
    const uint16_t *attn_wh16, *attn_wh16p;
    const int8_t *attn_wh8;
    /* latency mode (hs_model_opts.panels): the same four matrices in batch-1 panels */
    hs_wpanel attn_wg, proj_wg, fc_wg, fc_proj_wg;
} hs_block;

/* How the weight matrices are stored for the forward pass (job key `weights`).
 * HS_WEIGHTS_BF16: the four matrices of every block and the LM head (97% of a gpt2's
 * bytes) rounded to bfloat16 (round to nearest even) in a block of half their F32 size;
 * every forward pass reads those, widening each weight exactly to f32 before its
 * multiply-add: half the bytes per decoded token for an error of bf16 rounding in the
 * weights (bench_engine --bf16-error reports it). Biases, LayerNorm and the embeddings
 * stay f32.
 * HS_WEIGHTS_INT8: the same matrices as int8 with one f32 scale per stored row (absmax /
 * 127, round to nearest even): about a quarter of the bytes per decoded token. In x @ W
 * (Conv1D rows are inputs) x is multiplied by the scales first and the kernels multiply
 * by the int8 values widened exactly to f32 (weight-only quantization: activations stay
 * f32); the LM head's rows are its outputs, scaled after the sums. The error is that of
 * the weights' rounding to int8 (bench_engine --int8-error, docs/performance.md).
 * HS_WEIGHTS_W8A8: the same matrices as int8 with one f32 scale per output column (the LM
 * head's per vocabulary row), and the activations quantized too, per row in blocks of 32
 * values (absmax / 127, round to nearest even), so that the products are integer dot
 * products (vpdpbusd with AVX512_VNNI, exact emulations without it), summed exactly per
 * block and then scaled in f32 in a fixed order: every kernel gives the same bits, and a
 * row of a batch or prefill the bits it gets alone. Larger error than HS_WEIGHTS_INT8
 * (activations rounded too), fewer instructions per weight byte. */
typedef enum { HS_WEIGHTS_F32 = 0, HS_WEIGHTS_BF16 = 1, HS_WEIGHTS_INT8 = 2, HS_WEIGHTS_W8A8 = 3 } hs_weights;

/* Parses "f32"/"bf16"/"int8"/"w8a8"; HS_EINPUT otherwise. */
hs_status hs_weights_parse(const char *s, hs_weights *out);
const char *hs_weights_name(hs_weights w);

/* Options of hs_model_load; {0} is plain F32 weights read in place. */
typedef struct {
    hs_weights weights;
    /* Throughput mode: the four weight matrices of every block and the LM head (as 8
     * lane matrices, hs_model.lm_head_wp) also copied into the layout the products of a
     * decode batch read, so that a batch streams each weight once instead of gathering
     * 64-column strips row by row at every step. Batch 1 and prefill keep reading the
     * original matrices. One more f32 copy of those matrices per process (also for bf16
     * weights, widened exactly), on 2 MB transparent huge pages when it is 16 MB or more
     * (private memory either way); every product gives the same bits as without it. No
     * copy in a build without AVX2. */
    int pack;
    /* Huge-page mode, for speed measurements: a private copy of model.safetensors and
     * every derived block on 2 MB transparent huge pages (hs_malloc_huge), where a decode
     * step (~500 MB for a gpt2) takes fewer TLB misses (docs/performance.md has what it
     * gained). The price: a private copy of the weights per process instead of one
     * page-cache copy shared by the node's ranks. Results are the same bits (tested). */
    int huge_pages;
    /* Skip mode's copy of each block's c_attn with every head's Q, K and V columns
     * contiguous (hs_block.attn_wh), which batch-1 decode in skip mode then reads: a live
     * head's columns are 64 of a 2304-float row in the checkpoint's layout (a 256-byte
     * run every 9 KB), which neither the hardware nor our software prefetch streams well,
     * and the copy makes them one 192 KB block (docs/performance.md, "Skip mode reads
     * head-major c_attn"). Costs a quarter of the layers' weights once more per process
     * (gpt2 f32: 85 MB; bf16 42 MB; int8 21 MB); none in W8A8 mode. Same bits. */
    int head_major;
    /* Latency mode: the four weight matrices of every block and the LM head also copied,
     * in the values batch 1 reads (F32, bf16 or int8), into panels (hs_wpanel), which
     * batch-1 decode then reads as four sequential streams instead of eight (layers) or two
     * (LM head) interleaved weight rows (docs/performance.md, "Batch-1 products on
     * panels"). Costs one more copy of those matrices per process (494 MB F32, 247 MB
     * bf16, 124 MB int8 for a gpt2); the originals stay (prefill, skip mode's partial
     * layers and decode batches read them). Made only on a CPU with AVX-512 (the kernels'
     * instruction set): the layers' when every matrix width is a multiple of 64, the LM
     * head's when n_embd is one of 8; not for W8A8 weights (whose own panels are read this
     * way already). Every product gives the same bits with or without it. */
    int panels;
} hs_model_opts;

/* The speed copies (hs_model.copies_asked, copies_made): bits of one mask, as the results
 * file records them per cell (/cells/copies_requested, /cells/copies_used). */
enum {
    HS_COPY_PACK = 1u << 0,       /* opts.pack: decode batches' packed weights */
    HS_COPY_HEAD_MAJOR = 1u << 1, /* opts.head_major: skip mode's head-major c_attn */
    HS_COPY_PANELS = 1u << 2,     /* opts.panels: batch-1 panels */
    HS_COPY_ALL = (1u << 3) - 1
};

typedef struct {
    hs_config cfg;
    hs_weights weights;       /* as loaded */
    char *dir;
    char sha256[65];          /* of model.safetensors; filled by hs_model_sha256 */
    hs_mapped_file st;        /* the safetensors mapping */
    float *owned;             /* widened F16/BF16 tensors, NULL when all are F32 */
    size_t owned_bytes;       /* size of owned */
    const float *wte;         /* (V, C) */
    const float *wpe;         /* (T_max, C) */
    const float *lm_head;     /* (V, C): wte unless the checkpoint has lm_head.weight */
    const uint16_t *lm_head16;/* (V, C) bf16 weight mode, else NULL */
    const int8_t *lm_head8;   /* (V, C) int8 weight mode, else NULL */
    const float *lm_head_s8;  /* (V) its row scales */
    hs_wq8 lm_headv;          /* W8A8 weight mode: lm_head^T (C, V) in panels, else q NULL */
    hs_wpack lm_head_wp;      /* opts.pack: lm_head for decode batches' tiles, as 8 lane matrices
                                 (C/8, V) (src/model/gemm.c), in owned_pack; data NULL when C is
                                 not a multiple of 8 or the model is not packed */
    hs_wpanel lm_headg;       /* opts.panels: lm_head's rows [0, V / 8 * 8) in batch-1 blocks of
                                 8 rows (K = C, N = V / 8 * 8; src/model/panels.c), else NULL */
    uint16_t *owned16;        /* the bf16 copies, NULL unless HS_WEIGHTS_BF16 */
    void *owned8;             /* the int8 copies and their scales, NULL unless HS_WEIGHTS_INT8
                                 or HS_WEIGHTS_W8A8 */
    float *owned_pack;        /* the packed copies, NULL unless opts.pack */
    void *owned_heads;        /* the head-major c_attn copies, NULL unless opts.head_major */
    void *owned_panels;       /* the batch-1 panels, NULL unless opts.panels made them */
    void *owned_huge;         /* private copy of model.safetensors, NULL unless opts.huge_pages */
    int huge;                 /* weight blocks are allocated on huge pages */
    unsigned copies_asked;    /* HS_COPY_* the options asked for and the weight mode has (none in W8A8) */
    unsigned copies_made;     /* HS_COPY_* made: less than asked when one gave way for memory (a
                                 warning on stderr), or the CPU or the shapes have no such layout */
    const float *lnf_w, *lnf_b; /* (C) */
    hs_block *blocks;         /* (L) */
    char dtype[16];            /* dtype of the checkpoint's weights: F32, F16 or BF16 */
    size_t n_params;
} hs_model;

/* Loads DIR/config.json and DIR/model.safetensors (vocab/merges are the tokenizer's) and
 * builds, once each, the derived weight copies opts asks for (NULL: F32 weights as in the
 * checkpoint, no copies). The modes combine in any way and never change each other's
 * values: huge pages first (every block is then made there), then the bf16 copy from the
 * F32 values, then the packed copy from what batch 1 reads (bf16 or F32). HS_EINPUT, naming
 * the file, for a checkpoint that disagrees with config.json: a missing tensor or a wrong
 * shape, a tensor the model never reads (attention buffers h.N.attn.bias/masked_bias of its
 * layers aside), a NaN or infinite value, tie_word_embeddings against lm_head.weight. */
hs_status hs_model_load(hs_model *m, const char *dir, const hs_model_opts *opts);
void hs_model_free(hs_model *m);
/* What identifies a model without its weights: DIR/config.json and the SHA-256 of
 * DIR/model.safetensors (read, not mapped or checked), enough for hs_scores_check_model
 * (sweep --dry-run). No forward pass may run on it; free with hs_model_free. */
hs_status hs_model_load_identity(hs_model *m, const char *dir);
/* SHA-256 of model.safetensors, computed on first use (reads the whole file). */
const char *hs_model_sha256(hs_model *m);

/* A tokenized sequence the model runs over (calibration text, pruning and agency). */
typedef struct {
    const int32_t *ids; /* (n) */
    int n;
} hs_token_seq;

/* Per-step statistics the forward pass can collect for each head (agency, pruning). */
typedef struct {
    float *util;    /* (L, H): mean over query rows of 1 - H_row/ln(T_row), rows with T>1 */
    float *entropy; /* (L, H): mean attention-row entropy in nats, same rows */
    int *rows;      /* (L, H): number of rows that entered the means (0: no estimate) */
    float *cosine;  /* (L, H): mean over positions of cos(head contribution, rest of layer) */
} hs_head_stats;

/* Allocates the four (L, H) arrays (zeroed); free with hs_head_stats_free (NULL-safe). */
hs_status hs_head_stats_init(hs_head_stats *s, int n_layer, int n_head);
void hs_head_stats_free(hs_head_stats *s);

typedef struct hs_ctx hs_ctx;

/* A forward context for sequences of up to max_t tokens (<= n_positions). */
hs_status hs_ctx_init(hs_ctx **out, const hs_model *m, int max_t, hs_gating mode);
void hs_ctx_free(hs_ctx *ctx);
/* Sets the gates (L*H values in [0,1]); starts a new sequence (clears the cache). In
 * skip mode the live-head set is taken from the gates that are exactly 0. */
hs_status hs_ctx_set_gates(hs_ctx *ctx, const float *gates);
/* Mean ablation: a head's output z_h (D per position) is replaced, to the extent its gate
 * g is below 1, by a fixed vector: g z_h + (1 - g) mean_h, so a switched-off head (g = 0)
 * contributes mean_h at every position instead of nothing (zero ablation, the default,
 * means NULL). means (L, H, D) is copied, typically each head's mean output over a
 * calibration set (hs_head_means, prune.h). Enters as one constant vector per layer,
 * sum_h (1 - g_h) mean_h W_O[h], added after c_proj: the same in mask and skip mode,
 * computed from the F32 weights and the gates as set (not agency factors). Takes effect
 * from the next forward call; a later hs_ctx_set_gates keeps it. */
hs_status hs_ctx_set_head_means(hs_ctx *ctx, const float *means);
/* Changes gate values for the next steps without changing which heads are live
 * (agency factors). A head that was skipped stays skipped. */
void hs_ctx_scale_gates(hs_ctx *ctx, const float *factors /* (L, H) */);
/* Forgets the sequence; the gates stay. */
void hs_ctx_reset(hs_ctx *ctx);
int hs_ctx_pos(const hs_ctx *ctx);
/* Enables (non-NULL) or disables collection of head statistics. Each forward call
 * then overwrites *stats with that call's means (the arrays are the caller's). */
hs_status hs_ctx_collect_stats(hs_ctx *ctx, hs_head_stats *stats);
/* Gates as set (L, H), and the number of heads computed (all heads in mask mode). */
const float *hs_ctx_gates(const hs_ctx *ctx);
int hs_ctx_live_heads(const hs_ctx *ctx);
int hs_ctx_max_t(const hs_ctx *ctx);
/* FLOPs the context's matmuls and attention have performed since it was created. */
double hs_ctx_flops(const hs_ctx *ctx);
int hs_ctx_vocab(const hs_ctx *ctx);

/* Runs n new tokens through the model, appending them to the cache. When logits is not
 * NULL it receives (n, V) logits if all_positions, else the last position's (V). */
hs_status hs_ctx_forward(hs_ctx *ctx, const int32_t *ids, int n, float *logits,
                         int all_positions);
/* The same with logits (hi - lo, V) of this call's positions lo .. hi-1 only (0 <= lo <
 * hi <= n): teacher-forced scoring needs the logits of the scored positions alone, and
 * the LM head is a third of a gpt2 position's work. A position's logits are the same
 * whichever range they are asked in, as long as the range has 2 rows or more (one row
 * goes through the matrix-vector kernel, whose sums run in another order). */
hs_status hs_ctx_forward_rows(hs_ctx *ctx, const int32_t *ids, int n, float *logits, int lo, int hi);

/* A prefix shared by continuations (issue 22: the prompt's prefill serves generation and
 * the scoring of a reference continuation). hs_ctx_mark, right after a forward call of this
 * sequence alone, keeps the end of the sequence as a point to come back to, with its last
 * position's final hidden state; hs_ctx_rewind forgets every position after the mark (the
 * prefix's cache rows stay: the cache is only appended to); hs_ctx_forward_cont, at the
 * mark, runs n more tokens with the bits one call of prefix + n tokens gives them, and its
 * logits range may start at lo = -1, the prefix's last position. That holds only when
 * hs_ctx_prefix_exact(prefix, prefix + n) says so: the products of a forward call take
 * one of two routes by their row count (matmul.c), and a route's rows do not change with
 * the row count, but the routes' sums run in different orders (and OpenBLAS's rows may
 * depend on the row count); forward_cont refuses otherwise. A reset or new gates drop the
 * mark. */
hs_status hs_ctx_mark(hs_ctx *ctx);
hs_status hs_ctx_rewind(hs_ctx *ctx);
/* 1 when a call of `prefix` tokens (hs_ctx_forward_prefix with rows = whole) then a
 * continuation to `whole` tokens gives exactly the bits of one call of `whole` tokens. */
int hs_ctx_prefix_exact(const hs_ctx *ctx, int prefix, int whole);
/* The row count a prompt of `prefix` tokens to be continued to `whole` is routed as:
 * whole when the two counts take different routes and the tiles' rows allow computing
 * the prefix on the whole's route (then the continuation can be exact), else prefix. */
int hs_ctx_prefix_route(const hs_ctx *ctx, int prefix, int whole);
/* hs_ctx_forward of a sequence's first n tokens (logits of the last), its products routed
 * as hs_ctx_prefix_route(n, rows) says: the prefill of a prompt that a continuation to
 * `rows` tokens will follow. rows <= n: a plain call. */
hs_status hs_ctx_forward_prefix(hs_ctx *ctx, const int32_t *ids, int n, float *logits, int rows);
hs_status hs_ctx_forward_cont(hs_ctx *ctx, const int32_t *ids, int n, float *logits, int lo, int hi);

/* One decode step of B sequences together (throughput mode): sequence i takes token
 * ids[i] at its own position, with its own cache, gates and statistics, and logits row i
 * (B, V) receives its next-token logits. The sequences must share the model, gating
 * mode, live heads and context size. The weights are read once for the whole batch, and
 * every row is bit-identical to what hs_ctx_forward gives that sequence alone. */
hs_status hs_ctx_forward_batch(hs_ctx *const *seqs, int B, const int32_t *ids, float *logits);

/* Prefills of S sequences in one call (throughput mode starting several prompts): sequence
 * s takes ids[s] (n[s] tokens) from its own position, and logits row s (S, V) receives its
 * last position's logits. One weight pass serves every row, and each sequence gets the
 * bits hs_ctx_forward(seqs[s], ids[s], n[s], ...) gives it alone, which holds when that
 * call's products take the row route: hs_ctx_stackable(seqs[s], n[s]) (a prompt under 48
 * tokens, no statistics collected). The rows together fit one context (hs_ctx_max_t);
 * the sequences share what hs_ctx_forward_batch's share; each may be marked afterwards. */
int hs_ctx_stackable(const hs_ctx *ctx, int n);
hs_status hs_ctx_forward_stack(hs_ctx *const *seqs, int S, const int32_t *const *ids, const int *n, float *logits);

/* Analytic FLOPs for one decode step at context length t with the given live heads. */
double hs_model_flops_per_token(const hs_config *cfg, int live_heads, int t);

/* Threads per process for the forward pass: our kernels (split by output columns, so
 * every result is the same for any count) and OpenBLAS where it is still used. 1 by
 * default; returns the count in effect (1 when built without OpenMP). */
int hs_model_set_threads(int n);

/* Where this process's prefill products (layer products of 48 rows or more, and of
 * shorter prompts routed as prompt + reference) go with weights w: "openblas" (F32 only,
 * src/model/matmul.c) or "tiles". Their rows round differently, so a sweep's ranks must
 * agree on it and its study text names it. */
const char *hs_model_prefill_route(hs_weights w);

/* The largest of x[0 .. n), n >= 1, 8 at a time where the CPU allows: the same value as a
 * scalar scan in any order (the softmax's and the NLL's maximum; test_softmax_same_bits). */
float hs_model_max(const float *x, int n);

/* sum over i of exp((double)(x[i] - mx)), x[0 .. n) with n >= 1 and mx their maximum: the
 * NLL's log-sum-exp over a vocabulary. One exp of our own (an error of about 1 ulp
 * against the correctly rounded value; test_sum_exp) in 8 double lanes, lane j summing
 * the i with i % 8 == j in order, the lanes then added in a fixed tree: the same bits with
 * AVX-512 (8 at a time) and without it (the same operations one at a time). A NaN in x
 * gives NaN. */
double hs_model_sum_exp(const float *x, int n, float mx);

#endif
