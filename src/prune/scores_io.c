/* scores_io.c: head scores as a JSON file (jansson), so a job computes them once and
 * every variant, rank and later run reads the same numbers.
 *
 *   {"format": "headsweep-head-scores", "version": 1, "strategy": "entropy",
 *    "seed": 0, "L": 6, "H": 8, "scores": [[...H numbers...], ...L rows...],
 *    "calibration": "jobs/prompts/kjv_calib.jsonl", "calibration_sha256": "<64 hex>",
 *    "model_sha256": "<64 hex>", "n_prompts": 200}
 * and for iterative scores also "base": "gradient" (the re-scoring strategy) and
 * "step": 10 (percent of heads per round). Mean ablation's head means, when computed,
 * follow as "means": {"D": 32, "values": [[[...D...], ...H...], ...L...], "calibration",
 * "calibration_sha256", "n_prompts", "max_tokens"} (their own calibration set: magnitude
 * and random scores have none).
 *
 * Numbers are written with 17 significant digits, so a round trip is exact. Loading
 * checks every field (types, ranges, the L x H shape, finite scores, sha256 spelling,
 * duplicate keys) and names the file in each message; hs_scores_check_model then ties
 * the scores to a model. "seed" is written as a string when it does not fit int64. */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/prune.h"
#include "prune_impl.h"

#define SCORES_FORMAT "headsweep-head-scores"
#define SCORES_VERSION 1
#define MAX_DIM 4096

/* ---- save ---- */

static int set(json_t *obj, const char *key, json_t *v)
{
    return v ? json_object_set_new(obj, key, v) : -1;
}

static json_t *scores_matrix(const hs_head_scores *sc)
{
    json_t *rows = json_array();
    for (int l = 0; rows && l < sc->L; l++) {
        json_t *row = json_array();
        if (!row || json_array_append_new(rows, row)) return json_decref(rows), NULL;
        for (int h = 0; h < sc->H; h++)
            if (json_array_append_new(row, json_real(sc->score[l * sc->H + h])))
                return json_decref(rows), NULL;
    }
    return rows;
}

/* means (L, H, D) as nested arrays; floats widen to double exactly, so they round-trip. */
static json_t *means_values(const hs_head_scores *sc)
{
    const hs_head_mean_set *ms = &sc->means;
    json_t *layers = json_array();
    for (int l = 0; layers && l < sc->L; l++) {
        json_t *heads = json_array();
        if (!heads || json_array_append_new(layers, heads)) return json_decref(layers), NULL;
        for (int h = 0; h < sc->H; h++) {
            json_t *vec = json_array();
            if (!vec || json_array_append_new(heads, vec)) return json_decref(layers), NULL;
            const float *mu = ms->v + ((size_t)l * sc->H + h) * ms->D;
            for (int d = 0; d < ms->D; d++)
                if (json_array_append_new(vec, json_real(mu[d]))) return json_decref(layers), NULL;
        }
    }
    return layers;
}

static json_t *means_to_json(const hs_head_scores *sc)
{
    const hs_head_mean_set *ms = &sc->means;
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = set(o, "D", json_integer(ms->D));
    bad |= set(o, "calibration", json_string(ms->calibration));
    bad |= set(o, "calibration_sha256", json_string(ms->calibration_sha256));
    bad |= set(o, "n_prompts", json_integer(ms->n_prompts));
    bad |= set(o, "max_tokens", json_integer(ms->max_tokens));
    bad |= set(o, "values", means_values(sc));
    if (bad) json_decref(o);
    return bad ? NULL : o;
}

static json_t *scores_to_json(const hs_head_scores *sc)
{
    json_t *root = json_object();
    if (!root) return NULL;
    json_t *seed = sc->seed <= (uint64_t)INT64_MAX ? json_integer((json_int_t)sc->seed) : NULL;
    if (!seed) {
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, sc->seed);
        seed = json_string(buf);
    }
    int bad = set(root, "format", json_string(SCORES_FORMAT));
    bad |= set(root, "version", json_integer(SCORES_VERSION));
    bad |= set(root, "strategy", json_string(hs_strategy_name(sc->strategy)));
    bad |= set(root, "seed", seed);
    bad |= set(root, "L", json_integer(sc->L));
    bad |= set(root, "H", json_integer(sc->H));
    bad |= set(root, "scores", scores_matrix(sc));
    bad |= set(root, "calibration", json_string(sc->calibration));
    bad |= set(root, "calibration_sha256", json_string(sc->calibration_sha256));
    bad |= set(root, "model_sha256", json_string(sc->model_sha256));
    bad |= set(root, "n_prompts", json_integer(sc->n_prompts));
    if (sc->strategy == HS_STRATEGY_ITERATIVE) {
        bad |= set(root, "base", json_string(hs_strategy_name(sc->base)));
        bad |= set(root, "step", json_real(sc->step));
    }
    if (sc->means.v) bad |= set(root, "means", means_to_json(sc));
    if (bad) json_decref(root);
    return bad ? NULL : root;
}

