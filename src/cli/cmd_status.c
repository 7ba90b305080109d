/* cmd_status.c: `headsweep status FILE [--json]`: what a results file holds and who is
 * writing it, for people and for scripts (slurm/): cells done and missing per variant and
 * level, the study's identity, the complete flag, the cells timed without a speed copy
 * their rank asked for (whose timings the report keeps apart), and the holder of the lock
 * when a live sweep has it (exit 4 then). Reads only; never takes the lock.
 *
 * A running sweep keeps its file open for writing, and HDF5's own file lock would refuse
 * this reader; status then opens it without that lock (HDF5_USE_FILE_LOCKING=FALSE). The
 * sweep flushes each cell's data before marking it done, so the done flags read that way
 * may lag by the cells in flight but never count a cell that is not written. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cmd_sweep.h"
#include "headsweep/sweep.h"
#include "headsweep/tokenizer.h"

static const char status_usage[] =
    "usage: headsweep status FILE.h5 [--json] [--cells K/N]\n"
    "Prints what the results file holds: the study (its identity: a sha256 of the settings\n"
    "that decide every result, and the settings), cells done and missing per variant and\n"
    "level, whether the file is complete, how many cells ran without a speed copy their\n"
    "rank asked for (their timings are not compared with others'), and the pid and host of\n"
    "the sweep writing it when a live one holds its lock (FILE.h5.lock).\n"
    "  --json        the same as one JSON object on stdout (docs/sweep.md, \"Status\")\n"
    "  --cells K/N   also count the cells of part K of N, as `sweep --cells K/N` divides them\n"
    "                (whole work items unless the study has timing_order = sequential)\n";

static const char status_exits[] =
    "Exit status: 0 read (complete or not: see \"complete\"), 2 bad input or usage (not a\n"
    "results file), 4 read, but a live sweep is writing the file (its counts may lag by the\n"
    "cells in flight), 1 failure (I/O, memory, internal).\n";

typedef struct {
    hs_results *res;
    uint8_t *done;  /* (cells) */
    int32_t *level_head; /* (levels) l*H + h for each_head's single-head levels, else -1 */
    int n_single;        /* levels with a head of their own */
    int64_t n_done, cells;
    hs_slice slice;                 /* --cells K/N; n == 0 without it */
    int64_t slice_cells, slice_done; /* cells of that part, and those done */
    int complete;
    /* speed copies (/cells/copies_*) of the cells done: whether the file records them, the
     * done cells not recorded, those that ran without a copy they asked for, and those by
     * HS_COPY_* bit (pack, head-major, panels) */
    uint8_t *req, *used; /* (cells) */
    int copies_recorded;
    int64_t n_unknown, n_without, without_by[3];
    int locked;
    long pid;
    char host[HS_HOST_MAX];
    char study_sha256[65];
} file_status;

/* A done cell ran without a speed copy its rank asked for (1), with all of them (0), or is
 * not recorded (-1). */
static int cell_without_copy(const file_status *s, int64_t i)
{
    if (s->req[i] == HS_RESULTS_COPIES_UNKNOWN || s->used[i] == HS_RESULTS_COPIES_UNKNOWN) return -1;
    return (s->req[i] & ~s->used[i]) != 0;
}

static hs_status status_copies(file_status *s)
{
    size_t n = (size_t)(s->cells ? s->cells : 1);
    if (!(s->req = hs_malloc(n, "speed copies")) || !(s->used = hs_malloc(n, "speed copies"))) return HS_ENOMEM;
    hs_status st = hs_results_read_copies(s->res, s->req, s->used, &s->copies_recorded);
    for (int64_t i = 0; !st && i < s->cells; i++) {
        if (!s->done[i]) continue;
        int w = cell_without_copy(s, i);
        s->n_unknown += w < 0;
        s->n_without += w > 0;
        for (int b = 0; w > 0 && b < 3; b++) s->without_by[b] += (s->req[i] & ~s->used[i]) >> b & 1;
    }
    return st;
}

