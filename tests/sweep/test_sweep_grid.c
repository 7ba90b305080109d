/* test_sweep_grid.c: cell numbering, prompt shards, job-array slices, the study text
 * (what makes two runs the same study) and the wire format of a finished cell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sys/stat.h>

#include "sweep_impl.h"
#include "test_util.h"

static const hs_grid grid = {3, 4, 5, 23, 2, 4, 6, 0, 9}; /* texts of up to 8 bytes */

static void test_cells_round_trip(void **state)
{
    int64_t n = hs_grid_cells(&grid);
    assert_int_equal(n, 60);
    for (int64_t i = 0; i < n; i++) {
        hs_cell c = hs_grid_cell(&grid, i);
        assert_in_range(c.variant, 0, 2);
        assert_in_range(c.level, 0, 3);
        assert_in_range(c.shard, 0, 4);
        assert_int_equal((c.variant * grid.n_levels + c.level) * grid.n_shards + c.shard, i);
    }
}

/* Shards partition the prompts: each prompt in exactly one shard, ascending inside it. */
static void test_shards_partition(void **state)
{
    int seen[23] = {0}, total = 0;
    for (int s = 0; s < grid.n_shards; s++) {
        int n = hs_grid_shard_size(&grid, s);
        int32_t idx[23];
        hs_grid_shard_prompts(&grid, s, idx);
        for (int j = 0; j < n; j++) {
            assert_int_equal(idx[j] % grid.n_shards, s);
            if (j) assert_true(idx[j] > idx[j - 1]);
            seen[idx[j]]++;
        }
        total += n;
    }
    assert_int_equal(total, 23);
    for (int i = 0; i < 23; i++) assert_int_equal(seen[i], 1);
    hs_grid few = {1, 1, 4, 2, 1, 1, 1, 0, 0};
    assert_int_equal(hs_grid_shard_size(&few, 3), 0);
}

static void test_slices(void **state)
{
    hs_slice s;
    assert_int_equal(hs_slice_parse("2/3", &s), HS_OK);
    assert_int_equal(s.k, 2);
    assert_int_equal(s.n, 3);
    const char *bad[] = {"0/3", "4/3", "3", "a/b", "1/0", "1/3x", "-1/3", "/3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(hs_slice_parse(bad[i], &s), HS_EINPUT);
        assert_non_null(strstr(hs_err_msg(), "K/N"));
    }
    /* The slices of N cover every cell exactly once. */
    for (int64_t i = 0; i < 100; i++) {
        int owners = 0;
        for (int k = 1; k <= 3; k++) owners += hs_slice_has(&(hs_slice){k, 3}, i);
        assert_int_equal(owners, 1);
        assert_true(hs_slice_has(&(hs_slice){0, 0}, i));
    }
}

static char *dir;

/* The interleaved order (docs/timing.md): for 1..9 variants, each row is a permutation;
 * over any hs_order_rows consecutive rows (a full cycle, starting anywhere, as the shard
 * offset does) every variant takes every position equally often, and every ordered pair
 * (a, b), a != b, occurs as "b directly after a" equally often (rows / nv times), which a
 * cyclic rotation fails for 3 or more variants. */
/* Throughput mode's latency sample: k distinct prompts of the cell's n, spread over it (the
 * t-th within one prompt of the t-th n/k-wide stretch), so a file that keeps books together
 * is sampled in every part; k = n is every prompt, k = 1 the middle one. */
static void test_latency_spread(void **state)
{
    for (int n = 1; n <= 40; n++)
        for (int k = 1; k <= n; k++) {
            int prev = -1;
            for (int t = 0; t < k; t++) {
                int j = hs_latency_prompt(t, k, n);
                assert_true(j > prev && j < n);
                assert_true((int64_t)j * k > (int64_t)t * n - k && (int64_t)j * k < (int64_t)(t + 1) * n);
                prev = j;
            }
        }
    assert_int_equal(hs_latency_prompt(0, 1, 24), 12);
    assert_int_equal(hs_latency_prompt(4, 5, 5), 4);
}

static void test_order_balanced(void **state)
{
    (void)state;
    enum { MAXV = 9 };
    for (int nv = 1; nv <= MAXV; nv++) {
        int rows = hs_order_rows(nv);
        assert_int_equal(rows, nv % 2 ? 2 * nv : nv);
        for (int64_t start = 0; start < 2 * rows; start += 3) {
            int at[MAXV][MAXV] = {{0}}, after[MAXV][MAXV] = {{0}};
            for (int64_t row = start; row < start + rows; row++) {
                int seen[MAXV] = {0}, prev = -1;
                for (int pos = 0; pos < nv; pos++) {
                    int v = hs_order_variant(nv, row, pos);
                    assert_in_range(v, 0, nv - 1);
                    assert_int_equal(seen[v]++, 0); /* a permutation */
                    at[v][pos]++;
                    if (prev >= 0) after[prev][v]++;
                    prev = v;
                }
            }
            for (int a = 0; a < nv; a++)
                for (int b = 0; b < nv; b++) {
                    assert_int_equal(at[a][b], rows / nv);
                    assert_int_equal(after[a][b], a == b ? 0 : rows / nv);
                }
        }
    }
}

