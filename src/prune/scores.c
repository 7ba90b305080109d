/* scores.c: head scores (prune.h): strategy names, hs_scores_compute_ids (one strategy's
 * scores of a model: iterative.c for iterative pruning, scorers.c for every other strategy,
 * which iterative.c re-runs under its mask, so calls go one way) and the driver that turns a
 * calibration prompt set into token sequences for the forward-pass strategies.
 *
 * Everything here is deterministic for a given model, calibration set and seed: no
 * threads of our own, a fixed order of accumulation, and a platform-independent RNG. */
#include <stdlib.h>
#include <string.h>

#include "headsweep/prune.h"
#include "prune_impl.h"

static const char *const strategy_names[] = {"entropy", "magnitude", "random", "ablation",
                                                 "gradient", "taylor", "iterative"};
#define N_STRATEGIES ((int)(sizeof strategy_names / sizeof strategy_names[0]))

hs_status hs_strategy_parse(const char *s, hs_strategy *out)
{
    for (int i = 0; i < N_STRATEGIES; i++)
        if (s && !strcmp(s, strategy_names[i])) {
            *out = (hs_strategy)i;
            return HS_OK;
        }
    return hs_err(HS_EINPUT,
                  "strategy '%s': expected entropy, magnitude, random, ablation, gradient, taylor or iterative",
                  s ? s : "(null)");
}

const char *hs_strategy_name(hs_strategy s)
{
    return (unsigned)s < (unsigned)N_STRATEGIES ? strategy_names[s] : "unknown";
}

int hs_strategy_needs_calib(hs_strategy s)
{
    return s != HS_STRATEGY_MAGNITUDE && s != HS_STRATEGY_RANDOM;
}

hs_status hs_ablation_parse(const char *s, hs_ablation *out)
{
    if (s && !strcmp(s, "zero")) *out = HS_ABLATION_ZERO;
    else if (s && !strcmp(s, "mean")) *out = HS_ABLATION_MEAN;
    else return hs_err(HS_EINPUT, "ablation '%s': expected zero or mean", s ? s : "(null)");
    return HS_OK;
}

const char *hs_ablation_name(hs_ablation a) { return a == HS_ABLATION_MEAN ? "mean" : "zero"; }

static hs_status fill_header(hs_head_scores *out, hs_model *m, hs_strategy s, uint64_t seed)
{
    memset(out, 0, sizeof *out);
    out->L = m->cfg.n_layer;
    out->H = m->cfg.n_head;
    out->strategy = s;
    out->seed = seed;
    out->score = hs_calloc((size_t)out->L * out->H, sizeof *out->score, "head scores");
    if (!out->score) return HS_ENOMEM;
    const char *sha = hs_model_sha256(m);
    if (sha) snprintf(out->model_sha256, sizeof out->model_sha256, "%s", sha);
    return HS_OK;
}

hs_status hs_scores_compute_ids(hs_head_scores *out, hs_model *m, const hs_token_seq *seqs,
                                int n_seqs, hs_strategy s, const hs_score_opts *o)
{
    static const hs_score_opts defaults = {0, 0, 0, NULL, HS_STRATEGY_GRADIENT, 10.0};
    if (!o) o = &defaults;
    memset(out, 0, sizeof *out);
    if ((unsigned)s >= (unsigned)N_STRATEGIES)
        return hs_err(HS_EINPUT, "head scores: unknown strategy %d", (int)s);
    hs_status st = fill_header(out, m, s, o->seed);
    if (st) return st;
    int LH = out->L * out->H;
    float *ones = NULL;
    const float *gates = o->gates;
    if (!gates && hs_strategy_needs_calib(s)) {
        if (!(ones = hs_malloc((size_t)LH * sizeof *ones, "gates"))) return hs_scores_free(out), HS_ENOMEM;
        for (int i = 0; i < LH; i++) ones[i] = 1.0f;
        gates = ones;
    }
    if (s == HS_STRATEGY_ITERATIVE) {
        st = hs_prune_score_iterative(out->score, m, seqs, n_seqs, o);
        out->base = o->iterative_base;
        out->step = o->iterative_step > 0 ? o->iterative_step : 10.0;
    } else {
        st = hs_prune_score_once(out->score, m, seqs, n_seqs, s, gates, o->seed);
    }
    free(ones);
    if (!st && hs_strategy_needs_calib(s)) out->n_prompts = n_seqs;
    if (st) hs_scores_free(out);
    return st;
}

void hs_scores_free(hs_head_scores *sc)
{
    if (!sc) return;
    free(sc->score);
    hs_head_mean_set_free(&sc->means);
    memset(sc, 0, sizeof *sc);
}

/* ---- calibration text -> token sequences ---- */

void hs_calib_free(hs_token_seq *seqs, int n)
{
    if (!seqs) return;
    for (int i = 0; i < n; i++) free((void *)seqs[i].ids);
    free(seqs);
}

/* Tokenizes prompt + reference of one calibration prompt, keeping the first max_t ids. */
static hs_status tokenize_one(const hs_tokenizer *tok, const hs_prompt *p, int max_t,
                              hs_token_seq *out)
{
    size_t a = strlen(p->prompt), b = p->reference ? strlen(p->reference) : 0;
    char *text = hs_malloc(a + b + 1, "calibration text");
    if (!text) return HS_ENOMEM;
    memcpy(text, p->prompt, a);
    if (b) memcpy(text + a, p->reference, b);
    text[a + b] = '\0';
    int32_t *ids = NULL;
    size_t n = 0;
    hs_status st = hs_tokenizer_encode(tok, text, a + b, 0, &ids, &n);
    free(text);
    if (st) return hs_err_wrap(st, "prompt '%s' (line %d)", p->id, p->line);
    out->ids = ids;
    out->n = n > (size_t)max_t ? max_t : (int)n;
    return HS_OK;
}

