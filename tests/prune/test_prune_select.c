/* test_prune_select.c: the model-free half of src/prune: strategy names, level counts,
 * global and per-layer selection, keep-one-per-layer, tie-breaking, explicit head lists,
 * and the scores file (round trip and every malformed case). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>

#include "headsweep/prune.h"
#include "test_util.h"

/* Scores of an L x H model from a literal array (the struct points into it). */
static hs_head_scores make_scores(int L, int H, double *v)
{
    hs_head_scores sc;
    memset(&sc, 0, sizeof sc);
    sc.L = L, sc.H = H, sc.score = v;
    return sc;
}

static int count_off(const float *g, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) k += g[i] == 0.0f;
    return k;
}

/* Gates as a string of 0/1 per head, layers separated by '|', for readable asserts. */
static const char *gate_string(const float *g, int L, int H)
{
    static char buf[256];
    int k = 0;
    for (int l = 0; l < L; l++) {
        if (l) buf[k++] = '|';
        for (int h = 0; h < H; h++) buf[k++] = g[l * H + h] == 0.0f ? '0' : '1';
    }
    buf[k] = '\0';
    return buf;
}

static void test_strategy_names(void **state)
{
    const char *names[] = {"entropy", "magnitude", "random", "ablation", "gradient", "taylor", "iterative"};
    for (int i = 0; i < 7; i++) {
        hs_strategy s;
        assert_int_equal(hs_strategy_parse(names[i], &s), HS_OK);
        assert_string_equal(hs_strategy_name(s), names[i]);
    }
    hs_strategy s;
    assert_int_equal(hs_strategy_parse("gates", &s), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "gates"));
    assert_int_equal(hs_strategy_parse("Entropy", &s), HS_EINPUT);
    assert_true(hs_strategy_needs_calib(HS_STRATEGY_ENTROPY) && hs_strategy_needs_calib(HS_STRATEGY_ABLATION));
    assert_true(hs_strategy_needs_calib(HS_STRATEGY_GRADIENT) && hs_strategy_needs_calib(HS_STRATEGY_TAYLOR));
    assert_false(hs_strategy_needs_calib(HS_STRATEGY_MAGNITUDE) || hs_strategy_needs_calib(HS_STRATEGY_RANDOM));
}

/* round(p/100 x L x H), DESIGN.md "Pruning". */
static void test_level_counts(void **state)
{
    assert_int_equal(hs_prune_count(0, 12, 12), 0);
    assert_int_equal(hs_prune_count(30, 12, 12), 43);  /* 43.2 */
    assert_int_equal(hs_prune_count(50, 12, 12), 72);
    assert_int_equal(hs_prune_count(70, 12, 12), 101); /* 100.8 */
    assert_int_equal(hs_prune_count(100, 12, 12), 144);
    assert_int_equal(hs_prune_count(30, 6, 8), 14);    /* 14.4, the bundled kjv-gpt2 */
    assert_int_equal(hs_prune_count(70, 6, 8), 34);    /* 33.6 */
    assert_int_equal(hs_prune_count(6.25, 2, 4), 1);   /* 0.5 rounds away from zero */
    assert_int_equal(hs_prune_count(30, 2, 4), 2);     /* 2.4 */
}

static void test_global_vs_per_layer(void **state)
{
    double v[] = {0.1, 0.2, 0.3, 0.4, 5, 6, 7, 8};
    hs_head_scores sc = make_scores(2, 4, v);
    float g[8];
    assert_int_equal(hs_prune_select(&sc, 50, NULL, g), HS_OK);
    assert_string_equal(gate_string(g, 2, 4), "0000|1111");
    hs_select_opts pl = {1, 0};
    assert_int_equal(hs_prune_select(&sc, 50, &pl, g), HS_OK);
    assert_string_equal(gate_string(g, 2, 4), "0011|0011");
    /* per layer: round(25/100 x 4) = 1 per layer, not round(0.25 x 8) = 2 overall */
    assert_int_equal(hs_prune_select(&sc, 25, &pl, g), HS_OK);
    assert_string_equal(gate_string(g, 2, 4), "0111|0111");
    /* per layer rounding: 30% of 4 = 1.2 -> 1 per layer (2 in all; global would be 2) */
    assert_int_equal(hs_prune_select(&sc, 30, &pl, g), HS_OK);
    assert_int_equal(count_off(g, 8), 2);
    assert_int_equal(hs_prune_select(&sc, 0, &pl, g), HS_OK);
    assert_string_equal(gate_string(g, 2, 4), "1111|1111");
}

