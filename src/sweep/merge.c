/* merge.c: `headsweep merge OUT IN...`: one results file from several of the same study
 * (job-array parts, collaborators' runs, resumed copies).
 *
 * Inputs must hold the same study (the study text: model, prompts and every setting that
 * changes a number), the same grid, the same prompts (ids, rows of the prompt file, books)
 * and the same pruned heads. The first input is copied to a temporary file, its dimension
 * scales are attached afresh (the copied references sit in HDF5's unchecksummed global
 * heap, which no reader checks), the cells the others add are written into it, and it is
 * renamed to OUT at the end (never over an existing file), so OUT is never half-merged. Merge
 * holds OUT.lock and every input's lock like a sweep, so it never runs beside a sweep
 * writing either. A cell done in several inputs must be identical in every quality number
 * (metrics with timing = 0, generated tokens and text, agency occupancy and transitions); otherwise
 * the merge is refused, naming the cell, the number and the files. Timing numbers of a cell
 * come from the first input that has it. This is the merge rule of results.h
 * (src/results/merge_rule.c), which the report's multi-file reading applies too.
 * Files written before /agency/transitions or /prompts/generated existed merge only with each
 * other: their cells have no transitions or texts to give a file that records them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sweep_impl.h"

static hs_status copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return hs_err(HS_EIO, "%s: cannot open: %s", from, strerror(errno));
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return hs_err(HS_EIO, "%s: cannot create: %s", to, strerror(errno));
    }
    static char buf[1 << 16];
    hs_status st = HS_OK;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) st = hs_err(HS_EIO, "%s: read failed: %s", from, strerror(errno));
        if (n <= 0) break;
        for (ssize_t off = 0; off < n && !st;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) st = hs_err(HS_EIO, "%s: write failed: %s", to, strerror(errno));
            else off += w;
        }
        if (st) break;
    }
    if (!st && fsync(out) != 0) st = hs_err(HS_EIO, "%s: fsync failed: %s", to, strerror(errno));
    if (close(out) != 0 && !st) st = hs_err(HS_EIO, "%s: close failed: %s", to, strerror(errno));
    close(in);
    return st;
}

static int same_grid(const hs_grid *a, const hs_grid *b)
{
    return a->n_variants == b->n_variants && a->n_levels == b->n_levels && a->n_shards == b->n_shards &&
           a->n_prompts == b->n_prompts && a->n_layers == b->n_layers && a->n_heads == b->n_heads &&
           a->max_new == b->max_new && (a->text_bytes == b->text_bytes || !a->text_bytes || !b->text_bytes);
}

/* Files of this build and files written before an optional dataset existed merge only with
 * their own kind: the older cells have nothing to give a file that records it. */
static hs_status same_optional(hs_results *first, hs_results *r, int (*has)(const hs_results *), const char *what)
{
    if (has(first) == has(r)) return HS_OK;
    int newer = has(r);
    return hs_err(HS_EINPUT, "cannot merge %s with %s: %s records %s and %s, written by an older headsweep, does not; "
                             "merge the older files separately",
                  hs_results_path(r), hs_results_path(first), hs_results_path(newer ? r : first), what,
                  hs_results_path(newer ? first : r));
}

/* The same prompts as the first input, row for row of the prompt file (the merge rule's
 * hs_results_same_prompt): equal study texts do not prove it, since the sampling code may
 * have changed between the builds that wrote the two files. */
static hs_status same_prompts(hs_results *first, hs_results *r)
{
    const hs_prompt_row *a, *b;
    hs_status st = hs_results_prompt_rows(first, &a);
    if (!st) st = hs_results_prompt_rows(r, &b);
    char what[512];
    for (int p = 0; !st && p < hs_results_grid(first)->n_prompts; p++)
        if (!hs_results_same_prompt(p, &a[p], &b[p], what, sizeof what))
            st = hs_results_prompts_conflict(hs_results_path(first), hs_results_path(r), what);
    return st;
}

