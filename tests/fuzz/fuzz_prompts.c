/* fuzz_prompts.c: prompt files (JSON lines) through hs_prompts_parse, the loader that
 * stops at the first problem, and hs_prompts_check, which reports every problem and
 * keeps the good lines. Besides "no crash, no leak, HS_OK or HS_EINPUT naming the
 * file:line", the two must agree: parse accepts exactly when check reports nothing, and
 * then both keep the same prompts. Accepted prompts are valid non-empty UTF-8 with
 * unique ids, and sharding them loses and repeats none. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "headsweep/prompts.h"
#include "headsweep/tokenizer.h"

#define PATH "fuzz.jsonl"

typedef struct {
    size_t n;
    int last_line;
} reports;

static void on_problem(void *ctx, int line, const char *msg)
{
    reports *r = ctx;
    FZ_CHECK(!strncmp(msg, PATH ":", strlen(PATH ":")), "problem message does not start with the file: %s", msg);
    FZ_CHECK(line >= r->last_line && line >= 1, "problems out of line order (%d after %d)", line, r->last_line);
    r->last_line = line;
    r->n++;
}

static void check_text(const char *s, const char *what)
{
    FZ_CHECK(s && *s, "empty %s", what);
    size_t n = strlen(s);
    FZ_CHECK(hs_utf8_valid_prefix(s, n) == n, "%s is not valid UTF-8", what);
}

static void check_set(const hs_prompt_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        const hs_prompt *p = &set->items[i];
        check_text(p->id, "id");
        check_text(p->prompt, "prompt");
        if (p->reference) check_text(p->reference, "reference");
        FZ_CHECK(p->line >= 1 && (i == 0 || p->line > set->items[i - 1].line), "line numbers");
        /* Ids are unique (quadratic, but fuzz inputs hold few lines). */
        for (size_t j = 0; j < i && j < 4096; j++) FZ_CHECK(strcmp(set->items[j].id, p->id), "id %s twice", p->id);
    }
}

static void check_shards(const hs_prompt_set *set, int n_shards)
{
    size_t total = 0;
    for (int k = 0; k < n_shards; k++) {
        size_t *idx, n;
        FZ_CHECK(hs_prompts_shard(set, n_shards, k, &idx, &n) == HS_OK, "shard: %s", hs_err_msg());
        for (size_t j = 0; j < n; j++)
            FZ_CHECK(idx[j] < set->n && idx[j] % (size_t)n_shards == (size_t)k, "shard %d holds %zu", k, idx[j]);
        total += n;
        free(idx);
    }
    FZ_CHECK(total == set->n, "shards hold %zu of %zu prompts", total, set->n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    hs_prompt_set a, b;
    hs_err_clear();
    hs_status st = hs_prompts_parse(&a, text, size, PATH);
    if (st) {
        fz_expect_input_error(st, PATH ":", NULL);
        FZ_CHECK(a.n == 0 && a.items == NULL, "a failed parse left prompts behind");
    } else {
        fz_trace(HS_OK);
        check_set(&a);
        check_shards(&a, 1 + (size ? data[size / 2] % 5 : 0));
    }
    reports r = {0, 0};
    size_t n_problems = 0;
    FZ_CHECK(hs_prompts_check(&b, text, size, PATH, on_problem, &r, &n_problems) == HS_OK, "check: %s",
             hs_err_msg());
    FZ_CHECK(n_problems == r.n, "%zu problems counted, %zu reported", n_problems, r.n);
    FZ_CHECK((st == HS_OK) == (n_problems == 0), "parse says %d, check finds %zu problems", (int)st, n_problems);
    check_set(&b);
    if (st == HS_OK) {
        FZ_CHECK(a.n == b.n && !strcmp(a.sha256, b.sha256), "parse and check disagree");
        for (size_t i = 0; i < a.n; i++)
            FZ_CHECK(!strcmp(a.items[i].id, b.items[i].id) && !strcmp(a.items[i].prompt, b.items[i].prompt),
                     "prompt %zu differs", i);
    }
    hs_prompts_free(&a);
    hs_prompts_free(&b);
    return 0;
}
