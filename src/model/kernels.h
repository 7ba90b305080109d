/* kernels.h: the dense kernels of the forward pass (private to src/model). The files:
 *   kernels.c  element-wise and attention kernels (LayerNorm, GELU, softmax, attention)
 *   matmul.c   the one dispatcher of the matrix products (hs_k_matmul, _rows, _dot_rows,
 *              hs_k_gemm), and the only user of OpenBLAS among them
 *   rows.c     decode's row kernels (kernels_wt.h), gemm.c the register-blocked tiles
 *              and pre-packed weights (gemm_wt.h), w8a8.c the W8A8 mode's products,
 *              panels.c batch-1 decode on latency mode's panels (hs_model_opts.panels)
 *   threads.c  thread count and work split; cpu.c the instruction sets in use
 * Calls go one way: forward -> matmul -> rows/gemm/w8a8/panels -> threads/cpu. */
#ifndef HEADSWEEP_KERNELS_H
#define HEADSWEEP_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "headsweep/model.h"
#include "headsweep/util.h"
#ifdef __AVX2__
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* A weight matrix as the kernels read it: F32 (f), or bfloat16 (h, the upper half of
 * each F32, widened exactly before use) when h is set, or int8 (q) when q is set, with one
 * scale per stored row in qs (row r of the whole matrix is qs[r]: the weight is
 * q[r][c] * qs[r]); p, when set, is the same matrix pre-packed for decode batches
 * (hs_model_opts.pack) and poff the element offset (row * N + column) the slice starts
 * at. Offsets move f, h, q and poff; qs stays at the whole matrix's row 0. v, when set,
 * is the whole matrix in W8A8 mode (the slice at element poff), and the only field set. */
typedef struct {
    const float *f;
    const uint16_t *h;
    const hs_wpack *p;
    size_t poff;
    const int8_t *q;
    const float *qs;
    const hs_wq8 *v;
    int no_prefetch; /* read without software prefetch (a skip-mode layer with heads off) */
    const hs_wpanel *g; /* the whole matrix in batch-1 panels (slice at poff), or NULL */
} hs_w;

static inline hs_w hs_w_f32(const float *p) { return (hs_w){.f = p}; }
static inline hs_w hs_w_bf16(const uint16_t *h) { return (hs_w){.h = h}; }
static inline hs_w hs_w_i8(const int8_t *q, const float *qs) { return (hs_w){.q = q, .qs = qs}; }
static inline hs_w hs_w_w8a8(const hs_wq8 *v) { return (hs_w){.v = v}; }
static inline hs_w hs_w_at(hs_w w, size_t off)
{
    return (hs_w){w.f ? w.f + off : NULL, w.h ? w.h + off : NULL, w.p, w.poff + off, w.q ? w.q + off : NULL, w.qs,
                  w.v, w.no_prefetch, w.g};
}