static hs_status write_text(const char *path, const char *text)
{
    FILE *f;
    char *tmp;
    hs_status st = hs_tmp_create(path, &f, &tmp);
    if (st) return st;
    if (fputs(text, f) < 0 || fputc('\n', f) == EOF) st = hs_err(HS_EIO, "%s: write failed: %s", tmp, strerror(errno));
    return hs_tmp_commit(path, f, tmp, st);
}

hs_status hs_scores_save(const hs_head_scores *sc, const char *path)
{
    if (!sc->score || sc->L < 1 || sc->H < 1)
        return hs_err(HS_EINPUT, "%s: no head scores to save", path);
    for (int i = 0; i < sc->L * sc->H; i++)
        if (!isfinite(sc->score[i]))
            return hs_err(HS_EINPUT, "%s: score of head %d.%d is %g, not a finite number", path,
                          i / sc->H, i % sc->H, sc->score[i]);
    json_t *root = scores_to_json(sc);
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(root);
    if (!text) return hs_err(HS_ENOMEM, "%s: out of memory encoding head scores", path);
    hs_status st = write_text(path, text);
    free(text);
    return st;
}

/* ---- load ---- */

static hs_status get_int(const json_t *root, const char *path, const char *key, long lo,
                         long hi, long *out)
{
    const json_t *v = json_object_get(root, key);
    if (!v) return hs_err(HS_EINPUT, "%s: missing \"%s\"", path, key);
    if (!json_is_integer(v)) return hs_err(HS_EINPUT, "%s: \"%s\" is not an integer", path, key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return hs_err(HS_EINPUT, "%s: \"%s\" is %" JSON_INTEGER_FORMAT ", outside [%ld, %ld]", path,
                      key, x, lo, hi);
    *out = (long)x;
    return HS_OK;
}

static hs_status get_str(const json_t *root, const char *path, const char *key, char *buf,
                         size_t cap)
{
    const json_t *v = json_object_get(root, key);
    if (!v) return hs_err(HS_EINPUT, "%s: missing \"%s\"", path, key);
    if (!json_is_string(v)) return hs_err(HS_EINPUT, "%s: \"%s\" is not a string", path, key);
    if (json_string_length(v) >= cap || strlen(json_string_value(v)) != json_string_length(v))
        return hs_err(HS_EINPUT, "%s: \"%s\" is longer than %zu bytes or holds a NUL", path, key,
                      cap - 1);
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return HS_OK;
}

/* A sha256 is 64 lowercase hex digits; "" is accepted where allow_empty. */
static hs_status get_sha(const json_t *root, const char *path, const char *key, char out[65],
                         int allow_empty)
{
    hs_status st = get_str(root, path, key, out, 65);
    if (st) return st;
    size_t n = strlen(out);
    int ok = n == 64 || (allow_empty && n == 0);
    for (size_t i = 0; ok && i < n; i++) ok = (out[i] >= '0' && out[i] <= '9') || (out[i] >= 'a' && out[i] <= 'f');
    if (!ok) return hs_err(HS_EINPUT, "%s: \"%s\" is not a sha256 (64 lowercase hex digits)", path, key);
    return HS_OK;
}

static hs_status get_seed(const json_t *root, const char *path, uint64_t *out)
{
    const json_t *v = json_object_get(root, "seed");
    if (!v) return hs_err(HS_EINPUT, "%s: missing \"seed\"", path);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return HS_OK;
    }
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    char *end = NULL;
    errno = 0;
    unsigned long long x = s && s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
    if (!s || !end || *end || errno)
        return hs_err(HS_EINPUT, "%s: \"seed\" is not a non-negative integer", path);
    *out = x;
    return HS_OK;
}

