/* model.c: loading a GPT-2 checkpoint directory (config.json + model.safetensors).
 *
 * F32 tensors that are 4-byte aligned are used straight from the read-only mapping, so
 * ranks on one node share the page cache and no process holds a copy. F16 and BF16
 * tensors (and misaligned F32 ones) are widened once into a single owned block. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "headsweep/model.h"
#include "headsweep/safetensors.h"
#include "kernels.h"

void openblas_set_num_threads(int);

/* Where each tensor goes, and the shape config.json implies for it. */
typedef struct {
    char name[64];
    const float **dst;
    int ndim;
    int64_t shape[2];
    int optional;
} tensor_spec;

typedef struct {
    tensor_spec *v;
    size_t n, cap;
} spec_list;

static hs_status spec_add(spec_list *l, const char *name, const float **dst, int64_t d0, int64_t d1, int optional)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        tensor_spec *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) return hs_err(HS_ENOMEM, "out of memory for tensor list");
        l->v = nv;
        l->cap = cap;
    }
    tensor_spec *s = &l->v[l->n++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->dst = dst;
    s->ndim = d1 ? 2 : 1;
    s->shape[0] = d0;
    s->shape[1] = d1;
    s->optional = optional;
    return HS_OK;
}

static hs_status block_specs(spec_list *l, hs_block *b, int i, const hs_config *c)
{
    int64_t C = c->n_embd, F = c->n_inner;
    char n[64];
    hs_status st = HS_OK;
#define ADD(suffix, dst, d0, d1)                                           \
    do {                                                                   \
        snprintf(n, sizeof n, "h.%d.%s", i, suffix);                       \
        if (!st) st = spec_add(l, n, &b->dst, d0, d1, 0);                  \
    } while (0)
    ADD("ln_1.weight", ln1_w, C, 0);
    ADD("ln_1.bias", ln1_b, C, 0);
    ADD("attn.c_attn.weight", attn_w, C, 3 * C);
    ADD("attn.c_attn.bias", attn_b, 3 * C, 0);
    ADD("attn.c_proj.weight", proj_w, C, C);
    ADD("attn.c_proj.bias", proj_b, C, 0);
    ADD("ln_2.weight", ln2_w, C, 0);
    ADD("ln_2.bias", ln2_b, C, 0);
    ADD("mlp.c_fc.weight", fc_w, C, F);
    ADD("mlp.c_fc.bias", fc_b, F, 0);
    ADD("mlp.c_proj.weight", fc_proj_w, F, C);
    ADD("mlp.c_proj.bias", fc_proj_b, C, 0);
#undef ADD
    return st;
}

static hs_status build_specs(spec_list *l, hs_model *m)
{
    const hs_config *c = &m->cfg;
    hs_status st = HS_OK;
    if (!st) st = spec_add(l, "wte.weight", &m->wte, c->vocab_size, c->n_embd, 0);
    if (!st) st = spec_add(l, "wpe.weight", &m->wpe, c->n_positions, c->n_embd, 0);
    if (!st) st = spec_add(l, "ln_f.weight", &m->lnf_w, c->n_embd, 0, 0);
    if (!st) st = spec_add(l, "ln_f.bias", &m->lnf_b, c->n_embd, 0, 0);
    if (!st) st = spec_add(l, "lm_head.weight", &m->lm_head, c->vocab_size, c->n_embd, 1);
    for (int i = 0; i < c->n_layer && !st; i++) st = block_specs(l, &m->blocks[i], i, c);
    return st;
}

/* Looks a tensor up under its plain name, then with the "transformer." prefix that
 * GPT2LMHeadModel checkpoints other than the hub's gpt2 use. */
static const hs_st_tensor *find_tensor(const hs_st_index *idx, const char *name)
{
    const hs_st_tensor *t = hs_st_find(idx, name);
    if (t) return t;
    char pref[96];
    snprintf(pref, sizeof pref, "transformer.%s", name);
    return hs_st_find(idx, pref);
}

