/* fuzz_scores.c: head-score files (`headsweep score --out`, read back by --scores and by
 * sweeps) through hs_scores_load. A refused file is HS_EINPUT naming it. An accepted one
 * has an L x H matrix of finite scores, saves and loads back to the same numbers (the
 * writer promises an exact round trip) and orders and selects heads at any level. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "headsweep/prune.h"

static char *g_path, *g_copy;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_path = fz_path(fz_dir(), "scores.json");
    g_copy = fz_path(fz_dir(), "scores-again.json");
    return 0;
}

static void check_loaded(const hs_head_scores *sc, double pct, int mode)
{
    size_t n = (size_t)sc->L * (size_t)sc->H;
    FZ_CHECK(sc->L >= 1 && sc->H >= 1 && sc->score, "L %d H %d", sc->L, sc->H);
    for (size_t i = 0; i < n; i++) FZ_CHECK(isfinite(sc->score[i]), "score %zu is %g", i, sc->score[i]);
    FZ_CHECK(hs_scores_save(sc, g_copy) == HS_OK, "save: %s", hs_err_msg());
    hs_head_scores again;
    FZ_CHECK(hs_scores_load(&again, g_copy) == HS_OK, "reload of a saved file: %s", hs_err_msg());
    FZ_CHECK(again.L == sc->L && again.H == sc->H && again.strategy == sc->strategy && again.seed == sc->seed &&
                 again.n_prompts == sc->n_prompts && !strcmp(again.calibration, sc->calibration) &&
                 !strcmp(again.model_sha256, sc->model_sha256) &&
                 !strcmp(again.calibration_sha256, sc->calibration_sha256),
             "header changed in a save/load round trip");
    FZ_CHECK(!memcmp(again.score, sc->score, n * sizeof *sc->score), "scores changed in a save/load round trip");
    hs_scores_free(&again);
    int *order = malloc(n * sizeof *order);
    float *gates = malloc(n * sizeof *gates);
    FZ_CHECK(order && gates, "out of memory");
    FZ_CHECK(hs_prune_order(sc, order) == HS_OK, "order: %s", hs_err_msg());
    hs_select_opts o = {mode & 1, (mode >> 1) & 1};
    hs_status st = hs_prune_select(sc, pct, &o, gates);
    FZ_CHECK(st == HS_OK || (st == HS_EINPUT && o.keep_one_per_layer), "select %g%%: %s", pct, hs_err_msg());
    free(order);
    free(gates);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_write(g_path, data, size);
    hs_head_scores sc;
    hs_err_clear();
    hs_status st = hs_scores_load(&sc, g_path);
    if (st) {
        fz_expect_input_error(st, "scores.json", NULL);
        return 0;
    }
    fz_trace(HS_OK);
    /* the level and selection rules come from the input's last bytes */
    double pct = size ? (double)(data[size - 1] % 101) : 50.0;
    int mode = size > 1 ? data[size - 2] & 3 : 0;
    check_loaded(&sc, pct, mode);
    hs_scores_free(&sc);
    return 0;
}
