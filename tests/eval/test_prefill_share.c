/* test_prefill_share.c: the prompt's prefill shared between generation and scoring (issue
 * 22) changes no bit. The runner evaluates held-out prompts of the bundled model with
 * sharing on and off (HS_SHARE_PREFILL=0) and every quality metric, generated token and
 * agency count must be equal, one prompt at a time and in throughput mode, mask and skip
 * gating, with and without agency. The bundled model is used because its products have
 * more than 256 inputs (the MLP's 1024), where the two routes of a product (matmul.c) sum
 * in different orders: a continuation routed wrongly would change bits here, which it
 * would not on the tiny test model. The prompts cover the three cases: prompt + reference
 * under 48 tokens, prompt alone 48 or more, and a prompt under 48 whose reference takes
 * it past 48 (its prefill routed as the whole sequence, hs_eval_prefill_rows, so that it
 * shares on our tiles too); the test also checks that sharing really happened where it
 * should (hs_eval_nll_forkable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/eval.h"
#include "headsweep/prompts.h"
#include "kernels.h" /* hs_k_gemm_blas_set: the OpenBLAS route forced on */

enum { MAXNEW = 8, MAXP = 6 };

/* Held-out prompts (prompt + reference tokens): two under 48 in all (16 + 30, 6 + 32), two
 * with a prompt of 48 or more (54 + 52, 70 + 26), two under 48 whose reference passes it
 * (26 + 55, 4 + 45). Short ones, so that the sanitizer build runs it in reasonable time. */
static const char *const g_ids[MAXP] = {"ecclesiastes-10-15", "galatians-1-2", "jonah-1-16",
                                        "mark-9-19",          "ruth-3-2",      "galatians-4-7"};

typedef struct {
    hs_model m;
    hs_tokenizer *tok;
    hs_prompt_set set;
    const hs_prompt *pp[MAXP];
    int n;
    char dir[4096]; /* the bundled model's */
} fixture;

static fixture g;

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("HS_SOURCE_DIR");
    char prompts[4096];
    if (!src) return -1;
    snprintf(g.dir, sizeof g.dir, "%s/models/kjv-gpt2", src);
    snprintf(prompts, sizeof prompts, "%s/jobs/prompts/kjv_heldout_sample24.jsonl", src);
    if (hs_model_load(&g.m, g.dir, NULL) || hs_tokenizer_load(&g.tok, g.dir) || hs_prompts_load(&g.set, prompts))
        return -1;
    for (size_t i = 0; i < g.set.n; i++)
        for (int k = 0; k < MAXP; k++)
            if (!strcmp(g.set.items[i].id, g_ids[k])) g.pp[g.n++] = &g.set.items[i];
    return g.n == MAXP ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    hs_prompts_free(&g.set);
    hs_tokenizer_free(g.tok);
    hs_model_free(&g.m);
    return 0;
}

/* Everything an evaluation gives that must not depend on sharing. */
typedef struct {
    double metrics[MAXP][HS_M_COUNT];
    int32_t ids[MAXP][MAXNEW];
    int64_t occ[MAXP][6 * 8 * HS_AG_NSTATES], trans[MAXP][6 * 8];
    long shared;
} outcome;

static void run(hs_runner_config *rc, int share, int batch, outcome *o)
{
    assert_int_equal(setenv("HS_SHARE_PREFILL", share ? "1" : "0", 1), 0);
    rc->batch = batch;
    hs_runner *r;
    assert_int_equal(hs_runner_init(&r, rc), HS_OK);
    memset(o, 0, sizeof *o);
    if (batch == 0) {
        for (int i = 0; i < g.n; i++)
            assert_int_equal(hs_runner_eval(r, g.pp[i], o->metrics[i], o->ids[i], o->occ[i], o->trans[i]), HS_OK);
    } else {
        assert_int_equal(hs_runner_eval_batch(r, g.pp, g.n, &o->metrics[0][0], &o->ids[0][0], o->occ[0], o->trans[0]),
                         HS_OK);
    }
    o->shared = hs_runner_shared_prefills(r);
    hs_runner_free(r);
}

