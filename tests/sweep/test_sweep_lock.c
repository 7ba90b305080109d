/* test_sweep_lock.c: one sweep per results file: a second holder (another process) is
 * refused with the first one's pid and host, the lock of a dead process is taken over,
 * missing directories are created and an impossible path is named in the message. One
 * file is one lock whatever the path: a hard link (same or other directory), a symbolic
 * link to the file, and a path through a symbolic link to its directory (also before the
 * file exists) are refused with HS_EBUSY (exit 4), for sweeps and merge inputs alike. A
 * file at OUT.lock that is not a lock is refused (exit 2) and kept as it was. */
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

/* Runs hs_lock_acquire (or hs_lock_input when input) in a child process (record locks
 * are per process); returns its status and copies its message into msg. */
static hs_status lock_in_child(const char *results, int input, char *msg, size_t n)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        hs_lock lk;
        hs_status st = input ? hs_lock_input(&lk, results) : hs_lock_acquire(&lk, results);
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

static hs_status acquire_in_child(const char *results, char *msg, size_t n)
{
    return lock_in_child(results, 0, msg, n);
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

/* A file that merely has the lock's name (a results file called x.h5.lock, notes) is
 * refused (exit 2) and left as it was: never truncated, written or removed. An empty file
 * and a lock line of a dead sweep are taken. */
static void test_foreign_lock_name_kept(void **state)
{
    static const char *const foreign[] = {"\x89HDF\r\n\x1a\nresults", "notes\n", "123 host\nmore\n", "123 host",
                                          "-5 host\n", "12 \n", "12 ho st\n"};
    hs_lock lk;
    for (size_t i = 0; i < sizeof foreign / sizeof *foreign; i++) {
        assert_int_equal(tu_write("x.h5.lock", foreign[i], strlen(foreign[i])), 0);
        assert_int_equal(hs_lock_acquire(&lk, "x.h5"), HS_EINPUT);
        if (!strstr(hs_err_msg(), "x.h5.lock of results file x.h5 already exists and is not a lock") ||
            !strstr(hs_err_msg(), "move it away if it is not a lock"))
            fail_msg("unexpected message: %s", hs_err_msg());
        char buf[64] = "";
        FILE *f = fopen("x.h5.lock", "rb");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        assert_int_equal(n, strlen(foreign[i]));
        assert_memory_equal(buf, foreign[i], n);
    }
    static const char *const locks[] = {"", "4000000 node17\n", "1 unknown\n"};
    for (size_t i = 0; i < sizeof locks / sizeof *locks; i++) {
        assert_int_equal(tu_write("x.h5.lock", locks[i], strlen(locks[i])), 0);
        assert_int_equal(hs_lock_acquire(&lk, "x.h5"), HS_OK);
        hs_lock_release(&lk);
    }
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

/* A path ending in '/' names no file: refused before any directory of it is made. */
static void test_trailing_slash_makes_nothing(void **state)
{
    hs_lock lk;
    assert_int_equal(hs_lock_acquire(&lk, "sw3/"), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "sw3/ ends with '/'"));
    assert_int_equal(hs_lock_acquire(&lk, "new/sub/"), HS_EINPUT);
    struct stat sb;
    assert_int_not_equal(stat("sw3", &sb), 0);
    assert_int_not_equal(stat("new", &sb), 0);
}

/* HS_EBUSY with a message naming the path the child was given. */
static void expect_busy(const char *results, int input)
{
    char msg[1024];
    hs_status st = lock_in_child(results, input, msg, sizeof msg);
    if (st != HS_EBUSY || !strstr(msg, results) || !strstr(msg, "being written by another sweep"))
        fail_msg("%s (%s): status %d, message: %s", results, input ? "input" : "output", (int)st, msg);
}

/* A results file reached through other paths while a sweep holds it. */
static void test_other_paths_to_one_file(void **state)
{
    assert_int_equal(tu_write("a.h5", "x", 1), 0);
    assert_int_equal(mkdir("other", 0777), 0);
    assert_int_equal(link("a.h5", "b.h5"), 0);
    assert_int_equal(link("a.h5", "other/c.h5"), 0);
    assert_int_equal(symlink("a.h5", "s.h5"), 0);
    hs_lock lk;
    assert_int_equal(hs_lock_acquire(&lk, "a.h5"), HS_OK);
    expect_busy("b.h5", 0);        /* hard link, same directory */
    expect_busy("other/c.h5", 0);  /* hard link, another directory */
    expect_busy("s.h5", 0);        /* symbolic link to the file */
    expect_busy("b.h5", 1);        /* merge input through a hard link */
    assert_int_not_equal(holder_in_child("other/c.h5", 0), 0); /* `headsweep status` sees it too */
    struct stat sb;
    assert_int_not_equal(stat("b.h5.lock", &sb), 0); /* a refused lock leaves no lock file */
    hs_lock_release(&lk);
    char msg[1024];
    assert_int_equal(acquire_in_child("other/c.h5", msg, sizeof msg), HS_OK);
    assert_int_equal(holder_in_child("other/c.h5", 0), 0);
}

/* Merge inputs take a read lock: two merges may read one file, a sweep may not write it. */
static void test_inputs_share(void **state)
{
    assert_int_equal(tu_write("in.h5", "x", 1), 0);
    assert_int_equal(link("in.h5", "in2.h5"), 0);
    hs_lock lk;
    assert_int_equal(hs_lock_input(&lk, "in.h5"), HS_OK);
    char msg[1024];
    assert_int_equal(lock_in_child("in2.h5", 1, msg, sizeof msg), HS_OK);
    expect_busy("in2.h5", 0);
    hs_lock_release(&lk);
}

/* dir/x.h5 and link-to-dir/x.h5 share one OUT.lock, before x.h5 exists and after. */
static void test_symlinked_directory(void **state)
{
    assert_int_equal(mkdir("real", 0777), 0);
    assert_int_equal(symlink("real", "alias"), 0);
    hs_lock lk;
    assert_int_equal(hs_lock_acquire(&lk, "real/x.h5"), HS_OK);
    char msg[1024], me[64];
    snprintf(me, sizeof me, "pid %ld on host", (long)getpid());
    assert_int_equal(acquire_in_child("alias/x.h5", msg, sizeof msg), HS_EBUSY);
    if (!strstr(msg, "alias/x.h5 is being written by another sweep") || !strstr(msg, me))
        fail_msg("unexpected message: %s", msg);
    assert_int_equal(holder_in_child("alias/x.h5", (long)getpid()), 1);
    assert_int_equal(tu_write("real/x.h5", "x", 1), 0); /* the sweep creates the file */
    assert_int_equal(hs_lock_identity(&lk, "real/x.h5"), HS_OK);
    expect_busy("alias/x.h5", 0);
    hs_lock_release(&lk);
    assert_int_equal(acquire_in_child("alias/x.h5", msg, sizeof msg), HS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_holder_refused),
        cmocka_unit_test(test_dead_holder_taken_over),
        cmocka_unit_test(test_foreign_lock_name_kept),
        cmocka_unit_test(test_impossible_path_named),
        cmocka_unit_test(test_trailing_slash_makes_nothing),
        cmocka_unit_test(test_other_paths_to_one_file),
        cmocka_unit_test(test_inputs_share),
        cmocka_unit_test(test_symlinked_directory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
