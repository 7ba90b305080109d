/* test_sweep_job.c: job files: defaults, predefined and custom variants, --set, and every
 * kind of mistake reported with the file:line (or --set argument) that causes it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "headsweep/sweep.h"
#include "test_util.h"

static char *dir;

/* Each test runs in a directory with a fake model (config.json) and prompt files: the
 * parser only checks that they exist, and relative paths are relative to the cwd. */
static int setup(void **state)
{
    dir = tu_mkdtemp("job");
    if (!dir || chdir(dir) != 0) return -1;
    mkdir("m", 0777);
    mkdir("nocfg", 0777);
    return tu_write("m/config.json", "{}", 2) || tu_write("p.jsonl", "{}\n", 3) || tu_write("c.jsonl", "{}\n", 3);
}

static int teardown(void **state)
{
    if (chdir("/") != 0) return -1;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

#define BASE "[job]\nmodel = m\nprompts = p.jsonl\n[pruning]\ncalibration = c.jsonl\n"

static hs_status parse(hs_job *job, const char *text, const char *const *sets, int n_sets)
{
    return hs_job_parse(job, "jobs/t.ini", text, sets, n_sets);
}

/* The text must fail with HS_EINPUT and a message containing every needle. */
static void expect_error(const char *text, const char *const *sets, int n_sets, const char *n1, const char *n2)
{
    hs_job job;
    hs_status st = parse(&job, text, sets, n_sets);
    if (st != HS_EINPUT || !strstr(hs_err_msg(), n1) || (n2 && !strstr(hs_err_msg(), n2)))
        fail_msg("status %d, message '%s', wanted '%s'%s%s", st, hs_err_msg(), n1, n2 ? " and " : "", n2 ? n2 : "");
}

static void test_defaults(void **state)
{
    hs_job job;
    assert_int_equal(parse(&job, BASE, NULL, 0), HS_OK);
    assert_string_equal(job.name, "t");
    assert_string_equal(job.output, "results/t.h5");
    assert_int_equal(job.shards, 4);
    assert_int_equal(job.threads, 1);
    assert_int_equal(job.max_prompts, 0);
    assert_int_equal(job.n_levels, 4);
    assert_true(job.levels[3] == 70.0);
    assert_int_equal(job.strategy, HS_STRATEGY_ENTROPY);
    assert_int_equal(job.n_variants, 3);
    assert_string_equal(job.variants[0].name, "baseline");
    assert_int_equal(job.variants[0].gating, HS_GATING_MASK);
    assert_int_equal(job.variants[0].agency_on, 0);
    assert_string_equal(job.variants[1].name, "agency");
    assert_int_equal(job.variants[1].gating, HS_GATING_SKIP);
    assert_int_equal(job.variants[1].agency_on, 1);
    assert_true(job.variants[1].agency.overload_threshold == 0.85f);
    assert_string_equal(job.variants[2].name, "baseline-skip");
    assert_int_equal(job.variants[2].gating, HS_GATING_SKIP);
    assert_int_equal(job.variants[2].agency_on, 0);
    assert_string_equal(hs_job_where(&job, "job", "prompts"), "jobs/t.ini:3");
    assert_string_equal(hs_job_where(&job, "job", "shards"), "defaults");
    hs_job_free(&job);
}

static void test_full_job(void **state)
{
    const char *text = "; a comment\n# another\n[job]\nname = demo\nmodel = m\nprompts = p.jsonl\nmax_prompts = 24\n"
                       "shards = 6\nthreads = 2\noutput = out/x.h5\nvariants = agency, calm\n"
                       "measure_unpruned_ppl = off\n"
                       "[generation]\nmax_new_tokens = 16\ntemperature = 0.7\ntop_k = 40\ntop_p = 0.9\nseed = 99\n"
                       "[pruning]\nstrategy = magnitude\nlevels = 10, 20\n  30\nper_layer = on\n"
                       "keep_one_per_layer = yes\nseed = 5\n"
                       "[variant.agency]\noverload_threshold = 0.9\nrecovery_steps = 7\nfactor_overloaded = 0.25\n"
                       "[variant.calm]\ngating = skip\nagency = on ; inline comment\nalignment_threshold = 0.3\n";
    hs_job job;
    assert_int_equal(parse(&job, text, NULL, 0), HS_OK);
    assert_string_equal(job.name, "demo");
    assert_string_equal(job.output, "out/x.h5");
    assert_int_equal(job.max_prompts, 24);
    assert_int_equal(job.shards, 6);
    assert_int_equal(job.threads, 2);
    assert_int_equal(job.measure_unpruned_ppl, 0);
    assert_int_equal(job.sample.max_new, 16);
    assert_true(job.sample.temperature == 0.7f);
    assert_int_equal(job.sample.top_k, 40);
    assert_true(job.sample.top_p == 0.9f);
    assert_int_equal(job.sample.seed, 99);
    assert_int_equal(job.strategy, HS_STRATEGY_MAGNITUDE);
    assert_null(job.calib_path); /* magnitude needs no calibration set */
    assert_int_equal(job.n_levels, 3);
    assert_true(job.levels[2] == 30.0);
    assert_int_equal(job.select.per_layer, 1);
    assert_int_equal(job.select.keep_one_per_layer, 1);
    assert_int_equal(job.score.seed, 5);
    assert_int_equal(job.n_variants, 2);
    assert_true(job.variants[0].agency.overload_threshold == 0.9f);
    assert_int_equal(job.variants[0].agency.recovery_steps, 7);
    assert_true(job.variants[0].agency.factor[HS_AG_OVERLOADED] == 0.25f);
    assert_true(job.variants[0].agency.factor[HS_AG_MISALIGNED] == 0.7f);
    assert_string_equal(job.variants[1].name, "calm");
    assert_int_equal(job.variants[1].gating, HS_GATING_SKIP);
    assert_int_equal(job.variants[1].agency_on, 1);
    assert_true(job.variants[1].agency.alignment_threshold == 0.3f);
    assert_non_null(strstr(job.text, "name = demo"));
    hs_job_free(&job);
}

static void test_set_overrides(void **state)
{
    const char *sets[] = {"generation.seed=7", "job.shards = 2", "variant.agency.ema_alpha=0.5", "pruning.levels=0,90"};
    hs_job job;
    assert_int_equal(parse(&job, BASE "[generation]\nseed = 3\n", sets, 4), HS_OK);
    assert_int_equal(job.sample.seed, 7);
    assert_int_equal(job.shards, 2);
    assert_true(job.variants[1].agency.ema_alpha == 0.5f);
    assert_int_equal(job.n_levels, 2);
    assert_true(job.levels[1] == 90.0);
    assert_string_equal(hs_job_where(&job, "generation", "seed"), "--set generation.seed=7");
    assert_non_null(strstr(job.text, "; --set generation.seed=7\n"));
    hs_job_free(&job);
}

static void test_syntax_errors(void **state)
{
    expect_error(BASE "[job\n", NULL, 0, "jobs/t.ini:6:", "syntax error");
    expect_error(BASE "just words\n", NULL, 0, "jobs/t.ini:6:", "syntax error");
    expect_error("shards = 3\n" BASE, NULL, 0, "jobs/t.ini:1:", "outside any section");
    expect_error(BASE "[jbo]\nshards = 2\n", NULL, 0, "jobs/t.ini:6:", "unknown section [jbo]");
    expect_error(BASE "[empty]\n", NULL, 0, "jobs/t.ini:6:", "unknown section [empty]");
    expect_error(BASE "[variant.a.b]\n", NULL, 0, "jobs/t.ini:6:", "unknown section");
    expect_error(BASE "[job]\nshard = 2\n", NULL, 0, "jobs/t.ini:7:", "unknown key 'shard' in [job]");
    expect_error(BASE "[job]\nshards = 2\nshards = 3\n", NULL, 0, "jobs/t.ini:8:", "already set at jobs/t.ini:7");
    expect_error(BASE "[job]\nname = x\n  more\n", NULL, 0, "jobs/t.ini:8:", "not a list");
    char long_line[400];
    snprintf(long_line, sizeof long_line, BASE "[job]\nname = %0300d\n", 7);
    expect_error(long_line, NULL, 0, "jobs/t.ini:7:", "line too long");
}

/* iterative pruning's keys: defaults gradient and 10%, or as set. */
static void test_iterative_keys(void **state)
{
    hs_job job;
    assert_int_equal(parse(&job, BASE "strategy = iterative\n", NULL, 0), HS_OK);
    assert_true(job.strategy == HS_STRATEGY_ITERATIVE && job.score.iterative_base == HS_STRATEGY_GRADIENT &&
                job.score.iterative_step == 10.0);
    hs_job_free(&job);
    assert_int_equal(parse(&job, BASE "strategy = iterative\niterative_base = taylor\niterative_step = 20\n",
                           NULL, 0), HS_OK);
    assert_true(job.score.iterative_base == HS_STRATEGY_TAYLOR && job.score.iterative_step == 20.0);
    hs_job_free(&job);
}

static void test_value_errors(void **state)
{
    expect_error(BASE "[job]\nshards = many\n", NULL, 0,
                 "jobs/t.ini:7:", "shards = 'many': expected an integer in [1,");
    expect_error(BASE "[job]\nshards = 0\n", NULL, 0, "jobs/t.ini:7:", "expected an integer");
    expect_error(BASE "[job]\nthreads = 2.5\n", NULL, 0, "jobs/t.ini:7:", "threads");
    expect_error(BASE "[job]\nname = a b\n", NULL, 0, "jobs/t.ini:7:", "name");
    expect_error(BASE "[job]\nmeasure_unpruned_ppl = maybe\n", NULL, 0, "jobs/t.ini:7:", "expected on or off");
    expect_error(BASE "[generation]\ntemperature = -1\n", NULL, 0, "jobs/t.ini:7:", "temperature");
    expect_error(BASE "[generation]\ntop_p = 0\n", NULL, 0, "jobs/t.ini:7:", "expected a number in (0, 1]");
    expect_error(BASE "[generation]\nseed = -4\n", NULL, 0, "jobs/t.ini:7:", "non-negative integer");
    expect_error(BASE "[generation]\nmax_new_tokens = 0\n", NULL, 0, "jobs/t.ini:7:", "max_new_tokens");
    expect_error(BASE "iterative_base = iterative\n", NULL, 0, "jobs/t.ini:6:", "gradient or taylor");
    expect_error(BASE "iterative_step = 0\n", NULL, 0, "jobs/t.ini:6:", "(0, 100]");
    expect_error(BASE "strategy = gates\n", NULL, 0,
                 "jobs/t.ini:6:", "entropy, magnitude, random, ablation, gradient, taylor or iterative");
    expect_error(BASE "levels = 0, 30, 130\n", NULL, 0, "jobs/t.ini:6:", "[0, 100]");
    expect_error(BASE "levels = 0, 30, 30\n", NULL, 0, "jobs/t.ini:6:", "30 is listed twice");
    expect_error(BASE "levels = ,\n", NULL, 0, "jobs/t.ini:6:", "at least one level");
    expect_error(BASE "per_layer = 2\n", NULL, 0, "jobs/t.ini:6:", "on or off");
    expect_error(BASE "[variant.agency]\ngating = prune\n", NULL, 0, "jobs/t.ini:7:", "mask or skip");
    expect_error(BASE "[variant.agency]\nema_alpha = 1\n", NULL, 0, "jobs/t.ini:7:", "[0, 1)");
    expect_error(BASE "[variant.agency]\nrecovery_steps = 0\n", NULL, 0, "jobs/t.ini:7:", "recovery_steps");
    expect_error(BASE "[variant.agency]\nfactor_misaligned = 1.5\n", NULL, 0, "jobs/t.ini:7:", "factor_misaligned");
    expect_error(BASE "[variant.agency]\nfactor_withdrawn = 0.5\n", NULL, 0, "jobs/t.ini:7:", "never computed");
}

/* The study text keeps levels, iterative_step and agency_percentile to 9 significant digits
 * (resume and merge compare it): a number needing more would share its text with another,
 * so it is refused with the digits to write; -0 is 0. */
static void test_study_digits(void **state)
{
    hs_job job;
    assert_int_equal(parse(&job, BASE "levels = -0, 33.3333333, 1e-7\n", NULL, 0), HS_OK);
    assert_true(job.n_levels == 3 && job.levels[0] == 0 && !signbit(job.levels[0]) && job.levels[1] == 33.3333333);
    hs_job_free(&job);
    expect_error(BASE "levels = 0, -0\n", NULL, 0, "jobs/t.ini:6:", "0 is listed twice");
    expect_error(BASE "levels = 0.1, 0.1000000001\n", NULL, 0,
                 "jobs/t.ini:6: levels: 0.1000000001 has more than 9 significant digits", "write 0.1");
    expect_error(BASE "levels = 33.33333333333\n", NULL, 0, "more than 9 significant digits", "write 33.3333333");
    expect_error(BASE "strategy = iterative\niterative_step = 12.50000000001\n", NULL, 0,
                 "jobs/t.ini:7: iterative_step: 12.50000000001 has more than 9", "write 12.5");
    const char *cal = BASE "[job]\nvariants = agency\n[variant.agency]\ngating = skip\n"
                           "agency_thresholds = calibrated\nagency_percentile = 90.00000000001\n";
    expect_error(cal, NULL, 0, "jobs/t.ini:11: agency_percentile: 90.00000000001 has more than 9", "write 90");
}

static void test_variant_errors(void **state)
{
    expect_error(BASE "[job]\nvariants = baseline, fancy\n", NULL, 0, "jobs/t.ini:7:", "'fancy' is neither predefined");
    expect_error(BASE "[job]\nvariants = baseline, baseline\n", NULL, 0, "jobs/t.ini:7:", "listed twice");
    expect_error(BASE "[job]\nvariants = ,\n", NULL, 0, "jobs/t.ini:7:", "at least one variant");
    expect_error(BASE "[job]\nvariants = baseline\n[variant.agency]\ngating = skip\n", NULL, 0, "jobs/t.ini:8:",
                 "[variant.agency] is not listed in variants (jobs/t.ini:7)");
    expect_error(BASE "[variant.baseline]\noverload_threshold = 0.5\n", NULL, 0, "jobs/t.ini:7:",
                 "no effect in variant baseline, which has agency = off");
    /* inih keeps 49 bytes of a section name: [variant.<42 bytes>] was cut to the name's
     * first 41 and set that variant, or none */
#define V42 "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
    expect_error(BASE "[job]\nvariants = baseline, " V42 "\n[variant." V42 "]\ngating = skip\n", NULL, 0,
                 "jobs/t.ini:8:", "section name of 50 bytes, over the limit of 49");
    const char *set[] = {"variant.extra.gating=skip"};
    expect_error(BASE, set, 1, "--set variant.extra.gating=skip", "not listed in variants");
}

static void test_file_errors(void **state)
{
    expect_error("[job]\nmodel = nowhere\nprompts = p.jsonl\n", NULL, 0, "jobs/t.ini:2:", "No such file or directory");
    expect_error("[job]\nmodel = nocfg\nprompts = p.jsonl\n", NULL, 0, "jobs/t.ini:2:", "nocfg/config.json");
    expect_error("[job]\nmodel = p.jsonl\nprompts = p.jsonl\n", NULL, 0, "jobs/t.ini:2:", "not a directory");
    expect_error("[job]\nmodel = m\nprompts = missing.jsonl\n", NULL, 0, "jobs/t.ini:3:", "missing.jsonl");
    expect_error("[job]\nmodel = m\nprompts = m\n", NULL, 0, "jobs/t.ini:3:", "is a directory");
    expect_error("[job]\nprompts = p.jsonl\n", NULL, 0, "jobs/t.ini", "[job] model is required");
    expect_error("[job]\nmodel = m\nprompts = p.jsonl\n", NULL, 0, "calibration is required with strategy = entropy",
                 NULL);
    expect_error("[job]\nmodel = m\nprompts = p.jsonl\n[pruning]\ncalibration = gone.jsonl\n", NULL, 0,
                 "jobs/t.ini:5:", "gone.jsonl");
    hs_job job;
    assert_int_equal(parse(&job, "[job]\nmodel = m\nprompts = p.jsonl\n[pruning]\nstrategy = random\n", NULL, 0),
                     HS_OK);
    assert_null(job.calib_path);
    hs_job_free(&job);
}

/* Agency withdraws heads by not computing them: gating = mask is refused, at the line
 * that sets it, or at agency = on when the mask is the default of a custom variant. */
static void test_agency_needs_skip(void **state)
{
    const char *set[] = {"variant.agency.gating=mask"};
    expect_error(BASE, set, 1, "--set variant.agency.gating=mask", "agency needs gating = skip");
    expect_error(BASE "[job]\nvariants = a\n[variant.a]\nagency = on\n", NULL, 0, "jobs/t.ini:9:",
                 "gating = mask (the default)");
    expect_error(BASE "[job]\nvariants = a\n[variant.a]\nagency = on\ngating = mask\n", NULL, 0, "jobs/t.ini:10:",
                 "agency needs gating = skip");
    hs_job job;
    assert_int_equal(parse(&job, BASE "[job]\nvariants = a\n[variant.a]\nagency = on\ngating = skip\n", NULL, 0),
                     HS_OK);
    hs_job_free(&job);
}

/* [pruning] scores and heads_off: what they replace, and their conflicts. */
static void test_pruning_sources(void **state)
{
    hs_job job;
    assert_int_equal(tu_write("s.json", "{}", 2), 0);
    assert_int_equal(parse(&job, BASE "scores = s.json\nlevels = 10, 20\n", NULL, 0), HS_OK);
    assert_string_equal(job.scores_path, "s.json");
    assert_null(job.calib_path); /* ignored: the scores are not computed */
    assert_int_equal(job.n_levels, 2);
    hs_job_free(&job);
    expect_error(BASE "scores = nope.json\n", NULL, 0, "jobs/t.ini:6:", "nope.json");
    assert_int_equal(parse(&job, "[job]\nmodel = m\nprompts = p.jsonl\n[pruning]\nheads_off = 1.2, 0.3\n", NULL, 0),
                     HS_OK);
    assert_string_equal(job.heads_off, "1.2, 0.3");
    assert_int_equal(job.n_levels, 1);
    assert_null(job.calib_path);
    hs_job_free(&job);
    expect_error(BASE "heads_off = 0.1\n", NULL, 0, "jobs/t.ini:5: calibration cannot be combined with heads_off "
                                                     "(jobs/t.ini:6)", NULL);
    const char *lv[] = {"pruning.heads_off=0.1"};
    expect_error("[job]\nmodel = m\nprompts = p.jsonl\n[pruning]\nlevels = 50\n", lv, 1,
                 "jobs/t.ini:5: levels cannot be combined with heads_off (--set pruning.heads_off=0.1)", NULL);
}

/* ablation = zero|mean: [pruning]'s is every variant's default, a section overrides it; zero
 * adds nothing to the study text (older studies keep their identity), mean names itself;
 * mean ablation needs the calibration set even where the strategy does not. */
static void test_ablation_key(void **state)
{
    static const hs_study_inputs in = {"m-sha", "cfg-sha", "v-sha", "mg-sha", "p-sha", "c-sha", 1, "", NULL, NULL};
    hs_job job;
    assert_int_equal(parse(&job, BASE, NULL, 0), HS_OK);
    for (int v = 0; v < job.n_variants; v++) assert_int_equal(job.variants[v].ablation, HS_ABLATION_ZERO);
    char *zero = hs_study_text(&job, &in);
    assert_non_null(zero);
    assert_null(strstr(zero, "ablation"));
    hs_job_free(&job);
    const char *text = BASE "ablation = mean\n[job]\nvariants = baseline, agency, z\n[variant.z]\nablation = zero\n";
    assert_int_equal(parse(&job, text, NULL, 0), HS_OK);
    assert_true(job.variants[0].ablation == HS_ABLATION_MEAN && job.variants[1].ablation == HS_ABLATION_MEAN &&
                job.variants[2].ablation == HS_ABLATION_ZERO);
    char *mean = hs_study_text(&job, &in);
    assert_non_null(strstr(mean, "variant.baseline = gating mask, agency off, ablation mean\n"));
    assert_non_null(strstr(mean, "variant.z = gating mask, agency off\n"));
    free(zero);
    free(mean);
    hs_job_free(&job);
    expect_error(BASE "ablation = average\n", NULL, 0, "jobs/t.ini:6:", "expected zero or mean");
    const char *mag = "[job]\nmodel = m\nprompts = p.jsonl\n[pruning]\nstrategy = magnitude\n";
    assert_int_equal(parse(&job, mag, NULL, 0), HS_OK);
    assert_null(job.calib_path); /* magnitude alone needs none */
    hs_job_free(&job);
    const char *am[] = {"variant.agency.ablation=mean"};
    expect_error(mag, am, 1, "[pruning] calibration is required with ablation = mean",
                 "--set variant.agency.ablation=mean");
    /* a head list with mean ablation: its means need the calibration set, and only then may it be given */
    const char *list = "[job]\nmodel = m\nprompts = p.jsonl\n[pruning]\nheads_off = 0.1\n";
    expect_error(list, am, 1, "[pruning] calibration is required with ablation = mean",
                 "--set variant.agency.ablation=mean");
    assert_int_equal(tu_write("c.jsonl", "{}", 2), 0);
    const char *lc[] = {"variant.agency.ablation=mean", "pruning.calibration=c.jsonl"};
    assert_int_equal(parse(&job, list, lc, 2), HS_OK);
    assert_string_equal(job.calib_path, "c.jsonl");
    assert_int_equal(job.variants[1].ablation, HS_ABLATION_MEAN);
    hs_job_free(&job);
    expect_error(list, lc + 1, 1, "calibration cannot be combined with heads_off", "unless a variant uses ablation");
}

static void test_set_errors(void **state)
{
    const char *a[] = {"shards=3"}, *b[] = {"job.shards"}, *c[] = {"job.shardz=3"}, *d[] = {"nope.x=1"},
               *e[] = {"job.shards=-1"};
    expect_error(BASE, a, 1, "--set shards=3", "section.key=value");
    expect_error(BASE, b, 1, "--set job.shards", "section.key=value");
    expect_error(BASE, c, 1, "--set job.shardz=3", "unknown key 'shardz' in [job]");
    expect_error(BASE, d, 1, "--set nope.x=1", "unknown section [nope]");
    expect_error(BASE, e, 1, "--set job.shards=-1", "expected an integer");
}

static void test_load_missing_file(void **state)
{
    hs_job job;
    assert_int_equal(hs_job_load(&job, "no/such.ini", NULL, 0), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "no/such.ini"));
}

