/* gemm.c: our register-blocked single-precision products, for the prefill and decode
 * batches (matmul.c decides when they run, and when OpenBLAS runs instead). Goto & van de
 * Geijn's layout: B packed into KC x 16 panels that stay in L1, a 6 x 16 register tile of
 * C, A read in place; an AVX-512 6 x 64 tile chosen at run time (cpu.c), which passes
 * over KS rows of four panels at a time so that they stay in L1 too. The accumulating
 * product of decode batches (hs_k_gemm_acc) reads weights in place or pre-packed once
 * (throughput mode). AVX2 builds only: without AVX2 matmul.c sends products elsewhere. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#ifdef __AVX2__
#include <immintrin.h>

enum { MR = 6, NR = 16, KC = 256 };

/* tile (MR, NR) = A rows (each a pointer at column k0) x packed panel (kc, NR). */
static void kernel_6x16(int kc, const float *const a[MR], const float *restrict bp, float *restrict tile)
{
    __m256 c[MR][2];
    for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(bp + (size_t)k * NR), b1 = _mm256_loadu_ps(bp + (size_t)k * NR + 8);
        for (int r = 0; r < MR; r++) {
            __m256 av = _mm256_broadcast_ss(a[r] + k);
            c[r][0] = _mm256_fmadd_ps(av, b0, c[r][0]);
            c[r][1] = _mm256_fmadd_ps(av, b1, c[r][1]);
        }
    }
    for (int r = 0; r < MR; r++) {
        _mm256_storeu_ps(tile + r * NR, c[r][0]);
        _mm256_storeu_ps(tile + r * NR + 8, c[r][1]);
    }
}

/* C[i0.., j0..] (mr x nr) = (first ? beta*C : C) + tile (row stride ldt). */
static void tile_store(float *C, int ldc, int i0, int mr, int j0, int nr, const float *tile, int ldt, int first,
                       float beta)
{
    for (int r = 0; r < mr; r++) {
        float *c = C + (size_t)(i0 + r) * ldc + j0;
        const float *t = tile + r * ldt;
        if (first && beta == 0.0f)
            memcpy(c, t, (size_t)nr * sizeof(float));
        else
            for (int j = 0; j < nr; j++) c[j] = (first ? beta * c[j] : c[j]) + t[j];
    }
}

static void panel(float *C, int ldc, const float *A, int lda, const float *bp, int M, int k0, int kc, int j0,
                  int nr, int first, float beta)
{
    float tile[MR * NR];
    for (int i0 = 0; i0 < M; i0 += MR) {
        int mr = M - i0 < MR ? M - i0 : MR;
        const float *a[MR];
        for (int r = 0; r < MR; r++) a[r] = A + (size_t)(i0 + (r < mr ? r : mr - 1)) * lda + k0;
        kernel_6x16(kc, a, bp, tile);
        tile_store(C, ldc, i0, mr, j0, nr, tile, NR, first, beta);
    }
}

/* C rows i0 .. i0+mr (columns j0 .. j0+nr) += A rows (at column k0) x packed panel
 * (kc, NR), accumulating in C itself: each element gets one fused multiply-add per k,
 * in k order, onto the value C held, which is exactly the chain rows4_update builds.
 * So a batch through here equals its rows one at a time, bit for bit. */
static void kernel_acc(int kc, const float *const a[MR], const float *restrict bp, float *C, int ldc, int mr,
                       int nr)
{
    float tile[MR * NR] __attribute__((aligned(32)));
    int full = mr == MR && nr == NR;
    float *src = full ? C : tile;
    int ld = full ? ldc : NR;
    if (!full)
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++) tile[r * NR + j] = r < mr && j < nr ? C[(size_t)r * ldc + j] : 0.0f;
    __m256 c[MR][2];
    for (int r = 0; r < MR; r++)
        c[r][0] = _mm256_loadu_ps(src + (size_t)r * ld), c[r][1] = _mm256_loadu_ps(src + (size_t)r * ld + 8);
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(bp + (size_t)k * NR), b1 = _mm256_load_ps(bp + (size_t)k * NR + 8);
        for (int r = 0; r < MR; r++) {
            __m256 av = _mm256_broadcast_ss(a[r] + k);
            c[r][0] = _mm256_fmadd_ps(av, b0, c[r][0]);
            c[r][1] = _mm256_fmadd_ps(av, b1, c[r][1]);
        }
    }
    for (int r = 0; r < MR; r++)
        _mm256_storeu_ps(src + (size_t)r * ld, c[r][0]), _mm256_storeu_ps(src + (size_t)r * ld + 8, c[r][1]);
    if (!full)
        for (int r = 0; r < mr; r++) memcpy(C + (size_t)r * ldc, tile + r * NR, (size_t)nr * sizeof(float));
}

