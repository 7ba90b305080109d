/* fuzz_util.h: what the libFuzzer targets in tests/fuzz share: a private scratch
 * directory (on tmpfs when there is one, removed at exit), writing the fuzzed bytes to a
 * file there, reading project fixtures, and the error contract every parser of outside
 * input keeps: HS_OK, or HS_EINPUT with a message that names the file (README: "Bad
 * input of any kind exits with status 2 and one message naming the file and the
 * problem"). A broken invariant prints what was wrong and aborts, which libFuzzer
 * reports as a crash and saves the input. */
#ifndef HEADSWEEP_FUZZ_UTIL_H
#define HEADSWEEP_FUZZ_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "headsweep/util.h"

#define FZ_FAIL(...)                                                               \
    do {                                                                           \
        fprintf(stderr, "fuzz invariant broken at %s:%d: ", __FILE__, __LINE__);   \
        fprintf(stderr, __VA_ARGS__);                                              \
        fputc('\n', stderr);                                                       \
        abort();                                                                   \
    } while (0)
#define FZ_CHECK(cond, ...)                                                        \
    do {                                                                           \
        if (!(cond)) FZ_FAIL(__VA_ARGS__);                                         \
    } while (0)

static char fz_dir_buf[512];

/* rm -rf of a directory this process made (flat or one level of subdirectories). */
static inline void fz_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) fz_rmtree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static inline void fz_cleanup(void)
{
    if (fz_dir_buf[0]) fz_rmtree(fz_dir_buf);
}

/* The scratch directory, made on first use. */
static inline const char *fz_dir(void)
{
    if (fz_dir_buf[0]) return fz_dir_buf;
    const char *base = getenv("HS_FUZZ_TMP");
    if (!base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!base) base = "/tmp";
    snprintf(fz_dir_buf, sizeof fz_dir_buf, "%s/hs-fuzz-XXXXXX", base);
    if (!mkdtemp(fz_dir_buf)) FZ_FAIL("mkdtemp %s failed", fz_dir_buf);
    atexit(fz_cleanup);
    return fz_dir_buf;
}

/* dir/name in a newly allocated string. */
static inline char *fz_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) FZ_FAIL("out of memory");
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static inline void fz_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) FZ_FAIL("cannot create %s", path);
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    if (fclose(f) != 0 || w != n) FZ_FAIL("cannot write %s", path);
}

/* The source tree (fixtures): $HS_SOURCE_DIR, else the one this binary was built from. */
static inline const char *fz_source_dir(void)
{
    const char *s = getenv("HS_SOURCE_DIR");
    return s ? s : HS_FUZZ_SOURCE_DIR;
}

/* Reads source-tree file rel into a new buffer (NUL-terminated); NULL when absent. */
static inline char *fz_read_fixture(const char *rel, size_t *len)
{
    char *p = fz_path(fz_source_dir(), rel), *buf = NULL;
    hs_status st = hs_read_file(p, &buf, len);
    free(p);
    return st ? NULL : buf;
}

/* HS_FUZZ_VERBOSE=1 prints each input's status and message (for checking seeds). */
static inline void fz_trace(hs_status st)
{
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("HS_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "fuzz: status %s: %s\n", hs_status_name(st), st ? hs_err_msg() : "accepted");
}

/* The error contract: a refused input is HS_EINPUT (never an internal error, an I/O
 * error or a crash) and its message names the file (any of the needles). */
static inline void fz_expect_input_error(hs_status st, const char *needle1, const char *needle2)
{
    const char *msg = hs_err_msg();
    fz_trace(st);
    if (st != HS_EINPUT)
        FZ_FAIL("status %d (%s), expected HS_OK or HS_EINPUT; message: %s", (int)st, hs_status_name(st), msg);
    if (needle1 && !strstr(msg, needle1) && !(needle2 && strstr(msg, needle2)))
        FZ_FAIL("the message does not name the input (%s%s%s): %s", needle1, needle2 ? " or " : "",
                needle2 ? needle2 : "", msg);
}

/* Reads every byte of p[0..n) so that AddressSanitizer checks the whole range. */
static inline unsigned fz_touch(const void *p, size_t n)
{
    const volatile unsigned char *b = p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += b[i];
    return s;
}

#endif