static hs_status status_read(file_status *s, const char *path, hs_slice slice)
{
    memset(s, 0, sizeof *s);
    s->slice = slice;
    s->locked = hs_lock_holder(path, &s->pid, s->host);
    if (s->locked && setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1) != 0)
        return hs_err(HS_EINTERNAL, "setenv HDF5_USE_FILE_LOCKING failed");
    hs_status st = hs_results_open(&s->res, path, 0);
    if (st) return st;
    s->cells = hs_grid_cells(hs_results_grid(s->res));
    if (!(s->done = hs_malloc((size_t)(s->cells ? s->cells : 1), "done flags"))) return HS_ENOMEM;
    st = hs_results_read_done(s->res, s->done);
    int nl = hs_results_grid(s->res)->n_levels;
    if (!st && !(s->level_head = hs_malloc((size_t)(nl ? nl : 1) * sizeof *s->level_head, "single-head levels")))
        st = HS_ENOMEM;
    if (!st) st = hs_results_level_heads(s->res, s->level_head);
    for (int l = 0; !st && l < nl; l++) s->n_single += s->level_head[l] >= 0;
    if (!st) st = hs_results_read_complete(s->res, &s->complete);
    for (int64_t i = 0; !st && i < s->cells; i++) s->n_done += s->done[i] != 0;
    if (!st) st = status_copies(s);
    const char *study = hs_results_study(s->res);
    /* The part's cells by the sweep's own rule (hs_slice_has on hs_grid_slice_key), so the
     * array scripts never restate how --cells divides a study. */
    int interleaved = hs_study_interleaved(study);
    for (int64_t i = 0; !st && s->slice.n && i < s->cells; i++)
        if (hs_slice_has(&s->slice, hs_grid_slice_key(hs_results_grid(s->res), i, interleaved))) {
            s->slice_cells++;
            s->slice_done += s->done[i] != 0;
        }
    hs_sha256_hex(study, strlen(study), s->study_sha256);
    return st;
}

static void status_free(file_status *s)
{
    hs_results_close(s->res);
    free(s->done);
    free(s->level_head);
    free(s->req);
    free(s->used);
}

/* Shards done of (variant v, level l). */
static int shards_done(const file_status *s, int v, int l)
{
    const hs_grid *g = hs_results_grid(s->res);
    int n = 0;
    for (int k = 0; k < g->n_shards; k++) n += s->done[((int64_t)v * g->n_levels + l) * g->n_shards + k] != 0;
    return n;
}

/* Done shards of (variant v, level l) that ran without a speed copy their rank asked for. */
static int shards_without_copy(const file_status *s, int v, int l)
{
    const hs_grid *g = hs_results_grid(s->res);
    int n = 0;
    for (int k = 0; k < g->n_shards; k++) {
        int64_t i = ((int64_t)v * g->n_levels + l) * g->n_shards + k;
        n += s->done[i] && cell_without_copy(s, i) > 0;
    }
    return n;
}

/* The copies line: what the report's "Speed copies" paragraph will say of the done cells. */
static void print_copies(const file_status *s)
{
    static const char *names[3] = {"packed weights", "head-major c_attn", "batch-1 panels"};
    printf("copies      ");
    if (!s->copies_recorded) {
        printf("not recorded (the file predates /cells/copies_requested)\n");
        return;
    }
    int64_t rec = s->n_done - s->n_unknown;
    if (!rec) printf("no done cell with a record yet");
    else if (!s->n_without)
        printf("all %lld done cells with a record ran with the speed copies their rank asked for", (long long)rec);
    else {
        printf("%lld of %lld done cells with a record ran without a speed copy their rank asked for (",
               (long long)s->n_without, (long long)rec);
        for (int b = 0, first = 1; b < 3; b++)
            if (s->without_by[b]) {
                printf("%s%s %lld", first ? "" : ", ", names[b], (long long)s->without_by[b]);
                first = 0;
            }
        printf("): the report withholds speed verdicts that would compare them with cells that had it");
    }
    if (s->n_unknown) printf("; %lld done cells not recorded", (long long)s->n_unknown);
    putchar('\n');
}

/* Level l as people read it: its percentage, or for each_head's single-head levels (whose
 * percentages are all 100 / (L*H)) the head it switches off alone, "1.3 alone". */
static const char *level_label(const file_status *s, int l, const char *alone, char *buf, size_t cap)
{
    int h = s->level_head[l], H = hs_results_grid(s->res)->n_heads;
    if (h >= 0) snprintf(buf, cap, "%d.%d%s", h / H, h % H, alone);
    else snprintf(buf, cap, "%g", hs_results_level(s->res, l));
    return buf;
}

/* The levels line: the study's levels, then each_head's single-head levels counted and
 * their span, not L*H copies of one percentage. */
