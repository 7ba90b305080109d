/* test_util.h: helpers shared by the cmocka tests (temporary directories, files). */
#ifndef HEADSWEEP_TEST_UTIL_H
#define HEADSWEEP_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Creates a fresh temporary directory; the caller frees the string. */
static inline char *tu_mkdtemp(const char *tag)
{
    char tmpl[256];
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpl, sizeof tmpl, "%s/hs-%s-XXXXXX", base, tag);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static inline int tu_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static inline char *tu_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* rm -rf of a test directory (only ever under TMPDIR and created by tu_mkdtemp). */
static inline void tu_rmtree(const char *dir)
{
    char cmd[600];
    if (!dir || strncmp(dir, "/tmp/hs-", 8) != 0) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

#endif
