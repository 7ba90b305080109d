/* generate.c: the timed generation loop (prefill, then one decode step per token), and
 * what it keeps of the prefill for scoring to share (hs_prefill_fork). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/eval.h"

/* Applies the agency factors chosen after the previous step, runs the step, and lets
 * the state machine read this step's statistics. */
static hs_status step(hs_ctx *ctx, hs_agency *ag, hs_head_stats *stats, const int32_t *ids, int n,
                      float *logits, int decode, int rows)
{
    if (ag) hs_ctx_scale_gates(ctx, ag->factors);
    hs_status st = decode ? hs_ctx_forward(ctx, ids, n, logits, 0) : hs_ctx_forward_prefix(ctx, ids, n, logits, rows);
    if (!st && ag) hs_agency_step(ag, stats, decode);
    return st;
}

hs_status hs_prefill_fork_init(hs_prefill_fork *f, int vocab, const hs_agency *like)
{
    memset(f, 0, sizeof *f);
    if (!like) return HS_OK;
    f->logits = hs_malloc((size_t)vocab * sizeof(float), "prefill logits");
    hs_status st = f->logits ? hs_agency_init(&f->ag, like->L, like->H, &like->p) : HS_ENOMEM;
    f->has_ag = !st;
    if (st) hs_prefill_fork_free(f);
    return st;
}

void hs_prefill_fork_free(hs_prefill_fork *f)
{
    if (!f) return;
    free(f->logits);
    if (f->has_ag) hs_agency_free(&f->ag);
    memset(f, 0, sizeof *f);
}

/* Keeps the prefill just run (ctx's mark, agency's state and the logits) in keep. */
static hs_status keep_prefill(hs_ctx *ctx, const hs_agency *ag, const float *logits, int n_prompt,
                              hs_prefill_fork *keep)
{
    keep->n_prompt = 0;
    if (ag && !keep->has_ag) return hs_err(HS_EINTERNAL, "prefill fork: made without agency");
    hs_status st = hs_ctx_mark(ctx);
    if (st) return st;
    if (ag) {
        hs_agency_copy(&keep->ag, ag);
        memcpy(keep->logits, logits, (size_t)hs_ctx_vocab(ctx) * sizeof(float));
    }
    keep->n_prompt = n_prompt;
    return HS_OK;
}

hs_status hs_generate(hs_ctx *ctx, hs_agency *ag, hs_head_stats *stats, hs_sampler *smp,
                      const int32_t *prompt, int n_prompt, int prefill_rows, const hs_sample_params *p,
                      const char *prompt_id, int eot, hs_generation *out, hs_prefill_fork *keep)
{
    if (keep) keep->n_prompt = 0;
    out->n = 0;
    out->hit_eot = 0;
    out->prefill_s = out->ttft_s = out->decode_s = out->total_s = 0;
    if (n_prompt < 1) return hs_err(HS_EINPUT, "prompt %s: no tokens", prompt_id);
    if (n_prompt + p->max_new > hs_ctx_max_t(ctx))
        return hs_err(HS_EINPUT, "prompt %s: %d prompt tokens + %d new tokens exceed the context of %d",
                      prompt_id, n_prompt, p->max_new, hs_ctx_max_t(ctx));
    float *logits = hs_malloc((size_t)hs_ctx_vocab(ctx) * sizeof(float), "logits");
    if (!logits) return HS_ENOMEM;
    hs_ctx_reset(ctx);
    if (ag) hs_agency_begin(ag, hs_ctx_gates(ctx));
    /* Each phase is probed (hs_phase: CPU time, peak RSS); the probe between the two reads
     * /proc and is taken out of the wall times (t0 moves forward by its duration). */
    hs_phase ph;
    hs_phase_begin(&ph);
    double t0 = hs_now();
    hs_status st = step(ctx, ag, stats, prompt, n_prompt, logits, 0, prefill_rows);
    if (!st && keep) st = keep_prefill(ctx, ag, logits, n_prompt, keep);
    out->prefill_s = hs_now() - t0;
    double probe = hs_now();
    out->prefill_use = hs_phase_end(&ph);
    hs_phase_begin(&ph);
    t0 += hs_now() - probe;
    for (int i = 0; i < p->max_new && !st; i++) {
        int32_t tok = hs_sample(smp, logits, p, hs_rng_uniform(p->seed, prompt_id, i));
        if (i == 0) out->ttft_s = hs_now() - t0;
        if (tok == eot) {
            out->hit_eot = 1;
            break;
        }
        out->ids[out->n++] = tok;
        if (i + 1 < p->max_new) st = step(ctx, ag, stats, &tok, 1, logits, 1, 1);
    }
    out->total_s = hs_now() - t0;
    out->decode_use = hs_phase_end(&ph);
    out->decode_s = out->total_s - out->ttft_s;
    free(logits);
    return st;
}