static hs_status check_shape(const hs_st_tensor *t, const tensor_spec *s, const char *path)
{
    int ok = t->ndim == s->ndim && t->shape[0] == s->shape[0] && (s->ndim == 1 || t->shape[1] == s->shape[1]);
    if (ok && (t->dtype == HS_DT_F32 || t->dtype == HS_DT_F16 || t->dtype == HS_DT_BF16)) return HS_OK;
    if (ok)
        return hs_err(HS_EINPUT, "%s: tensor %s: dtype %s is not supported (F32, F16, BF16)", path, t->name,
                      t->dtype_name);
    char got[96] = "", want[64];
    for (int d = 0; d < t->ndim && d < 4; d++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (s->ndim == 1) snprintf(want, sizeof want, "%lld", (long long)s->shape[0]);
    else snprintf(want, sizeof want, "%lld, %lld", (long long)s->shape[0], (long long)s->shape[1]);
    return hs_err(HS_EINPUT, "%s: tensor %s has shape [%s], config.json implies [%s]", path, t->name, got, want);
}

/* Every block of weights goes through here, so huge-page mode applies to all of them. */
static void *weights_alloc(const hs_model *m, size_t bytes, const char *what)
{
    return m->huge ? hs_malloc_huge(bytes, what) : hs_malloc_aligned(bytes, 64, what);
}

static int needs_copy(const hs_st_tensor *t)
{
    return t->dtype != HS_DT_F32 || ((uintptr_t)t->data & 3u) != 0;
}

static void widen(float *dst, const hs_st_tensor *t)
{
    const uint8_t *p = t->data;
    for (int64_t i = 0; i < t->n_elems; i++) {
        uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
        if (t->dtype == HS_DT_F16) dst[i] = hs_f16_to_f32(h);
        else if (t->dtype == HS_DT_BF16) dst[i] = hs_bf16_to_f32(h);
    }
    if (t->dtype == HS_DT_F32) memcpy(dst, p, t->nbytes);
}

/* Index of the first value of x[0..n) that is NaN or infinite, or -1. A chunk is first
 * tested with a branch-free count the compiler vectorises (the check reads every weight at
 * each load, so it must cost about a memory pass), and searched only when it has one. */
static int64_t first_nonfinite(const float *x, int64_t n)
{
    enum { CHUNK = 4096 };
    for (int64_t i = 0; i < n; i += CHUNK) {
        int64_t e = n - i < CHUNK ? n : i + CHUNK;
        int bad = 0;
        for (int64_t j = i; j < e; j++) bad |= !(fabsf(x[j]) <= FLT_MAX); /* NaN compares false */
        for (int64_t j = i; bad && j < e; j++)
            if (!(fabsf(x[j]) <= FLT_MAX)) return j;
    }
    return -1;
}

/* A NaN or infinite weight turns every logit into NaN (LayerNorm and softmax spread it), and
 * a run would finish with garbage numbers: refused here, on the F32 values the forward pass
 * and every derived copy read (after widening, so one test serves F32, F16 and BF16). */
static hs_status check_finite(const spec_list *l, const hs_st_tensor **found, const char *path)
{
    for (size_t i = 0; i < l->n; i++) {
        const hs_st_tensor *t = found[i];
        int64_t k = t ? first_nonfinite(*l->v[i].dst, t->n_elems) : -1;
        if (k < 0) continue;
        char at[64] = "";
        if (t->ndim == 2)
            snprintf(at, sizeof at, " (row %lld, column %lld)", (long long)(k / t->shape[1]),
                     (long long)(k % t->shape[1]));
        return hs_err(HS_EINPUT, "%s: tensor %s: value %g at index %lld%s is not finite (a NaN or infinite weight "
                      "makes the logits NaN)", path, t->name, (double)(*l->v[i].dst)[k], (long long)k, at);
    }
    return HS_OK;
}

/* Layer number of a block tensor's name ("h.N." after an optional "transformer."), or -1. */
static long layer_of(const char *name, const char **rest)
{
    if (!strncmp(name, "transformer.", 12)) name += 12;
    if (strncmp(name, "h.", 2) || name[2] < '0' || name[2] > '9') return -1;
    char *end;
    long n = strtol(name + 2, &end, 10);
    if (*end != '.' || n > INT32_MAX) return -1;
    *rest = end + 1;
    return n;
}

/* Tensors that Hugging Face's GPT-2 checkpoints carry and that are no weights: each
 * layer's causal mask (attn.bias, (1, 1, T, T)) and its masking constant (attn.masked_bias,
 * shape []). The engine builds both into its attention kernel. */
static int is_buffer(const char *name, int n_layer)
{
    const char *rest = NULL;
    long n = layer_of(name, &rest);
    return n >= 0 && n < n_layer && (!strcmp(rest, "attn.bias") || !strcmp(rest, "attn.masked_bias"));
}

/* A tensor the model never reads means config.json and the checkpoint disagree (n_layer 5
 * over six layers' weights silently runs five) or the checkpoint is not a GPT-2 LM (another
 * head, a duplicate under both names): refused rather than ignored. */
static hs_status check_unused(const hs_st_index *idx, const hs_st_tensor **found, size_t n_found,
                              const hs_config *c, const char *path)
{
    char *used = hs_calloc(idx->n ? idx->n : 1, 1, "tensor use marks");
    if (!used) return HS_ENOMEM;
    for (size_t i = 0; i < n_found; i++)
        if (found[i]) used[found[i] - idx->tensors] = 1;
    hs_status st = HS_OK;
    for (size_t i = 0; i < idx->n && !st; i++) {
        const char *name = idx->tensors[i].name, *rest = NULL;
        long layer = layer_of(name, &rest);
        if (used[i] || is_buffer(name, c->n_layer)) continue;
        if (layer >= c->n_layer)
            st = hs_err(HS_EINPUT, "%s: tensor %s belongs to layer %ld, but config.json has n_layer %d (layers 0..%d)",
                        path, name, layer, c->n_layer, c->n_layer - 1);
        else
            st = hs_err(HS_EINPUT, "%s: tensor %s is not used by the GPT-2 that config.json describes (a "
                        "checkpoint of another model, or one tensor under two names?)", path, name);
    }
    free(used);
    return st;
}

/* Resolves every spec; F32 aligned tensors point into the mapping, others are widened
 * into one block sized in a first pass. */
static hs_status bind_tensors(hs_model *m, const hs_st_index *idx, spec_list *l, const char *path)
{
    const hs_st_tensor **found = hs_calloc(l->n, sizeof *found, "tensor bindings");
    if (!found) return HS_ENOMEM;
    hs_status st = HS_OK;
    size_t owned_elems = 0;
    for (size_t i = 0; i < l->n && !st; i++) {
        found[i] = find_tensor(idx, l->v[i].name);
        if (!found[i] && !l->v[i].optional) st = hs_err(HS_EINPUT, "%s: missing tensor %s", path, l->v[i].name);
        else if (found[i] && !(st = check_shape(found[i], &l->v[i], path)) && needs_copy(found[i]))
            owned_elems += (size_t)found[i]->n_elems;
    }
    m->owned_bytes = owned_elems * sizeof(float);
    if (!st && owned_elems && !(m->owned = weights_alloc(m, m->owned_bytes, "widened weights"))) st = HS_ENOMEM;
    float *next = m->owned;
    for (size_t i = 0; i < l->n && !st; i++) {
        const hs_st_tensor *t = found[i];
        if (!t) continue;
        if (needs_copy(t)) {
            widen(next, t);
            *l->v[i].dst = next;
            next += t->n_elems;
        } else {
            *l->v[i].dst = (const float *)(const void *)t->data;
        }
        m->n_params += (size_t)t->n_elems;
        if (l->v[i].dst == &m->wte) snprintf(m->dtype, sizeof m->dtype, "%s", t->dtype_name);
    }
    if (!st) st = check_unused(idx, found, l->n, &m->cfg, path);
    if (!st) st = check_finite(l, found, path);
    free(found);
    return st;
}

/* tie_word_embeddings against the checkpoint, as Hugging Face reads them: untied needs an
 * lm_head.weight (Hugging Face would start one at random); tied makes wte the head and
 * ignores a stored lm_head.weight, so one that differs from wte is a contradiction. */
static hs_status check_head(hs_model *m, const char *path)
{
    const hs_config *c = &m->cfg;
    if (!m->lm_head && !c->tied)
        return hs_err(HS_EINPUT, "%s: no tensor lm_head.weight, but config.json has tie_word_embeddings false "
                      "(an LM head of its own)", path);
    if (m->lm_head && c->tied &&
        memcmp(m->lm_head, m->wte, (size_t)c->vocab_size * (size_t)c->n_embd * sizeof(float)))
        return hs_err(HS_EINPUT, "%s: tensor lm_head.weight differs from wte.weight, but config.json ties the LM "
                      "head to wte (tie_word_embeddings true, the default), so Hugging Face would use wte.weight; "
                      "set tie_word_embeddings false to use lm_head.weight", path);
    if (!m->lm_head) m->lm_head = m->wte; /* tied, as in the hub's gpt2 */
    return HS_OK;
}

/* Huge-page mode: the whole file, header included, copied to private memory on huge pages
 * (so offsets and alignment stay as mapped); the tensors are then bound in the copy. */
static hs_status copy_to_huge(hs_model *m)
{
    if (!(m->owned_huge = weights_alloc(m, m->st.size, "huge-page copy of model.safetensors"))) return HS_ENOMEM;
    memcpy(m->owned_huge, m->st.data, m->st.size);
#ifdef MADV_DONTNEED
    /* this process no longer reads the mapping's pages (hs_model_sha256 pages them in
     * again if asked), so they leave its resident set: RSS then counts the copy once */
    (void)madvise((void *)m->st.data, m->st.size, MADV_DONTNEED);
#endif
    return HS_OK;
}

static hs_status load_weights(hs_model *m, const char *path)
{
    hs_status st = hs_map_file(&m->st, path);
    if (st) return st == HS_EINPUT ? hs_err_wrap(st, "model directory %s", m->dir) : st;
    if (m->huge && (st = copy_to_huge(m))) return st;
    hs_st_index idx;
    if ((st = hs_st_parse(&idx, m->huge ? m->owned_huge : m->st.data, m->st.size, path))) return st;
    spec_list l = {0};
    st = build_specs(&l, m);
    if (!st) st = bind_tensors(m, &idx, &l, path);
    if (!st) st = check_head(m, path);
    free(l.v);
    hs_st_free(&idx);
    return st;
}

static hs_status make_bf16(hs_model *m);
static hs_status make_int8(hs_model *m);
static hs_status make_w8a8(hs_model *m);
static hs_status make_pack(hs_model *m);
static hs_status make_heads(hs_model *m);
static hs_status make_panels(hs_model *m);

static const char *copy_name(unsigned bit)
{
    return bit == HS_COPY_PACK ? "the packed copy" : bit == HS_COPY_HEAD_MAJOR ? "head-major c_attn" : "batch-1 panels";
}

/* HS_TEST_COPY_ENOMEM (tests only): a mask of HS_COPY_* bits whose copy fails as if out of
 * memory, so that a sweep's tests take the path a full node takes (test_copy_gives_way
 * caps a process's address space instead, which a sweep's threads and MPI make too
 * unpredictable to aim). */
static int test_no_memory(unsigned bit)
{
    const char *v = getenv("HS_TEST_COPY_ENOMEM");
    return v && (strtoul(v, NULL, 0) & bit);
}

/* The packed, head-major and panel copies only make products faster (every product gives
 * the same bits without them), so when memory for one is short the model loads without it
 * and says so, rather than failing a sweep over an optimisation. Each make_* fails only at
 * its one allocation, before it points any block at the copy. */
static hs_status speed_copy(hs_model *m, hs_status (*make)(hs_model *), unsigned bit)
{
    m->copies_asked |= bit;
    hs_status st = test_no_memory(bit) ? hs_err(HS_ENOMEM, "out of memory (HS_TEST_COPY_ENOMEM) for %s",
                                                copy_name(bit))
                                       : make(m);
    if (st != HS_ENOMEM) return st;
    /* the message names the copy ("... for batch-1 panels") */
    fprintf(stderr, "headsweep: warning: %s; going on without that copy (same results, slower)\n", hs_err_msg());
    hs_err_clear();
    return HS_OK;
}

hs_status hs_model_load(hs_model *m, const char *dir, const hs_model_opts *opts)
{
    static const hs_model_opts plain = {0};
    if (!opts) opts = &plain;
    memset(m, 0, sizeof *m);
    m->huge = opts->huge_pages != 0; /* first: every block below is then made on huge pages */
    char *cfg_path = hs_path_join(dir, "config.json");
    char *st_path = hs_path_join(dir, "model.safetensors");
    hs_status st = (!cfg_path || !st_path) ? HS_ENOMEM : HS_OK;
    if (!st) st = hs_config_load(&m->cfg, cfg_path);
    if (!st && !(m->dir = hs_strdup(dir))) st = HS_ENOMEM;
    if (!st && !(m->blocks = hs_calloc((size_t)m->cfg.n_layer, sizeof *m->blocks, "blocks"))) st = HS_ENOMEM;
    if (!st) st = load_weights(m, st_path);
    /* the derived copies, each made once from the values the forward pass reads */
    if (!st && opts->weights == HS_WEIGHTS_BF16) st = make_bf16(m);
    if (!st && opts->weights == HS_WEIGHTS_INT8) st = make_int8(m);
    if (!st && opts->weights == HS_WEIGHTS_W8A8) st = make_w8a8(m);
    /* W8A8 batches read the same panels as batch 1: nothing to pack */
    if (!st && opts->pack && opts->weights != HS_WEIGHTS_W8A8) st = speed_copy(m, make_pack, HS_COPY_PACK);
    if (!st && opts->head_major && opts->weights != HS_WEIGHTS_W8A8)
        st = speed_copy(m, make_heads, HS_COPY_HEAD_MAJOR);
    if (!st && opts->panels && opts->weights != HS_WEIGHTS_W8A8) st = speed_copy(m, make_panels, HS_COPY_PANELS);
    /* what the forward pass reads is what was made (a make_* may make nothing: no AVX-512, shapes) */
    if (!st)
        m->copies_made = (m->owned_pack ? HS_COPY_PACK : 0u) | (m->owned_heads ? HS_COPY_HEAD_MAJOR : 0u) |
                         (m->owned_panels ? HS_COPY_PANELS : 0u);
    if (!st) m->weights = opts->weights;
    free(cfg_path);
    free(st_path);
    if (st) hs_model_free(m);
    return st;
}

hs_status hs_model_load_identity(hs_model *m, const char *dir)
{
    memset(m, 0, sizeof *m);
    char *cfg_path = hs_path_join(dir, "config.json");
    char *st_path = hs_path_join(dir, "model.safetensors");
    hs_status st = (!cfg_path || !st_path) ? HS_ENOMEM : HS_OK;
    if (!st) st = hs_config_load(&m->cfg, cfg_path);
    if (!st && !(m->dir = hs_strdup(dir))) st = HS_ENOMEM;
    if (!st) st = hs_sha256_file(st_path, m->sha256);
    free(cfg_path);
    free(st_path);
    if (st) hs_model_free(m);
    return st;
}

const char *hs_model_sha256(hs_model *m)
{
    if (!m->sha256[0]) hs_sha256_hex(m->st.data, m->st.size, m->sha256);
    return m->sha256;
}

void hs_model_free(hs_model *m)
{
    if (!m) return;
    hs_unmap_file(&m->st);
    free(m->owned);
    free(m->owned16);
    free(m->owned8);
    free(m->owned_pack);
    free(m->owned_heads);
    free(m->owned_panels);
    free(m->owned_huge);
    free(m->blocks);
    free(m->dir);
    memset(m, 0, sizeof *m);
}

const char *hs_model_prefill_route(hs_weights w)
{
    return w == HS_WEIGHTS_F32 && hs_k_gemm_blas() ? "openblas" : "tiles";
}

int hs_model_set_threads(int n)
{
    hs_k_set_threads(n);
    openblas_set_num_threads(1); /* hs_k_gemm splits OpenBLAS's products itself (matmul.c) */
    return hs_k_threads();
}

/* Rounds n F32 values to bf16 into dst; returns dst + n. */
static uint16_t *to_bf16(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = hs_f32_to_bf16(src[i]);
    return dst + n;
}

/* bf16 weight mode (hs_model_opts): the four matrices of every block and the LM head
 * rounded to bfloat16 into one block. */
static hs_status make_bf16(hs_model *m)
{
    const hs_config *c = &m->cfg;
    size_t C = (size_t)c->n_embd, F = (size_t)c->n_inner, V = (size_t)c->vocab_size;
    size_t per_layer = C * 3 * C + C * C + C * F + F * C;
    uint16_t *p = weights_alloc(m, (per_layer * (size_t)c->n_layer + V * C) * sizeof(uint16_t), "bf16 weights");
    if (!p) return HS_ENOMEM;
    m->owned16 = p;
    for (int l = 0; l < c->n_layer; l++) {
        hs_block *b = &m->blocks[l];
        b->attn_w16 = p, p = to_bf16(p, b->attn_w, C * 3 * C);
        b->proj_w16 = p, p = to_bf16(p, b->proj_w, C * C);
        b->fc_w16 = p, p = to_bf16(p, b->fc_w, C * F);
        b->fc_proj_w16 = p, p = to_bf16(p, b->fc_proj_w, F * C);
    }
    m->lm_head16 = p;
    to_bf16(p, m->lm_head, V * C);
    return HS_OK;
}

/* Rounds the rows (R, N) of src to int8 at *q with one scale per row at *s (absmax / 127,
 * so the largest weight of a row is +-127 exactly), and advances both. */
static void to_int8(int8_t **q, float **s, const float *src, size_t R, size_t N)
{
    for (size_t r = 0; r < R; r++) {
        const float *w = src + r * N;
        float amax = 0.0f;
        for (size_t j = 0; j < N; j++) amax = fabsf(w[j]) > amax ? fabsf(w[j]) : amax;
        float scale = amax / 127.0f;
        for (size_t j = 0; j < N; j++) {
            float v = scale > 0.0f ? nearbyintf(w[j] / scale) : 0.0f;
            (*q)[r * N + j] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : v);
        }
        (*s)[r] = scale;
    }
    *q += R * N;
    *s += R;
}