enum { NP = 4 }; /* panels packed together: each weight row is read 4 lines at a time */

/* r[i][j] <-> r[j][i]: an 8 x 8 block of floats transposed in registers. */
static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2)
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]), t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* ---- AVX-512 (chosen at run time: the build's floor is AVX2, the Xeons we run on have
 * AVX-512, whose FMA rate is ~1.6x AVX2's here; bench/ab_batch.sh). The same packed
 * panels, a 6 x 64 tile (all NP panels at once: 24 zmm accumulators, 4 panel loads and 6
 * broadcasts per k). Every element is still one FMA per k, in k order, onto C's value:
 * the bits are those of kernel_acc and of the batch-1 chain. ---- */

/* The chains of a tile: c (mr rows, a compile-time constant after inlining, x 64 columns)
 * += A rows x the NP packed panels at bp (panel p at bp + p * ps; ps is kc * NR for a
 * block packed per call, the k block's panel size for a pre-packed matrix), one FMA per
 * element and k, in k order. Each k step also prefetches one cache line of each of pfon
 * (0, 1 or 2, a constant after inlining) streams into L2, pf[i] + 64 k; addresses as
 * integers: a prefetch never faults, so a stream may run past its matrix. */
static inline __attribute__((always_inline)) HS_AVX512 void tile512_chains(int kc, const float *const a[MR],
                                                                           const float *restrict bp, size_t ps,
                                                                           __m512 c[MR][NP], const int mr,
                                                                           const uintptr_t *pf, const int pfon)
{
    uintptr_t pf0 = pfon ? pf[0] : 0, pf1 = pfon > 1 ? pf[1] : 0;
    /* unrolled: the six row pointers' increments took issue slots from the FMAs (the
     * product ran 4-5% faster, bench shapes of both models) */
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        if (pfon) _mm_prefetch((const char *)(pf0 + 64 * (uintptr_t)k), _MM_HINT_T1);
        if (pfon > 1) _mm_prefetch((const char *)(pf1 + 64 * (uintptr_t)k), _MM_HINT_T1);
        __m512 b[NP];
        for (int p = 0; p < NP; p++) b[p] = _mm512_load_ps(bp + p * ps + (size_t)k * NR);
        for (int r = 0; r < mr; r++) {
            __m512 av = _mm512_set1_ps(a[r][k]);
            for (int p = 0; p < NP; p++) c[r][p] = _mm512_fmadd_ps(av, b[p], c[r][p]);
        }
    }
}

/* C rows x 64 columns += the chains, going on from C's values. Columns past the edge are
 * masked off (m[p]): the panels are zero padded and those lanes are never stored. */
static inline __attribute__((always_inline)) HS_AVX512 void tile512(int kc, const float *const a[MR],
                                                                    const float *restrict bp, size_t ps, float *C,
                                                                    int ldc, const __mmask16 m[NP], const int mr,
                                                                    const uintptr_t *pf, const int pfon)
{
    __m512 c[MR][NP];
    for (int r = 0; r < mr; r++)
        for (int p = 0; p < NP; p++) c[r][p] = _mm512_maskz_loadu_ps(m[p], C + (size_t)r * ldc + p * NR);
    tile512_chains(kc, a, bp, ps, c, mr, pf, pfon);
    for (int r = 0; r < mr; r++)
        for (int p = 0; p < NP; p++) _mm512_mask_storeu_ps(C + (size_t)r * ldc + p * NR, m[p], c[r][p]);
}

/* m[p]: the lanes of panel p inside the first ncols columns. */
static void tile_masks(__mmask16 m[NP], int ncols)
{
    for (int p = 0; p < NP; p++) {
        int n = ncols - p * NR;
        m[p] = n >= NR ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
    }
}

/* C[0 .. mr, 0 .. ncols) += A rows (a, at the block's first k) x the packed block. One
 * copy of the tile per row count, so a short last tile does only its own rows' work.
 * pf: tile512's npf prefetch streams (0 to 2). */
static HS_AVX512 void kernel512_acc(int kc, const float *const a[MR], const float *restrict bp, size_t ps, float *C,
                                    int ldc, int mr, int ncols, const uintptr_t *pf, int npf)
{
    __mmask16 m[NP];
    tile_masks(m, ncols);
#define HS_TILE512(n)                                                                                                  \
    npf == 2   ? tile512(kc, a, bp, ps, C, ldc, m, n, pf, 2)                                                           \
    : npf == 1 ? tile512(kc, a, bp, ps, C, ldc, m, n, pf, 1)                                                           \
               : tile512(kc, a, bp, ps, C, ldc, m, n, pf, 0)
    switch (mr) {
    case 6: HS_TILE512(6); break;
    case 5: HS_TILE512(5); break;
    case 4: HS_TILE512(4); break;
    case 3: HS_TILE512(3); break;
    case 2: HS_TILE512(2); break;
    default: HS_TILE512(1); break;
    }
#undef HS_TILE512
}

