/* alloc.c: allocation wrappers that leave an HS_ENOMEM message saying what failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "headsweep/util.h"

void *hs_malloc(size_t n, const char *what)
{
    void *p = malloc(n ? n : 1);
    if (!p) hs_err(HS_ENOMEM, "out of memory allocating %zu bytes for %s", n, what);
    return p;
}

void *hs_malloc_aligned(size_t n, size_t align, const char *what)
{
    void *p = NULL;
    int e = posix_memalign(&p, align, n ? n : 1);
    if (e) {
        hs_err(HS_ENOMEM, "out of memory allocating %zu bytes (aligned to %zu) for %s", n, align, what);
        return NULL;
    }
    return p;
}

#define HS_HUGE_PAGE ((size_t)2 << 20)

void *hs_malloc_huge(size_t n, const char *what)
{
    size_t rounded = (n + HS_HUGE_PAGE - 1) / HS_HUGE_PAGE * HS_HUGE_PAGE;
    void *p = hs_malloc_aligned(rounded ? rounded : HS_HUGE_PAGE, HS_HUGE_PAGE, what);
#ifdef MADV_HUGEPAGE
    /* Advice only: a kernel without THP says EINVAL and the block keeps 4 KB pages,
     * which changes the speed and nothing else (hs_anon_huge_kb tells which it was). */
    if (p) (void)madvise(p, rounded ? rounded : HS_HUGE_PAGE, MADV_HUGEPAGE);
#endif
    return p;
}

long hs_anon_huge_kb(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb;
}

void *hs_calloc(size_t n, size_t size, const char *what)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) hs_err(HS_ENOMEM, "out of memory allocating %zu x %zu bytes for %s", n, size, what);
    return p;
}

char *hs_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = hs_malloc(n, "string");
    if (p) memcpy(p, s, n);
    return p;
}

char *hs_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = hs_malloc(a + b + 2, "path");
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a > 0 && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}
