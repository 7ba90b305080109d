/* report_timing.c: REPORT.md's account of how the timings were taken (interleaved or not,
 * repeats) and its per-phase resource table (prefill, decode, scoring). */
#include "report_timing.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "headsweep/model.h"
#include "headsweep/results.h"

/* Pairs of the speed comparisons between variants: interleaved, and not (left out or, when
 * none was interleaved, compared with the verdict withheld). */
static void count_speed_pairs(const hs_report *r, int *il, int *not_il, int *rows_order)
{
    int m = hs_report_cm(r, "speed");
    *il = *not_il = *rows_order = 0;
    for (int p = 0; m >= 0 && p < r->n_variant_pairs; p++)
        for (int l = 0; l < r->st->nl; l++) {
            const hs_cmp_cell *c = hs_report_cmp(r, p, m, l);
            if (!c->available) continue;
            *il += c->n_interleaved;
            *not_il += c->n_not_interleaved;
            *rows_order += c->verdict == HS_V_ORDER;
        }
}

/* The largest timing_repeats of any prompt done (1 for files without the metric). */
static int timing_repeats(const hs_study *s)
{
    const hs_metric_data *m = hs_study_metric(s, "timing_repeats");
    double most = 1;
    size_t n = (size_t)s->nv * (size_t)s->nl * (size_t)s->np;
    for (size_t i = 0; m && i < n; i++)
        if (s->done[i] && isfinite(m->v[i]) && m->v[i] > most) most = m->v[i];
    return (int)most;
}

/* Done prompts whose cell ran without a speed copy its rank requested (*without), whose cell
 * records none (*unknown), of *done; and the union of the copies that were missing. */
static unsigned count_copies(const hs_study *s, size_t *done, size_t *without, size_t *unknown)
{
    unsigned missing = 0;
    size_t n = (size_t)s->nv * (size_t)s->nl * (size_t)s->np;
    *done = *without = *unknown = 0;
    for (size_t i = 0; i < n; i++) {
        if (!s->done[i]) continue;
        (*done)++;
        const uint8_t *c = s->copies ? s->copies + 2 * i : NULL;
        if (!c || c[0] > HS_COPY_ALL || c[1] > HS_COPY_ALL) {
            (*unknown)++;
            continue;
        }
        unsigned m = (unsigned)(c[0] & ~c[1]);
        *without += m != 0;
        missing |= m;
    }
    return missing;
}

/* Timing rows of comparisons that mixed cells with and without a speed copy. */
static void count_copies_rows(const hs_report *r, int *pairs_mixed, int *rows_withheld)
{
    *pairs_mixed = *rows_withheld = 0;
    for (int p = 0; p < r->npair; p++)
        for (int m = 0; m < r->ncm; m++)
            for (int l = 0; r->cm[m].timing && l < r->st->nl; l++) {
                const hs_cmp_cell *c = hs_report_cmp(r, p, m, l);
                if (!c->available) continue;
                *pairs_mixed += c->n_copies_mixed;
                *rows_withheld += c->verdict == HS_V_COPIES;
            }
}

/* Which speed copies the timings had (/cells/copies_requested, /cells/copies_used): a copy
 * that gave way for memory on a rank leaves that rank's timings slower (docs/sweep.md). */
void hs_md_speed_copies(FILE *f, const hs_report *r)
{
    size_t done, without, unknown;
    unsigned missing = count_copies(r->st, &done, &without, &unknown);
    if (!done) return;
    if (unknown == done) {
        fputs("Speed copies: **not recorded** (the file predates `/cells/copies_used`): whether a rank ran without "
              "a speed copy that gave way for memory (slower timings) cannot be told from it.\n\n", f);
        return;
    }
    if (!without) {
        fputs("Speed copies: every timed cell ran with the speed copies its rank requested", f);
        if (unknown) fprintf(f, " (%zu of %zu prompts' cells record none: older files)", unknown, done);
        fputs(".\n\n", f);
        return;
    }
    int mixed, withheld;
    count_copies_rows(r, &mixed, &withheld);
    char names[64];
    snprintf(names, sizeof names, "%s%s%s", missing & HS_COPY_PACK ? "packed weights; " : "",
             missing & HS_COPY_HEAD_MAJOR ? "head-major c_attn; " : "",
             missing & HS_COPY_PANELS ? "batch-1 panels; " : "");
    names[strlen(names) - 2] = '\0'; /* missing is not 0: one name at least */
    fprintf(f, "Speed copies: **%zu of %zu** prompts' cells were timed without a speed copy their rank requested "
               "(%s), which gave way for memory (or which the rank's CPU has no layout for): their timings are "
               "slower than the others' for that reason alone. %d timing pair(s) that mixed such a cell with one "
               "that had the copy were left out of the comparisons; %d comparison row(s) had no other pair and show "
               "\"no verdict: speed copies differ\".",
            without, done, names, mixed, withheld);
    if (unknown) fprintf(f, " %zu prompts' cells record no speed copies (older files).", unknown);
    fputs("\n\n", f);
}