/* int8 weight mode (hs_model_opts): the same matrices as make_bf16, as int8 with row
 * scales; the scales first in the block (f32 alignment), then the values. */
static hs_status make_int8(hs_model *m)
{
    const hs_config *c = &m->cfg;
    size_t C = (size_t)c->n_embd, F = (size_t)c->n_inner, V = (size_t)c->vocab_size, L = (size_t)c->n_layer;
    size_t rows = L * (C + C + C + F) + V, vals = L * (C * 3 * C + C * C + C * F + F * C) + V * C;
    void *blk = weights_alloc(m, rows * sizeof(float) + vals, "int8 weights");
    if (!blk) return HS_ENOMEM;
    m->owned8 = blk;
    float *s = blk;
    int8_t *q = (int8_t *)(s + rows);
    for (int l = 0; l < c->n_layer; l++) {
        hs_block *b = &m->blocks[l];
        b->attn_w8 = q, b->attn_w_s8 = s, to_int8(&q, &s, b->attn_w, C, 3 * C);
        b->proj_w8 = q, b->proj_w_s8 = s, to_int8(&q, &s, b->proj_w, C, C);
        b->fc_w8 = q, b->fc_w_s8 = s, to_int8(&q, &s, b->fc_w, C, F);
        b->fc_proj_w8 = q, b->fc_proj_w_s8 = s, to_int8(&q, &s, b->fc_proj_w, F, C);
    }
    m->lm_head8 = q, m->lm_head_s8 = s;
    to_int8(&q, &s, m->lm_head, V, C);
    return HS_OK;
}