/* Prompts whose reference the runner can score from the generation's prefill. */
static long expected_shared(const hs_runner_config *rc, int batch)
{
    if (rc->agency_on && batch) return 0; /* throughput mode with agency does not share */
    hs_ctx *c;
    assert_int_equal(hs_ctx_init(&c, rc->model, rc->max_t, rc->mode), HS_OK);
    long n = 0;
    int cross = 0;
    for (int i = 0; i < g.n; i++) {
        int32_t *ids;
        size_t np, nr;
        const hs_prompt *p = g.pp[i];
        assert_int_equal(hs_tokenizer_encode(g.tok, p->prompt, strlen(p->prompt), 0, &ids, &np), HS_OK);
        free(ids);
        assert_int_equal(hs_tokenizer_encode(g.tok, p->reference, strlen(p->reference), 0, &ids, &nr), HS_OK);
        free(ids);
        n += hs_eval_nll_forkable(c, rc->agency_on, (int)np, (int)(np + nr));
        cross += np < 48 && np + nr >= 48;
    }
    hs_ctx_free(c);
    assert_true(cross > 0); /* the prompts whose prefill is routed as the whole are covered */
    return n;
}

/* on and off: the two configurations compared (labels for the message). */
static void compare_as(const outcome *on, const outcome *off, const char *what, const char *a, const char *b)
{
    for (int i = 0; i < g.n; i++) {
        for (int k = 0; k < HS_M_COUNT; k++) {
            if (hs_metrics[k].timing) continue;
            double x = on->metrics[i][k], y = off->metrics[i][k];
            if (!(isnan(x) && isnan(y)) && memcmp(&x, &y, sizeof x))
                fail_msg("%s, prompt %s: %s %.17g %s vs %.17g %s", what, g.pp[i]->id, hs_metrics[k].name, x, a, y, b);
        }
        assert_true(isfinite(on->metrics[i][HS_M_REFERENCE_PPL]));
    }
    assert_memory_equal(on->ids, off->ids, sizeof on->ids);
    assert_memory_equal(on->occ, off->occ, sizeof on->occ);
    assert_memory_equal(on->trans, off->trans, sizeof on->trans);
}

static void compare(const outcome *on, const outcome *off, const char *what)
{
    compare_as(on, off, what, "shared", "not");
}

/* The variant under test: every third head off (gates (64) filled), MAXNEW sampled
 * tokens, the unpruned model's perplexity on. */
static hs_runner_config variant_config(const hs_model *m, hs_gating mode, float *gates)
{
    int LH = g.m.cfg.n_layer * g.m.cfg.n_head;
    assert_true(LH <= 64 && LH <= 6 * 8);
    for (int i = 0; i < LH; i++) gates[i] = (i % 3 == 1) ? 0.0f : 1.0f;
    hs_runner_config rc = {.model = m, .tok = g.tok, .mode = mode, .gates = gates, .max_t = 256,
                           .measure_unpruned_ppl = 1};
    hs_sample_params_default(&rc.sample);
    rc.sample.max_new = MAXNEW;
    rc.sample.temperature = 0.9f;
    rc.sample.seed = 7;
    return rc;
}

static void check_case(hs_gating mode, int agency, int batch)
{
    int LH = g.m.cfg.n_layer * g.m.cfg.n_head;
    float gates[64];
    hs_runner_config rc = variant_config(&g.m, mode, gates);
    rc.agency_on = agency;
    hs_agency_params_default(&rc.agency);
    rc.agency.overload_threshold = 0.3f; /* states change during the prompts */
    rc.agency.recovery_steps = 3;
    static outcome on, off;
    char what[96];
    snprintf(what, sizeof what, "%s gating, agency %d, batch %d", hs_gating_name(mode), agency, batch);
    run(&rc, 1, batch, &on);
    run(&rc, 0, batch, &off);
    compare(&on, &off, what);
    long want = expected_shared(&rc, batch);
    if (on.shared != want || off.shared != 0)
        fail_msg("%s: %ld prompts shared their prefill (expected %ld), %ld with sharing off", what, on.shared, want,
                 off.shared);
    assert_true(want > 0 || (agency && batch));
    if (agency) {
        int64_t moves = 0;
        for (int i = 0; i < g.n; i++)
            for (int j = 0; j < LH; j++) moves += on.trans[i][j];
        assert_true(moves > 0); /* the state machine acted */
    }
}

static void test_share_single(void **state)
{
    (void)state;
    for (int agency = 0; agency < 2; agency++) {
        check_case(HS_GATING_MASK, agency, 0);
        check_case(HS_GATING_SKIP, agency, 0);
    }
}

static void test_share_batch(void **state)
{
    (void)state;
    check_case(HS_GATING_MASK, 0, 3);
    check_case(HS_GATING_SKIP, 0, 16);
    check_case(HS_GATING_SKIP, 1, 3); /* not shared: still equal */
}

/* Throughput mode's model keeps a pre-packed copy of the layers' matrices
 * (hs_model_opts.pack), which decode batches and, on our tiles, the prefill's products
 * read instead of packing per call (gemm.c, hs_k_tiles_packed): a packed model's
 * evaluation, sharing on, equals the unpacked model's bit for bit: batched in mask mode
 * with f32, bf16 and int8 weights; with f32 also in skip mode (it reads column slices of
 * c_attn, packed, and row slices of c_proj off the 256-row blocks, packed per call) and
 * one prompt at a time (few cases: the sanitizer build runs this test too). The
 * prompts of 48 tokens or more are the case the packed prefill serves. */
