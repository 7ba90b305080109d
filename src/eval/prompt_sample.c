/* prompt_sample.c: which prompts of a file a study uses when it uses fewer than all
 * (job key max_prompts; docs/sweep.md, "Which prompts").
 *
 * A file that starts a prompt at every verse has, at its head, one passage of one book in
 * which each prompt's reference is the next prompt's text. So the sample is stratified by
 * book (hs_prompt_book_len: the id without "-<chapter>-<verse>"), allocated in proportion
 * to the books' sizes, drawn in a seeded random order within each book, and a prompt is
 * kept only when its text shares no run of HS_OVERLAP_RUN bytes with the reference of a
 * prompt already kept, nor its reference with a kept prompt's text. Deterministic for a
 * file, n and seed; the result is in file order. Runs are compared by 64-bit hashes: a
 * collision can only drop a candidate, never let an overlap through. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/prompts.h"

#define HS_OVERLAP_RUN 40

size_t hs_prompt_book_len(const char *id)
{
    size_t len = strlen(id);
    for (int k = 0; k < 2; k++) {
        size_t d = len;
        while (d > 0 && id[d - 1] >= '0' && id[d - 1] <= '9') d--;
        if (d == len || d < 2 || id[d - 1] != '-') break; /* no "-<digits>", or the dash opens the id */
        len = d - 1;
    }
    return len;
}

/* ---- a seeded stream (splitmix64) ---- */

static uint64_t next64(uint64_t *s) { return hs_splitmix64(s); }

static size_t below(uint64_t *s, size_t n) /* uniform in [0, n), n >= 1, by rejection */
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;
    do x = next64(s);
    while (x >= lim);
    return (size_t)(x % n);
}

/* ---- books: the prompts grouped by book, books in order of their first prompt ---- */

typedef struct {
    const char *id;
    size_t len; /* of the book prefix */
    size_t i;   /* prompt index */
} keyed;

typedef struct {
    size_t *members; /* (n) prompt indices, shuffled */
    size_t n, quota, next; /* next: members[next] is the next candidate */
} book;

static int by_book_then_index(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->id, y->id, m);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int by_first_member(const void *a, const void *b)
{
    const book *x = a, *y = b;
    return x->members[0] < y->members[0] ? -1 : x->members[0] > y->members[0];
}

/* Fills books (at most set->n) and *n_books; members point into order (set->n entries). */
static hs_status group_books(const hs_prompt_set *set, size_t *order, book *books, size_t *n_books)
{
    keyed *k = hs_malloc(set->n * sizeof *k, "prompt books");
    if (!k) return HS_ENOMEM;
    for (size_t i = 0; i < set->n; i++) k[i] = (keyed){set->items[i].id, hs_prompt_book_len(set->items[i].id), i};
    qsort(k, set->n, sizeof *k, by_book_then_index);
    size_t nb = 0;
    for (size_t i = 0; i < set->n; i++) {
        order[i] = k[i].i;
        if (i == 0 || by_book_then_index(&(keyed){k[i].id, k[i].len, 0}, &(keyed){k[i - 1].id, k[i - 1].len, 0}))
            books[nb++] = (book){order + i, 0, 0, 0};
        books[nb - 1].n++;
    }
    free(k);
    qsort(books, nb, sizeof *books, by_first_member);
    *n_books = nb;
    return HS_OK;
}

/* Proportional allocation of n over the books: one each when n allows, the rest in
 * proportion to what each book has left, by largest remainder (ties: book order). With
 * fewer than one per book, n books drawn with probability proportional to their size
 * (Efraimidis and Spirakis 2006, keys log(u)/size), one prompt each. */
static hs_status allocate(book *b, size_t nb, size_t n, size_t total, uint64_t *rng)
{
    double *frac = hs_malloc(nb * sizeof *frac, "prompt allocation");
    if (!frac) return HS_ENOMEM;
    size_t base = n >= nb ? 1 : 0, given = 0;
    for (size_t j = 0; j < nb; j++) {
        if (base) {
            double want = (double)(n - nb) * (double)(b[j].n - 1) / (double)(total - nb > 0 ? total - nb : 1);
            b[j].quota = 1 + (size_t)want;
            frac[j] = want - floor(want);
        } else {
            double u = ((double)(next64(rng) >> 11) + 1.0) / 9007199254740993.0; /* (0, 1) */
            frac[j] = log(u) / (double)b[j].n;
        }
        given += b[j].quota;
    }
    while (given < n) { /* largest remainder (or key) first */
        size_t best = nb;
        for (size_t j = 0; j < nb; j++)
            if (b[j].quota < b[j].n && (best == nb || frac[j] > frac[best])) best = j;
        if (best == nb) break;
        b[best].quota++, frac[best] = -INFINITY, given++;
    }
    free(frac);
    return HS_OK;
}

/* ---- overlap: hashes of every run of HS_OVERLAP_RUN bytes (the whole text when shorter) ---- */

typedef struct {
    uint64_t *slot; /* (cap) 0 = free */
    size_t cap, n;
} hash_set;

static uint64_t run_hash(const char *s, size_t n)
{
    uint64_t h = hs_hash_bytes(s, n); /* 0 marks a free slot, so it becomes 1 */
    return h ? h : 1;
}

static int set_has(const hash_set *s, uint64_t h)
{
    for (size_t i = h & (s->cap - 1); s->cap && s->slot[i]; i = (i + 1) & (s->cap - 1))
        if (s->slot[i] == h) return 1;
    return 0;
}

