/* prompts.h: prompt sets, one JSON object per line:
 *   {"id": "ruth-1-3", "prompt": "...", "reference": "..."}
 * `id` is a unique non-empty string (an integer is accepted and kept as its text),
 * `prompt` a non-empty UTF-8 string, `reference` an optional non-empty UTF-8 string (the
 * text that actually follows, for teacher-forced perplexity; null counts as absent).
 * Other fields are ignored. Blank lines are skipped; anything else malformed (invalid
 * UTF-8, not a JSON object, a missing, empty or mistyped field, a repeated id) is
 * HS_EINPUT with a message "file:line: problem". */
#ifndef HEADSWEEP_PROMPTS_H
#define HEADSWEEP_PROMPTS_H

#include <stddef.h>
#include <stdint.h>

#include "headsweep/util.h"

typedef struct {
    char *id;
    char *prompt;
    char *reference; /* NULL when the line has none */
    int line;        /* 1-based line number in the file */
} hs_prompt;

typedef struct {
    hs_prompt *items; /* (n) */
    size_t n;
    char *path;
    char sha256[65];  /* of the file's bytes, for provenance and merge checks */
} hs_prompt_set;

/* Reads and parses a file; stops at the first problem. */
hs_status hs_prompts_load(hs_prompt_set *set, const char *path);
/* Parses from memory; path is used in messages only. */
hs_status hs_prompts_parse(hs_prompt_set *set, const char *data, size_t len, const char *path);
/* Receives one problem: msg is "path:line: problem". */
typedef void (*hs_prompts_report_fn)(void *ctx, int line, const char *msg);
/* Like hs_prompts_parse, but goes on past bad lines: calls report for every problem (in
 * line order), keeps the good lines in set and returns HS_OK with *n_problems set. Only
 * running out of memory is an error. */
hs_status hs_prompts_check(hs_prompt_set *set, const char *data, size_t len, const char *path,
                           hs_prompts_report_fn report, void *ctx, size_t *n_problems);
/* Frees everything set owns and zeroes it; NULL-safe. */
void hs_prompts_free(hs_prompt_set *set);

/* The sharding rule, the one definition the sweep, `prompts shard` and the report share:
 * prompt i belongs to shard i % n_shards, so shard k holds prompts k, k + n_shards, ...
 * in increasing order; shards are balanced and stable while n_shards is fixed. */
int hs_shard_of(size_t prompt, int n_shards);
/* Prompts in shard k of n_prompts, and the j-th of them. */
size_t hs_shard_size(size_t n_prompts, int n_shards, int k);
size_t hs_shard_prompt(int k, size_t j, int n_shards);
/* Indices of shard k of set in a new array (*idx; free() it). n_shards < 1 or k outside
 * [0, n_shards) is HS_EINPUT. */
hs_status hs_prompts_shard(const hs_prompt_set *set, int n_shards, int k, size_t **idx,
                           size_t *n_idx);

/* The book of a prompt id "<book>-<chapter>-<verse>" (jobs/prompts/README.md): the length
 * of the id without up to two trailing "-<digits>" parts; an id without them is its own
 * book. The sweep's sample and the report's per-book counts both use it. */
size_t hs_prompt_book_len(const char *id);
/* Chooses n of set's prompts (1 <= n <= set->n) into idx (n entries, increasing): a
 * sample stratified by book in proportion to the books' sizes, random within a book
 * from seed, without one chosen prompt's text sharing a 40-byte run with another's
 * reference (prompt_sample.c). Deterministic for a file, n and seed. HS_EINPUT when n
 * is out of range or overlaps leave fewer than n. */
hs_status hs_prompts_sample(const hs_prompt_set *set, size_t n, uint64_t seed, size_t *idx);
/* The prompts a study uses (job keys max_prompts, prompt_order, prompt_seed): every prompt
 * when max_prompts is 0 or not below set->n, else the first max_prompts with head, else
 * hs_prompts_sample's. idx (set->n entries) receives their indices in the file, increasing,
 * and *n their count: the one rule the sweep, its resume check and --dry-run share. */
hs_status hs_prompts_choose(const hs_prompt_set *set, int max_prompts, int head, uint64_t seed, size_t *idx,
                            size_t *n);
/* Keeps only the prompts idx[0..n) (increasing indices) in set, in that order, and frees
 * the others. */
void hs_prompts_keep(hs_prompt_set *set, const size_t *idx, size_t n);

#endif
