/* h5read.c: one results file -> hs_study (see h5read.h, docs/results-format.md), read
 * through the results stage's read-only access (include/headsweep/results.h), which owns
 * the schema, the schema check, chunk-index checks and HDF5 itself. What is left here is
 * the report's own picture: per-prompt done flags, cell origins, summed occupancy, and the
 * checks on names before they reach file names, gnuplot and Markdown. Every path, axis and
 * attribute name it reads by comes from the stage's schema table (hs_results_scales,
 * hs_results_datasets, hs_results_attrs), so the layout is written down once. */
#include "h5read.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/prompts.h"
#include "headsweep/results.h"

typedef struct {
    const char *path;      /* for messages */
    hs_results_reader *f;
    uint8_t *cells;        /* (nv, nl, nshard) /cells/done */
    uint64_t nshard;
} rd;

typedef hs_results_shape shape;

static const char *ds_path(int d) { return hs_results_datasets[d].path; }
static const char *scale_path(int dim) { return hs_results_scales[dim].path; }
static const char *attr_name(int a) { return hs_results_attrs[a].name; }

/* Extent of axis dim (HS_RD_*) as read so far; 0 (any length) for an axis not known yet
 * (the shards before /cells/done, the generated tokens). */
static uint64_t extent(const rd *r, const hs_study *s, int dim)
{
    switch (dim) {
    case HS_RD_VARIANT: return (uint64_t)s->nv;
    case HS_RD_LEVEL: return (uint64_t)s->nl;
    case HS_RD_PROMPT: return (uint64_t)s->np;
    case HS_RD_LAYER: return (uint64_t)s->L;
    case HS_RD_HEAD: return (uint64_t)s->H;
    case HS_RD_STATE: return (uint64_t)s->ns;
    case HS_RD_SHARD: return r->nshard;
    default: return 0;
    }
}

/* The shape a dataset of def must have: its axes as the table names them, their extents
 * from what has been read. */
static shape want_of(const rd *r, const hs_study *s, const hs_results_dataset_def *def)
{
    shape w = {def->rank, {0}, {NULL}};
    for (int i = 0; i < def->rank; i++) {
        w.dim[i] = extent(r, s, def->dims[i]);
        w.name[i] = hs_results_dim_name(def->dims[i]);
    }
    return w;
}

/* Object paths are given relative to the root ("metrics/x") or absolute ("/variant");
 * messages always show them absolute. */
static const char *slash(const char *obj) { return obj[0] == '/' ? "" : "/"; }

/* "file: /object: problem". */
static hs_status bad(const rd *r, const char *obj, const char *what)
{
    return hs_err(HS_EINPUT, "%s: %s%s: %s", r->path, slash(obj), obj, what);
}

