/* test_bitflip.c: single bit flips at thousands of offsets of real results files, each damaged
 * copy given to the three readers of a shared file in this one process (issue 17): the
 * report's reader (hs_h5_read_study_image, what headsweep-report reads), `headsweep merge`
 * (hs_merge of the copy alone) and resume (the results calls `headsweep sweep` makes on an
 * existing file: open for writing, study check, head scores, pruned heads, done flags, a run
 * stamp, the missing cells written, the end-of-run stamp). Every outcome must be HS_EINPUT
 * (exit 2) with a message, or a result identical to the undamaged file's: the same hs_study,
 * the same merged cells and dimension scales (which netCDF and xarray follow, and no headsweep
 * reader reads), the same resumed cells. Anything else prints the file, the offset,
 * the bit and what differed, and the test fails. A crash names the offset too (signal
 * handler), and a flip that takes longer than HANG_SECONDS counts as a hang.
 *
 * usage: test_bitflip WORKDIR FULL HALF N SEED
 *   FULL: a finished sweep's file, HALF: the same study half done (its missing cells are
 *   resumed with FULL's data; tests/sweep/sweep_bitflip.sh makes both). N flips alternate
 *   between the two files and spread over six regions: object headers (from their OHDR and
 *   OCHK signatures), chunk index nodes (TREE), the chunk addresses inside those nodes (the
 *   class that passed fletcher32 before schema 3's digests), data chunks, the global heap
 *   (GCOL), anywhere.
 * Resume does not run the model: what a resume computes does not depend on the file, what it
 * reads and writes there does, and that is what runs here. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "h5read.h"
#include "headsweep/results.h"
#include "headsweep/sweep.h"
#include "headsweep/util.h"

#define HANG_SECONDS 60 /* per flip, all three readers; a loaded 2-core machine, not a hang */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 4096;
        b->p = realloc(b->p, b->cap);
        if (!b->p) {
            fprintf(stderr, "test_bitflip: out of memory\n");
            exit(1);
        }
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put_str(bytes *b, const char *s)
{
    put(b, s ? s : "(null)", strlen(s ? s : "(null)") + 1);
}

static void put_strs(bytes *b, char *const *s, int n)
{
    for (int i = 0; s && i < n; i++) put_str(b, s[i]);
}

/* ---- what each reader makes of a file, as bytes to compare ---- */

/* Everything the report computes from: every field of the hs_study. */
static void study_bytes(const hs_study *s, bytes *b)
{
    int head[] = {s->nv, s->nl, s->np, s->L, s->H, s->ns, s->nm, s->norigins, s->nsrc, s->nnotes};
    put(b, head, sizeof head);
    size_t nvl = (size_t)s->nv * s->nl, nvlp = nvl * s->np, LH = (size_t)s->L * s->H;
    put_strs(b, s->variant, s->nv);
    put_strs(b, s->gating, s->nv);
    put_strs(b, s->strategy, s->nv);
    put_strs(b, s->prompt, s->np);
    put_strs(b, s->state, s->ns);
    if (s->agency) put(b, s->agency, (size_t)s->nv);
    if (s->level) put(b, s->level, (size_t)s->nl * sizeof *s->level);
    for (int m = 0; m < s->nm; m++) {
        put_str(b, s->metric[m].name);
        put_str(b, s->metric[m].units);
        put_str(b, s->metric[m].description);
        put(b, &s->metric[m].timing, sizeof s->metric[m].timing);
        put(b, s->metric[m].v, nvlp * sizeof *s->metric[m].v);
    }
    if (s->done) put(b, s->done, nvlp);
    if (s->pruned) put(b, s->pruned, nvl * LH);
    if (s->heads_known) put(b, s->heads_known, nvl);
    if (s->map_source) put(b, s->map_source, nvl * sizeof *s->map_source);
    if (s->source) put(b, s->source, nvlp * sizeof *s->source);
    if (s->occupancy) put(b, s->occupancy, nvl * LH * (size_t)s->ns * sizeof *s->occupancy);
    if (s->score) put(b, s->score, LH * sizeof *s->score);
    put_strs(b, s->origins, s->norigins);
    if (s->origin) put(b, s->origin, nvlp * sizeof *s->origin);
    for (int i = 0; i < s->nsrc; i++) {
        put_str(b, s->src[i].path);
        put(b, &s->src[i].nshard, sizeof s->src[i].nshard);
        for (int a = 0; a < s->src[i].n_attrs; a++) {
            put_str(b, s->src[i].attrs[a].key);
            put_str(b, s->src[i].attrs[a].value);
        }
    }
    put_strs(b, s->notes, s->nnotes);
}