static hs_status set_add(hash_set *s, uint64_t h)
{
    if (2 * (s->n + 1) > s->cap) {
        hash_set g = {hs_calloc(s->cap ? 2 * s->cap : 1024, sizeof *g.slot, "overlap check"), 0, 0};
        if (!g.slot) return HS_ENOMEM;
        g.cap = s->cap ? 2 * s->cap : 1024;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i]) set_add(&g, s->slot[i]);
        free(s->slot);
        *s = g;
    }
    if (set_has(s, h)) return HS_OK;
    size_t i = h & (s->cap - 1);
    while (s->slot[i]) i = (i + 1) & (s->cap - 1);
    s->slot[i] = h;
    s->n++;
    return HS_OK;
}

static size_t n_runs(const char *t) { return strlen(t) > HS_OVERLAP_RUN ? strlen(t) - HS_OVERLAP_RUN + 1 : 1; }

static size_t run_len(const char *t) { return strlen(t) < HS_OVERLAP_RUN ? strlen(t) : HS_OVERLAP_RUN; }

static int overlaps(const char *t, const hash_set *s)
{
    if (!t || !*t) return 0;
    size_t runs = n_runs(t), len = run_len(t);
    for (size_t i = 0; i < runs; i++)
        if (set_has(s, run_hash(t + i, len))) return 1;
    return 0;
}

static hs_status add_runs(const char *t, hash_set *s)
{
    if (!t || !*t) return HS_OK;
    size_t runs = n_runs(t), len = run_len(t);
    hs_status st = HS_OK;
    for (size_t i = 0; i < runs && !st; i++) st = set_add(s, run_hash(t + i, len));
    return st;
}

typedef struct {
    const hs_prompt_set *set;
    hash_set text, ref; /* runs of the kept prompts' texts and references */
    char *kept;         /* (set->n) */
    size_t n_kept;
} picker;

/* Takes the book's next candidates until it has `want` more or runs out. */
static hs_status take(picker *p, book *b, size_t want)
{
    hs_status st = HS_OK;
    for (size_t got = 0; got < want && b->next < b->n && !st; b->next++) {
        const hs_prompt *q = &p->set->items[b->members[b->next]];
        if (overlaps(q->prompt, &p->ref) || overlaps(q->reference, &p->text)) continue;
        st = add_runs(q->prompt, &p->text);
        if (!st) st = add_runs(q->reference, &p->ref);
        p->kept[b->members[b->next]] = 1;
        p->n_kept++, got++;
    }
    return st;
}

static hs_status pick(picker *p, book *b, size_t nb, size_t n)
{
    hs_status st = HS_OK;
    for (size_t j = 0; j < nb && !st; j++) st = take(p, &b[j], b[j].quota);
    /* Books that overlaps left short: the rest from the others' remaining candidates. */
    for (size_t j = 0; j < nb && !st && p->n_kept < n; j++) st = take(p, &b[j], n - p->n_kept);
    return st;
}

hs_status hs_prompts_sample(const hs_prompt_set *set, size_t n, uint64_t seed, size_t *idx)
{
    if (n < 1 || n > set->n)
        return hs_err(HS_EINPUT, "%s: cannot choose %zu of its %zu prompts", set->path ? set->path : "prompts", n,
                      set->n);
    size_t *order = hs_malloc(set->n * sizeof *order, "prompt sample");
    book *b = hs_malloc(set->n * sizeof *b, "prompt sample");
    picker p = {.set = set, .kept = hs_calloc(set->n, 1, "prompt sample")};
    size_t nb = 0;
    uint64_t rng = seed;
    hs_status st = order && b && p.kept ? group_books(set, order, b, &nb) : HS_ENOMEM;
    if (!st) st = allocate(b, nb, n, set->n, &rng);
    for (size_t j = 0; j < nb && !st; j++) /* Fisher-Yates, books in order */
        for (size_t i = b[j].n; i > 1; i--) {
            size_t k = below(&rng, i), t = b[j].members[i - 1];
            b[j].members[i - 1] = b[j].members[k], b[j].members[k] = t;
        }
    if (!st) st = pick(&p, b, nb, n);
    if (!st && p.n_kept < n)
        st = hs_err(HS_EINPUT, "%s: only %zu of the %zu prompts asked for can be chosen without one prompt's text "
                               "overlapping another's reference (use fewer, or prompt_order = head)",
                    set->path ? set->path : "prompts", p.n_kept, n);
    for (size_t i = 0, k = 0; !st && i < set->n; i++)
        if (p.kept[i]) idx[k++] = i;
    free(order), free(b), free(p.kept), free(p.text.slot), free(p.ref.slot);
    return st;
}

hs_status hs_prompts_choose(const hs_prompt_set *set, int max_prompts, int head, uint64_t seed, size_t *idx,
                            size_t *n)
{
    size_t k = max_prompts > 0 && (size_t)max_prompts < set->n ? (size_t)max_prompts : set->n;
    *n = k;
    for (size_t i = 0; i < k; i++) idx[i] = i;
    return k < set->n && !head ? hs_prompts_sample(set, k, seed, idx) : HS_OK;
}

void hs_prompts_keep(hs_prompt_set *set, const size_t *idx, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < set->n; i++) {
        if (k < n && idx[k] == i) {
            set->items[k++] = set->items[i];
            continue;
        }
        free(set->items[i].id), free(set->items[i].prompt), free(set->items[i].reference);
    }
    set->n = k;
}
