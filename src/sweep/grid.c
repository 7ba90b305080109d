/* grid.c: job-array slices of the cells (the grid itself is the results file's, in
 * src/results/cells.c), the study's identity text, and a finished cell's wire format. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/prompts.h"
#include "sweep_impl.h"

hs_status hs_slice_parse(const char *s, hs_slice *out)
{
    char *end;
    errno = 0;
    long k = strtol(s, &end, 10);
    if (errno || end == s || *end != '/')
        return hs_err(HS_EINPUT, "--cells %s: expected K/N (part K of N, 1 <= K <= N)", s);
    const char *ns = end + 1;
    long n = strtol(ns, &end, 10);
    if (errno || end == ns || *end || n < 1 || n > 1000000 || k < 1 || k > n)
        return hs_err(HS_EINPUT, "--cells %s: expected K/N (part K of N, 1 <= K <= N)", s);
    out->k = (int)k;
    out->n = (int)n;
    return HS_OK;
}

int hs_slice_has(const hs_slice *s, int64_t index)
{
    return s->n == 0 || index % s->n == s->k - 1;
}

int64_t hs_grid_slice_key(const hs_grid *g, int64_t cell, int interleaved)
{
    if (!interleaved) return cell;
    hs_cell c = hs_grid_cell(g, cell);
    return (int64_t)c.level * g->n_shards + c.shard;
}

hs_status hs_slice_check(const hs_slice *s, const hs_grid *g, int interleaved)
{
    int64_t items = interleaved ? (int64_t)g->n_levels * g->n_shards : hs_grid_cells(g);
    if (s->n == 0 || s->n <= items) return HS_OK;
    return hs_err(HS_EINPUT, "--cells %d/%d: the study has %lld %s, which go to the N parts by index modulo N, so "
                             "parts above %lld would hold no cell; give N of at most %lld",
                  s->k, s->n, (long long)items,
                  interleaved ? "work items (levels x shards: the variants of a level and shard are timed together)"
                              : "cells (timing_order = sequential)",
                  (long long)items, (long long)items);
}

int hs_latency_prompt(int t, int k, int n) { return (int)(((int64_t)2 * t + 1) * n / (2 * (int64_t)k)); }

int hs_order_rows(int nv)
{
    return nv % 2 ? 2 * nv : nv;
}

/* Row 0 of the square is 0, 1, nv-1, 2, nv-2, ...: its successive differences 1, -2, 3, -4,
 * ... are distinct modulo an even nv, so its cyclic shifts (rows 0..nv-1) put every ordered
 * pair next to each other once. For odd nv two differences coincide, and the shifts of the
 * reversed row supply the missing pairs: 2 nv rows, each pair twice. */
int hs_order_variant(int nv, int64_t row, int pos)
{
    int rows = hs_order_rows(nv);
    int r = (int)(((row % rows) + rows) % rows);
    if (r >= nv) { /* odd nv, second square: row r - nv read backwards */
        r -= nv;
        pos = nv - 1 - pos;
    }
    int base = pos == 0 ? 0 : pos % 2 ? (pos + 1) / 2 : nv - pos / 2;
    return (base + r) % nv;
}

int hs_study_interleaved(const char *study) { return !hs_results_study_is(study, "timing_order", "sequential"); }

/* ---- the study's identity ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} text_buf;

static void tb_printf(text_buf *t, const char *fmt, ...) HS_PRINTF(2, 3);

static void tb_printf(text_buf *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = t->failed ? -1 : vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->buf && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *nb = realloc(t->buf, cap);
        if (!nb) {
            t->failed = 1;
            return;
        }
        t->buf = nb;
        t->cap = cap;
    }
}

static const char *onoff(int b) { return b ? "on" : "off"; }

/* The variant as its line of the study text records it: the line's format and its reading
 * both live in src/results/variant_line.c. */
