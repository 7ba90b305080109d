/* sweep_impl.h: pieces of src/sweep shared between its files and its tests, not part of
 * the public API: the MPI layer (comm.c, the only file that calls MPI), the lock file,
 * progress reports, signals, the job's pruning plan and the wire format of a finished cell. */
#ifndef HEADSWEEP_SWEEP_IMPL_H
#define HEADSWEEP_SWEEP_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "headsweep/sweep.h"
#include "headsweep/tokenizer.h"

/* ---- comm.c: ranks, collectives, the work queue, results to the writer ----
 * Without an MPI launcher (no mpirun/srun environment) everything runs serially as rank 0
 * of 1 and MPI is never initialised. Collectives must be called by every rank. */

typedef struct hs_comm hs_comm;

hs_status hs_comm_init(hs_comm **out);
/* Finalises MPI; NULL-safe. */
void hs_comm_finalize(hs_comm *c);
int hs_comm_rank(const hs_comm *c);
int hs_comm_size(const hs_comm *c);
const char *hs_comm_host(const hs_comm *c);
/* MPI library version (first line), or "none (serial run)". */
const char *hs_comm_library(const hs_comm *c);

/* Collective: n bytes of rank 0's buf to every rank. */
hs_status hs_comm_bcast(hs_comm *c, void *buf, size_t n);
/* Collective: rank 0's string to every rank (*s allocated on the others; NULL stays NULL). */
hs_status hs_comm_bcast_string(hs_comm *c, char **s);
/* Collective: every rank passes its status; all return the most relevant one (a failure
 * before an interruption, then the lowest rank) with that rank's message, prefixed with
 * "rank N (host): " when it is not rank 0. */
hs_status hs_comm_agree(hs_comm *c, hs_status st);
/* Collective: on rank 0 *hosts = the distinct host names, comma-separated (NULL elsewhere). */
hs_status hs_comm_hosts(hs_comm *c, char **hosts);

/* The work queue: a shared counter on rank 0 that every rank (rank 0 too) advances with
 * an atomic fetch-and-add (MPI one-sided, passive target), so no rank only hands out
 * work. The same window carries a stop flag and a count of prompts done. */
hs_status hs_comm_queue_open(hs_comm *c, int64_t n_items); /* collective */
/* Next item; *item >= n_items once the queue is drained. */
hs_status hs_comm_queue_next(hs_comm *c, int64_t *item);
/* Collective; the stop reason and progress keep their final values afterwards. */
hs_status hs_comm_queue_close(hs_comm *c);
hs_status hs_comm_add_progress(hs_comm *c, int64_t prompts);
/* Prompts done by all ranks (exact on rank 0). */
hs_status hs_comm_progress(hs_comm *c, int64_t *prompts);
/* Asks every rank to stop taking work; the largest reason (> 0) is kept. */
hs_status hs_comm_request_stop(hs_comm *c, int reason);
/* The stop reason set by any rank, 0 while running. */
hs_status hs_comm_stop_reason(hs_comm *c, int *reason);

/* Finished cells travel to the writer, rank 0. Ranks > 0: send takes ownership of the
 * malloc'ed buffer (at most one in flight; a second send first waits for the first) and
 * send_done tells rank 0 that no more will come. Rank 0: receive returns the next
 * message (*buf NULL when none is waiting, or when the message was a rank's "done");
 * with block it waits for one. receive_open tells whether any rank may still send. */
hs_status hs_comm_send(hs_comm *c, void *buf, size_t n);
hs_status hs_comm_send_done(hs_comm *c);
hs_status hs_comm_receive(hs_comm *c, int block, void **buf, size_t *n);
int hs_comm_receive_open(const hs_comm *c);

/* ---- cell wire format (grid.c) ---- */

/* Packs a cell into one malloc'ed buffer for hs_comm_send. */
hs_status hs_cell_pack(const hs_cell_result *c, const hs_grid *g, void **buf, size_t *n);
/* Unpacks into c (allocated here; free with hs_cell_result_free). */
hs_status hs_cell_unpack(hs_cell_result *c, const hs_grid *g, const void *buf, size_t n);

/* ---- the order of interleaved timed runs (grid.c, docs/timing.md) ---- */

/* Throughput mode's latency sample: the cell prompt (0 .. n-1) timed t-th of k (k <= n),
 * spread evenly over the cell, floor((2t + 1) n / 2k), distinct. Not the first k: prompt
 * files keep books together and a shard holds every S-th prompt, so the first prompts of
 * every cell are the file's first k x S, its first books (the demo's sample of 3 a cell held
 * six Old Testament books and none of mark, 42% of the set: an outside review, 2026-12-07). */
int hs_latency_prompt(int t, int k, int n);

/* Rows of a Williams design for nv variants (Williams 1949, Aust. J. Sci. Res. A 2:149):
 * nv rows for even nv, 2 nv (a square and its mirror image) for odd nv. Over these rows
 * every variant runs at every position, and directly after every other variant, equally
 * often (first-order carry-over balance). */
int hs_order_rows(int nv);
/* The variant (0 .. nv-1) at position pos of row `row` (taken modulo hs_order_rows). */
int hs_order_variant(int nv, int64_t row, int pos);

/* ---- lock.c: one writer per results file ---- */

typedef struct {
    char *path;  /* OUT.lock in the canonical directory of OUT */
    int fd;
    int id_fd;   /* OUT itself, holding the lock on its identity; -1 before it exists */
    int writer;  /* hs_lock_acquire (1) or hs_lock_input (0) */
    int have_file;              /* hs_lock_note_file was called: */
    uint64_t file_dev, file_ino; /* the results file the sweep opened */
} hs_lock;

