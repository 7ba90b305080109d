/* replay.c: runs a fuzz target's LLVMFuzzerTestOneInput once on every file given (or
 * every file in a directory given), without libFuzzer: the seed corpus and the saved
 * crash inputs as a plain regression test in any build (gcc, the sanitizer build, CI).
 * A broken invariant aborts (the target's FZ_CHECK); exit 0 after the last file. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "headsweep/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
    char *buf = NULL;
    size_t n = 0;
    if (hs_read_file(path, &buf, &n) != HS_OK) {
        fprintf(stderr, "replay: %s\n", hs_err_msg());
        return 1;
    }
    printf("replay: %s (%zu bytes)\n", path, n);
    fflush(stdout);
    LLVMFuzzerTestOneInput((const uint8_t *)buf, n);
    free(buf);
    return 0;
}

/* Every regular file of dir, in name order (the log reads the same on every machine). */
static int run_dir(const char *dir, int *count)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort), bad = 0;
    if (n < 0) {
        fprintf(stderr, "replay: %s: cannot list it\n", dir);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char p[4096];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, list[i]->d_name);
        if (list[i]->d_name[0] != '.' && stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && !strstr(p, ".md"))
            bad |= run_file(p), ++*count;
        free(list[i]);
    }
    free(list);
    return bad;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    int bad = 0, count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) bad |= run_dir(argv[i], &count);
        else bad |= run_file(argv[i]), count++;
    }
    printf("replay: %d input(s) ran clean\n", count);
    return bad || count == 0;
}
