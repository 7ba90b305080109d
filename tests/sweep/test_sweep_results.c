/* test_sweep_results.c: the results file without a model: create, reopen, write and read
 * cells, done flags and run stamps; refusal of other studies, non-HDF5 files, foreign
 * HDF5 files and existing paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "sweep_impl.h"
#include "test_util.h"

static char *dir;
static hs_job job;
static hs_grid grid;
static char *study;
static const hs_study_inputs inputs = {"model-sha",   "config-sha", "vocab-sha", "merges-sha",
                                        "prompts-sha", "calib-sha",  7,           "", NULL, NULL};

static int setup(void **state)
{
    dir = tu_mkdtemp("results");
    if (!dir || chdir(dir) != 0) return -1;
    mkdir("m", 0777);
    if (tu_write("m/config.json", "{}", 2) || tu_write("p.jsonl", "{}\n", 3) || tu_write("c.jsonl", "{}\n", 3))
        return -1;
    const char *text =
        "[job]\nmodel = m\nprompts = p.jsonl\nshards = 3\n[pruning]\ncalibration = c.jsonl\nlevels = 0, 50\n"
        "[generation]\nmax_new_tokens = 5\n";
    if (hs_job_parse(&job, "t.ini", text, NULL, 0)) return -1;
    /* generated texts of up to 15 bytes */
    grid = (hs_grid){job.n_variants, job.n_levels, job.shards, inputs.n_prompts, 2, 3, job.sample.max_new, 0, 16};
    study = hs_study_text(&job, &inputs);
    return study ? 0 : -1;
}

