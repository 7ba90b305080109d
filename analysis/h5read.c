/* h5read.c: one results file -> hs_study (see h5read.h, docs/results-format.md), read
 * through the results stage's read-only access (include/headsweep/results.h), which owns
 * the schema, the schema check, chunk-index checks and HDF5 itself. What is left here is
 * the report's own picture: per-prompt done flags, cell origins, summed occupancy, and the
 * checks on names before they reach file names, gnuplot and Markdown. */
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

/* A 1-D string dataset (a dimension scale) of any length: *out gets n new strings. */
static hs_status read_string_dataset(const rd *r, const char *obj, char ***out, int *n)
{
    shape want = {1, {0}, {obj}};
    uint64_t len = 0;
    hs_status st = hs_results_reader_strings(r->f, obj, &want, &len, out);
    *n = (int)len;
    return st;
}

/* The layer and head scales are numbers: only their extent counts. */
static hs_status scale_length(const rd *r, const char *obj, int *n)
{
    shape want = {1, {0}, {obj}};
    uint64_t len = 0;
    void *v = NULL;
    hs_status st = hs_results_reader_numbers(r->f, obj, HS_RN_I64, &want, &len, &v);
    free(v);
    *n = (int)len;
    if (!st && *n <= 0) st = bad(r, obj, "is empty");
    return st;
}

static hs_status variant_attrs(const rd *r, hs_study *s)
{
    hs_status st = HS_OK;
    s->gating = hs_calloc((size_t)s->nv, sizeof *s->gating, "gating");
    s->agency = hs_calloc((size_t)s->nv, 1, "agency flags");
    s->strategy = hs_calloc((size_t)s->nv, sizeof *s->strategy, "strategies");
    if (!s->gating || !s->agency || !s->strategy) st = HS_ENOMEM;
    if (!st) st = hs_results_reader_attr_strings(r->f, "/variant", "gating", (size_t)s->nv, 1, s->gating);
    /* optional: files from before the strategy per variant have "" */
    if (!st) st = hs_results_reader_attr_strings(r->f, "/variant", "strategy", (size_t)s->nv, 0, s->strategy);
    int found = 0;
    if (!st)
        st = hs_results_reader_attr_numbers(r->f, "/variant", "agency", HS_RN_U8, (size_t)s->nv, s->agency, &found);
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
    hs_status st = h ? hs_results_reader_attr_numbers(r->f, "/level", "single_head", HS_RN_INT, (size_t)s->nl, h,
                                                      &found)
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
            if (*c < 0x20 || *c == 0x7f)
                return hs_err(HS_EINPUT, "%s: %s: entry %d holds a control character", r->path, obj, i);
    return HS_OK;
}

static hs_status read_scales(const rd *r, hs_study *s)
{
    hs_status st = read_string_dataset(r, "variant", &s->variant, &s->nv);
    if (!st) st = read_string_dataset(r, "prompt", &s->prompt, &s->np);
    if (!st) st = read_string_dataset(r, "state", &s->state, &s->ns);
    if (!st) st = scale_length(r, "layer", &s->L);
    if (!st) st = scale_length(r, "head", &s->H);
    if (!st && (s->nv == 0 || s->np == 0 || s->ns == 0))
        st = hs_err(HS_EINPUT, "%s: /variant, /prompt and /state must not be empty", r->path);
    shape any = {1, {0}, {"level"}};
    uint64_t nl = 0;
    if (!st) st = hs_results_reader_numbers(r->f, "level", HS_RN_F64, &any, &nl,
                               (void **)&s->level);
    s->nl = (int)nl;
    if (!st && s->nl == 0) st = bad(r, "level", "is empty");
    if (!st) st = variant_attrs(r, s);
    if (!st) st = read_level_heads(r, s);
    if (!st) st = check_names(r, "/variant", s->variant, s->nv);
    if (!st) st = check_names(r, "/state", s->state, s->ns);
    if (!st) st = check_names(r, "/variant attribute gating", s->gating, s->nv);
    if (!st) st = check_printable(r, "/prompt", s->prompt, s->np);
    if (!st) st = check_unique(r, s);
    return st;
}

/* Which rows of the prompt file the prompts are (/prompts/file_index, /prompts/line) and
 * their books (/prompts/book): optional, files before them have none. */