static hs_variant_line variant_fields(const hs_variant *v, const char *scores_sha256)
{
    const hs_agency_params *a = &v->agency;
    hs_variant_line l = {.gating = v->gating, .agency_on = v->agency_on, .own_pruning = v->own_pruning,
                         .strategy = v->strategy, .per_layer = v->select.per_layer,
                         .keep_one_per_layer = v->select.keep_one_per_layer, .ablation = v->ablation,
                         .ema_alpha = a->ema_alpha, .overload_threshold = a->overload_threshold,
                         .alignment_threshold = a->alignment_threshold, .recovery_steps = a->recovery_steps,
                         .factor = {a->factor[HS_AG_ACTIVE], a->factor[HS_AG_OVERLOADED], a->factor[HS_AG_MISALIGNED],
                                    a->factor[HS_AG_WITHDRAWN]},
                         .percentile = v->agency_percentile, .recovery_calibrated = v->recovery_calibrated};
    if (scores_sha256) snprintf(l.scores, sizeof l.scores, "%s", scores_sha256);
    return l;
}

static void variant_text(text_buf *t, const hs_variant *v, const char *scores_sha256)
{
    hs_variant_line l = variant_fields(v, scores_sha256);
    char line[HS_VARIANT_LINE_MAX];
    if (hs_variant_line_format(v->name, &l, line, sizeof line)) t->failed = 1;
    else tb_printf(t, "%s\n", line);
}

char *hs_study_text(const hs_job *job, const hs_study_inputs *in)
{
    text_buf t = {0};
    const hs_sample_params *s = &job->sample;
    tb_printf(&t, "schema_version = %d\nmodel_sha256 = %s\n", HS_RESULTS_SCHEMA_VERSION, in->model_sha256);
    /* the model's shape and its tokenizer decide every number as much as its weights do */
    tb_printf(&t, "config_sha256 = %s\nvocab_sha256 = %s\nmerges_sha256 = %s\n", in->config_sha256,
              in->vocab_sha256, in->merges_sha256);
    tb_printf(&t, "prompts_sha256 = %s\nprompts_used = %d\nshards = %d\n", in->prompts_sha256, in->n_prompts,
              job->shards);
    tb_printf(&t, "max_new_tokens = %d\ntemperature = %.9g\ntop_k = %d\ntop_p = %.9g\nsample_seed = %llu\n",
              s->max_new, s->temperature, s->top_k, s->top_p, (unsigned long long)s->seed);
    tb_printf(&t, "measure_unpruned_ppl = %s\nstrategy = %s\ncalibration_sha256 = %s\n",
              onoff(job->measure_unpruned_ppl), job->heads_off ? "heads_off" : hs_strategy_name(job->strategy),
              in->calibration_sha256[0] ? in->calibration_sha256 : "none");
    tb_printf(&t, "calibration_max_prompts = %d\ncalibration_max_tokens = %d\npruning_seed = %llu\n",
              job->score.max_prompts, job->score.max_tokens, (unsigned long long)job->score.seed);
    tb_printf(&t, "per_layer = %s\nkeep_one_per_layer = %s\nlevels =", onoff(job->select.per_layer),
              onoff(job->select.keep_one_per_layer));
    /* each_head's single-head levels are one line, not L*H repeated values */
    for (int i = 0, k = 0; i < job->n_levels; i++)
        if (!job->level_head || job->level_head[i] < 0) tb_printf(&t, "%s %.9g", k++ ? "," : "", job->levels[i]);
    tb_printf(&t, "\n");
    if (job->level_head) tb_printf(&t, "each_head = on\n");
    /* Defaults (f32, latency mode, computed scores) write no line, so files from before
     * these keys keep their identity. */
    if (job->weights != HS_WEIGHTS_F32) tb_printf(&t, "weights = %s\n", hs_weights_name(job->weights));
    /* OpenBLAS's prefill rows round otherwise than our tiles': a file is of one route
     * (resume and merge compare this text); the tiles write no line, as before the key */
    if (in->prefill_route && strcmp(in->prefill_route, "tiles"))
        tb_printf(&t, "prefill_route = %s\n", in->prefill_route);
    if (!job->heads_off && job->strategy == HS_STRATEGY_ITERATIVE)
        tb_printf(&t, "iterative_base = %s\niterative_step = %.9g\n", hs_strategy_name(job->score.iterative_base),
                  job->score.iterative_step);
    /* same results, other timings: resuming with it changed would mix two speeds */
    if (job->huge_pages) tb_printf(&t, "huge_pages = on\n");
    /* the panels time latency mode, and in throughput mode its latency_prompts */
    if (!job->panels && (!job->throughput || job->latency_prompts > 0)) tb_printf(&t, "panels = off\n");
    if (job->sequential) tb_printf(&t, "timing_order = sequential\n");
    if (job->timing_repeats != 1) tb_printf(&t, "timing_repeats = %d\n", job->timing_repeats);
    /* max_prompts took a seeded sample (hs_prompts_sample), not the head of the file; files
     * from before samples, and studies of every prompt, have no line */
    if (job->max_prompts > 0 && in->n_prompts == job->max_prompts && !job->prompt_head)
        tb_printf(&t, "prompt_order = sample\nprompt_seed = %llu\n", (unsigned long long)job->prompt_seed);
    if (in->scores_sha256[0]) tb_printf(&t, "scores_sha256 = %s\n", in->scores_sha256);
    if (job->heads_off) tb_printf(&t, "heads_off = %s\n", job->heads_off);
    if (job->throughput)
        tb_printf(&t, "mode = throughput\nbatch = %d\nlatency_prompts = %d\n", job->batch, job->latency_prompts);
    /* which prompts are timed: spread over each cell (hs_latency_prompt), where files from
     * before this line timed each cell's first ones */
    if (job->throughput && job->latency_prompts > 0) tb_printf(&t, "latency_sample = spread\n");
    tb_printf(&t, "variants =");
    for (int i = 0; i < job->n_variants; i++) tb_printf(&t, "%s %s", i ? "," : "", job->variants[i].name);
    tb_printf(&t, "\n");
    for (int i = 0; i < job->n_variants; i++)
        variant_text(&t, &job->variants[i], in->variant_scores_sha256 ? in->variant_scores_sha256[i] : NULL);
    if (t.failed) {
        free(t.buf);
        hs_err(HS_ENOMEM, "study text: out of memory, or a variant line too long");
        return NULL;
    }
    return t.buf;
}