int hs_calib_prompts_used(const hs_prompt_set *calib, const hs_score_opts *o)
{
    int n = (int)calib->n;
    return o->max_prompts > 0 && o->max_prompts < n ? o->max_prompts : n;
}

hs_status hs_calib_tokenize(const hs_model *m, const hs_tokenizer *tok, const hs_prompt_set *calib,
                            const hs_score_opts *o, hs_token_seq **out, int *n_out)
{
    int n = hs_calib_prompts_used(calib, o);
    int max_t = m->cfg.n_positions;
    if (o->max_tokens > 0 && o->max_tokens < max_t) max_t = o->max_tokens;
    hs_token_seq *seqs = hs_calloc(n ? (size_t)n : 1, sizeof *seqs, "calibration sequences");
    if (!seqs) return HS_ENOMEM;
    for (int i = 0; i < n; i++) {
        hs_status st = tokenize_one(tok, &calib->items[i], max_t, &seqs[i]);
        if (st) {
            hs_calib_free(seqs, i);
            return hs_err_wrap(st, "%s", calib->path ? calib->path : "calibration set");
        }
    }
    *out = seqs;
    *n_out = n;
    return HS_OK;
}

/* The calibration set's path fits the 512 bytes its provenance fields hold. */
static hs_status check_calib(const hs_prompt_set *calib, const hs_tokenizer *tok, const char *what)
{
    if (!calib || !tok) return hs_err(HS_EINPUT, "%s need a calibration prompt set and a tokenizer", what);
    const char *path = calib->path ? calib->path : "";
    if (calib->n == 0) return hs_err(HS_EINPUT, "%s: no calibration prompts", path);
    if (strlen(path) >= sizeof ((hs_head_scores *)0)->calibration)
        return hs_err(HS_EINPUT, "%s: calibration path longer than %zu bytes", path,
                      sizeof ((hs_head_scores *)0)->calibration - 1);
    return HS_OK;
}

/* means->v (L, H, D) from already tokenized sequences, with the set's provenance. */
static hs_status means_from_seqs(hs_head_mean_set *ms, const hs_model *m, const hs_token_seq *seqs, int n,
                                 const hs_prompt_set *calib, const hs_score_opts *o)
{
    int D = m->cfg.n_embd / m->cfg.n_head;
    memset(ms, 0, sizeof *ms);
    ms->v = hs_malloc((size_t)m->cfg.n_layer * m->cfg.n_head * D * sizeof *ms->v, "head means");
    hs_status st = ms->v ? hs_head_means(m, seqs, n, ms->v) : HS_ENOMEM;
    if (st) {
        hs_head_mean_set_free(ms);
        return hs_err_wrap(st, "head means");
    }
    ms->D = D;
    snprintf(ms->calibration, sizeof ms->calibration, "%s", calib->path ? calib->path : "");
    snprintf(ms->calibration_sha256, sizeof ms->calibration_sha256, "%s", calib->sha256);
    ms->n_prompts = n;
    ms->max_tokens = o->max_tokens;
    return HS_OK;
}

hs_status hs_head_mean_set_compute(hs_head_mean_set *out, const hs_model *m, const hs_tokenizer *tok,
                                   const hs_prompt_set *calib, const hs_score_opts *o)
{
    memset(out, 0, sizeof *out);
    hs_status st = check_calib(calib, tok, "head means");
    hs_token_seq *seqs = NULL;
    int n = 0;
    if (!st) st = hs_calib_tokenize(m, tok, calib, o, &seqs, &n);
    if (!st) st = means_from_seqs(out, m, seqs, n, calib, o);
    hs_calib_free(seqs, n);
    return st ? hs_err_wrap(st, "%s", calib && calib->path ? calib->path : "calibration set") : HS_OK;
}

hs_status hs_head_mean_set_copy(hs_head_mean_set *dst, const hs_head_mean_set *src, int L, int H)
{
    *dst = *src;
    if (!src->v) return HS_OK;
    size_t n = (size_t)L * H * src->D * sizeof *src->v;
    if (!(dst->v = hs_malloc(n, "head means"))) return HS_ENOMEM;
    memcpy(dst->v, src->v, n);
    return HS_OK;
}

void hs_head_mean_set_free(hs_head_mean_set *ms)
{
    if (!ms) return;
    free(ms->v);
    memset(ms, 0, sizeof *ms);
}

hs_status hs_scores_compute(hs_head_scores *out, hs_model *m, const hs_tokenizer *tok,
                            const hs_prompt_set *calib, hs_strategy s, const hs_score_opts *o)
{
    static const hs_score_opts defaults = {0, 0, 0, NULL, HS_STRATEGY_GRADIENT, 10.0};
    if (!o) o = &defaults;
    memset(out, 0, sizeof *out);
    if (!hs_strategy_needs_calib(s)) return hs_scores_compute_ids(out, m, NULL, 0, s, o);
    hs_status st = check_calib(calib, tok, hs_strategy_name(s));
    if (st) return st;
    const char *path = calib->path ? calib->path : "";
    hs_token_seq *seqs = NULL;
    int n = 0;
    st = hs_calib_tokenize(m, tok, calib, o, &seqs, &n);
    if (st) return st;
    st = hs_scores_compute_ids(out, m, seqs, n, s, o);
    hs_calib_free(seqs, n);
    if (st) return hs_err_wrap(st, "%s", path);
    snprintf(out->calibration, sizeof out->calibration, "%s", path);
    snprintf(out->calibration_sha256, sizeof out->calibration_sha256, "%s", calib->sha256);
    return HS_OK;
}