static int setup(void **state)
{
    dir = tu_mkdtemp("grid");
    if (!dir || chdir(dir) != 0) return -1;
    mkdir("m", 0777);
    return tu_write("m/config.json", "{}", 2) || tu_write("p.jsonl", "{}\n", 3) || tu_write("c.jsonl", "{}\n", 3);
}

static int teardown(void **state)
{
    if (chdir("/") != 0) return -1;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

static char *study_of_sets(const char *const *sets, int n, const hs_study_inputs *in)
{
    hs_job job;
    hs_status st = hs_job_parse(
        &job, "t.ini", "[job]\nmodel = m\nprompts = p.jsonl\n[pruning]\ncalibration = c.jsonl\n", sets, n);
    assert_int_equal(st, HS_OK);
    char *text = hs_study_text(&job, in);
    hs_job_free(&job);
    assert_non_null(text);
    return text;
}

static char *study_of(const char *set, const hs_study_inputs *in)
{
    const char *sets[] = {set};
    return study_of_sets(sets, set ? 1 : 0, in);
}

/* Settings that change a number change the study; paths, threads and names do not. */
static void test_study_text(void **state)
{
    hs_study_inputs in = {"aa", "a1", "a2", "a3", "bb", "cc", 10, "", NULL, NULL};
    char *base = study_of(NULL, &in);
    assert_non_null(strstr(base, "model_sha256 = aa\n"));
    assert_non_null(strstr(base, "levels = 0, 30, 50, 70\n"));
    assert_non_null(strstr(base, "variant.agency = gating skip, agency on, ema_alpha"));
    const char *same[] = {"job.threads=4", "job.output=x.h5", "job.name=other", "pruning.calibration=c.jsonl"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        char *t = study_of(same[i], &in);
        assert_string_equal(t, base);
        free(t);
    }
    const char *differ[] = {"generation.seed=9",      "generation.max_new_tokens=5", "generation.temperature=0.5",
                            "generation.top_k=3",     "generation.top_p=0.5",        "job.shards=2",
                            "job.measure_unpruned_ppl=off", "pruning.levels=0,30",   "pruning.strategy=ablation",
                            "pruning.per_layer=on",   "pruning.keep_one_per_layer=on", "pruning.seed=3",
                            "pruning.calibration_max_prompts=2", "pruning.calibration_max_tokens=9",
                            "job.variants=agency,baseline", "variant.agency.overload_threshold=0.5",
                            "variant.agency.factor_misaligned=0.1", "variant.baseline.gating=skip"};
    for (size_t i = 0; i < sizeof differ / sizeof differ[0]; i++) {
        char *t = study_of(differ[i], &in);
        if (!strcmp(t, base)) fail_msg("--set %s did not change the study text", differ[i]);
        free(t);
    }
    hs_study_inputs other = in;
    other.n_prompts = 11;
    char *t = study_of(NULL, &other);
    assert_string_not_equal(t, base);
    free(t);
    /* every file of the model directory the numbers come from: its shape and its tokenizer */
    char *digest[] = {other.model_sha256, other.config_sha256, other.vocab_sha256, other.merges_sha256,
                      other.prompts_sha256};
    for (size_t i = 0; i < sizeof digest / sizeof digest[0]; i++) {
        other = in;
        digest[i][0] = 'z';
        t = study_of(NULL, &other);
        if (!strcmp(t, base)) fail_msg("digest %zu did not change the study text", i);
        free(t);
    }
    /* the prefill's route: our tiles write no line (files from before keep their
     * identity), OpenBLAS's rows round otherwise and name themselves */
    other = in;
    other.prefill_route = "tiles";
    t = study_of(NULL, &other);
    assert_string_equal(t, base);
    free(t);
    other.prefill_route = "openblas";
    t = study_of(NULL, &other);
    assert_non_null(strstr(t, "\nprefill_route = openblas\n"));
    free(t);
    /* panels = false changes latency mode's timings, and throughput mode's only through
     * its latency_prompts (which time latency mode) */
    static const char *const lat[] = {"job.panels=false"}, *const tp[] = {"job.mode=throughput", "job.panels=false"},
                             *const tpl[] = {"job.mode=throughput", "job.latency_prompts=2", "job.panels=false"};
    t = study_of_sets(lat, 1, &in);
    assert_non_null(strstr(t, "\npanels = off\n"));
    free(t);
    t = study_of_sets(tp, 2, &in);
    assert_null(strstr(t, "panels"));
    free(t);
    t = study_of_sets(tpl, 3, &in);
    assert_non_null(strstr(t, "\npanels = off\n"));
    free(t);
    free(base);
}

static void test_pack_unpack(void **state)
{
    hs_cell_result c, d;
    int n = hs_grid_shard_size(&grid, 2);
    assert_int_equal(hs_cell_result_init(&c, &grid, n), HS_OK);
    c.index = 7;
    c.seconds = 1.5;
    c.rank = 2;
    c.run = 3;
    snprintf(c.host, sizeof c.host, "node7");
    snprintf(c.finished_utc, sizeof c.finished_utc, "2024-01-01T00:00:00Z");
    hs_grid_shard_prompts(&grid, 2, c.prompt);
    for (int i = 0; i < n * HS_M_COUNT; i++) c.metrics[i] = i * 0.5;
    c.metrics[1] = NAN;
    for (int i = 0; i < n * grid.max_new; i++) c.gen_ids[i] = i - 3;
    for (int i = 0; i < grid.n_layers * grid.n_heads * HS_AG_NSTATES; i++) c.occupancy[i] = 1000 + i;
    for (int i = 0; i < grid.n_layers * grid.n_heads; i++) c.transitions[i] = 5000 + i;
    for (int j = 0; j < n; j++) snprintf(c.text + j * 9, 9, "text %u", (unsigned)j % 100u);
    void *buf;
    size_t len;
    assert_int_equal(hs_cell_pack(&c, &grid, &buf, &len), HS_OK);
    assert_int_equal(hs_cell_unpack(&d, &grid, buf, len), HS_OK);
    assert_int_equal(d.index, 7);
    assert_int_equal(d.n, n);
    assert_int_equal(d.rank, 2);
    assert_int_equal(d.run, 3);
    assert_true(d.seconds == 1.5);
    assert_string_equal(d.host, "node7");
    assert_string_equal(d.finished_utc, "2024-01-01T00:00:00Z");
    assert_memory_equal(d.prompt, c.prompt, (size_t)n * sizeof(int32_t));
    assert_memory_equal(d.metrics, c.metrics, (size_t)n * HS_M_COUNT * sizeof(double));
    assert_memory_equal(d.gen_ids, c.gen_ids, (size_t)n * grid.max_new * sizeof(int32_t));
    assert_memory_equal(d.occupancy, c.occupancy,
                        (size_t)grid.n_layers * grid.n_heads * HS_AG_NSTATES * sizeof(int64_t));
    assert_memory_equal(d.transitions, c.transitions, (size_t)grid.n_layers * grid.n_heads * sizeof(int64_t));
    assert_memory_equal(d.text, c.text, (size_t)n * 9);
    hs_cell_result bad;
    assert_int_equal(hs_cell_unpack(&bad, &grid, buf, len - 1), HS_EINTERNAL);
    free(buf);
    hs_cell_result_free(&c);
    hs_cell_result_free(&d);
}

/* merged_from stays in one attribute HDF5 keeps in the object header (64 KiB at most): a
 * merge of thousands of parts names the first ones and the last. */
static void test_merge_input_list(void **state)
{
    (void)state;
    const char *two[] = {"a.h5", "b.h5"};
    char *l = hs_merge_input_list(two, 2);
    assert_string_equal(l, "a.h5, b.h5");
    free(l);
    enum { N = 3000 };
    static char names[N][48];
    const char *many[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "results/study-part-%04d-of-3000.h5", i + 1);
        many[i] = names[i];
    }
    l = hs_merge_input_list(many, N);
    assert_true(strlen(l) <= HS_MERGED_FROM_MAX);
    assert_true(strncmp(l, "results/study-part-0001-of-3000.h5, results/study-part-0002", 59) == 0);
    const char *end = ", results/study-part-3000-of-3000.h5";
    assert_string_equal(l + strlen(l) - strlen(end), end);
    assert_non_null(strstr(l, "inputs not named)"));
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_input_list),  cmocka_unit_test(test_latency_spread),
        cmocka_unit_test(test_cells_round_trip), cmocka_unit_test(test_shards_partition),
        cmocka_unit_test(test_slices),           cmocka_unit_test(test_study_text),
        cmocka_unit_test(test_pack_unpack),        cmocka_unit_test(test_order_balanced),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