static void print_levels(const file_status *s)
{
    const hs_grid *g = hs_results_grid(s->res);
    int first = -1, last = -1, listed = 0;
    printf("levels     ");
    for (int l = 0; l < g->n_levels; l++) {
        if (s->level_head[l] < 0) printf("%s %g", listed++ ? "," : "", hs_results_level(s->res, l));
        else last = l, first = first < 0 ? l : first;
    }
    if (s->n_single) {
        char a[32], b[32];
        printf("%s %d single-head levels (each_head: heads %s to %s alone, layer by layer, one head off each, "
               "%g%%)", listed ? ", and" : "", s->n_single, level_label(s, first, "", a, sizeof a),
               level_label(s, last, "", b, sizeof b), hs_results_level(s->res, first));
    }
    putchar('\n');
}

static void print_text(const file_status *s, const char *path)
{
    const hs_grid *g = hs_results_grid(s->res);
    printf("file        %s\n", path);
    printf("study       sha256 %s\n", s->study_sha256);
    printf("cells       %lld of %lld done, %lld missing (%d variants x %d levels x %d shards; %d prompts)\n",
           (long long)s->n_done, (long long)s->cells, (long long)(s->cells - s->n_done), g->n_variants, g->n_levels,
           g->n_shards, g->n_prompts);
    if (s->slice.n)
        printf("this part   %lld of %lld done (--cells %d/%d)\n", (long long)s->slice_done, (long long)s->slice_cells,
               s->slice.k, s->slice.n);
    printf("complete    %s\n", s->complete ? "yes" : "no");
    print_copies(s);
    if (s->locked && s->pid <= 0) /* only the lock on the file itself: held through another path to it */
        printf("lock        held by a live sweep or merge through another path to this file (pid unknown)\n");
    else if (s->locked) {
        printf("lock        held by a live sweep: pid %ld on host ", s->pid);
        hs_cli_put_safe(stdout, s->host[0] ? s->host : "unknown", 0); /* from the lock file */
        putchar('\n');
    } else printf("lock        free\n");
    printf("last build  ");
    const char *last = hs_results_last_version(s->res);
    hs_cli_put_safe(stdout, last[0] ? last : "(no cell yet)", 0);
    putchar('\n');
    print_levels(s);
    int w = s->n_single ? 12 : 8;
    printf("\n%-20s %*s %8s %8s\n", "variant", w, "level", "done", "missing");
    for (int v = 0; v < g->n_variants; v++)
        for (int l = 0; l < g->n_levels; l++) {
            int d = shards_done(s, v, l);
            char lab[32];
            hs_cli_put_safe(stdout, hs_results_variant_name(s->res, v), 0);
            size_t nl = strlen(hs_results_variant_name(s->res, v));
            printf("%*s %*s %8d %8d\n", nl < 20 ? (int)(20 - nl) : 0, "", w,
                   level_label(s, l, " alone", lab, sizeof lab), d, g->n_shards - d);
        }
    printf("\nstudy settings:\n");
    hs_cli_put_safe(stdout, hs_results_study(s->res), 1); /* the file's text: no escape sequence */
    size_t n = strlen(hs_results_study(s->res));
    if (n && hs_results_study(s->res)[n - 1] != '\n') putchar('\n');
}

/* The head a single-head level switches off alone, "L.H", or null for other levels. */
static json_t *head_json(const file_status *s, int l)
{
    char lab[32];
    int h = s->level_head[l], H = hs_results_grid(s->res)->n_heads;
    if (h < 0) return json_null();
    snprintf(lab, sizeof lab, "%d.%d", h / H, h % H);
    return json_string(lab);
}

