/* bytelevel.c: GPT-2's bytes_to_unicode mapping and UTF-8 checks.
 *
 * GPT-2 stores tokens in vocab.json and merges.txt as "byte-level text": each byte is
 * written as one printable code point, so that whitespace and control bytes survive
 * JSON and the space-separated merges file. Bytes 33..126, 161..172 and 174..255 stand
 * for themselves; the other 68 bytes (0..32, 127..160, 173), in increasing order, get
 * U+0100, U+0101, ... U+0143 (encoder.py, bytes_to_unicode). */
#include <stdint.h>
#include <string.h>

#include "bpe_impl.h"

static int byte_is_printable(unsigned b)
{
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

/* The 68 other bytes are 0..32, 127..160 and 173, numbered 0..67 in that order. */
uint32_t hs_bytelevel_char(uint8_t b)
{
    if (byte_is_printable(b)) return b;
    if (b <= 32) return 256u + b;
    if (b <= 160) return 256u + 33 + (b - 127u);
    return 256u + 67; /* 173, the soft hyphen */
}

/* Byte that code point c stands for, or -1 when no byte maps to c. */
static int bytelevel_byte(uint32_t c)
{
    if (c < 256) return byte_is_printable(c) ? (int)c : -1;
    uint32_t n = c - 256;
    if (n < 33) return (int)n;
    if (n < 67) return (int)(127 + n - 33);
    return n == 67 ? 173 : -1;
}

/* Decodes the code point of the valid UTF-8 sequence s[0..k). */
static uint32_t utf8_decode(const unsigned char *s, size_t k)
{
    if (k == 1) return s[0];
    uint32_t c = s[0] & (0x7F >> k);
    for (size_t i = 1; i < k; i++) c = (c << 6) | (s[i] & 0x3F);
    return c;
}

long hs_bytelevel_decode(const char *text, size_t len, char *out, uint32_t *bad)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, n = 0;
    while (i < len) {
        size_t k = hs_utf8_seq_len(s + i, len - i);
        if (k == 0) {
            *bad = UINT32_MAX;
            return -1;
        }
        uint32_t c = utf8_decode(s + i, k);
        int b = bytelevel_byte(c);
        if (b < 0) {
            *bad = c;
            return -1;
        }
        out[n++] = (char)b;
        i += k;
    }
    return (long)n;
}

size_t hs_utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t k;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0xC2) return 0;        /* continuation byte or overlong 2-byte lead */
    else if (c < 0xE0) k = 2;
    else if (c < 0xF0) {
        k = 3;
        if (c == 0xE0) lo = 0xA0;  /* overlong */
        if (c == 0xED) hi = 0x9F;  /* UTF-16 surrogates */
    } else if (c < 0xF5) {
        k = 4;
        if (c == 0xF0) lo = 0x90;  /* overlong */
        if (c == 0xF4) hi = 0x8F;  /* above U+10FFFF */
    } else
        return 0;
    if (n < k || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < k; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return k;
}

size_t hs_utf8_valid_prefix(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = hs_utf8_seq_len(s + i, n - i);
        if (k == 0) break;
        i += k;
    }
    return i;
}
