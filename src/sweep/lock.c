/* lock.c: one sweep at a time per results file.
 *
 * The lock is OUT.lock next to the results file, held with a POSIX record lock (fcntl
 * F_SETLK) for the whole run and holding "pid host" for the message a second sweep
 * prints. The kernel (or the NFS/Lustre lock manager) drops a record lock when its
 * process dies, so a kill -9 never leaves a lock that blocks the rerun; the file itself
 * stays behind and is reused. On file systems without record locks the pid and host in
 * the file decide: a lock whose pid is dead on this host is stale and taken over; one
 * from another host is refused with a hint to remove it if that run is dead. Either
 * refusal is HS_EBUSY (exit 4). hs_lock_holder asks the same question without taking it
 * (`headsweep status`).
 *
 * The lock file is opened with O_NOFOLLOW and must be a regular file with one link: a
 * symlink or hard link planted as OUT.lock would otherwise make the sweep truncate and
 * write its target. An existing one must also be empty or hold a lock line ("pid host"):
 * another file of that name (a results file called OUT.lock) is refused, never truncated.
 * `headsweep merge` takes the lock of its output and of every input, so it never runs
 * beside a sweep writing either (hs_lock_input).
 *
 * One file, one lock, whatever the path (issue 17). OUT.lock lives in the canonical path
 * of OUT's directory (realpath), so dir/OUT and link-to-dir/OUT share it, also before OUT
 * exists. Once OUT exists, an open file description lock (F_OFD_SETLK) on OUT itself keys
 * the lock on its (device, inode): a hard link or a symbolic link to OUT is the same lock.
 * A sweep or merge output takes it for writing, a merge input for reading. Kept on file
 * systems whose record locks are the kernel's own and independent of flock(), which HDF5
 * uses for its own file lock (ext4, xfs, btrfs, tmpfs, overlayfs, zfs, f2fs); elsewhere
 * (NFS, which emulates flock() with record locks, Lustre, GPFS, CIFS, FUSE) it is skipped
 * and only OUT.lock and HDF5's own lock apply (docs/sweep.md). */
#define _GNU_SOURCE /* F_OFD_SETLK, F_OFD_GETLK */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "sweep_impl.h"

static void read_holder(int fd, long *pid, char *host, size_t host_size)
{
    char buf[256] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    *pid = 0;
    host[0] = '\0';
    char h[128] = "";
    if (sscanf(buf, "%ld %127s", pid, h) == 2) snprintf(host, host_size, "%s", h);
}

static hs_status write_holder(hs_lock *lk)
{
    char host[HS_HOST_MAX] = "unknown", buf[HS_HOST_MAX + 32];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    int n = snprintf(buf, sizeof buf, "%ld %s\n", (long)getpid(), host);
    if (ftruncate(lk->fd, 0) != 0 || pwrite(lk->fd, buf, (size_t)n, 0) != n)
        return hs_err(HS_EIO, "%s: cannot write lock file: %s", lk->path, strerror(errno));
    return HS_OK;
}

/* HS_EBUSY (exit 4): scripts tell "another sweep has it" from a failure by the code. */
static hs_status refuse(const hs_lock *lk, const char *results, long pid, const char *host, int stale_unknown)
{
    if (stale_unknown)
        return hs_err(HS_EBUSY, "%s is locked by pid %ld on host %s (lock file %s, this file system has no record "
                                 "locks): if that sweep is no longer running, remove the lock file and retry",
                      results, pid, host, lk->path);
    return hs_err(HS_EBUSY, "%s is being written by another sweep (pid %ld on host %s, lock file %s); "
                             "wait for it to finish or stop it first",
                  results, pid, host[0] ? host : "unknown", lk->path);
}

