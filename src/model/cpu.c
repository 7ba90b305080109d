/* cpu.c: which instruction sets the kernels may use, decided once per process at run
 * time (the build's floor is AVX2+FMA; the AVX-512 paths are compiled with target
 * attributes and taken only on CPUs that have them). */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#ifdef __AVX2__
static int g_avx512 = -1; /* -1: not decided yet */

static int hs_cpu_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
}

int hs_k_avx512(void)
{
    /* Racing first calls from several threads all store the same value. */
    if (g_avx512 < 0) {
        const char *off = getenv("HS_NO_AVX512");
        g_avx512 = hs_cpu_avx512() && !(off && *off && strcmp(off, "0"));
    }
    return g_avx512;
}

int hs_k_avx512_set(int on)
{
    g_avx512 = on && hs_cpu_avx512();
    return g_avx512;
}
#else
int hs_k_avx512(void) { return 0; }
int hs_k_avx512_set(int on) { return (void)on, 0; }
#endif