/* Same study, same grid, same prompts, same pruned heads as the first input. */
static hs_status check_same_study(hs_results *first, hs_results *r)
{
    hs_status st = hs_results_check_study(r, hs_results_study(first));
    if (st) return hs_err_wrap(st, "cannot merge %s with %s", hs_results_path(r), hs_results_path(first));
    const hs_grid *g = hs_results_grid(first);
    if (!same_grid(g, hs_results_grid(r)))
        return hs_err(HS_EINPUT, "cannot merge %s with %s: their dimensions differ", hs_results_path(r),
                      hs_results_path(first));
    st = same_prompts(first, r);
    if (!st) st = same_optional(first, r, hs_results_has_transitions, "/agency/transitions");
    if (!st) st = same_optional(first, r, hs_results_has_text, "/prompts/generated");
    if (st) return st;
    size_t LH = (size_t)g->n_layers * g->n_heads, n = (size_t)g->n_variants * g->n_levels * LH;
    uint8_t *a = hs_malloc(n, "pruned heads"), *b = hs_malloc(n, "pruned heads");
    st = !a || !b ? HS_ENOMEM : hs_results_read_pruned(first, a);
    if (!st) st = hs_results_read_pruned(r, b);
    for (size_t vl = 0; !st && vl < n / LH; vl++)
        if (memcmp(a + vl * LH, b + vl * LH, LH))
            st = hs_results_heads_conflict(hs_results_variant_name(r, (int)(vl / (size_t)g->n_levels)),
                                           hs_results_level(r, (int)(vl % (size_t)g->n_levels)),
                                           hs_results_path(first), hs_results_path(r));
    free(a);
    free(b);
    return st;
}

static hs_status disagree(const hs_results *r, const hs_cell_result *c, const char *a, const char *b, const char *what)
{
    hs_cell cell = hs_grid_cell(hs_results_grid(r), c->index);
    return hs_results_cell_conflict(hs_results_variant_name(r, cell.variant), hs_results_level(r, cell.level),
                                    cell.shard, a, b, what);
}

/* Every quality number of a cell must match; timing numbers may differ (the merge rule,
 * results.h). */
static hs_status compare_cells(const hs_results *r, const hs_cell_result *x, const char *a, const hs_cell_result *y,
                               const char *b)
{
    const hs_grid *g = hs_results_grid(r);
    char what[512];
    for (int j = 0; j < x->n; j++) {
        const char *id = hs_results_prompt_id(r, x->prompt[j]);
        for (int m = 0; m < HS_M_COUNT; m++) {
            double u = x->metrics[(size_t)j * HS_M_COUNT + m], v = y->metrics[(size_t)j * HS_M_COUNT + m];
            if (!hs_results_same_metric(hs_metrics[m].name, hs_metrics[m].timing, id, u, v, what, sizeof what))
                return disagree(r, x, a, b, what);
        }
        size_t k = (size_t)j * g->max_new;
        if (!hs_results_same_tokens(id, x->gen_ids + k, y->gen_ids + k, g->max_new, what, sizeof what))
            return disagree(r, x, a, b, what);
        if (x->text && y->text &&
            !hs_results_same_text(id, x->text + (size_t)j * x->text_bytes, y->text + (size_t)j * y->text_bytes, what,
                                  sizeof what))
            return disagree(r, x, a, b, what);
    }
    size_t LH = (size_t)g->n_layers * g->n_heads;
    if (!hs_results_same_counts("occupancy", x->occupancy, y->occupancy, LH * HS_AG_NSTATES, what, sizeof what) ||
        !hs_results_same_counts("transitions", x->transitions, y->transitions, LH, what, sizeof what))
        return disagree(r, x, a, b, what);
    return HS_OK;
}

typedef struct {
    hs_results *out;
    uint8_t *done;       /* (cells) done in out so far */
    int *origin;         /* (cells) input each done cell came from */
    const char *const *inputs;
} merger;

