/* fuzz_results_check.c: whole results files (HDF5, docs/results-format.md) through the
 * schema check that resume and merge run before they trust a file (hs_results_validate,
 * src/results/results_check.c), in memory through HDF5's core driver
 * (hs_results_validate_image). A refused file is HS_EINPUT naming it; an accepted one has
 * every extent in 1..HS_RESULTS_DIM_MAX, the promise resume and merge size their buffers
 * by. HDF5 itself is not instrumented: its crashes show, its branches give no coverage. */
#include <stdint.h>

#include "fuzz_util.h"
#include "headsweep/results.h"

#define NAME "fuzzed-results.h5"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_results_dims d;
    hs_err_clear();
    hs_status st = hs_results_validate_image(NAME, data, size, &d);
    if (st) {
        fz_expect_input_error(st, NAME, NULL);
        return 0;
    }
    fz_trace(HS_OK);
    const int ext[] = {d.n_variants, d.n_levels, d.n_prompts, d.n_layers, d.n_heads, d.n_states, d.n_shards,
                       d.max_new};
    for (int i = 0; i < 8; i++) FZ_CHECK(ext[i] >= 1 && ext[i] <= HS_RESULTS_DIM_MAX, "extent %d is %d", i, ext[i]);
    return 0;
}
