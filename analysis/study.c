/* study.c: lookups on an hs_study and the in-memory merge of several results files.
 *
 * A merge builds a fresh study on the union grid (variants in order of appearance,
 * levels ascending, metrics by name) and copies each input into it prompt by prompt,
 * taking only prompts whose cell is done. Inputs must be the same study: same model,
 * prompts, calibration and sampling, so that a prompt's numbers mean the same in each.
 * Prompts and head maps present in several inputs follow the merge rule of `headsweep
 * merge` (results.h, src/results/merge_rule.c): they must agree, or the merge is refused. */
#include "study.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/prompts.h"
#include "headsweep/results.h"

static void free_strv(char **v, int n)
{
    if (!v) return;
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

void hs_study_free(hs_study *s)
{
    if (!s) return;
    free_strv(s->variant, s->nv);
    free_strv(s->gating, s->nv);
    free_strv(s->strategy, s->nv);
    free_strv(s->prompt, s->np);
    free_strv(s->book, s->np);
    free(s->row);
    free_strv(s->state, s->ns);
    for (int i = 0; s->metric && i < s->nm; i++) {
        free(s->metric[i].name);
        free(s->metric[i].units);
        free(s->metric[i].description);
        free(s->metric[i].v);
    }
    for (int i = 0; s->src && i < s->nsrc; i++) {
        for (int k = 0; k < s->src[i].n_attrs; k++) {
            free(s->src[i].attrs[k].key);
            free(s->src[i].attrs[k].value);
        }
        free(s->src[i].attrs);
        free(s->src[i].path);
    }
    free_strv(s->notes, s->nnotes);
    free_strv(s->origins, s->norigins);
    free(s->origin);
    free(s->copies);
    free(s->metric);
    free(s->src);
    free(s->agency);
    free(s->level);
    free(s->level_head);
    free(s->done);
    free(s->pruned);
    free(s->heads_known);
    free(s->map_source);
    free(s->source);
    free(s->occupancy);
    free(s->shard_done);
    free(s->occ_shard);
    free(s->trans_shard);
    free(s->gen_ids);
    free_strv(s->gen_text, s->gen_text ? s->nv * s->nl * s->np : 0);
    free(s->score);
    memset(s, 0, sizeof *s);
}

int hs_study_variant(const hs_study *s, const char *name)
{
    for (int i = 0; i < s->nv; i++)
        if (!strcmp(s->variant[i], name)) return i;
    return -1;
}

static int head_of(const hs_study *s, int l) { return s->level_head ? s->level_head[l] : -1; }

int hs_study_level_head(const hs_study *s, double level, int head)
{
    for (int i = 0; i < s->nl; i++)
        if (s->level[i] == level && head_of(s, i) == head) return i;
    return -1;
}

int hs_study_level(const hs_study *s, double level) { return hs_study_level_head(s, level, -1); }

const hs_metric_data *hs_study_metric(const hs_study *s, const char *name)
{
    for (int i = 0; i < s->nm; i++)
        if (!strcmp(s->metric[i].name, name)) return &s->metric[i];
    return NULL;
}

static const char *source_attr(const hs_source *src, const char *key)
{
    for (int k = 0; k < src->n_attrs; k++)
        if (!strcmp(src->attrs[k].key, key)) return src->attrs[k].value;
    return NULL;
}

const char *hs_study_attr(const hs_study *s, const char *key)
{
    for (int i = 0; i < s->nsrc; i++) {
        const char *v = source_attr(&s->src[i], key);
        if (v) return v;
    }
    return NULL;
}

int hs_study_done_count(const hs_study *s, int v, int l)
{
    int k = 0;
    for (int p = 0; p < s->np; p++) k += s->done[hs_vlp(s, v, l, p)];
    return k;
}

int hs_study_src_incomplete(const hs_study *s, int i)
{
    const char *v = source_attr(&s->src[i], "complete");
    return v && !strcmp(v, "0");
}

void hs_study_not_done(const hs_study *s, size_t *not_done, size_t *total)
{
    *total = (size_t)s->nv * (size_t)s->nl * (size_t)s->np;
    *not_done = 0;
    for (size_t i = 0; i < *total; i++) *not_done += !s->done[i];
}

hs_status hs_study_origin(hs_study *s, const char *name, int *idx)
{
    *idx = -1;
    if (!name[0]) return HS_OK;
    for (int i = 0; i < s->norigins; i++)
        if (!strcmp(s->origins[i], name)) return *idx = i, HS_OK;
    char **grown = realloc(s->origins, (size_t)(s->norigins + 1) * sizeof *grown);
    if (!grown) return hs_err(HS_ENOMEM, "out of memory listing hosts");
    s->origins = grown;
    if (!(grown[s->norigins] = hs_strdup(name))) return HS_ENOMEM;
    *idx = s->norigins++;
    return HS_OK;
}

static hs_status note_v(char ***notes, int *n, const char *fmt, va_list ap)
{
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    char **grown = realloc(*notes, (size_t)(*n + 1) * sizeof *grown);
    if (!grown) return hs_err(HS_ENOMEM, "out of memory adding a note");
    *notes = grown;
    if (!(grown[*n] = hs_strdup(buf))) return HS_ENOMEM;
    (*n)++;
    return HS_OK;
}

hs_status hs_study_note(hs_study *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hs_status st = note_v(&s->notes, &s->nnotes, fmt, ap);
    va_end(ap);
    return st;
}

/* ---- same study? ---- */

/* Root attributes that tell two studies apart in files without the writer's study text
 * (which `headsweep merge` does not open at all): two files differing in one of these
 * measure different things and must not be pooled. */
static const int study_keys[] = {
    HS_RA_SCHEMA_VERSION, HS_RA_MODEL_SHA256, HS_RA_PROMPTS_SHA256, HS_RA_CALIBRATION_SHA256, HS_RA_STRATEGY,
    HS_RA_SEED, HS_RA_MAX_NEW_TOKENS, HS_RA_TEMPERATURE, HS_RA_TOP_K, HS_RA_TOP_P,
};

static hs_status mismatch(const hs_study *a, const hs_study *b, const char *what, const char *x,
                          const char *y)
{
    return hs_err(HS_EINPUT, "%s and %s are not the same study: %s differs (%s vs %s)",
                  a->src[0].path, b->src[0].path, what, x, y);
}

/* The sweep writer stores the study's identity as text (`study`: one "key = value" line
 * per setting that changes a result, variants and levels included). Files that both have
 * it are one study when the texts are equal, by the results stage's one rule
 * (hs_results_same_study, which `headsweep merge` applies too); the attributes above
 * decide only for files without it. */
static hs_status same_attrs(const hs_study *a, const hs_study *b)
{
    const char *ta = hs_study_attr(a, hs_results_attrs[HS_RA_STUDY].name);
    const char *tb = hs_study_attr(b, hs_results_attrs[HS_RA_STUDY].name);
    if (ta && tb) {
        char lx[256], ly[256];
        int n_differ = 0;
        if (hs_results_same_study(ta, tb, &n_differ, lx, ly, sizeof lx)) return HS_OK;
        return mismatch(a, b, "study (first differing setting)", lx, ly);
    }
    for (size_t i = 0; i < sizeof study_keys / sizeof study_keys[0]; i++) {
        const char *key = hs_results_attrs[study_keys[i]].name;
        const char *x = hs_study_attr(a, key), *y = hs_study_attr(b, key);
        if (!x && !y) continue;
        if (!x || !y || strcmp(x, y)) return mismatch(a, b, key, x ? x : "absent", y ? y : "absent");
    }
    return HS_OK;
}

/* Prompt p of s as the merge rule compares it. */
static hs_prompt_row prompt_row(const hs_study *s, int p)
{
    return (hs_prompt_row){s->prompt[p], s->row ? s->row[2 * p] : -1, s->row ? s->row[2 * p + 1] : -1,
                           s->book ? s->book[p] : NULL};
}

/* The same prompts, row for row of the prompt file (merge_rule.c, as `headsweep merge`). */
static hs_status same_prompts(const hs_study *a, const hs_study *b)
{
    char what[512];
    for (int p = 0; p < a->np; p++) {
        hs_prompt_row x = prompt_row(a, p), y = prompt_row(b, p);
        if (!hs_results_same_prompt(p, &x, &y, what, sizeof what))
            return hs_results_prompts_conflict(a->src[0].path, b->src[0].path, what);
    }
    return HS_OK;
}

static hs_status same_grid(const hs_study *a, const hs_study *b)
{
    char x[64], y[64];
    if (a->L != b->L || a->H != b->H) {
        snprintf(x, sizeof x, "%d x %d", a->L, a->H);
        snprintf(y, sizeof y, "%d x %d", b->L, b->H);
        return mismatch(a, b, "head grid (layers x heads)", x, y);
    }
    if (a->np != b->np) {
        snprintf(x, sizeof x, "%d", a->np);
        snprintf(y, sizeof y, "%d", b->np);
        return mismatch(a, b, "number of prompts", x, y);
    }
    hs_status st = same_prompts(a, b);
    if (st) return st;
    if (a->gen_ids && b->gen_ids && a->max_new != b->max_new) {
        snprintf(x, sizeof x, "%d", a->max_new);
        snprintf(y, sizeof y, "%d", b->max_new);
        return mismatch(a, b, "generated tokens per prompt", x, y);
    }
    if (a->ns != b->ns) return mismatch(a, b, "number of agency states", "", "");
    for (int k = 0; k < a->ns; k++)
        if (strcmp(a->state[k], b->state[k])) return mismatch(a, b, "agency state", a->state[k], b->state[k]);
    return HS_OK;
}

static hs_status same_variants_and_units(const hs_study *a, const hs_study *b)
{
    for (int j = 0; j < b->nv; j++) {
        int i = hs_study_variant(a, b->variant[j]);
        if (i < 0) continue;
        char what[300];
        snprintf(what, sizeof what, "gating of variant %s", b->variant[j]);
        if (strcmp(a->gating[i], b->gating[j])) return mismatch(a, b, what, a->gating[i], b->gating[j]);
        snprintf(what, sizeof what, "strategy of variant %s", b->variant[j]);
        if (strcmp(a->strategy[i], b->strategy[j]))
            return mismatch(a, b, what, a->strategy[i], b->strategy[j]);
        snprintf(what, sizeof what, "agency flag of variant %s", b->variant[j]);
        if (a->agency[i] != b->agency[j])
            return mismatch(a, b, what, a->agency[i] ? "1" : "0", b->agency[j] ? "1" : "0");
    }
    for (int k = 0; k < b->nm; k++) {
        const hs_metric_data *m = hs_study_metric(a, b->metric[k].name);
        char what[300];
        snprintf(what, sizeof what, "units of metric %s", b->metric[k].name);
        if (m && strcmp(m->units, b->metric[k].units)) return mismatch(a, b, what, m->units, b->metric[k].units);
    }
    return HS_OK;
}

/* ---- the union grid ---- */

typedef struct {
    int nv, nl, nm;
    const hs_study *vsrc[2]; /* where each variant/metric comes from: a then b */
} grid_plan;

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static hs_status alloc_fill(void **p, size_t n, size_t el, const char *what)
{
    *p = hs_calloc(n ? n : 1, el, what);
    return *p ? HS_OK : HS_ENOMEM;
}

static hs_status dup_strv(char ***dst, char *const *src, int n)
{
    hs_status st = alloc_fill((void **)dst, (size_t)n, sizeof **dst, "strings");
    for (int i = 0; !st && i < n; i++)
        if (!((*dst)[i] = hs_strdup(src[i]))) st = HS_ENOMEM;
    return st;
}

/* Adds a's and then b's variants (b may be NULL) to m. */
static hs_status union_variants(hs_study *m, const hs_study *a, const hs_study *b)
{
    int cap = a->nv + (b ? b->nv : 0);
    hs_status st = alloc_fill((void **)&m->variant, (size_t)cap, sizeof(char *), "variants");
    if (!st) st = alloc_fill((void **)&m->gating, (size_t)cap, sizeof(char *), "gating");
    if (!st) st = alloc_fill((void **)&m->strategy, (size_t)cap, sizeof(char *), "strategies");
    if (!st) st = alloc_fill((void **)&m->agency, (size_t)cap, 1, "agency flags");
    for (int pass = 0; !st && pass < (b ? 2 : 1); pass++) {
        const hs_study *s = pass ? b : a;
        for (int j = 0; !st && j < s->nv; j++) {
            if (hs_study_variant(m, s->variant[j]) >= 0) continue;
            m->variant[m->nv] = hs_strdup(s->variant[j]);
            m->gating[m->nv] = hs_strdup(s->gating[j]);
            m->strategy[m->nv] = hs_strdup(s->strategy[j]);
            m->agency[m->nv] = s->agency[j];
            if (!m->variant[m->nv] || !m->gating[m->nv] || !m->strategy[m->nv]) st = HS_ENOMEM;
            m->nv++; /* counted even on failure so hs_study_free releases it */
        }
    }
    return st;
}

/* Which levels a regrid keeps: all, those of the strategies, or each_head's single-head ones. */
enum { KEEP_ALL, KEEP_LEVELS, KEEP_SINGLE };

static int kept(const hs_study *s, int l, int keep)
{
    return keep == KEEP_ALL || (keep == KEEP_SINGLE) == (head_of(s, l) >= 0);
}

typedef struct {
    double level;
    int head;
} level_key;

static int cmp_level_key(const void *x, const void *y)
{
    const level_key *a = x, *b = y;
    int c = cmp_double(&a->level, &b->level);
    return c ? c : (a->head > b->head) - (a->head < b->head);
}

/* The union of a's and b's kept levels as (percent, single head), sorted by both;
 * m->level_head stays NULL when no kept level is a single head's. */
static hs_status union_levels(hs_study *m, const hs_study *a, const hs_study *b, int keep)
{
    int cap = a->nl + (b ? b->nl : 0), any_head = 0;
    level_key *k = hs_calloc((size_t)(cap ? cap : 1), sizeof *k, "levels");
    hs_status st = k ? alloc_fill((void **)&m->level, (size_t)cap, sizeof(double), "levels") : HS_ENOMEM;
    if (!st) st = alloc_fill((void **)&m->level_head, (size_t)cap, sizeof(int), "levels");
    for (int pass = 0; !st && pass < (b ? 2 : 1); pass++) {
        const hs_study *s = pass ? b : a;
        for (int j = 0; j < s->nl; j++) {
            if (!kept(s, j, keep) || hs_study_level_head(m, s->level[j], head_of(s, j)) >= 0) continue;
            k[m->nl] = (level_key){s->level[j], head_of(s, j)};
            m->level_head[m->nl] = head_of(s, j);
            m->level[m->nl++] = s->level[j];
            any_head |= head_of(s, j) >= 0;
        }
    }
    if (!st) qsort(k, (size_t)m->nl, sizeof *k, cmp_level_key);
    for (int i = 0; !st && i < m->nl; i++) m->level[i] = k[i].level, m->level_head[i] = k[i].head;
    if (!any_head) {
        free(m->level_head);
        m->level_head = NULL;
    }
    free(k);
    return st;
}

static hs_status add_metric(hs_study *m, const hs_metric_data *src, size_t cells)
{
    hs_metric_data *d = &m->metric[m->nm++];
    memset(d, 0, sizeof *d);
    d->name = hs_strdup(src->name);
    d->units = hs_strdup(src->units);
    d->description = hs_strdup(src->description);
    d->timing = src->timing;
    d->v = hs_malloc(cells * sizeof(double), "metric values");
    if (!d->name || !d->units || !d->description || !d->v) return HS_ENOMEM;
    for (size_t i = 0; i < cells; i++) d->v[i] = NAN;
    return HS_OK;
}

static hs_status union_metrics(hs_study *m, const hs_study *a, const hs_study *b)
{
    int cap = a->nm + (b ? b->nm : 0);
    size_t cells = (size_t)m->nv * (size_t)m->nl * (size_t)m->np;
    hs_status st = alloc_fill((void **)&m->metric, (size_t)cap, sizeof(hs_metric_data), "metrics");
    for (int pass = 0; !st && pass < (b ? 2 : 1); pass++) {
        const hs_study *s = pass ? b : a;
        for (int j = 0; !st && j < s->nm; j++)
            if (!hs_study_metric(m, s->metric[j].name)) st = add_metric(m, &s->metric[j], cells);
    }
    return st;
}

/* The per-cell arrays of m: generated tokens and texts, and agency counts per shard when
 * both inputs keep them with one shard count (else the report sums per file, as before). */
static hs_status alloc_cells(hs_study *m, const hs_study *a, const hs_study *b)
{
    size_t vl = (size_t)m->nv * (size_t)m->nl, LH = (size_t)m->L * (size_t)m->H, n = vl * (size_t)m->np;
    hs_status st = HS_OK;
    m->max_new = a->max_new;
    if (a->gen_ids && (!b || b->gen_ids)) {
        st = alloc_fill((void **)&m->gen_ids, n * (size_t)m->max_new, sizeof(int32_t), "generated tokens");
        for (size_t i = 0; !st && i < n * (size_t)m->max_new; i++) m->gen_ids[i] = -1;
    }
    if (!st && (a->gen_text || (b && b->gen_text))) st = alloc_fill((void **)&m->gen_text, n, sizeof(char *), "texts");
    int sharded = a->occ_shard && (!b || (b->occ_shard && b->nshard == a->nshard));
    m->nshard = sharded ? a->nshard : 0;
    size_t cells = vl * (size_t)m->nshard;
    if (!st && sharded) st = alloc_fill((void **)&m->shard_done, cells, 1, "cell flags");
    if (!st && sharded)
        st = alloc_fill((void **)&m->occ_shard, cells * LH * (size_t)m->ns, sizeof(int64_t), "occupancy");
    if (!st && sharded && a->trans_shard && (!b || b->trans_shard))
        st = alloc_fill((void **)&m->trans_shard, cells * LH, sizeof(int64_t), "transitions");
    return st;
}

/* Allocates m on the union grid of a and b (b may be NULL), all prompts not done. */
static hs_status alloc_union(hs_study *m, const hs_study *a, const hs_study *b, int keep)
{
    memset(m, 0, sizeof *m);
    m->np = a->np, m->L = a->L, m->H = a->H;
    hs_status st = dup_strv(&m->prompt, a->prompt, a->np);
    /* same_prompts: where both record books and rows they agree; take them from either */
    const hs_study *bk = a->book || !b ? a : b, *rw = a->row || !b ? a : b;
    if (!st && bk->book) st = dup_strv(&m->book, bk->book, a->np);
    if (!st && rw->row && !(m->row = hs_malloc((size_t)a->np * 2 * sizeof *m->row, "prompt rows"))) st = HS_ENOMEM;
    if (!st && rw->row) memcpy(m->row, rw->row, (size_t)a->np * 2 * sizeof *m->row);
    m->ns = st ? 0 : a->ns;
    if (!st) st = dup_strv(&m->state, a->state, a->ns);
    if (!st) st = union_variants(m, a, b);
    if (!st) st = union_levels(m, a, b, keep);
    if (!st) st = union_metrics(m, a, b);
    size_t vl = (size_t)m->nv * (size_t)m->nl, LH = (size_t)m->L * (size_t)m->H;
    if (!st) st = alloc_fill((void **)&m->done, vl * (size_t)m->np, 1, "done flags");
    if (!st) st = alloc_fill((void **)&m->heads_known, vl, 1, "head map flags");
    if (!st) st = alloc_fill((void **)&m->pruned, vl * LH, 1, "pruned heads");
    if (!st) st = alloc_fill((void **)&m->occupancy, vl * LH * (size_t)m->ns, sizeof(int64_t), "occupancy");
    if (!st) st = alloc_fill((void **)&m->score, LH, sizeof(double), "head scores");
    if (!st) st = alloc_fill((void **)&m->origin, vl * (size_t)m->np, sizeof(int), "cell origins");
    if (!st) st = alloc_fill((void **)&m->source, vl * (size_t)m->np, sizeof(int), "value sources");
    if (!st) st = alloc_fill((void **)&m->copies, vl * (size_t)m->np * 2, 1, "speed copies");
    if (!st) memset(m->copies, HS_RESULTS_COPIES_UNKNOWN, vl * (size_t)m->np * 2);
    if (!st) st = alloc_fill((void **)&m->map_source, vl, sizeof(int), "head map sources");
    if (!st) st = alloc_cells(m, a, b);
    for (size_t i = 0; !st && i < vl * (size_t)m->np; i++) m->origin[i] = m->source[i] = -1;
    for (size_t i = 0; !st && i < vl; i++) m->map_source[i] = -1;
    if (!st) memcpy(m->score, a->score, LH * sizeof(double));
    return st;
}

/* ---- copying a source into the union ---- */

/* Where src's values of a (variant, level) go in m: src's sources are m's from base on. */
typedef struct {
    int mv, ml;       /* cell in m */
    const hs_study *src;
    int sv, sl;       /* cell in src */
    int base;         /* index in m->src of src->src[0] */
} absorb_at;

/* A prompt done in m and in src: every quality number must agree (the merge rule): the
 * metrics, the generated tokens and text. */
static hs_status check_duplicate(const hs_study *m, const absorb_at *at, int p)
{
    const hs_study *src = at->src;
    size_t si = hs_vlp(src, at->sv, at->sl, p), mi = hs_vlp(m, at->mv, at->ml, p), T = (size_t)m->max_new;
    const hs_source *a = &m->src[m->source[mi]], *b = &m->src[at->base + src->source[si]];
    char what[512];
    int same = 1;
    for (int k = 0; same && k < src->nm; k++) {
        const hs_metric_data *d = hs_study_metric(m, src->metric[k].name);
        same = hs_results_same_metric(d->name, d->timing, m->prompt[p], d->v[mi], src->metric[k].v[si], what,
                                      sizeof what);
    }
    if (same && m->gen_ids && src->gen_ids)
        same = hs_results_same_tokens(m->prompt[p], m->gen_ids + mi * T, src->gen_ids + si * T, m->max_new, what,
                                      sizeof what);
    if (same && m->gen_text && src->gen_text && m->gen_text[mi] && src->gen_text[si])
        same = hs_results_same_text(m->prompt[p], m->gen_text[mi], src->gen_text[si], what, sizeof what);
    if (same) return HS_OK;
    int shard = a->nshard > 0 ? hs_shard_of((size_t)p, a->nshard) : 0;
    return hs_results_cell_conflict(m->variant[at->mv], m->level[at->ml], shard, a->path, b->path, what);
}

/* A new done prompt's tokens and text into m. */
static hs_status copy_generated(hs_study *m, const absorb_at *at, int p)
{
    const hs_study *src = at->src;
    size_t si = hs_vlp(src, at->sv, at->sl, p), mi = hs_vlp(m, at->mv, at->ml, p), T = (size_t)m->max_new;
    if (m->gen_ids && src->gen_ids) memcpy(m->gen_ids + mi * T, src->gen_ids + si * T, T * sizeof *m->gen_ids);
    if (m->gen_text && src->gen_text && src->gen_text[si] && !(m->gen_text[mi] = hs_strdup(src->gen_text[si])))
        return HS_ENOMEM;
    return HS_OK;
}

/* Copies the done prompts of src cell (sv, sl) into m cell (mv, ml); counts prompts
 * new to m and prompts m already had (which must agree). */
static hs_status absorb_prompts(hs_study *m, const absorb_at *at, int *n_new, int *n_dup)
{
    const hs_study *src = at->src;
    *n_new = *n_dup = 0;
    for (int p = 0; p < m->np; p++) {
        size_t si = hs_vlp(src, at->sv, at->sl, p), mi = hs_vlp(m, at->mv, at->ml, p);
        if (!src->done[si]) continue;
        if (m->done[mi]) {
            (*n_dup)++;
            hs_status st = check_duplicate(m, at, p);
            if (st) return st;
            continue;
        }
        m->done[mi] = 1;
        m->source[mi] = at->base + src->source[si];
        (*n_new)++;
        for (int k = 0; k < src->nm; k++) {
            hs_metric_data *d = (hs_metric_data *)hs_study_metric(m, src->metric[k].name);
            d->v[mi] = src->metric[k].v[si];
        }
        hs_status st = copy_generated(m, at, p);
        if (st) return st;
        /* Runs of different files are different sessions even when numbered alike. */
        char name[600] = "";
        if (src->origin[si] >= 0)
            snprintf(name, sizeof name, "%s, %s", src->origins[src->origin[si]], src->src[0].path);
        st = hs_study_origin(m, name, &m->origin[mi]);
        if (st) return st;
        if (src->copies) memcpy(m->copies + 2 * mi, src->copies + 2 * si, 2);
    }
    return HS_OK;
}

/* The agency counts of src's cells (sv, sl, k) into m's: a cell m already has must repeat
 * them (the merge rule), a new one is copied; m's totals are then its done cells' sums. */
static hs_status absorb_shards(hs_study *m, const absorb_at *at)
{
    const hs_study *src = at->src;
    size_t LH = (size_t)m->L * (size_t)m->H, S = (size_t)m->ns, K = (size_t)m->nshard;
    size_t mc = hs_vl(m, at->mv, at->ml) * K, sc = hs_vl(src, at->sv, at->sl) * K;
    char what[512];
    for (size_t k = 0; k < K; k++) {
        if (!src->shard_done[sc + k]) continue;
        const int64_t *so = src->occ_shard + (sc + k) * LH * S;
        const int64_t *sx = m->trans_shard ? src->trans_shard + (sc + k) * LH : NULL;
        int64_t *mo = m->occ_shard + (mc + k) * LH * S, *mx = m->trans_shard ? m->trans_shard + (mc + k) * LH : NULL;
        if (!m->shard_done[mc + k]) {
            memcpy(mo, so, LH * S * sizeof *mo);
            if (mx) memcpy(mx, sx, LH * sizeof *mx);
            m->shard_done[mc + k] = 1;
        } else if (!hs_results_same_counts("occupancy", mo, so, LH * S, what, sizeof what) ||
                   (mx && !hs_results_same_counts("transitions", mx, sx, LH, what, sizeof what))) {
            int first = k < (size_t)m->np ? m->source[hs_vlp(m, at->mv, at->ml, (int)k)] : -1; /* prompt k: shard k */
            return hs_results_cell_conflict(m->variant[at->mv], m->level[at->ml], (int)k,
                                            m->src[first >= 0 ? first : 0].path, src->src[0].path, what);
        }
    }
    int64_t *tot = m->occupancy + hs_vl(m, at->mv, at->ml) * LH * S;
    memset(tot, 0, LH * S * sizeof *tot);
    for (size_t k = 0; k < K; k++)
        for (size_t i = 0; m->shard_done[mc + k] && i < LH * S; i++) tot[i] += m->occ_shard[(mc + k) * LH * S + i];
    return HS_OK;
}

static hs_status absorb_heads(hs_study *m, const absorb_at *at, int n_new, int n_dup)
{
    const hs_study *src = at->src;
    size_t LH = (size_t)m->L * (size_t)m->H, S = (size_t)m->ns;
    size_t mi = hs_vl(m, at->mv, at->ml), si = hs_vl(src, at->sv, at->sl);
    hs_status st = HS_OK;
    if (src->heads_known[si] && !m->heads_known[mi]) {
        memcpy(m->pruned + mi * LH, src->pruned + si * LH, LH);
        m->heads_known[mi] = 1;
        m->map_source[mi] = at->base + src->map_source[si];
    } else if (src->heads_known[si] && memcmp(m->pruned + mi * LH, src->pruned + si * LH, LH)) {
        return hs_results_heads_conflict(m->variant[at->mv], m->level[at->ml], m->src[m->map_source[mi]].path,
                                         m->src[at->base + src->map_source[si]].path);
    }
    if (m->nshard) return absorb_shards(m, at); /* exact per cell */
    if (n_new > 0)
        for (size_t k = 0; k < LH * S; k++) m->occupancy[mi * LH * S + k] += src->occupancy[si * LH * S + k];
    if (!st && n_new > 0 && n_dup > 0)
        st = hs_study_note(m, "%s: agency occupancy of %s at level %g is summed over prompts, some of "
                           "which an earlier file also has; it may count them twice",
                           src->src[0].path, src->variant[at->sv], src->level[at->sl]);
    return st;
}

static hs_status absorb_cell(hs_study *m, const hs_study *src, int sv, int sl, int base)
{
    absorb_at at = {hs_study_variant(m, src->variant[sv]), hs_study_level_head(m, src->level[sl], head_of(src, sl)),
                    src, sv, sl, base};
    int n_new, n_dup;
    hs_status st = absorb_prompts(m, &at, &n_new, &n_dup);
    if (!st) st = absorb_heads(m, &at, n_new, n_dup);
    if (!st && n_dup > 0)
        st = hs_study_note(m, "%d prompts of %s at level %g are done in more than one input file with the same "
                           "quality numbers; the timings of the file given first are used (%s repeats them)",
                           n_dup, src->variant[sv], src->level[sl], src->src[0].path);
    return st;
}

static hs_status copy_sources(hs_study *m, const hs_study *src)
{
    hs_source *grown = realloc(m->src, (size_t)(m->nsrc + src->nsrc) * sizeof *grown);
    if (!grown) return hs_err(HS_ENOMEM, "out of memory merging sources");
    m->src = grown;
    for (int i = 0; i < src->nsrc; i++) {
        hs_source *d = &m->src[m->nsrc++];
        memset(d, 0, sizeof *d);
        const hs_source *s = &src->src[i];
        d->nshard = s->nshard;
        if (!(d->path = hs_strdup(s->path))) return HS_ENOMEM;
        if (!(d->attrs = hs_calloc((size_t)s->n_attrs, sizeof *d->attrs, "attributes"))) return HS_ENOMEM;
        for (int k = 0; k < s->n_attrs; k++, d->n_attrs++) {
            d->attrs[k].key = hs_strdup(s->attrs[k].key);
            d->attrs[k].value = hs_strdup(s->attrs[k].value);
            if (!d->attrs[k].key || !d->attrs[k].value) return HS_ENOMEM;
        }
    }
    for (int i = 0; i < src->nnotes; i++)
        if (hs_study_note(m, "%s", src->notes[i])) return HS_ENOMEM;
    return HS_OK;
}

static hs_status absorb(hs_study *m, const hs_study *src, int keep)
{
    int base = m->nsrc;
    hs_status st = copy_sources(m, src);
    for (int v = 0; !st && v < src->nv; v++)
        for (int l = 0; !st && l < src->nl; l++)
            if (kept(src, l, keep)) st = absorb_cell(m, src, v, l, base);
    return st;
}

/* *m = the union of a and b (b may be NULL) on the levels keep selects. */
static hs_status regrid_into(hs_study *m, const hs_study *a, const hs_study *b, int keep)
{
    hs_status st = alloc_union(m, a, b, keep);
    if (!st) st = absorb(m, a, keep);
    if (!st && b) st = absorb(m, b, keep);
    if (st) hs_study_free(m);
    return st;
}

/* Replaces *a by the union of a and b (b may be NULL: just re-sorts a's levels). */
static hs_status regrid(hs_study *a, const hs_study *b)
{
    hs_study m;
    hs_status st = regrid_into(&m, a, b, KEEP_ALL);
    if (st) return st;
    hs_study_free(a);
    *a = m;
    return HS_OK;
}

hs_status hs_study_merge(hs_study *a, const hs_study *b)
{
    hs_status st = same_attrs(a, b);
    if (!st) st = same_grid(a, b);
    if (!st) st = same_variants_and_units(a, b);
    if (!st) st = regrid(a, b);
    return st;
}

hs_status hs_study_sort_levels(hs_study *s) { return regrid(s, NULL); }

hs_status hs_study_split_heads(hs_study *s, hs_study *single)
{
    memset(single, 0, sizeof *single);
    int any = 0;
    for (int l = 0; l < s->nl; l++) any |= head_of(s, l) >= 0;
    if (!any) return HS_OK;
    hs_study rest;
    hs_status st = regrid_into(single, s, NULL, KEEP_SINGLE);
    if (!st) st = regrid_into(&rest, s, NULL, KEEP_LEVELS);
    if (st) {
        hs_study_free(single);
        return st;
    }
    hs_study_free(s);
    *s = rest;
    return HS_OK;
}
