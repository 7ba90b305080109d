/* mapfile.c: read-only whole-file mappings and whole-file reads. Weights are mapped
 * MAP_SHARED so that every rank on a node computes from the same page-cache pages. Both
 * open through hs_file_open_regular (infile.c): only regular files, never a FIFO or device. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "headsweep/util.h"

hs_status hs_map_file(hs_mapped_file *mf, const char *path)
{
    memset(mf, 0, sizeof *mf);
    int fd;
    int64_t size;
    hs_status st = hs_file_open_regular(path, &fd, &size);
    if (st) return st;
#if SIZE_MAX < INT64_MAX /* a 32-bit machine: the size must fit size_t, or the mapping would be short */
    if ((uint64_t)size > SIZE_MAX) {
        close(fd);
        return hs_err(HS_EINPUT, "%s: %lld bytes: too large to map on this machine", path, (long long)size);
    }
#endif
    mf->size = (size_t)size;
    if (mf->size > 0) {
        void *p = mmap(NULL, mf->size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return hs_err(HS_EIO, "%s: cannot map %zu bytes: %s", path, mf->size, strerror(e));
        }
        mf->data = p;
    }
    close(fd);
    mf->path = hs_strdup(path);
    if (!mf->path) {
        hs_unmap_file(mf);
        return HS_ENOMEM;
    }
    return HS_OK;
}

void hs_unmap_file(hs_mapped_file *mf)
{
    if (!mf) return;
    if (mf->data) munmap((void *)mf->data, mf->size);
    free(mf->path);
    memset(mf, 0, sizeof *mf);
}

/* The bytes a whole-file read may take: the machine's physical memory. A larger file cannot
 * be held, and trying would push the machine into swap or the OOM killer before malloc
 * failed (Linux overcommits); no smaller cap, as prompt files of gigabytes are plausible. */
static uint64_t read_limit(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : (uint64_t)SIZE_MAX / 2;
}

/* Reads fd to its end into buf (cap bytes, growing it; one spare byte for the NUL). The
 * size from fstat is only the first guess: a file may change while it is read. */
static hs_status read_fd(int fd, const char *path, char **buf, size_t *cap, size_t *n)
{
    for (;;) {
        if (*n + 1 >= *cap) {
            char *nb = *cap < SIZE_MAX / 2 ? realloc(*buf, *cap * 2) : NULL;
            if (!nb) return hs_err(HS_ENOMEM, "%s: out of memory reading file", path);
            *buf = nb;
            *cap *= 2;
        }
        ssize_t got = read(fd, *buf + *n, *cap - *n - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return hs_err(HS_EIO, "%s: read error: %s", path, strerror(errno));
        if (got == 0) return HS_OK;
        *n += (size_t)got;
    }
}

hs_status hs_read_file(const char *path, char **out, size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    int fd;
    int64_t size;
    hs_status st = hs_file_open_regular(path, &fd, &size);
    if (st) return st;
    uint64_t limit = read_limit();
    if ((uint64_t)size >= limit) {
        close(fd);
        return hs_err(HS_ENOMEM, "%s: %lld bytes, more than this machine's memory (%llu bytes): cannot read it whole",
                      path, (long long)size, (unsigned long long)limit);
    }
    size_t cap = (size_t)size + 2, n = 0; /* + 2: the NUL, and a read that finds the end at once */
    char *buf = hs_malloc(cap, path);
    st = buf ? read_fd(fd, path, &buf, &cap, &n) : HS_ENOMEM;
    close(fd);
    if (st) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return HS_OK;
}
