/* mapfile.c: read-only whole-file mappings and whole-file reads. Weights are mapped
 * MAP_SHARED so that every rank on a node computes from the same page-cache pages. */
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
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hs_err(errno == ENOENT ? HS_EINPUT : HS_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return hs_err(HS_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return hs_err(HS_EINPUT, "%s: not a regular file", path);
    }
    mf->size = (size_t)sb.st_size;
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

hs_status hs_read_file(const char *path, char **out, size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return hs_err(errno == ENOENT ? HS_EINPUT : HS_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = hs_malloc(cap, path);
    if (!buf) {
        fclose(f);
        return HS_ENOMEM;
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return hs_err(HS_ENOMEM, "%s: out of memory reading file", path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return hs_err(HS_EIO, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return HS_OK;
}