static void free_strings(char **s, size_t n)
{
    if (!s) return;
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

static hs_status read_source(const rd *r, hs_study *s)
{
    s->src = hs_calloc(1, sizeof *s->src, "source");
    if (!s->src) return HS_ENOMEM;
    s->nsrc = 1;
    if (!(s->src->path = hs_strdup(r->path))) return HS_ENOMEM;
    hs_results_attr *a = NULL;
    int n = 0;
    hs_status st = hs_results_reader_root_attrs(r->f, &a, &n);
    /* hs_attr_text and hs_results_attr are the same pair of strings */
    s->src->attrs = calloc((size_t)(n ? n : 1), sizeof *s->src->attrs);
    if (!s->src->attrs) st = st ? st : hs_err(HS_ENOMEM, "out of memory reading attributes");
    for (int i = 0; s->src->attrs && i < n; i++) {
        s->src->attrs[i] = (hs_attr_text){a[i].key, a[i].value};
        a[i].key = a[i].value = NULL;
        s->src->n_attrs++;
    }
    hs_results_attrs_free(a, n);
    return st;
}

/* ---- dimension scales and variant attributes ---- */

/* A string dimension scale (HS_RD_*) of any length: *out gets n new strings. */
static hs_status read_string_dataset(const rd *r, int dim, char ***out, int *n)
{
    shape want = {1, {0}, {hs_results_dim_name(dim)}};
    uint64_t len = 0;
    hs_status st = hs_results_reader_strings(r->f, scale_path(dim), &want, &len, out);
    *n = (int)len;
    return st;
}

/* The layer and head scales are numbers: only their extent counts. */
static hs_status scale_length(const rd *r, int dim, int *n)
{
    shape want = {1, {0}, {hs_results_dim_name(dim)}};
    uint64_t len = 0;
    void *v = NULL;
    hs_status st = hs_results_reader_numbers(r->f, scale_path(dim), HS_RN_I64, &want, &len, &v);
    free(v);
    *n = (int)len;
    if (!st && *n <= 0) st = bad(r, scale_path(dim), "is empty");
    return st;
}

static hs_status variant_attrs(const rd *r, hs_study *s)
{
    hs_status st = HS_OK;
    s->gating = hs_calloc((size_t)s->nv, sizeof *s->gating, "gating");
    s->agency = hs_calloc((size_t)s->nv, 1, "agency flags");
    s->strategy = hs_calloc((size_t)s->nv, sizeof *s->strategy, "strategies");
    if (!s->gating || !s->agency || !s->strategy) st = HS_ENOMEM;
    const hs_results_attr_def *g = &hs_results_attrs[HS_RA_GATING], *vs = &hs_results_attrs[HS_RA_VARIANT_STRATEGY],
                              *ag = &hs_results_attrs[HS_RA_AGENCY];
    if (!st) st = hs_results_reader_attr_strings(r->f, g->obj, g->name, (size_t)s->nv, 1, s->gating);
    /* optional: files from before the strategy per variant have "" */
    if (!st) st = hs_results_reader_attr_strings(r->f, vs->obj, vs->name, (size_t)s->nv, 0, s->strategy);
    int found = 0;
    if (!st) st = hs_results_reader_attr_numbers(r->f, ag->obj, ag->name, HS_RN_U8, (size_t)s->nv, s->agency, &found);
    if (!st && !found) st = bad(r, "/variant attribute agency", "missing (see docs/results-format.md)");
    return st;
}

/* A level is its percentage and, in each_head studies, the single head it switches off
 * (attribute single_head of /level): only single-head levels share a percentage. */
static hs_status check_unique(const rd *r, const hs_study *s)
{
    for (int i = 0; i < s->nv; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(s->variant[i], s->variant[j]))
                return hs_err(HS_EINPUT, "%s: /variant: name %s appears twice", r->path, s->variant[i]);
    for (int i = 0; i < s->nl; i++) {
        if (!isfinite(s->level[i]))
            return hs_err(HS_EINPUT, "%s: /level: value %d is not a number", r->path, i);
        int hi = s->level_head ? s->level_head[i] : -1;
        if (hi < -1 || hi >= s->L * s->H)
            return hs_err(HS_EINPUT, "%s: /level attribute single_head: entry %d is %d, not -1 or a head index "
                                     "below %d", r->path, i, hi, s->L * s->H);
        for (int j = 0; j < i; j++)
            if (s->level[i] == s->level[j] && hi == (s->level_head ? s->level_head[j] : -1))
                return hs_err(HS_EINPUT, "%s: /level: %g appears twice", r->path, s->level[i]);
    }
    return HS_OK;
}

/* each_head studies: which head each level switches off alone (-1 for the others). */
static hs_status read_level_heads(const rd *r, hs_study *s)
{
    int found = 0;
    int *h = hs_malloc((size_t)s->nl * sizeof *h, "single-head levels");
    const hs_results_attr_def *a = &hs_results_attrs[HS_RA_SINGLE_HEAD];
    hs_status st = h ? hs_results_reader_attr_numbers(r->f, a->obj, a->name, HS_RN_INT, (size_t)s->nl, h, &found)
                     : HS_ENOMEM;
    if (!st && found) s->level_head = h;
    else free(h);
    return st;
}

/* Names become file names, data-file columns, gnuplot titles and Markdown: they must be
 * what a job can give (letters, digits, '_', '-', as src/sweep/job.c checks), so a file
 * made by hand cannot smuggle quotes, backquotes or newlines into them. */
static hs_status check_names(const rd *r, const char *obj, char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        int ok = len > 0 && len < 64;
        for (const char *c = names[i]; ok && *c; c++) ok = isalnum((unsigned char)*c) || *c == '_' || *c == '-';
        if (!ok)
            return hs_err(HS_EINPUT, "%s: %s: entry %d is not a name (1-63 letters, digits, '_' or '-')",
                          r->path, obj, i);
    }
    return HS_OK;
}