static void test_keep_one_per_layer(void **state)
{
    double v[] = {0.1, 0.2, 0.3, 0.4, 5, 6, 7, 8};
    hs_head_scores sc = make_scores(2, 4, v);
    float g[8];
    hs_select_opts k1 = {0, 1};
    /* 5 heads: layer 0 keeps 0.3 (its last), the walk goes on into layer 1 */
    assert_int_equal(hs_prune_select(&sc, 62.5, &k1, g), HS_OK);
    assert_string_equal(gate_string(g, 2, 4), "0001|0011");
    assert_int_equal(hs_prune_select(&sc, 75, &k1, g), HS_OK);
    assert_string_equal(gate_string(g, 2, 4), "0001|0001");
    /* 7 of 8 heads cannot leave one per layer */
    assert_int_equal(hs_prune_select(&sc, 87.5, &k1, g), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "keep-one-per-layer"));
    assert_int_equal(hs_prune_select(&sc, 100, NULL, g), HS_OK);
    assert_int_equal(count_off(g, 8), 8);
    hs_select_opts both = {1, 1};
    assert_int_equal(hs_prune_select(&sc, 75, &both, g), HS_OK);
    assert_string_equal(gate_string(g, 2, 4), "0001|0001");
    assert_int_equal(hs_prune_select(&sc, 100, &both, g), HS_EINPUT);
}

/* Equal scores break by (layer, head) index, so every rank picks the same set. */
static void test_ties(void **state)
{
    double same[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    hs_head_scores sc = make_scores(2, 4, same);
    float g[8];
    assert_int_equal(hs_prune_select(&sc, 37.5, NULL, g), HS_OK);
    assert_string_equal(gate_string(g, 2, 4), "0001|1111");
    double part[8] = {2, 1, 1, 2, 1, 2, 2, 1};
    sc.score = part;
    assert_int_equal(hs_prune_select(&sc, 37.5, NULL, g), HS_OK);
    assert_string_equal(gate_string(g, 2, 4), "1001|0111");
    int order[8];
    assert_int_equal(hs_prune_order(&sc, order), HS_OK);
    int want[8] = {1, 2, 4, 7, 0, 3, 5, 6};
    assert_memory_equal(order, want, sizeof want);
    hs_select_opts pl = {1, 0};
    assert_int_equal(hs_prune_select(&sc, 25, &pl, g), HS_OK);
    assert_string_equal(gate_string(g, 2, 4), "1011|0111");
}

/* On arbitrary scores: the count is the level's, levels nest, and (global) no kept head
 * scores below a removed one. */
static void test_selection_properties(void **state)
{
    enum { L = 3, H = 5 };
    double v[L * H];
    uint64_t s = 12345;
    for (int i = 0; i < L * H; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (double)(s >> 40) / 1e3 - (i % 3 == 0 ? 100 : 0);
    }
    v[7] = v[3]; /* one tie */
    hs_head_scores sc = make_scores(L, H, v);
    float prev[L * H], g[L * H];
    for (int i = 0; i < L * H; i++) prev[i] = 1.0f;
    for (int p = 0; p <= 100; p++) {
        assert_int_equal(hs_prune_select(&sc, p, NULL, g), HS_OK);
        assert_int_equal(count_off(g, L * H), hs_prune_count(p, L, H));
        for (int i = 0; i < L * H; i++) {
            if (prev[i] == 0.0f) assert_true(g[i] == 0.0f);
            for (int j = 0; j < L * H; j++)
                if (g[i] == 0.0f && g[j] != 0.0f) assert_true(v[i] <= v[j]);
            assert_true(g[i] == 0.0f || g[i] == 1.0f);
        }
        memcpy(prev, g, sizeof g);
    }
}

static void test_select_bad_input(void **state)
{
    double v[8] = {0};
    hs_head_scores sc = make_scores(2, 4, v);
    float g[8];
    int order[8];
    assert_int_equal(hs_prune_select(&sc, -1, NULL, g), HS_EINPUT);
    assert_int_equal(hs_prune_select(&sc, 100.5, NULL, g), HS_EINPUT);
    assert_int_equal(hs_prune_select(&sc, NAN, NULL, g), HS_EINPUT);
    v[5] = NAN;
    assert_int_equal(hs_prune_select(&sc, 50, NULL, g), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "1.1"));
    assert_int_equal(hs_prune_order(&sc, order), HS_EINPUT);
    v[5] = INFINITY;
    assert_int_equal(hs_prune_order(&sc, order), HS_EINPUT);
    hs_head_scores empty = make_scores(0, 0, NULL);
    assert_int_equal(hs_prune_select(&empty, 50, NULL, g), HS_EINPUT);
}

