/* test_sweep_comm.c: the MPI layer (src/sweep/comm.c) on however many ranks it is started
 * with (CTest runs it serially and under mpirun -n 3): collectives, error agreement, the
 * shared work counter handing out every item exactly once, cell messages to rank 0,
 * progress and the stop flag. Prints what failed and exits non-zero. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_impl.h"

static int failures;

#define EXPECT(cond, ...)                                                 \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "rank %d: %s:%d: ", rank, __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
            failures++;                                                   \
        }                                                                 \
    } while (0)

static int rank, size;

static void test_collectives(hs_comm *c)
{
    int64_t v[2] = {rank == 0 ? 42 : -1, rank == 0 ? 7 : -1};
    EXPECT(!hs_comm_bcast(c, v, sizeof v) && v[0] == 42 && v[1] == 7, "bcast gave %lld %lld", (long long)v[0],
           (long long)v[1]);
    char *s = rank == 0 ? hs_strdup("hello ranks") : NULL;
    EXPECT(!hs_comm_bcast_string(c, &s) && s && !strcmp(s, "hello ranks"), "bcast_string gave %s", s ? s : "NULL");
    free(s);
    char *hosts = NULL;
    EXPECT(!hs_comm_hosts(c, &hosts), "hosts failed: %s", hs_err_msg());
    EXPECT(rank != 0 || (hosts && strstr(hosts, hs_comm_host(c))), "hosts '%s' lacks this host",
           hosts ? hosts : "NULL");
    free(hosts);
}

static void test_agree(hs_comm *c)
{
    EXPECT(hs_comm_agree(c, HS_OK) == HS_OK, "all ok must agree on ok");
    /* A failure beats an interruption, whatever the ranks. */
    hs_status mine = HS_OK;
    if (rank == 0) mine = hs_err(HS_EINTR, "stopped");
    if (rank == size - 1 && size > 1) mine = hs_err(HS_EIO, "disk on fire");
    hs_status st = hs_comm_agree(c, mine);
    if (size > 1) {
        char want[128];
        snprintf(want, sizeof want, "rank %d (%s): disk on fire", size - 1, hs_comm_host(c));
        EXPECT(st == HS_EIO && !strcmp(hs_err_msg(), want), "agree gave %d '%s', want '%s'", st, hs_err_msg(), want);
    } else {
        EXPECT(st == HS_EINTR && !strcmp(hs_err_msg(), "stopped"), "serial agree gave %d '%s'", st, hs_err_msg());
    }
}

/* Every rank takes items until the queue is drained and reports them to rank 0 as cell
 * messages; rank 0 checks that every item was taken exactly once. */
static void test_queue(hs_comm *c)
{
    const int64_t n = 57;
    EXPECT(!hs_comm_queue_open(c, n), "queue_open: %s", hs_err_msg());
    int64_t *mine = calloc((size_t)n + 1, sizeof *mine);
    int n_mine = 0, *count = calloc((size_t)n, sizeof *count);
    for (;;) {
        int64_t item;
        EXPECT(!hs_comm_queue_next(c, &item), "queue_next: %s", hs_err_msg());
        if (item >= n) break;
        mine[n_mine++] = item;
        EXPECT(!hs_comm_add_progress(c, 2), "add_progress: %s", hs_err_msg());
    }
    int64_t after;
    EXPECT(!hs_comm_queue_next(c, &after) && after >= n, "a drained queue must stay drained");
    if (rank == 0) {
        for (int i = 0; i < n_mine; i++) count[mine[i]]++;
    } else {
        void *buf = malloc((size_t)n_mine * sizeof *mine + 1);
        memcpy(buf, mine, (size_t)n_mine * sizeof *mine);
        EXPECT(!hs_comm_send(c, buf, (size_t)n_mine * sizeof *mine), "send: %s", hs_err_msg());
        EXPECT(!hs_comm_send_done(c), "send_done: %s", hs_err_msg());
    }
    while (rank == 0 && hs_comm_receive_open(c)) {
        void *buf;
        size_t len;
        EXPECT(!hs_comm_receive(c, 1, &buf, &len), "receive: %s", hs_err_msg());
        for (size_t i = 0; buf && i < len / sizeof(int64_t); i++) count[((int64_t *)buf)[i]]++;
        free(buf);
    }
    for (int64_t i = 0; rank == 0 && i < n; i++)
        EXPECT(count[i] == 1, "item %lld taken %d times", (long long)i, count[i]);
    EXPECT(!hs_comm_queue_close(c), "queue_close: %s", hs_err_msg());
    int64_t prompts;
    EXPECT(!hs_comm_progress(c, &prompts), "progress: %s", hs_err_msg());
    EXPECT(rank != 0 || prompts == 2 * n, "progress %lld, want %lld", (long long)prompts, (long long)(2 * n));
    free(mine);
    free(count);
}

static void test_stop(hs_comm *c)
{
    EXPECT(!hs_comm_queue_open(c, 10), "queue_open: %s", hs_err_msg());
    int reason = -1;
    EXPECT(!hs_comm_stop_reason(c, &reason) && reason == 0, "fresh queue has stop reason %d", reason);
    hs_comm_agree(c, HS_OK); /* everyone has read 0 before anyone stops */
    if (rank == size - 1) EXPECT(!hs_comm_request_stop(c, 15), "request_stop: %s", hs_err_msg());
    if (rank == 0) EXPECT(!hs_comm_request_stop(c, 10), "request_stop: %s", hs_err_msg());
    hs_comm_agree(c, HS_OK);
    EXPECT(!hs_comm_stop_reason(c, &reason) && reason == 15, "stop reason %d, want 15 (the largest)", reason);
    EXPECT(!hs_comm_queue_close(c), "queue_close: %s", hs_err_msg());
    EXPECT(!hs_comm_stop_reason(c, &reason) && reason == 15, "stop reason after close %d, want 15", reason);
}

int main(void)
{
    hs_comm *c;
    if (hs_comm_init(&c)) {
        fprintf(stderr, "comm init: %s\n", hs_err_msg());
        return 1;
    }
    rank = hs_comm_rank(c);
    size = hs_comm_size(c);
    const char *want = getenv("HS_TEST_RANKS");
    EXPECT(!want || atoi(want) == size, "running on %d ranks, the test asked for %s", size, want);
    test_collectives(c);
    test_agree(c);
    test_queue(c);
    test_stop(c);
    hs_status st = hs_comm_agree(c, failures ? hs_err(HS_EINTERNAL, "%d checks failed", failures) : HS_OK);
    if (rank == 0)
        fprintf(stderr, "test_sweep_comm on %d rank%s: %s\n", size, size == 1 ? "" : "s", st ? hs_err_msg() : "ok");
    hs_comm_finalize(c);
    return st ? 1 : 0;
}