static int teardown(void **state)
{
    free(study);
    hs_job_free(&job);
    if (chdir("/") != 0) return -1;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

static void create(const char *path)
{
    /* variants 0 and 1 share entropy scores, variant 2 has its own (magnitude) */
    static double score[6] = {0.5, 0.1, 0.9, 0.3, 0.2, 0.8}, score2[6] = {1, 2, 3, 4, 5, 6};
    hs_head_scores sc[3] = {{.L = 2, .H = 3, .score = score, .strategy = HS_STRATEGY_ENTROPY, .n_prompts = 4},
                            {.L = 2, .H = 3, .score = score, .strategy = HS_STRATEGY_ENTROPY, .n_prompts = 4},
                            {.L = 2, .H = 3, .score = score2, .strategy = HS_STRATEGY_MAGNITUDE}};
    snprintf(sc[0].calibration, sizeof sc[0].calibration, "c.jsonl");
    float gates[3 * 2 * 6]; /* (variant, level, L*H): levels 0 and 50% */
    for (int i = 0; i < 36; i++) gates[i] = 1.0f;
    gates[7] = gates[10] = gates[12 + 7] = gates[12 + 10] = 0.0f; /* entropy 50%: 0.1 and 0.2 */
    gates[24 + 6] = gates[24 + 7] = gates[24 + 8] = 0.0f;          /* magnitude 50%: 1, 2, 3 */
    const char *ids[7] = {"a", "b", "c", "d", "e", "f", "g"};
    hs_results_spec spec = {.grid = grid, .study = study, .inputs = &inputs, .prompt_ids = ids, .prompt_text = ids,
                            .scores = sc, .gates = gates};
    assert_int_equal(hs_job_results_view(&job, &spec.job), HS_OK);
    assert_int_equal(hs_results_create(path, &spec), HS_OK);
    hs_job_results_view_free(&spec.job);
}

static void fill_cell(hs_cell_result *c, int64_t index, double base)
{
    hs_cell cell = hs_grid_cell(&grid, index);
    assert_int_equal(hs_cell_result_init(c, &grid, hs_grid_shard_size(&grid, cell.shard)), HS_OK);
    hs_grid_shard_prompts(&grid, cell.shard, c->prompt);
    c->index = index;
    /* distinct values, each within what its metric can record (a reader refuses the rest) */
    for (int i = 0; i < c->n * HS_M_COUNT; i++)
        c->metrics[i] = hs_metrics[i % HS_M_COUNT].hi <= 1 ? (base + i) / (base + 1e4) : base + i;
    for (int i = 0; i < c->n * grid.max_new; i++) c->gen_ids[i] = (int32_t)(base + i);
    for (int i = 0; i < grid.n_layers * grid.n_heads * HS_AG_NSTATES; i++) c->occupancy[i] = (int64_t)base * 10 + i;
    for (int i = 0; i < grid.n_layers * grid.n_heads; i++) c->transitions[i] = (int64_t)base * 3 + i;
    for (int j = 0; j < c->n; j++)
        snprintf(c->text + j * 16, 16, "t%u \xC3\xA9\n%u", (unsigned)base % 1000u, (unsigned)j % 100u);
    c->seconds = 2.25;
    c->rank = 1;
    c->run = 1;
    snprintf(c->host, sizeof c->host, "node1");
    hs_utc_now(c->finished_utc);
}

static void test_create_open(void **state)
{
    create("r1.h5");
    hs_results *r;
    assert_int_equal(hs_results_open(&r, "r1.h5", 0), HS_OK);
    const hs_grid *g = hs_results_grid(r);
    assert_int_equal(g->n_variants, 3);
    assert_int_equal(g->n_levels, 2);
    assert_int_equal(g->n_shards, 3);
    assert_int_equal(g->n_prompts, 7);
    assert_int_equal(g->n_layers, 2);
    assert_int_equal(g->n_heads, 3);
    assert_int_equal(g->max_new, 5);
    assert_int_equal(g->text_bytes, 16);
    assert_true(hs_results_has_text(r));
    assert_string_equal(hs_results_variant_name(r, 1), "agency");
    assert_true(hs_results_level(r, 1) == 50.0);
    assert_string_equal(hs_results_prompt_id(r, 6), "g");
    assert_string_equal(hs_results_study(r), study);
    assert_int_equal(hs_results_check_study(r, study), HS_OK);
    uint8_t done[18], pruned[3 * 2 * 6];
    assert_int_equal(hs_results_read_done(r, done), HS_OK);
    for (int i = 0; i < 18; i++) assert_int_equal(done[i], 0);
    assert_int_equal(hs_results_read_pruned(r, pruned), HS_OK);
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < 12; i++) assert_int_equal(pruned[v * 12 + i], i == 7 || i == 10);
    for (int i = 0; i < 12; i++) assert_int_equal(pruned[24 + i], i >= 6 && i <= 8); /* per variant */
    hs_head_scores sc;
    assert_int_equal(hs_results_read_scores(r, 0, &sc), HS_OK);
    assert_true(sc.score[2] == 0.9);
    assert_int_equal(sc.strategy, HS_STRATEGY_ENTROPY);
    assert_int_equal(sc.n_prompts, 4);
    assert_string_equal(sc.calibration, "c.jsonl");
    hs_scores_free(&sc);
    assert_int_equal(hs_results_read_scores(r, 2, &sc), HS_OK);
    assert_true(sc.score[0] == 1.0 && sc.score[5] == 6.0);
    assert_int_equal(sc.strategy, HS_STRATEGY_MAGNITUDE); /* its own, not variant 0's */
    hs_scores_free(&sc);
    /* An unwritten cell reads as NaN / -1 / 0. */
    hs_cell_result c;
    assert_int_equal(hs_cell_result_init(&c, g, hs_grid_shard_size(g, 0)), HS_OK);
    c.index = 0;
    assert_int_equal(hs_results_read_cell(r, &c), HS_OK);
    assert_true(isnan(c.metrics[0]) && c.gen_ids[0] == -1 && c.occupancy[0] == 0 && c.rank == -1 && c.run == 0);
    assert_true(hs_results_has_transitions(r) && c.transitions[0] == 0);
    hs_cell_result_free(&c);
    assert_int_equal(hs_results_close(r), HS_OK);
}

/* A study with a mean-ablation variant stores the means it runs with in /heads/means (NaN
 * for the zero-ablation variants) with their provenance, and a resume reads them back;
 * the schema check accepts the file and refuses one whose means lost an attribute. */