/* Without record locks: decide from the pid and host written in the file. */
static hs_status fallback_lock(hs_lock *lk, const char *results)
{
    long pid;
    char host[HS_HOST_MAX], me[HS_HOST_MAX] = "";
    read_holder(lk->fd, &pid, host, sizeof host);
    if (gethostname(me, sizeof me) != 0) me[0] = '\0';
    me[sizeof me - 1] = '\0';
    if (pid > 0 && pid != (long)getpid()) {
        if (strcmp(host, me)) return refuse(lk, results, pid, host, 1);
        if (kill((pid_t)pid, 0) == 0 || errno == EPERM) return refuse(lk, results, pid, host, 0);
    }
    return write_holder(lk);
}

/* A regular file with one link, so writing our pid cannot change another file. */
static hs_status check_plain(const hs_lock *lk, const char *results)
{
    struct stat sb;
    if (fstat(lk->fd, &sb) != 0) return hs_err(HS_EIO, "%s: cannot stat: %s", lk->path, strerror(errno));
    if (!S_ISREG(sb.st_mode) || sb.st_nlink != 1)
        return hs_err(HS_EINPUT, "lock file %s of results file %s is %s; refusing to write it (remove it if you did "
                                 "not put it there)", lk->path, results,
                      S_ISREG(sb.st_mode) ? "a hard link to another file" : "not a regular file");
    return HS_OK;
}

/* 1 when buf (n bytes) is a lock line as write_holder writes it: "PID HOST\n", PID a
 * positive decimal, HOST a gethostname() (no space or control character). */
static int is_lock_line(const char *buf, size_t n)
{
    size_t i = 0;
    while (i < n && buf[i] >= '0' && buf[i] <= '9') i++;
    if (i == 0 || i > 19 || i >= n || buf[i] != ' ') return 0;
    size_t host = ++i;
    while (i < n && (unsigned char)buf[i] > 0x20 && buf[i] != 0x7f) i++;
    return i > host && i - host < HS_HOST_MAX && i + 1 == n && buf[i] == '\n';
}

/* A file already at OUT.lock is ours to truncate only when it is empty (just created, or
 * a holder between its truncate and its write) or holds a lock line: anything else is
 * somebody's file that happens to have the name (a results file called x.h5.lock). */
static hs_status check_content(const hs_lock *lk, const char *results)
{
    char buf[HS_HOST_MAX + 32];
    ssize_t n = pread(lk->fd, buf, sizeof buf, 0);
    if (n < 0) return hs_err(HS_EIO, "%s: cannot read lock file: %s", lk->path, strerror(errno));
    if (n == 0 || is_lock_line(buf, (size_t)n)) return HS_OK;
    struct stat sb;
    long long size = fstat(lk->fd, &sb) == 0 ? (long long)sb.st_size : (long long)n;
    return hs_err(HS_EINPUT, "lock file %s of results file %s already exists and is not a lock (%lld bytes, not the "
                             "line \"pid host\" a sweep writes there); refusing to overwrite it: move it away if it "
                             "is not a lock", lk->path, results, size);
}

