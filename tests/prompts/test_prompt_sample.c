/* test_prompt_sample.c: the prompts a study uses when max_prompts takes fewer than the
 * file has (src/eval/prompt_sample.c): the book of an id, counts per book in proportion,
 * the same sample for a seed and another for another seed, no prompt's text overlapping
 * another's reference in a file where neighbours do, and a clear refusal when overlaps
 * leave too few. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "headsweep/prompts.h"

/* A set of n prompts with the given ids' books; prompt i's text is verses i and i+1 of
 * one running text and its reference verse i+2 when chained, else unique sentences. */
static void make_set(hs_prompt_set *set, const char *const *books, const int *sizes, int nb, int chained)
{
    memset(set, 0, sizeof *set);
    int n = 0;
    for (int b = 0; b < nb; b++) n += sizes[b];
    set->items = calloc((size_t)n, sizeof *set->items);
    assert_non_null(set->items);
    set->path = strdup("t.jsonl");
    for (int b = 0, i = 0; b < nb; b++)
        for (int k = 0; k < sizes[b]; k++, i++) {
            char id[64], v0[96], v1[96], v2[96], text[256];
            snprintf(id, sizeof id, "%s-%d-%d", books[b], 1 + k / 10, 1 + k % 10);
            int base = chained ? k : 1000 * b + 3 * k; /* unchained: verses of no other prompt */
            snprintf(v0, sizeof v0, "And this is verse number %d of the book called %s, told.\n", base, books[b]);
            snprintf(v1, sizeof v1, "And this is verse number %d of the book called %s, told.\n", base + 1, books[b]);
            snprintf(v2, sizeof v2, "And this is verse number %d of the book called %s, told.\n", base + 2, books[b]);
            snprintf(text, sizeof text, "%s%s", v0, v1);
            set->items[i] = (hs_prompt){strdup(id), strdup(text), strdup(v2), i + 1};
        }
    set->n = (size_t)n;
}

static int count_book(const hs_prompt_set *set, const size_t *idx, size_t n, const char *book)
{
    int c = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = set->items[idx[i]].id;
        size_t len = hs_prompt_book_len(id);
        c += len == strlen(book) && !strncmp(id, book, len);
    }
    return c;
}

static void test_book_of_id(void **state)
{
    (void)state;
    static const struct {
        const char *id, *book;
    } cases[] = {{"ruth-1-1", "ruth"},  {"1-samuel-2-3", "1-samuel"}, {"song-of-solomon-8-14", "song-of-solomon"},
                 {"x-12", "x"},         {"-5", "-5"},                {"a-b", "a-b"},
                 {"a--1", "a-"},        {"p7", "p7"},                {"q-1-2-3", "q-1"},
                 {"9", "9"},            {"a-", "a-"},                {"", ""}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (hs_prompt_book_len(cases[i].id) != strlen(cases[i].book))
            fail_msg("book of '%s': %zu bytes, expected '%s'", cases[i].id, hs_prompt_book_len(cases[i].id),
                     cases[i].book);
}

/* 60, 30 and 10 prompts, 20 chosen: one each, then 17 in proportion to 59, 29 and 9
 * (10.34, 5.08, 1.58), the last one to the largest remainder: 11, 6 and 3. */
static void test_stratified_counts(void **state)
{
    (void)state;
    const char *books[] = {"genesis", "ruth", "jude"};
    const int sizes[] = {60, 30, 10};
    hs_prompt_set set;
    make_set(&set, books, sizes, 3, 0);
    size_t idx[20];
    assert_int_equal(hs_prompts_sample(&set, 20, 7, idx), HS_OK);
    assert_int_equal(count_book(&set, idx, 20, "genesis"), 11);
    assert_int_equal(count_book(&set, idx, 20, "ruth"), 6);
    assert_int_equal(count_book(&set, idx, 20, "jude"), 3);
    for (int i = 1; i < 20; i++) assert_true(idx[i - 1] < idx[i]); /* file order */
    /* fewer than one per book: n books, one prompt each */
    assert_int_equal(hs_prompts_sample(&set, 2, 7, idx), HS_OK);
    assert_true(idx[0] < idx[1]);
    assert_true(hs_prompt_book_len(set.items[idx[0]].id) != hs_prompt_book_len(set.items[idx[1]].id));
    hs_prompts_free(&set);
}

static void test_seeded(void **state)
{
    (void)state;
    const char *books[] = {"a", "b"};
    const int sizes[] = {50, 50};
    hs_prompt_set set;
    make_set(&set, books, sizes, 2, 0);
    size_t x[10], y[10], z[10];
    assert_int_equal(hs_prompts_sample(&set, 10, 42, x), HS_OK);
    assert_int_equal(hs_prompts_sample(&set, 10, 42, y), HS_OK);
    assert_int_equal(hs_prompts_sample(&set, 10, 43, z), HS_OK);
    assert_memory_equal(x, y, sizeof x);
    assert_memory_not_equal(x, z, sizeof x);
    int head = 1; /* not the head of the file, nor of each book */
    for (int i = 0; i < 5; i++) head &= x[i] == (size_t)i && x[5 + i] == (size_t)(50 + i);
    assert_false(head);
    assert_int_equal(count_book(&set, x, 10, "a"), 5);
    /* ids without a book: every prompt its own book, a plain random sample */
    for (size_t i = 0; i < set.n; i++) snprintf(set.items[i].id, 4, "p%zu", i % 100);
    assert_int_equal(hs_prompts_sample(&set, 10, 42, x), HS_OK);
    for (int i = 1; i < 10; i++) assert_true(x[i - 1] < x[i]);
    assert_true(x[9] >= 10);
    hs_prompts_free(&set);
}

/* Neighbouring prompts overlap (each reference is a verse of the next two prompts'
 * texts); no chosen text may contain a chosen reference, though the head would. */
static void test_no_overlap(void **state)
{
    (void)state;
    const char *books[] = {"ruth", "jonah"};
    const int sizes[] = {40, 20};
    hs_prompt_set set;
    make_set(&set, books, sizes, 2, 1);
    assert_non_null(strstr(set.items[1].prompt, set.items[0].reference)); /* the file overlaps */
    for (uint64_t seed = 1; seed <= 20; seed++) {
        size_t idx[10];
        assert_int_equal(hs_prompts_sample(&set, 10, seed, idx), HS_OK);
        for (int a = 0; a < 10; a++)
            for (int b = 0; b < 10; b++)
                if (a != b && strstr(set.items[idx[a]].prompt, set.items[idx[b]].reference))
                    fail_msg("seed %llu: the text of %s contains the reference of %s", (unsigned long long)seed,
                             set.items[idx[a]].id, set.items[idx[b]].id);
    }
    /* 60 prompts where each overlaps its two successors: at most 20 fit without overlap
     * among 40 + 20 in two books (every third prompt) */
    size_t many[40];
    assert_int_equal(hs_prompts_sample(&set, 40, 1, many), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "t.jsonl: only"));
    assert_non_null(strstr(hs_err_msg(), "prompt_order = head"));
    assert_int_equal(hs_prompts_sample(&set, 61, 1, many), HS_EINPUT);
    hs_prompts_free(&set);
}