#ifdef __AVX2__
static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 hs_bf16x8_load(const uint16_t *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

/* 8 int8 weights widened exactly to f32. */
static inline __m256 hs_i8x8_load(const int8_t *p)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
#endif

/* y (n, C) = LayerNorm(x (n, C)) * w + b, statistics in double for stability. */
void hs_k_layernorm(float *restrict y, const float *restrict x, const float *restrict w,
                    const float *restrict b, int n, int C, float eps);
/* In place tanh-approximation GELU (gelu_new) over n values. */
void hs_k_gelu_new(float *x, long n);
/* y (n, N) = x (n, K) @ W[:, cols] + bias, where W is row-major with row stride ldw and
 * the slice starts at W; beta 0 overwrites y, 1 accumulates. y has row stride ldy, x ldx. */
void hs_k_matmul(float *y, int ldy, const float *x, int ldx, hs_w W, int ldw, int n, int K, int N, float beta);
/* The same n rows dispatched as if they were part of a product of `whole` rows (>= n):
 * the rows of a prefill split into calls (a prompt, then its continuation) get the route,
 * and so the bits, of the one call of all of them when hs_k_matmul_split_exact says so. */
void hs_k_matmul_as(float *y, int ldy, const float *x, int ldx, hs_w W, int ldw, int n, int whole, int K, int N,
                    float beta);
/* 1 when `part` rows of a product of `whole` rows, computed alone through hs_k_matmul_as
 * (whole), get exactly the bits they get in the whole product. f32: 1 when the weights
 * are F32 (only those reach OpenBLAS, whose rows may depend on the row count). */
int hs_k_matmul_split_exact(int part, int whole, int f32);
/* 1 when products of a and b rows take the same route (so a row gets the same bits). */
int hs_k_matmul_same_route(int a, int b);
/* C (M, N) = beta * C + A (M, K) @ B, where B is (K, N) with row stride ldb, or with
 * trans_b stored as (N, K). Row strides ldc, lda. OpenBLAS or our tiles (matmul.c says which). */
void hs_k_gemm(float *C, int ldc, const float *A, int lda, hs_w B, int ldb, int trans_b, int M, int K, int N,
               float beta);
/* 1 when hs_k_gemm sends F32 products with B in (K, N) layout (the prefill's layer
 * products) to OpenBLAS's cblas_sgemm (its loaded core has AVX-512 kernels, or
 * HS_GEMM_BLAS=1), 0 when it uses its own tiles; _set forces it (tests, benchmarks) and
 * returns the new value. bf16 weights and trans_b always take the tiles. */
int hs_k_gemm_blas(void);
int hs_k_gemm_blas_set(int on);
/* y (n, N) += bias (N) broadcast over rows with row stride ldy. */
void hs_k_add_bias(float *y, int ldy, const float *restrict bias, int n, int N);
/* Softmax of x (n) in place. */
void hs_k_softmax(float *x, int n);
/* Entropy in nats of a probability vector p (n). */
double hs_k_entropy(const float *p, int n);
float hs_k_dot(const float *restrict a, const float *restrict b, int n);
/* Attention of one query over one head's cache: p (T) = scale * (q (D) . K[t] (T, D));
 * out (D) = sum over t of p[t] * V[t] (T, D), in t order, each term rounded before its
 * add. Each p[t] has the bits of hs_k_dot(q, K[t], D) * scale. */
void hs_k_attn_scores(float *p, const float *q, const float *K, int T, int D, float scale);
void hs_k_attn_values(float *restrict out, const float *restrict p, const float *restrict V, int T, int D);
/* y (B, N) = W (N, K; row stride ldw) @ x (B, K)^T: one dot product per weight row and
 * row of x (the LM head). Each row of y is bit-identical to what B = 1 gives. */
void hs_k_dot_rows(float *y, int ldy, hs_w W, int ldw, const float *x, int ldx, int B, int N, int K);
/* y (B, N) = beta * y + x (B, K) @ W: independent rows (a decode batch) streaming W once
 * per step; each row is bit-identical to the B = 1 product (decode). */
void hs_k_matmul_rows(float *y, int ldy, const float *x, int ldx, hs_w W, int ldw, int B, int K, int N, float beta);
/* y (len * D) = x (K) @ [W_0 | .. | W_len-1] for one row x and len weight blocks (K, D)
 * stored one after another (skip mode's head-major c_attn, hs_block.attn_wh: W the first
 * block; int8: W.qs the K row scales): the same chain per output as hs_k_matmul_rows on
 * the (K, len * D) matrix they were copied from, so the same bits. Threads split heads. */
void hs_k_matmul_heads(float *y, const float *x, hs_w W, int K, int D, int len);
/* The same for the listed head blocks (ascending, n of the copy's nblocks: block i into
 * y[i * D ..)) read at once as batch-1 panel groups, when W (the whole copy) is f32,
 * int8 or bf16 with its rows paired (hs_k_panels_pair_bf16: a layout hs_k_matmul_heads
 * cannot read), D is 64 and the CPU has AVX-512; the same bits as hs_k_matmul_heads on
 * the unpaired copy. Returns 0, doing nothing, otherwise. */
int hs_k_matmul_head_list(float *y, const float *x, hs_w W, int K, int D, int nblocks, const int *blocks, int n);

/* threads.c: threads of the kernels (1 by default; > 1 only when built with OpenMP). Products are
 * split by output columns, so results do not depend on the count. */
void hs_k_set_threads(int n);
int hs_k_threads(void);
/* For the kernels' own use: threads worth using for `work` multiply-adds, and thread t's
 * contiguous share [lo, hi) of n items cut at multiples of align. */
int hs_k_threads_for(double work);
void hs_k_share(int n, int align, int t, int T, int *lo, int *hi);

/* HS_PARALLEL runs the next block on the local variable T threads (OpenMP when built
 * with it; otherwise T is always 1 and the block is never reached with more). */
#ifdef _OPENMP
#define HS_THREAD_ID omp_get_thread_num()
#define HS_PARALLEL _Pragma("omp parallel num_threads(T)")
#else
#define HS_THREAD_ID 0
#define HS_PARALLEL
#endif

/* The implementations matmul.c chooses among, per weight type (f32: float weights, bf16:
 * uint16_t). rows.c: hs_k_rows y (B, N) = beta * y + x (B, K) @ W (row stride ldw), every
 * element one chain of FMAs in k order (so a row of a batch equals the row alone);
 * hs_k_dotrows y (B, N) = x (B, K) @ W^T for W (N, K), each row bit-identical to B = 1. */
void hs_k_rows_f32(float *y, int ldy, const float *x, int ldx, const float *W, int ldw, int B, int K, int N,
                   float beta, int prefetch);
void hs_k_rows_bf16(float *y, int ldy, const float *x, int ldx, const uint16_t *W, int ldw, int B, int K, int N,
                    float beta, int prefetch);
void hs_k_dotrows_f32(float *y, int ldy, const float *W, int ldw, const float *x, int ldx, int B, int N, int K);
void hs_k_dotrows_bf16(float *y, int ldy, const uint16_t *W, int ldw, const float *x, int ldx, int B, int N, int K);
/* int8: the unscaled values q, widened exactly (matmul.c applies the row scales). */
void hs_k_rows_i8(float *y, int ldy, const float *x, int ldx, const int8_t *W, int ldw, int B, int K, int N,
                  float beta, int prefetch);
void hs_k_dotrows_i8(float *y, int ldy, const int8_t *W, int ldw, const float *x, int ldx, int B, int N, int K);
/* AVX2 only (gemm.c). hs_k_tiles: hs_k_gemm's product on our tiles. hs_k_gemm_acc: C (M, N)
 * = beta * C + A (M, K) @ B (K, N), each element one fused multiply-add per k in order onto
 * C's value (the chain of hs_k_rows, so results are identical); an AVX-512 tile when
 * hs_k_avx512(), with the same chains. */
void hs_k_tiles_f32(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int trans_b, int M, int K,
                    int N, float beta);
void hs_k_tiles_bf16(float *C, int ldc, const float *A, int lda, const uint16_t *B, int ldb, int trans_b, int M, int K,
                     int N, float beta);
void hs_k_gemm_acc_f32(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int M, int K, int N,
                       float beta);
void hs_k_gemm_acc_bf16(float *C, int ldc, const float *A, int lda, const uint16_t *B, int ldb, int M, int K, int N,
                        float beta);
void hs_k_tiles_i8(float *C, int ldc, const float *A, int lda, const int8_t *B, int ldb, int trans_b, int M, int K,
                   int N, float beta);
void hs_k_gemm_acc_i8(float *C, int ldc, const float *A, int lda, const int8_t *B, int ldb, int M, int K, int N,
                      float beta);

/* W8A8 weights (w8a8.c). hs_k_w8a8: y (B, N) = beta * y + x (B, K) @ the slice of V at
 * rows [r0, r0+K) and columns [c0, c0+N): each row of x quantized in blocks of 32 values,
 * integer block sums, scaled in f32 in block order; every row its own bits whatever B,
 * the thread count or the kernel level. hs_k_w8a8_make writes the panels and scales of W
 * (K, N; row stride ldw; trans: W is stored (N, K), the LM head) into q (hs_k_w8a8_bytes(K,
 * N) bytes) and s (N). hs_k_w8a8_level (cpu.c): the instruction set the integer sums
 * use, 3 AVX512_VNNI (vpdpbusd), 2 AVX-512BW, 1 AVX2 (both emulating vpdpbusd exactly), 0
 * scalar: the best the CPU has, at most 1 under HS_NO_AVX512, capped by HS_W8A8_LEVEL in
 * the environment (both read once); _set caps it (tests, A/B runs) and returns the level
 * in force. Every level gives the same bits. */
enum { HS_W8A8_BLOCK = 32 }; /* activation values per quantization block */
void hs_k_w8a8(float *y, int ldy, const float *x, int ldx, const hs_wq8 *V, int r0, int c0, int B, int K, int N,
               float beta);
size_t hs_k_w8a8_bytes(int K, int N);
void hs_k_w8a8_make(uint8_t *q, float *s, const float *W, int ldw, int trans, int K, int N);
int hs_k_w8a8_level(void);
int hs_k_w8a8_level_set(int level);

/* Pre-packed weights (gemm.c; the layout is described there). hs_k_pack_floats: the
 * floats a (K, N) matrix takes packed (0 in a build without AVX2: nothing is packed);
 * hs_k_pack writes W (K, N; row stride ldw) so. hs_k_matmul_packed: y (B, N) = beta * y +
 * x (B, K) @ the slice of P starting at element off (row off / N, column off % N), with
 * the chains of hs_k_matmul_rows, so the same bits; returns 0, doing nothing, when the
 * slice's first column is not a multiple of 16 or the build has no AVX2. */
size_t hs_k_pack_floats(int K, int N);
void hs_k_pack(float *dst, hs_w W, int ldw, int K, int N);
int hs_k_matmul_packed(float *y, int ldy, const float *x, int ldx, const hs_wpack *P, size_t off, int B, int K, int N,
                       float beta);
/* The LM head W (N, K) of decode batches, pre-packed (gemm.c: 8 lane matrices (K/8, N) in
 * hs_k_pack's layout). hs_k_pack_head_floats: its size, 0 when K is not a multiple of 8
 * (no such copy); hs_k_pack_head writes it (W's values widened: bf16, or int8 unscaled as
 * hs_k_dot_rows reads them); hs_k_dot_rows_packed: y (B, N) = x (B, K) @ W^T for rows
 * [0, N / 4 * 4) of W with hs_k_dot_rows' bits (the int8 scales are the caller's, after),
 * returning how many rows it did, 0 (nothing done) without AVX-512 or memory. */
size_t hs_k_pack_head_floats(int N, int K);
void hs_k_pack_head(float *dst, hs_w W, int ldw, int N, int K);
int hs_k_dot_rows_packed(float *y, int ldy, const float *x, int ldx, const hs_wpack *P, int B, int N, int K);
/* hs_k_tiles_packed: C (M, N) = beta * C + A (M, K) @ the slice of P starting at element
 * off, hs_k_tiles' product (the prefill's, on our tiles) read from the packed panels
 * instead of packing per call, with its bits; returns 0, doing nothing, when the slice's
 * first row is not a multiple of 256 (hs_k_tiles' k blocks would differ) or its first
 * column not of 16, or the build has no AVX2. */
int hs_k_tiles_packed(float *C, int ldc, const float *A, int lda, const hs_wpack *P, size_t off, int M, int K, int N,
                      float beta);

/* Batch-1 panels (panels.c; hs_wpanel in model.h has the layout). hs_k_panels_fit: whether
 * a (K, N) matrix can be laid out so (N a multiple of 64). hs_k_panels_make_*: write W
 * (K, N, row-major) so, K * N values. hs_k_panels: y (N) = beta * y + x (K) @ the slice of
 * P starting at element off (row off / P->N, column off % P->N), with the chains of
 * hs_k_matmul_rows, so the same bits (beta 0 or 1); returns 0, doing nothing, when the
 * slice is off the 64-column grid or the AVX-512 paths are off. */
int hs_k_panels_fit(int K, int N);
void hs_k_panels_make_f32(float *dst, const float *W, int K, int N);
void hs_k_panels_make_bf16(uint16_t *dst, const uint16_t *W, int K, int N);
/* n rows of 64 bf16 values at rows, each rewritten in place into a bf16 group row's
 * paired order (column i in word i's low half, 16 + i in its high half, per 32-column
 * half): skip mode's head-major bf16 c_attn is made so, its (C, 64) head blocks then
 * being groups hs_k_panels_list reads. */
void hs_k_panels_pair_bf16(uint16_t *rows, size_t n);
void hs_k_panels_make_i8(int8_t *dst, const int8_t *W, int K, int N);
int hs_k_panels(float *y, const float *x, const hs_wpanel *P, size_t off, int K, int N, float beta);
/* Listed groups of P (ascending group indices g, ng of them; every row, beta 0): y[64 g[i]
 * .. 64 g[i] + 64) = x (P->K) @ group g[i], with hs_k_panels' chains, so the same bits;
 * skip mode reads the live heads' Q/K/V so from its head-major c_attn, whose (C, 64) head
 * blocks are laid out as groups (bf16's paired by hs_k_panels_pair_bf16). Returns 0,
 * doing nothing, without AVX-512. */
int hs_k_panels_list(float *y, const float *x, const hs_wpanel *P, const int *g, int ng);
/* The LM head W (V, K) in 8-row blocks (P->K = K, P->N = the rows in blocks, V / 8 * 8):
 * hs_k_panels_head_fit: whether it can be laid out so (K a multiple of 8);
 * hs_k_panels_make_head_*: write rows [0, V / 8 * 8) of W so; hs_k_panels_head: y[n] =
 * row n . x (K) for the rows in blocks, each with dot4's chain (the bits of
 * hs_k_dot_rows for one row of x); returns how many rows it did (P->N), 0 when the
 * AVX-512 paths are off. The rows past them are the caller's. */
int hs_k_panels_head_fit(int V, int K);
int hs_k_panels_head_rows(int V);
void hs_k_panels_make_head_f32(float *dst, const float *W, int V, int K);
void hs_k_panels_make_head_bf16(uint16_t *dst, const uint16_t *W, int V, int K);
void hs_k_panels_make_head_i8(int8_t *dst, const int8_t *W, int V, int K);
int hs_k_panels_head(float *y, const hs_wpanel *P, const float *x, int K);

/* cpu.c: whether the batched kernels (hs_k_gemm_acc, and hs_k_dot_rows for two rows or more)
 * take their AVX-512 paths: the CPU has avx512f and avx512dq and the environment does not
 * set HS_NO_AVX512 (to anything but 0), decided at the first call. hs_k_avx512_set
 * overrides it (tests, A/B benchmarks) and returns the state in force, which stays 0 on a
 * CPU without AVX-512. Both paths give identical bits. */
int hs_k_avx512(void);
int hs_k_avx512_set(int on);
/* For the functions of those paths (the build's floor is AVX2). */
#define HS_AVX512 __attribute__((target("avx512f,avx512dq")))

#endif
