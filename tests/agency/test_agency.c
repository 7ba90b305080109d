/* test_agency.c: the head state machine fires exactly at its thresholds, withdrawn
 * heads cost no compute, and agency with transitions that never fire equals baseline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "headsweep/agency.h"
#include "headsweep/eval.h"
#include "headsweep/fixture.h"
#include "headsweep/model.h"
#include "test_util.h"

enum { L = 1, H = 2 };

typedef struct {
    float util[L * H], entropy[L * H], cosine[L * H];
    int rows[L * H];
    hs_head_stats s;
} fake_stats;

static void fake_init(fake_stats *f, float u0, float u1, float c0, float c1)
{
    f->util[0] = u0, f->util[1] = u1, f->cosine[0] = c0, f->cosine[1] = c1;
    f->rows[0] = f->rows[1] = 1;
    f->s = (hs_head_stats){f->util, f->entropy, f->rows, f->cosine};
}

static void new_agency(hs_agency *ag)
{
    hs_agency_params p;
    hs_agency_params_default(&p);
    assert_int_equal(hs_agency_init(ag, L, H, &p), HS_OK);
    float g[L * H] = {1, 1};
    hs_agency_begin(ag, g);
}

static void test_overload_threshold(void **state)
{
    hs_agency ag;
    new_agency(&ag);
    fake_stats f;
    /* first observation initialises the EMA: exactly at the threshold does not fire */
    fake_init(&f, 0.85f, nextafterf(0.85f, 1.0f), 0, 0);
    hs_agency_step(&ag, &f.s, 0);
    assert_int_equal(ag.state[0], HS_AG_ACTIVE);
    assert_int_equal(ag.state[1], HS_AG_OVERLOADED);
    assert_true(ag.factors[1] == 0.5f && ag.factors[0] == 1.0f);
    assert_int_equal(ag.transitions[1], 1);
    hs_agency_free(&ag);
}

static void test_ema(void **state)
{
    hs_agency ag;
    new_agency(&ag);
    fake_stats f;
    fake_init(&f, 0.5f, 0.5f, 0, 0);
    hs_agency_step(&ag, &f.s, 0);
    fake_init(&f, 1.0f, 0.5f, 0, 0);
    hs_agency_step(&ag, &f.s, 1); /* u = 0.9 * 0.5 + 0.1 * 1.0 = 0.55 */
    assert_true(fabsf(ag.util[0] - 0.55f) < 1e-6f);
    assert_int_equal(ag.state[0], HS_AG_ACTIVE);
    hs_agency_free(&ag);
}

static void test_misalignment_threshold(void **state)
{
    hs_agency ag;
    new_agency(&ag);
    fake_stats f;
    fake_init(&f, 0.1f, 0.1f, -0.6f, nextafterf(-0.6f, -1.0f));
    hs_agency_step(&ag, &f.s, 0);
    assert_int_equal(ag.state[0], HS_AG_ACTIVE);
    assert_int_equal(ag.state[1], HS_AG_MISALIGNED);
    assert_true(ag.factors[1] == 0.7f);
    hs_agency_free(&ag);
}

static void test_recovery_after_100_decode_steps(void **state)
{
    hs_agency ag;
    new_agency(&ag);
    fake_stats f;
    fake_init(&f, 0.1f, 0.1f, 0, -0.9f);
    hs_agency_step(&ag, &f.s, 0); /* prefill: head 1 -> misaligned */
    fake_init(&f, 0.1f, 0.1f, 0, 0);
    hs_agency_step(&ag, &f.s, 0); /* a prefill-type step does not count toward recovery */
    for (int i = 0; i < 99; i++) {
        hs_agency_step(&ag, &f.s, 1);
        assert_int_equal(ag.state[1], HS_AG_MISALIGNED);
    }
    hs_agency_step(&ag, &f.s, 1); /* the 100th decode step in the state */
    assert_int_equal(ag.state[1], HS_AG_ACTIVE);
    assert_int_equal(ag.transitions[1], 2);
    /* occupancy counts every step in the state it was spent in */
    assert_int_equal(ag.occupancy[1 * HS_AG_NSTATES + HS_AG_ACTIVE], 1);
    assert_int_equal(ag.occupancy[1 * HS_AG_NSTATES + HS_AG_MISALIGNED], 101);
    assert_int_equal(ag.occupancy[0 * HS_AG_NSTATES + HS_AG_ACTIVE], 102);
    hs_agency_free(&ag);
}

/* Overloaded heads also return to active after recovery_steps decode steps, whatever their
 * utilisation; the next step re-checks it, so a head still above the threshold goes
 * straight back (one transition each way). Misalignment is not looked at while
 * overloaded. */
