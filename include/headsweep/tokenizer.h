/* tokenizer.h: GPT-2 byte-level BPE (vocab.json + merges.txt), exactly as the reference
 * GPT-2 encoder: the original pre-tokenization regex (PCRE2, Unicode properties), the
 * bytes_to_unicode mapping, merges applied lowest rank first, and the <|endoftext|>
 * special token. Decoding returns the exact bytes that were encoded. */
#ifndef HEADSWEEP_TOKENIZER_H
#define HEADSWEEP_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "headsweep/util.h"

typedef struct hs_tokenizer hs_tokenizer;

/* Loads DIR/vocab.json and DIR/merges.txt. */
hs_status hs_tokenizer_load(hs_tokenizer **out, const char *dir);
/* Loads from explicit file paths (tests, tools). */
hs_status hs_tokenizer_load_files(hs_tokenizer **out, const char *vocab_path,
                                  const char *merges_path);
void hs_tokenizer_free(hs_tokenizer *tok);

int hs_tokenizer_vocab_size(const hs_tokenizer *tok);
/* Id of <|endoftext|>, or -1 when the vocabulary has none. */
int hs_tokenizer_eot(const hs_tokenizer *tok);

/* Encodes len bytes of text (any bytes, not only valid UTF-8) into a newly allocated id
 * array (*ids, *n_ids). The literal "<|endoftext|>" maps to the special token when
 * allow_special is non-zero, as tiktoken/gpt-3-encoder do for GPT-2. */
hs_status hs_tokenizer_encode(const hs_tokenizer *tok, const char *text, size_t len,
                              int allow_special, int32_t **ids, size_t *n_ids);
/* Decodes ids into newly allocated bytes (*out, *out_len, NUL-terminated). An id out of
 * range is HS_EINPUT. */
hs_status hs_tokenizer_decode(const hs_tokenizer *tok, const int32_t *ids, size_t n_ids,
                              char **out, size_t *out_len);
/* The token's bytes (not NUL-terminated) or NULL when id is out of range. */
const char *hs_tokenizer_token_bytes(const hs_tokenizer *tok, int32_t id, size_t *len);

#endif
