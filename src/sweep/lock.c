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
 * write its target. `headsweep merge` takes the lock of its output and of every input,
 * so it never runs beside a sweep writing either (hs_lock_input). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

hs_status hs_lock_acquire(hs_lock *lk, const char *results_path)
{
    lk->fd = -1;
    lk->path = NULL;
    if (!results_path[0]) return hs_err(HS_EINPUT, "the results file path is empty");
    struct stat sb;
    if (stat(results_path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return hs_err(HS_EINPUT, "%s is a directory; give the results file's name (e.g. %s/study.h5)", results_path,
                      results_path);
    hs_status pst = make_parents(results_path);
    if (pst) return pst;
    size_t n = strlen(results_path) + 6;
    if (!(lk->path = hs_malloc(n, "lock path"))) return HS_ENOMEM;
    snprintf(lk->path, n, "%s.lock", results_path);
    for (int attempt = 0; attempt < 10; attempt++) {
        int retry;
        hs_status st = try_lock(lk, results_path, &retry);
        if (!st && !retry) return HS_OK;
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
    hs_status st = hs_lock_acquire(lk, results_path);
    if (st != HS_EIO) return st;
    hs_err_clear(); /* the lock could not be created: read-only directory or file system */
    size_t n = strlen(results_path) + 6;
    char *path = hs_malloc(n, "lock path");
    if (!path) return HS_ENOMEM;
    snprintf(path, n, "%s.lock", results_path);
    struct stat sb;
    st = stat(results_path, &sb) == 0 ? check_foreign_lock(path, results_path) : st;
    free(path);
    return st;
}

void hs_lock_release(hs_lock *lk)
{
    if (!lk || !lk->path) return;
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
    char *path = hs_malloc(strlen(results_path) + 6, "lock path");
    if (!path) return 0;
    sprintf(path, "%s.lock", results_path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0) return 0; /* no lock file: nobody holds it */
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
    return held;
}