static void test_overload_recovery(void **state)
{
    hs_agency ag;
    new_agency(&ag);
    fake_stats f;
    fake_init(&f, 0.1f, 0.95f, 0, -0.9f);
    hs_agency_step(&ag, &f.s, 0); /* prefill: head 1 overloaded (overload is checked first) */
    assert_int_equal(ag.state[1], HS_AG_OVERLOADED);
    assert_int_equal(ag.state[0], HS_AG_ACTIVE);
    for (int i = 0; i < 99; i++) {
        hs_agency_step(&ag, &f.s, 1);
        assert_int_equal(ag.state[1], HS_AG_OVERLOADED);
        assert_true(ag.factors[1] == 0.5f);
    }
    hs_agency_step(&ag, &f.s, 1); /* the 100th decode step in the state */
    assert_int_equal(ag.state[1], HS_AG_ACTIVE);
    assert_true(ag.factors[1] == 1.0f);
    assert_int_equal(ag.transitions[1], 2);
    hs_agency_step(&ag, &f.s, 1); /* EMA still 0.95 > 0.85: overloaded again */
    assert_int_equal(ag.state[1], HS_AG_OVERLOADED);
    assert_int_equal(ag.transitions[1], 3);
    /* with low utilisation the EMA decays and the head stays active after recovery */
    fake_init(&f, 0.1f, 0.0f, 0, 0);
    for (int i = 0; i < 100; i++) hs_agency_step(&ag, &f.s, 1);
    assert_int_equal(ag.state[1], HS_AG_ACTIVE);
    for (int i = 0; i < 50; i++) hs_agency_step(&ag, &f.s, 1);
    assert_int_equal(ag.state[1], HS_AG_ACTIVE);
    assert_int_equal(ag.transitions[1], 4);
    assert_int_equal(ag.occupancy[1 * HS_AG_NSTATES + HS_AG_OVERLOADED], 100 + 100);
    assert_int_equal(ag.occupancy[1 * HS_AG_NSTATES + HS_AG_ACTIVE], 1 + 1 + 50);
    hs_agency_free(&ag);
}

static void test_withdrawn_never_revived(void **state)
{
    hs_agency_params p;
    hs_agency_params_default(&p);
    hs_agency ag;
    assert_int_equal(hs_agency_init(&ag, L, H, &p), HS_OK);
    float g[L * H] = {0, 1};
    hs_agency_begin(&ag, g);
    assert_int_equal(ag.state[0], HS_AG_WITHDRAWN);
    assert_true(ag.factors[0] == 0.0f);
    fake_stats f;
    fake_init(&f, 0.1f, 0.1f, 0, 0);
    for (int i = 0; i < 300; i++) hs_agency_step(&ag, &f.s, 1);
    assert_int_equal(ag.state[0], HS_AG_WITHDRAWN);
    assert_int_equal(ag.occupancy[HS_AG_WITHDRAWN], 300);
    hs_agency_begin(&ag, g); /* fresh per prompt */
    assert_int_equal(ag.occupancy[HS_AG_WITHDRAWN], 0);
    hs_agency_free(&ag);
}

/* ---- on a model ---- */

static char *g_dir;