static void test_keep(void **state)
{
    (void)state;
    const char *books[] = {"a"};
    const int sizes[] = {8};
    hs_prompt_set set;
    make_set(&set, books, sizes, 1, 0);
    const size_t idx[] = {1, 4, 7};
    hs_prompts_keep(&set, idx, 3);
    assert_int_equal(set.n, 3);
    assert_string_equal(set.items[0].id, "a-1-2");
    assert_string_equal(set.items[1].id, "a-1-5");
    assert_string_equal(set.items[2].id, "a-1-8");
    assert_int_equal(set.items[2].line, 8);
    hs_prompts_free(&set);
}

/* hs_prompts_choose, the rule the sweep, its resume check and --dry-run share: every prompt
 * for max_prompts 0 or not below the count, the head with prompt_order = head, else the
 * seeded sample itself. */
static void test_choose(void **state)
{
    (void)state;
    const char *books[] = {"a", "b", "c"};
    const int sizes[] = {10, 20, 30};
    hs_prompt_set set;
    make_set(&set, books, sizes, 3, 0);
    size_t idx[60], want[60], n = 0;
    for (int max = 0; max <= 60; max += 60) {
        assert_int_equal(hs_prompts_choose(&set, max, 0, 7, idx, &n), HS_OK);
        assert_int_equal(n, 60);
        for (size_t i = 0; i < n; i++) assert_int_equal(idx[i], i);
    }
    assert_int_equal(hs_prompts_choose(&set, 80, 0, 7, idx, &n), HS_OK);
    assert_int_equal(n, 60);
    assert_int_equal(hs_prompts_choose(&set, 12, 1, 7, idx, &n), HS_OK);
    assert_int_equal(n, 12);
    for (size_t i = 0; i < n; i++) assert_int_equal(idx[i], i);
    assert_int_equal(hs_prompts_choose(&set, 12, 0, 7, idx, &n), HS_OK);
    assert_int_equal(hs_prompts_sample(&set, 12, 7, want), HS_OK);
    assert_int_equal(n, 12);
    assert_memory_equal(idx, want, 12 * sizeof *idx);
    assert_int_equal(count_book(&set, idx, n, "a"), 2); /* not the head: a sample across books */
    assert_int_equal(count_book(&set, idx, n, "c"), 6);
    hs_prompts_free(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_book_of_id), cmocka_unit_test(test_stratified_counts), cmocka_unit_test(test_seeded),
        cmocka_unit_test(test_no_overlap), cmocka_unit_test(test_keep), cmocka_unit_test(test_choose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
