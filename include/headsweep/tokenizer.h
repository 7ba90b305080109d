/* tokenizer.h: GPT-2 byte-level BPE (vocab.json + merges.txt), exactly as the reference
 * GPT-2 encoder: the original pre-tokenization regex (PCRE2, Unicode properties), the
 * bytes_to_unicode mapping, merges applied lowest rank first, and the <|endoftext|>
 * special token. Decoding returns the exact bytes that were encoded.
 *
 * Any bytes can be encoded: the text is cut into maximal runs of valid UTF-8, each run
 * is pre-tokenized by the regex, and every byte that is not part of a valid UTF-8
 * sequence becomes a pre-token of its own (so it encodes to its single-byte token).
 * docs/tokenizer.md has the details. A loaded tokenizer is read-only: encode and decode
 * may run from several threads at once. */
#ifndef HEADSWEEP_TOKENIZER_H
#define HEADSWEEP_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "headsweep/util.h"

typedef struct hs_tokenizer hs_tokenizer;

/* Loads DIR/vocab.json and DIR/merges.txt. Every malformed file is HS_EINPUT with a
 * message naming the file (and the line, for merges.txt). *out is NULL on failure. */
hs_status hs_tokenizer_load(hs_tokenizer **out, const char *dir);
/* Loads from explicit file paths (tests, tools). */
hs_status hs_tokenizer_load_files(hs_tokenizer **out, const char *vocab_path,
                                  const char *merges_path);
void hs_tokenizer_free(hs_tokenizer *tok);

int hs_tokenizer_vocab_size(const hs_tokenizer *tok);
/* Id of <|endoftext|>, or -1 when the vocabulary has none. */
int hs_tokenizer_eot(const hs_tokenizer *tok);

/* Encodes len bytes of text (any bytes, not only valid UTF-8) into a newly allocated id
 * array (*ids, *n_ids; free() it). The literal "<|endoftext|>" maps to the special
 * token when allow_special is non-zero (tiktoken's allowed_special="all"); otherwise it
 * is ordinary text, as in the original GPT-2 encoder. */
hs_status hs_tokenizer_encode(const hs_tokenizer *tok, const char *text, size_t len,
                              int allow_special, int32_t **ids, size_t *n_ids);
/* Decodes ids into newly allocated bytes (*out, *out_len, NUL-terminated). An id out of
 * range is HS_EINPUT. */
hs_status hs_tokenizer_decode(const hs_tokenizer *tok, const int32_t *ids, size_t n_ids,
                              char **out, size_t *out_len);
/* The token's bytes (not NUL-terminated) or NULL when id is out of range. */
const char *hs_tokenizer_token_bytes(const hs_tokenizer *tok, int32_t id, size_t *len);

/* Decodes ids into text (src/tokenizer/text.c): the bytes as Python's
 * bytes.decode("utf-8", errors="replace") reads them (Hugging Face's tokenizer.decode), each
 * maximal ill-formed subsequence one U+FFFD, and NUL a U+FFFD too, so the text is valid
 * UTF-8 without NUL. Written into out (cap bytes, NUL-terminated); an id out of range is
 * HS_EINPUT, a text that does not fit HS_EINTERNAL. */
hs_status hs_tokenizer_decode_text(const hs_tokenizer *tok, const int32_t *ids, size_t n_ids, char *out,
                                   size_t cap);
/* Most bytes one token adds to such a text in any context: a text of n tokens takes at most
 * n times this, plus its NUL. */
size_t hs_tokenizer_text_bound(const hs_tokenizer *tok);
/* s[0..n) made valid UTF-8 without NUL as hs_tokenizer_decode_text does: at most cap - 1
 * bytes and a NUL into out; returns the whole text's length (as snprintf). */
size_t hs_utf8_replace_invalid(const char *s, size_t n, char *out, size_t cap);

/* Length of the longest prefix of s[0..n) that is valid UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF); n when all of it is. */
size_t hs_utf8_valid_prefix(const char *s, size_t n);
/* Code point that GPT-2's bytes_to_unicode assigns to byte b (how vocab.json and
 * merges.txt spell raw bytes). */
uint32_t hs_bytelevel_char(uint8_t b);

#endif