static int setup(void **state)
{
    g_dir = tu_mkdtemp("agency");
    return g_dir && hs_model_make_random(g_dir, "tiny", 3, "f32") == HS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

/* Skip mode: a decode step's FLOPs equal the analytic count for the live heads, so
 * each withdrawn head saves exactly its share and costs nothing. */
static void test_withdrawn_cost_nothing(void **state)
{
    hs_model m;
    assert_int_equal(hs_model_load(&m, g_dir, NULL), HS_OK);
    int LH = m.cfg.n_layer * m.cfg.n_head;
    float g[64];
    int32_t ids[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    float *lg = malloc((size_t)m.cfg.vocab_size * sizeof(float));
    for (int off = 0; off <= LH; off += 3) {
        for (int i = 0; i < LH; i++) g[i] = i < off ? 0.0f : 1.0f;
        hs_ctx *c;
        assert_int_equal(hs_ctx_init(&c, &m, 16, HS_GATING_SKIP), HS_OK);
        assert_int_equal(hs_ctx_set_gates(c, g), HS_OK);
        assert_int_equal(hs_ctx_forward(c, ids, 9, lg, 0), HS_OK);
        double before = hs_ctx_flops(c);
        assert_int_equal(hs_ctx_forward(c, ids + 9, 1, lg, 0), HS_OK);
        double step = hs_ctx_flops(c) - before;
        assert_true(step == hs_model_flops_per_token(&m.cfg, LH - off, 10));
        assert_int_equal(hs_ctx_live_heads(c), LH - off);
        hs_ctx_free(c);
    }
    free(lg);
    hs_model_free(&m);
}

/* With agency's statistics on, a decode step costs the forward pass plus one c_proj
 * product (2 D C) per live head for the misalignment cosine, and withdrawn heads still
 * cost nothing: the count shows agency's own overhead rather than hiding it. */
static void test_agency_stats_flops(void **state)
{
    hs_model m;
    assert_int_equal(hs_model_load(&m, g_dir, NULL), HS_OK);
    int LH = m.cfg.n_layer * m.cfg.n_head, C = m.cfg.n_embd, D = C / m.cfg.n_head;
    float g[64], util[64], ent[64], cosv[64];
    int rows[64];
    int32_t ids[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    float *lg = malloc((size_t)m.cfg.vocab_size * sizeof(float));
    for (int off = 0; off <= LH; off += 5) {
        for (int i = 0; i < LH; i++) g[i] = i < off ? 0.0f : 1.0f;
        hs_head_stats st = {util, ent, rows, cosv};
        hs_ctx *c;
        assert_int_equal(hs_ctx_init(&c, &m, 16, HS_GATING_SKIP), HS_OK);
        assert_int_equal(hs_ctx_set_gates(c, g), HS_OK);
        assert_int_equal(hs_ctx_collect_stats(c, &st), HS_OK);
        assert_int_equal(hs_ctx_forward(c, ids, 9, lg, 0), HS_OK);
        double before = hs_ctx_flops(c);
        assert_int_equal(hs_ctx_forward(c, ids + 9, 1, lg, 0), HS_OK);
        double step = hs_ctx_flops(c) - before;
        double expect = hs_model_flops_per_token(&m.cfg, LH - off, 10) + (LH - off) * 2.0 * D * C;
        assert_true(step == expect);
        hs_ctx_free(c);
    }
    free(lg);
    hs_model_free(&m);
}

/* With thresholds that never fire, the agency runner generates the baseline's tokens. */
static void test_agency_equals_baseline_when_quiet(void **state)
{
    hs_model m;
    assert_int_equal(hs_model_load(&m, g_dir, NULL), HS_OK);
    int LH = m.cfg.n_layer * m.cfg.n_head;
    float g[64];
    for (int i = 0; i < LH; i++) g[i] = 1.0f;
    hs_agency_params quiet;
    hs_agency_params_default(&quiet);
    quiet.overload_threshold = 2.0f;  /* utilisation never exceeds 1 */
    quiet.alignment_threshold = 2.0f; /* cosine never below -1 */
    int32_t prompt[6] = {11, 12, 13, 14, 15, 16};
    hs_sample_params sp;
    hs_sample_params_default(&sp);
    sp.max_new = 20;
    sp.temperature = 0.8f;
    int32_t out[2][20];
    int n[2];
    float *logits_last[2];
    for (int variant = 0; variant < 2; variant++) {
        hs_ctx *c;
        hs_sampler smp;
        hs_agency ag;
        float util[64], ent[64], cosv[64];
        int rows[64];
        hs_head_stats st = {util, ent, rows, cosv};
        assert_int_equal(hs_ctx_init(&c, &m, 32, variant ? HS_GATING_SKIP : HS_GATING_MASK), HS_OK);
        assert_int_equal(hs_ctx_set_gates(c, g), HS_OK);
        assert_int_equal(hs_sampler_init(&smp, m.cfg.vocab_size), HS_OK);
        if (variant) {
            assert_int_equal(hs_agency_init(&ag, m.cfg.n_layer, m.cfg.n_head, &quiet), HS_OK);
            assert_int_equal(hs_ctx_collect_stats(c, &st), HS_OK);
        }
        hs_generation gen = {.ids = out[variant]};
        assert_int_equal(
            hs_generate(c, variant ? &ag : NULL, variant ? &st : NULL, &smp, prompt, 6, 0, &sp, "p1", -1, &gen, NULL),
            HS_OK);
        n[variant] = gen.n;
        logits_last[variant] = malloc((size_t)m.cfg.vocab_size * sizeof(float));
        assert_int_equal(hs_ctx_forward(c, &out[variant][gen.n - 1], 1, logits_last[variant], 0), HS_OK);
        if (variant) {
            for (int i = 0; i < LH; i++) assert_int_equal(ag.transitions[i], 0);
            hs_agency_free(&ag);
        }
        hs_sampler_free(&smp);
        hs_ctx_free(c);
    }
    assert_int_equal(n[0], n[1]);
    assert_memory_equal(out[0], out[1], (size_t)n[0] * sizeof(int32_t));
    for (int v = 0; v < m.cfg.vocab_size; v++) assert_true(fabsf(logits_last[0][v] - logits_last[1][v]) < 1e-4f);
    free(logits_last[0]);
    free(logits_last[1]);
    hs_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overload_threshold),
        cmocka_unit_test(test_ema),
        cmocka_unit_test(test_misalignment_threshold),
        cmocka_unit_test(test_recovery_after_100_decode_steps),
        cmocka_unit_test(test_overload_recovery),
        cmocka_unit_test(test_withdrawn_never_revived),
        cmocka_unit_test(test_withdrawn_cost_nothing),
        cmocka_unit_test(test_agency_stats_flops),
        cmocka_unit_test(test_agency_equals_baseline_when_quiet),
    };
    return cmocka_run_group_tests_name("agency", tests, setup, teardown);
}
