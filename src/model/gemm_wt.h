/* gemm_wt.h: the packing and driver parts of gemm.c that read weights, written once for
 * both weight types. Included by gemm.c twice (see kernels_wt.h for WT, KN, WLOAD8 and
 * WGET). Weights are widened to f32 as they are packed, so the register kernels are
 * shared and a bf16 product differs from an f32 one only in the weights' values. No
 * include guard on purpose. */

/* The transposed case of pack_b for a full panel (B stored (N, K), the LM head's
 * all-position product): 8 x 8 blocks through registers instead of one strided read per
 * element, which took 3-4% of a throughput-mode evaluation of the bundled model
 * (docs/performance.md). The same values in the same places. */
static void KN(pack_bt16)(float *restrict dst, const WT *restrict B, int ldb, int k0, int kc, int j0)
{
    int k = 0;
    for (; k + 8 <= kc; k += 8)
        for (int h = 0; h < NR; h += 8) {
            __m256 r[8];
            for (int j = 0; j < 8; j++) r[j] = WLOAD8(B + (size_t)(j0 + h + j) * ldb + k0 + k);
            transpose8(r);
            for (int i = 0; i < 8; i++) _mm256_storeu_ps(dst + (size_t)(k + i) * NR + h, r[i]);
        }
    for (; k < kc; k++)
        for (int j = 0; j < NR; j++) dst[(size_t)k * NR + j] = WGET(B + (size_t)(j0 + j) * ldb + k0 + k);
}

/* Packs B[k0 .. k0+kc, j0 .. j0+nr) (nr <= 16, zero padded) into kc rows of 16. B is
 * (K, N) with row stride ldb, or when trans it is stored as (N, K) with stride ldb. */
static void KN(pack_b)(float *restrict dst, const WT *restrict B, int ldb, int trans, int k0, int kc, int j0, int nr)
{
    if (trans && nr == NR) {
        KN(pack_bt16)(dst, B, ldb, k0, kc, j0);
        return;
    }
    for (int k = 0; k < kc; k++) {
        float *d = dst + (size_t)k * NR;
        if (!trans && nr == NR) { /* two vector moves: memcpy here was a rep movs per row */
            const WT *s = B + (size_t)(k0 + k) * ldb + j0;
            _mm256_storeu_ps(d, WLOAD8(s));
            _mm256_storeu_ps(d + 8, WLOAD8(s + 8));
            continue;
        }
        for (int j = 0; j < nr; j++)
            d[j] = trans ? WGET(B + (size_t)(j0 + j) * ldb + k0 + k) : WGET(B + (size_t)(k0 + k) * ldb + j0 + j);
        for (int j = nr; j < NR; j++) d[j] = 0.0f;
    }
}

/* The AVX-512 prefill: NP panels packed side by side (zeros past N), 64 columns a tile. */
static void KN(gemm_serial512)(float *C, int ldc, const float *A, int lda, const WT *B, int ldb, int trans_b, int M,
                               int K, int N, float beta)
{
    static _Thread_local float bp[NP * KC * NR] __attribute__((aligned(64)));
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC;
        for (int j0 = 0; j0 < N; j0 += NP * NR) {
            for (int p = 0; p < NP; p++) {
                int jp = j0 + p * NR, nr = N - jp < NR ? N - jp : NR;
                float *d = bp + (size_t)p * kc * NR;
                if (nr > 0) KN(pack_b)(d, B, ldb, trans_b, k0, kc, jp, nr);
                else memset(d, 0, (size_t)kc * NR * sizeof(float));
            }
            panel512(C, ldc, A, lda, bp, (size_t)kc * NR, M, k0, kc, j0, N - j0 < NP * NR ? N - j0 : NP * NR,
                     k0 == 0, beta);
        }
    }
}

static void KN(gemm_serial)(float *C, int ldc, const float *A, int lda, const WT *B, int ldb, int trans_b, int M,
                            int K, int N, float beta)
{
    if (hs_k_avx512()) {
        KN(gemm_serial512)(C, ldc, A, lda, B, ldb, trans_b, M, K, N, beta);
        return;
    }
    float bp[KC * NR] __attribute__((aligned(32)));
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC;
        for (int j0 = 0; j0 < N; j0 += NR) {
            int nr = N - j0 < NR ? N - j0 : NR;
            KN(pack_b)(bp, B, ldb, trans_b, k0, kc, j0, nr);
            panel(C, ldc, A, lda, bp, M, k0, kc, j0, nr, k0 == 0, beta);
        }
    }
}

/* Threads take contiguous column slices (whole 16-wide panels): an element's sums do
 * not depend on the slicing. */
void KN(hs_k_tiles)(float *C, int ldc, const float *A, int lda, const WT *B, int ldb, int trans_b, int M,
                    int K, int N, float beta)
{
    int T = hs_k_threads_for((double)M * K * N);
    if (T == 1) {
        KN(gemm_serial)(C, ldc, A, lda, B, ldb, trans_b, M, K, N, beta);
        return;
    }
    HS_PARALLEL
    {
        int lo, hi;
        hs_k_share(N, NR, HS_THREAD_ID, T, &lo, &hi);
        if (lo < hi)
            KN(gemm_serial)(C + lo, ldc, A, lda, trans_b ? B + (size_t)lo * ldb : B + lo, ldb, trans_b, M, K, hi - lo,
                            beta);
    }
}