/* One matrix (K, N; trans: stored (N, K)) in W8A8 panels at *q with its column scales
 * at *s; advances both. */
static hs_wq8 w8a8_one(uint8_t **q, float **s, const float *W, int trans, int K, int N)
{
    hs_wq8 v = {*q, *s, K, N, (K + 3) / 4 * 4};
    hs_k_w8a8_make(*q, *s, W, trans ? K : N, trans, K, N);
    *q += hs_k_w8a8_bytes(K, N);
    *s += N;
    return v;
}

/* W8A8 weight mode (hs_model_opts): the matrices of make_int8 in vpdpbusd panels, the LM
 * head transposed (its rows are the outputs); the scales first in the block, padded to
 * 64 bytes so that every panel row starts a cache line (the kernels load 64 bytes at a
 * time: off by 4 bytes, as the gpt2 shape's 133,201 scales left them, every load split
 * over two lines). */
static hs_status make_w8a8(hs_model *m)
{
    const hs_config *c = &m->cfg;
    int C = c->n_embd, F = c->n_inner, V = c->vocab_size;
    size_t cols = ((size_t)c->n_layer * (3 * C + C + F + C) + V + 15) / 16 * 16;
    size_t bytes = hs_k_w8a8_bytes(C, V) + (size_t)c->n_layer * (hs_k_w8a8_bytes(C, 3 * C) + hs_k_w8a8_bytes(C, C) +
                                                                  hs_k_w8a8_bytes(C, F) + hs_k_w8a8_bytes(F, C));
    void *blk = weights_alloc(m, cols * sizeof(float) + bytes, "w8a8 weights");
    if (!blk) return HS_ENOMEM;
    m->owned8 = blk;
    float *s = blk;
    uint8_t *q = (uint8_t *)(s + cols);
    for (int l = 0; l < c->n_layer; l++) {
        hs_block *b = &m->blocks[l];
        b->attn_wv = w8a8_one(&q, &s, b->attn_w, 0, C, 3 * C);
        b->proj_wv = w8a8_one(&q, &s, b->proj_w, 0, C, C);
        b->fc_wv = w8a8_one(&q, &s, b->fc_w, 0, C, F);
        b->fc_proj_wv = w8a8_one(&q, &s, b->fc_proj_w, 0, F, C);
    }
    m->lm_headv = w8a8_one(&q, &s, m->lm_head, 1, C, V);
    return HS_OK;
}

