/* bpe.c: GPT-2 byte-level BPE encode and decode (loading is in bpe_load.c).
 *
 * Encoding, as OpenAI's encoder.py does it:
 *  1. <|endoftext|> is cut out first when special tokens are allowed.
 *  2. The rest is cut into maximal runs of valid UTF-8; a byte that belongs to no valid
 *     sequence becomes a pre-token of its own (our rule: the reference only sees text).
 *  3. Each run is split by the pre-tokenization pattern below (PCRE2, JIT when possible).
 *  4. Each pre-token starts as one symbol per byte and the merge with the lowest rank
 *     among adjacent symbols is applied everywhere it occurs (left to right, without
 *     overlap), then the next lowest, until no adjacent pair has a rule.
 * Step 4 uses a heap of candidate pairs, so a pre-token of n bytes costs O(n log n)
 * rather than the reference's O(n^2) (long runs of letters, digits or symbols are
 * single pre-tokens). A per-call cache maps repeated pre-tokens to their ids.
 *
 * Thread safety: the tokenizer is read-only after loading; all scratch state lives in
 * the call (the PCRE2 code is shared, match data is per call). */
#include <stdlib.h>
#include <string.h>

#include "bpe_impl.h"
#include "bpe_cache.h"

/* GPT-2's pattern (encoder.py). \s is spelled out as the Unicode White_Space property,
 * which is what the Python `regex` module used by the reference matches; PCRE2's own \s
 * adds U+180E. */
#define WS "\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}" \
           "\\x{202F}\\x{205F}\\x{3000}"
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+"
    "|[" WS "]+(?![^" WS "])|[" WS "]+";

/* ---- loading and accessors ----------------------------------------------------- */

static hs_status compile_pattern(hs_tokenizer *tok)
{
    int code;
    PCRE2_SIZE off;
    tok->re = pcre2_compile((PCRE2_SPTR)gpt2_pattern, PCRE2_ZERO_TERMINATED,
                            PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &code, &off, NULL);
    if (!tok->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return hs_err(HS_EINTERNAL, "pre-tokenizer pattern: offset %zu: %s", (size_t)off,
                      (const char *)msg);
    }
    /* JIT is an optimisation only: without it (unsupported CPU) the interpreter runs. */
    (void)pcre2_jit_compile(tok->re, PCRE2_JIT_COMPLETE);
    return HS_OK;
}

hs_status hs_tokenizer_load_files(hs_tokenizer **out, const char *vocab_path,
                                  const char *merges_path)
{
    *out = NULL;
    hs_tokenizer *tok = hs_calloc(1, sizeof *tok, "tokenizer");
    if (!tok) return HS_ENOMEM;
    tok->eot = -1;
    hs_status st = hs_bpe_load_vocab(tok, vocab_path);
    if (!st) st = hs_bpe_load_merges(tok, merges_path);
    if (!st) st = compile_pattern(tok);
    if (st) {
        hs_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return HS_OK;
}

hs_status hs_tokenizer_load(hs_tokenizer **out, const char *dir)
{
    *out = NULL;
    char *vocab = hs_path_join(dir, "vocab.json");
    char *merges = hs_path_join(dir, "merges.txt");
    hs_status st = vocab && merges ? hs_tokenizer_load_files(out, vocab, merges) : HS_ENOMEM;
    free(vocab);
    free(merges);
    return st;
}

void hs_tokenizer_free(hs_tokenizer *tok)
{
    if (!tok) return;
    free(tok->tok_off);
    free(tok->tok_len);
    free(tok->tok_data);
    hs_tokmap_free(&tok->by_bytes);
    hs_mergemap_free(&tok->merges);
    pcre2_code_free(tok->re);
    free(tok);
}

int hs_tokenizer_vocab_size(const hs_tokenizer *tok) { return tok->n_vocab; }

int hs_tokenizer_eot(const hs_tokenizer *tok) { return tok->eot; }

const char *hs_tokenizer_token_bytes(const hs_tokenizer *tok, int32_t id, size_t *len)
{
    if (id < 0 || id >= tok->n_vocab || tok->tok_off[id] == HS_TOK_NONE) return NULL;
    *len = tok->tok_len[id];
    return tok->tok_data + tok->tok_off[id];
}

/* ---- decode -------------------------------------------------------------------- */

hs_status hs_tokenizer_decode(const hs_tokenizer *tok, const int32_t *ids, size_t n_ids,
                              char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t total = 0, len;
    for (size_t i = 0; i < n_ids; i++) {
        if (!hs_tokenizer_token_bytes(tok, ids[i], &len))
            return hs_err(HS_EINPUT, "token id %ld (position %zu) is not in the vocabulary "
                          "(ids 0..%d)", (long)ids[i], i, tok->n_vocab - 1);
        total += len;
    }
    char *buf = hs_malloc(total + 1, "decoded text");
    if (!buf) return HS_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n_ids; i++) {
        const char *b = hs_tokenizer_token_bytes(tok, ids[i], &len);
        memcpy(buf + k, b, len);
        k += len;
    }
    buf[k] = '\0';
    *out = buf;
    *out_len = k;
    return HS_OK;
}

