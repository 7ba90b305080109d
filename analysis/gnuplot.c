/* gnuplot.c: finding gnuplot on PATH and running one script in the output directory.
 *
 * The child changes into the output directory so scripts use relative file names and
 * stay runnable by hand; its stdout and stderr are captured (up to 64 KiB) to be shown
 * when it fails. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "figures_impl.h"

#define HS_GP_CAPTURE (64 * 1024)

int hs_gnuplot_find(char *path, size_t cap)
{
    const char *env = getenv("PATH");
    if (!env || !*env) return 0;
    const char *p = env;
    while (*p) {
        size_t len = strcspn(p, ":");
        int k = snprintf(path, cap, "%.*s%sgnuplot", (int)len, p, len ? "/" : "./");
        struct stat sb;
        if (k > 0 && (size_t)k < cap && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
            access(path, X_OK) == 0)
            return 1;
        p += len;
        if (*p == ':') p++;
    }
    return 0;
}

/* Child side: output to the pipe, into dir, exec gnuplot. Never returns. */
static void child_exec(const char *gnuplot, const char *dir, const char *script, int wfd)
{
    if (dup2(wfd, STDOUT_FILENO) < 0 || dup2(wfd, STDERR_FILENO) < 0) _exit(126);
    close(wfd);
    if (chdir(dir) != 0) {
        fprintf(stderr, "cannot change into %s: %s\n", dir, strerror(errno));
        _exit(126);
    }
    execl(gnuplot, "gnuplot", script, (char *)NULL);
    fprintf(stderr, "cannot run %s: %s\n", gnuplot, strerror(errno));
    _exit(127);
}

/* Reads everything from fd into buf (cap bytes, NUL-terminated, excess dropped). */
static void drain(int fd, char *buf, size_t cap)
{
    size_t k = 0;
    char tmp[4096];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t take = (size_t)n < cap - 1 - k ? (size_t)n : cap - 1 - k;
        memcpy(buf + k, tmp, take);
        k += take;
    }
    buf[k] = '\0';
}

/* The last part of a long output (the error is usually at the end); fits a message. */
static const char *tail(const char *s)
{
    size_t n = strlen(s);
    return n > 1200 ? s + n - 1200 : s;
}

static hs_status wait_child(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) return hs_err(HS_EIO, "gnuplot: waitpid failed: %s", strerror(errno));
    return HS_OK;
}

static hs_status check_png(const char *dir, const char *name, const char *output)
{
    char png[1024];
    snprintf(png, sizeof png, "%s/%s.png", dir, name);
    struct stat sb;
    if (stat(png, &sb) != 0 || sb.st_size == 0)
        return hs_err(HS_EIO, "gnuplot %s.gp made no %s%s%s", name, png,
                      output[0] ? "; its output:\n" : "", output);
    if (output[0]) fprintf(stderr, "headsweep-report: gnuplot %s.gp: %s", name, output);
    return HS_OK;
}

hs_status hs_gnuplot_run(const char *gnuplot, const char *dir, const char *name)
{
    char script[300];
    snprintf(script, sizeof script, "%s.gp", name);
    int fd[2];
    if (pipe(fd) != 0) return hs_err(HS_EIO, "gnuplot: pipe failed: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return hs_err(HS_EIO, "gnuplot: fork failed: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fd[0]);
        child_exec(gnuplot, dir, script, fd[1]);
    }
    close(fd[1]);
    char *output = hs_malloc(HS_GP_CAPTURE, "gnuplot output");
    if (output) drain(fd[0], output, HS_GP_CAPTURE);
    close(fd[0]);
    int status = 0;
    hs_status st = wait_child(pid, &status);
    if (!st && !output) st = HS_ENOMEM;
    if (!st && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
        st = hs_err(HS_EIO, "gnuplot %s/%s failed (%s %d); its output:\n%s", dir, script,
                    WIFEXITED(status) ? "exit status" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), tail(output));
    if (!st) st = check_png(dir, name, output);
    free(output);
    return st;
}