/* BASE padded with comment lines to exactly n bytes (n > strlen(BASE) + 2). */
static char *padded_job(size_t n)
{
    char *t = malloc(n + 1);
    assert_non_null(t);
    size_t at = strlen(BASE);
    memcpy(t, BASE, at);
    while (at < n) {
        size_t k = n - at < 80 ? n - at : 80; /* "; xxx...\n" lines of k bytes */
        memset(t + at, 'x', k);
        t[at] = k > 1 ? ';' : '\n';
        t[at + k - 1] = '\n';
        at += k;
    }
    t[n] = '\0';
    return t;
}

/* A results file records the job's text in one attribute, which HDF5 moves out of the
 * checksummed header (and the reader then refuses the file) past 64 KiB: refused up front,
 * with the file, its size and the limit, also when --set lines push it over. */
static void test_job_text_limit(void **state)
{
    hs_job job;
    char *ok = padded_job(32 * 1024), *big = padded_job(64 * 1024 + 100);
    assert_int_equal(parse(&job, ok, NULL, 0), HS_OK);
    hs_job_free(&job);
    expect_error(big, NULL, 0, "jobs/t.ini: job file is 65636 bytes, over the limit of 32768 bytes", "job_file_text");
    const char *sets[] = {"job.shards=2"};
    expect_error(ok, sets, 1, "job file is 32768 bytes (32789 with its --set lines), over the limit of 32768", NULL);
    free(ok);
    free(big);
}