/* Every cell of a finished sweep's file, read once: what resume writes into HALF. */
typedef struct {
    hs_grid grid;
    int64_t n;
    hs_cell_result *cell; /* (n) */
} cell_set;

static hs_status read_cells(hs_results *r, cell_set *cs)
{
    cs->grid = *hs_results_grid(r);
    cs->n = hs_grid_cells(&cs->grid);
    cs->cell = calloc((size_t)cs->n, sizeof *cs->cell);
    hs_status st = cs->cell ? HS_OK : HS_ENOMEM;
    for (int64_t i = 0; !st && i < cs->n; i++) {
        int shard = hs_grid_cell(&cs->grid, i).shard;
        st = hs_cell_result_init(&cs->cell[i], &cs->grid, hs_grid_shard_size(&cs->grid, shard));
        cs->cell[i].index = i;
        if (!st) st = hs_results_read_cell(r, &cs->cell[i]);
    }
    return st;
}

static void free_cells(cell_set *cs)
{
    for (int64_t i = 0; cs->cell && i < cs->n; i++) hs_cell_result_free(&cs->cell[i]);
    free(cs->cell);
    cs->cell = NULL;
}

/* What resume and merge leave: labels, study text, done flags, pruned heads, every variant's
 * head scores and every cell (numbers, generated ids, agency counts, rank, run, host, time),
 * read back through the same checks (hs_results_open). */
static hs_status file_bytes(const char *path, bytes *b)
{
    hs_results *r = NULL;
    hs_status st = hs_results_open(&r, path, 0);
    if (st) return st;
    const hs_grid *g = hs_results_grid(r);
    put(b, g, sizeof *g);
    put_str(b, hs_results_study(r));
    for (int v = 0; v < g->n_variants; v++) put_str(b, hs_results_variant_name(r, v));
    for (int p = 0; p < g->n_prompts; p++) put_str(b, hs_results_prompt_id(r, p));
    for (int l = 0; l < g->n_levels; l++) {
        double x = hs_results_level(r, l);
        put(b, &x, sizeof x);
    }
    size_t n = (size_t)hs_grid_cells(g), np = (size_t)g->n_variants * g->n_levels * g->n_layers * g->n_heads;
    uint8_t *flags = malloc(n > np ? n : np);
    st = flags ? hs_results_read_done(r, flags) : HS_ENOMEM;
    if (!st) put(b, flags, n);
    if (!st) st = hs_results_read_pruned(r, flags);
    if (!st) put(b, flags, np);
    free(flags);
    for (int v = 0; !st && v < g->n_variants; v++) {
        hs_head_scores sc;
        memset(&sc, 0, sizeof sc);
        st = hs_results_read_scores(r, v, &sc);
        if (!st) put(b, sc.score, (size_t)g->n_layers * g->n_heads * sizeof *sc.score);
        hs_scores_free(&sc);
    }
    cell_set cs = {0};
    if (!st) st = read_cells(r, &cs);
    for (int64_t i = 0; !st && i < cs.n; i++) {
        hs_cell_result *c = &cs.cell[i];
        put(b, c->metrics, hs_cell_result_bytes(g, c->n));
        put(b, &c->seconds, sizeof c->seconds);
        put(b, &c->rank, sizeof c->rank);
        put(b, &c->run, sizeof c->run);
        put_str(b, c->host);
        put_str(b, c->finished_utc);
    }
    free_cells(&cs);
    hs_status closed = hs_results_close(r);
    return st ? st : closed;
}

