/* threads.c: how the kernels use threads. Every product is split by output columns (or
 * LM-head rows), so each output element is computed by one thread with the same chain
 * whatever the count: results do not depend on the number of threads. */
#include "kernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif

static int g_threads = 1;

void hs_k_set_threads(int n)
{
#ifdef _OPENMP
    g_threads = n < 1 ? 1 : n > 256 ? 256 : n;
    /* Every parallel region splits its work for the T threads it asks for, so it must get
     * them all: no dynamic adjustment (OMP_DYNAMIC=true could hand a region fewer, whose
     * shares would go uncomputed), and no more than the runtime's limit (OMP_THREAD_LIMIT). */
    omp_set_dynamic(0);
    int limit = omp_get_thread_limit();
    if (limit > 0 && g_threads > limit) g_threads = limit;
#else
    g_threads = 1; /* built without OpenMP: the kernels run on the calling thread */
    (void)n;
#endif
}
int hs_k_threads(void) { return g_threads; }

/* Threads worth using for a product of this many multiply-adds. Waking the other threads
 * costs microseconds when they spin and tens of microseconds when they sleep (a shared
 * machine), so only products of a gpt2's size (768 x 768 and up) are split; a small
 * model's decode (256-wide, ~1 ms per token) runs on one thread, where ranks scale it
 * better (docs/scaling.md). */
#ifndef HS_THREAD_MIN_WORK
#define HS_THREAD_MIN_WORK 524288.0
#endif
int hs_k_threads_for(double work)
{
#ifdef _OPENMP
    /* A kernel called from inside another's team (hs_k_matmul_heads runs the row kernels
     * per head on its threads) must run whole on its caller's thread: a nested region
     * gets one thread, and splitting its columns for g_threads would leave all but the
     * first share uncomputed. */
    if (omp_in_parallel()) return 1;
#endif
    return work < HS_THREAD_MIN_WORK ? 1 : g_threads;
}

/* Thread t's share [lo, hi) of n items, cut at multiples of align, contiguous. */
void hs_k_share(int n, int align, int t, int T, int *lo, int *hi)
{
    int units = (n + align - 1) / align;
    int u0 = (int)((long)units * t / T), u1 = (int)((long)units * (t + 1) / T);
    *lo = u0 * align < n ? u0 * align : n;
    *hi = u1 * align < n ? u1 * align : n;
}