/* Prompt ids come from the prompts file and may hold any text but control characters. */
static hs_status check_printable(const rd *r, const char *obj, char *const *text, int n)
{
    for (int i = 0; i < n; i++)
        for (const unsigned char *c = (const unsigned char *)text[i]; *c; c++)
            if (hs_is_control(*c))
                return hs_err(HS_EINPUT, "%s: %s: entry %d holds a control character", r->path, obj, i);
    return HS_OK;
}

static hs_status read_scales(const rd *r, hs_study *s)
{
    hs_status st = read_string_dataset(r, HS_RD_VARIANT, &s->variant, &s->nv);
    if (!st) st = read_string_dataset(r, HS_RD_PROMPT, &s->prompt, &s->np);
    if (!st) st = read_string_dataset(r, HS_RD_STATE, &s->state, &s->ns);
    if (!st) st = scale_length(r, HS_RD_LAYER, &s->L);
    if (!st) st = scale_length(r, HS_RD_HEAD, &s->H);
    if (!st && (s->nv == 0 || s->np == 0 || s->ns == 0))
        st = hs_err(HS_EINPUT, "%s: %s, %s and %s must not be empty", r->path, scale_path(HS_RD_VARIANT),
                    scale_path(HS_RD_PROMPT), scale_path(HS_RD_STATE));
    shape any = {1, {0}, {hs_results_dim_name(HS_RD_LEVEL)}};
    uint64_t nl = 0;
    if (!st) st = hs_results_reader_numbers(r->f, scale_path(HS_RD_LEVEL), HS_RN_F64, &any, &nl, (void **)&s->level);
    s->nl = (int)nl;
    if (!st && s->nl == 0) st = bad(r, scale_path(HS_RD_LEVEL), "is empty");
    if (!st) st = variant_attrs(r, s);
    if (!st) st = read_level_heads(r, s);
    if (!st) st = check_names(r, scale_path(HS_RD_VARIANT), s->variant, s->nv);
    if (!st) st = check_names(r, scale_path(HS_RD_STATE), s->state, s->ns);
    if (!st) st = check_names(r, "/variant attribute gating", s->gating, s->nv);
    if (!st) st = check_printable(r, scale_path(HS_RD_PROMPT), s->prompt, s->np);
    if (!st) st = check_unique(r, s);
    return st;
}

/* Which rows of the prompt file the prompts are (/prompts/file_index, /prompts/line) and
 * their books (/prompts/book): optional, files before them have none. */
static hs_status read_prompt_rows(const rd *r, hs_study *s)
{
    static const int ds[2] = {HS_RDS_PROMPT_INDEX, HS_RDS_PROMPT_LINE};
    int e = 0;
    hs_status st = HS_OK;
    for (int k = 0; !st && k < 2; k++) {
        int32_t *v = NULL;
        if ((st = hs_results_reader_exists(r->f, ds_path(ds[k]), &e)) || !e) continue;
        if (!s->row) {
            if (!(s->row = hs_malloc((size_t)s->np * 2 * sizeof *s->row, "prompt rows"))) return HS_ENOMEM;
            for (int p = 0; p < 2 * s->np; p++) s->row[p] = -1;
        }
        shape want = want_of(r, s, &hs_results_datasets[ds[k]]);
        st = hs_results_reader_numbers(r->f, ds_path(ds[k]), HS_RN_I32, &want, NULL, (void **)&v);
        for (int p = 0; !st && p < s->np; p++) s->row[2 * p + k] = v[p] >= 0 ? v[p] : -1;
        free(v);
    }
    if (!st) st = hs_results_reader_exists(r->f, ds_path(HS_RDS_PROMPT_BOOK), &e);
    if (st || !e) return st;
    uint64_t n = 0;
    shape want = want_of(r, s, &hs_results_datasets[HS_RDS_PROMPT_BOOK]);
    st = hs_results_reader_strings(r->f, ds_path(HS_RDS_PROMPT_BOOK), &want, &n, &s->book);
    if (!st) st = check_printable(r, ds_path(HS_RDS_PROMPT_BOOK), s->book, s->np);
    return st;
}

