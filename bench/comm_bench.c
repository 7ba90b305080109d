/* comm_bench.c: what the sweep's MPI traffic costs per cell, through the sweep's own MPI
 * layer (src/sweep/comm.c), with the compute replaced by busy loops so that only the
 * communication differs between runs.
 *
 *   mpirun -n R bench-comm CELLS PROMPTS_PER_CELL PROMPT_MS CELL_BYTES
 *
 * Every rank does what sweep.c does per cell: takes an item from the shared counter
 * (hs_comm_queue_next), then per prompt computes PROMPT_MS of busy loop, adds to the
 * progress counter and reads the stop flag (two window operations on rank 0, as
 * cell_latency and check_in do), rank 0 also taking in waiting cell messages; a finished
 * cell of CELL_BYTES goes to rank 0 (hs_comm_send), rank 0 keeps its own. Prints, per
 * rank, the median and 90th percentile of each operation's wall time, and for rank 0 the
 * time spent receiving per cell message. The write of a cell is not here: it is the
 * sweep's "writing results" time (bench/multinode_bench.sh reads it from the sweep). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "sweep_impl.h"

enum { OP_NEXT, OP_PROGRESS, OP_STOP, OP_SEND, OP_RECV, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"queue_next", "add_progress", "stop_reason", "send", "receive"};

typedef struct {
    double *v;
    size_t n, cap;
} samples;

static int add(samples *s, double x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        double *v = realloc(s->v, cap * sizeof *v);
        if (!v) return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return 0;
}

static double quantile(samples *s, double q)
{
    if (!s->n) return 0;
    qsort(s->v, s->n, sizeof *s->v, hs_bench_cmp_double);
    return s->v[(size_t)(q * (double)(s->n - 1))];
}

static void busy(double ms)
{
    double t = hs_now();
    volatile double x = 0; /* volatile: the spin is the point, the compiler must keep it */
    while ((hs_now() - t) * 1e3 < ms) x = x + 1;
}

/* Rank 0: takes in every waiting cell message, timing each. */
static hs_status drain(hs_comm *c, samples *recv, int block, long *got)
{
    for (;;) {
        void *buf;
        size_t n;
        double t = hs_now();
        hs_status st = hs_comm_receive(c, block, &buf, &n);
        if (st) return st;
        if (!buf) return HS_OK; /* nothing waiting, or a rank's "done" */
        if (add(recv, hs_now() - t)) return HS_ENOMEM;
        free(buf);
        (*got)++;
        if (block) return HS_OK;
    }
}

static hs_status run(hs_comm *c, long cells, int prompts, double prompt_ms, size_t bytes, samples *s)
{
    int rank = hs_comm_rank(c);
    long got = 0;
    hs_status st = hs_comm_queue_open(c, cells);
    for (int64_t item; !st;) {
        double t = hs_now();
        if ((st = hs_comm_queue_next(c, &item))) break;
        if (add(&s[OP_NEXT], hs_now() - t)) return HS_ENOMEM;
        if (item >= cells) break;
        for (int p = 0; p < prompts && !st; p++) {
            int stop;
            busy(prompt_ms);
            t = hs_now();
            if ((st = hs_comm_add_progress(c, 1))) break;
            if (add(&s[OP_PROGRESS], hs_now() - t)) return HS_ENOMEM;
            t = hs_now();
            if ((st = hs_comm_stop_reason(c, &stop))) break;
            if (add(&s[OP_STOP], hs_now() - t)) return HS_ENOMEM;
            if (rank == 0) st = drain(c, &s[OP_RECV], 0, &got);
        }
        if (st || rank == 0) continue;
        void *buf = malloc(bytes);
        if (!buf) return HS_ENOMEM;
        memset(buf, 0x5a, bytes);
        t = hs_now();
        if ((st = hs_comm_send(c, buf, bytes))) break; /* takes buf */
        if (add(&s[OP_SEND], hs_now() - t)) return HS_ENOMEM;
    }
    if (!st) st = hs_comm_send_done(c);
    while (!st && rank == 0 && hs_comm_receive_open(c)) st = drain(c, &s[OP_RECV], 1, &got);
    if (!st) st = hs_comm_queue_close(c);
    return st;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench-comm CELLS PROMPTS_PER_CELL PROMPT_MS CELL_BYTES\n");
        return 2;
    }
    long cells = strtol(argv[1], NULL, 10);
    int prompts = (int)strtol(argv[2], NULL, 10);
    double prompt_ms = strtod(argv[3], NULL);
    long bytes = strtol(argv[4], NULL, 10);
    if (cells < 1 || prompts < 1 || prompt_ms < 0 || bytes < 1) {
        fprintf(stderr, "bench-comm: CELLS, PROMPTS_PER_CELL and CELL_BYTES must be positive, PROMPT_MS >= 0\n");
        return 2;
    }
    hs_comm *c;
    hs_status st = hs_comm_init(&c);
    if (st) {
        fprintf(stderr, "bench-comm: %s\n", hs_err_msg());
        hs_comm_finalize(c);
        return 1;
    }
    samples s[OP_COUNT] = {{0}};
    double t0 = hs_now();
    st = run(c, cells, prompts, prompt_ms, (size_t)bytes, s);
    double wall = hs_now() - t0;
    if (!st) {
        printf("rank %d of %d on %s (%s): %.2f s, %zu cells", hs_comm_rank(c), hs_comm_size(c), hs_comm_host(c),
               hs_comm_library(c), wall, s[OP_NEXT].n ? s[OP_NEXT].n - 1 : 0);
        for (int k = 0; k < OP_COUNT; k++)
            if (s[k].n)
                printf("; %s median %.3f ms p90 %.3f ms (%zu)", op_names[k], 1e3 * quantile(&s[k], 0.5),
                       1e3 * quantile(&s[k], 0.9), s[k].n);
        printf("\n");
    } else {
        fprintf(stderr, "bench-comm: rank %d: %s\n", hs_comm_rank(c), hs_err_msg());
    }
    for (int k = 0; k < OP_COUNT; k++) free(s[k].v);
    hs_comm_finalize(c);
    return st ? 1 : 0;
}
