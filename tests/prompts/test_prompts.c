/* test_prompts.c: unit tests of the prompt-file reader and sharding (src/eval/prompts.c):
 * good files, every malformed case with its file:line message, the report-everything
 * mode behind `headsweep prompts check`, shards as a partition, and a 100,000-line file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "headsweep/prompts.h"
#include "test_util.h"

#define P(s) s, sizeof(s) - 1, "p.jsonl"

static void test_good_file(void **state)
{
    static const char data[] =
        "{\"id\": \"a-1\", \"prompt\": \"Hello\", \"reference\": \" world\"}\n"
        "\n"
        "   \r\n"
        "{\"id\": 7, \"prompt\": \"caf\xc3\xa9 \\u65e5\", \"extra\": [1, 2]}\r\n"
        "{\"prompt\": \"x\", \"id\": \"b\", \"reference\": null}";
    hs_prompt_set set;
    assert_int_equal(hs_prompts_parse(&set, P(data)), HS_OK);
    assert_int_equal(set.n, 3);
    assert_string_equal(set.items[0].id, "a-1");
    assert_string_equal(set.items[0].prompt, "Hello");
    assert_string_equal(set.items[0].reference, " world");
    assert_int_equal(set.items[0].line, 1);
    assert_string_equal(set.items[1].id, "7");
    assert_string_equal(set.items[1].prompt, "caf\xc3\xa9 \xe6\x97\xa5");
    assert_null(set.items[1].reference);
    assert_int_equal(set.items[1].line, 4);
    assert_string_equal(set.items[2].id, "b");
    assert_null(set.items[2].reference);
    assert_int_equal(set.items[2].line, 5);
    assert_string_equal(set.path, "p.jsonl");
    char sha[65];
    hs_sha256_hex(data, sizeof data - 1, sha);
    assert_string_equal(set.sha256, sha);
    hs_prompts_free(&set);
    hs_prompts_free(&set); /* freeing twice is harmless: free zeroes the set */
    hs_prompts_free(NULL);
}

/* Parses line1 + "\n" + bad and expects "p.jsonl:2: <what>". */
static void expect_bad_line(const char *bad, const char *what)
{
    char data[512], want[256];
    int n = snprintf(data, sizeof data, "{\"id\": \"first\", \"prompt\": \"p\"}\n%s\n", bad);
    hs_prompt_set set;
    hs_err_clear();
    assert_int_equal(hs_prompts_parse(&set, data, (size_t)n, "p.jsonl"), HS_EINPUT);
    assert_int_equal(set.n, 0);
    assert_null(set.items);
    snprintf(want, sizeof want, "p.jsonl:2: %s", what);
    if (!strstr(hs_err_msg(), want)) fail_msg("message \"%s\" lacks \"%s\"", hs_err_msg(), want);
}

static void test_malformed_lines(void **state)
{
    expect_bad_line("{\"id\": \"x\", \"prompt\": \"caf\xe9\"}", "invalid UTF-8 (byte 27 of the line)");
    expect_bad_line("{\"id\": \"x\", \"prompt\": ", "not valid JSON");
    expect_bad_line("{\"id\": \"x\", \"prompt\": \"a\"} trailing", "not valid JSON");
    expect_bad_line("[1, 2]", "expected a JSON object, found a JSON array");
    expect_bad_line("\"text\"", "expected a JSON object, found a JSON string");
    expect_bad_line("42", "expected a JSON object, found a JSON integer");
    expect_bad_line("{\"prompt\": \"a\"}", "missing \"id\"");
    expect_bad_line("{\"id\": \"\", \"prompt\": \"a\"}", "empty \"id\"");
    expect_bad_line("{\"id\": 1.5, \"prompt\": \"a\"}", "\"id\" must be a string or an integer");
    expect_bad_line("{\"id\": true, \"prompt\": \"a\"}", "\"id\" must be a string or an integer");
    expect_bad_line("{\"id\": \"x\"}", "missing \"prompt\"");
    expect_bad_line("{\"id\": \"x\", \"prompt\": null}", "missing \"prompt\"");
    expect_bad_line("{\"id\": \"x\", \"prompt\": \"\"}", "empty \"prompt\"");
    expect_bad_line("{\"id\": \"x\", \"prompt\": [\"a\"]}", "\"prompt\" must be a string");
    expect_bad_line("{\"id\": \"x\", \"prompt\": \"a\", \"reference\": 3}", "\"reference\" must be a string");
    expect_bad_line("{\"id\": \"x\", \"prompt\": \"a\", \"reference\": \"\"}", "empty \"reference\"");
    expect_bad_line("{\"id\": \"first\", \"prompt\": \"a\"}", "duplicate id \"first\" (first at line 1)");
    expect_bad_line("{\"id\": \"x\", \"id\": \"y\", \"prompt\": \"a\"}",
                    "not valid JSON: column 16: duplicate object key");
    expect_bad_line("{\"id\": \"x\", \"prompt\": \"a\\u0000b\"}", "not valid JSON");
    /* the first problem of a line is the one reported */
    expect_bad_line("{\"prompt\": \"\"}", "missing \"id\"");
}