static hs_status get_matrix(const json_t *root, const char *path, hs_head_scores *sc)
{
    const json_t *rows = json_object_get(root, "scores");
    if (!rows) return hs_err(HS_EINPUT, "%s: missing \"scores\"", path);
    if (!json_is_array(rows) || json_array_size(rows) != (size_t)sc->L)
        return hs_err(HS_EINPUT, "%s: \"scores\" is not an array of L = %d rows", path, sc->L);
    for (int l = 0; l < sc->L; l++) {
        const json_t *row = json_array_get(rows, l);
        if (!json_is_array(row) || json_array_size(row) != (size_t)sc->H)
            return hs_err(HS_EINPUT, "%s: \"scores\" row %d is not an array of H = %d numbers", path, l, sc->H);
        for (int h = 0; h < sc->H; h++) {
            const json_t *v = json_array_get(row, h);
            double x = json_is_number(v) ? json_number_value(v) : NAN;
            if (!isfinite(x))
                return hs_err(HS_EINPUT, "%s: score of head %d.%d is not a finite number", path, l, h);
            sc->score[l * sc->H + h] = x;
        }
    }
    return HS_OK;
}

static hs_status check_format(const json_t *root, const char *path)
{
    char fmt[64];
    long version = 0;
    hs_status st = get_str(root, path, "format", fmt, sizeof fmt);
    if (!st && strcmp(fmt, SCORES_FORMAT))
        st = hs_err(HS_EINPUT, "%s: \"format\" is \"%s\", not \"%s\"", path, fmt, SCORES_FORMAT);
    if (!st) st = get_int(root, path, "version", SCORES_VERSION, SCORES_VERSION, &version);
    return st;
}

/* iterative scores name their re-scoring strategy and step (percent of heads). */
static hs_status get_iterative(const json_t *root, const char *path, hs_head_scores *sc)
{
    char name[32];
    hs_status st = get_str(root, path, "base", name, sizeof name);
    if (!st && (hs_strategy_parse(name, &sc->base) || sc->base == HS_STRATEGY_ITERATIVE))
        st = hs_err(HS_EINPUT, "%s: \"base\" is \"%s\", not a strategy iterative pruning re-scores with", path, name);
    const json_t *v = json_object_get(root, "step");
    double x = json_is_number(v) ? json_number_value(v) : NAN;
    if (!st && !(x > 0 && x <= 100))
        st = hs_err(HS_EINPUT, "%s: \"step\" must be a number of percent in (0, 100]", path);
    sc->step = x;
    return st;
}

static hs_status get_header(const json_t *root, const char *path, hs_head_scores *sc)
{
    char name[32];
    long L = 0, H = 0, n = 0;
    hs_status st = check_format(root, path);
    if (!st) st = get_str(root, path, "strategy", name, sizeof name);
    if (!st && hs_strategy_parse(name, &sc->strategy)) st = hs_err_wrap(HS_EINPUT, "%s", path);
    if (!st) st = get_seed(root, path, &sc->seed);
    if (!st) st = get_int(root, path, "L", 1, MAX_DIM, &L);
    if (!st) st = get_int(root, path, "H", 1, MAX_DIM, &H);
    if (!st) st = get_str(root, path, "calibration", sc->calibration, sizeof sc->calibration);
    if (!st) st = get_sha(root, path, "calibration_sha256", sc->calibration_sha256, 1);
    if (!st) st = get_sha(root, path, "model_sha256", sc->model_sha256, 0);
    if (!st) st = get_int(root, path, "n_prompts", 0, INT32_MAX, &n);
    if (st) return st;
    sc->L = (int)L, sc->H = (int)H, sc->n_prompts = (int)n;
    if (sc->strategy == HS_STRATEGY_ITERATIVE && (st = get_iterative(root, path, sc))) return st;
    if (hs_strategy_needs_calib(sc->strategy) && n < 1)
        return hs_err(HS_EINPUT, "%s: %s scores need \"n_prompts\" >= 1 (the calibration prompts used)",
                      path, name);
    return HS_OK;
}

