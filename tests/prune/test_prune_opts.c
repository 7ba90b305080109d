/* test_prune_opts.c: the pruning options shared by the subcommands (src/cli/prune_opts.c):
 * option parsing through the option layer (cliopt.h) with HS_PRUNE_LONG_OPTIONS, and the gates they give
 * (explicit lists, levels over computed or saved scores, calibration from prompts, the
 * conflicts and missing inputs that must be exit code 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>

#include "headsweep/fixture.h"
#include "headsweep/prompts.h"
#include "headsweep/prune.h"
#include "prune_opts.h"
#include "test_util.h"

static char *g_dir, *g_model, *g_prompts;

static const char prompts_text[] =
    "{\"id\": \"a\", \"prompt\": \"In the beginning \", \"reference\": \"God created the heaven and the earth.\"}\n"
    "{\"id\": \"b\", \"prompt\": \"And the earth was without form, and void; \", \"reference\": \"and darkness was "
    "upon the face of the deep.\"}\n"
    "{\"id\": \"c\", \"prompt\": \"And God said, Let there be light: and there was light.\"}\n";

static int setup(void **state)
{
    g_dir = tu_mkdtemp("prune-opts");
    if (!g_dir) return -1;
    g_model = tu_join(g_dir, "model");
    g_prompts = tu_join(g_dir, "calib.jsonl");
    if (!g_model || !g_prompts) return -1;
    if (tu_write(g_prompts, prompts_text, sizeof prompts_text - 1)) return -1;
    return hs_model_make_random(g_model, "tiny", 3, "f32") == HS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    tu_rmtree(g_dir);
    free(g_dir);
    free(g_model);
    free(g_prompts);
    return 0;
}

/* Runs the option layer over args with the shared options plus one of the caller's own. */
static int parse(hs_prune_cli *o, int argc, char **argv)
{
    static const struct option opts[] = {HS_PRUNE_LONG_OPTIONS, {"model", required_argument, 0, 'm'}, {0, 0, 0, 0}};
    int c, own = 0, rc;
    hs_opt p;
    hs_cli_prune_init(o);
    hs_opt_init(&p, "test", NULL, "", "", opts);
    p.quiet = 1;
    while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        if (c == HS_OPT_EXIT) return rc;
        int r = hs_cli_prune_parse_opt(&p, o, c, optarg);
        if (r == 2) return 2;
        if (r == 1 && c == 'm') own++;
        else if (r == 1) return 1;
    }
    return own ? 0 : 3;
}

