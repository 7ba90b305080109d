/* agency.c: the head state machine (see agency.h for the rules and their sources). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/agency.h"

void hs_agency_params_default(hs_agency_params *p)
{
    p->factor[HS_AG_ACTIVE] = 1.0f;
    p->factor[HS_AG_OVERLOADED] = 0.5f;
    p->factor[HS_AG_MISALIGNED] = 0.7f;
    p->factor[HS_AG_WITHDRAWN] = 0.0f;
    p->ema_alpha = 0.9f;
    p->overload_threshold = 0.85f;
    p->alignment_threshold = 0.6f;
    p->recovery_steps = 100;
}

const char *hs_agency_state_name(int s)
{
    static const char *n[] = {"active", "overloaded", "misaligned", "withdrawn"};
    return s >= 0 && s < HS_AG_NSTATES ? n[s] : "unknown";
}

hs_status hs_agency_init(hs_agency *ag, int n_layer, int n_head, const hs_agency_params *p)
{
    memset(ag, 0, sizeof *ag);
    size_t LH = (size_t)n_layer * (size_t)n_head;
    ag->p = *p;
    ag->L = n_layer;
    ag->H = n_head;
    ag->state = hs_calloc(LH, 1, "agency states");
    ag->util = hs_calloc(LH, sizeof(float), "agency utilisation");
    ag->steps_in_state = hs_calloc(LH, sizeof(int), "agency steps");
    ag->occupancy = hs_calloc(LH * HS_AG_NSTATES, sizeof(int64_t), "agency occupancy");
    ag->transitions = hs_calloc(LH, sizeof(int64_t), "agency transitions");
    ag->factors = hs_calloc(LH, sizeof(float), "agency factors");
    if (!ag->state || !ag->util || !ag->steps_in_state || !ag->occupancy || !ag->transitions || !ag->factors) {
        hs_agency_free(ag);
        return HS_ENOMEM;
    }
    return HS_OK;
}

void hs_agency_free(hs_agency *ag)
{
    if (!ag) return;
    free(ag->state);
    free(ag->util);
    free(ag->steps_in_state);
    free(ag->occupancy);
    free(ag->transitions);
    free(ag->factors);
    memset(ag, 0, sizeof *ag);
}

void hs_agency_copy(hs_agency *dst, const hs_agency *src)
{
    size_t LH = (size_t)src->L * src->H;
    dst->p = src->p;
    memcpy(dst->state, src->state, LH);
    memcpy(dst->util, src->util, LH * sizeof(float));
    memcpy(dst->steps_in_state, src->steps_in_state, LH * sizeof(int));
    memcpy(dst->occupancy, src->occupancy, LH * HS_AG_NSTATES * sizeof(int64_t));
    memcpy(dst->transitions, src->transitions, LH * sizeof(int64_t));
    memcpy(dst->factors, src->factors, LH * sizeof(float));
}

void hs_agency_begin(hs_agency *ag, const float *gates)
{
    size_t LH = (size_t)ag->L * ag->H;
    memset(ag->occupancy, 0, LH * HS_AG_NSTATES * sizeof(int64_t));
    memset(ag->transitions, 0, LH * sizeof(int64_t));
    memset(ag->steps_in_state, 0, LH * sizeof(int));
    for (size_t i = 0; i < LH; i++) {
        ag->state[i] = gates[i] == 0.0f ? HS_AG_WITHDRAWN : HS_AG_ACTIVE;
        ag->util[i] = NAN;
        ag->factors[i] = ag->p.factor[ag->state[i]];
    }
}

static void enter(hs_agency *ag, size_t i, int s)
{
    ag->state[i] = (uint8_t)s;
    ag->steps_in_state[i] = 0;
    ag->transitions[i]++;
}

/* One head's transition for this step; u and cos are this step's observations. */
static void head_step(hs_agency *ag, size_t i, const hs_head_stats *st, int decode_step)
{
    int s = ag->state[i];
    ag->occupancy[i * HS_AG_NSTATES + s]++;
    if (s == HS_AG_WITHDRAWN) return;
    if (st->rows[i] > 0) {
        float obs = st->util[i];
        ag->util[i] = isnan(ag->util[i]) ? obs : ag->p.ema_alpha * ag->util[i] + (1.0f - ag->p.ema_alpha) * obs;
    }
    if (s == HS_AG_ACTIVE) {
        if (!isnan(ag->util[i]) && ag->util[i] > ag->p.overload_threshold) enter(ag, i, HS_AG_OVERLOADED);
        else if (st->cosine[i] < -ag->p.alignment_threshold) enter(ag, i, HS_AG_MISALIGNED);
        return;
    }
    if (decode_step && ++ag->steps_in_state[i] >= ag->p.recovery_steps) enter(ag, i, HS_AG_ACTIVE);
}

void hs_agency_step(hs_agency *ag, const hs_head_stats *st, int decode_step)
{
    size_t LH = (size_t)ag->L * ag->H;
    for (size_t i = 0; i < LH; i++) {
        head_step(ag, i, st, decode_step);
        ag->factors[i] = ag->p.factor[ag->state[i]];
    }
}