static hs_status read_prompt_rows(const rd *r, hs_study *s)
{
    static const char *const obj[2] = {"prompts/file_index", "prompts/line"};
    shape want = {1, {(uint64_t)s->np}, {"prompt"}};
    int e = 0;
    hs_status st = HS_OK;
    for (int k = 0; !st && k < 2; k++) {
        int32_t *v = NULL;
        if ((st = hs_results_reader_exists(r->f, obj[k], &e)) || !e) continue;
        if (!s->row) {
            if (!(s->row = hs_malloc((size_t)s->np * 2 * sizeof *s->row, "prompt rows"))) return HS_ENOMEM;
            for (int p = 0; p < 2 * s->np; p++) s->row[p] = -1;
        }
        st = hs_results_reader_numbers(r->f, obj[k], HS_RN_I32, &want, NULL, (void **)&v);
        for (int p = 0; !st && p < s->np; p++) s->row[2 * p + k] = v[p] >= 0 ? v[p] : -1;
        free(v);
    }
    if (!st) st = hs_results_reader_exists(r->f, "prompts/book", &e);
    if (st || !e) return st;
    uint64_t n = 0;
    st = hs_results_reader_strings(r->f, "prompts/book", &want, &n, &s->book);
    if (!st) st = check_printable(r, "/prompts/book", s->book, s->np);
    return st;
}

/* ---- metrics ---- */

static hs_status metric_attrs(const rd *r, const char *obj, hs_metric_data *m)
{
    hs_status st = hs_results_reader_attr_strings(r->f, obj, "units", 1, 0, &m->units);
    /* CF's long_name since schema 2, description before */
    if (!st) st = hs_results_reader_attr_strings(r->f, obj, "long_name", 1, 0, &m->description);
    if (!st && !m->description[0]) {
        free(m->description);
        m->description = NULL;
        st = hs_results_reader_attr_strings(r->f, obj, "description", 1, 0, &m->description);
    }
    int found = 0, timing = 0;
    if (!st) st = hs_results_reader_attr_numbers(r->f, obj, "timing", HS_RN_INT, 1, &timing, &found);
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
    hs_status st = check_names(r, "/metrics", &m->name, 1);
    if (st) return st;
    char obj[300];
    snprintf(obj, sizeof obj, "metrics/%s", name);
    shape want = {3, {(uint64_t)s->nv, (uint64_t)s->nl, (uint64_t)s->np}, {"variant", "level", "prompt"}};
    st = hs_results_reader_numbers(r->f, obj, HS_RN_F64, &want, NULL, (void **)&m->v);
    if (!st) st = metric_attrs(r, obj, m);
    return st;
}

static hs_status read_metrics(const rd *r, hs_study *s)
{
    char **names = NULL;
    int n = 0;
    hs_status st = hs_results_reader_list(r->f, "metrics", &names, &n);
    for (int i = 0; !st && i < n; i++) st = read_metric(r, s, names[i]);
    free_strings(names, (size_t)n);
    if (!st && s->nm == 0) st = bad(r, "metrics", "holds no metrics");
    return st;
}

/* ---- cells, heads, agency ---- */