/* Adds the done cells of input i to the output, checking the ones both have. */
static hs_status merge_input(merger *m, hs_results *in, int i)
{
    const hs_grid *g = hs_results_grid(in);
    int64_t n = hs_grid_cells(g);
    uint8_t *done = hs_malloc((size_t)n, "done flags");
    if (!done) return HS_ENOMEM;
    hs_status st = hs_results_read_done(in, done);
    for (int64_t k = 0; k < n && !st; k++) {
        if (!done[k]) continue;
        hs_cell_result a, b;
        int np = hs_grid_shard_size(g, hs_grid_cell(g, k).shard);
        memset(&b, 0, sizeof b);
        st = hs_cell_result_init(&a, g, np);
        a.index = k;
        if (!st) st = hs_results_read_cell(in, &a);
        if (!st && m->done[k]) {
            st = hs_cell_result_init(&b, g, np);
            b.index = k;
            if (!st) st = hs_results_read_cell(m->out, &b);
            if (!st) st = compare_cells(in, &b, m->inputs[m->origin[k]], &a, m->inputs[i]);
        } else if (!st) {
            st = hs_results_write_cell(m->out, &a);
            m->done[k] = 1;
            m->origin[k] = i;
        }
        hs_cell_result_free(&a);
        hs_cell_result_free(&b);
    }
    free(done);
    return st;
}

/* merged_from's text: the inputs' names, ", " between them. It is one root attribute, and
 * HDF5 keeps an attribute in its object's checksummed header only up to 64 KiB (a larger one
 * goes to dense storage, which every reader refuses): the merge of a job array of thousands
 * of parts names its first inputs and the last, and how many it left out. */
char *hs_merge_input_list(const char *const *inputs, int n)
{
    char *list = hs_calloc(1, HS_MERGED_FROM_MAX + 1, "input list");
    if (!list) return NULL;
    size_t len = 0, last = n > 0 ? strlen(inputs[n - 1]) : 0;
    int i = 0;
    for (; i < n; i++) {
        size_t need = strlen(inputs[i]) + 2;
        /* room for this one, and then for the note and the last input if others follow */
        if (len + need + (i < n - 1 ? 64 + last : 0) > HS_MERGED_FROM_MAX && i < n - 1) break;
        if (len + need > HS_MERGED_FROM_MAX) break;
        len += (size_t)snprintf(list + len, HS_MERGED_FROM_MAX + 1 - len, "%s%s", i ? ", " : "", inputs[i]);
    }
    if (i < n - 1)
        snprintf(list + len, HS_MERGED_FROM_MAX + 1 - len, ", ... (%d inputs not named), %s", n - 1 - i,
                 last + len + 64 <= HS_MERGED_FROM_MAX ? inputs[n - 1] : "");
    return list;
}

static hs_status merge_into(const char *tmp, hs_results **res, const char *const *inputs, int n_inputs,
                            int64_t *done_out)
{
    merger m = {.inputs = inputs};
    hs_status st = hs_results_open(&m.out, tmp, 1);
    if (!st) st = hs_results_reattach_scales(m.out); /* a copy of the first input's unchecked references */
    int64_t n = st ? 0 : hs_grid_cells(hs_results_grid(m.out));
    if (!st) {
        m.done = hs_calloc((size_t)n, 1, "done flags");
        m.origin = hs_calloc((size_t)n, sizeof *m.origin, "cell origins");
        st = m.done && m.origin ? hs_results_read_done(m.out, m.done) : HS_ENOMEM;
    }
    for (int i = 1; i < n_inputs && !st; i++) st = merge_input(&m, res[i], i);
    char *list = st ? NULL : hs_merge_input_list(inputs, n_inputs);
    if (!st && !list) st = HS_ENOMEM;
    if (!st) st = hs_results_set_merged_from(m.out, list);
    if (!st) st = hs_results_end_run(m.out);
    *done_out = 0;
    for (int64_t k = 0; k < n && m.done; k++) *done_out += m.done[k];
    hs_status closed = hs_results_close(m.out);
    free(list);
    free(m.done);
    free(m.origin);
    return st ? st : closed;
}

/* HS_TEST_MERGE_PAUSE_MS: sleep that long before the output gets its name, so the race
 * tests (tests/sweep/sweep_mergelock.sh) can create OUT meanwhile. Timing only. */
static void test_pause(void)
{
    const char *v = getenv("HS_TEST_MERGE_PAUSE_MS");
    char *end;
    long ms = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || ms <= 0 || ms > 60000) return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