static void test_head_means(void **state)
{
    hs_job mj;
    const char *text = "[job]\nmodel = m\nprompts = p.jsonl\nshards = 3\nvariants = baseline, mean\n[pruning]\n"
                       "calibration = c.jsonl\nlevels = 0, 50\n[generation]\nmax_new_tokens = 5\n"
                       "[variant.mean]\nablation = mean\n";
    assert_int_equal(hs_job_parse(&mj, "t.ini", text, NULL, 0), HS_OK);
    hs_grid g = {2, 2, 3, inputs.n_prompts, 2, 3, 5, 2, 0}; /* head_dim 2, no texts */
    char *mstudy = hs_study_text(&mj, &inputs);
    static double score[6] = {0.5, 0.1, 0.9, 0.3, 0.2, 0.8};
    static float mu[12] = {1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, 0.125f}; /* (L 2, H 3, D 2) */
    hs_head_scores sc[2] = {{.L = 2, .H = 3, .score = score, .strategy = HS_STRATEGY_ENTROPY, .n_prompts = 4},
                            {.L = 2, .H = 3, .score = score, .strategy = HS_STRATEGY_ENTROPY, .n_prompts = 4,
                             .means = {.D = 2, .v = mu, .n_prompts = 4, .max_tokens = 64}}};
    snprintf(sc[1].means.calibration, sizeof sc[1].means.calibration, "c.jsonl");
    memset(sc[1].means.calibration_sha256, 'a', 64);
    float gates[2 * 2 * 6];
    for (int i = 0; i < 24; i++) gates[i] = i % 12 < 6 || i % 6 != 1 ? 1.0f : 0.0f;
    const char *ids[7] = {"a", "b", "c", "d", "e", "f", "g"};
    hs_results_spec spec = {.grid = g, .study = mstudy, .inputs = &inputs, .prompt_ids = ids, .scores = sc,
                            .gates = gates};
    assert_int_equal(hs_job_results_view(&mj, &spec.job), HS_OK);
    assert_int_equal(hs_results_create("rm.h5", &spec), HS_OK);
    hs_job_results_view_free(&spec.job);
    hs_results *r;
    assert_int_equal(hs_results_open(&r, "rm.h5", 0), HS_OK);
    assert_int_equal(hs_results_grid(r)->head_dim, 2);
    hs_head_scores got;
    assert_int_equal(hs_results_read_scores(r, 0, &got), HS_OK);
    assert_null(got.means.v); /* zero ablation: NaN row, no means */
    hs_scores_free(&got);
    assert_int_equal(hs_results_read_scores(r, 1, &got), HS_OK);
    assert_non_null(got.means.v);
    assert_int_equal(got.means.D, 2);
    assert_memory_equal(got.means.v, mu, sizeof mu);
    assert_string_equal(got.means.calibration, "c.jsonl");
    assert_int_equal(strlen(got.means.calibration_sha256), 64);
    assert_true(got.means.n_prompts == 4 && got.means.max_tokens == 64);
    hs_scores_free(&got);
    assert_int_equal(hs_results_close(r), HS_OK);
    /* a file whose means lost their provenance is refused by the schema check */
    hid_t f = H5Fopen("rm.h5", H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/heads/means", H5P_DEFAULT);
    assert_true(f >= 0 && d >= 0 && H5Adelete(d, "max_tokens") >= 0);
    H5Dclose(d);
    H5Fclose(f);
    assert_int_equal(hs_results_open(&r, "rm.h5", 0), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "/heads/means attribute max_tokens"));
    free(mstudy);
    hs_job_free(&mj);
}

static void test_write_read_cells(void **state)
{
    create("r2.h5");
    hs_results *r;
    assert_int_equal(hs_results_open(&r, "r2.h5", 1), HS_OK);
    hs_run_info info = {"headsweep sweep t.ini", 2, "node1,node2", "mpi x", "blas y"};
    int run;
    assert_int_equal(hs_results_begin_run(r, &info, &run), HS_OK);
    assert_int_equal(run, 1);
    hs_cell_result a, b;
    fill_cell(&a, 4, 100);
    fill_cell(&b, 17, 200);
    assert_int_equal(hs_results_write_cell(r, &a), HS_OK);
    assert_int_equal(hs_results_write_cell(r, &b), HS_OK);
    assert_int_equal(hs_results_end_run(r), HS_OK);
    assert_int_equal(hs_results_close(r), HS_OK);

    assert_int_equal(hs_results_open(&r, "r2.h5", 1), HS_OK);
    assert_int_equal(hs_results_begin_run(r, &info, &run), HS_OK);
    assert_int_equal(run, 2);
    uint8_t done[18];
    assert_int_equal(hs_results_read_done(r, done), HS_OK);
    for (int i = 0; i < 18; i++) assert_int_equal(done[i], i == 4 || i == 17);
    hs_cell_result *cells[2] = {&a, &b};
    for (int k = 0; k < 2; k++) {
        hs_cell_result c;
        assert_int_equal(hs_cell_result_init(&c, &grid, cells[k]->n), HS_OK);
        c.index = cells[k]->index;
        assert_int_equal(hs_results_read_cell(r, &c), HS_OK);
        assert_memory_equal(c.prompt, cells[k]->prompt, (size_t)c.n * sizeof(int32_t));
        assert_memory_equal(c.metrics, cells[k]->metrics, (size_t)c.n * HS_M_COUNT * sizeof(double));
        assert_memory_equal(c.gen_ids, cells[k]->gen_ids, (size_t)c.n * grid.max_new * sizeof(int32_t));
        assert_memory_equal(c.occupancy, cells[k]->occupancy, 2 * 3 * HS_AG_NSTATES * sizeof(int64_t));
        assert_memory_equal(c.transitions, cells[k]->transitions, 2 * 3 * sizeof(int64_t));
        assert_memory_equal(c.text, cells[k]->text, (size_t)c.n * 16);
        assert_true(c.seconds == 2.25);
        assert_int_equal(c.rank, 1);
        assert_string_equal(c.host, "node1");
        assert_string_equal(c.finished_utc, cells[k]->finished_utc);
        hs_cell_result_free(&c);
    }
    /* Neighbouring cells were not touched. */
    hs_cell_result n;
    assert_int_equal(hs_cell_result_init(&n, &grid, hs_grid_shard_size(&grid, 2)), HS_OK);
    n.index = 5;
    assert_int_equal(hs_results_read_cell(r, &n), HS_OK);
    assert_true(isnan(n.metrics[0]) && n.text[0] == '\0');
    hs_cell_result_free(&n);
    hs_cell_result_free(&a);
    hs_cell_result_free(&b);
    assert_int_equal(hs_results_close(r), HS_OK);
}