static void test_parse_options(void **state)
{
    char *argv[] = {"x", "--model", "M", "--heads-off", "0.1", "--prune-level", "30", "--strategy", "magnitude",
                    "--scores", "s.json", "--calib", "c.jsonl", "--per-layer", "--keep-one-per-layer",
                    "--prune-seed", "9", NULL};
    hs_prune_cli o;
    assert_int_equal(parse(&o, 17, argv), 0);
    assert_string_equal(o.heads_off, "0.1");
    assert_true(o.prune_level == 30.0);
    assert_string_equal(o.strategy, "magnitude");
    assert_string_equal(o.scores_file, "s.json");
    assert_string_equal(o.calib, "c.jsonl");
    assert_true(o.per_layer && o.keep_one && o.seed == 9);
    assert_true(hs_cli_prune_requested(&o));
    hs_cli_prune_init(&o);
    assert_false(hs_cli_prune_requested(&o));
    assert_true(o.prune_level < 0);
    const char *bad[][2] = {{"--prune-level", "abc"}, {"--prune-level", "-1"}, {"--prune-level", "100.5"},
                            {"--prune-level", "nan"}, {"--strategy", "gates"}, {"--prune-seed", "-3"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *a[] = {"x", (char *)bad[i][0], (char *)bad[i][1], NULL};
        assert_int_equal(parse(&o, 3, a), 2);
    }
    hs_opt p;
    hs_opt_init(&p, "test", NULL, "", "", NULL);
    assert_int_equal(hs_cli_prune_parse_opt(&p, &o, 'q', NULL), 1);
}

static void load(hs_model *m) { assert_int_equal(hs_model_load(m, g_model, NULL), HS_OK); }

static int gates_for(hs_prune_cli *o, float *g)
{
    hs_model m;
    load(&m);
    int rc = hs_cli_prune_gates(o, &m, NULL, g);
    hs_model_free(&m);
    return rc;
}

static void test_gates_lists_and_conflicts(void **state)
{
    hs_prune_cli o;
    float g[8];
    hs_cli_prune_init(&o);
    assert_int_equal(gates_for(&o, g), 0);
    for (int i = 0; i < 8; i++) assert_true(g[i] == 1.0f);
    o.heads_off = "0.1,1.3";
    assert_int_equal(gates_for(&o, g), 0);
    assert_true(g[1] == 0.0f && g[7] == 0.0f && g[0] == 1.0f && g[6] == 1.0f);
    o.heads_off = "0.9";
    assert_int_equal(gates_for(&o, g), 2);
    o.heads_off = "0.1";
    o.prune_level = 50;
    assert_int_equal(gates_for(&o, g), 2); /* both */
    hs_cli_prune_init(&o);
    o.strategy = "random";
    assert_int_equal(gates_for(&o, g), 2); /* strategy without a level */
    hs_cli_prune_init(&o);
    o.keep_one = 1;
    assert_int_equal(gates_for(&o, g), 2);
}

/* The same gates as the library's selection on the same scores. */
static void expect_select(hs_strategy s, uint64_t seed, double pct, int per_layer, const float *got)
{
    hs_model m;
    load(&m);
    hs_head_scores sc;
    hs_score_opts so = {0, 0, seed, NULL, HS_STRATEGY_GRADIENT, 10.0};
    assert_int_equal(hs_scores_compute(&sc, &m, NULL, NULL, s, &so), HS_OK);
    hs_select_opts sel = {per_layer, 0};
    float want[8];
    assert_int_equal(hs_prune_select(&sc, pct, &sel, want), HS_OK);
    assert_memory_equal(got, want, sizeof want);
    hs_scores_free(&sc);
    hs_model_free(&m);
}

static void test_gates_levels(void **state)
{
    hs_prune_cli o;
    float g[8];
    hs_cli_prune_init(&o);
    o.prune_level = 50;
    o.strategy = "magnitude";
    assert_int_equal(gates_for(&o, g), 0);
    expect_select(HS_STRATEGY_MAGNITUDE, 0, 50, 0, g);
    o.strategy = "random";
    o.seed = 5;
    o.per_layer = 1;
    o.calib = "ignored by random.jsonl";
    assert_int_equal(gates_for(&o, g), 0);
    expect_select(HS_STRATEGY_RANDOM, 5, 50, 1, g);
    o.prune_level = 100;
    o.keep_one = 1;
    assert_int_equal(gates_for(&o, g), 2);
}

static void test_gates_scores_file(void **state)
{
    hs_model m;
    load(&m);
    hs_head_scores sc;
    hs_score_opts so = {0, 0, 3, NULL, HS_STRATEGY_GRADIENT, 10.0};
    assert_int_equal(hs_scores_compute(&sc, &m, NULL, NULL, HS_STRATEGY_RANDOM, &so), HS_OK);
    char *path = tu_join(g_dir, "random.json"), *other = tu_join(g_dir, "other.json");
    assert_int_equal(hs_scores_save(&sc, path), HS_OK);
    sc.model_sha256[5] = sc.model_sha256[5] == '0' ? '1' : '0';
    assert_int_equal(hs_scores_save(&sc, other), HS_OK);
    hs_prune_cli o;
    float g[8];
    hs_cli_prune_init(&o);
    o.prune_level = 25;
    o.scores_file = path;
    assert_int_equal(gates_for(&o, g), 0);
    expect_select(HS_STRATEGY_RANDOM, 3, 25, 0, g);
    o.strategy = "random";
    assert_int_equal(gates_for(&o, g), 0);
    o.strategy = "entropy"; /* the file holds random scores */
    assert_int_equal(gates_for(&o, g), 2);
    o.strategy = NULL;
    o.scores_file = other; /* computed for another checkpoint */
    assert_int_equal(gates_for(&o, g), 2);
    o.scores_file = "/nonexistent/scores.json";
    assert_int_not_equal(gates_for(&o, g), 0);
    hs_scores_free(&sc);
    hs_model_free(&m);
    free(path);
    free(other);
}

/* --calib: entropy scores computed on the prompts (prompt + reference text). */
static void test_gates_calibration(void **state)
{
    hs_model m;
    load(&m);
    hs_tokenizer *tok;
    hs_prompt_set set;
    hs_head_scores sc;
    assert_int_equal(hs_tokenizer_load(&tok, g_model), HS_OK);
    assert_int_equal(hs_prompts_load(&set, g_prompts), HS_OK);
    assert_int_equal(hs_scores_compute(&sc, &m, tok, &set, HS_STRATEGY_ENTROPY, NULL), HS_OK);
    assert_int_equal(sc.n_prompts, 3);
    assert_string_equal(sc.calibration, g_prompts);
    assert_string_equal(sc.calibration_sha256, set.sha256);
    float want[8], g[8];
    assert_int_equal(hs_prune_select(&sc, 30, NULL, want), HS_OK);
    hs_prune_cli o;
    hs_cli_prune_init(&o);
    o.prune_level = 30;
    o.calib = g_prompts;
    assert_int_equal(hs_cli_prune_gates(&o, &m, tok, g), 0); /* the caller's tokenizer */
    assert_memory_equal(g, want, sizeof want);
    assert_int_equal(gates_for(&o, g), 0); /* a tokenizer loaded from the model */
    assert_memory_equal(g, want, sizeof want);
    o.calib = "/nonexistent/calib.jsonl";
    assert_int_not_equal(gates_for(&o, g), 0);
    hs_scores_free(&sc);
    hs_prompts_free(&set);
    hs_tokenizer_free(tok);
    hs_model_free(&m);
}

/* Without --scores or --calib, and no default calibration set in the current directory. */
static void test_gates_no_calibration(void **state)
{
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(g_dir), 0);
    hs_prune_cli o;
    float g[8];
    hs_cli_prune_init(&o);
    o.prune_level = 30;
    int rc_entropy = gates_for(&o, g);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", hs_err_msg());
    o.strategy = "ablation";
    int rc_ablation = gates_for(&o, g);
    o.strategy = "magnitude"; /* needs no calibration */
    int rc_magnitude = gates_for(&o, g);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc_entropy, 2);
    assert_non_null(strstr(msg, "--scores"));
    assert_non_null(strstr(msg, "--calib"));
    assert_int_equal(rc_ablation, 2);
    assert_int_equal(rc_magnitude, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_options),
        cmocka_unit_test(test_gates_lists_and_conflicts),
        cmocka_unit_test(test_gates_levels),
        cmocka_unit_test(test_gates_scores_file),
        cmocka_unit_test(test_gates_calibration),
        cmocka_unit_test(test_gates_no_calibration),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