/* Every shard needs a prompt; in throughput mode the smallest shard (n / shards) must hold
 * latency_prompts, or some cells would time fewer than the study text says. */
static void test_prompt_count(void **state)
{
    hs_job job;
    const char *sets[] = {"job.shards=3", "job.mode=throughput", "job.latency_prompts=3"};
    assert_int_equal(parse(&job, BASE, sets, 3), HS_OK);
    assert_int_equal(hs_job_check_prompts(&job, 9), HS_OK);
    assert_int_equal(hs_job_check_prompts(&job, 11), HS_OK);
    assert_int_equal(hs_job_check_prompts(&job, 0), HS_EINPUT); /* a file without prompts says so */
    assert_non_null(strstr(hs_err_msg(), "prompts = p.jsonl: the prompt file holds no prompts"));
    assert_int_equal(hs_job_check_prompts(&job, 8), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "--set job.latency_prompts=3: latency_prompts = 3 but the smallest of the "
                                         "3 shards has 2 of the 8 evaluation prompts; set it to 2 or less"));
    assert_int_equal(hs_job_check_prompts(&job, 2), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "--set job.shards=3: shards = 3 but only 2 evaluation prompts"));
    hs_job_free(&job);
    assert_int_equal(parse(&job, BASE, sets, 1), HS_OK); /* latency mode: latency_prompts is 0 */
    assert_int_equal(hs_job_check_prompts(&job, 3), HS_OK);
    hs_job_free(&job);
}