/* Packs one matrix (K, N) at *p and advances it: the values the model's batch 1 reads
 * (bf16, or int8 unscaled: the kernels scale the activations). */
static hs_wpack pack_one(float **p, const float *f, const uint16_t *h, const int8_t *q, int K, int N)
{
    hs_wpack w = {*p, K, N};
    hs_k_pack(*p, (hs_w){h || q ? NULL : f, h, NULL, 0, q, NULL, NULL, 0, NULL}, N, K, N);
    *p += hs_k_pack_floats(K, N);
    return w;
}

/* A packed copy of at least this size goes on huge pages (make_pack); smaller ones would
 * waste up to half of their 2 MB rounding. */
enum { PACK_HUGE_MIN = 16 << 20 };

/* Throughput mode (hs_model_opts): the four matrices of every block packed, from the
 * bf16 values in bf16 weight mode (what batch 1 reads too), and the LM head for the
 * batches' tiles (from its bf16 or unscaled int8 values likewise). */
static hs_status make_pack(hs_model *m)
{
    const hs_config *c = &m->cfg;
    int C = c->n_embd, F = c->n_inner, V = c->vocab_size;
    size_t per_layer = hs_k_pack_floats(C, 3 * C) + hs_k_pack_floats(C, C) + hs_k_pack_floats(C, F) +
                       hs_k_pack_floats(F, C);
    size_t head = hs_k_pack_head_floats(V, C);
    if (per_layer == 0) return HS_OK;
    size_t bytes = (per_layer * (size_t)c->n_layer + head) * sizeof(float);
    /* on huge pages whatever opts.huge_pages says when it is large: the copy is private
     * memory either way, and a decode batch's passes, 32 KB of each of four weight
     * streams at a time, ran 1.07x faster on 2 MB pages than on 4 KB ones (gpt2 shape,
     * batch 32, AMD EPYC Zen 5; docs/performance.md), where batch 1 on huge pages did
     * not gain */
    const char *what = "packed weights";
    float *p = bytes >= PACK_HUGE_MIN ? hs_malloc_huge(bytes, what) : weights_alloc(m, bytes, what);
    if (!p) return HS_ENOMEM;
    m->owned_pack = p;
    if (head) {
        hs_w W = {m->lm_head16 || m->lm_head8 ? NULL : m->lm_head, m->lm_head16, NULL, 0, m->lm_head8, NULL, NULL, 0,
                  NULL};
        hs_k_pack_head(p, W, C, V, C);
        m->lm_head_wp = (hs_wpack){p, C, V};
        p += head;
    }
    for (int l = 0; l < c->n_layer; l++) {
        hs_block *b = &m->blocks[l];
        b->attn_wp = pack_one(&p, b->attn_w, b->attn_w16, b->attn_w8, C, 3 * C);
        b->proj_wp = pack_one(&p, b->proj_w, b->proj_w16, b->proj_w8, C, C);
        b->fc_wp = pack_one(&p, b->fc_w, b->fc_w16, b->fc_w8, C, F);
        b->fc_proj_wp = pack_one(&p, b->fc_proj_w, b->fc_proj_w16, b->fc_proj_w8, F, C);
    }
    return HS_OK;
}