/* Wire format: this header, then the cell's block as it is in memory. Ranks of one job
 * share the byte order and the build, so raw bytes are enough. */
typedef struct {
    int64_t index;
    int32_t n, rank, run;
    uint8_t copies_requested, copies_used, pad[2];
    double seconds;
    char host[HS_HOST_MAX];
    char finished_utc[HS_UTC_MAX];
} wire_header;

hs_status hs_cell_pack(const hs_cell_result *c, const hs_grid *g, void **buf, size_t *n)
{
    size_t block = hs_cell_result_bytes(g, c->n);
    char *out = hs_malloc(sizeof(wire_header) + block, "cell message");
    if (!out) return HS_ENOMEM;
    wire_header h = {c->index, c->n, c->rank, c->run, c->copies_requested, c->copies_used, {0}, c->seconds, {0}, {0}};
    memcpy(h.host, c->host, sizeof h.host);
    memcpy(h.finished_utc, c->finished_utc, sizeof h.finished_utc);
    memcpy(out, &h, sizeof h);
    memcpy(out + sizeof h, c->metrics, block);
    *buf = out;
    *n = sizeof h + block;
    return HS_OK;
}

hs_status hs_cell_unpack(hs_cell_result *c, const hs_grid *g, const void *buf, size_t n)
{
    wire_header h;
    if (n < sizeof h) return hs_err(HS_EINTERNAL, "cell message of %zu bytes is shorter than its header", n);
    memcpy(&h, buf, sizeof h);
    if (h.n < 0 || h.index < 0 || h.index >= hs_grid_cells(g) || n != sizeof h + hs_cell_result_bytes(g, h.n))
        return hs_err(HS_EINTERNAL, "cell message of %zu bytes does not match its header (cell %lld, %d prompts)", n,
                      (long long)h.index, h.n);
    hs_status st = hs_cell_result_init(c, g, h.n);
    if (st) return st;
    memcpy(c->metrics, (const char *)buf + sizeof h, n - sizeof h);
    c->index = h.index;
    c->rank = h.rank;
    c->run = h.run;
    c->copies_requested = h.copies_requested;
    c->copies_used = h.copies_used;
    c->seconds = h.seconds;
    memcpy(c->host, h.host, sizeof c->host);
    memcpy(c->finished_utc, h.finished_utc, sizeof c->finished_utc);
    c->host[sizeof c->host - 1] = c->finished_utc[sizeof c->finished_utc - 1] = '\0';
    return HS_OK;
}