/* The dimension scales of every dataset of a merged file, as netCDF and xarray follow them:
 * per dataset and dimension, the name of each attached scale (its DIMENSION_LIST reference
 * dereferenced) and whether the scale's REFERENCE_LIST names the dataset back. headsweep's
 * readers never follow these references (they live in HDF5's unchecksummed global heap), so
 * file_bytes cannot see a flip there; a merge must not hand one on. */
static herr_t on_scale(hid_t did, unsigned dim, hid_t dsid, void *data)
{
    bytes *b = data;
    char name[256] = "";
    if (H5Iget_name(dsid, name, sizeof name) < 0) return -1;
    int attached = H5DSis_attached(did, dsid, dim) > 0;
    put_str(b, name);
    put(b, &attached, sizeof attached);
    return 0;
}

#if H5_VERSION_GE(1, 12, 0)
static herr_t on_dataset_scales(hid_t obj, const char *name, const H5O_info2_t *info, void *data)
#else
static herr_t on_dataset_scales(hid_t obj, const char *name, const H5O_info_t *info, void *data)
#endif
{
    if (info->type != H5O_TYPE_DATASET) return 0;
    bytes *b = data;
    hid_t d = H5Dopen2(obj, name, H5P_DEFAULT), sp = d < 0 ? -1 : H5Dget_space(d);
    int rank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    herr_t ok = rank < 0 ? -1 : 0;
    put_str(b, name);
    if (ok >= 0 && H5DSis_scale(d) <= 0)
        for (int i = 0; ok >= 0 && i < rank; i++) {
            int n = H5DSget_num_scales(d, (unsigned)i);
            put(b, &n, sizeof n);
            if (n > 0) ok = H5DSiterate_scales(d, (unsigned)i, NULL, on_scale, b);
        }
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return ok;
}

static hs_status scale_bytes(const char *path, bytes *b)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return hs_err(HS_EINPUT, "%s: cannot open to read its dimension scales", path);
#if H5_VERSION_GE(1, 12, 0)
    herr_t ok = H5Ovisit3(f, H5_INDEX_NAME, H5_ITER_INC, on_dataset_scales, b, H5O_INFO_BASIC);
#else
    herr_t ok = H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, on_dataset_scales, b, H5O_INFO_BASIC);
#endif
    H5Fclose(f);
    return ok < 0 ? hs_err(HS_EINPUT, "%s: its dimension scales cannot be followed", path) : HS_OK;
}

/* ---- the readers ---- */

static const char *study_text; /* the undamaged file's, as the job of a resume would make it */
static cell_set full_cells;

/* Resume of path as `headsweep sweep` does it on an existing file, its missing cells taken
 * from full_cells. */