static void test_other_study_refused(void **state)
{
    create("r3.h5");
    hs_results *r;
    assert_int_equal(hs_results_open(&r, "r3.h5", 0), HS_OK);
    const char *sets[] = {"generation.seed=99"};
    hs_job other;
    assert_int_equal(hs_job_parse(&other, "t.ini", job.text, sets, 1), HS_OK);
    char *s2 = hs_study_text(&other, &inputs);
    assert_int_equal(hs_results_check_study(r, s2), HS_EINPUT);
    const char *m = hs_err_msg();
    if (!strstr(m, "r3.h5 holds results of a different study") || !strstr(m, "sample_seed = 1234") ||
        !strstr(m, "sample_seed = 99"))
        fail_msg("unexpected message: %s", m);
    free(s2);
    hs_job_free(&other);
    hs_results_close(r);
}

static void test_refusals(void **state)
{
    create("r4.h5");
    double score[6] = {0};
    hs_head_scores sc[3] = {{.L = 2, .H = 3, .score = score}, {.L = 2, .H = 3, .score = score},
                            {.L = 2, .H = 3, .score = score}};
    float gates[36] = {0};
    const char *ids[7] = {"a", "b", "c", "d", "e", "f", "g"};
    hs_results_spec spec = {.grid = grid, .study = study, .inputs = &inputs, .prompt_ids = ids, .prompt_text = ids,
                            .scores = sc, .gates = gates};
    assert_int_equal(hs_job_results_view(&job, &spec.job), HS_OK);
    assert_int_equal(hs_results_create("r4.h5", &spec), HS_EINPUT); /* never overwrites */
    assert_non_null(strstr(hs_err_msg(), "r4.h5 already exists"));

    hs_results *r;
    assert_int_equal(tu_write("junk.h5", "not hdf5 at all", 15), 0);
    assert_int_equal(hs_results_open(&r, "junk.h5", 1), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "junk.h5 is not an HDF5 file"));

    /* HDF5's default format (superblock 0, h5py's default too) has no metadata checksums:
     * refused before the library reads it. */
    hid_t f = H5Fcreate("old.h5", H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    H5Fclose(f);
    assert_int_equal(hs_results_open(&r, "old.h5", 1), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "old.h5: its HDF5 superblock (version 0)"));

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    assert_true(fapl >= 0 && H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) >= 0);
    f = H5Fcreate("plain.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    assert_true(f >= 0);
    H5Fclose(f);
    H5Pclose(fapl);
    assert_int_equal(hs_results_open(&r, "plain.h5", 1), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "plain.h5 is an HDF5 file but not a headsweep results file"));

    /* Creating in a directory that does not exist names the file. */
    assert_int_equal(hs_results_create("no/such/dir/r.h5", &spec), HS_EIO);
    assert_non_null(strstr(hs_err_msg(), "no/such/dir/r.h5"));
    hs_job_results_view_free(&spec.job);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_open),
        cmocka_unit_test(test_write_read_cells),
        cmocka_unit_test(test_head_means),
        cmocka_unit_test(test_other_study_refused),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