/* A tile of one lane of the LM head's packed copy (below): chains from zero, then the
 * nadd sums already made for the same rows and columns added on in add's order (row
 * stride lds; c = add[i] + c), the result stored in D (row stride ldd), columns past the
 * edge masked off. */
static inline __attribute__((always_inline)) HS_AVX512 void tile512_lane(int kc, const float *const a[MR],
                                                                         const float *restrict bp, size_t ps,
                                                                         const float *const add[3], int nadd,
                                                                         int lds, float *D, int ldd,
                                                                         const __mmask16 m[NP], const int mr,
                                                                         const uintptr_t *pf, const int pfon)
{
    __m512 c[MR][NP];
    for (int r = 0; r < mr; r++)
        for (int p = 0; p < NP; p++) c[r][p] = _mm512_setzero_ps();
    tile512_chains(kc, a, bp, ps, c, mr, pf, pfon);
    for (int i = 0; i < nadd; i++)
        for (int r = 0; r < mr; r++)
            for (int p = 0; p < NP; p++)
                c[r][p] = _mm512_add_ps(_mm512_maskz_loadu_ps(m[p], add[i] + (size_t)r * lds + p * NR), c[r][p]);
    for (int r = 0; r < mr; r++)
        for (int p = 0; p < NP; p++) _mm512_mask_storeu_ps(D + (size_t)r * ldd + p * NR, m[p], c[r][p]);
}

static HS_AVX512 void kernel512_lane(int kc, const float *const a[MR], const float *restrict bp, size_t ps,
                                     const float *const add[3], int nadd, int lds, float *D, int ldd, int mr,
                                     int ncols, const uintptr_t *pf, int npf)
{
    __mmask16 m[NP];
    tile_masks(m, ncols);
#define HS_LANE512(n)                                                                                                  \
    npf == 2   ? tile512_lane(kc, a, bp, ps, add, nadd, lds, D, ldd, m, n, pf, 2)                                      \
    : npf == 1 ? tile512_lane(kc, a, bp, ps, add, nadd, lds, D, ldd, m, n, pf, 1)                                      \
               : tile512_lane(kc, a, bp, ps, add, nadd, lds, D, ldd, m, n, pf, 0)
    switch (mr) {
    case 6: HS_LANE512(6); break;
    case 5: HS_LANE512(5); break;
    case 4: HS_LANE512(4); break;
    case 3: HS_LANE512(3); break;
    case 2: HS_LANE512(2); break;
    default: HS_LANE512(1); break;
    }
#undef HS_LANE512
}

/* Prefill (hs_k_gemm) on AVX-512: tile (mr, 64) = A rows x the NP packed panels at bp
 * (panel p at bp + p * ps: kc * NR when packed per call, the k block's panel size when
 * pre-packed), each element one FMA chain from zero in k order, as kernel_6x16 computes
 * it; the caller adds the tile to C as panel() does, so the bits are those of the AVX2
 * path. With cont set the chains go on from the values the tile holds (the same chain
 * over a block's k rows cut in two passes: a float stored and loaded is the same float). */
