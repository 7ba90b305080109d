/* generate_batch.c: throughput mode. Many prompts share decode steps: up to B sequences
 * are active at once, each with its own cache, agency state and position; a finished
 * sequence's slot is refilled with the next prompt. Every sequence gets exactly the
 * tokens that hs_generate gives it alone (the batched forward is bit-identical and the
 * sampler is keyed by prompt id and step), but the weights are read once per step for
 * the whole batch. Per-prompt timings are not meaningful here and are not recorded.
 * Without agency a prompt's reference can be scored from its prefill right after it
 * (hs_batch_job.score_seq): its cache rows are reused, not recomputed. */
#include <stdlib.h>
#include <string.h>

#include "headsweep/eval.h"

typedef struct {
    int prompt;   /* index into the job's prompts, -1 when the slot is free */
    int step;     /* samples drawn so far */
    int32_t last; /* token to feed next */
} slot_state;

/* Draws sample number `step` of a slot's prompt from logits and records it; returns 1
 * when the prompt's generation is finished. */
static int take_sample(const hs_batch_job *job, slot_state *s, hs_sampler *smp, const float *logits)
{
    const hs_sample_params *p = job->params;
    hs_generation *g = &job->out[s->prompt];
    int32_t tok = hs_sample(smp, logits, p, hs_rng_uniform(p->seed, job->prompt_ids[s->prompt], s->step));
    s->step++;
    if (tok == job->eot) {
        g->hit_eot = 1;
        return 1;
    }
    g->ids[g->n++] = tok;
    s->last = tok;
    return s->step >= p->max_new;
}

/* A slot's prompt is done: its agency counts join the job's sums, the slot is free. */
static void finish(const hs_batch_job *job, int k, slot_state *s)
{
    if (job->occupancy && job->agency) {
        const hs_agency *ag = &job->agency[k];
        size_t n = (size_t)ag->L * ag->H * HS_AG_NSTATES;
        for (size_t i = 0; i < n; i++) job->occupancy[i] += ag->occupancy[i];
    }
    if (job->transitions && job->agency) {
        const hs_agency *ag = &job->agency[k];
        for (size_t i = 0; i < (size_t)ag->L * ag->H; i++) job->transitions[i] += ag->transitions[i];
    }
    s->prompt = -1;
}

/* Scores prompt i's continuation from the prefill just run in c (issue 22), then takes c
 * back to the end of the prompt for the generation. */
static hs_status score_from_prefill(const hs_batch_job *job, hs_ctx *c, int i)
{
    hs_prefill_fork f = {.n_prompt = job->n_prompt[i]};
    hs_status st = hs_ctx_mark(c);
    if (!st) st = hs_eval_nll_fork(c, NULL, NULL, &f, job->score_seq[i], job->score_n[i], job->n_prompt[i],
                                   &job->score_nll[i], &job->score_count[i]);
    if (!st) st = hs_ctx_rewind(c);
    return st;
}

/* Prompt i's generation starts in slot k's context, emptied. */
static hs_status begin_prompt(const hs_batch_job *job, int k, int i)
{
    hs_ctx *c = job->ctx[k];
    hs_generation *g = &job->out[i];
    g->n = 0;
    g->hit_eot = 0;
    g->prefill_s = g->ttft_s = g->decode_s = g->total_s = 0;
    if (job->n_prompt[i] + job->params->max_new > hs_ctx_max_t(c))
        return hs_err(HS_EINPUT, "prompt %s: %d prompt tokens + %d new tokens exceed the context of %d",
                      job->prompt_ids[i], job->n_prompt[i], job->params->max_new, hs_ctx_max_t(c));
    hs_ctx_reset(c);
    return HS_OK;
}

/* After prompt i's prefill in slot k (its last logits): the scoring that shares it
 * (job->score_seq), first sample. */
static hs_status after_prefill(const hs_batch_job *job, int k, int i, slot_state *s, hs_sampler *smp,
                               const float *logits)
{
    if (job->score_seq && job->score_seq[i]) {
        if (job->agency)
            return hs_err(HS_EINTERNAL, "prompt %s: throughput mode shares no prefill with agency", job->prompt_ids[i]);
        hs_status st = score_from_prefill(job, job->ctx[k], i);
        if (st) return st;
    }
    *s = (slot_state){i, 0, -1};
    if (take_sample(job, s, smp, logits)) finish(job, k, s);
    return HS_OK;
}

/* Starts prompt i in slot k: prefill alone (already a matrix product), then after_prefill. */
static hs_status start_prompt(const hs_batch_job *job, int k, int i, slot_state *s, hs_sampler *smp, float *logits)
{
    hs_ctx *c = job->ctx[k];
    hs_agency *ag = job->agency ? &job->agency[k] : NULL;
    hs_status st = begin_prompt(job, k, i);
    if (st) return st;
    if (ag) {
        hs_agency_begin(ag, hs_ctx_gates(c));
        hs_ctx_scale_gates(c, ag->factors);
    }
    int rows = job->prefill_rows ? job->prefill_rows[i] : 0;
    st = hs_ctx_forward_prefix(c, job->prompts[i], job->n_prompt[i], logits, rows);
    if (st) return st;
    if (ag) hs_agency_step(ag, &job->stats[k], 0);
    return after_prefill(job, k, i, s, smp, logits);
}

/* Prompts whose prefills run stacked in one call (hs_ctx_forward_stack). */
typedef struct {
    int n;
    int *k, *i;          /* (slots) slot and prompt of each */
    hs_ctx **ctx;        /* (slots) */
    const int32_t **ids; /* (slots) */
    int *len;            /* (slots) */
} stack_wave;