/* ---- metrics ---- */

static hs_status metric_attrs(const rd *r, const char *obj, hs_metric_data *m)
{
    hs_status st = hs_results_reader_attr_strings(r->f, obj, attr_name(HS_RA_UNITS), 1, 0, &m->units);
    if (!st) st = hs_results_reader_attr_strings(r->f, obj, attr_name(HS_RA_LONG_NAME), 1, 0, &m->description);
    int found = 0, timing = 0;
    if (!st) st = hs_results_reader_attr_numbers(r->f, obj, attr_name(HS_RA_TIMING), HS_RN_INT, 1, &timing, &found);
    m->timing = found ? timing : -1;
    return st;
}

static hs_status read_metric(const rd *r, hs_study *s, const char *name)
{
    hs_metric_data *grown = realloc(s->metric, (size_t)(s->nm + 1) * sizeof *grown);
    if (!grown) return hs_err(HS_ENOMEM, "out of memory listing metrics");
    s->metric = grown;
    hs_metric_data *m = &s->metric[s->nm++];
    memset(m, 0, sizeof *m);
    if (!(m->name = hs_strdup(name))) return HS_ENOMEM;
    hs_status st = check_names(r, HS_RESULTS_METRICS, &m->name, 1);
    if (st) return st;
    char obj[300];
    snprintf(obj, sizeof obj, "%s/%s", HS_RESULTS_METRICS, name);
    shape want = want_of(r, s, &hs_results_metric);
    st = hs_results_reader_numbers(r->f, obj, HS_RN_F64, &want, NULL, (void **)&m->v);
    if (!st) st = metric_attrs(r, obj, m);
    return st;
}

static hs_status read_metrics(const rd *r, hs_study *s)
{
    char **names = NULL;
    int n = 0;
    hs_status st = hs_results_reader_list(r->f, HS_RESULTS_METRICS, &names, &n);
    for (int i = 0; !st && i < n; i++) st = read_metric(r, s, names[i]);
    free_strings(names, (size_t)n);
    if (!st && s->nm == 0) st = bad(r, HS_RESULTS_METRICS, "holds no metrics");
    return st;
}

/* ---- cells, heads, agency ---- */

/* Per-prompt done flags from the per-shard cells: prompt i is in shard i % n_shards. */
static hs_status read_cells(rd *r, hs_study *s)
{
    shape want = want_of(r, s, &hs_results_datasets[HS_RDS_DONE]); /* any number of shards */
    uint64_t dims[3] = {0};
    hs_status st = hs_results_reader_numbers(r->f, ds_path(HS_RDS_DONE), HS_RN_U8, &want, dims, (void **)&r->cells);
    if (!st && dims[2] == 0) st = bad(r, ds_path(HS_RDS_DONE), "has no shards");
    r->nshard = dims[2];
    s->src->nshard = (int)r->nshard;
    size_t nvl = (size_t)s->nv * (size_t)s->nl, n = nvl * (size_t)s->np;
    if (!st && !(s->done = hs_calloc(n, 1, "done flags"))) st = HS_ENOMEM;
    if (!st && !(s->source = hs_malloc(n * sizeof *s->source, "value sources"))) st = HS_ENOMEM;
    for (size_t vl = 0; !st && vl < nvl; vl++)
        for (int p = 0; p < s->np; p++) {
            size_t i = vl * (size_t)s->np + p;
            s->done[i] = r->cells[vl * r->nshard + (size_t)hs_shard_of((size_t)p, (int)r->nshard)] != 0;
            s->source[i] = s->done[i] ? 0 : -1;
        }
    return st;
}

/* Optional int32 (variant, level, shard) dataset d; *out = NULL when the file has none. */
static hs_status read_optional_cells_int(const rd *r, const hs_study *s, int d, int32_t **out)
{
    *out = NULL;
    int e = 0;
    hs_status st = hs_results_reader_exists(r->f, ds_path(d), &e);
    if (st || !e) return st;
    shape want = want_of(r, s, &hs_results_datasets[d]);
    return hs_results_reader_numbers(r->f, ds_path(d), HS_RN_I32, &want, NULL, (void **)out);
}