static inline __attribute__((always_inline)) HS_AVX512 void tile512z(int kc, const float *const a[MR],
                                                                     const float *restrict bp, size_t ps,
                                                                     float *restrict tile, const int mr,
                                                                     const int cont)
{
    __m512 c[MR][NP];
    for (int r = 0; r < mr; r++)
        for (int p = 0; p < NP; p++)
            c[r][p] = cont ? _mm512_loadu_ps(tile + r * NP * NR + p * NR) : _mm512_setzero_ps();
    /* unrolled: the six row pointers' increments took issue slots from the FMAs (the
     * product ran 4-5% faster, bench shapes of both models) */
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        __m512 b[NP];
        for (int p = 0; p < NP; p++) b[p] = _mm512_load_ps(bp + p * ps + (size_t)k * NR);
        for (int r = 0; r < mr; r++) {
            __m512 av = _mm512_set1_ps(a[r][k]);
            for (int p = 0; p < NP; p++) c[r][p] = _mm512_fmadd_ps(av, b[p], c[r][p]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int p = 0; p < NP; p++) _mm512_storeu_ps(tile + r * NP * NR + p * NR, c[r][p]);
}

static HS_AVX512 void kernel512_6x64(int kc, const float *const a[MR], const float *restrict bp, size_t ps,
                                    float *tile, int mr, int cont)
{
#define HS_TILE512Z(n) cont ? tile512z(kc, a, bp, ps, tile, n, 1) : tile512z(kc, a, bp, ps, tile, n, 0)
    switch (mr) {
    case 6: HS_TILE512Z(6); break;
    case 5: HS_TILE512Z(5); break;
    case 4: HS_TILE512Z(4); break;
    case 3: HS_TILE512Z(3); break;
    case 2: HS_TILE512Z(2); break;
    default: HS_TILE512Z(1); break;
    }
#undef HS_TILE512Z
}

/* The k rows of a block's panels that one pass of the row tiles reads: 128 rows of 64
 * columns are 32 KB, which stay in L1 from one row tile to the next; a whole 256-row
 * block (64 KB) did not, and every row tile read it from L2 again (a decode batch's
 * product ran 1.3x slower on 256-row blocks than on 128: bench_engine shapes C 256 vs
 * 128). Cutting a chain into passes keeps its operations and their order. */
enum { KS = 128 };
/* Row tiles whose partial sums wait in a scratch between the passes (12 KB). */
enum { GT = 8 };

/* panel() for NP packed panels at once (ncols <= 64 columns from j0; panel p at bp + p * ps),
 * GT row tiles at a time, each pass of KS rows of the panels over all of them. */
static void panel512(float *C, int ldc, const float *A, int lda, const float *bp, size_t ps, int M, int k0, int kc,
                     int j0, int ncols, int first, float beta)
{
    float tile[GT][MR * NP * NR];
    for (int g0 = 0; g0 < M; g0 += GT * MR) {
        int g1 = M - g0 < GT * MR ? M : g0 + GT * MR;
        for (int s0 = 0; s0 < kc; s0 += KS) {
            int ks = kc - s0 < KS ? kc - s0 : KS;
            for (int i0 = g0, t = 0; i0 < g1; i0 += MR, t++) {
                int mr = M - i0 < MR ? M - i0 : MR;
                const float *a[MR];
                for (int r = 0; r < MR; r++) a[r] = A + (size_t)(i0 + (r < mr ? r : mr - 1)) * lda + k0 + s0;
                kernel512_6x64(ks, a, bp + (size_t)s0 * NR, ps, tile[t], mr, s0 > 0);
            }
        }
        for (int i0 = g0, t = 0; i0 < g1; i0 += MR, t++)
            tile_store(C, ldc, i0, M - i0 < MR ? M - i0 : MR, j0, ncols, tile[t], NP * NR, first, beta);
    }
}

#define WT float
#define KN(name) name##_f32
#define WLOAD8(p) _mm256_loadu_ps(p)
#define WGET(p) (*(p))
#include "gemm_wt.h"
#undef WT
#undef KN
#undef WLOAD8
#undef WGET

#define WT uint16_t
#define KN(name) name##_bf16
#define WLOAD8(p) hs_bf16x8_load(p)
#define WGET(p) hs_bf16_to_f32(*(p))
#include "gemm_wt.h"
#undef WT
#undef KN
#undef WLOAD8
#undef WGET

#define WT int8_t
#define KN(name) name##_i8
#define WLOAD8(p) hs_i8x8_load(p)
#define WGET(p) ((float)*(p))
#include "gemm_wt.h"
#undef WT
#undef KN
#undef WLOAD8
#undef WGET

/* ---- Pre-packed weights (throughput mode, hs_model_opts.pack). Packing a block per call
 * reads each weight row 64 floats at a time, and on gpt2's c_attn consecutive rows are
 * 9 KB apart, a new 4 KB page per row: the hardware prefetcher does not follow that, and
 * a batch step waited on it for a quarter to a third of its time (docs/performance.md).
 * Packed once, a k block's panels are one contiguous stream. Layout of a (K, N) matrix:
 * k blocks of KC rows (the last one shorter, kb rows); in a block, panel q (columns
 * 16q .. 16q+16, zero padded past N) is kb x 16 floats at
 *   data + b0 * npan * 16 + q * kb * 16     (b0 the block's first row, npan = ceil(N/16)),
 * then NP-1 panels of zeros at the end, so that a 64-column tile starting at the last
 * panel reads inside the allocation (its extra columns are masked off). ---- */

static int npan(int N) { return (N + NR - 1) / NR; }

size_t hs_k_pack_floats(int K, int N) { return (size_t)K * npan(N) * NR + (size_t)(NP - 1) * KC * NR; }

void hs_k_pack(float *dst, hs_w W, int ldw, int K, int N)
{
    int np = npan(N);
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC;
        float *blk = dst + (size_t)k0 * np * NR;
        for (int q = 0; q < np; q++) {
            int j0 = q * NR, nr = N - j0 < NR ? N - j0 : NR;
            if (W.q) pack_b_i8(blk + (size_t)q * kc * NR, W.q, ldw, 0, k0, kc, j0, nr);
            else if (W.h) pack_b_bf16(blk + (size_t)q * kc * NR, W.h, ldw, 0, k0, kc, j0, nr);
            else pack_b_f32(blk + (size_t)q * kc * NR, W.f, ldw, 0, k0, kc, j0, nr);
        }
    }
    memset(dst + (size_t)K * np * NR, 0, (size_t)(NP - 1) * KC * NR * sizeof(float));
}