/* A default name from the file name keeps to the rule of `name =` (letters, digits, _ and -):
 * any other byte becomes '_' (an escape sequence or a newline in a file name reached the
 * results file's name and the report). */
static void test_default_name_rule(void **state)
{
    hs_job job;
    assert_int_equal(hs_job_parse(&job, "jobs/nm\x1b[31mRED\nline.ini", BASE, NULL, 0), HS_OK);
    assert_string_equal(job.name, "nm__31mRED_line");
    assert_string_equal(job.output, "results/nm__31mRED_line.h5");
    hs_job_free(&job);
    assert_int_equal(hs_job_parse(&job, "caf\xc3\xa9 v2.ini", BASE, NULL, 0), HS_OK);
    assert_string_equal(job.name, "caf___v2");
    hs_job_free(&job);
}

/* Every byte of a job file and its --set lines is UTF-8 (the results file records the text). */
static void test_not_utf8(void **state)
{
    expect_error(BASE "; caf\xe9\n", NULL, 0, "jobs/t.ini:6: not valid UTF-8 (byte 6 of the line)", NULL);
    expect_error("[job]\nmodel = m\xff\n", NULL, 0, "jobs/t.ini:2: not valid UTF-8 (byte 10", NULL);
    const char *sets[] = {"generation.seed=7", "job.name=caf\xe9"};
    expect_error(BASE, sets, 2, "--set argument 2 (after 'job.name=caf'): not valid UTF-8 (byte 13)", NULL);
    hs_job job; /* valid multi-byte text is fine */
    assert_int_equal(parse(&job, BASE "; caf\xc3\xa9 \xe2\x80\x94 ok\n", NULL, 0), HS_OK);
    hs_job_free(&job);
}