/* One attempt: 1 in *retry when the locked file was replaced under us. */
static hs_status try_lock(hs_lock *lk, const char *results, int *retry)
{
    *retry = 0;
    lk->fd = open(lk->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (lk->fd < 0 && errno == ELOOP)
        return hs_err(HS_EINPUT, "lock file %s of results file %s is a symbolic link; refusing to follow it "
                                 "(remove it if you did not put it there)", lk->path, results);
    if (lk->fd < 0)
        return hs_err(HS_EIO, "cannot create lock file %s for results file %s: %s", lk->path, results, strerror(errno));
    hs_status plain = check_plain(lk, results);
    if (!plain) plain = check_content(lk, results);
    if (plain) return plain;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(lk->fd, F_SETLK, &fl) != 0) {
        if (errno == ENOLCK || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)
            return fallback_lock(lk, results);
        if (errno != EACCES && errno != EAGAIN)
            return hs_err(HS_EIO, "%s: cannot lock: %s", lk->path, strerror(errno));
        long pid;
        char host[HS_HOST_MAX];
        read_holder(lk->fd, &pid, host, sizeof host);
        return refuse(lk, results, pid, host, 0);
    }
    /* The holder before us may have removed the file between our open and our lock. */
    struct stat a, b;
    if (fstat(lk->fd, &a) != 0 || stat(lk->path, &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
        *retry = 1;
        return HS_OK;
    }
    return write_holder(lk);
}

/* ---- the lock on the file's identity ---- */

/* 1 on the local file systems where an OFD lock on the results file cannot meet HDF5's
 * flock() on it (the two are separate on Linux) nor a lock of another host. */
static int identity_lock_safe(int fd)
{
    struct statfs fs;
    if (fstatfs(fd, &fs) != 0) return 0;
    switch ((unsigned long)fs.f_type) {
    case 0xEF53UL:     /* ext2, ext3, ext4 */
    case 0x58465342UL: /* xfs */
    case 0x9123683EUL: /* btrfs */
    case 0x01021994UL: /* tmpfs */
    case 0x794C7630UL: /* overlayfs (containers) */
    case 0x2FC12FC1UL: /* zfs */
    case 0xF2F52010UL: /* f2fs */
        return 1;
    default:
        return 0;
    }
}

/* HS_EBUSY (exit 4), as for OUT.lock: the holder's pid is unknown (OFD locks have none). */
static hs_status refuse_identity(const char *results, const struct stat *sb)
{
    return hs_err(HS_EBUSY, "%s is being written by another sweep (or read by a merge) through another path to the "
                             "same file (a hard link or a symbolic link: device %lu, inode %lu); wait for it to finish "
                             "or stop it first", results, (unsigned long)sb->st_dev, (unsigned long)sb->st_ino);
}

/* Opens results for the identity lock: -1 (errno ENOENT) when it does not exist, -2 when
 * it is not a regular file or its file system is not one where the lock is safe. */
static int open_identity(const char *results, int writer, int *rdwr)
{
    /* O_NONBLOCK: a FIFO planted as the results file must not hang the open */
    int fd = writer ? open(results, O_RDWR | O_NONBLOCK | O_CLOEXEC) : -1;
    *rdwr = fd >= 0;
    if (fd < 0) fd = open(results, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || !identity_lock_safe(fd)) {
        close(fd);
        return -2;
    }
    return fd;
}

hs_status hs_lock_identity(hs_lock *lk, const char *results)
{
    if (lk->id_fd >= 0) return HS_OK;
    int rdwr, fd = open_identity(results, lk->writer, &rdwr);
    if (fd < 0) return HS_OK; /* not there yet, or not lockable: the open that follows says what is wrong */
    /* A writer that may not write still takes a read lock: it then meets every writer. */
    struct flock fl = {.l_type = rdwr ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
        lk->id_fd = fd;
        return HS_OK;
    }
    int e = errno;
    struct stat sb;
    hs_status st = HS_OK; /* EINVAL, ENOLCK: no OFD locks here; OUT.lock alone */
    if (e == EAGAIN || e == EACCES) st = fstat(fd, &sb) == 0 ? refuse_identity(results, &sb) : HS_EBUSY;
    close(fd);
    return st;
}

hs_status hs_lock_note_file(hs_lock *lk, const char *results)
{
    struct stat sb; /* the file the identity lock holds, else the one the path names now */
    if (lk->id_fd >= 0 ? fstat(lk->id_fd, &sb) != 0 : stat(results, &sb) != 0)
        return hs_err(HS_EIO, "%s: cannot stat the results file: %s", results, strerror(errno));
    lk->file_dev = (uint64_t)sb.st_dev;
    lk->file_ino = (uint64_t)sb.st_ino;
    lk->have_file = 1;
    return HS_OK;
}

int hs_lock_file_moved(const hs_lock *lk, const char *results, int *gone)
{
    struct stat sb;
    *gone = 0;
    if (!lk->have_file) return 0;
    if (stat(results, &sb) != 0) {
        *gone = errno == ENOENT || errno == ENOTDIR;
        return *gone; /* another error (EACCES, EIO) proves nothing about the file */
    }
    return (uint64_t)sb.st_dev != lk->file_dev || (uint64_t)sb.st_ino != lk->file_ino;
}

/* 1 when another process holds a write lock on the identity of results. */
static int identity_held(const char *results)
{
    int rdwr, fd = open_identity(results, 0, &rdwr);
    if (fd < 0) return 0;
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
    int held = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type == F_WRLCK;
    close(fd);
    return held;
}

/* ---- OUT.lock ---- */

/* DIR/NAME.lock for results DIR/NAME with DIR in canonical form (realpath) into *out:
 * every path to one directory gives one lock file. */
static hs_status lock_path_of(const char *results, char **out)
{
    *out = NULL;
    const char *slash = strrchr(results, '/'), *name = slash ? slash + 1 : results;
    size_t dlen = !slash || slash == results ? 1 : (size_t)(slash - results);
    char *dir = hs_malloc(dlen + 1, "directory");
    if (!dir) return HS_ENOMEM;
    memcpy(dir, slash ? results : ".", dlen);
    dir[dlen] = '\0';
    hs_status st = HS_OK;
    char *real = realpath(dir, NULL);
    if (!real)
        st = hs_err(errno == ENOTDIR ? HS_EINPUT : HS_EIO, "cannot resolve directory %s of results file %s: %s", dir,
                    results, strerror(errno));
    size_t n = real ? strlen(real) + strlen(name) + 7 : 0;
    if (real && !(*out = hs_malloc(n, "lock path"))) st = HS_ENOMEM;
    if (*out) snprintf(*out, n, "%s%s%s.lock", real, strcmp(real, "/") ? "/" : "", name);
    free(real);
    free(dir);
    return st;
}

/* mkdir -p of the directories above path (the README's output goes to results/). */
static hs_status make_parents(const char *path)
{
    char *dir = hs_strdup(path);
    if (!dir) return HS_ENOMEM;
    hs_status st = HS_OK;
    for (char *p = dir + 1; *p && !st; p++) {
        if (*p != '/') continue;
        *p = '\0';
        struct stat sb;
        /* A path through a regular file is the user's mistake (exit 2), not an I/O error. */
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            st = hs_err(errno == ENOTDIR ? HS_EINPUT : HS_EIO, "cannot create directory %s for results file %s: %s",
                        dir, path, strerror(errno));
        else if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            st = hs_err(HS_EINPUT, "cannot use %s as the directory of results file %s: not a directory", dir, path);
        *p = '/';
    }
    free(dir);
    return st;
}

hs_status hs_lock_check_path(const char *results_path)
{
    size_t len = strlen(results_path);
    if (!len) return hs_err(HS_EINPUT, "the results file path is empty");
    if (results_path[len - 1] == '/')
        return hs_err(HS_EINPUT, "%s ends with '/'; give the results file's name (e.g. %sstudy.h5)", results_path,
                      results_path);
    struct stat sb;
    if (stat(results_path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return hs_err(HS_EINPUT, "%s is a directory; give the results file's name (e.g. %s/study.h5)", results_path,
                      results_path);
    return HS_OK;
}

/* OUT.lock, then OUT's identity when OUT exists. */
static hs_status take_lock(hs_lock *lk, const char *results_path, int writer)
{
    lk->fd = lk->id_fd = -1;
    lk->path = NULL;
    lk->writer = writer;
    lk->have_file = 0;
    /* before make_parents: a path that names no file must not leave directories behind */
    hs_status cst = hs_lock_check_path(results_path);
    if (cst) return cst;
    hs_status pst = make_parents(results_path);
    if (pst) return pst;
    hs_status lst = lock_path_of(results_path, &lk->path);
    if (lst) return lst;
    for (int attempt = 0; attempt < 10; attempt++) {
        int retry;
        hs_status st = try_lock(lk, results_path, &retry);
        if (!st && !retry) {
            st = hs_lock_identity(lk, results_path);
            if (st) hs_lock_release(lk); /* OUT.lock was ours: remove it again */
            return st;
        }
        if (lk->fd >= 0) close(lk->fd);
        lk->fd = -1;
        if (st) {
            free(lk->path);
            lk->path = NULL;
            return st;
        }
    }
    hs_status st = hs_err(HS_EIO, "%s: lock file keeps being replaced; is another sweep starting?", lk->path);
    free(lk->path);
    lk->path = NULL;
    return st;
}

hs_status hs_lock_acquire(hs_lock *lk, const char *results_path) { return take_lock(lk, results_path, 1); }

/* Without write access to an input's directory (a collaborator's read-only copy) no
 * sweep can be writing it through this lock either; an existing lock still counts. */
static hs_status check_foreign_lock(const char *lock_path, const char *results)
{
    int fd = open(lock_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return HS_OK; /* no lock file: nobody holds it */
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
    hs_status st = HS_OK;
    if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
        st = hs_err(HS_EBUSY, "%s is being written by a sweep (pid %ld, lock file %s); wait for it to finish, "
                               "or merge a copy taken after it stopped", results, (long)fl.l_pid, lock_path);
    close(fd);
    return st;
}

hs_status hs_lock_input(hs_lock *lk, const char *results_path)
{
    hs_status st = take_lock(lk, results_path, 0);
    if (st != HS_EIO) return st;
    hs_err_clear(); /* the lock could not be created: read-only directory or file system */
    char *path;
    if ((st = lock_path_of(results_path, &path))) return st;
    struct stat sb;
    st = stat(results_path, &sb) == 0 ? check_foreign_lock(path, results_path) : st;
    free(path);
    if (!st) st = hs_lock_identity(lk, results_path); /* a read lock needs no write access */
    return st;
}

void hs_lock_release(hs_lock *lk)
{
    if (!lk) return;
    if (lk->id_fd >= 0) close(lk->id_fd); /* the OFD lock goes with its last descriptor */
    lk->id_fd = -1;
    if (!lk->path) return;
    if (lk->fd >= 0) {
        unlink(lk->path); /* while still locked, so nobody locks a file about to vanish */
        close(lk->fd);
    }
    lk->fd = -1;
    free(lk->path);
    lk->path = NULL;
}

/* Without record locks: a holder counts when its pid lives here or it is on another host
 * (that we cannot check, and a sweep would refuse it too). */
static int fallback_holder(long pid, const char *host)
{
    char me[HS_HOST_MAX] = "";
    if (gethostname(me, sizeof me) != 0) me[0] = '\0';
    me[sizeof me - 1] = '\0';
    if (pid <= 0 || (pid == (long)getpid() && !strcmp(host, me))) return 0;
    return strcmp(host, me) != 0 || kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int hs_lock_holder(const char *results_path, long *pid, char host[HS_HOST_MAX])
{
    *pid = 0;
    host[0] = '\0';
    char *path;
    if (lock_path_of(results_path, &path)) hs_err_clear();
    int fd = path ? open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) : -1; /* a FIFO planted there must not hang */
    free(path);
    if (fd < 0) return identity_held(results_path); /* no lock file: held only through another path */
    read_holder(fd, pid, host, HS_HOST_MAX);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int held;
    if (fcntl(fd, F_GETLK, &fl) == 0) {
        held = fl.l_type != F_UNLCK;
        if (held && fl.l_pid > 0 && *pid <= 0) *pid = (long)fl.l_pid;
    } else {
        held = fallback_holder(*pid, host);
    }
    close(fd);
    return held || identity_held(results_path);
}
