/* test_eval.c: sampling, lexical metrics, teacher-forced NLL (incl. the sliding
 * window) and the per-prompt runner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "headsweep/eval.h"
#include "headsweep/fixture.h"
#include "test_util.h"

static char *g_dir;

static int setup(void **state)
{
    g_dir = tu_mkdtemp("eval");
    return g_dir && hs_model_make_random(g_dir, "tiny", 11, "f32") == HS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static void test_rng_keyed(void **state)
{
    double a = hs_rng_uniform(1, "p1", 0), b = hs_rng_uniform(1, "p1", 0);
    assert_true(a == b && a >= 0 && a < 1);
    assert_true(hs_rng_uniform(1, "p1", 1) != a);
    assert_true(hs_rng_uniform(2, "p1", 0) != a);
    assert_true(hs_rng_uniform(1, "p2", 0) != a);
    /* roughly uniform: mean of many draws near 1/2 */
    double s = 0;
    for (int i = 0; i < 20000; i++) s += hs_rng_uniform(7, "x", i);
    assert_true(fabs(s / 20000 - 0.5) < 0.01);
}

static void test_sampling_rules(void **state)
{
    hs_sampler smp;
    assert_int_equal(hs_sampler_init(&smp, 5), HS_OK);
    float lg[5] = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f};
    hs_sample_params p;
    hs_sample_params_default(&p);
    assert_int_equal(hs_sample(&smp, lg, &p, 0.99), 1); /* greedy: first maximum */
    p.temperature = 1.0f;
    p.top_k = 2; /* only tokens 1 and 3 (tie broken by index) can be drawn */
    for (int i = 0; i < 200; i++) {
        int32_t t = hs_sample(&smp, lg, &p, hs_rng_uniform(3, "k", i));
        assert_true(t == 1 || t == 3);
    }
    p.top_k = 0;
    p.top_p = 0.5f; /* token 1 alone has ~0.42 mass, 1+3 reach 0.5 */
    for (int i = 0; i < 200; i++) {
        int32_t t = hs_sample(&smp, lg, &p, hs_rng_uniform(3, "p", i));
        assert_true(t == 1 || t == 3);
    }
    /* u walks the cumulative distribution: u=0 gives the most probable */
    p.top_p = 1.0f;
    assert_int_equal(hs_sample(&smp, lg, &p, 0.0), 1);
    assert_int_equal(hs_sample(&smp, lg, &p, 0.999999), 4);
    hs_sampler_free(&smp);
    p.top_p = 0.0f;
    assert_int_equal(hs_sample_params_check(&p), HS_EINPUT);
}

/* Greedy sampling's argmax (hs_argmax: 8 lanes at a time from 16 logits) against the plain loop:
 * lengths around the vector block and a vocabulary's, the maximum at every position,
 * the maximum twice (the first wins), +0/-0 ties, NaN anywhere. */
static int32_t argmax_ref(const float *x, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static void test_greedy_argmax(void **state)
{
    (void)state;
    enum { N = 4099 };
    hs_sample_params p;
    hs_sample_params_default(&p);
    float *x = malloc(N * sizeof(float));
    assert_non_null(x);
    static const int lens[] = {1, 2, 7, 8, 15, 16, 17, 23, 24, 31, 64, 100, 4096, 4099};
    for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
        int n = lens[l];
        hs_sampler smp; /* greedy sampling reads the sampler's vocabulary of n logits */
        assert_int_equal(hs_sampler_init(&smp, n), HS_OK);
        for (int at = 0; at < n; at += n > 100 ? 97 : 1) {
            for (int i = 0; i < n; i++) x[i] = (float)hs_rng_uniform(5, "g", (uint64_t)(i + 7 * n)) - 2.0f;
            x[at] = 1.5f;
            assert_int_equal(hs_sample(&smp, x, &p, 0.5), argmax_ref(x, n));
            x[(at * 7 + 3) % n] = 1.5f; /* a second maximum, before or after */
            assert_int_equal(hs_sample(&smp, x, &p, 0.5), argmax_ref(x, n));
            for (int i = 0; i < n; i++) x[i] = -1.0f - x[i] * x[i];
            x[at] = -0.0f, x[(at * 5 + 1) % n] = 0.0f; /* zero ties as the maximum */
            assert_int_equal(hs_sample(&smp, x, &p, 0.5), argmax_ref(x, n));
            x[(at * 3 + 2) % n] = NAN;
            assert_int_equal(hs_sample(&smp, x, &p, 0.5), argmax_ref(x, n));
            assert_int_equal(hs_argmax(x, n), argmax_ref(x, n)); /* the same pick, called alone */
        }
        hs_sampler_free(&smp);
    }
    free(x);
}