/* Packs W[k0 .. k0+kc, j0 .. j0+NP*NR) into NP consecutive (kc, NR) panels (zero padded
 * past N), reading each weight row 4 lines at a time. A batch reuses each panel only a
 * few times, so reading the weights at streaming speed matters as much as the arithmetic
 * (hs_k_gemm_acc prefetches the next block while multiplying this one). */
static void KN(pack_wide)(float *restrict dst, const WT *restrict W, int ldw, int k0, int kc, int j0, int N)
{
    int ncols = N - j0 < NP * NR ? N - j0 : NP * NR;
    for (int k = 0; k < kc; k++) {
        const WT *s = W + (size_t)(k0 + k) * ldw + j0;
        for (int p = 0; p < NP; p++) {
            float *d = dst + ((size_t)p * kc + k) * NR;
            int c0 = p * NR, n = ncols - c0;
            if (n >= NR) {
                _mm256_store_ps(d, WLOAD8(s + c0));
                _mm256_store_ps(d + 8, WLOAD8(s + c0 + 8));
            } else {
                for (int j = 0; j < NR; j++) d[j] = j < n ? WGET(s + c0 + j) : 0.0f;
            }
        }
    }
}

/* Prefetches rows [r0, r1) of the weight block (k0, j0) (NP*NR columns) so that packing
 * it finds them in cache: issued while the previous block is being multiplied, it
 * overlaps the weight stream with the arithmetic. */
static void KN(prefetch_block)(const WT *W, int ldw, int k0, int j0, int N, int r0, int r1)
{
    if (j0 >= N) return;
    int bytes = (N - j0 < NP * NR ? N - j0 : NP * NR) * (int)sizeof(WT);
    for (int k = r0; k < r1; k++) {
        const char *s = (const char *)(W + (size_t)(k0 + k) * ldw + j0);
        for (int l = 0; l < bytes; l += 64) _mm_prefetch(s + l, _MM_HINT_T0);
    }
}

/* The AVX-512 pass over one packed block: every 6-row tile against all NP panels. */
static void KN(block512)(float *C, int ldc, const float *A, int lda, const float *bp, const WT *B, int ldb, int M,
                         int N, int k0, int kc, int j0)
{
    int tiles = (M + MR - 1) / MR, ncols = N - j0 < NP * NR ? N - j0 : NP * NR;
    for (int i0 = 0, t = 0; i0 < M; i0 += MR, t++) {
        int mr = M - i0 < MR ? M - i0 : MR;
        const float *a[MR];
        for (int r = 0; r < MR; r++) a[r] = A + (size_t)(i0 + (r < mr ? r : mr - 1)) * lda + k0;
        /* no prefetch in the tile: prefetch_block reads the next block's weights ahead */
        kernel512_acc(kc, a, bp, (size_t)kc * NR, C + (size_t)i0 * ldc + j0, ldc, mr, ncols, NULL, 0);
        KN(prefetch_block)(B, ldb, k0, j0 + NP * NR, N, kc * t / tiles, kc * (t + 1) / tiles);
    }
}

static void KN(gemm_acc_serial)(float *C, int ldc, const float *A, int lda, const WT *B, int ldb, int M, int K,
                                int N)
{
    static _Thread_local float bp[NP * KC * NR] __attribute__((aligned(64)));
    int tiles = (M + MR - 1) / MR, wide = hs_k_avx512();
    /* k blocks outermost, as in hs_k_gemm: consecutive blocks read neighbouring bytes of
     * the same weight rows. */
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC;
        for (int j0 = 0; j0 < N; j0 += NP * NR) {
            KN(pack_wide)(bp, B, ldb, k0, kc, j0, N);
            if (wide) {
                KN(block512)(C, ldc, A, lda, bp, B, ldb, M, N, k0, kc, j0);
                continue;
            }
            int calls = 0, total = NP * tiles;
            for (int p = 0; p < NP && j0 + p * NR < N; p++) {
                int jp = j0 + p * NR, nr = N - jp < NR ? N - jp : NR;
                for (int i0 = 0; i0 < M; i0 += MR, calls++) {
                    int mr = M - i0 < MR ? M - i0 : MR;
                    const float *a[MR];
                    for (int r = 0; r < MR; r++) a[r] = A + (size_t)(i0 + (r < mr ? r : mr - 1)) * lda + k0;
                    kernel_acc(kc, a, bp + (size_t)p * kc * NR, C + (size_t)i0 * ldc + jp, ldc, mr, nr);
                    KN(prefetch_block)(B, ldb, k0, j0 + NP * NR, N, kc * calls / total, kc * (calls + 1) / total);
                }
            }
        }
    }
}

/* The same over threads taking contiguous 16-column slices, beta 0 overwriting C first. */
void KN(hs_k_gemm_acc)(float *C, int ldc, const float *A, int lda, const WT *B, int ldb, int M, int K, int N,
                       float beta)
{
    if (beta == 0.0f)
        for (int b = 0; b < M; b++) memset(C + (size_t)b * ldc, 0, (size_t)N * sizeof(float));
    int T = hs_k_threads_for((double)M * K * N);
    if (T == 1) {
        KN(gemm_acc_serial)(C, ldc, A, lda, B, ldb, M, K, N);
        return;
    }
    HS_PARALLEL
    {
        int lo, hi; /* 16 columns = one cache line of C */
        hs_k_share(N, 16, HS_THREAD_ID, T, &lo, &hi);
        if (lo < hi) KN(gemm_acc_serial)(C + lo, ldc, A, lda, B + lo, ldb, M, K, hi - lo);
    }
}