/* Takes OUT.lock beside the results file (in its directory's canonical path, so a path
 * through a symbolic link to the directory finds the same lock), and when the file exists
 * the lock on its identity (hs_lock_identity); or fails naming the holder (pid, host). */
hs_status hs_lock_acquire(hs_lock *lk, const char *results_path);
/* HS_EINPUT unless results_path can name a results file: not empty, not ending in '/', not
 * an existing directory (checked before a lock or a parent directory is made). */
hs_status hs_lock_check_path(const char *results_path);
/* The lock on the results file's identity (device, inode), so that another path to the
 * same file (a hard link, a symbolic link) is the same lock: HS_EBUSY when another sweep
 * or merge holds it. HS_OK without taking it when the file does not exist yet (call again
 * once it does) or its file system may not have independent record locks (see lock.c). */
hs_status hs_lock_identity(hs_lock *lk, const char *results_path);
/* Remembers the results file's (device, inode) once the sweep has opened it. */
hs_status hs_lock_note_file(hs_lock *lk, const char *results_path);
/* 0 while results_path still names the file noted; else 1 with *gone 1 when nothing is
 * there any more (removed or moved away), 0 when another file took its place. One stat. */
int hs_lock_file_moved(const hs_lock *lk, const char *results_path, int *gone);
/* Removes the lock file and releases it; NULL-safe and idempotent. */
void hs_lock_release(hs_lock *lk);
/* The lock of a file merge reads: taken like a sweep's, so no sweep writes it meanwhile;
 * where the lock file cannot be created (read-only directory), only checked (lk->fd -1). */
hs_status hs_lock_input(hs_lock *lk, const char *results_path);

/* ---- progress.c: rank 0's report on stderr ---- */

typedef struct {
    FILE *out;
    int bar;              /* redraw one line (terminal) instead of printing lines */
    int64_t cells_total, cells_done, cells_printed;
    int64_t prompts_total, prompts_printed;
    double interval;      /* seconds between plain lines */
    double start, last_print;
} hs_progress;

/* mode: -1 bar on a terminal, else lines; 0 lines; 1 bar. interval <= 0: the default. */
void hs_progress_init(hs_progress *p, FILE *out, int mode, double interval, int64_t cells, int64_t prompts);
/* Reports cells done and prompts done so far (prints when due, or always with force). */
void hs_progress_update(hs_progress *p, int64_t cells_done, int64_t prompts_done, int force);
void hs_progress_finish(hs_progress *p, int64_t cells_done, int64_t prompts_done);

/* ---- jobplan.c: the job's pruning settings and the pruning plan (src/prune/plan.c) ---- */

/* The job's pruning settings as the plan's input; spec borrows the job (free its variant
 * array with hs_job_plan_spec_free). */
hs_status hs_job_plan_spec(const hs_job *job, hs_plan_spec *spec);
void hs_job_plan_spec_free(hs_plan_spec *spec);
/* The job as the study runs it (for hs_study_text and the results file): job with the
 * plan's levels, head list, strategies, seed and iterative settings. A view that borrows
 * both (never hs_job_free it): free with hs_job_as_run_free. */
hs_status hs_job_as_run(const hs_job *job, const hs_prune_plan *p, hs_job *view);
void hs_job_as_run_free(hs_job *view);

/* ---- inputs.c: input checks the sweep and its dry run share (one message each) ---- */

/* The tokenizer's vocabulary must fit the model's (config.json's vocab_size). */
hs_status hs_sweep_check_vocab(const hs_job *job, const hs_tokenizer *tok, const hs_config *cfg);
/* *text_bytes: the size of a generated text's string in the results file (max_new_tokens of
 * the longest token text, plus its NUL); HS_EINPUT, naming the job line, over HS_RESULTS_TEXT_MAX. */
hs_status hs_sweep_text_bytes(const hs_job *job, const hs_tokenizer *tok, int *text_bytes);
/* Every prompt used fits n_positions with max(reference, max_new_tokens) tokens after it
 * (HS_EINPUT naming the prompt file's line); *max_t: the most any prompt needs. */
hs_status hs_sweep_context(const hs_job *job, const hs_tokenizer *tok, const hs_prompt_set *prompts, int n_positions,
                           int *max_t);
/* The results file path names a file to be: hs_lock_check_path, and not a symbolic link to
 * nothing (HS_EINPUT naming it). */
hs_status hs_sweep_check_output(const char *out);
/* The job's calibration set, read and checked (calib zeroed, HS_OK, without one). */
hs_status hs_sweep_load_calib(const hs_job *job, hs_prompt_set *calib);

/* ---- signals.c ---- */

/* SIGTERM, SIGINT, SIGUSR1, SIGUSR2 set a flag (a second one ends the process at once). */
void hs_sweep_signals_install(void);
/* The first signal caught, 0 if none. */
int hs_sweep_signal(void);
/* "SIGTERM", ...; "a signal" for any other number. */
const char *hs_sweep_signal_name(int sig);

/* headsweep merge's merged_from text for inputs (n): their names, ", " between them, at most
 * HS_MERGED_FROM_MAX bytes (the first ones and the last, with how many it leaves out). */
#define HS_MERGED_FROM_MAX (16 * 1024)
/* The longest study text a sweep writes (the root attribute study; HDF5 keeps an attribute
 * in its checksummed object header up to 64 KiB). */
#define HS_STUDY_TEXT_MAX (60 * 1024)
char *hs_merge_input_list(const char *const *inputs, int n);

#endif