/* a: row tile i0's mr rows of A (the last one repeated to MR). */
static void tile_rows(const float *a[MR], const float *A, int lda, int i0, int mr)
{
    for (int r = 0; r < MR; r++) a[r] = A + (size_t)(i0 + (r < mr ? r : mr - 1)) * lda;
}

/* The streams of the next pass that row tile t of nt prefetches (nx, nn of them): t and
 * t + nt, into pf; returns how many. */
static int tile_prefetch(uintptr_t pf[2], const uintptr_t nx[NP], int nn, int t, int nt)
{
    pf[0] = t < nn ? nx[t] : 0, pf[1] = t + nt < nn ? nx[t + nt] : 0;
    return t >= nn ? 0 : t + nt < nn ? 2 : 1;
}

/* One pass of the AVX-512 row tiles: C (M, ncols <= 64) += A (M, kc; row stride lda) @ the
 * NP panels at bp (panel p at bp + p * ps, kc rows), each tile's chains going on in C. The
 * tiles also prefetch the nn (0 or NP) streams nx of the next pass into L2, kc lines
 * each: tile t takes streams t and t + (the number of tiles). */
static void tiles512_pass(float *C, int ldc, const float *A, int lda, const float *bp, size_t ps, int M, int kc,
                          int ncols, const uintptr_t nx[NP], int nn)
{
    int nt = (M + MR - 1) / MR;
    for (int i0 = 0, t = 0; i0 < M; i0 += MR, t++) {
        int mr = M - i0 < MR ? M - i0 : MR;
        const float *a[MR];
        uintptr_t pf[2];
        tile_rows(a, A, lda, i0, mr);
        int npf = tile_prefetch(pf, nx, nn, t, nt);
        kernel512_acc(kc, a, bp, ps, C + (size_t)i0 * ldc, ldc, mr, ncols, pf, npf);
    }
}

/* The first rows of the pass gemm_acc_packed makes after the one at (block b0 of kb rows,
 * first row k0, last k1; column group j0; pass s0): its NP panel streams as integers
 * (tile512's prefetch), *n = 0 when this is the last pass. */
static void next_pass(uintptr_t nx[NP], int *n, const hs_wpack *P, int np, int r0, int c0, int K, int N, int b0,
                      int kb, int k0, int k1, int j0, int s0)
{
    int kc = k1 - k0;
    size_t ps = (size_t)kb * NR;
    const float *base;
    *n = NP;
    if (s0 + KS < kc) {
        base = P->data + (size_t)b0 * np * NR + (size_t)(j0 / NR) * ps + (size_t)(k0 - b0 + s0 + KS) * NR;
    } else if (j0 + NP * NR < c0 + N) {
        base = P->data + (size_t)b0 * np * NR + (size_t)((j0 + NP * NR) / NR) * ps + (size_t)(k0 - b0) * NR;
    } else if (k1 < r0 + K) { /* k1 starts the next block */
        int kb1 = P->K - k1 < KC ? P->K - k1 : KC;
        ps = (size_t)kb1 * NR;
        base = P->data + (size_t)k1 * np * NR + (size_t)(c0 / NR) * ps;
    } else {
        *n = 0;
        return;
    }
    for (int p = 0; p < NP; p++) nx[p] = (uintptr_t)(base + p * ps);
}

/* C (M, N) += A (M, K) @ the packed matrix's rows [r0, r0+K) and columns [c0, c0+N)
 * (c0 a multiple of 16): the tiles of hs_k_gemm_acc reading the panels in place, so every
 * element gets the same chain (one FMA per k, in k order, onto C's value). On AVX-512 the
 * row tiles of a pass also prefetch the next pass's panels into L2, one line of one or two
 * of its NP streams per k step each: a pass reads the weights from memory once, and the
 * hardware prefetcher did not follow four streams of 8 KB (batch 32 on gpt2's products ran
 * at 56% of the FMA peak on an AMD EPYC Zen 5, weights hot in cache at 93%). */
