/* test_util_files.c: hs_file_open_regular, hs_read_file and hs_map_file refuse a FIFO, a
 * directory and a character device as bad input (without blocking on the FIFO), follow
 * symlinks to regular files; hs_tmp_open + hs_tmp_commit replace a symlink at the final
 * name instead of writing through it. An alarm ends the program if an open blocks, so a
 * regression fails here rather than at the CTest timeout. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "headsweep/util.h"
#include "test_util.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    alarm(20);
    dir = tu_mkdtemp("util");
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

/* Every reader refuses path with HS_EINPUT and a message naming it and its kind. */
static void expect_refused(const char *path, const char *kind)
{
    char *text = (char *)"x";
    size_t len = 7;
    hs_mapped_file mf;
    int fd = 5;
    assert_int_equal(hs_file_open_regular(path, &fd, NULL), HS_EINPUT);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(hs_err_msg(), path));
    assert_non_null(strstr(hs_err_msg(), kind));
    assert_int_equal(hs_read_file(path, &text, &len), HS_EINPUT);
    assert_null(text);
    assert_int_equal(len, 0);
    assert_non_null(strstr(hs_err_msg(), "not a regular file"));
    assert_int_equal(hs_map_file(&mf, path), HS_EINPUT);
    assert_null(mf.data);
    assert_int_equal(hs_file_check_regular(path), HS_EINPUT);
}

static void test_fifo(void **state)
{
    (void)state;
    char *p = tu_join(dir, "fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    expect_refused(p, "is a FIFO");
    free(p);
}

static void test_directory(void **state)
{
    (void)state;
    expect_refused(dir, "is a directory");
}

static void test_device(void **state)
{
    (void)state;
    if (access("/dev/zero", R_OK) != 0) skip();
    expect_refused("/dev/zero", "is a character device");
}

static void test_missing(void **state)
{
    (void)state;
    char *p = tu_join(dir, "nothing"), *text;
    size_t len;
    assert_int_equal(hs_read_file(p, &text, &len), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "cannot open"));
    free(p);
}

/* A regular file, directly and through a symlink (users link models), empty or not. */
static void test_regular(void **state)
{
    (void)state;
    char *p = tu_join(dir, "f.txt"), *link = tu_join(dir, "link.txt"), *empty = tu_join(dir, "empty"), *text;
    size_t len;
    int64_t size;
    int fd;
    assert_int_equal(tu_write(p, "hello\n", 6), 0);
    assert_int_equal(tu_write(empty, "", 0), 0);
    assert_int_equal(symlink(p, link), 0);
    assert_int_equal(hs_file_open_regular(link, &fd, &size), HS_OK);
    assert_int_equal(size, 6);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(hs_read_file(link, &text, &len), HS_OK);
    assert_int_equal(len, 6);
    assert_string_equal(text, "hello\n");
    free(text);
    assert_int_equal(hs_read_file(empty, &text, &len), HS_OK);
    assert_int_equal(len, 0);
    assert_string_equal(text, "");
    free(text);
    hs_mapped_file mf;
    assert_int_equal(hs_map_file(&mf, link), HS_OK);
    assert_int_equal(mf.size, 6);
    assert_memory_equal(mf.data, "hello\n", 6);
    hs_unmap_file(&mf);
    free(p), free(link), free(empty);
}

/* Writes "new" through hs_tmp_open/hs_tmp_commit to path. */
static void write_new(const char *path)
{
    FILE *f;
    char *tmp;
    assert_int_equal(hs_tmp_open(path, &f, &tmp), HS_OK);
    fputs("new", f);
    assert_int_equal(hs_tmp_commit(path, f, tmp, HS_OK), HS_OK);
}

static void expect_regular_new(const char *path)
{
    struct stat sb;
    char *text;
    assert_int_equal(lstat(path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(hs_read_file(path, &text, NULL), HS_OK);
    assert_string_equal(text, "new");
    free(text);
}

/* A symlink at an output's name, to a file or to nothing, is replaced, not followed. */
static void test_tmp_replaces_symlink(void **state)
{
    (void)state;
    char *victim = tu_join(dir, "victim"), *out = tu_join(dir, "out.md"), *gone = tu_join(dir, "gone"),
         *dangling = tu_join(dir, "dangling.md"), *text;
    assert_int_equal(tu_write(victim, "precious", 8), 0);
    assert_int_equal(symlink(victim, out), 0);
    assert_int_equal(symlink(gone, dangling), 0);
    write_new(out);
    write_new(dangling);
    expect_regular_new(out);
    expect_regular_new(dangling);
    assert_int_equal(hs_read_file(victim, &text, NULL), HS_OK);
    assert_string_equal(text, "precious");
    free(text);
    assert_int_equal(access(gone, F_OK), -1);
    free(victim), free(out), free(gone), free(dangling);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo),     cmocka_unit_test(test_directory), cmocka_unit_test(test_device),
        cmocka_unit_test(test_missing),  cmocka_unit_test(test_regular),
        cmocka_unit_test(test_tmp_replaces_symlink),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