/* "values": L arrays of H arrays of D finite numbers that fit a float. */
static hs_status get_means_values(const json_t *o, const char *path, hs_head_scores *sc)
{
    hs_head_mean_set *ms = &sc->means;
    const json_t *layers = json_object_get(o, "values");
    if (!json_is_array(layers) || json_array_size(layers) != (size_t)sc->L)
        return hs_err(HS_EINPUT, "%s: \"means\": \"values\" is not an array of L = %d layers", path, sc->L);
    for (int l = 0; l < sc->L; l++) {
        const json_t *heads = json_array_get(layers, l);
        if (!json_is_array(heads) || json_array_size(heads) != (size_t)sc->H)
            return hs_err(HS_EINPUT, "%s: \"means\": layer %d is not an array of H = %d heads", path, l, sc->H);
        for (int h = 0; h < sc->H; h++) {
            const json_t *vec = json_array_get(heads, h);
            if (!json_is_array(vec) || json_array_size(vec) != (size_t)ms->D)
                return hs_err(HS_EINPUT, "%s: \"means\": head %d.%d is not an array of D = %d numbers", path, l, h,
                              ms->D);
            for (int d = 0; d < ms->D; d++) {
                const json_t *v = json_array_get(vec, d);
                double x = json_is_number(v) ? json_number_value(v) : NAN;
                if (!(fabs(x) <= FLT_MAX))
                    return hs_err(HS_EINPUT, "%s: \"means\": head %d.%d value %d is not a finite float", path, l,
                                  h, d);
                ms->v[((size_t)l * sc->H + h) * ms->D + d] = (float)x;
            }
        }
    }
    return HS_OK;
}

/* The optional "means" object (mean ablation's head means and their calibration set). */
static hs_status get_means(const json_t *root, const char *path, hs_head_scores *sc)
{
    const json_t *o = json_object_get(root, "means");
    if (!o) return HS_OK;
    if (!json_is_object(o)) return hs_err(HS_EINPUT, "%s: \"means\" is not an object", path);
    hs_head_mean_set *ms = &sc->means;
    long D = 0, n = 0, t = 0;
    hs_status st = get_int(o, path, "D", 1, MAX_DIM, &D);
    if (!st) st = get_str(o, path, "calibration", ms->calibration, sizeof ms->calibration);
    if (!st) st = get_sha(o, path, "calibration_sha256", ms->calibration_sha256, 0);
    if (!st) st = get_int(o, path, "n_prompts", 1, INT32_MAX, &n);
    if (!st) st = get_int(o, path, "max_tokens", 0, INT32_MAX, &t);
    if (st) return hs_err_wrap(st, "\"means\"");
    ms->D = (int)D, ms->n_prompts = (int)n, ms->max_tokens = (int)t;
    ms->v = hs_malloc((size_t)sc->L * sc->H * ms->D * sizeof *ms->v, "head means");
    return ms->v ? get_means_values(o, path, sc) : HS_ENOMEM;
}

static hs_status scores_from_json(const json_t *root, const char *path, hs_head_scores *sc)
{
    if (!json_is_object(root)) return hs_err(HS_EINPUT, "%s: not a JSON object", path);
    hs_status st = get_header(root, path, sc);
    if (st) return st;
    sc->score = hs_calloc((size_t)sc->L * sc->H, sizeof *sc->score, "head scores");
    if (!sc->score) return HS_ENOMEM;
    st = get_matrix(root, path, sc);
    return st ? st : get_means(root, path, sc);
}

hs_status hs_scores_load(hs_head_scores *sc, const char *path)
{
    memset(sc, 0, sizeof *sc);
    char *text = NULL;
    size_t len = 0;
    hs_status st = hs_read_file(path, &text, &len);
    if (st) return st;
    json_error_t e;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    free(text);
    if (!root) return hs_err(HS_EINPUT, "%s:%d:%d: %s", path, e.line, e.column, e.text);
    st = scores_from_json(root, path, sc);
    json_decref(root);
    if (st) hs_scores_free(sc);
    return st;
}

hs_status hs_scores_check_model(const hs_head_scores *sc, hs_model *m, const char *path)
{
    if (sc->L != m->cfg.n_layer || sc->H != m->cfg.n_head)
        return hs_err(HS_EINPUT, "%s: scores for %d layers x %d heads, but model %s has %d x %d",
                      path, sc->L, sc->H, m->dir ? m->dir : "", m->cfg.n_layer, m->cfg.n_head);
    if (sc->means.v && sc->means.D * m->cfg.n_head != m->cfg.n_embd)
        return hs_err(HS_EINPUT, "%s: head means of %d values per head, but model %s has %d", path, sc->means.D,
                      m->dir ? m->dir : "", m->cfg.n_embd / m->cfg.n_head);
    const char *sha = hs_model_sha256(m);
    if (strcmp(sc->model_sha256, sha))
        return hs_err(HS_EINPUT, "%s: scores were computed for model sha256 %.12s..., but %s has %.12s...",
                      path, sc->model_sha256, m->dir ? m->dir : "the model", sha);
    return HS_OK;
}