/* ---- the merge loop ------------------------------------------------------------ */

/* A pair of adjacent symbols that has a rule: symbols pos and next[pos]. */
typedef struct {
    int32_t rank, pos, left, right, result;
} cand;

/* Scratch for one pre-token, reused (grown) across the pre-tokens of a call. */
typedef struct {
    int32_t *sym;  /* (cap) current id of each symbol, -1 once merged into its left */
    int32_t *prev; /* (cap) linked list of live symbols, -1 at the ends */
    int32_t *next; /* (cap) */
    cand *heap;    /* (3 cap) pending candidates, min-heap on (rank, pos) */
    cand *fresh;   /* (2 cap) pairs created during the current rank's round */
    size_t cap, n_heap, n_fresh;
} word_scratch;

static void word_scratch_free(word_scratch *w)
{
    free(w->sym);
    free(w->prev);
    free(w->next);
    free(w->heap);
    free(w->fresh);
    memset(w, 0, sizeof *w);
}

static hs_status word_scratch_reserve(word_scratch *w, size_t n)
{
    if (n <= w->cap) return HS_OK;
    size_t cap = n < 64 ? 64 : n + n / 2;
    word_scratch_free(w);
    w->sym = malloc(cap * sizeof *w->sym);
    w->prev = malloc(cap * sizeof *w->prev);
    w->next = malloc(cap * sizeof *w->next);
    w->heap = malloc(3 * cap * sizeof *w->heap);
    w->fresh = malloc(2 * cap * sizeof *w->fresh);
    if (!w->sym || !w->prev || !w->next || !w->heap || !w->fresh) {
        word_scratch_free(w);
        return hs_err(HS_ENOMEM, "out of memory for a pre-token of %zu bytes", n);
    }
    w->cap = cap;
    return HS_OK;
}

