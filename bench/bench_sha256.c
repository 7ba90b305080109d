/* bench_sha256.c: SHA-256 throughput of libcrypto (hs_sha256_hex, what the model hash
 * uses) against the portable routine the project had before (hs_sha256_hex_builtin), side
 * by side in one run on the same buffer. Prints the median MB/s of each over R repeats
 * and their ratio; the hashes must agree (exit 1 otherwise).
 *
 *   bench_sha256 [MB] [R]        default 256 MB, 5 repeats
 *   bench_sha256 --file PATH [R] a file instead (mapped, e.g. a model.safetensors) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "headsweep/util.h"

/* Median MB/s of fn over r runs; out gets the last hash. */
static double measure(void (*fn)(const void *, size_t, char *), const void *p, size_t n, int r, char out[65])
{
    double *mbs = malloc((size_t)r * sizeof *mbs);
    if (!mbs) exit(1);
    for (int i = 0; i < r; i++) {
        double t = hs_now();
        fn(p, n, out);
        mbs[i] = n / 1e6 / (hs_now() - t);
    }
    qsort(mbs, (size_t)r, sizeof *mbs, hs_bench_cmp_double);
    double med = mbs[r / 2];
    free(mbs);
    return med;
}

int main(int argc, char **argv)
{
    hs_mapped_file mf = {0};
    const uint8_t *p;
    size_t n;
    int r = 5;
    uint8_t *own = NULL;
    if (argc > 2 && !strcmp(argv[1], "--file")) {
        if (hs_map_file(&mf, argv[2])) return fprintf(stderr, "bench_sha256: %s\n", hs_err_msg()), 2;
        p = mf.data, n = mf.size;
        if (argc > 3) r = atoi(argv[3]);
    } else {
        n = (size_t)(argc > 1 ? atof(argv[1]) : 256) << 20;
        if (argc > 2) r = atoi(argv[2]);
        if (!(own = malloc(n ? n : 1))) return fprintf(stderr, "bench_sha256: out of memory\n"), 1;
        uint32_t x = 1;
        for (size_t i = 0; i < n; i++) own[i] = (uint8_t)((x = x * 1664525u + 1013904223u) >> 24);
        p = own;
    }
    if (r < 1) r = 1;
    char a[65], b[65];
    hs_sha256_hex(p, n < (1u << 20) ? n : (1u << 20), a); /* page in, libcrypto's dispatch */
    double lib = measure(hs_sha256_hex, p, n, r, a);
    double old = measure(hs_sha256_hex_builtin, p, n, r, b);
    printf("bytes %zu, repeats %d (medians)\n", n, r);
    printf("libcrypto  %8.1f MB/s  %s\n", lib, a);
    printf("portable   %8.1f MB/s  %s\n", old, b);
    printf("ratio      %8.2f x\n", lib / old);
    free(own);
    hs_unmap_file(&mf);
    return strcmp(a, b) != 0;
}