static json_t *status_json(const file_status *s, const char *path)
{
    const hs_grid *g = hs_results_grid(s->res);
    json_t *by = json_array(), *variants = json_array(), *levels = json_array(), *single = json_array();
    for (int v = 0; v < g->n_variants; v++)
        json_array_append_new(variants, json_string(hs_results_variant_name(s->res, v)));
    for (int l = 0; l < g->n_levels; l++) json_array_append_new(levels, json_real(hs_results_level(s->res, l)));
    for (int l = 0; l < g->n_levels; l++) json_array_append_new(single, head_json(s, l));
    for (int v = 0; v < g->n_variants; v++)
        for (int l = 0; l < g->n_levels; l++) {
            int d = shards_done(s, v, l);
            json_array_append_new(by, json_pack("{s:s, s:f, s:o, s:i, s:i, s:i}", "variant",
                                                hs_results_variant_name(s->res, v), "level",
                                                hs_results_level(s->res, l), "single_head", head_json(s, l), "done",
                                                d, "missing", g->n_shards - d, "without_copy",
                                                shards_without_copy(s, v, l)));
        }
    json_t *lock = s->locked ? json_pack("{s:b, s:I, s:s}", "held", 1, "pid", (json_int_t)s->pid, "host", s->host)
                             : json_pack("{s:b}", "held", 0);
    json_t *slice = s->slice.n ? json_pack("{s:i, s:i, s:I, s:I, s:I}", "k", s->slice.k, "n", s->slice.n, "total",
                                           (json_int_t)s->slice_cells, "done", (json_int_t)s->slice_done, "missing",
                                           (json_int_t)(s->slice_cells - s->slice_done))
                               : json_null();
    json_t *copies = json_pack("{s:b, s:I, s:I, s:{s:I, s:I, s:I}}", "recorded", s->copies_recorded,
                               "without_copy", (json_int_t)s->n_without, "not_recorded", (json_int_t)s->n_unknown,
                               "without_by_copy", "packed", (json_int_t)s->without_by[0], "head_major",
                               (json_int_t)s->without_by[1], "panels", (json_int_t)s->without_by[2]);
    return json_pack("{s:s, s:{s:s, s:s}, s:{s:I, s:I, s:I}, s:o, s:b, s:o, s:o, s:s, s:i, s:i, s:o, s:o, s:o, s:o}",
                     "file",
                     path,
                     "study", "sha256", s->study_sha256, "settings", hs_results_study(s->res), "cells", "total",
                     (json_int_t)s->cells, "done", (json_int_t)s->n_done, "missing", (json_int_t)(s->cells - s->n_done),
                     "slice", slice, "complete", s->complete, "copies", copies, "lock", lock, "last_version",
                     hs_results_last_version(s->res),
                     "shards", g->n_shards, "prompts", g->n_prompts, "variants", variants, "levels", levels,
                     "single_head", single, "by_variant_level", by);
}

/* JSON strings are UTF-8: a file string that is not is named (exit 2) rather than failing
 * the whole object without a word. */
static hs_status check_utf8(const char *path, const char *what, const char *text)
{
    size_t n = strlen(text), ok = hs_utf8_valid_prefix(text, n);
    if (ok == n) return HS_OK;
    return hs_err(HS_EINPUT, "%s: %s is not valid UTF-8 (byte %zu of %zu), which --json cannot hold; refusing it",
                  path, what, ok + 1, n);
}

static hs_status check_json_text(const file_status *s, const char *path)
{
    hs_status st = check_utf8(path, "the root attribute study", hs_results_study(s->res));
    if (!st) st = check_utf8(path, "the root attribute last_git_describe", hs_results_last_version(s->res));
    if (!st && s->locked) st = check_utf8(path, "the host in its lock file", s->host);
    for (int v = 0; !st && v < hs_results_grid(s->res)->n_variants; v++)
        st = check_utf8(path, "a name in /variant", hs_results_variant_name(s->res, v));
    if (!st) st = check_utf8("--json", "the results file's path", path);
    return st;
}

static hs_status print_json(const file_status *s, const char *path)
{
    hs_status cst = check_json_text(s, path);
    if (cst) return cst;
    json_t *js = status_json(s, path);
    hs_status st = HS_OK;
    if (!js || json_dumpf(js, stdout, JSON_INDENT(2)) != 0) st = hs_err(HS_ENOMEM, "--json: cannot build the JSON");
    else putchar('\n');
    json_decref(js);
    return st;
}

int hs_cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'}, {"cells", required_argument, 0, 'c'}, {0, 0, 0, 0}};
    hs_opt p;
    int c, rc, as_json = 0;
    hs_slice slice = {0, 0};
    hs_cli_opt_init(&p, "status", status_usage, status_exits, opts);
    while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        if (c == HS_OPT_EXIT) return rc;
        if (c == 'j') as_json = 1;
        else if (c == 'c' && hs_slice_parse(optarg, &slice)) return hs_opt_error(&p, "%s", hs_err_msg());
    }
    if (hs_opt_operands(&p, argc, 1, 1, "exactly one results file is required")) return 2;
    const char *path = argv[p.next];
    if (!path[0]) return hs_opt_error(&p, "the results file path is empty");
    file_status s;
    hs_status st = status_read(&s, path, slice);
    if (!st && as_json) st = print_json(&s, path);
    else if (!st) print_text(&s, path);
    if (!st && (fflush(stdout) || ferror(stdout))) st = hs_err(HS_EIO, "stdout: write error");
    int locked = s.locked;
    status_free(&s);
    if (st) return hs_cli_fail(st);
    return locked ? hs_status_exit_code(HS_EBUSY) : 0;
}
