/* bpe_cache.h: per-call storage of the encoder: a growable id array and a cache from
 * pre-token bytes to their ids. Prose repeats its words, so most pre-tokens of a long
 * text are found here instead of going through the merge loop again. The cache lives
 * for one hs_tokenizer_encode call, so the tokenizer itself stays read-only. */
#ifndef HEADSWEEP_BPE_CACHE_H
#define HEADSWEEP_BPE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "headsweep/util.h"

typedef struct {
    int32_t *v; /* (cap) owned */
    size_t n, cap;
} hs_idvec;

/* Makes room for at least need ids (capacity grows by doubling). */
hs_status hs_idvec_reserve(hs_idvec *a, size_t need);
hs_status hs_idvec_push(hs_idvec *a, int32_t id);

typedef struct {
    uint64_t hash;
    uint32_t key_off, key_len; /* bytes in keys; key_len 0 marks a free slot */
    uint32_t ids_off, ids_n;   /* ids in ids */
} hs_bpe_cache_slot;

typedef struct {
    hs_bpe_cache_slot *slots; /* (cap), NULL when the cache is off (short texts) */
    size_t cap, n;
    char *keys;               /* (keys_cap) pre-token bytes back to back */
    size_t keys_n, keys_cap;
    int32_t *ids;             /* (ids_cap) their ids back to back */
    size_t ids_n, ids_cap;
} hs_bpe_cache;

/* Sizes the cache for a text of text_len bytes (off below a few KiB). */
hs_status hs_bpe_cache_init(hs_bpe_cache *c, size_t text_len);
void hs_bpe_cache_free(hs_bpe_cache *c);
/* Appends the cached ids of s[0..n) to out and returns 1, or returns 0 (not cached, or
 * no memory to append: the caller then computes them). */
int hs_bpe_cache_get(const hs_bpe_cache *c, const char *s, size_t n, hs_idvec *out);
/* Remembers ids for s[0..n) when there is room; silently does nothing otherwise. */
void hs_bpe_cache_put(hs_bpe_cache *c, const char *s, size_t n, const int32_t *ids,
                      size_t n_ids);

#endif