/* The speed copies each done prompt's cell requested and used (/cells/copies_requested,
 * /cells/copies_used); HS_RESULTS_COPIES_UNKNOWN where the file has no such dataset (files
 * before them) and for a value that is not HS_COPY_* bits (the schema check refuses those;
 * the report never trusts a bit outside the mask). */
static hs_status read_copies(const rd *r, hs_study *s)
{
    size_t nvl = (size_t)s->nv * (size_t)s->nl, n = nvl * (size_t)s->np;
    if (!(s->copies = hs_malloc(n * 2, "speed copies"))) return HS_ENOMEM;
    memset(s->copies, HS_RESULTS_COPIES_UNKNOWN, n * 2);
    hs_status st = HS_OK;
    for (int k = 0; !st && k < 2; k++) {
        int d = HS_RDS_COPIES_REQUESTED + k, e = 0;
        uint8_t *v = NULL;
        st = hs_results_reader_exists(r->f, ds_path(d), &e);
        if (st || !e) continue;
        shape want = want_of(r, s, &hs_results_datasets[d]);
        st = hs_results_reader_numbers(r->f, ds_path(d), HS_RN_U8, &want, NULL, (void **)&v);
        for (size_t vl = 0; !st && vl < nvl; vl++)
            for (int p = 0; p < s->np; p++) {
                size_t i = vl * (size_t)s->np + p;
                uint8_t x = v[vl * r->nshard + (size_t)hs_shard_of((size_t)p, (int)r->nshard)];
                if (s->done[i]) s->copies[2 * i + k] = x <= HS_COPY_ALL ? x : HS_RESULTS_COPIES_UNKNOWN;
            }
        free(v);
    }
    return st;
}

/* Where and when each prompt's cell ran: "host, run k" from /cells/host and /cells/run.
 * Both are optional for the report: without them timing pairs cannot be checked for
 * having run side by side. */
static hs_status read_origins(const rd *r, hs_study *s)
{
    size_t nvl = (size_t)s->nv * (size_t)s->nl, ncell = nvl * r->nshard;
    if (!(s->origin = hs_malloc(nvl * (size_t)s->np * sizeof *s->origin, "cell origins"))) return HS_ENOMEM;
    for (size_t i = 0; i < nvl * (size_t)s->np; i++) s->origin[i] = -1;
    int e = 0;
    hs_status est = hs_results_reader_exists(r->f, ds_path(HS_RDS_HOST), &e);
    if (est || !e) return est;
    int32_t *run = NULL;
    char **host = NULL;
    shape want = want_of(r, s, &hs_results_datasets[HS_RDS_HOST]);
    hs_status st = hs_results_reader_strings(r->f, ds_path(HS_RDS_HOST), &want, NULL, &host);
    if (!st) st = read_optional_cells_int(r, s, HS_RDS_RUN, &run);
    for (size_t vl = 0; !st && vl < nvl; vl++)
        for (int p = 0; !st && p < s->np; p++) {
            size_t c = vl * r->nshard + (size_t)hs_shard_of((size_t)p, (int)r->nshard), i = vl * (size_t)s->np + p;
            char name[128] = "";
            if (s->done[i] && host[c][0]) snprintf(name, sizeof name, "%s, run %d", host[c], run ? run[c] : 0);
            st = hs_study_origin(s, name, &s->origin[i]);
        }
    free_strings(host, host ? ncell : 0);
    free(run);
    return st;
}

/* /agency/occupancy as documented, (variant, level, layer, head, state), or with a shard
 * axis after level (what the sweep writer stores so resumed and merged runs stay exact);
 * the latter is summed over the shards that are done. */