/* top-k through quickselect equals a straightforward full-sort implementation. */
static int ref_cmp_desc(const void *a, const void *b)
{
    const float *x = a, *y = b; /* (prob, index) pairs */
    if (x[0] != y[0]) return x[0] > y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static void test_top_k_matches_full_sort(void **state)
{
    enum { V = 997, K = 37 };
    float lg[V], pairs[V][2], prob[V];
    for (int i = 0; i < V; i++) lg[i] = (float)((i * 7919) % 1009) / 97.0f + (i % 13 == 0 ? 2.0f : 0.0f);
    hs_sampler smp;
    assert_int_equal(hs_sampler_init(&smp, V), HS_OK);
    hs_sample_params p;
    hs_sample_params_default(&p);
    p.temperature = 0.7f;
    p.top_k = K;
    float mx = lg[0];
    for (int i = 1; i < V; i++) mx = fmaxf(mx, lg[i]);
    double sum = 0;
    for (int i = 0; i < V; i++) sum += (prob[i] = expf((lg[i] - mx) / p.temperature));
    for (int i = 0; i < V; i++) pairs[i][0] = (float)(prob[i] / sum), pairs[i][1] = (float)i;
    qsort(pairs, V, sizeof pairs[0], ref_cmp_desc);
    double total = 0;
    for (int i = 0; i < K; i++) total += pairs[i][0];
    for (int step = 0; step < 1000; step++) {
        double u = step / 1000.0, acc = 0;
        int want = (int)pairs[K - 1][1];
        for (int i = 0; i < K; i++) {
            acc += pairs[i][0];
            if (acc > u * total) {
                want = (int)pairs[i][1];
                break;
            }
        }
        assert_int_equal(hs_sample(&smp, lg, &p, u), want);
    }
    hs_sampler_free(&smp);
}

static void test_lexical(void **state)
{
    int32_t ids[8] = {1, 2, 3, 1, 2, 3, 1, 2};
    hs_lexical lx;
    hs_lexical_ids(ids, 8, &lx);
    assert_true(fabs(lx.distinct1 - 3.0 / 8) < 1e-12);
    assert_true(fabs(lx.distinct2 - 3.0 / 7) < 1e-12); /* 12 23 31 12 23 31 12 */
    /* 4-grams: 1231 2312 3123 1231(rep) 2312(rep) -> 2 of 5 */
    assert_true(fabs(lx.repetition - 2.0 / 5) < 1e-12);
    hs_lexical_ids(ids, 1, &lx);
    assert_true(isnan(lx.distinct2) && isnan(lx.repetition));
    assert_true(fabs(hs_lexical_ttr("the cat the  dog\n", 17) - 3.0 / 4) < 1e-12);
    assert_true(isnan(hs_lexical_ttr("   ", 3)));
}

/* The windowed NLL of a long sequence equals a hand-rolled per-token computation
 * using the same windows, and the short-sequence path equals stepwise decode. */
static void test_nll(void **state)
{
    hs_model m;
    assert_int_equal(hs_model_load(&m, g_dir, NULL), HS_OK);
    int V = m.cfg.vocab_size, n = 40;
    int32_t ids[300];
    for (int i = 0; i < 300; i++) ids[i] = (i * 31 + 7) % V;
    hs_ctx *c;
    assert_int_equal(hs_ctx_init(&c, &m, 64, HS_GATING_MASK), HS_OK);
    double sum;
    int count;
    assert_int_equal(hs_eval_nll(c, NULL, NULL, ids, n, 10, &sum, &count), HS_OK);
    assert_int_equal(count, 30);
    /* stepwise: feed one token at a time and score the next */
    float *lg = malloc((size_t)V * sizeof(float));
    double ref = 0;
    hs_ctx_reset(c);
    for (int t = 0; t < n - 1; t++) {
        assert_int_equal(hs_ctx_forward(c, &ids[t], 1, lg, 0), HS_OK);
        if (t + 1 >= 10) {
            double mx = lg[0], z = 0;
            for (int v = 1; v < V; v++) mx = fmax(mx, lg[v]);
            for (int v = 0; v < V; v++) z += exp(lg[v] - mx);
            ref += log(z) - (lg[ids[t + 1]] - mx);
        }
    }
    assert_true(fabs(sum - ref) < 1e-3 * fabs(ref));
    /* a sequence of 300 tokens in a 64-token context: every token after the first
     * scored exactly once */
    assert_int_equal(hs_eval_nll(c, NULL, NULL, ids, 300, 1, &sum, &count), HS_OK);
    assert_int_equal(count, 299);
    assert_true(isfinite(sum) && sum > 0);
    assert_int_equal(hs_eval_nll(c, NULL, NULL, ids, 10, 10, &sum, &count), HS_EINPUT);
    free(lg);
    hs_ctx_free(c);
    hs_model_free(&m);
}

static void test_runner(void **state)
{
    hs_model m;
    hs_tokenizer *tok;
    assert_int_equal(hs_model_load(&m, g_dir, NULL), HS_OK);
    assert_int_equal(hs_tokenizer_load(&tok, g_dir), HS_OK);
    int LH = m.cfg.n_layer * m.cfg.n_head;
    float gates[64];
    for (int i = 0; i < LH; i++) gates[i] = i % 2 ? 0.0f : 1.0f;
    hs_runner_config rc = {.model = &m, .tok = tok, .mode = HS_GATING_SKIP, .agency_on = 1, .gates = gates,
                           .max_t = 96, .measure_unpruned_ppl = 1};
    hs_agency_params_default(&rc.agency);
    hs_sample_params_default(&rc.sample);
    rc.sample.max_new = 12;
    rc.sample.temperature = 0.9f;
    hs_runner *r;
    assert_int_equal(hs_runner_init(&r, &rc), HS_OK);
    hs_prompt p = {.id = "a-1", .prompt = "the cat sat on the mat", .reference = " and then it slept", .line = 1};
    double m1[HS_M_COUNT], m2[HS_M_COUNT];
    int32_t g1[12], g2[12];
    int64_t occ[64 * HS_AG_NSTATES];
    assert_int_equal(hs_runner_eval(r, &p, m1, g1, occ, NULL), HS_OK);
    assert_int_equal(hs_runner_eval(r, &p, m2, g2, occ, NULL), HS_OK);
    /* quality metrics are exact functions of (model, prompt, seed): equal on re-run */
    for (int i = 0; i < HS_M_COUNT; i++)
        if (!hs_metrics[i].timing) assert_true((isnan(m1[i]) && isnan(m2[i])) || m1[i] == m2[i]);
    assert_memory_equal(g1, g2, sizeof g1);
    assert_true(m1[HS_M_LIVE_HEADS] == LH / 2);
    assert_true(m1[HS_M_REFERENCE_PPL] > 1 && isfinite(m1[HS_M_REFERENCE_PPL]));
    assert_true(m1[HS_M_GENERATION_S] > 0 && m1[HS_M_PEAK_RSS] > 0);
    int64_t withdrawn = 0;
    for (int i = 0; i < LH; i++) withdrawn += occ[i * HS_AG_NSTATES + HS_AG_WITHDRAWN];
    assert_true(withdrawn > 0);
    hs_runner_free(r);
    hs_tokenizer_free(tok);
    hs_model_free(&m);
}

/* Throughput mode gives every prompt exactly its one-at-a-time tokens, with refills,
 * early end-of-text stops, pruned skip-mode gates and agency running per slot. */
static void batch_vs_single(int with_agency)
{
    enum { P = 7, S = 3, MAXNEW = 10 };
    hs_model m;
    assert_int_equal(hs_model_load(&m, g_dir, NULL), HS_OK);
    int LH = m.cfg.n_layer * m.cfg.n_head;
    float gates[64];
    for (int i = 0; i < LH; i++) gates[i] = (i % 3 == 2) ? 0.0f : 1.0f;
    hs_sample_params sp;
    hs_sample_params_default(&sp);
    sp.max_new = MAXNEW;
    sp.temperature = 0.9f;
    sp.top_k = 50;
    hs_agency_params ap;
    hs_agency_params_default(&ap);
    ap.overload_threshold = 0.02f; /* make states actually change on a random model */
    ap.alignment_threshold = 0.05f;
    ap.recovery_steps = 3;
    int32_t prompt_mem[P][20], n_prompt[P];
    const int32_t *prompts[P];
    const char *ids[P] = {"a", "b", "c", "d", "e", "f", "g"};
    for (int i = 0; i < P; i++) {
        n_prompt[i] = 2 + 3 * i;
        for (int t = 0; t < n_prompt[i]; t++) prompt_mem[i][t] = (int32_t)((t * 17 + i * 131 + 3) % m.cfg.vocab_size);
        prompts[i] = prompt_mem[i];
    }
    hs_ctx *ctx[S];
    hs_agency ag[S];
    float sm[S][4][64];
    int rows[S][64];
    hs_head_stats st[S];
    for (int k = 0; k < S; k++) {
        assert_int_equal(hs_ctx_init(&ctx[k], &m, 40, HS_GATING_SKIP), HS_OK);
        assert_int_equal(hs_ctx_set_gates(ctx[k], gates), HS_OK);
        st[k] = (hs_head_stats){sm[k][0], sm[k][1], rows[k], sm[k][2]};
        if (with_agency) {
            assert_int_equal(hs_agency_init(&ag[k], m.cfg.n_layer, m.cfg.n_head, &ap), HS_OK);
            assert_int_equal(hs_ctx_collect_stats(ctx[k], &st[k]), HS_OK);
        }
    }
    int32_t gen_mem[P][MAXNEW], solo_mem[MAXNEW];
    hs_generation out[P];
    for (int i = 0; i < P; i++) out[i] = (hs_generation){.ids = gen_mem[i]};
    hs_sampler smp;
    assert_int_equal(hs_sampler_init(&smp, m.cfg.vocab_size), HS_OK);
    /* end of text = the 4th token prompt 0 generates, so some generations stop early */
    int32_t probe_mem[MAXNEW];
    hs_generation probe = {.ids = probe_mem};
    assert_int_equal(hs_generate(ctx[0], with_agency ? &ag[0] : NULL, with_agency ? &st[0] : NULL, &smp, prompts[0],
                                 n_prompt[0], 0, &sp, ids[0], -1, &probe, NULL), HS_OK);
    int eot = probe_mem[3];
    hs_batch_job job = {.ctx = ctx, .agency = with_agency ? ag : NULL, .stats = with_agency ? st : NULL, .slots = S,
                        .prompts = prompts, .n_prompt = n_prompt, .prompt_ids = ids, .count = P, .params = &sp,
                        .eot = eot, .out = out};
    assert_int_equal(hs_generate_batch(&job, &smp), HS_OK);
    int stopped = 0;
    long long transitions = 0;
    for (int i = 0; i < P; i++) {
        hs_generation solo = {.ids = solo_mem};
        assert_int_equal(hs_generate(ctx[0], with_agency ? &ag[0] : NULL, with_agency ? &st[0] : NULL, &smp, prompts[i],
                                     n_prompt[i], 0, &sp, ids[i], eot, &solo, NULL), HS_OK);
        assert_int_equal(solo.n, out[i].n);
        assert_int_equal(solo.hit_eot, out[i].hit_eot);
        assert_memory_equal(solo.ids, out[i].ids, (size_t)solo.n * sizeof(int32_t));
        stopped += solo.hit_eot || solo.n < MAXNEW;
        if (with_agency)
            for (int h = 0; h < LH; h++) transitions += ag[0].transitions[h];
    }
    fprintf(stderr, "batch test: %d of %d prompts stopped early, %lld agency transitions\n", stopped, P,
            (long long)transitions);
    if (with_agency) assert_true(transitions > 0); /* the state machine really acted */
    assert_true(stopped > 0);                      /* and refills happened mid-batch */
    for (int k = 0; k < S; k++) {
        if (with_agency) hs_agency_free(&ag[k]);
        hs_ctx_free(ctx[k]);
    }
    hs_sampler_free(&smp);
    hs_model_free(&m);
}

static void test_generate_batch_identical(void **state)
{
    batch_vs_single(0);
    batch_vs_single(1);
}

/* hs_runner_eval_batch gives every prompt exactly hs_runner_eval's quality metrics,
 * tokens and agency occupancy, for each gating/agency combination and batch size
 * (1, a batch smaller than the prompts so slots refill, one larger than them). */
static void runner_batch_case(const hs_model *m, const hs_tokenizer *tok, hs_gating mode, int agency, int batch)
{
    enum { P = 7, MAXNEW = 9 };
    int LH = m->cfg.n_layer * m->cfg.n_head;
    float gates[64];
    for (int i = 0; i < LH; i++) gates[i] = (i % 3 == 1) ? 0.0f : 1.0f;
    hs_runner_config rc = {.model = m, .tok = tok, .mode = mode, .agency_on = agency, .gates = gates,
                           .max_t = 96, .measure_unpruned_ppl = 1, .batch = batch};
    hs_agency_params_default(&rc.agency);
    rc.agency.overload_threshold = 0.02f; /* states change on a random model */
    rc.agency.alignment_threshold = 0.05f;
    rc.agency.recovery_steps = 3;
    hs_sample_params_default(&rc.sample);
    rc.sample.max_new = MAXNEW;
    rc.sample.temperature = 0.9f;
    static const char *text[P] = {"the cat sat on the mat", "a", "in the beginning was the word",
                                  "and the earth was without form", "so", "light", "and god saw the light"};
    static const char *ref[P] = {" and then it slept", "", " and the word was with god", " and void", NULL,
                                 " be light and there was light and it was good", " that it was good"};
    hs_prompt prompts[P];
    const hs_prompt *pp[P];
    char idbuf[P][16]; /* "p" and any int: gcc -O1 checks the bound */
    for (int i = 0; i < P; i++) {
        snprintf(idbuf[i], sizeof idbuf[i], "p%d", i);
        prompts[i] = (hs_prompt){.id = idbuf[i], .prompt = (char *)text[i], .reference = (char *)ref[i], .line = i + 1};
        pp[i] = &prompts[i];
    }
    hs_runner *r;
    assert_int_equal(hs_runner_init(&r, &rc), HS_OK);
    double mb[P][HS_M_COUNT], ms[HS_M_COUNT];
    int32_t gb[P][MAXNEW], gs[MAXNEW];
    int64_t ob[64 * HS_AG_NSTATES], os[64 * HS_AG_NSTATES], osum[64 * HS_AG_NSTATES] = {0};
    int64_t tb[64], ts[64], tsum[64] = {0};
    assert_int_equal(hs_runner_eval_batch(r, pp, P, &mb[0][0], &gb[0][0], ob, tb), HS_OK);
    for (int i = 0; i < P; i++) {
        assert_int_equal(hs_runner_eval(r, pp[i], ms, gs, os, ts), HS_OK);
        for (int j = 0; j < LH * HS_AG_NSTATES; j++) osum[j] += os[j];
        for (int j = 0; j < LH; j++) tsum[j] += ts[j];
        assert_memory_equal(gs, gb[i], sizeof gs);
        for (int k = 0; k < HS_M_COUNT; k++) {
            if (hs_metrics[k].timing) continue;
            if (!((isnan(ms[k]) && isnan(mb[i][k])) || ms[k] == mb[i][k]))
                fail_msg("mode %d agency %d batch %d prompt %d: %s %.17g (batch) vs %.17g (alone)", mode, agency, batch,
                         i, hs_metrics[k].name, mb[i][k], ms[k]);
        }
        assert_true(isnan(mb[i][HS_M_GENERATION_S]) && isnan(mb[i][HS_M_CPU_USER_S]) && mb[i][HS_M_PEAK_RSS] > 0);
    }
    assert_true(isfinite(mb[0][HS_M_REFERENCE_PPL]) && isnan(mb[4][HS_M_REFERENCE_PPL]));
    assert_memory_equal(osum, ob, (size_t)LH * HS_AG_NSTATES * sizeof(int64_t));
    assert_memory_equal(tsum, tb, (size_t)LH * sizeof(int64_t));
    int64_t moves = 0;
    for (int j = 0; j < LH; j++) moves += tb[j];
    assert_true(agency ? moves > 0 : moves == 0); /* thresholds set above make states change */
    hs_runner_free(r);
}

static void test_runner_batch_identical(void **state)
{
    hs_model m;
    hs_tokenizer *tok;
    assert_int_equal(hs_model_load(&m, g_dir, NULL), HS_OK);
    assert_int_equal(hs_tokenizer_load(&tok, g_dir), HS_OK);
    static const int batches[] = {1, 3, 16};
    for (int b = 0; b < 3; b++) {
        runner_batch_case(&m, tok, HS_GATING_MASK, 0, batches[b]);
        runner_batch_case(&m, tok, HS_GATING_SKIP, 0, batches[b]);
        runner_batch_case(&m, tok, HS_GATING_SKIP, 1, batches[b]);
    }
    hs_tokenizer_free(tok);
    hs_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_keyed),   cmocka_unit_test(test_sampling_rules),
        cmocka_unit_test(test_top_k_matches_full_sort), cmocka_unit_test(test_greedy_argmax),
        cmocka_unit_test(test_lexical),     cmocka_unit_test(test_nll),
        cmocka_unit_test(test_runner),      cmocka_unit_test(test_generate_batch_identical),
        cmocka_unit_test(test_runner_batch_identical),
    };
    return cmocka_run_group_tests_name("eval", tests, setup, teardown);
}