static void test_packed_model(void **state)
{
    (void)state;
    float gates[64];
    static outcome a, b;
    for (int w = HS_WEIGHTS_F32; w <= HS_WEIGHTS_INT8; w++) {
        hs_model m[2]; /* 0: packed, 1: not */
        for (int k = 0; k < 2; k++)
            assert_int_equal(hs_model_load(&m[k], g.dir, &(hs_model_opts){.weights = (hs_weights)w, .pack = k == 0}),
                             HS_OK);
        /* every weight type batched in mask mode; f32 also skip, and one at a time */
        static const int cases[][2] = {{0, 16}, {1, 16}, {0, 0}};
        for (int c = 0; c < (w == HS_WEIGHTS_F32 ? 3 : 1); c++) {
            int skip = cases[c][0], batch = cases[c][1];
            hs_runner_config rc = variant_config(&m[0], skip ? HS_GATING_SKIP : HS_GATING_MASK, gates);
            run(&rc, 1, batch, &a);
            rc.model = &m[1];
            run(&rc, 1, batch, &b);
            char what[96];
            snprintf(what, sizeof what, "weights %d, %s gating, batch %d", w, skip ? "skip" : "mask", batch);
            compare_as(&a, &b, what, "packed", "unpacked");
            assert_int_equal(a.shared, b.shared);
        }
        hs_model_free(&m[0]);
        hs_model_free(&m[1]);
    }
}

/* The prompts routed as prompt + reference (hs_eval_prefill_rows) get that route in both
 * paths: one prompt at a time on the unpacked model equals throughput mode on a packed
 * one (batch 16, the short prompts' prefills stacked beside them), mask and skip, sharing
 * on. Without agency (occupancy and transitions stay zero in both). */
static void test_single_equals_batch(void **state)
{
    (void)state;
    float gates[64];
    hs_model packed;
    assert_int_equal(hs_model_load(&packed, g.dir, &(hs_model_opts){.pack = 1}), HS_OK);
    static outcome one, many;
    for (int skip = 0; skip < 2; skip++) {
        hs_runner_config rc = variant_config(&g.m, skip ? HS_GATING_SKIP : HS_GATING_MASK, gates);
        run(&rc, 1, 0, &one);
        rc.model = &packed;
        run(&rc, 1, 16, &many);
        char what[96];
        snprintf(what, sizeof what, "%s gating, one at a time vs batch 16 packed", skip ? "skip" : "mask");
        compare_as(&one, &many, what, "single", "batch");
        assert_int_equal(one.shared, many.shared);
        assert_int_equal(one.shared, g.n); /* every prompt, the routed ones too */
    }
    hs_model_free(&packed);
}

/* A prompt of 20 tokens whose continuation to 60 passes 48 rows: the route of the whole is
 * planned for the prompt, which prefilled on it (b) then continues to the logits one call
 * gives (a); what names the case in the failure. Resets both contexts first. */
static void check_split_20_60(hs_ctx *a, hs_ctx *b, const int32_t *ids, float *whole, float *part, int V,
                              const char *what)
{
    assert_int_equal(hs_ctx_prefix_route(a, 20, 60), 60);
    assert_true(hs_ctx_prefix_exact(a, 20, 60));
    hs_ctx_reset(a);
    assert_int_equal(hs_ctx_forward_rows(a, ids, 60, whole, 19, 60), HS_OK);
    hs_ctx_reset(b);
    assert_int_equal(hs_ctx_forward_prefix(b, ids, 20, part, 60), HS_OK);
    assert_int_equal(hs_ctx_mark(b), HS_OK);
    assert_int_equal(hs_ctx_forward_cont(b, ids + 20, 40, part, -1, 40), HS_OK);
    if (memcmp(part, whole, (size_t)41 * V * sizeof(float)))
        fail_msg("%s: prompt 20 + continuation to 60 differs from one call", what);
}

/* The model's part: a prompt marked, decode steps after it, a rewind and a continuation
 * give the logits one call gives, and a split that would change bits is refused. */
/* With the OpenBLAS route on, bf16 weights still take our tiles (only F32 reaches
 * OpenBLAS), so their prompts still split exactly: the route of prompt + continuation is
 * planned, and the split gives one call's logits. */