static void gemm_acc_packed(float *C, int ldc, const float *A, int lda, const hs_wpack *P, int r0, int c0, int M,
                            int K, int N)
{
    int np = npan(P->N), wide = hs_k_avx512();
    for (int k0 = r0; k0 < r0 + K;) {
        int b0 = k0 / KC * KC, kb = P->K - b0 < KC ? P->K - b0 : KC;
        int k1 = b0 + kb < r0 + K ? b0 + kb : r0 + K, kc = k1 - k0;
        size_t ps = (size_t)kb * NR; /* one panel of this block */
        const float *blk = P->data + (size_t)b0 * np * NR + (size_t)(k0 - b0) * NR;
        for (int j0 = c0; j0 < c0 + N; j0 += NP * NR) {
            const float *bp = blk + (size_t)(j0 / NR) * ps;
            int ncols = c0 + N - j0 < NP * NR ? c0 + N - j0 : NP * NR;
            /* AVX-512: passes of KS rows of the panels over all row tiles, as panel512,
             * each tile's chains going on in C */
            for (int s0 = 0; s0 < kc; s0 += wide ? KS : kc) {
                if (wide) {
                    int ks = kc - s0 > KS ? KS : kc - s0, nn;
                    uintptr_t nx[NP];
                    next_pass(nx, &nn, P, np, r0, c0, K, N, b0, kb, k0, k1, j0, s0);
                    tiles512_pass(C + (j0 - c0), ldc, A + (k0 - r0) + s0, lda, bp + (size_t)s0 * NR, ps, M, ks,
                                  ncols, nx, nn);
                    continue;
                }
                for (int i0 = 0; i0 < M; i0 += MR) {
                    int mr = M - i0 < MR ? M - i0 : MR;
                    const float *a[MR];
                    for (int r = 0; r < MR; r++) a[r] = A + (size_t)(i0 + (r < mr ? r : mr - 1)) * lda + (k0 - r0);
                    float *c = C + (size_t)i0 * ldc + (j0 - c0);
                    for (int p = 0; p < NP && p * NR < ncols; p++)
                        kernel_acc(kc, a, bp + p * ps, c + p * NR, ldc, mr, ncols - p * NR < NR ? ncols - p * NR : NR);
                }
            }
        }
        k0 = k1;
    }
}

int hs_k_matmul_packed(float *y, int ldy, const float *x, int ldx, const hs_wpack *P, size_t off, int B, int K, int N,
                       float beta)
{
    int r0 = (int)(off / (size_t)P->N), c0 = (int)(off % (size_t)P->N);
    if (c0 % NR || r0 + K > P->K || c0 + N > P->N) return 0;
    if (beta == 0.0f)
        for (int b = 0; b < B; b++) memset(y + (size_t)b * ldy, 0, (size_t)N * sizeof(float));
    int T = hs_k_threads_for((double)B * K * N);
    if (T == 1) {
        gemm_acc_packed(y, ldy, x, ldx, P, r0, c0, B, K, N);
        return 1;
    }
    HS_PARALLEL
    {
        int lo, hi;
        hs_k_share(N, NR, HS_THREAD_ID, T, &lo, &hi);
        if (lo < hi) gemm_acc_packed(y + lo, ldy, x, ldx, P, r0, c0 + lo, B, K, hi - lo);
    }
    return 1;
}

/* ---- The LM head of decode batches on the tiles (throughput mode). hs_k_dot_rows gives
 * row n of W (N, K) against a row of x dot4's chain: eight lane sums, lane l over
 * k = l, l + 8, l + 16, ... in order (one FMA each, from zero), then added as hsum256 adds
 * them, ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)). Each lane is a product of its
 * own, x's lane-l values (B, K/8) @ W's lane-l values transposed (K/8, N), and the tiles
 * compute it with the same chain; so the head is packed as 8 such (K/8, N) matrices (lane
 * l's after lane l-1's, each in hs_k_pack's layout), the tiles make each lane's sums from
 * zero, and the tiles of lanes 4 to 7 add the earlier lanes' on in hsum256's order: the
 * bits of hs_k_dot_rows, at the tiles' rate (dot_rows512 ran at half the FMA peak on an
 * AMD EPYC Zen 5). ---- */

/* one k block per lane (K/8 <= KC: every GPT-2 size, K <= 1600) */
size_t hs_k_pack_head_floats(int N, int K) { return K % 8 || K / 8 > KC ? 0 : 8 * hs_k_pack_floats(K / 8, N); }

void hs_k_pack_head(float *dst, hs_w W, int ldw, int N, int K)
{
    int K8 = K / 8, np = npan(N);
    size_t lane = hs_k_pack_floats(K8, N);
    for (int n = 0; n < np * NR; n++) /* row n of W (in L1 for its 8 lanes) is column n */
        for (int l = 0; l < 8; l++) {
            /* lane l's row k, column n: panel n / 16's row k, element n % 16 */
            float *d = dst + l * lane + (size_t)(n / NR) * K8 * NR + n % NR;
            size_t at = (size_t)n * ldw + l;
            for (int k = 0; k < K8; k++, at += 8)
                d[(size_t)k * NR] = n >= N ? 0.0f
                                    : W.q  ? (float)W.q[at]
                                    : W.h  ? hs_bf16_to_f32(W.h[at])
                                           : W.f[at];
        }
    for (int l = 0; l < 8; l++)
        memset(dst + l * lane + (size_t)K8 * np * NR, 0, (size_t)(NP - 1) * KC * NR * sizeof(float));
}

