/* tables.c: the tokenizer's two hash tables, both open addressing with linear probing
 * and a power-of-two capacity kept at most half full, so probes stay short:
 *   token bytes -> id             (vocab lookups: byte tokens, merge parts, results)
 *   (left id, right id) -> merge  (the BPE loop's only lookup, hit ~10x per word)
 * Tables are filled while loading and read-only afterwards. */
#include <stdlib.h>
#include <string.h>

#include "bpe_impl.h"

/* splitmix64 finalizer: spreads the bits of an id pair over the whole word. */
static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static size_t capacity_for(size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    return cap;
}

hs_status hs_tokmap_init(hs_tokmap *m, size_t n_tokens)
{
    m->cap = capacity_for(n_tokens);
    m->slots = hs_malloc(m->cap * sizeof *m->slots, "token table");
    if (!m->slots) return HS_ENOMEM;
    memset(m->slots, 0xFF, m->cap * sizeof *m->slots); /* every slot -1 */
    return HS_OK;
}

void hs_tokmap_free(hs_tokmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = 0;
}

static int token_equals(const hs_tokenizer *tok, int32_t id, const char *bytes, size_t len)
{
    return tok->tok_len[id] == len && memcmp(tok->tok_data + tok->tok_off[id], bytes, len) == 0;
}

int32_t hs_tokmap_find(const hs_tokenizer *tok, const char *bytes, size_t len)
{
    const hs_tokmap *m = &tok->by_bytes;
    size_t mask = m->cap - 1;
    for (size_t i = hs_hash_bytes(bytes, len) & mask;; i = (i + 1) & mask) {
        int32_t id = m->slots[i];
        if (id < 0 || token_equals(tok, id, bytes, len)) return id;
    }
}

int32_t hs_tokmap_insert(hs_tokenizer *tok, int32_t id)
{
    hs_tokmap *m = &tok->by_bytes;
    const char *bytes = tok->tok_data + tok->tok_off[id];
    size_t len = tok->tok_len[id], mask = m->cap - 1;
    for (size_t i = hs_hash_bytes(bytes, len) & mask;; i = (i + 1) & mask) {
        int32_t old = m->slots[i];
        if (old < 0) {
            m->slots[i] = id;
            return -1;
        }
        if (token_equals(tok, old, bytes, len)) return old;
    }
}

hs_status hs_mergemap_init(hs_mergemap *m, size_t n_merges)
{
    m->n = 0;
    m->cap = capacity_for(n_merges);
    m->slots = hs_malloc(m->cap * sizeof *m->slots, "merge table");
    if (!m->slots) return HS_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) m->slots[i].key = HS_MERGE_EMPTY;
    return HS_OK;
}

void hs_mergemap_free(hs_mergemap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static uint64_t pair_key(int32_t left, int32_t right)
{
    return (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
}

const hs_merge *hs_mergemap_find(const hs_mergemap *m, int32_t left, int32_t right)
{
    uint64_t key = pair_key(left, right);
    size_t mask = m->cap - 1;
    for (size_t i = hash_u64(key) & mask;; i = (i + 1) & mask) {
        const hs_merge *e = &m->slots[i];
        if (e->key == key) return e;
        if (e->key == HS_MERGE_EMPTY) return NULL;
    }
}

const hs_merge *hs_mergemap_insert(hs_mergemap *m, int32_t left, int32_t right, int32_t rank,
                                   int32_t result)
{
    HS_CHECK(2 * (m->n + 1) <= m->cap); /* sized by hs_mergemap_init */
    uint64_t key = pair_key(left, right);
    size_t mask = m->cap - 1;
    for (size_t i = hash_u64(key) & mask;; i = (i + 1) & mask) {
        hs_merge *e = &m->slots[i];
        if (e->key == key) return e;
        if (e->key == HS_MERGE_EMPTY) {
            *e = (hs_merge){key, rank, result};
            m->n++;
            return NULL;
        }
    }
}