/* Prompt i's prefill can join a stacked call (the bits of its own call; no agency; not
 * routed as a longer sequence, job->prefill_rows, whose route is not the stack's). */
static int stackable(const hs_batch_job *job, int k, int i)
{
    int routed_longer = job->prefill_rows && job->prefill_rows[i] > job->n_prompt[i];
    return !job->agency && !routed_longer && hs_ctx_stackable(job->ctx[k], job->n_prompt[i]);
}

/* Runs the wave's prefills in one call, then each prompt's after_prefill. */
static hs_status run_wave(const hs_batch_job *job, stack_wave *w, slot_state *slots, hs_sampler *smp, float *logits)
{
    int V = hs_ctx_vocab(job->ctx[0]);
    hs_status st = HS_OK;
    for (int j = 0; j < w->n && !st; j++) {
        st = begin_prompt(job, w->k[j], w->i[j]);
        w->ctx[j] = job->ctx[w->k[j]], w->ids[j] = job->prompts[w->i[j]], w->len[j] = job->n_prompt[w->i[j]];
    }
    if (!st) st = hs_ctx_forward_stack(w->ctx, w->n, w->ids, w->len, logits);
    for (int j = 0; j < w->n && !st; j++)
        st = after_prefill(job, w->k[j], w->i[j], &slots[w->k[j]], smp, logits + (size_t)j * V);
    w->n = 0;
    return st;
}

/* Fills free slots from the queue; returns the number of active slots. Prompts under the
 * row route's limit start together, their prefills stacked in calls of up to a context's
 * rows: the weights are read once per call instead of once per prompt (a short prompt's
 * prefill alone reads every weight for a few rows); the others start alone. A prompt
 * whose generation ends at its first sample frees its slot for the next round. */
static hs_status refill(const hs_batch_job *job, slot_state *slots, int *next, hs_sampler *smp, float *logits,
                        int *active, stack_wave *w)
{
    int cap = hs_ctx_max_t(job->ctx[0]), progress = 1;
    hs_status st = HS_OK;
    while (!st && progress && *next < job->count) {
        int rows = 0;
        progress = 0;
        for (int k = 0; k < job->slots && *next < job->count && !st; k++) {
            if (slots[k].prompt >= 0) continue;
            int i = *next;
            if (w->n && rows + job->n_prompt[i] > cap) break; /* the next wave's */
            if (!stackable(job, k, i) || job->n_prompt[i] > cap) {
                (*next)++, progress = 1;
                st = start_prompt(job, k, i, &slots[k], smp, logits);
                continue;
            }
            rows += job->n_prompt[i];
            w->k[w->n] = k, w->i[w->n++] = i;
            slots[k].prompt = i; /* taken until the wave runs */
            (*next)++, progress = 1;
        }
        if (!st && w->n) st = run_wave(job, w, slots, smp, logits);
    }
    *active = 0;
    for (int k = 0; k < job->slots; k++) *active += slots[k].prompt >= 0;
    return st;
}

/* One decode step of every active slot together. */
static hs_status batch_step(const hs_batch_job *job, slot_state *slots, hs_sampler *smp, float *logits,
                            hs_ctx **act, int32_t *tok, int *map)
{
    int B = 0;
    for (int k = 0; k < job->slots; k++) {
        if (slots[k].prompt < 0) continue;
        if (job->agency) hs_ctx_scale_gates(job->ctx[k], job->agency[k].factors);
        act[B] = job->ctx[k], tok[B] = slots[k].last, map[B++] = k;
    }
    hs_status st = hs_ctx_forward_batch(act, B, tok, logits);
    int V = hs_ctx_vocab(job->ctx[0]);
    for (int b = 0; b < B && !st; b++) {
        int k = map[b];
        if (job->agency) hs_agency_step(&job->agency[k], &job->stats[k], 1);
        if (take_sample(job, &slots[k], smp, logits + (size_t)b * V)) finish(job, k, &slots[k]);
    }
    return st;
}

hs_status hs_generate_batch(const hs_batch_job *job, hs_sampler *smp)
{
    int V = hs_ctx_vocab(job->ctx[0]), S = job->slots;
    slot_state *slots = hs_malloc((size_t)S * sizeof *slots, "batch slots");
    float *logits = hs_malloc((size_t)S * V * sizeof(float), "batch logits");
    hs_ctx **act = hs_malloc((size_t)S * sizeof *act, "batch");
    int32_t *tok = hs_malloc((size_t)S * sizeof *tok, "batch");
    int *map = hs_malloc((size_t)S * sizeof *map, "batch");
    stack_wave w = {0, hs_malloc((size_t)S * sizeof *w.k, "batch"), hs_malloc((size_t)S * sizeof *w.i, "batch"),
                    hs_malloc((size_t)S * sizeof *w.ctx, "batch"), hs_malloc((size_t)S * sizeof *w.ids, "batch"),
                    hs_malloc((size_t)S * sizeof *w.len, "batch")};
    hs_status st = (slots && logits && act && tok && map && w.k && w.i && w.ctx && w.ids && w.len) ? HS_OK : HS_ENOMEM;
    for (int k = 0; k < S && !st; k++) slots[k].prompt = -1;
    int next = 0, active = 0;
    if (!st) st = refill(job, slots, &next, smp, logits, &active, &w);
    while (!st && active > 0) {
        st = batch_step(job, slots, smp, logits, act, tok, map);
        if (!st) st = refill(job, slots, &next, smp, logits, &active, &w);
    }
    free(w.k);
    free(w.i);
    free(w.ctx);
    free(w.ids);
    free(w.len);
    free(slots);
    free(logits);
    free(act);
    free(tok);
    free(map);
    return st;
}