/* The lanes in the order their tiles run (memory order: lane l's matrix follows lane
 * l-1's, and lane 7's panels of a group lie before lane 0's of the next; visiting them as
 * hsum256 pairs them made the cold head 1.2x slower), and what each tile does at its end:
 * add the sums of scratch buffers add[0 .. nadd) in turn, then store into buffer dst (4:
 * y itself). That builds ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)) in four
 * (B, 64) buffers that stay in cache, where 8 sums per output cleared, filled and then
 * added kept the bundled model's head at 0.44 of the FMA peak (its lanes are 32 k steps). */
static const struct {
    int lane, dst, nadd, add[3];
} lane_steps[8] = {
    {0, 0, 0, {0}}, {1, 1, 0, {0}}, {2, 2, 0, {0}}, {3, 3, 0, {0}},
    {4, 0, 1, {0}}, {5, 1, 1, {1}}, {6, 0, 2, {2, 0}}, {7, 4, 3, {3, 1, 0}},
};

/* Columns [c0, c0 + n) (c0 a multiple of 16) of the head for rows x (B, K) in lane order
 * (xl: row b's lane l at xl + b K + l K/8), into y; S: scratch of 4 B 64 floats. Each
 * lane's panels of a column group (K/8 x 64) serve every row tile from L1, and its tiles
 * prefetch the next lane's (or the next group's first lane's). */
static void head_packed_serial(float *y, int ldy, const float *xl, const hs_wpack *P, int B, int c0, int n, float *S)
{
    int K8 = P->K / 8, nt = (B + MR - 1) / MR, G = NP * NR;
    size_t lane = hs_k_pack_floats(K8, P->N), ps = (size_t)K8 * NR, bs = (size_t)B * G;
    for (int j0 = c0; j0 < c0 + n; j0 += G) {
        int ncols = c0 + n - j0 < G ? c0 + n - j0 : G;
        const float *grp = P->data + (size_t)(j0 / NR) * ps;
        for (int i = 0; i < 8; i++) {
            const float *bp = grp + lane_steps[i].lane * lane;
            const float *nb = i < 7 ? grp + lane_steps[i + 1].lane * lane : j0 + G < c0 + n ? grp + NP * ps : NULL;
            uintptr_t nx[NP];
            for (int p = 0; p < NP; p++) nx[p] = nb ? (uintptr_t)(nb + p * ps) : 0;
            int dst = lane_steps[i].dst, nadd = lane_steps[i].nadd;
            for (int i0 = 0, t = 0; i0 < B; i0 += MR, t++) {
                int mr = B - i0 < MR ? B - i0 : MR;
                const float *a[MR], *add[3];
                uintptr_t pf[2];
                tile_rows(a, xl + lane_steps[i].lane * K8, P->K, i0, mr);
                int npf = tile_prefetch(pf, nx, nb ? NP : 0, t, nt);
                for (int q = 0; q < nadd; q++) add[q] = S + lane_steps[i].add[q] * bs + (size_t)i0 * G;
                float *D = dst == 4 ? y + (size_t)i0 * ldy + (j0 - c0) : S + dst * bs + (size_t)i0 * G;
                kernel512_lane(K8, a, bp, ps, add, nadd, G, D, dst == 4 ? ldy : G, mr, ncols, pf, npf);
            }
        }
    }
}

int hs_k_dot_rows_packed(float *y, int ldy, const float *x, int ldx, const hs_wpack *P, int B, int N, int K)
{
    int n1 = N / 4 * 4; /* the rows dot4 does; the caller's scalar loop does the rest */
    if (!hs_k_avx512() || !P->data || !hs_k_pack_head_floats(N, K) || K != P->K || N != P->N || B < 1 || n1 == 0)
        return 0;
    int K8 = K / 8;
    float *xl = malloc((size_t)B * K * sizeof(float));
    if (!xl) return 0;
    for (int b = 0; b < B; b++)
        for (int l = 0; l < 8; l++)
            for (int k = 0; k < K8; k++) xl[(size_t)b * K + (size_t)l * K8 + k] = x[(size_t)b * ldx + 8 * k + l];
    int T = hs_k_threads_for((double)B * K * N), ok = 1;
    size_t sfl = 4 * (size_t)B * NP * NR;
    if (T == 1) {
        float *S = malloc(sfl * sizeof(float));
        if ((ok = S != NULL)) head_packed_serial(y, ldy, xl, P, B, 0, n1, S);
        free(S);
    } else {
        float *S = malloc((size_t)T * sfl * sizeof(float));
        if ((ok = S != NULL)) {
            HS_PARALLEL
            {
                int lo, hi;
                hs_k_share(n1, NR, HS_THREAD_ID, T, &lo, &hi);
                if (lo < hi) head_packed_serial(y + lo, ldy, xl, P, B, lo, hi - lo, S + HS_THREAD_ID * sfl);
            }
        }
        free(S);
    }
    free(xl);
    return ok ? n1 : 0;
}