void hs_md_timing_order(FILE *f, const hs_report *r)
{
    int il, not_il, rows_order;
    count_speed_pairs(r, &il, &not_il, &rows_order);
    int reps = timing_repeats(r->st);
    if (il + not_il == 0) return; /* no timed pair between variants (one variant, no latency sample) */
    if (il > 0) {
        fprintf(f, "Timings: **interleaved**. For each prompt the variants of a level ran back to back on one rank, "
                   "in an order that changes from prompt to prompt (recorded per prompt in "
                   "`/metrics/run_position`, and every timed run's start in `run_start_seconds`), so the paired "
                   "speed differences between variants compare runs made side by side, not minutes apart "
                   "(sweeps since December 2026 follow a Williams design: each variant at each position and "
                   "directly after each other variant equally often). "
                   "%d speed pair(s) between variants were interleaved", il);
        if (not_il > 0)
            fprintf(f, "; %d were not (cells computed in different sweep runs or files) and are left out of the "
                       "speed comparisons", not_il);
        fputs(". ", f);
    } else {
        fprintf(f, "Timings: **not interleaved** (the file has no `/metrics/run_position`: written before interleaved "
                   "timings or with `timing_order = sequential`, or its cells come from different sweep runs). Each "
                   "variant's timings come from a different stretch of time on the machine, so speed differences "
                   "between variants are confounded with run order: %d speed comparison row(s) show their numbers "
                   "but no verdict (\"no verdict: timings not interleaved\"). ", rows_order);
    }
    if (reps > 1)
        fprintf(f, "Each prompt's generation was timed %d times (`timing_repeats`); its timing, prefill and decode "
                   "numbers are the medians.", reps);
    else
        fputs("Each prompt's generation was timed once (`timing_repeats = 1`).", f);
    fputs(" Comparisons of a variant with its own lowest level are never interleaved (levels run in separate "
          "work items, one after another), so their speed differences include the machine's drift between them "
          "and get no verdict (\"no verdict: levels timed apart\").\n\n", f);
}

static const struct {
    const char *phase, *wall, *cpu, *rss;
} phases[] = {
    {"prefill", "prefill_seconds", "prefill_cpu_seconds", "prefill_rss_growth_bytes"},
    {"decode", "decode_seconds", "decode_cpu_seconds", "decode_rss_growth_bytes"},
    {"scoring", "scoring_seconds", "scoring_cpu_seconds", "scoring_rss_growth_bytes"},
};
#define N_PHASES (int)(sizeof phases / sizeof phases[0])

static void mean_cell(FILE *f, const hs_table *t, size_t vl, double scale)
{
    char b[32];
    const hs_ci *c = t ? &t->cell[vl] : NULL;
    fprintf(f, " %s |", c && c->n > 0 ? hs_fmt(b, sizeof b, c->mean * scale) : "n/a");
}

void hs_md_phases(FILE *f, const hs_report *r)
{
    const hs_study *s = r->st;
    int have = 0;
    for (int k = 0; k < N_PHASES; k++) have += hs_report_table(r, phases[k].cpu) != NULL;
    fputs("## Resources per phase\n\n", f);
    if (!have) {
        fputs("The file records no per-phase resources (written before they existed): CPU seconds and peak RSS "
              "cover each prompt's whole evaluation, scoring included.\n\n", f);
        return;
    }
    fputs("Mean per prompt, for each phase of a prompt's evaluation: **prefill** (the prompt's forward pass) and "
          "**decode** (sampling and one step per new token) make up the generation the speed numbers time; "
          "**scoring** (reference perplexity, perplexity under the unpruned model, type-token ratio) comes after "
          "it and is not timed as speed (with agency the reference is fed token by token, so scoring costs agency "
          "far more than generation does). Wall and CPU time in ms (CPU: user + system of all the rank's "
          "threads); RSS growth in KiB (peak during the phase minus the resident size at its start; pages first "
          "touched by earlier prompts do not count again). Generation numbers are medians over `timing_repeats`; "
          "a phase CPU time well below its wall time means the rank waited for a core.\n\n", f);
    fputs("| level % | variant |", f);
    for (int k = 0; k < N_PHASES; k++) fprintf(f, " %s ms | %s CPU ms | %s RSS KiB |", phases[k].phase,
                                                 phases[k].phase, phases[k].phase);
    fputs("\n| ---: | --- |", f);
    for (int k = 0; k < N_PHASES; k++) fputs(" ---: | ---: | ---: |", f);
    fputc('\n', f);
    for (int l = 0; l < s->nl; l++)
        for (int v = 0; v < s->nv; v++) {
            fprintf(f, "| %g | ", s->level[l]);
            hs_out_md_cell(f, s->variant[v]);
            fputs(" |", f);
            for (int k = 0; k < N_PHASES; k++) {
                const hs_table *w = hs_report_table(r, phases[k].wall), *c = hs_report_table(r, phases[k].cpu),
                               *m = hs_report_table(r, phases[k].rss);
                /* tables hold seconds, and bytes scaled to MiB */
                mean_cell(f, w, hs_vl(s, v, l), 1e3);
                mean_cell(f, c, hs_vl(s, v, l), 1e3);
                mean_cell(f, m, hs_vl(s, v, l), 1024.0);
            }
            fputc('\n', f);
        }
    fputs("\nPer-prompt values with intervals: `table_<metric>.csv` for each metric named above.\n\n", f);
}