/* BASE, then "[job]" and the line "output = " + fill bytes 'o' + tail, ending in end. */
static char *output_line(int fill, const char *tail, const char *end)
{
    size_t n = strlen(BASE) + 16 + (size_t)fill + strlen(tail) + strlen(end) + 16;
    char *t = malloc(n);
    int at = snprintf(t, n, BASE "[job]\noutput = ");
    memset(t + at, 'o', (size_t)fill);
    snprintf(t + at + fill, n - (size_t)(at + fill), "%s%s", tail, end);
    return t;
}

/* Lines hold 200 bytes without their end, whether that is \n or \r\n (inih's buffer holds one
 * byte less: the parser gives it back), and the message over it fits the kind of line. */
static void test_line_limit(void **state)
{
    static const char *const ends[] = {"\n", "\r\n", ""};
    hs_job job;
    for (int e = 0; e < 3; e++) {
        char *t = output_line(200 - 9, "", ends[e]); /* "output = " is 9 bytes */
        assert_int_equal(parse(&job, t, NULL, 0), HS_OK);
        assert_int_equal(strlen(job.output), 191);
        hs_job_free(&job);
        free(t);
        t = output_line(200 - 9 - 2, " b", ends[e]); /* the blank inih trimmed comes back with the b */
        assert_int_equal(parse(&job, t, NULL, 0), HS_OK);
        assert_int_equal(strlen(job.output), 191);
        assert_string_equal(job.output + 189, " b");
        hs_job_free(&job);
        free(t);
        t = output_line(200 - 9 - 2, " ;", ends[e]); /* an inline comment starts at byte 200 */
        assert_int_equal(parse(&job, t, NULL, 0), HS_OK);
        assert_int_equal(strlen(job.output), 189);
        hs_job_free(&job);
        free(t);
        t = output_line(201 - 9, "", ends[e]);
        expect_error(t, NULL, 0, "jobs/t.ini:7: line too long: 201 bytes, over the limit of 200", "split a list");
        free(t);
        char comment[300];
        snprintf(comment, sizeof comment, BASE "; %0198d%s[job]\nshards = 2\n", 0, ends[e][0] ? ends[e] : "\n");
        assert_int_equal(parse(&job, comment, NULL, 0), HS_OK);
        assert_int_equal(job.shards, 2);
        hs_job_free(&job);
        snprintf(comment, sizeof comment, BASE "; %0199d%s", 0, ends[e]);
        expect_error(comment, NULL, 0, "jobs/t.ini:6: line too long: 201 bytes", "split the comment");
    }
}

/* An indented [section] header after a list: inih would read it as the list's next line. */
static void test_indented_section(void **state)
{
    expect_error(BASE "levels = 0, 10\n  [variant.x]\ngating = skip\n", NULL, 0,
                 "jobs/t.ini:7: a [section] header must not be indented", NULL);
    expect_error("  [job]\nmodel = m\n", NULL, 0, "jobs/t.ini:1: a [section] header must not be indented", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),          cmocka_unit_test(test_full_job),
        cmocka_unit_test(test_set_overrides),     cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_iterative_keys),    cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_variant_errors),    cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_set_errors),        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_agency_needs_skip), cmocka_unit_test(test_pruning_sources),
        cmocka_unit_test(test_ablation_key),      cmocka_unit_test(test_job_text_limit),
        cmocka_unit_test(test_study_digits),      cmocka_unit_test(test_prompt_count),
        cmocka_unit_test(test_default_name_rule), cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_line_limit),        cmocka_unit_test(test_indented_section),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
