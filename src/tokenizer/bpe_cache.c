/* bpe_cache.c: the encoder's growable id array and its pre-token cache (bpe_cache.h).
 * The cache is an open-addressing table kept at most half full; it stops taking new
 * entries when full instead of growing, and keeps only short pre-tokens (long ones are
 * rare and would only cost memory). */
#include <stdlib.h>
#include <string.h>

#include "bpe_cache.h"
#include "bpe_impl.h"

#define CACHE_MIN_TEXT 4096   /* below this the table costs more than it saves */
#define CACHE_MAX_SLOTS (1u << 17)
#define CACHE_MAX_KEY 64

hs_status hs_idvec_reserve(hs_idvec *a, size_t need)
{
    if (need <= a->cap) return HS_OK;
    size_t cap = a->cap ? a->cap : 16;
    while (cap < need) cap *= 2; /* geometric, so appends stay amortised O(1) */
    int32_t *v = realloc(a->v, cap * sizeof *v);
    if (!v) return hs_err(HS_ENOMEM, "out of memory for %zu token ids", cap);
    a->v = v;
    a->cap = cap;
    return HS_OK;
}

hs_status hs_idvec_push(hs_idvec *a, int32_t id)
{
    if (a->n == a->cap) {
        hs_status st = hs_idvec_reserve(a, a->n + 1);
        if (st) return st;
    }
    a->v[a->n++] = id;
    return HS_OK;
}

hs_status hs_bpe_cache_init(hs_bpe_cache *c, size_t text_len)
{
    memset(c, 0, sizeof *c);
    if (text_len < CACHE_MIN_TEXT) return HS_OK;
    size_t cap = 1024;
    while (cap < text_len / 4 && cap < CACHE_MAX_SLOTS) cap *= 2;
    c->slots = calloc(cap, sizeof *c->slots);
    if (!c->slots) return HS_OK; /* the cache is an optimisation: run without it */
    c->cap = cap;
    return HS_OK;
}

void hs_bpe_cache_free(hs_bpe_cache *c)
{
    free(c->slots);
    free(c->keys);
    free(c->ids);
    memset(c, 0, sizeof *c);
}

/* Slot holding s[0..n) with hash h, or the free slot where it would go. */
static hs_bpe_cache_slot *find_slot(const hs_bpe_cache *c, const char *s, size_t n, uint64_t h)
{
    size_t mask = c->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        hs_bpe_cache_slot *e = &c->slots[i];
        if (e->key_len == 0) return e;
        if (e->hash == h && e->key_len == n && !memcmp(c->keys + e->key_off, s, n)) return e;
    }
}

int hs_bpe_cache_get(const hs_bpe_cache *c, const char *s, size_t n, hs_idvec *out)
{
    if (!c->slots || n > CACHE_MAX_KEY) return 0;
    const hs_bpe_cache_slot *e = find_slot(c, s, n, hs_hash_bytes(s, n));
    if (e->key_len == 0) return 0;
    if (hs_idvec_reserve(out, out->n + e->ids_n)) return 0;
    memcpy(out->v + out->n, c->ids + e->ids_off, e->ids_n * sizeof *c->ids);
    out->n += e->ids_n;
    return 1;
}

/* Array p of *cap elements of `size` bytes, grown to hold need; NULL (p untouched) on
 * failure. */
static void *arena_grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return p;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need) ncap *= 2;
    void *np = realloc(p, ncap * size);
    if (np) *cap = ncap;
    return np;
}

void hs_bpe_cache_put(hs_bpe_cache *c, const char *s, size_t n, const int32_t *ids,
                      size_t n_ids)
{
    if (!c->slots || n == 0 || n > CACHE_MAX_KEY || 2 * (c->n + 1) > c->cap) return;
    if (c->keys_n + n > UINT32_MAX || c->ids_n + n_ids > UINT32_MAX) return;
    char *keys = arena_grow(c->keys, &c->keys_cap, c->keys_n + n, 1);
    if (!keys) return;
    c->keys = keys;
    int32_t *arena = arena_grow(c->ids, &c->ids_cap, c->ids_n + n_ids, sizeof *ids);
    if (!arena) return;
    c->ids = arena;
    uint64_t h = hs_hash_bytes(s, n);
    hs_bpe_cache_slot *e = find_slot(c, s, n, h);
    if (e->key_len != 0) return; /* already there */
    memcpy(c->keys + c->keys_n, s, n);
    memcpy(c->ids + c->ids_n, ids, n_ids * sizeof *ids);
    *e = (hs_bpe_cache_slot){h, (uint32_t)c->keys_n, (uint32_t)n, (uint32_t)c->ids_n,
                             (uint32_t)n_ids};
    c->keys_n += n;
    c->ids_n += n_ids;
    c->n++;
}