static hs_status resume(const char *path)
{
    hs_results *r = NULL;
    hs_status st = hs_results_open(&r, path, 1);
    if (st) return st;
    const hs_grid *g = hs_results_grid(r);
    st = hs_results_check_study(r, study_text);
    if (!st && memcmp(g, &full_cells.grid, sizeof *g))
        st = hs_err(HS_EINPUT, "%s: not the grid of the study", path); /* verify_output's check */
    for (int v = 0; !st && v < g->n_variants; v++) {
        hs_head_scores sc;
        memset(&sc, 0, sizeof sc);
        st = hs_results_read_scores(r, v, &sc);
        hs_scores_free(&sc);
    }
    size_t n = (size_t)hs_grid_cells(g), np = (size_t)g->n_variants * g->n_levels * g->n_layers * g->n_heads;
    uint8_t *flags = st ? NULL : malloc(n > np ? n : np);
    if (!st && !flags) st = HS_ENOMEM;
    if (!st) st = hs_results_read_pruned(r, flags);
    if (!st) st = hs_results_read_done(r, flags);
    int run = 0, todo = 0;
    for (size_t i = 0; !st && i < n; i++) todo += !flags[i];
    if (!st && todo) st = hs_results_begin_run(r, &(hs_run_info){"test_bitflip", 1, "host", "none", "none"}, &run);
    for (size_t i = 0; !st && i < n; i++) {
        if (flags[i]) continue;
        hs_cell_result *c = &full_cells.cell[i];
        int32_t was = c->run;
        c->run = run;
        st = hs_results_write_cell(r, c);
        c->run = was;
    }
    if (!st) st = todo ? hs_results_end_run(r) : hs_results_settle(r);
    free(flags);
    hs_status closed = hs_results_close(r);
    return st ? st : closed;
}

typedef struct {
    const char *name; /* FULL or HALF, for messages */
    unsigned char *image;
    size_t size;
    bytes report, merged, resumed; /* the undamaged file's results */
} subject;

static const char *work;
static char f_path[4096], m_path[4096];

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* NULL when st is a refusal with a message (or HS_OK), else why not. */
static const char *refusal(hs_status st)
{
    if (st == HS_OK) return NULL;
    if (st != HS_EINPUT) return "an error other than bad input (exit 2)";
    return strcmp(hs_err_msg(), "unknown error") ? NULL : "a refusal without a message"; /* hs_err_msg's "none" */
}

typedef struct {
    const char *what; /* "report", "merge", "resume" */
    const char *why;  /* NULL: handled */
    int refused;      /* handled by a refusal */
    char msg[512];
} outcome;

static void report_on(const subject *s, const unsigned char *img, outcome *o)
{
    hs_study st_;
    hs_err_clear();
    hs_status st = hs_h5_read_study_image(s->name, img, s->size, &st_);
    o->what = "report";
    o->why = refusal(st);
    o->refused = st != HS_OK;
    if (!st) {
        bytes b = {0};
        study_bytes(&st_, &b);
        if (b.n != s->report.n || memcmp(b.p, s->report.p, b.n)) o->why = "accepted with another result";
        free(b.p);
    }
    hs_study_free(&st_);
    snprintf(o->msg, sizeof o->msg, "%s", st ? hs_err_msg() : "");
}

/* Merges f_path alone into m_path and compares what it holds. */
static void merge_on(const subject *s, outcome *o)
{
    int64_t done = 0, total = 0;
    const char *in[1] = {f_path};
    unlink(m_path);
    hs_err_clear();
    hs_status st = hs_merge(m_path, in, 1, &done, &total);
    o->what = "merge";
    o->why = refusal(st);
    o->refused = st != HS_OK;
    snprintf(o->msg, sizeof o->msg, "%s", st ? hs_err_msg() : "");
    if (st) return;
    bytes b = {0};
    hs_err_clear();
    if (file_bytes(m_path, &b)) o->why = "accepted, and its output is refused";
    else if (scale_bytes(m_path, &b)) o->why = "accepted, and its output's dimension scales cannot be followed";
    else if (b.n != s->merged.n || memcmp(b.p, s->merged.p, b.n)) o->why = "accepted with other cells or scales";
    if (o->why) snprintf(o->msg, sizeof o->msg, "%s", b.n ? "" : hs_err_msg());
    free(b.p);
}

