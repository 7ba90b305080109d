/* comm.c: the only compilation unit that calls MPI (as CoMD's parallel.c is).
 *
 * Work distribution: rank 0 exposes a window of three int64 (next item, stop reason,
 * prompts done); every rank, rank 0 included, takes items with MPI_Fetch_and_op under
 * MPI_Win_lock_all (passive target), so nobody is a dedicated dispatcher and a slow cell
 * never holds up the others. Finished cells travel to rank 0 as point-to-point messages;
 * rank 0 picks them up between its own prompts (see sweep.c).
 *
 * Without an MPI launcher in the environment the process runs serially as rank 0 of 1
 * and MPI_Init is never called: singleton MPI start-up is slow and fails in some
 * containers, and a serial run needs none of it. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "sweep_impl.h"

enum { W_NEXT = 0, W_STOP = 1, W_PROMPTS = 2, W_SIZE = 3 };
enum { TAG_CELL = 101, TAG_DONE = 102 };

struct hs_comm {
    int mpi;                 /* MPI initialised by us */
    int rank, size;
    char host[HS_HOST_MAX];
    char library[256];
    /* work queue */
    int64_t n_items;
    MPI_Win win;
    int64_t *win_base;       /* (W_SIZE) on rank 0 */
    int win_open;
    int64_t local[W_SIZE];   /* the serial run's counters */
    /* results to rank 0 */
    MPI_Request pending;
    void *pending_buf;
    int done_received;       /* rank 0: ranks that sent "done" */
};

static hs_status mpi_fail(int rc, const char *call, int line)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return hs_err(HS_EINTERNAL, "%s:%d: %s failed: %s", __FILE__, line, call, msg);
}

#define MPI_TRY(call)                                                  \
    do {                                                               \
        int rc_ = (call);                                              \
        if (rc_ != MPI_SUCCESS) return mpi_fail(rc_, #call, __LINE__); \
    } while (0)

/* The environment MPI launchers (Open MPI's mpirun, MPICH/Hydra, PMI-2, PMIx, srun
 * --mpi=...) give the processes they start: a rank variable, or only a size. Read here
 * alone, before MPI_Init: whether to initialise MPI at all, and which rank prints. */
static const struct {
    const char *name;
    int is_rank;
} launcher_env[] = {
    {"OMPI_COMM_WORLD_RANK", 1}, {"PMIX_RANK", 1},       {"PMI_RANK", 1},        {"OMPI_COMM_WORLD_SIZE", 0},
    {"PMI_SIZE", 0},             {"MPI_LOCALNRANKS", 0}, {"HS_FORCE_MPI", 0},
};

static int launched_by_mpi(void)
{
    for (size_t i = 0; i < sizeof launcher_env / sizeof launcher_env[0]; i++)
        if (getenv(launcher_env[i].name)) return 1;
    return 0;
}

int hs_sweep_launcher_rank(void)
{
    for (size_t i = 0; i < sizeof launcher_env / sizeof launcher_env[0]; i++) {
        const char *v = launcher_env[i].is_rank ? getenv(launcher_env[i].name) : NULL;
        if (v) return atoi(v);
    }
    return 0;
}

/* Open MPI picks its one-sided component at MPI_Init. Debian's openmpi-mca-params.conf
 * excludes pt2pt (osc = ^ucx,pt2pt), which leaves none for a window spanning hosts over
 * TCP: on two nodes MPI_Win_allocate failed with MPI_ERR_WIN (tests/slurm/multinode.sh).
 * Unless the user chose (OMPI_MCA_osc set), admit every component but ucx; on one host
 * osc/sm still wins, so single-node runs are unchanged. Other MPIs ignore the variable. */
static hs_status admit_osc_pt2pt(void)
{
    if (getenv("OMPI_MCA_osc") || setenv("OMPI_MCA_osc", "^ucx", 0) == 0) return HS_OK;
    return hs_err(HS_EIO, "%s: setenv(OMPI_MCA_osc) failed before MPI_Init", __FILE__);
}

/* MPI_Init_thread, which in the sanitizer build's tests LeakSanitizer does not watch on
 * this thread: Open MPI 4.1's start-up drops blocks it never frees (its MCA framework's
 * strings, hwloc's topology), and Debian's libraries keep no frame pointers to trace them
 * back to it by (tests/lsan.supp has the rest). */
static int mpi_init_thread(int *provided)
{
#if defined(__SANITIZE_ADDRESS__)
    __lsan_disable();
#endif
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, provided);
#if defined(__SANITIZE_ADDRESS__)
    __lsan_enable();
#endif
    return rc;
}