static hs_status read_occupancy(const rd *r, hs_study *s)
{
    uint64_t nv = (uint64_t)s->nv, nl = (uint64_t)s->nl, L = (uint64_t)s->L, H = (uint64_t)s->H, S = (uint64_t)s->ns;
    const hs_results_dataset_def *sharded = &hs_results_datasets[HS_RDS_OCC];
    shape oc = want_of(r, s, hs_results_older[HS_RDS_OCC]), os = want_of(r, s, sharded);
    int rank = 0;
    hs_status st = hs_results_reader_rank(r->f, sharded->path, &rank);
    if (st || rank != sharded->rank)
        return st ? st : hs_results_reader_numbers(r->f, sharded->path, HS_RN_I64, &oc, NULL, (void **)&s->occupancy);
    int64_t *per_shard = NULL;
    st = hs_results_reader_numbers(r->f, sharded->path, HS_RN_I64, &os, NULL, (void **)&per_shard);
    size_t block = (size_t)(L * H * S), nvl = (size_t)(nv * nl);
    if (!st && !(s->occupancy = hs_calloc(nvl * block, sizeof(int64_t), "occupancy"))) st = HS_ENOMEM;
    for (size_t vl = 0; !st && vl < nvl; vl++)
        for (size_t k = 0; k < r->nshard; k++)
            if (r->cells[vl * r->nshard + k])
                for (size_t i = 0; i < block; i++)
                    s->occupancy[vl * block + i] += per_shard[(vl * r->nshard + k) * block + i];
    /* kept per cell too: a cell in two files must agree in its own counts (the merge rule) */
    s->occ_shard = per_shard;
    s->nshard = st ? 0 : (int)r->nshard;
    if (!st && !(s->shard_done = hs_malloc(nvl * r->nshard, "cell flags"))) st = HS_ENOMEM;
    if (!st) memcpy(s->shard_done, r->cells, nvl * r->nshard);
    return st;
}

/* /agency/transitions per cell, when the file has them (files before them do not). */
static hs_status read_transitions(const rd *r, hs_study *s)
{
    int e = 0;
    hs_status st = hs_results_reader_exists(r->f, ds_path(HS_RDS_TRANS), &e);
    if (st || !e || !s->occ_shard) return st;
    shape want = want_of(r, s, &hs_results_datasets[HS_RDS_TRANS]);
    return hs_results_reader_numbers(r->f, ds_path(HS_RDS_TRANS), HS_RN_I64, &want, NULL, (void **)&s->trans_shard);
}

/* The generated tokens, and their texts where the file has them: quality numbers a
 * duplicate cell must repeat (study.c). */
static hs_status read_generated(const rd *r, hs_study *s)
{
    shape ids = want_of(r, s, &hs_results_datasets[HS_RDS_GEN]); /* any number of new tokens */
    uint64_t got[4] = {0};
    hs_status st = hs_results_reader_numbers(r->f, ds_path(HS_RDS_GEN), HS_RN_I32, &ids, got, (void **)&s->gen_ids);
    s->max_new = (int)got[3];
    int e = 0;
    if (!st) st = hs_results_reader_exists(r->f, ds_path(HS_RDS_GEN_TEXT), &e);
    shape text = want_of(r, s, &hs_results_datasets[HS_RDS_GEN_TEXT]);
    if (!st && e) st = hs_results_reader_strings(r->f, ds_path(HS_RDS_GEN_TEXT), &text, NULL, &s->gen_text);
    return st;
}

/* A cell's pruned map is known when the cell has a done prompt or any head switched off
 * (the writer fills maps when it creates the file; an all-zero map of a cell never run
 * may be the fill value). */
static hs_status mark_known_maps(hs_study *s)
{
    size_t nvl = (size_t)s->nv * (size_t)s->nl, LH = (size_t)s->L * (size_t)s->H;
    if (!(s->heads_known = hs_calloc(nvl, 1, "head map flags"))) return HS_ENOMEM;
    if (!(s->map_source = hs_malloc(nvl * sizeof *s->map_source, "head map sources"))) return HS_ENOMEM;
    for (size_t vl = 0; vl < nvl; vl++) {
        for (int p = 0; p < s->np; p++) s->heads_known[vl] |= s->done[vl * (size_t)s->np + p];
        for (size_t k = 0; k < LH; k++) s->heads_known[vl] |= s->pruned[vl * LH + k] != 0;
        s->map_source[vl] = s->heads_known[vl] ? 0 : -1;
    }
    return HS_OK;
}

