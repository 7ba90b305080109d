/* bpe_impl.h: private layout of hs_tokenizer, shared by the files of src/tokenizer/.
 *
 * bytelevel.c  GPT-2's bytes_to_unicode mapping, byte-level text <-> bytes, UTF-8 checks
 * tables.c     the two hash tables: token bytes -> id, (left id, right id) -> merge
 * bpe_load.c   vocab.json and merges.txt readers (every malformed case is HS_EINPUT)
 * bpe.c        pre-tokenizer (PCRE2), the merge loop, encode/decode
 *
 * Tokens are kept as raw bytes (not in their byte-level text form), so the merge loop
 * works on ids and decoding is a copy. */
#ifndef HEADSWEEP_BPE_IMPL_H
#define HEADSWEEP_BPE_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "headsweep/tokenizer.h"

/* Largest id accepted in vocab.json: ids index dense arrays, so an absurd id must not
 * turn into an absurd allocation. GPT-2 uses 50,257; 2^24 leaves room for any BPE. */
#define HS_BPE_MAX_ID ((1 << 24) - 1)
#define HS_TOK_NONE UINT32_MAX /* tok_off of an id that vocab.json does not define */
#define HS_EOT_TEXT "<|endoftext|>"

/* Open-addressing table from token bytes to id; the bytes live in the tokenizer. */
typedef struct {
    int32_t *slots; /* (cap) id or -1 */
    size_t cap;     /* power of two, at least twice the number of tokens */
} hs_tokmap;

/* One merge rule: `left right` on line `rank` (0-based among the rules) of merges.txt. */
typedef struct {
    uint64_t key;   /* (uint64)left << 32 | right, HS_MERGE_EMPTY when the slot is free */
    int32_t rank;
    int32_t result; /* id of the concatenated token */
} hs_merge;
#define HS_MERGE_EMPTY UINT64_MAX

typedef struct {
    hs_merge *slots; /* (cap) */
    size_t cap;      /* power of two */
    size_t n;
} hs_mergemap;

struct hs_tokenizer {
    int32_t n_vocab;       /* largest id + 1 */
    uint32_t *tok_off;     /* (n_vocab) offset into tok_data, HS_TOK_NONE for a gap */
    uint32_t *tok_len;     /* (n_vocab) length in bytes */
    char *tok_data;        /* all tokens' bytes back to back, owned */
    size_t tok_data_len;
    hs_tokmap by_bytes;    /* token bytes -> id */
    hs_mergemap merges;    /* (left, right) -> rank, result */
    int32_t byte_id[256];  /* id of each single-byte token (all 256 must exist) */
    int32_t eot;           /* id of <|endoftext|>, -1 when absent */
    pcre2_code *re;        /* pre-tokenization pattern, JIT-compiled when possible */
};

/* bytelevel.c */
/* hs_bytelevel_char (bytes_to_unicode) is public: see tokenizer.h. */
/* Converts byte-level text (UTF-8 of mapped code points) to raw bytes in out (at most
 * len bytes). Returns the number of bytes, or -1 when text holds a character that
 * no byte maps to (*bad gets its code point, or UINT32_MAX for invalid UTF-8). */
long hs_bytelevel_decode(const char *text, size_t len, char *out, uint32_t *bad);
/* Length of the valid UTF-8 sequence starting at s (1..4), 0 when s[0..] is not one. */
size_t hs_utf8_seq_len(const unsigned char *s, size_t n);

/* tables.c */
hs_status hs_tokmap_init(hs_tokmap *m, size_t n_tokens);
void hs_tokmap_free(hs_tokmap *m);
/* Id of the token with these bytes, or -1. */
int32_t hs_tokmap_find(const hs_tokenizer *tok, const char *bytes, size_t len);
/* Inserts id (whose bytes are already in tok); returns the id already there, or -1. */
int32_t hs_tokmap_insert(hs_tokenizer *tok, int32_t id);

hs_status hs_mergemap_init(hs_mergemap *m, size_t n_merges);
void hs_mergemap_free(hs_mergemap *m);
/* The rule for (left, right), or NULL. */
const hs_merge *hs_mergemap_find(const hs_mergemap *m, int32_t left, int32_t right);
/* Adds a rule; returns the rule already there for the pair (not replaced), or NULL. */
const hs_merge *hs_mergemap_insert(hs_mergemap *m, int32_t left, int32_t right, int32_t rank,
                                   int32_t result);

/* bpe_load.c: fills n_vocab, tok_*, by_bytes, byte_id, eot / merges. */
hs_status hs_bpe_load_vocab(hs_tokenizer *tok, const char *path);
hs_status hs_bpe_load_merges(hs_tokenizer *tok, const char *path);

#endif