/* Resumes f_path (rewritten from img first: merge only read it) and compares. */
static void resume_on(const subject *s, const unsigned char *img, outcome *o)
{
    o->what = "resume";
    o->why = write_file(f_path, img, s->size) ? "cannot rewrite the damaged copy" : NULL;
    if (o->why) return;
    hs_err_clear();
    hs_status st = resume(f_path);
    o->why = refusal(st);
    o->refused = st != HS_OK;
    snprintf(o->msg, sizeof o->msg, "%s", st ? hs_err_msg() : "");
    if (st) return;
    bytes b = {0};
    hs_err_clear();
    if (file_bytes(f_path, &b)) o->why = "accepted, and the resumed file is refused";
    else if (b.n != s->resumed.n || memcmp(b.p, s->resumed.p, b.n)) o->why = "accepted with other cells";
    if (o->why) snprintf(o->msg, sizeof o->msg, "%s", b.n ? "" : hs_err_msg());
    free(b.p);
}

/* ---- offsets ---- */

typedef struct {
    size_t *at;
    size_t n, cap;
} offsets;

static void add(offsets *o, size_t at)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 256;
        o->at = realloc(o->at, o->cap * sizeof *o->at);
        if (!o->at) exit(1);
    }
    o->at[o->n++] = at;
}

typedef struct {
    offsets headers, trees, tree_addrs, chunks; /* chunks: start, size pairs */
    offsets heaps;                              /* global heap collections (GCOL) */
} regions;

static void find_sig(const subject *s, const char *sig, offsets *o)
{
    for (size_t i = 0; i + 4 <= s->size; i++)
        if (!memcmp(s->image + i, sig, 4)) add(o, i);
}

#if H5_VERSION_GE(1, 12, 0)
static herr_t on_object(hid_t obj, const char *name, const H5O_info2_t *info, void *data)
#else
static herr_t on_object(hid_t obj, const char *name, const H5O_info_t *info, void *data)
#endif
{
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t d = H5Dopen2(obj, name, H5P_DEFAULT), sp = d < 0 ? -1 : H5Dget_space(d);
    hsize_t n = 0;
    if (sp >= 0 && H5Dget_num_chunks(d, sp, &n) < 0) n = 0;
    for (hsize_t i = 0; i < n; i++) {
        haddr_t addr;
        hsize_t size;
        unsigned mask;
        if (H5Dget_chunk_info(d, sp, i, NULL, &mask, &addr, &size) < 0) continue;
        add(data, (size_t)addr);
        add(data, (size_t)size);
    }
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return 0;
}

/* Where each chunk address is written inside a chunk index node: flips there move a chunk. */
static void find_tree_addrs(const subject *s, regions *r)
{
    for (size_t k = 0; k < r->chunks.n; k += 2) {
        unsigned char le[8];
        for (int i = 0; i < 8; i++) le[i] = (unsigned char)((uint64_t)r->chunks.at[k] >> (8 * i));
        for (size_t t = 0; t < r->trees.n; t++) {
            size_t from = r->trees.at[t], to = t + 1 < r->trees.n ? r->trees.at[t + 1] : s->size;
            for (size_t i = from; i + 8 <= to && i < from + 65536; i++)
                if (!memcmp(s->image + i, le, 8)) add(&r->tree_addrs, i);
        }
    }
}

static int find_regions(const char *path, const subject *s, regions *r)
{
    memset(r, 0, sizeof *r);
    find_sig(s, "OHDR", &r->headers);
    find_sig(s, "OCHK", &r->headers);
    find_sig(s, "TREE", &r->trees);
    find_sig(s, "GCOL", &r->heaps);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
#if H5_VERSION_GE(1, 12, 0)
    herr_t ok = H5Ovisit3(f, H5_INDEX_NAME, H5_ITER_NATIVE, on_object, &r->chunks, H5O_INFO_BASIC);
#else
    herr_t ok = H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_NATIVE, on_object, &r->chunks, H5O_INFO_BASIC);
#endif
    H5Fclose(f);
    find_tree_addrs(s, r);
    return ok < 0 || !r->headers.n || !r->trees.n || !r->chunks.n || !r->tree_addrs.n ? -1 : 0;
}

static uint64_t rng_state;
static uint64_t rnd(uint64_t n) /* splitmix64, uniform enough for picking offsets */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (z ^ (z >> 31)) % n;
}

