/* prompts.h: prompt sets, one JSON object per line:
 *   {"id": "ruth-1-3", "prompt": "...", "reference": "..."}
 * `id` is a unique non-empty string (a number is accepted and kept as its text),
 * `prompt` a non-empty UTF-8 string, `reference` an optional UTF-8 string (the text that
 * actually follows, for teacher-forced perplexity). Blank lines are skipped; anything
 * else malformed is an error naming file:line. */
#ifndef HEADSWEEP_PROMPTS_H
#define HEADSWEEP_PROMPTS_H

#include <stddef.h>

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

hs_status hs_prompts_load(hs_prompt_set *set, const char *path);
/* Parses from memory; path is used in messages only. */
hs_status hs_prompts_parse(hs_prompt_set *set, const char *data, size_t len, const char *path);
void hs_prompts_free(hs_prompt_set *set);

/* Reproducible sharding: prompt i belongs to shard (i % n_shards), so shards are
 * balanced and stable when n_shards is fixed. Returns the indices of shard k. */
hs_status hs_prompts_shard(const hs_prompt_set *set, int n_shards, int k, size_t **idx,
                           size_t *n_idx);

#endif