/* A single-head level switches off exactly its head wherever its map is known. */
static hs_status check_single_heads(const rd *r, const hs_study *s)
{
    size_t LH = (size_t)s->L * (size_t)s->H;
    for (int v = 0; s->level_head && v < s->nv; v++)
        for (int l = 0; l < s->nl; l++) {
            const uint8_t *m = s->pruned + hs_vl(s, v, l) * LH;
            int h = s->level_head[l], ok = 1;
            for (size_t k = 0; h >= 0 && s->heads_known[hs_vl(s, v, l)] && k < LH; k++)
                ok &= (m[k] != 0) == (k == (size_t)h);
            if (!ok)
                return hs_err(HS_EINPUT, "%s: /heads/pruned: variant %s, level %d switches off other heads than "
                                         "head %d.%d alone, which /level attribute single_head names",
                              r->path, s->variant[v], l, h / s->H, h % s->H);
        }
    return HS_OK;
}

static hs_status read_heads(const rd *r, hs_study *s)
{
    shape sc = want_of(r, s, &hs_results_datasets[HS_RDS_SCORE]);
    shape pr = want_of(r, s, &hs_results_datasets[HS_RDS_PRUNED]);
    hs_status st = hs_results_reader_numbers(r->f, ds_path(HS_RDS_SCORE), HS_RN_F64, &sc, NULL, (void **)&s->score);
    if (!st) st = hs_results_reader_numbers(r->f, ds_path(HS_RDS_PRUNED), HS_RN_U8, &pr, NULL, (void **)&s->pruned);
    if (!st) st = mark_known_maps(s);
    if (!st) st = check_single_heads(r, s);
    if (!st) st = read_occupancy(r, s);
    if (!st) st = read_transitions(r, s);
    return st;
}

/* ---- mean ablation ---- */

/* 1 when variant name's line of the study text says `ablation mean` (hs_variant_line_read;
 * zero ablation writes nothing). */
static int study_says_mean(const char *study, const char *name)
{
    hs_variant_line l;
    return hs_variant_line_read(study, name, &l) >= 0 && l.has & HS_VL_ABLATION && l.ablation == HS_ABLATION_MEAN;
}

/* A mean-ablation variant's strategy reads "S (mean ablation)" wherever the report names it
 * (title, provenance, figure keys), so it is never taken for the zero-ablation variant of
 * the same strategy. */
static hs_status label_mean_ablation(hs_study *s)
{
    const char *study = hs_study_attr(s, "study");
    for (int v = 0; study && v < s->nv; v++) {
        if (!study_says_mean(study, s->variant[v])) continue;
        size_t n = strlen(s->strategy[v]) + 32;
        char *l = hs_malloc(n, "strategy label");
        if (!l) return HS_ENOMEM;
        snprintf(l, n, "%s (mean ablation)", s->strategy[v][0] ? s->strategy[v] : "?");
        free(s->strategy[v]);
        s->strategy[v] = l;
    }
    return HS_OK;
}

/* ---- entry point ---- */

/* Everything after the open; closes r->f. */
static hs_status read_study(rd *r, hs_study *s)
{
    hs_status st = read_source(r, s);
    if (!st) st = read_scales(r, s);
    if (!st) st = label_mean_ablation(s);
    if (!st) st = read_prompt_rows(r, s);
    if (!st) st = read_metrics(r, s);
    if (!st) st = read_cells(r, s);
    if (!st) st = read_origins(r, s);
    if (!st) st = read_copies(r, s);
    if (!st) st = read_heads(r, s);
    if (!st) st = read_generated(r, s);
    free(r->cells);
    hs_status cst = hs_results_reader_close(r->f); /* no two chunks at one address */
    return st ? st : cst;
}

hs_status hs_h5_read_study(const char *path, hs_study *s)
{
    memset(s, 0, sizeof *s);
    hs_results_dims dims;
    rd r = {path, NULL, NULL, 0};
    hs_status st = hs_results_reader_open(&r.f, path, &dims);
    return st ? st : read_study(&r, s);
}

hs_status hs_h5_read_study_image(const char *name, const void *image, size_t size, hs_study *s)
{
    memset(s, 0, sizeof *s);
    hs_results_dims dims;
    rd r = {name, NULL, NULL, 0};
    hs_status st = hs_results_reader_open_image(&r.f, name, image, size, &dims);
    return st ? st : read_study(&r, s);
}