/* Copies src (C, 3C, elements of `size` bytes) into dst as (3, H, C, D): head h's D
 * columns of part p for every row, one block after another. */
static void to_heads(void *dst, const void *src, size_t size, int C, int H)
{
    size_t D = (size_t)C / H, row = 3 * (size_t)C * size, run = D * size;
    char *d = dst;
    for (int p = 0; p < 3; p++)
        for (int h = 0; h < H; h++)
            for (int k = 0; k < C; k++, d += run)
                memcpy(d, (const char *)src + k * row + ((size_t)p * C + h * D) * size, run);
}

/* Skip mode's head-major c_attn (hs_model_opts.head_major), from the values batch 1
 * reads in the model's weight mode. */
static hs_status make_heads(hs_model *m)
{
    const hs_config *c = &m->cfg;
    int C = c->n_embd, H = c->n_head;
    /* bf16 rows paired for the panels' kernel, the only one that then reads the copy */
    int paired = C / H == 64 && hs_k_avx512();
    const hs_block *b0 = &m->blocks[0];
    size_t size = b0->attn_w8 ? 1 : b0->attn_w16 ? 2 : 4, per_layer = 3 * (size_t)C * C * size;
    char *p = weights_alloc(m, per_layer * (size_t)c->n_layer, "head-major attention weights");
    if (!p) return HS_ENOMEM;
    m->owned_heads = p;
    for (int l = 0; l < c->n_layer; l++, p += per_layer) {
        hs_block *b = &m->blocks[l];
        if (b->attn_w8) to_heads(p, b->attn_w8, 1, C, H), b->attn_wh8 = (const int8_t *)p;
        else if (b->attn_w16 && paired) {
            to_heads(p, b->attn_w16, 2, C, H);
            hs_k_panels_pair_bf16((uint16_t *)(void *)p, 3 * (size_t)C * H);
            b->attn_wh16p = (const uint16_t *)(void *)p;
        } else if (b->attn_w16) to_heads(p, b->attn_w16, 2, C, H), b->attn_wh16 = (const uint16_t *)p;
        else to_heads(p, b->attn_w, 4, C, H), b->attn_wh = (const float *)p;
    }
    return HS_OK;
}

