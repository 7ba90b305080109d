/* test_sweep_lock.c: one sweep per results file: a second holder (another process) is
 * refused with the first one's pid and host, the lock of a dead process is taken over,
 * missing directories are created and an impossible path is named in the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sweep_impl.h"
#include "test_util.h"

static char *dir;

static int setup(void **state)
{
    dir = tu_mkdtemp("lock");
    return dir && chdir(dir) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    if (chdir("/") != 0) return -1;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

/* Runs hs_lock_acquire in a child process (record locks are per process); returns its
 * status and copies its message into msg. */
static hs_status acquire_in_child(const char *results, char *msg, size_t n)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        hs_lock lk;
        hs_status st = hs_lock_acquire(&lk, results);
        const char *m = st ? hs_err_msg() : "";
        if (write(fds[1], m, strlen(m)) < 0) _exit(99);
        hs_lock_release(&lk);
        _exit((int)st);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], msg, n - 1);
    msg[got > 0 ? got : 0] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    return (hs_status)WEXITSTATUS(status);
}

/* hs_lock_holder seen from another process (a process never conflicts with its own
 * record locks): 1 when it reports the lock held by pid want_pid, 0 when free, 2 else. */
static int holder_in_child(const char *results, long want_pid)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        long holder;
        char host[HS_HOST_MAX];
        int held = hs_lock_holder(results, &holder, host);
        _exit(held ? (holder == want_pid && host[0] ? 1 : 2) : 0);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_second_holder_refused(void **state)
{
    hs_lock lk;
    assert_int_equal(hs_lock_acquire(&lk, "out/deep/r.h5"), HS_OK); /* creates out/deep */
    struct stat sb;
    assert_int_equal(stat("out/deep/r.h5.lock", &sb), 0);
    char msg[1024], me[64];
    snprintf(me, sizeof me, "pid %ld on host", (long)getpid());
    assert_int_equal(acquire_in_child("out/deep/r.h5", msg, sizeof msg), HS_EBUSY); /* exit 4 */
    if (!strstr(msg, "out/deep/r.h5 is being written by another sweep") || !strstr(msg, me))
        fail_msg("unexpected message: %s", msg);
    assert_int_equal(holder_in_child("out/deep/r.h5", (long)getpid()), 1);
    assert_int_equal(holder_in_child("out/deep/nothing.h5", 0), 0); /* no lock file */
    hs_lock_release(&lk);
    assert_int_equal(holder_in_child("out/deep/r.h5", 0), 0);
    assert_int_not_equal(stat("out/deep/r.h5.lock", &sb), 0); /* removed on release */
    assert_int_equal(acquire_in_child("out/deep/r.h5", msg, sizeof msg), HS_OK);
    hs_lock_release(&lk); /* idempotent */
}

/* A lock file left by a killed sweep (kill -9) holds no record lock: it is taken over. */
static void test_dead_holder_taken_over(void **state)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hs_lock lk;
        if (hs_lock_acquire(&lk, "dead.h5")) _exit(1);
        raise(SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    struct stat sb;
    assert_int_equal(stat("dead.h5.lock", &sb), 0); /* still there */
    assert_int_equal(holder_in_child("dead.h5", 0), 0);   /* but nobody holds it */
    hs_lock lk;
    assert_int_equal(hs_lock_acquire(&lk, "dead.h5"), HS_OK);
    hs_lock_release(&lk);
}

static void test_impossible_path_named(void **state)
{
    assert_int_equal(tu_write("afile", "x", 1), 0);
    hs_lock lk;
    hs_status st = hs_lock_acquire(&lk, "afile/sub/r.h5");
    assert_int_equal(st, HS_EINPUT); /* a path through a regular file: the user's mistake, exit 2 */
    if (!strstr(hs_err_msg(), "afile/sub/r.h5") || !strstr(hs_err_msg(), "afile"))
        fail_msg("unexpected message: %s", hs_err_msg());
    hs_lock_release(&lk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_holder_refused),
        cmocka_unit_test(test_dead_holder_taken_over),
        cmocka_unit_test(test_impossible_path_named),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