static const char *const region_name[] = {"header", "index node", "index address", "chunk", "global heap", "anywhere"};
#define N_REGIONS 6

static size_t pick(const subject *s, const regions *r, int region)
{
    size_t at;
    switch (region) {
    case 0: at = r->headers.at[rnd(r->headers.n)] + 4 + rnd(508); break;
    case 1: at = r->trees.at[rnd(r->trees.n)] + rnd(1024); break;
    case 2: at = r->tree_addrs.at[rnd(r->tree_addrs.n)] + rnd(8); break;
    case 3: {
        size_t k = 2 * rnd(r->chunks.n / 2);
        at = r->chunks.at[k] + rnd(r->chunks.at[k + 1]);
        break;
    }
    case 4: /* the DIMENSION_LIST references of the dimension scales: no checksum, never read */
        at = r->heaps.n ? r->heaps.at[rnd(r->heaps.n)] + rnd(4096) : rnd(s->size);
        break;
    default: at = rnd(s->size);
    }
    return at < s->size ? at : s->size - 1;
}

/* ---- main ---- */

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static volatile sig_atomic_t flip_at = -1, flip_bit;
static const char *volatile flip_file = "";

static void on_fatal(int sig)
{
    char line[200];
    int n = snprintf(line, sizeof line, "FAIL %s offset %ld bit %d: %s\n", flip_file, (long)flip_at, (int)flip_bit,
                     sig == SIGALRM ? "hang (no outcome within the time limit)" : "crash (fatal signal)");
    if (n > 0 && write(2, line, (size_t)n) < 0) _exit(1);
    _exit(1);
}

static int load(subject *s, const char *path, const char *name)
{
    char *text = NULL;
    s->name = name;
    if (hs_read_file(path, &text, &s->size)) return -1;
    s->image = (unsigned char *)text;
    return 0;
}

/* The undamaged results of every reader; 0 when all accept it. */
static int reference(subject *s, int half)
{
    hs_study st_;
    hs_status st = hs_h5_read_study_image(s->name, s->image, s->size, &st_);
    if (!st) study_bytes(&st_, &s->report);
    hs_study_free(&st_);
    if (!st) st = write_file(f_path, s->image, s->size) ? HS_EIO : HS_OK;
    unlink(m_path);
    int64_t done, total;
    const char *in[1] = {f_path};
    if (!st) st = hs_merge(m_path, in, 1, &done, &total);
    if (!st) st = file_bytes(m_path, &s->merged);
    if (!st) st = scale_bytes(m_path, &s->merged);
    if (!st) st = resume(f_path);
    if (!st) st = file_bytes(f_path, &s->resumed);
    if (st) fprintf(stderr, "test_bitflip: the undamaged %s is not accepted: %s\n", s->name, hs_err_msg());
    (void)half;
    return st ? -1 : 0;
}

static int setup(const char *full, const char *half, subject *subj, regions *reg)
{
    hs_results *r = NULL;
    if (hs_results_open(&r, full, 0)) {
        fprintf(stderr, "test_bitflip: %s: %s\n", full, hs_err_msg());
        return -1;
    }
    study_text = hs_strdup(hs_results_study(r));
    hs_status st = read_cells(r, &full_cells);
    hs_results_close(r);
    if (st || !study_text) return -1;
    const char *path[2] = {full, half}, *name[2] = {"(damaged) full.h5", "(damaged) half.h5"};
    for (int i = 0; i < 2; i++) {
        if (load(&subj[i], path[i], name[i]) || reference(&subj[i], i) || find_regions(path[i], &subj[i], &reg[i])) {
            fprintf(stderr, "test_bitflip: cannot set up %s\n", path[i]);
            return -1;
        }
        fprintf(stderr, "test_bitflip: %s: %zu bytes, %zu object headers, %zu index nodes, %zu chunk addresses in "
                        "them, %zu chunks, %zu global heaps\n", path[i], subj[i].size, reg[i].headers.n,
                reg[i].trees.n, reg[i].tree_addrs.n, reg[i].chunks.n / 2, reg[i].heaps.n);
    }
    return 0;
}