/* Per-prompt done flags from the per-shard cells: prompt i is in shard i % n_shards. */
static hs_status read_cells(rd *r, hs_study *s)
{
    shape want = {3, {(uint64_t)s->nv, (uint64_t)s->nl, 0}, {"variant", "level", "shard"}};
    uint64_t dims[3] = {0};
    hs_status st = hs_results_reader_numbers(r->f, "cells/done", HS_RN_U8, &want, dims, (void **)&r->cells);
    if (!st && dims[2] == 0) st = bad(r, "cells/done", "has no shards");
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

/* Optional int32 (variant, level, shard) dataset; *out = NULL when the file has none. */
static hs_status read_optional_cells_int(const rd *r, const hs_study *s, const char *obj, int32_t **out)
{
    *out = NULL;
    int e = 0;
    hs_status st = hs_results_reader_exists(r->f, obj, &e);
    if (st || !e) return st;
    shape want = {3, {(uint64_t)s->nv, (uint64_t)s->nl, r->nshard}, {"variant", "level", "shard"}};
    return hs_results_reader_numbers(r->f, obj, HS_RN_I32, &want, NULL, (void **)out);
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
    hs_status est = hs_results_reader_exists(r->f, "cells/host", &e);
    if (est || !e) return est;
    int32_t *run = NULL;
    char **host = NULL;
    shape want = {3, {(uint64_t)s->nv, (uint64_t)s->nl, r->nshard}, {"variant", "level", "shard"}};
    hs_status st = hs_results_reader_strings(r->f, "cells/host", &want, NULL, &host);
    if (!st) st = read_optional_cells_int(r, s, "cells/run", &run);
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
    shape oc = {5, {nv, nl, L, H, S}, {"variant", "level", "layer", "head", "state"}};
    shape os = {6, {nv, nl, r->nshard, L, H, S}, {"variant", "level", "shard", "layer", "head", "state"}};
    int rank = 0;
    hs_status st = hs_results_reader_rank(r->f, "agency/occupancy", &rank);
    if (st || rank != 6)
        return st ? st : hs_results_reader_numbers(r->f, "agency/occupancy", HS_RN_I64, &oc, NULL,
                                      (void **)&s->occupancy);
    int64_t *per_shard = NULL;
    st = hs_results_reader_numbers(r->f, "agency/occupancy", HS_RN_I64, &os, NULL, (void **)&per_shard);
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
    hs_status st = hs_results_reader_exists(r->f, "agency/transitions", &e);
    if (st || !e || !s->occ_shard) return st;
    shape want = {5, {(uint64_t)s->nv, (uint64_t)s->nl, r->nshard, (uint64_t)s->L, (uint64_t)s->H},
                  {"variant", "level", "shard", "layer", "head"}};
    return hs_results_reader_numbers(r->f, "agency/transitions", HS_RN_I64, &want, NULL, (void **)&s->trans_shard);
}

/* The generated tokens, and their texts where the file has them: quality numbers a
 * duplicate cell must repeat (study.c). */
static hs_status read_generated(const rd *r, hs_study *s)
{
    shape ids = {4, {(uint64_t)s->nv, (uint64_t)s->nl, (uint64_t)s->np, 0},
                 {"variant", "level", "prompt", "new_token"}};
    uint64_t got[4] = {0};
    hs_status st = hs_results_reader_numbers(r->f, "text/generated_ids", HS_RN_I32, &ids, got, (void **)&s->gen_ids);
    s->max_new = (int)got[3];
    int e = 0;
    if (!st) st = hs_results_reader_exists(r->f, "prompts/generated", &e);
    shape text = {3, {(uint64_t)s->nv, (uint64_t)s->nl, (uint64_t)s->np}, {"variant", "level", "prompt"}};
    if (!st && e) st = hs_results_reader_strings(r->f, "prompts/generated", &text, NULL, &s->gen_text);
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
    uint64_t nv = (uint64_t)s->nv, nl = (uint64_t)s->nl, L = (uint64_t)s->L, H = (uint64_t)s->H;
    shape sc = {2, {L, H}, {"layer", "head"}};
    shape pr = {4, {nv, nl, L, H}, {"variant", "level", "layer", "head"}};
    hs_status st = hs_results_reader_numbers(r->f, "heads/score", HS_RN_F64, &sc, NULL,
                                (void **)&s->score);
    if (!st) st = hs_results_reader_numbers(r->f, "heads/pruned", HS_RN_U8, &pr, NULL,
                               (void **)&s->pruned);
    if (!st) st = mark_known_maps(s);
    if (!st) st = check_single_heads(r, s);
    if (!st) st = read_occupancy(r, s);
    if (!st) st = read_transitions(r, s);
    return st;
}

/* ---- mean ablation ---- */

/* 1 when variant name's line of the study text says `ablation mean` (src/sweep/grid.c
 * writes ", ablation mean" on it; zero ablation writes nothing). */
static int study_says_mean(const char *study, const char *name)
{
    size_t n = strlen(name);
    for (const char *l = study; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        size_t len = strcspn(l, "\n");
        if (strncmp(l, "variant.", 8) || strncmp(l + 8, name, n) || strncmp(l + 8 + n, " = ", 3)) continue;
        for (const char *k = l; k + 15 <= l + len; k++)
            if (!strncmp(k, ", ablation mean", 15)) return 1;
    }
    return 0;
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
