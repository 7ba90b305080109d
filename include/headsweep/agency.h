/* agency.h: the head state machine of DESIGN.md ("Agency").
 *
 * Each head is active (factor 1.0), overloaded (0.5), misaligned (0.7) or withdrawn
 * (0.0, never computed). After every forward step the machine reads that step's head
 * statistics (attention utilisation and the cosine of the head's residual contribution
 * against the rest of its layer) and decides the factors used at the next step:
 *   u_h <- alpha * u_h + (1 - alpha) * obs_h      (u_h starts at the first observation)
 *   active -> overloaded   when u_h > overload_threshold
 *   active -> misaligned   when cos_h < -alignment_threshold (checked after overload)
 *   overloaded/misaligned -> active after recovery_steps decode steps in that state
 *   pruned heads are withdrawn for the whole generation and never revived.
 * State starts fresh for each prompt (hs_agency_begin). */
#ifndef HEADSWEEP_AGENCY_H
#define HEADSWEEP_AGENCY_H

#include <stdint.h>

#include "headsweep/model.h"
#include "headsweep/util.h"

typedef enum {
    HS_AG_ACTIVE = 0,
    HS_AG_OVERLOADED = 1,
    HS_AG_MISALIGNED = 2,
    HS_AG_WITHDRAWN = 3,
    HS_AG_NSTATES = 4
} hs_agency_state;

typedef struct {
    float factor[HS_AG_NSTATES]; /* gate factor per state: 1.0, 0.5, 0.7, 0.0 */
    float ema_alpha;             /* weight of the previous utilisation: 0.9 */
    float overload_threshold;    /* 0.85 */
    float alignment_threshold;   /* 0.6: misaligned when cos < -0.6 */
    int recovery_steps;          /* 100 decode steps */
} hs_agency_params;

typedef struct {
    hs_agency_params p;
    int L, H;
    uint8_t *state;       /* (L, H) hs_agency_state */
    float *util;          /* (L, H) EMA of utilisation; NaN before the first observation */
    int *steps_in_state;  /* (L, H) decode steps since the head entered its state */
    int64_t *occupancy;   /* (L, H, NSTATES) forward steps spent in each state */
    int64_t *transitions; /* (L, H) state changes */
    float *factors;       /* (L, H) factor of the current state */
} hs_agency;

void hs_agency_params_default(hs_agency_params *p);
const char *hs_agency_state_name(int s);
hs_status hs_agency_init(hs_agency *ag, int n_layer, int n_head, const hs_agency_params *p);
void hs_agency_free(hs_agency *ag);
/* dst = src, every field (both made by hs_agency_init with the same L and H): a state to
 * fork, e.g. the one after a prompt's prefill, shared by generation and scoring. */
void hs_agency_copy(hs_agency *dst, const hs_agency *src);
/* Starts a generation: heads with gate 0 are withdrawn, the rest active; occupancy and
 * transition counters are cleared. */
void hs_agency_begin(hs_agency *ag, const float *gates /* (L, H) */);
/* Consumes one forward step's statistics and updates states and factors. decode_step
 * is 0 for the prefill, 1 for a decode step (only decode steps count toward recovery). */
void hs_agency_step(hs_agency *ag, const hs_head_stats *st, int decode_step);

/* ---- thresholds from a calibration set (calibrate.c) ----
 * The per-step observations the state machine compares with its thresholds, taken on
 * calibration text read one token at a time (every token a decode step) by the unpruned
 * model (mask mode, all gates 1): each head's utilisation at every step whose attention
 * row spans 2+ keys, and each head's cosine at every step. For a percentile p:
 *   overload_threshold  = P_p(utilisation)          (the top 100 - p % of observations)
 *   alignment_threshold = -P_(100-p)(cosine)        (misaligned: cos < P_(100-p)(cosine))
 * P is the linear-interpolation percentile (Hyndman and Fan 1996, definition 7; numpy's
 * default). Utilisation is compared as an EMA in the machine, so a head exceeds its
 * threshold less often than 100 - p % of the steps. */
typedef struct {
    double percentile;         /* p, in (0, 100) */
    float overload_threshold;  /* P_p of per-step utilisation */
    float alignment_threshold; /* -P_(100-p) of per-step cosine (may be negative) */
    int64_t n_util, n_cosine;  /* observations the percentiles were taken over */
    /* Runs: with these thresholds and the variant's ema_alpha, a head-step "meets a condition"
     * when the machine's test would move an active head out of active (EMA of utilisation
     * above overload_threshold, or cosine below -alignment_threshold); a run is a maximal
     * stretch of such steps of one head in one sequence. */
    int64_t n_head_steps;      /* head-steps of the sequences (steps x L x H) */
    int64_t n_exceed;          /* of them meeting a condition */
    int64_t n_runs;            /* runs */
    double mean_run;           /* n_exceed / n_runs */
    int recovery_steps;        /* mean_run rounded (agency_recovery = calibrated); 0 without runs */
} hs_agency_calib;

/* Percentile p (0..100) of x (n > 0 finite values; sorted in place), definition 7. */
double hs_agency_percentile(double *x, size_t n, double p);
/* Runs the n_seqs sequences (those of 2+ tokens) and fills out for percentile p and a
 * machine whose utilisation EMA keeps ema_alpha of its previous value. */
hs_status hs_agency_calibrate(const hs_model *m, const hs_token_seq *seqs, int n_seqs, double p, float ema_alpha,
                              hs_agency_calib *out);
/* A poll for a stop request, called before each calibration sequence (NULL: none); when it
 * returns nonzero hs_agency_calibrate stops with HS_EINTR. Process-wide, like a signal flag:
 * the sweep stops within one sequence's time at SIGTERM, not at the calibration's end. */
void hs_agency_set_interrupt(int (*poll)(void));

#endif