static hs_status init_mpi(hs_comm *c)
{
    int provided;
    hs_status st = admit_osc_pt2pt();
    if (st) return st;
    MPI_TRY(mpi_init_thread(&provided));
    c->mpi = 1;
    MPI_TRY(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MPI_TRY(MPI_Comm_rank(MPI_COMM_WORLD, &c->rank));
    MPI_TRY(MPI_Comm_size(MPI_COMM_WORLD, &c->size));
    int len = 0;
    MPI_TRY(MPI_Get_library_version(c->library, &len));
    c->library[strcspn(c->library, "\r\n,")] = '\0';
    return HS_OK;
}

hs_status hs_comm_init(hs_comm **out)
{
    hs_comm *c = hs_calloc(1, sizeof *c, "comm");
    *out = c;
    if (!c) return HS_ENOMEM;
    c->size = 1;
    c->pending = MPI_REQUEST_NULL;
    snprintf(c->library, sizeof c->library, "none (serial run)");
    if (gethostname(c->host, sizeof c->host) != 0) snprintf(c->host, sizeof c->host, "unknown");
    c->host[sizeof c->host - 1] = '\0';
    return launched_by_mpi() ? init_mpi(c) : HS_OK;
}

void hs_comm_finalize(hs_comm *c)
{
    if (!c) return;
    if (c->mpi) {
        if (c->pending != MPI_REQUEST_NULL) MPI_Cancel(&c->pending);
        free(c->pending_buf);
        int finalized = 0;
        MPI_Finalized(&finalized);
#if defined(__SANITIZE_ADDRESS__)
        /* LeakSanitizer's one check, now rather than at exit (the sanitizer build's tests):
         * the sweep has freed its state, while Open MPI's still hangs off its globals;
         * MPI_Finalize drops those blocks and unloads the components that made them, whose
         * frames LeakSanitizer could then neither name nor suppress (tests/lsan.supp). */
        if (!finalized) __lsan_do_leak_check();
#endif
        if (!finalized) MPI_Finalize();
    }
    free(c);
}

int hs_comm_rank(const hs_comm *c) { return c->rank; }
int hs_comm_size(const hs_comm *c) { return c->size; }
const char *hs_comm_host(const hs_comm *c) { return c->host; }
const char *hs_comm_library(const hs_comm *c) { return c->library; }

/* ---- collectives ---- */

hs_status hs_comm_bcast(hs_comm *c, void *buf, size_t n)
{
    if (c->size == 1) return HS_OK;
    for (size_t off = 0; off < n;) {
        int chunk = n - off > (size_t)INT_MAX ? INT_MAX : (int)(n - off);
        MPI_TRY(MPI_Bcast((char *)buf + off, chunk, MPI_BYTE, 0, MPI_COMM_WORLD));
        off += (size_t)chunk;
    }
    return HS_OK;
}

hs_status hs_comm_bcast_string(hs_comm *c, char **s)
{
    if (c->size == 1) return HS_OK;
    int64_t len = c->rank == 0 ? (*s ? (int64_t)strlen(*s) : -1) : 0;
    hs_status st = hs_comm_bcast(c, &len, sizeof len);
    if (st || len < 0) return st;
    if (c->rank != 0 && !(*s = hs_malloc((size_t)len + 1, "broadcast string"))) return HS_ENOMEM;
    return hs_comm_bcast(c, *s, (size_t)len + 1);
}

hs_status hs_comm_agree(hs_comm *c, hs_status st)
{
    if (c->size == 1) return st;
    /* Order: real failures by rank, then interruptions by rank, then success. */
    int key = st == HS_OK ? 2 * c->size : st == HS_EINTR ? c->size + c->rank : c->rank, first;
    MPI_TRY(MPI_Allreduce(&key, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
    if (first >= 2 * c->size) return HS_OK;
    int who = first < c->size ? first : first - c->size;
    char msg[2048];
    int code = (int)st;
    if (c->rank == who) {
        if (who == 0) snprintf(msg, sizeof msg, "%s", hs_err_msg());
        else snprintf(msg, sizeof msg, "rank %d (%s): %s", who, c->host, hs_err_msg());
    }
    MPI_TRY(MPI_Bcast(&code, 1, MPI_INT, who, MPI_COMM_WORLD));
    MPI_TRY(MPI_Bcast(msg, sizeof msg, MPI_CHAR, who, MPI_COMM_WORLD));
    return hs_err((hs_status)code, "%s", msg);
}

hs_status hs_comm_hosts(hs_comm *c, char **hosts)
{
    *hosts = NULL;
    char *all = c->rank == 0 ? hs_malloc((size_t)c->size * HS_HOST_MAX, "host names") : NULL;
    char *list = c->rank == 0 ? hs_calloc((size_t)c->size, HS_HOST_MAX + 1, "host list") : NULL;
    int bad = c->rank == 0 && (!all || !list);
    hs_status st = hs_comm_agree(c, bad ? HS_ENOMEM : HS_OK);
    if (!st && c->size > 1) {
        int rc = MPI_Gather(c->host, HS_HOST_MAX, MPI_CHAR, all, HS_HOST_MAX, MPI_CHAR, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) st = mpi_fail(rc, "MPI_Gather(host names)", __LINE__);
    } else if (!st) {
        memcpy(all, c->host, HS_HOST_MAX);
    }
    if (!st && c->rank == 0) {
        for (int r = 0; r < c->size; r++) {
            const char *h = all + (size_t)r * HS_HOST_MAX;
            int seen = 0;
            for (int q = 0; q < r && !seen; q++) seen = !strncmp(h, all + (size_t)q * HS_HOST_MAX, HS_HOST_MAX);
            if (!seen) snprintf(list + strlen(list), HS_HOST_MAX + 2, "%s%.*s", *list ? "," : "", HS_HOST_MAX, h);
        }
        *hosts = list;
        list = NULL;
    }
    free(all);
    free(list);
    return st;
}

/* ---- the work queue ---- */

hs_status hs_comm_queue_open(hs_comm *c, int64_t n_items)
{
    c->n_items = n_items;
    memset(c->local, 0, sizeof c->local);
    if (c->size == 1) return HS_OK;
    MPI_Aint bytes = c->rank == 0 ? (MPI_Aint)(W_SIZE * sizeof(int64_t)) : 0;
    MPI_TRY(MPI_Win_allocate(bytes, sizeof(int64_t), MPI_INFO_NULL, MPI_COMM_WORLD, &c->win_base, &c->win));
    MPI_TRY(MPI_Win_set_errhandler(c->win, MPI_ERRORS_RETURN));
    MPI_TRY(MPI_Win_lock_all(0, c->win));
    c->win_open = 1;
    if (c->rank == 0) {
        const int64_t zero[W_SIZE] = {0};
        MPI_TRY(MPI_Put(zero, W_SIZE, MPI_INT64_T, 0, 0, W_SIZE, MPI_INT64_T, c->win));
        MPI_TRY(MPI_Win_flush(0, c->win));
    }
    MPI_TRY(MPI_Barrier(MPI_COMM_WORLD));
    return HS_OK;
}

/* Atomic op on slot of rank 0's window: *old = slot; slot = op(slot, value). */
static hs_status window_op(hs_comm *c, int slot, int64_t value, MPI_Op op, int64_t *old)
{
    int64_t ignored;
    MPI_TRY(MPI_Fetch_and_op(&value, old ? old : &ignored, MPI_INT64_T, 0, slot, op, c->win));
    MPI_TRY(MPI_Win_flush(0, c->win));
    return HS_OK;
}

hs_status hs_comm_queue_next(hs_comm *c, int64_t *item)
{
    if (c->size == 1) {
        *item = c->local[W_NEXT] < c->n_items ? c->local[W_NEXT]++ : c->n_items;
        return HS_OK;
    }
    return window_op(c, W_NEXT, 1, MPI_SUM, item);
}

hs_status hs_comm_add_progress(hs_comm *c, int64_t prompts)
{
    if (c->size == 1 || !c->win_open) {
        c->local[W_PROMPTS] += prompts;
        return HS_OK;
    }
    return window_op(c, W_PROMPTS, prompts, MPI_SUM, NULL);
}

hs_status hs_comm_progress(hs_comm *c, int64_t *prompts)
{
    if (c->size == 1 || !c->win_open) {
        *prompts = c->local[W_PROMPTS];
        return HS_OK;
    }
    return window_op(c, W_PROMPTS, 0, MPI_NO_OP, prompts);
}

hs_status hs_comm_request_stop(hs_comm *c, int reason)
{
    if (c->size == 1 || !c->win_open) {
        if (reason > c->local[W_STOP]) c->local[W_STOP] = reason;
        return HS_OK;
    }
    /* MPI_MAX rather than a compare-and-swap: Open MPI 4.1's shared-memory transport
     * crashes in its emulated compare-and-swap, and the largest reason is fine to keep. */
    return window_op(c, W_STOP, reason, MPI_MAX, NULL);
}

hs_status hs_comm_stop_reason(hs_comm *c, int *reason)
{
    if (c->size == 1 || !c->win_open) {
        *reason = (int)c->local[W_STOP];
        return HS_OK;
    }
    int64_t v;
    hs_status st = window_op(c, W_STOP, 0, MPI_NO_OP, &v);
    *reason = (int)v;
    return st;
}

hs_status hs_comm_queue_close(hs_comm *c)
{
    if (c->size == 1 || !c->win_open) return HS_OK;
    /* Keep the final counters: stop reason and progress stay readable after the close. */
    hs_status st = window_op(c, W_STOP, 0, MPI_NO_OP, &c->local[W_STOP]);
    if (!st) st = window_op(c, W_PROMPTS, 0, MPI_NO_OP, &c->local[W_PROMPTS]);
    if (st) return st;
    c->win_open = 0;
    MPI_TRY(MPI_Win_unlock_all(c->win));
    MPI_TRY(MPI_Win_free(&c->win));
    return HS_OK;
}

/* ---- finished cells to rank 0 ---- */

static hs_status wait_pending(hs_comm *c)
{
    if (c->pending != MPI_REQUEST_NULL) MPI_TRY(MPI_Wait(&c->pending, MPI_STATUS_IGNORE));
    free(c->pending_buf);
    c->pending_buf = NULL;
    return HS_OK;
}

hs_status hs_comm_send(hs_comm *c, void *buf, size_t n)
{
    HS_CHECK(c->rank != 0 && c->size > 1);
    hs_status st = wait_pending(c);
    if (st || n > (size_t)INT_MAX) {
        free(buf);
        return st ? st : hs_err(HS_EINTERNAL, "cell message of %zu bytes is too large for MPI", n);
    }
    c->pending_buf = buf;
    MPI_TRY(MPI_Isend(buf, (int)n, MPI_BYTE, 0, TAG_CELL, MPI_COMM_WORLD, &c->pending));
    return HS_OK;
}

hs_status hs_comm_send_done(hs_comm *c)
{
    if (c->size == 1 || c->rank == 0) return HS_OK;
    hs_status st = wait_pending(c);
    if (st) return st;
    MPI_TRY(MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_DONE, MPI_COMM_WORLD));
    return HS_OK;
}

int hs_comm_receive_open(const hs_comm *c)
{
    return c->rank == 0 && c->done_received < c->size - 1;
}

hs_status hs_comm_receive(hs_comm *c, int block, void **buf, size_t *n)
{
    *buf = NULL;
    *n = 0;
    if (!hs_comm_receive_open(c)) return HS_OK;
    MPI_Status status;
    int ready = 1;
    if (block) MPI_TRY(MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &status));
    else MPI_TRY(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &ready, &status));
    if (!ready) return HS_OK;
    int count;
    MPI_TRY(MPI_Get_count(&status, MPI_BYTE, &count));
    void *data = count > 0 ? malloc((size_t)count) : NULL;
    if (count > 0 && !data) return hs_err(HS_ENOMEM, "out of memory receiving a cell of %d bytes", count);
    int rc = MPI_Recv(data, count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
        free(data);
        return mpi_fail(rc, "MPI_Recv(cell)", __LINE__);
    }
    if (status.MPI_TAG == TAG_DONE) {
        c->done_received++;
        free(data);
        return HS_OK;
    }
    *buf = data;
    *n = (size_t)count;
    return HS_OK;
}