/* One matrix (K, N) in batch-1 panels at *p (F32 values f, or bf16 ones h when set);
 * advances *p by its bytes. */
static hs_wpanel panel_one(char **p, const float *f, const uint16_t *h, const int8_t *q, int K, int N)
{
    hs_wpanel w = {.K = K, .N = N};
    if (h) hs_k_panels_make_bf16((uint16_t *)(void *)*p, h, K, N), w.h = (const uint16_t *)(void *)*p;
    else if (q) hs_k_panels_make_i8((int8_t *)*p, q, K, N), w.q = (const int8_t *)*p;
    else hs_k_panels_make_f32((float *)(void *)*p, f, K, N), w.f = (const float *)(void *)*p;
    *p += (size_t)K * N * (h ? sizeof(uint16_t) : q ? 1 : sizeof(float));
    return w;
}

/* Latency mode (hs_model_opts): the four matrices of every block and the LM head in
 * batch-1 panels, from the values batch 1 reads (bf16 or int8 in those modes), the head's
 * last. Nothing without AVX-512 (the kernels' instruction set); the layers' only when
 * every width is a multiple of 64, the head's only when n_embd is one of 8. */
static hs_status make_panels(hs_model *m)
{
    const hs_config *c = &m->cfg;
    int C = c->n_embd, F = c->n_inner, V = c->vocab_size;
    int layers = hs_k_panels_fit(C, 3 * C) && hs_k_panels_fit(C, F), head = hs_k_panels_head_fit(V, C);
    if (!hs_k_avx512() || (!layers && !head)) return HS_OK;
    size_t es = m->owned16 ? sizeof(uint16_t) : m->lm_head8 ? 1 : sizeof(float);
    size_t per_layer = layers ? ((size_t)C * 3 * C + (size_t)C * C + 2 * (size_t)C * F) * es : 0;
    size_t head_bytes = head ? (size_t)hs_k_panels_head_rows(V) * C * es : 0;
    char *p = weights_alloc(m, per_layer * (size_t)c->n_layer + head_bytes, "batch-1 panels");
    if (!p) return HS_ENOMEM;
    m->owned_panels = p;
    for (int l = 0; l < c->n_layer && layers; l++) {
        hs_block *b = &m->blocks[l];
        b->attn_wg = panel_one(&p, b->attn_w, b->attn_w16, b->attn_w8, C, 3 * C);
        b->proj_wg = panel_one(&p, b->proj_w, b->proj_w16, b->proj_w8, C, C);
        b->fc_wg = panel_one(&p, b->fc_w, b->fc_w16, b->fc_w8, C, F);
        b->fc_proj_wg = panel_one(&p, b->fc_proj_w, b->fc_proj_w16, b->fc_proj_w8, F, C);
    }
    if (!head) return HS_OK;
    int rows = hs_k_panels_head_rows(V);
    m->lm_headg = (hs_wpanel){.K = C, .N = rows};
    if (m->lm_head16) {
        hs_k_panels_make_head_bf16((uint16_t *)(void *)p, m->lm_head16, V, C);
        m->lm_headg.h = (const uint16_t *)(void *)p;
    } else if (m->lm_head8) {
        hs_k_panels_make_head_i8((int8_t *)p, m->lm_head8, V, C);
        m->lm_headg.q = (const int8_t *)p;
    } else {
        hs_k_panels_make_head_f32((float *)(void *)p, m->lm_head, V, C);
        m->lm_headg.f = (const float *)(void *)p;
    }
    return HS_OK;
}
