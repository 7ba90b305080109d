/* fuzz_config.c: hs_config_load on a config.json holding the fuzzed bytes. Accepted
 * values must be inside the ranges config.c promises (every later size computation
 * relies on them); refused files are HS_EINPUT naming config.json. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "headsweep/model.h"

static char *g_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_path = fz_path(fz_dir(), "config.json");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_write(g_path, data, size);
    hs_config c;
    hs_err_clear();
    hs_status st = hs_config_load(&c, g_path);
    if (st) {
        fz_expect_input_error(st, "config.json", NULL);
        return 0;
    }
    fz_trace(HS_OK);
    FZ_CHECK(c.n_embd >= 1 && c.n_embd <= 1 << 16, "n_embd %d", c.n_embd);
    FZ_CHECK(c.n_head >= 1 && c.n_head <= 1024 && c.n_embd % c.n_head == 0, "n_head %d", c.n_head);
    FZ_CHECK(c.n_layer >= 1 && c.n_layer <= 1024, "n_layer %d", c.n_layer);
    FZ_CHECK(c.vocab_size >= 1 && c.vocab_size <= 1 << 22, "vocab_size %d", c.vocab_size);
    FZ_CHECK(c.n_positions >= 1 && c.n_positions <= 1 << 20, "n_positions %d", c.n_positions);
    FZ_CHECK((c.n_inner >= 1 && c.n_inner <= 1 << 20) || c.n_inner == 4 * c.n_embd, "n_inner %d", c.n_inner);
    FZ_CHECK(c.ln_eps > 0 && c.ln_eps < 1, "layer_norm_epsilon %g", c.ln_eps);
    double f = hs_model_flops_per_token(&c, c.n_layer * c.n_head, c.n_positions);
    FZ_CHECK(isfinite(f) && f > 0, "flops per token %g", f);
    return 0;
}
