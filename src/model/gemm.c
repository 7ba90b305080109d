/* gemm.c: single-precision matrix products for the prefill and batched paths.
 *
 * The Debian OpenBLAS (0.3.21) does not recognise recent Xeons and falls back to its
 * SSE3 "Prescott" kernels, several times below what AVX2+FMA can do; so products with
 * more than one row go through this blocked kernel instead (Goto & van de Geijn's
 * layout: B packed into KC x 16 panels that stay in L1, a 6 x 16 register tile of C,
 * A read in place). Without AVX2 it defers to cblas_sgemm. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#ifdef __AVX2__
#include <immintrin.h>

enum { MR = 6, NR = 16, KC = 256 };

/* Packs B[k0 .. k0+kc, j0 .. j0+nr) (nr <= 16, zero padded) into kc rows of 16. B is
 * (K, N) with row stride ldb, or when trans it is stored as (N, K) with stride ldb. */
static void pack_b(float *restrict dst, const float *restrict B, int ldb, int trans, int k0, int kc, int j0, int nr)
{
    for (int k = 0; k < kc; k++) {
        float *d = dst + (size_t)k * NR;
        if (!trans && nr == NR) { /* two vector moves: memcpy here was a rep movs per row */
            const float *s = B + (size_t)(k0 + k) * ldb + j0;
            _mm256_storeu_ps(d, _mm256_loadu_ps(s));
            _mm256_storeu_ps(d + 8, _mm256_loadu_ps(s + 8));
            continue;
        }
        if (!trans) {
            const float *s = B + (size_t)(k0 + k) * ldb + j0;
            memcpy(d, s, (size_t)nr * sizeof(float));
        } else {
            for (int j = 0; j < nr; j++) d[j] = B[(size_t)(j0 + j) * ldb + k0 + k];
        }
        for (int j = nr; j < NR; j++) d[j] = 0.0f;
    }
}

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

/* C[i0.., j0..] (mr x nr) = (first ? beta*C : C) + tile. */
static void tile_store(float *C, int ldc, int i0, int mr, int j0, int nr, const float *tile, int first, float beta)
{
    for (int r = 0; r < mr; r++) {
        float *c = C + (size_t)(i0 + r) * ldc + j0;
        const float *t = tile + r * NR;
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
        tile_store(C, ldc, i0, mr, j0, nr, tile, first, beta);
    }
}

static void gemm_serial(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int trans_b, int M,
                        int K, int N, float beta)
{
    float bp[KC * NR] __attribute__((aligned(32)));
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC;
        for (int j0 = 0; j0 < N; j0 += NR) {
            int nr = N - j0 < NR ? N - j0 : NR;
            pack_b(bp, B, ldb, trans_b, k0, kc, j0, nr);
            panel(C, ldc, A, lda, bp, M, k0, kc, j0, nr, k0 == 0, beta);
        }
    }
}

/* Threads take contiguous column slices (whole 16-wide panels): an element's sums do
 * not depend on the slicing. */
void hs_k_gemm(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int trans_b, int M, int K,
               int N, float beta)
{
    int T = hs_k_threads_for((double)M * K * N);
    if (T == 1) {
        gemm_serial(C, ldc, A, lda, B, ldb, trans_b, M, K, N, beta);
        return;
    }
    HS_PARALLEL
    {
        int lo, hi;
        hs_k_share(N, NR, HS_THREAD_ID, T, &lo, &hi);
        if (lo < hi)
            gemm_serial(C + lo, ldc, A, lda, trans_b ? B + (size_t)lo * ldb : B + lo, ldb, trans_b, M, K, hi - lo,
                        beta);
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

/* Packs W[k0 .. k0+kc, j0 .. j0+NP*NR) into NP consecutive (kc, NR) panels (zero padded
 * past N), reading each weight row 4 lines at a time. A batch reuses each panel only a
 * few times, so reading the weights at streaming speed matters as much as the arithmetic
 * (hs_k_gemm_acc prefetches the next block while multiplying this one). */
static void pack_wide(float *restrict dst, const float *restrict W, int ldw, int k0, int kc, int j0, int N)
{
    int ncols = N - j0 < NP * NR ? N - j0 : NP * NR;
    for (int k = 0; k < kc; k++) {
        const float *s = W + (size_t)(k0 + k) * ldw + j0;
        for (int p = 0; p < NP; p++) {
            float *d = dst + ((size_t)p * kc + k) * NR;
            int c0 = p * NR, n = ncols - c0;
            if (n >= NR) {
                _mm256_store_ps(d, _mm256_loadu_ps(s + c0));
                _mm256_store_ps(d + 8, _mm256_loadu_ps(s + c0 + 8));
            } else {
                for (int j = 0; j < NR; j++) d[j] = j < n ? s[c0 + j] : 0.0f;
            }
        }
    }
}

/* Prefetches rows [r0, r1) of the weight block (k0, j0) (NP*NR columns = 4 lines per
 * row) so that packing it finds them in cache: issued while the previous block is being
 * multiplied, it overlaps the weight stream with the arithmetic. */
static void prefetch_block(const float *W, int ldw, int k0, int j0, int N, int r0, int r1)
{
    if (j0 >= N) return;
    for (int k = r0; k < r1; k++) {
        const char *s = (const char *)(W + (size_t)(k0 + k) * ldw + j0);
        for (int l = 0; l < NP * NR * 4 && j0 + l / 4 < N; l += 64) _mm_prefetch(s + l, _MM_HINT_T0);
    }
}

void hs_k_gemm_acc(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int M, int K, int N)
{
    static _Thread_local float bp[NP * KC * NR] __attribute__((aligned(32)));
    int tiles = (M + MR - 1) / MR;
    /* k blocks outermost, as in hs_k_gemm: consecutive blocks read neighbouring bytes of
     * the same weight rows. */
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC;
        for (int j0 = 0; j0 < N; j0 += NP * NR) {
            pack_wide(bp, B, ldb, k0, kc, j0, N);
            int calls = 0, total = NP * tiles;
            for (int p = 0; p < NP && j0 + p * NR < N; p++) {
                int jp = j0 + p * NR, nr = N - jp < NR ? N - jp : NR;
                for (int i0 = 0; i0 < M; i0 += MR, calls++) {
                    int mr = M - i0 < MR ? M - i0 : MR;
                    const float *a[MR];
                    for (int r = 0; r < MR; r++) a[r] = A + (size_t)(i0 + (r < mr ? r : mr - 1)) * lda + k0;
                    kernel_acc(kc, a, bp + (size_t)p * kc * NR, C + (size_t)i0 * ldc + jp, ldc, mr, nr);
                    prefetch_block(B, ldb, k0, j0 + NP * NR, N, kc * calls / total, kc * (calls + 1) / total);
                }
            }
        }
    }
}

#else

void hs_k_gemm(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int trans_b, int M, int K,
               int N, float beta)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb,
                beta, C, ldc);
}

#endif