static int cand_less(const cand *a, const cand *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(word_scratch *w, cand c)
{
    size_t i = w->n_heap++;
    while (i > 0 && cand_less(&c, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = c;
}

static cand heap_pop(word_scratch *w)
{
    cand top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && cand_less(&w->heap[c + 1], &w->heap[c])) c++;
        if (!cand_less(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n > 0) w->heap[i] = last;
    return top;
}

/* Records the pair (pos, next[pos]), when a rule exists for it, in the heap or in the
 * list of pairs created during the current round. */
static void add_pair(const hs_tokenizer *tok, word_scratch *w, int32_t pos, int to_heap)
{
    if (pos < 0 || w->next[pos] < 0) return;
    int32_t l = w->sym[pos], r = w->sym[w->next[pos]];
    const hs_merge *m = hs_mergemap_find(&tok->merges, l, r);
    if (!m) return;
    cand c = {m->rank, pos, l, r, m->result};
    if (to_heap)
        heap_push(w, c);
    else
        w->fresh[w->n_fresh++] = c;
}

/* Applies candidate c if its pair is still there; new neighbour pairs go to fresh. */
static void apply(const hs_tokenizer *tok, word_scratch *w, cand c)
{
    int32_t r = w->next[c.pos];
    if (w->sym[c.pos] != c.left || r < 0 || w->sym[r] != c.right) return; /* stale */
    w->sym[c.pos] = c.result;
    w->sym[r] = -1;
    w->next[c.pos] = w->next[r];
    if (w->next[r] >= 0) w->prev[w->next[r]] = c.pos;
    add_pair(tok, w, w->prev[c.pos], 0);
    add_pair(tok, w, c.pos, 0);
}

/* One symbol per byte, linked in order, and the heap of their pairs that have a rule. */
static void word_init(const hs_tokenizer *tok, word_scratch *w, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        w->sym[i] = tok->byte_id[s[i]];
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    w->n_heap = 0;
    for (size_t i = 0; i + 1 < n; i++) add_pair(tok, w, (int32_t)i, 1);
}

/* BPE of one pre-token of n >= 1 bytes; appends its ids to out. Rules are applied in
 * rounds: every occurrence of the lowest-ranked pair, left to right, before any pair
 * created meanwhile is considered, exactly as the reference's bpe() loop. */
static hs_status bpe_word(const hs_tokenizer *tok, word_scratch *w, const unsigned char *s,
                          size_t n, hs_idvec *out)
{
    hs_status st = word_scratch_reserve(w, n);
    if (st) return st;
    word_init(tok, w, s, n);
    while (w->n_heap > 0) {
        int32_t rank = w->heap[0].rank;
        w->n_fresh = 0;
        while (w->n_heap > 0 && w->heap[0].rank == rank) apply(tok, w, heap_pop(w));
        for (size_t i = 0; i < w->n_fresh; i++) heap_push(w, w->fresh[i]);
    }
    for (int32_t i = 0; i >= 0; i = w->next[i])
        if ((st = hs_idvec_push(out, w->sym[i]))) return st;
    return HS_OK;
}

/* ---- pre-tokenization ---------------------------------------------------------- */

typedef struct {
    const hs_tokenizer *tok;
    pcre2_match_data *md;
    word_scratch w;
    hs_bpe_cache cache;
    hs_idvec out;
} encoder;

/* Ids of one pre-token, through the cache. */
static hs_status encode_word(encoder *e, const char *s, size_t n)
{
    if (n == 1) return hs_idvec_push(&e->out, e->tok->byte_id[(unsigned char)s[0]]);
    if (hs_bpe_cache_get(&e->cache, s, n, &e->out)) return HS_OK;
    size_t before = e->out.n;
    hs_status st = bpe_word(e->tok, &e->w, (const unsigned char *)s, n, &e->out);
    if (!st) hs_bpe_cache_put(&e->cache, s, n, e->out.v + before, e->out.n - before);
    return st;
}

static hs_status match_error(int rc)
{
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    return hs_err(HS_EINTERNAL, "pre-tokenizer: %s", (const char *)msg);
}

/* Splits a run of valid UTF-8 with the pattern. Every position starts a match (the
 * last alternatives accept any character), so pieces tile the run. */
static hs_status encode_utf8_run(encoder *e, const char *s, size_t n)
{
    size_t off = 0;
    while (off < n) {
        int rc = pcre2_match(e->tok->re, (PCRE2_SPTR)s, n, off, PCRE2_NO_UTF_CHECK, e->md, NULL);
        if (rc < 0) return match_error(rc);
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
        HS_CHECK(ov[0] == off && ov[1] > off);
        hs_status st = encode_word(e, s + off, ov[1] - off);
        if (st) return st;
        off = ov[1];
    }
    return HS_OK;
}

/* Text without special tokens: valid UTF-8 runs through the pattern, each other byte
 * alone. */
static hs_status encode_ordinary(encoder *e, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t v = hs_utf8_valid_prefix(s + i, n - i);
        hs_status st = v ? encode_utf8_run(e, s + i, v) : encode_word(e, s + i, 1);
        if (st) return st;
        i += v ? v : 1;
    }
    return HS_OK;
}

/* First "<|endoftext|>" in s[0..n), or NULL. */
static const char *find_eot(const char *s, size_t n)
{
    const size_t k = strlen(HS_EOT_TEXT);
    for (const char *p = s; n >= k && (p = memchr(p, '<', n - k + 1 - (size_t)(p - s))); p++)
        if (!memcmp(p, HS_EOT_TEXT, k)) return p;
    return NULL;
}

static hs_status encode_all(encoder *e, const char *s, size_t n, int allow_special)
{
    const size_t eot_len = strlen(HS_EOT_TEXT);
    int special = allow_special && e->tok->eot >= 0;
    while (n > 0) {
        const char *hit = special ? find_eot(s, n) : NULL;
        size_t k = hit ? (size_t)(hit - s) : n;
        hs_status st = encode_ordinary(e, s, k);
        if (!st && hit) st = hs_idvec_push(&e->out, e->tok->eot);
        if (st) return st;
        k += hit ? eot_len : 0;
        s += k;
        n -= k;
    }
    return HS_OK;
}

hs_status hs_tokenizer_encode(const hs_tokenizer *tok, const char *text, size_t len,
                              int allow_special, int32_t **ids, size_t *n_ids)
{
    *ids = NULL;
    *n_ids = 0;
    encoder e = {.tok = tok};
    e.md = pcre2_match_data_create_from_pattern(tok->re, NULL);
    hs_status st = e.md ? HS_OK : hs_err(HS_ENOMEM, "out of memory for regex match data");
    if (!st) st = hs_idvec_reserve(&e.out, len / 3 + 16);
    if (!st) st = hs_bpe_cache_init(&e.cache, len);
    if (!st) st = encode_all(&e, text, len, allow_special);
    pcre2_match_data_free(e.md);
    word_scratch_free(&e.w);
    hs_bpe_cache_free(&e.cache);
    if (st) {
        free(e.out.v);
        return st;
    }
    *ids = e.out.v;
    *n_ids = e.out.n;
    return HS_OK;
}
