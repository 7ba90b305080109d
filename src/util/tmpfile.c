/* tmpfile.c: a new file written beside its final path and renamed into place.
 *
 * The temporary name is unique (mkstemp: PATH.tmp.XXXXXX, created O_EXCL, never through
 * a symlink), so two writers never share one and a link planted at a fixed PATH.tmp
 * cannot redirect the write; the rename replaces whatever has the final name, a symlink
 * included, and never writes through one. hs_rename_noreplace gives a finished file its
 * name without ever replacing one that appeared meanwhile (results files, merge outputs). */
#define _GNU_SOURCE /* renameat2, RENAME_NOREPLACE */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "headsweep/util.h"

/* User mistakes in an output path are bad input (exit 2), named as such, not an I/O error
 * about a temporary name the user never gave (issue 17). */
hs_status hs_out_path_check(const char *path)
{
    struct stat sb;
    if (!path[0]) return hs_err(HS_EINPUT, "the output path is empty");
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return hs_err(HS_EINPUT, "%s is a directory; give the output file's name (e.g. %s/out.json)", path, path);
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return HS_OK;
    char *dir = hs_strdup(path);
    if (!dir) return HS_ENOMEM;
    dir[slash - path] = '\0';
    int rc = stat(dir, &sb), err = errno;
    hs_status st = HS_OK;
    if (rc != 0 && (err == ENOENT || err == ENOTDIR))
        st = hs_err(HS_EINPUT, "cannot use %s as the directory of output file %s: %s", dir, path, strerror(err));
    else if (rc == 0 && !S_ISDIR(sb.st_mode))
        st = hs_err(HS_EINPUT, "cannot use %s as the directory of output file %s: not a directory", dir, path);
    free(dir);
    return st;
}

hs_status hs_tmp_create(const char *path, FILE **f, char **tmp)
{
    *f = NULL;
    *tmp = NULL;
    hs_status pst = hs_out_path_check(path);
    return pst ? pst : hs_tmp_open(path, f, tmp);
}

hs_status hs_tmp_open(const char *path, FILE **f, char **tmp)
{
    *f = NULL;
    *tmp = NULL;
    size_t n = strlen(path) + 12;
    if (!(*tmp = hs_malloc(n, "path"))) return HS_ENOMEM;
    snprintf(*tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(*tmp);
    if (fd < 0) {
        hs_status st = hs_err(HS_EIO, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(*tmp);
        *tmp = NULL;
        return st;
    }
    /* mkstemp makes 0600; the final file should read like any other output. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0 || !(*f = fdopen(fd, "wb"))) {
        hs_status st = hs_err(HS_EIO, "%s: cannot open %s: %s", path, *tmp, strerror(errno));
        close(fd);
        unlink(*tmp);
        free(*tmp);
        *tmp = NULL;
        return st;
    }
    return HS_OK;
}

hs_status hs_tmp_commit(const char *path, FILE *f, char *tmp, hs_status st)
{
    int write_err = ferror(f);
    if (fclose(f) != 0 || write_err)
        st = st ? st : hs_err(HS_EIO, "%s: write failed (as %s): %s", path, tmp, strerror(errno ? errno : EIO));
    if (!st && rename(tmp, path) != 0)
        st = hs_err(HS_EIO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    if (st) unlink(tmp);
    free(tmp);
    return st;
}

hs_status hs_rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return HS_OK;
    if (errno == EEXIST)
        return hs_err(HS_EINPUT, "%s appeared while it was being written (as %s); not replacing it", to, from);
    if (errno != EINVAL && errno != ENOSYS)
        return hs_err(HS_EIO, "%s: cannot rename %s to it: %s", to, from, strerror(errno));
    /* A file system without RENAME_NOREPLACE: link() also refuses an existing name. */
    if (link(from, to) != 0)
        return errno == EEXIST ? hs_err(HS_EINPUT, "%s appeared while it was being written (as %s); not replacing it",
                                        to, from)
                               : hs_err(HS_EIO, "%s: cannot link %s to it: %s", to, from, strerror(errno));
    if (unlink(from) != 0)
        return hs_err(HS_EIO, "%s: cannot remove %s after linking it: %s", to, from, strerror(errno));
    return HS_OK;
}
