/* rows.c: the products of decode, a few rows of activations against weights read in
 * place: y = x @ W (hs_k_rows_*) and, for the LM head, y = x @ W^T (hs_k_dotrows_*),
 * written once for f32 and bf16 weights (kernels_wt.h). matmul.c chooses when they run;
 * from four rows on it takes the register-blocked tiles of gemm.c instead. */
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"

/* Columns per pass of the batched product: B rows of y over this many columns stay in
 * L1 while the weight rows stream past once. */
enum { HS_BATCH_COLS = 256 };

#ifdef __AVX2__
/* The upper 8 floats of v. */
static inline __attribute__((always_inline)) HS_AVX512 __m256 hs_hi256(__m512 v)
{
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

/* 8 weights at p in both halves of a register (a broadcast load, no shuffle). */
static inline __attribute__((always_inline)) HS_AVX512 __m512 hs_f32x8_dup(const float *p)
{
    return _mm512_broadcast_f32x8(_mm256_loadu_ps(p));
}

static inline __attribute__((always_inline)) HS_AVX512 __m512 hs_bf16x8_dup(const uint16_t *p)
{
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
}

static inline __attribute__((always_inline)) HS_AVX512 __m512 hs_i8x8_dup(const int8_t *p)
{
    return _mm512_broadcast_f32x8(hs_i8x8_load(p));
}

/* Pairs of rows of x per pass of the AVX-512 LM head: 4 x HS_PAIRS accumulators. */
enum { HS_PAIRS = 6 };

/* Rows of x (B, first K8 columns, K8 % 8 == 0) interleaved in pairs, 8 floats of one row
 * then 8 of the next: pair p at p * 2 * K8. An odd last row is paired with itself.
 * NULL if out of memory. Free with free(). */
static float *hs_k_pair_rows(const float *x, int ldx, int B, int K8)
{
    int P = (B + 1) / 2;
    float *xp = aligned_alloc(64, (size_t)P * 2 * K8 * sizeof(float));
    if (!xp) return NULL;
    for (int p = 0; p < P; p++) {
        const float *x0 = x + (size_t)(2 * p) * ldx, *x1 = 2 * p + 1 < B ? x0 + ldx : x0;
        float *d = xp + (size_t)p * 2 * K8;
        for (int k = 0; k < K8; k += 8, d += 16) {
            memcpy(d, x0 + k, 8 * sizeof(float));
            memcpy(d + 8, x1 + k, 8 * sizeof(float));
        }
    }
    return xp;
}
#endif

/* Weights prefetched this many elements ahead along a row in the decode kernel. */
#define HS_PREFETCH_ELEMS 256

/* The software prefetch of one call of rows8_update: none, HS_PREFETCH_ELEMS ahead along
 * its own rows, or the same columns of the next group of eight rows. */
typedef enum { HS_PF_NONE, HS_PF_AHEAD, HS_PF_NEXT } hs_pf;

#define WT float
#define KN(name) name##_f32
#define WLOAD8(p) _mm256_loadu_ps(p)
#define WGET(p) (*(p))
#define WDUP16(p) hs_f32x8_dup(p)
#include "kernels_wt.h"
#undef WT
#undef KN
#undef WLOAD8
#undef WGET
#undef WDUP16

#define WT uint16_t
#define KN(name) name##_bf16
#define WLOAD8(p) hs_bf16x8_load(p)
#define WGET(p) hs_bf16_to_f32(*(p))
#define WDUP16(p) hs_bf16x8_dup(p)
#include "kernels_wt.h"
#undef WT
#undef KN
#undef WLOAD8
#undef WGET
#undef WDUP16

#define WT int8_t
#define KN(name) name##_i8
#define WLOAD8(p) hs_i8x8_load(p)
#define WGET(p) ((float)*(p))
#define WDUP16(p) hs_i8x8_dup(p)
#include "kernels_wt.h"
#undef WT
#undef KN
#undef WLOAD8
#undef WGET
#undef WDUP16