/* The prefill's product (hs_k_tiles) reading a pre-packed matrix in place of packing the
 * weights in every call, which took 12-17% of a throughput-mode evaluation of the bundled
 * model (docs/performance.md). A per-call pack of k block [k0, k0+kc) and columns
 * [j0, j0+16) holds exactly the values (weights widened exactly) of the pre-packed panel
 * at the same rows and columns, and the kernels are the same, so the bits are the same,
 * provided the k blocks are the same: the slice must start at a block's first row. Panels
 * read past the slice's last column (the next ones of the block, or the zero panels at
 * the end) only feed tile columns that are never stored. C (M, N) as hs_k_tiles. */
static void tiles_packed_serial(float *C, int ldc, const float *A, int lda, const hs_wpack *P, int r0, int c0, int M,
                                int K, int N, float beta)
{
    int np = npan(P->N), wide = hs_k_avx512();
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC, b0 = r0 + k0, kb = P->K - b0 < KC ? P->K - b0 : KC;
        size_t ps = (size_t)kb * NR; /* one panel of this block */
        const float *blk = P->data + (size_t)b0 * np * NR;
        int step = wide ? NP * NR : NR;
        for (int j0 = 0; j0 < N; j0 += step) {
            const float *bp = blk + (size_t)((c0 + j0) / NR) * ps;
            int ncols = N - j0 < step ? N - j0 : step;
            if (wide) panel512(C, ldc, A, lda, bp, ps, M, k0, kc, j0, ncols, k0 == 0, beta);
            else panel(C, ldc, A, lda, bp, M, k0, kc, j0, ncols, k0 == 0, beta);
        }
    }
}

int hs_k_tiles_packed(float *C, int ldc, const float *A, int lda, const hs_wpack *P, size_t off, int M, int K, int N,
                      float beta)
{
    int r0 = (int)(off / (size_t)P->N), c0 = (int)(off % (size_t)P->N);
    if (r0 % KC || c0 % NR || r0 + K > P->K || c0 + N > P->N) return 0;
    int T = hs_k_threads_for((double)M * K * N);
    if (T == 1) {
        tiles_packed_serial(C, ldc, A, lda, P, r0, c0, M, K, N, beta);
        return 1;
    }
    HS_PARALLEL
    {
        int lo, hi; /* the column slices of hs_k_tiles: the same bits whatever T */
        hs_k_share(N, NR, HS_THREAD_ID, T, &lo, &hi);
        if (lo < hi) tiles_packed_serial(C + lo, ldc, A, lda, P, r0, c0 + lo, M, K, hi - lo, beta);
    }
    return 1;
}

#else

/* Without AVX2 nothing is pre-packed (hs_model_opts.pack makes no copy). */
size_t hs_k_pack_floats(int K, int N) { return (void)K, (void)N, 0; }
size_t hs_k_pack_head_floats(int N, int K) { return (void)N, (void)K, 0; }
void hs_k_pack_head(float *dst, hs_w W, int ldw, int N, int K) { (void)dst, (void)W, (void)ldw, (void)N, (void)K; }
int hs_k_dot_rows_packed(float *y, int ldy, const float *x, int ldx, const hs_wpack *P, int B, int N, int K)
{
    return (void)y, (void)ldy, (void)x, (void)ldx, (void)P, (void)B, (void)N, (void)K, 0;
}
void hs_k_pack(float *dst, hs_w W, int ldw, int K, int N) { (void)dst, (void)W, (void)ldw, (void)K, (void)N; }
int hs_k_matmul_packed(float *y, int ldy, const float *x, int ldx, const hs_wpack *P, size_t off, int B, int K, int N,
                       float beta)
{
    (void)y, (void)ldy, (void)x, (void)ldx, (void)P, (void)off, (void)B, (void)K, (void)N, (void)beta;
    return 0;
}
int hs_k_tiles_packed(float *C, int ldc, const float *A, int lda, const hs_wpack *P, size_t off, int M, int K, int N,
                      float beta)
{
    (void)C, (void)ldc, (void)A, (void)lda, (void)P, (void)off, (void)M, (void)K, (void)N, (void)beta;
    return 0;
}

#endif