/* Everything setup() and the flips hold, so that LeakSanitizer's report at exit is ours. */
static void teardown(subject *subj, regions *reg, unsigned char *img)
{
    for (int i = 0; i < 2; i++) {
        free(subj[i].image), free(subj[i].report.p), free(subj[i].merged.p), free(subj[i].resumed.p);
        offsets *o[] = {&reg[i].headers, &reg[i].trees, &reg[i].tree_addrs, &reg[i].chunks, &reg[i].heaps};
        for (size_t k = 0; k < sizeof o / sizeof *o; k++) free(o[k]->at);
    }
    free(img);
    free_cells(&full_cells);
    free((void *)study_text);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: test_bitflip WORKDIR FULL HALF N SEED\n");
        return 2;
    }
    work = argv[1];
    long n = strtol(argv[4], NULL, 10);
    rng_state = strtoull(argv[5], NULL, 10);
    snprintf(f_path, sizeof f_path, "%s/f.h5", work);
    snprintf(m_path, sizeof m_path, "%s/m.h5", work);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    subject subj[2] = {{0}};
    regions reg[2];
    memset(reg, 0, sizeof reg);
    if (setup(argv[2], argv[3], subj, reg)) {
        teardown(subj, reg, NULL);
        return 1;
    }
    signal(SIGSEGV, on_fatal);
    signal(SIGBUS, on_fatal);
    signal(SIGABRT, on_fatal);
    signal(SIGALRM, on_fatal);
    long fails = 0, refused[3] = {0}, kept[3] = {0};
    double cpu[3] = {0};
    unsigned char *img = malloc(subj[0].size > subj[1].size ? subj[0].size : subj[1].size);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; img && i < n; i++) {
        subject *s = &subj[i % 2];
        int region = (int)((i / 2) % N_REGIONS);
        size_t at = pick(s, &reg[i % 2], region);
        int bit = (int)rnd(8);
        memcpy(img, s->image, s->size);
        img[at] ^= (unsigned char)(1u << bit);
        flip_file = s->name, flip_at = (long)at, flip_bit = bit;
        alarm(HANG_SECONDS);
        outcome o[3] = {{"report", NULL, 0, ""}, {"merge", NULL, 0, ""}, {"resume", NULL, 0, ""}};
        double c0 = cpu_seconds();
        report_on(s, img, &o[0]);
        double c1 = cpu_seconds();
        o[1].why = write_file(f_path, img, s->size) ? "cannot write the damaged copy" : NULL;
        if (!o[1].why) merge_on(s, &o[1]);
        double c2 = cpu_seconds();
        resume_on(s, img, &o[2]);
        double c3 = cpu_seconds();
        cpu[0] += c1 - c0, cpu[1] += c2 - c1, cpu[2] += c3 - c2;
        alarm(0);
        for (int k = 0; k < 3; k++) {
            if (o[k].why) {
                fails++;
                printf("FAIL %s offset %zu bit %d (%s): %s %s%s%s\n", s->name, at, bit, region_name[region],
                       o[k].what, o[k].why, o[k].msg[0] ? ": " : "", o[k].msg);
            }
            else if (o[k].refused) refused[k]++;
            else kept[k]++;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("test_bitflip: %ld flips in %.1f s: report %ld refused, %ld unchanged (%.1f CPU s); merge %ld refused, "
           "%ld unchanged (%.1f CPU s); resume %ld refused, %ld unchanged (%.1f CPU s); %ld failures\n", n, secs,
           refused[0], kept[0], cpu[0], refused[1], kept[1], cpu[1], refused[2], kept[2], cpu[2], fails);
    teardown(subj, reg, img);
    return fails ? 1 : 0;
}