static void test_heads_parse(void **state)
{
    float g[8];
    for (int i = 0; i < 8; i++) g[i] = 1.0f;
    assert_int_equal(hs_heads_parse("0.1,1.3", 2, 4, g), HS_OK);
    assert_string_equal(gate_string(g, 2, 4), "1011|1110");
    assert_int_equal(hs_heads_parse(" 1.0 , 0.1,,", 2, 4, g), HS_OK);
    assert_string_equal(gate_string(g, 2, 4), "1011|0110");
    assert_int_equal(hs_heads_parse("", 2, 4, g), HS_OK);
    const char *bad[] = {"2.0", "0.4", "a.b", "1", "1.", ".1", "1.2x", "1.2.3", "-1.0", "1.-1", "0;1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(hs_heads_parse(bad[i], 2, 4, g), HS_EINPUT);
        assert_non_null(strstr(hs_err_msg(), bad[i]));
    }
    assert_non_null(strstr((hs_heads_parse("5.1", 2, 4, g), hs_err_msg()), "does not exist"));
}

/* ---- scores file ---- */

static char *g_dir;

static int setup(void **state)
{
    g_dir = tu_mkdtemp("prune-select");
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static const char SHA_A[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static hs_head_scores sample_scores(double *v, hs_strategy s, uint64_t seed)
{
    hs_head_scores sc = make_scores(2, 3, v);
    sc.strategy = s;
    sc.seed = seed;
    snprintf(sc.calibration, sizeof sc.calibration, "jobs/prompts/kjv \"calib\".jsonl");
    snprintf(sc.calibration_sha256, sizeof sc.calibration_sha256, "%s", SHA_A);
    snprintf(sc.model_sha256, sizeof sc.model_sha256, "%s", SHA_A);
    sc.n_prompts = 17;
    return sc;
}

static void assert_same_scores(const hs_head_scores *a, const hs_head_scores *b)
{
    assert_int_equal(a->L, b->L);
    assert_int_equal(a->H, b->H);
    assert_int_equal(a->strategy, b->strategy);
    assert_true(a->seed == b->seed);
    assert_string_equal(a->calibration, b->calibration);
    assert_string_equal(a->calibration_sha256, b->calibration_sha256);
    assert_string_equal(a->model_sha256, b->model_sha256);
    assert_int_equal(a->n_prompts, b->n_prompts);
    assert_memory_equal(a->score, b->score, (size_t)a->L * a->H * sizeof(double));
}

static void test_save_load_roundtrip(void **state)
{
    double v[6] = {1.0 / 3.0, -1e-300, 1e300, 0.1, -0.0 + 2.5e-7, 6.02214076e23};
    uint64_t seeds[] = {0, 42, (uint64_t)INT64_MAX, UINT64_MAX};
    char *path = tu_join(g_dir, "rt.json");
    for (size_t i = 0; i < 4; i++) {
        hs_head_scores sc = sample_scores(v, (hs_strategy)(i % 4), seeds[i]), back;
        assert_int_equal(hs_scores_save(&sc, path), HS_OK);
        assert_int_equal(hs_scores_load(&back, path), HS_OK);
        assert_same_scores(&sc, &back);
        hs_scores_free(&back);
        assert_null(back.score);
    }
    free(path);
}

static void test_save_rejects_nonfinite(void **state)
{
    double v[6] = {1, 2, NAN, 4, 5, 6};
    hs_head_scores sc = sample_scores(v, HS_STRATEGY_ENTROPY, 0);
    char *path = tu_join(g_dir, "nan.json");
    assert_int_equal(hs_scores_save(&sc, path), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "0.2"));
    assert_int_equal(access(path, F_OK), -1);
    char *bad_dir = tu_join(g_dir, "no/such/dir.json");
    v[2] = 3;
    assert_int_equal(hs_scores_save(&sc, bad_dir), HS_EINPUT); /* a user mistake: hs_out_path_check */
    assert_non_null(strstr(hs_err_msg(), "no/such"));
    free(bad_dir);
    free(path);
}

/* A valid scores document that each malformed case then edits. */
static json_t *valid_doc(void)
{
    json_t *d = json_pack("{s:s, s:i, s:s, s:i, s:i, s:i, s:[[f,f,f],[f,f,f]], s:s, s:s, s:s, s:i}",
                          "format", "headsweep-head-scores", "version", 1, "strategy", "entropy",
                          "seed", 3, "L", 2, "H", 3, "scores", 0.1, 0.2, 0.3, 0.4, 0.5, 0.6,
                          "calibration", "c.jsonl", "calibration_sha256", SHA_A, "model_sha256",
                          SHA_A, "n_prompts", 4);
    assert_non_null(d);
    return d;
}

typedef struct {
    const char *key;   /* top-level key to replace (NULL: delete `del`) */
    const char *json;  /* its new value as JSON text; NULL deletes the key */
    const char *expect;/* substring of the message */
} doc_edit;

static hs_status load_text(const char *name, const char *text, hs_head_scores *sc)
{
    char *path = tu_join(g_dir, name);
    assert_int_equal(tu_write(path, text, strlen(text)), 0);
    hs_status st = hs_scores_load(sc, path);
    if (st) {
        assert_non_null(strstr(hs_err_msg(), name)); /* every message names the file */
        assert_null(sc->score);
    }
    free(path);
    return st;
}

static void check_edit(const doc_edit *e)
{
    json_t *d = valid_doc();
    if (e->json) {
        json_error_t err;
        json_t *v = json_loads(e->json, JSON_DECODE_ANY, &err);
        assert_non_null(v);
        assert_int_equal(json_object_set_new(d, e->key, v), 0);
    } else {
        assert_int_equal(json_object_del(d, e->key), 0);
    }
    char *text = json_dumps(d, 0);
    json_decref(d);
    hs_head_scores sc;
    hs_status st = load_text("edited.json", text, &sc);
    if (st != HS_EINPUT || !strstr(hs_err_msg(), e->expect))
        fail_msg("edit %s=%s: status %d, message '%s' (want '%s')", e->key, e->json ? e->json : "(deleted)",
                 st, hs_err_msg(), e->expect);
    free(text);
}

static void test_load_malformed_fields(void **state)
{
    char longcal[600 + 3];
    longcal[0] = '"';
    memset(longcal + 1, 'x', 600);
    strcpy(longcal + 601, "\"");
    const doc_edit edits[] = {
        {"format", NULL, "format"},
        {"format", "\"other\"", "format"},
        {"version", "2", "version"},
        {"version", "\"1\"", "version"},
        {"strategy", NULL, "strategy"},
        {"strategy", "\"gates\"", "gates"},
        {"strategy", "7", "strategy"},
        {"seed", NULL, "seed"},
        {"seed", "-1", "seed"},
        {"seed", "\"12x\"", "seed"},
        {"seed", "\"99999999999999999999999\"", "seed"},
        {"seed", "1.5", "seed"},
        {"L", NULL, "\"L\""},
        {"L", "0", "\"L\""},
        {"L", "\"2\"", "\"L\""},
        {"L", "3", "L = 3"},
        {"H", "100000", "\"H\""},
        {"H", "4", "H = 4"},
        {"scores", NULL, "scores"},
        {"scores", "{}", "scores"},
        {"scores", "[[0.1, 0.2, 0.3]]", "scores"},
        {"scores", "[[0.1, 0.2, 0.3], [0.4, 0.5]]", "row 1"},
        {"scores", "[[0.1, 0.2, 0.3], 5]", "row 1"},
        {"scores", "[[0.1, \"x\", 0.3], [0.4, 0.5, 0.6]]", "0.1"},
        {"scores", "[[0.1, 0.2, 0.3], [0.4, null, 0.6]]", "1.1"},
        {"scores", "[[0.1, 0.2, 0.3], [0.4, 0.5, true]]", "1.2"},
        {"calibration", NULL, "calibration"},
        {"calibration", "3", "calibration"},
        {"calibration", longcal, "calibration"},
        {"calibration_sha256", "\"abc\"", "calibration_sha256"},
        {"calibration_sha256", "\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"",
         "calibration_sha256"},
        {"model_sha256", "\"\"", "model_sha256"},
        {"model_sha256", NULL, "model_sha256"},
        {"n_prompts", "-1", "n_prompts"},
        {"n_prompts", "0", "n_prompts"}, /* entropy needs calibration prompts */
        {"n_prompts", "2.0", "n_prompts"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) check_edit(&edits[i]);
}

static void test_load_malformed_text(void **state)
{
    const char *texts[][2] = {
        {"", "edited.json:"},
        {"{\"format\": ", "edited.json:"},
        {"[1, 2]", "not a JSON object"},
        {"{\"L\": 1, \"L\": 2}", "duplicate"},
        {"{\"scores\": [[1e999]]}", "edited.json:"},
        {"\"just a string\"", "edited.json:"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        hs_head_scores sc;
        hs_status st = load_text("edited.json", texts[i][0], &sc);
        if (st != HS_EINPUT || !strstr(hs_err_msg(), texts[i][1]))
            fail_msg("text '%s': status %d, message '%s'", texts[i][0], st, hs_err_msg());
    }
    /* a valid document still loads after all that, and magnitude needs no calibration */
    json_t *d = valid_doc();
    json_object_set_new(d, "strategy", json_string("magnitude"));
    json_object_set_new(d, "n_prompts", json_integer(0));
    json_object_set_new(d, "calibration", json_string(""));
    json_object_set_new(d, "calibration_sha256", json_string(""));
    char *text = json_dumps(d, 0);
    json_decref(d);
    hs_head_scores sc;
    assert_int_equal(load_text("ok.json", text, &sc), HS_OK);
    assert_true(sc.score[4] == 0.5 && sc.strategy == HS_STRATEGY_MAGNITUDE && sc.seed == 3);
    hs_scores_free(&sc);
    free(text);
    char *missing = tu_join(g_dir, "missing.json");
    assert_int_not_equal(hs_scores_load(&sc, missing), HS_OK);
    assert_non_null(strstr(hs_err_msg(), "missing.json"));
    free(missing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strategy_names),
        cmocka_unit_test(test_level_counts),
        cmocka_unit_test(test_global_vs_per_layer),
        cmocka_unit_test(test_keep_one_per_layer),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_selection_properties),
        cmocka_unit_test(test_select_bad_input),
        cmocka_unit_test(test_heads_parse),
        cmocka_unit_test(test_save_load_roundtrip),
        cmocka_unit_test(test_save_rejects_nonfinite),
        cmocka_unit_test(test_load_malformed_fields),
        cmocka_unit_test(test_load_malformed_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