static void split_bf16_on_blas(const int32_t *ids, int n, float *whole, float *part)
{
    hs_model m;
    hs_model_opts o = {.weights = HS_WEIGHTS_BF16};
    hs_ctx *a, *b;
    int V;
    assert_int_equal(hs_model_load(&m, g.dir, &o), HS_OK);
    V = m.cfg.vocab_size;
    assert_int_equal(hs_ctx_init(&a, &m, n, HS_GATING_MASK), HS_OK);
    assert_int_equal(hs_ctx_init(&b, &m, n, HS_GATING_MASK), HS_OK);
    assert_true(hs_ctx_prefix_exact(a, 50, 120));
    check_split_20_60(a, b, ids, whole, part, V, "bf16 on the OpenBLAS route");
    hs_ctx_free(a);
    hs_ctx_free(b);
    hs_model_free(&m);
}

/* Our tiles again after test_forward_cont, also when it failed with OpenBLAS's route on. */
static int tiles_route(void **state)
{
    (void)state;
    hs_k_gemm_blas_set(0);
    return 0;
}

static void test_forward_cont(void **state)
{
    (void)state;
    enum { N = 120 };
    int V = g.m.cfg.vocab_size;
    int32_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (int32_t)((i * 37 + 11) % V);
    /* both calls under 48 rows, a one-row continuation, both 48 or more, a one-token prompt */
    static const int cases[][2] = {{10, 40}, {46, 47}, {50, 120}, {60, 61}, {1, 30}};
    hs_ctx *a, *b;
    assert_int_equal(hs_ctx_init(&a, &g.m, N, HS_GATING_MASK), HS_OK);
    assert_int_equal(hs_ctx_init(&b, &g.m, N, HS_GATING_MASK), HS_OK);
    float *whole = malloc((size_t)N * V * sizeof(float)), *part = malloc((size_t)N * V * sizeof(float));
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int np = cases[c][0], n = cases[c][1];
        assert_true(hs_ctx_prefix_exact(a, np, n));
        hs_ctx_reset(a);
        assert_int_equal(hs_ctx_forward_rows(a, ids, n, whole, np - 1, n - 1), HS_OK);
        hs_ctx_reset(b);
        assert_int_equal(hs_ctx_forward(b, ids, np, part, 0), HS_OK);
        assert_int_equal(hs_ctx_mark(b), HS_OK);
        for (int s = 0; s < 3; s++) assert_int_equal(hs_ctx_forward(b, &ids[s], 1, part, 0), HS_OK);
        assert_int_equal(hs_ctx_rewind(b), HS_OK);
        assert_int_equal(hs_ctx_pos(b), np);
        assert_int_equal(hs_ctx_forward_cont(b, ids + np, n - np, part, -1, n - np - 1), HS_OK);
        if (memcmp(part, whole, (size_t)(n - np) * V * sizeof(float)))
            fail_msg("prompt %d + continuation to %d: logits differ from one call", np, n);
    }
    /* a prompt under 48 tokens whose continuation passes 48: the routes differ, so the
     * prompt must be prefilled on the whole's route (our tiles) for the split to be exact */
    check_split_20_60(a, b, ids, whole, part, V, "f32 on our tiles");
    /* the same prompt prefilled on its own route: the continuation is refused */
    hs_ctx_reset(b);
    assert_int_equal(hs_ctx_forward(b, ids, 20, part, 0), HS_OK);
    assert_int_equal(hs_ctx_mark(b), HS_OK);
    assert_int_equal(hs_ctx_forward_cont(b, ids + 20, 40, part, -1, 39), HS_EINTERNAL);
    /* on OpenBLAS's route rows may depend on the row count: no route planned, no split */
    int blas = hs_k_gemm_blas_set(1);
    if (blas) {
        assert_int_equal(hs_ctx_prefix_route(a, 20, 60), 20);
        assert_false(hs_ctx_prefix_exact(a, 20, 60));
        assert_false(hs_ctx_prefix_exact(a, 50, 120));
        split_bf16_on_blas(ids, N, whole, part);
    }
    hs_k_gemm_blas_set(0);
    hs_ctx_reset(b);
    assert_int_equal(hs_ctx_rewind(b), HS_EINTERNAL); /* a reset drops the mark */
    free(whole);
    free(part);
    hs_ctx_free(a);
    hs_ctx_free(b);
}

int main(void)
{
    /* our own tiles for the prefill's products, whichever OpenBLAS core loads: the case
     * where a prompt of 48 tokens or more shares its prefill is then always covered */
    setenv("HS_GEMM_BLAS", "0", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_forward_cont, tiles_route),
        cmocka_unit_test(test_share_single),
        cmocka_unit_test(test_share_batch),
        cmocka_unit_test(test_packed_model),
        cmocka_unit_test(test_single_equals_batch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
