/* results_check.h: the schema check every reader of a results file runs before it trusts
 * anything in it (docs/results-format.md). Shared by resume and merge (hs_results_open)
 * and by headsweep-report (analysis/h5read.c), so all three accept exactly the same files.
 *
 * A results file is what collaborators exchange: it may be made by hand or damaged. The
 * check reads only shapes, types, attribute layouts and a few small datasets (done flags,
 * run numbers, counters, levels) and refuses, with one message naming the file and the
 * object (HS_EINPUT), any file where a later read could overflow a buffer, truncate a
 * size to int, loop for hours or add counters past INT64_MAX:
 *  - every dimension scale: rank 1, length 1..HS_RESULTS_DIM_MAX, its type class;
 *  - every dataset: rank and shape from the scales, type class and element size, and
 *    declared bytes (overflow-checked) no more than the file holds, since a writer
 *    allocates every dataset at creation; at most HS_RESULTS_CHUNKS_MAX chunks;
 *  - every attribute a reader reads or a run rewrites: scalar or of its length, class,
 *    and for the fixed-size strings rewritten in place, their exact size;
 *  - values: done flags and pruned flags 0/1, run numbers in [0, runs], ranks >= -1,
 *    agency counters in [0, HS_RESULTS_COUNT_MAX], levels finite in [0, 100], head
 *    scores finite.
 * Not checked here: names' characters (the report's concern), study text contents. */
#ifndef HEADSWEEP_RESULTS_CHECK_H
#define HEADSWEEP_RESULTS_CHECK_H

#include <hdf5.h>
#include <stdint.h>

#include "headsweep/util.h"

#define HS_RESULTS_DIM_MAX (1 << 24)          /* any one dimension (100,000 prompts is tested) */
#define HS_RESULTS_CHUNKS_MAX (1 << 22)       /* chunks of one dataset (one per cell in practice) */
#define HS_RESULTS_COUNT_MAX ((int64_t)1 << 38) /* agency counters: sums over HS_RESULTS_DIM_MAX shards stay < 2^62 */

typedef struct {
    int n_variants, n_levels, n_prompts, n_layers, n_heads, n_states, n_shards, max_new;
    int has_transitions; /* /agency/transitions exists (files before it do not have it) */
} hs_results_dims;

/* Checks the open file (path for messages) and fills *dims. */
hs_status hs_results_validate(hid_t file, const char *path, hs_results_dims *dims);

#endif