/* Locks of the output and of every input, so no sweep writes any of them meanwhile
 * (a cell copied before its data would otherwise be marked done). */
static hs_status lock_all(hs_lock *locks, const char *out, const char *const *inputs, int n_inputs)
{
    hs_status st = hs_lock_acquire(&locks[0], out);
    for (int i = 0; i < n_inputs && !st; i++) st = hs_lock_input(&locks[i + 1], inputs[i]);
    return st;
}

static void unlock_all(hs_lock *locks, int n)
{
    for (int i = n - 1; locks && i >= 0; i--) hs_lock_release(&locks[i]);
    free(locks);
}

/* No file among the inputs twice (by name or by another link to it), nor the output among
 * them: a second lock on one file waited on its first, reported as "being written by another
 * sweep" (exit 4). Inputs that do not exist are left to the open, which names them. */
static hs_status distinct_files(const char *out, const char *const *inputs, int n)
{
    struct stat *sb = hs_calloc((size_t)n + 1, sizeof *sb, "input identities");
    if (!sb) return HS_ENOMEM;
    hs_status st = HS_OK;
    for (int i = 0; i <= n && !st; i++) {
        const char *path = i < n ? inputs[i] : out;
        if (stat(path, &sb[i]) != 0) sb[i].st_ino = 0; /* no identity: never equal below */
        for (int j = 0; j < i && !st && sb[i].st_ino; j++) {
            if (sb[j].st_ino != sb[i].st_ino || sb[j].st_dev != sb[i].st_dev) continue;
            if (i < n)
                st = hs_err(HS_EINPUT, "merge: %s and %s are the same file: give each input once", inputs[j], path);
            else
                st = hs_err(HS_EINPUT, "merge: the output %s is one of the inputs (%s): merge writes a new file; "
                                       "give an output path that does not exist", out, inputs[j]);
        }
    }
    free(sb);
    return st;
}

hs_status hs_merge(const char *out, const char *const *inputs, int n_inputs, int64_t *done, int64_t *total)
{
    *done = *total = 0;
    if (n_inputs < 1) return hs_err(HS_EINPUT, "merge: no input files");
    if (!out[0]) return hs_err(HS_EINPUT, "merge: the output path is empty");
    hs_status dst = distinct_files(out, inputs, n_inputs);
    if (dst) return dst;
    hs_lock *locks = hs_calloc((size_t)n_inputs + 1, sizeof *locks, "locks");
    if (!locks) return HS_ENOMEM;
    for (int i = 0; i <= n_inputs; i++) locks[i].fd = -1;
    hs_status st = lock_all(locks, out, inputs, n_inputs);
    if (!st && access(out, F_OK) == 0)
        st = hs_err(HS_EINPUT, "%s already exists; merge writes a new file and never overwrites one", out);
    if (st) {
        unlock_all(locks, n_inputs + 1);
        return st;
    }
    hs_results_remove_stale_tmp(out);
    hs_results **res = hs_calloc((size_t)n_inputs, sizeof *res, "inputs");
    if (!res) st = HS_ENOMEM;
    for (int i = 0; i < n_inputs && !st; i++) {
        st = hs_results_open(&res[i], inputs[i], 0);
        if (!st && i > 0) st = check_same_study(res[0], res[i]);
    }
    size_t n = strlen(out) + 32;
    char *tmp = hs_malloc(n, "path");
    if (!st && !tmp) st = HS_ENOMEM;
    if (!st) {
        snprintf(tmp, n, "%s.tmp.%ld", out, (long)getpid());
        *total = hs_grid_cells(hs_results_grid(res[0]));
        st = copy_file(inputs[0], tmp);
        if (!st) st = merge_into(tmp, res, inputs, n_inputs, done);
        /* Never rename() over OUT: a file that appeared meanwhile stays as it is. */
        if (!st) test_pause();
        if (!st) st = hs_rename_noreplace(tmp, out);
        if (st) unlink(tmp);
    }
    for (int i = 0; res && i < n_inputs; i++) hs_results_close(res[i]);
    free(res);
    free(tmp);
    unlock_all(locks, n_inputs + 1);
    return st;
}
