/* cpu.c: which instruction sets the kernels may use, decided once per process at run
 * time (the build's floor is AVX2+FMA; the AVX-512 paths are compiled with target
 * attributes and taken only on CPUs that have them): the AVX-512 tiles and LM head, and
 * the W8A8 kernels' level (AVX512_VNNI, AVX-512BW, AVX2 or scalar). */
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

/* The W8A8 kernels' level (kernels.h): what the CPU has, without AVX-512 when
 * HS_NO_AVX512 turns it off, capped by HS_W8A8_LEVEL. */
static int g_w8a8 = -1; /* -1: not decided yet */

static int hs_cpu_w8a8(void)
{
    __builtin_cpu_init();
    int bw = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    if (bw && __builtin_cpu_supports("avx512vnni")) return 3;
    return bw ? 2 : 1;
}

int hs_k_w8a8_level(void)
{
    if (g_w8a8 < 0) {
        const char *cap = getenv("HS_W8A8_LEVEL"), *off = getenv("HS_NO_AVX512");
        int lv = hs_cpu_w8a8();
        if (off && *off && strcmp(off, "0") && lv > 1) lv = 1;
        if (cap && *cap >= '0' && *cap <= '3' && !cap[1] && *cap - '0' < lv) lv = *cap - '0';
        g_w8a8 = lv;
    }
    return g_w8a8;
}

int hs_k_w8a8_level_set(int level)
{
    int lv = hs_cpu_w8a8();
    g_w8a8 = level < 0 ? 0 : level < lv ? level : lv;
    return g_w8a8;
}
#else
int hs_k_avx512(void) { return 0; }
int hs_k_avx512_set(int on) { return (void)on, 0; }
int hs_k_w8a8_level(void) { return 0; }
int hs_k_w8a8_level_set(int level) { return (void)level, 0; }
#endif