static void test_int_and_string_ids_collide(void **state)
{
    static const char data[] = "{\"id\": 7, \"prompt\": \"a\"}\n{\"id\": \"7\", \"prompt\": \"b\"}\n";
    hs_prompt_set set;
    assert_int_equal(hs_prompts_parse(&set, P(data)), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "p.jsonl:2: duplicate id \"7\" (first at line 1)"));
}

static void test_missing_file(void **state)
{
    hs_prompt_set set;
    assert_int_equal(hs_prompts_load(&set, "/nonexistent/prompts.jsonl"), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "/nonexistent/prompts.jsonl: cannot open"));
    assert_int_equal(set.n, 0);
}

typedef struct {
    int lines[32];
    char msgs[32][256];
    int n;
} collected;

static void collect(void *ctx, int line, const char *msg)
{
    collected *c = ctx;
    if (c->n < 32) {
        c->lines[c->n] = line;
        snprintf(c->msgs[c->n], sizeof c->msgs[0], "%s", msg);
    }
    c->n++;
}

static void test_check_reports_everything(void **state)
{
    static const char data[] =
        "{\"id\": \"a\", \"prompt\": \"ok\"}\n"        /* 1 good */
        "not json\n"                                 /* 2 */
        "{\"prompt\": \"\"}\n"                       /* 3: two problems */
        "\n"                                         /* 4 blank */
        "{\"id\": \"a\", \"prompt\": \"again\"}\n"   /* 5 duplicate */
        "{\"id\": \"b\", \"prompt\": \"ok\", \"reference\": \"r\"}\n" /* 6 good */
        "{\"id\": \"c\", \"prompt\": \"\xff\"}\n"    /* 7 */
        "[]\n";                                      /* 8 */
    hs_prompt_set set;
    collected c = {0};
    size_t n_problems = 0;
    assert_int_equal(hs_prompts_check(&set, P(data), collect, &c, &n_problems), HS_OK);
    int want_lines[] = {2, 3, 3, 5, 7, 8};
    assert_int_equal(c.n, 6);
    assert_int_equal(n_problems, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(c.lines[i], want_lines[i]);
        char prefix[32];
        snprintf(prefix, sizeof prefix, "p.jsonl:%d: ", want_lines[i]);
        assert_memory_equal(c.msgs[i], prefix, strlen(prefix));
    }
    assert_non_null(strstr(c.msgs[1], "missing \"id\""));
    assert_non_null(strstr(c.msgs[2], "empty \"prompt\""));
    assert_non_null(strstr(c.msgs[3], "duplicate id \"a\" (first at line 1)"));
    assert_int_equal(set.n, 2); /* the good lines are kept */
    assert_string_equal(set.items[1].id, "b");
    assert_int_equal(set.items[1].line, 6);
    hs_prompts_free(&set);
}

static void test_shards_partition(void **state)
{
    hs_prompt_set set = {0};
    set.n = 103; /* sharding looks at the count only */
    for (int n_shards = 1; n_shards <= 110; n_shards += (n_shards < 12 ? 1 : 49)) {
        int seen[103] = {0};
        size_t smallest = SIZE_MAX, largest = 0;
        for (int k = 0; k < n_shards; k++) {
            size_t *idx, n;
            assert_int_equal(hs_prompts_shard(&set, n_shards, k, &idx, &n), HS_OK);
            for (size_t j = 0; j < n; j++) {
                assert_true(idx[j] < 103);
                assert_int_equal(idx[j] % (size_t)n_shards, (size_t)k);
                if (j) assert_true(idx[j] > idx[j - 1]);
                seen[idx[j]]++;
            }
            smallest = n < smallest ? n : smallest;
            largest = n > largest ? n : largest;
            free(idx);
        }
        for (int i = 0; i < 103; i++) assert_int_equal(seen[i], 1);
        assert_true(largest - smallest <= 1); /* balanced */
    }
    size_t *idx, n;
    assert_int_equal(hs_prompts_shard(&set, 0, 0, &idx, &n), HS_EINPUT);
    assert_int_equal(hs_prompts_shard(&set, 4, 4, &idx, &n), HS_EINPUT);
    assert_int_equal(hs_prompts_shard(&set, 4, -1, &idx, &n), HS_EINPUT);
    assert_null(idx);
}

