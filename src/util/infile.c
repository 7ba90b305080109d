/* infile.c: opening a file the user named as an input (job file, prompts, model files,
 * score files, results files).
 *
 * Every input must be a regular file. A FIFO would block the open (or the read) forever, a
 * character device such as /dev/zero would never end, and a directory reads as an I/O
 * error: all of these are mistakes in the command line or the job, so they are refused as
 * bad input (exit 2) naming the file and what it is. The open itself uses O_NONBLOCK so
 * that a FIFO without a writer cannot hang it; the check is fstat on that descriptor, so
 * nothing can swap the file between the check and the read. Symlinks are followed: users
 * link model directories and their files. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "headsweep/util.h"

/* What a non-regular file is, for the message. */
static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "a special file";
}

/* A path that names nothing usable is the user's mistake (exit 2); permissions and the
 * like are the system's (exit 1), as before. */
static hs_status open_error(const char *path, int err)
{
    int user = err == ENOENT || err == ENOTDIR || err == ELOOP || err == ENAMETOOLONG;
    return hs_err(user ? HS_EINPUT : HS_EIO, "%s: cannot open: %s", path, strerror(err));
}

hs_status hs_file_open_regular(const char *path, int *fd, int64_t *size)
{
    *fd = -1;
    if (size) *size = 0;
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0) return open_error(path, errno);
    struct stat sb;
    hs_status st = HS_OK;
    if (fstat(f, &sb) != 0) st = hs_err(HS_EIO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = hs_err(HS_EINPUT, "%s: is %s, not a regular file", path, file_kind(sb.st_mode));
    /* Back to blocking reads: O_NONBLOCK was only for the open. */
    else if (fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK) != 0)
        st = hs_err(HS_EIO, "%s: fcntl failed: %s", path, strerror(errno));
    if (st) {
        close(f);
        return st;
    }
    *fd = f;
    if (size) *size = (int64_t)sb.st_size;
    return HS_OK;
}

hs_status hs_file_check_regular(const char *path)
{
    int fd;
    hs_status st = hs_file_open_regular(path, &fd, NULL);
    if (!st) close(fd);
    return st;
}
