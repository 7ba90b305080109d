/* text.c: generated token ids as text for people and files (the results file's
 * /prompts/generated). GPT-2's tokens are bytes, and a generation can stop inside a UTF-8
 * sequence or sample byte tokens that form none, so decoded bytes need not be UTF-8; a
 * file's UTF-8 strings (and xarray, which decodes them) must be. The text is therefore the
 * decoded bytes as Python's bytes.decode("utf-8", errors="replace") reads them, which is
 * what Hugging Face's tokenizer.decode returns: each maximal ill-formed subsequence becomes
 * one U+FFFD (Unicode 15, section 3.9, "U+FFFD Substitution of Maximal Subparts"). NUL is
 * replaced by U+FFFD too, since a fixed-length string ends at its first NUL. */
#include <stdlib.h>
#include <string.h>

#include "bpe_impl.h"

static const char replacement[3] = {(char)0xEF, (char)0xBF, (char)0xBD}; /* U+FFFD */

/* Bytes of the maximal subpart at s (n > 0 bytes left) that does not start a valid
 * sequence: the lead and the continuation bytes that could still have completed it
 * (Unicode Table 3-7 for the second byte), at least 1. */
static size_t maximal_subpart(const unsigned char *s, size_t n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    if (c < 0xC2 || c > 0xF4) return 1;
    size_t k = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4, m = 1;
    if (c == 0xE0) lo = 0xA0;
    else if (c == 0xED) hi = 0x9F;
    else if (c == 0xF0) lo = 0x90;
    else if (c == 0xF4) hi = 0x8F;
    if (n < 2 || s[1] < lo || s[1] > hi) return 1;
    for (m = 2; m < k && m < n && (s[m] & 0xC0) == 0x80; m++) {
    }
    return m;
}

/* Appends len bytes at *k when they fit below cap (one byte kept for the NUL) and, once
 * one piece did not fit, no later piece: *kept ends where the text is cut. */
static void put(char *out, size_t cap, size_t *k, size_t *kept, const void *b, size_t len)
{
    if (*kept == *k && *k + len < cap) {
        memcpy(out + *k, b, len);
        *kept += len;
    }
    *k += len;
}

size_t hs_utf8_replace_invalid(const char *text, size_t n, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t k = 0, kept = 0;
    for (size_t i = 0; i < n;) {
        size_t v = s[i] ? hs_utf8_seq_len(s + i, n - i) : 0;
        if (v) {
            put(out, cap, &k, &kept, s + i, v);
            i += v;
        } else {
            put(out, cap, &k, &kept, replacement, sizeof replacement);
            i += s[i] ? maximal_subpart(s + i, n - i) : 1;
        }
    }
    if (cap) out[kept] = '\0';
    return k;
}

/* Most bytes token bytes s[0..n) can add to a replaced text, whatever comes before and
 * after it: a valid sequence within the token decodes to itself in any context (a lead or
 * ASCII byte ends whatever came before), every other byte (NUL included) to at most one
 * U+FFFD of 3 bytes. */
static size_t token_bound(const unsigned char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        size_t v = s[i] ? hs_utf8_seq_len(s + i, n - i) : 0;
        w += v ? v : 3;
        i += v ? v : 1;
    }
    return w;
}

size_t hs_tokenizer_text_bound(const hs_tokenizer *tok)
{
    size_t most = 0, len;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        const char *b = hs_tokenizer_token_bytes(tok, id, &len);
        size_t w = b ? token_bound((const unsigned char *)b, len) : 0;
        if (w > most) most = w;
    }
    return most;
}

hs_status hs_tokenizer_decode_text(const hs_tokenizer *tok, const int32_t *ids, size_t n_ids, char *out, size_t cap)
{
    char *bytes = NULL;
    size_t len = 0;
    hs_status st = hs_tokenizer_decode(tok, ids, n_ids, &bytes, &len);
    if (st) return st;
    size_t need = hs_utf8_replace_invalid(bytes, len, out, cap);
    free(bytes);
    if (need >= cap)
        return hs_err(HS_EINTERNAL, "the text of %zu tokens takes %zu bytes, more than the %zu its buffer holds", n_ids,
                      need + 1, cap);
    return HS_OK;
}