/* n prompt lines like a real set's, into a new buffer (*len bytes). */
static char *make_lines(size_t n, size_t *len)
{
    size_t cap = n * 120 + 64;
    char *data = malloc(cap);
    assert_non_null(data);
    *len = 0;
    for (size_t i = 0; i < n; i++)
        *len += (size_t)snprintf(data + *len, cap - *len,
                                 "{\"id\": \"p-%zu\", \"prompt\": \"Prompt number %zu is here.\", "
                                 "\"reference\": \" And so on.\"}\n", i, i);
    return data;
}

static double parse_seconds(const char *data, size_t len, size_t n)
{
    hs_prompt_set set;
    double t0 = hs_now();
    assert_int_equal(hs_prompts_parse(&set, data, len, "big.jsonl"), HS_OK);
    double dt = hs_now() - t0;
    assert_int_equal(set.n, n);
    hs_prompts_free(&set);
    return dt;
}

static void test_large_file(void **state)
{
    /* Linear time, checked as a ratio so that slow or instrumented runs still pass:
     * 10x the lines may take at most 30x the time (a quadratic reader takes 100x). */
    size_t len_small, len;
    char *small = make_lines(10000, &len_small);
    char *data = make_lines(100000, &len);
    double t_small = parse_seconds(small, len_small, 10000);
    double t = parse_seconds(data, len, 100000);
    print_message("parsed 100000 prompts (%zu bytes) in %.3f s, 10000 in %.3f s\n", len, t,
                  t_small);
    assert_true(t < 30 * t_small + 0.05);
    free(small);
    hs_prompt_set set;
    strcpy(data + len, "{\"id\": \"p-5\", \"prompt\": \"x\"}\n");
    assert_int_equal(hs_prompts_parse(&set, data, strlen(data), "big.jsonl"), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "big.jsonl:100001: duplicate id \"p-5\" (first at line 6)"));
    free(data);
}

/* Random damage to a small file: both modes give HS_OK or HS_EINPUT, never crash; in
 * check mode every problem is reported with a line number that exists. */
static void count_problem(void *ctx, int line, const char *msg)
{
    assert_true(line >= 1 && line <= 6); /* 3 lines, plus up to 3 inserted newlines */
    assert_non_null(strstr(msg, "f.jsonl:"));
    ++*(int *)ctx;
}

static void test_mutated_lines(void **state)
{
    static const char base[] = "{\"id\": \"a\", \"prompt\": \"b\", \"reference\": \"c\"}\n"
                               "{\"id\": 1, \"prompt\": \"x\\u00e9\"}\n{\"id\": \"z\", \"prompt\": \"y\"}";
    static const char alphabet[] = "{}[]\":,0123456789-. \\u\n\xc3\xff";
    uint64_t r = 7;
    for (int it = 0; it < 5000; it++) {
        char s[sizeof base];
        memcpy(s, base, sizeof base);
        for (int j = 0; j < 1 + it % 3; j++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            size_t p = (r >> 33) % (sizeof base - 1);
            s[p] = (r >> 20) & 1 ? (char)(r >> 40) : alphabet[(r >> 40) % (sizeof alphabet - 1)];
        }
        hs_prompt_set set;
        hs_status st = hs_prompts_parse(&set, s, sizeof base - 1, "f.jsonl");
        assert_true(st == HS_OK || st == HS_EINPUT);
        hs_prompts_free(&set);
        int reported = 0;
        size_t n_problems;
        assert_int_equal(hs_prompts_check(&set, s, sizeof base - 1, "f.jsonl", count_problem,
                                          &reported, &n_problems), HS_OK);
        assert_int_equal((size_t)reported, n_problems);
        assert_int_equal(st == HS_OK, n_problems == 0);
        hs_prompts_free(&set);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_int_and_string_ids_collide),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_check_reports_everything),
        cmocka_unit_test(test_shards_partition),
        cmocka_unit_test(test_large_file),
        cmocka_unit_test(test_mutated_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
