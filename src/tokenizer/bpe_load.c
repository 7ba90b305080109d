/* bpe_load.c: readers for GPT-2's vocab.json and merges.txt.
 *
 * vocab.json is one JSON object {"byte-level text": id, ...}; merges.txt holds one rule
 * "left right" per line, in priority order (line order = rank), after an optional first
 * line "#version: ...". Everything is checked, and every problem is HS_EINPUT naming the
 * file (and the line of merges.txt): ids must be distinct non-negative integers, tokens
 * non-empty byte-level text, every id 0..n-1 given (no gap), all 256 single-byte tokens
 * present, merge parts and their concatenation in the vocabulary, no rule twice. Empty
 * lines of merges.txt are skipped. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "bpe_impl.h"

/* Writes s as a quoted, possibly shortened string into buf (for messages): valid UTF-8
 * characters as they are, control characters, quotes, backslashes and bytes outside
 * valid UTF-8 as \xHH, so the message itself is always valid UTF-8. */
static const char *quote(const char *s, size_t len, char *buf, size_t cap)
{
    size_t k = 0, i = 0, limit = cap - 10; /* room for one piece (<= 4), `..."`, NUL */
    buf[k++] = '"';
    while (i < len && k < limit) {
        unsigned char c = (unsigned char)s[i];
        size_t n = hs_utf8_seq_len((const unsigned char *)s + i, len - i);
        if (n == 0 || c < 0x20 || c == 0x7F || c == '"' || c == '\\') {
            k += (size_t)snprintf(buf + k, cap - k, "\\x%02x", c);
            i++;
        } else {
            memcpy(buf + k, s + i, n);
            k += n;
            i += n;
        }
    }
    if (i < len) k += (size_t)snprintf(buf + k, cap - k, "...");
    snprintf(buf + k, cap - k, "\"");
    return buf;
}

/* Message tail for a failed byte-level decode. */
static const char *bad_char_text(uint32_t bad, char *buf, size_t cap)
{
    if (bad == UINT32_MAX)
        snprintf(buf, cap, "invalid UTF-8");
    else
        snprintf(buf, cap, "character U+%04X stands for no byte", (unsigned)bad);
    return buf;
}

/* ---- vocab.json ---------------------------------------------------------------- */

static hs_status vocab_parse_json(const char *path, json_t **root)
{
    char *data = NULL;
    size_t len = 0;
    hs_status st = hs_read_file(path, &data, &len);
    if (st) return st;
    json_error_t jerr;
    *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    free(data);
    if (!*root)
        return hs_err(HS_EINPUT, "%s: not valid JSON: line %d column %d: %s", path, jerr.line,
                      jerr.column, jerr.text);
    if (!json_is_object(*root) || json_object_size(*root) == 0) {
        json_decref(*root);
        *root = NULL;
        return hs_err(HS_EINPUT, "%s: expected a non-empty JSON object {\"token\": id, ...}",
                      path);
    }
    return HS_OK;
}

/* Checks that every value is an acceptable id; gives the largest and the key bytes. */
static hs_status vocab_check_ids(json_t *root, const char *path, int32_t *max_id,
                                 size_t *key_bytes)
{
    const char *key;
    json_t *val;
    char qb[96];
    *max_id = -1;
    *key_bytes = 0;
    json_object_foreach(root, key, val) {
        const char *q = quote(key, strlen(key), qb, sizeof qb);
        if (!json_is_integer(val))
            return hs_err(HS_EINPUT, "%s: token %s: id must be an integer, not a JSON %s", path,
                          q, json_is_real(val) ? "real number" : "non-number");
        json_int_t id = json_integer_value(val);
        if (id < 0)
            return hs_err(HS_EINPUT, "%s: token %s: negative id %lld", path, q, (long long)id);
        if (id > HS_BPE_MAX_ID)
            return hs_err(HS_EINPUT, "%s: token %s: id %lld above the limit %d", path, q,
                          (long long)id, HS_BPE_MAX_ID);
        if (id > *max_id) *max_id = (int32_t)id;
        *key_bytes += strlen(key);
    }
    return HS_OK;
}

static hs_status vocab_alloc(hs_tokenizer *tok, int32_t max_id, size_t key_bytes, size_t n)
{
    tok->n_vocab = max_id + 1;
    tok->tok_off = hs_malloc((size_t)tok->n_vocab * sizeof *tok->tok_off, "vocabulary");
    tok->tok_len = hs_calloc((size_t)tok->n_vocab, sizeof *tok->tok_len, "vocabulary");
    tok->tok_data = hs_malloc(key_bytes, "vocabulary");
    if (!tok->tok_off || !tok->tok_len || !tok->tok_data) return HS_ENOMEM;
    for (int32_t i = 0; i < tok->n_vocab; i++) tok->tok_off[i] = HS_TOK_NONE;
    return hs_tokmap_init(&tok->by_bytes, n);
}

/* Decodes one key into tok_data at tok->tok_data_len and registers it as id. */
static hs_status vocab_add(hs_tokenizer *tok, const char *path, const char *key, int32_t id)
{
    char qb[96], qb2[96], why[64];
    uint32_t bad;
    const char *q = quote(key, strlen(key), qb, sizeof qb);
    long n = hs_bytelevel_decode(key, strlen(key), tok->tok_data + tok->tok_data_len, &bad);
    if (n < 0)
        return hs_err(HS_EINPUT, "%s: token %s (id %d) is not byte-level text: %s", path, q, id,
                      bad_char_text(bad, why, sizeof why));
    if (n == 0) return hs_err(HS_EINPUT, "%s: empty token \"\" (id %d)", path, id);
    if (tok->tok_off[id] != HS_TOK_NONE) {
        const char *other = tok->tok_data + tok->tok_off[id];
        return hs_err(HS_EINPUT, "%s: id %d is given to two tokens, %s and %s", path, id,
                      quote(other, tok->tok_len[id], qb2, sizeof qb2), q);
    }
    tok->tok_off[id] = (uint32_t)tok->tok_data_len;
    tok->tok_len[id] = (uint32_t)n;
    tok->tok_data_len += (size_t)n;
    int32_t old = hs_tokmap_insert(tok, id);
    if (old >= 0) /* distinct keys always decode to distinct bytes; kept as a guard */
        return hs_err(HS_EINPUT, "%s: tokens with ids %d and %d have the same bytes", path, old,
                      id);
    return HS_OK;
}

/* Ids must run 0..n-1 without a gap. GPT-2's vocab.json numbers its tokens densely (the
 * special tokens of Hugging Face's added_tokens.json are not read here), and a model's
 * logits cover every id below its vocab_size: an id with no token would be sampled and then
 * fail to decode mid-run, far from the file at fault. */
static hs_status vocab_check_dense(const hs_tokenizer *tok, const char *path)
{
    int32_t first = -1, missing = 0;
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        if (tok->tok_off[i] != HS_TOK_NONE) continue;
        if (first < 0) first = i;
        missing++;
    }
    if (first < 0) return HS_OK;
    return hs_err(HS_EINPUT,
                  "%s: no token has id %d, though ids run up to %d (%d of the ids 0..%d are missing; "
                  "GPT-2's vocab.json numbers its tokens without gaps)",
                  path, first, tok->n_vocab - 1, missing, tok->n_vocab - 1);
}

static hs_status vocab_find_bytes(hs_tokenizer *tok, const char *path)
{
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        tok->byte_id[b] = hs_tokmap_find(tok, &c, 1);
        if (tok->byte_id[b] < 0)
            return hs_err(HS_EINPUT,
                          "%s: no token for byte 0x%02x (written U+%04X); byte-level BPE needs "
                          "all 256 single-byte tokens",
                          path, b, (unsigned)hs_bytelevel_char((uint8_t)b));
    }
    tok->eot = hs_tokmap_find(tok, HS_EOT_TEXT, strlen(HS_EOT_TEXT));
    return HS_OK;
}

hs_status hs_bpe_load_vocab(hs_tokenizer *tok, const char *path)
{
    json_t *root = NULL;
    int32_t max_id;
    size_t key_bytes;
    hs_status st = vocab_parse_json(path, &root);
    if (st) return st;
    st = vocab_check_ids(root, path, &max_id, &key_bytes);
    if (!st) st = vocab_alloc(tok, max_id, key_bytes, json_object_size(root));
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (st) break;
        st = vocab_add(tok, path, key, (int32_t)json_integer_value(val));
    }
    if (!st) st = vocab_find_bytes(tok, path); /* first: a missing byte token is the clearer message */
    if (!st) st = vocab_check_dense(tok, path);
    json_decref(root);
    return st;
}

/* ---- merges.txt ---------------------------------------------------------------- */

typedef struct {
    const char *path;
    int line;
    char *scratch;     /* (file length) bytes of both parts, back to back */
    int32_t *rank_line;/* (number of lines) line of each rank, for duplicate messages */
} merges_ctx;

/* Splits line[0..len) at spaces and tabs; returns the number of parts, up to 3 kept. */
static int split_parts(const char *line, size_t len, const char *part[3], size_t plen[3])
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
        if (i == len) break;
        size_t start = i;
        while (i < len && line[i] != ' ' && line[i] != '\t') i++;
        if (n < 3) {
            part[n] = line + start;
            plen[n] = i - start;
        }
        n++;
    }
    return n;
}

/* Decodes a part into out and looks it up; sets *id. */
static hs_status merge_part(const hs_tokenizer *tok, merges_ctx *c, const char *part,
                            size_t len, char *out, long *n, int32_t *id)
{
    char qb[96], why[64];
    uint32_t bad;
    *n = hs_bytelevel_decode(part, len, out, &bad);
    if (*n < 0)
        return hs_err(HS_EINPUT, "%s:%d: %s is not byte-level text: %s", c->path, c->line,
                      quote(part, len, qb, sizeof qb), bad_char_text(bad, why, sizeof why));
    *id = hs_tokmap_find(tok, out, (size_t)*n);
    if (*id < 0)
        return hs_err(HS_EINPUT, "%s:%d: token %s is not in the vocabulary", c->path, c->line,
                      quote(part, len, qb, sizeof qb));
    return HS_OK;
}

static hs_status merge_line(hs_tokenizer *tok, merges_ctx *c, const char *line, size_t len)
{
    const char *part[3];
    size_t plen[3];
    int np = split_parts(line, len, part, plen);
    if (np != 2)
        return hs_err(HS_EINPUT, "%s:%d: expected two tokens separated by a space, found %d",
                      c->path, c->line, np);
    long n0, n1;
    int32_t left, right;
    hs_status st = merge_part(tok, c, part[0], plen[0], c->scratch, &n0, &left);
    if (!st) st = merge_part(tok, c, part[1], plen[1], c->scratch + n0, &n1, &right);
    if (st) return st;
    char qb[96];
    int32_t result = hs_tokmap_find(tok, c->scratch, (size_t)(n0 + n1));
    if (result < 0)
        return hs_err(HS_EINPUT, "%s:%d: merged token %s is not in the vocabulary", c->path,
                      c->line, quote(c->scratch, (size_t)(n0 + n1), qb, sizeof qb));
    int32_t rank = (int32_t)tok->merges.n;
    const hs_merge *old = hs_mergemap_insert(&tok->merges, left, right, rank, result);
    if (old)
        return hs_err(HS_EINPUT, "%s:%d: merge repeats line %d", c->path, c->line,
                      c->rank_line[old->rank]);
    c->rank_line[rank] = c->line;
    return HS_OK;
}

static size_t count_lines(const char *data, size_t len)
{
    size_t n = 1;
    for (const char *p = data; (p = memchr(p, '\n', len - (size_t)(p - data))); p++) n++;
    return n;
}

static hs_status merges_parse(hs_tokenizer *tok, merges_ctx *c, const char *data, size_t len)
{
    size_t pos = 0;
    for (c->line = 1; pos < len; c->line++) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len, n = end - pos;
        const char *line = data + pos;
        pos = end + 1;
        if (n > 0 && line[n - 1] == '\r') n--; /* tolerate CRLF: \r is never token text */
        if (n == 0 || (c->line == 1 && n >= 8 && !memcmp(line, "#version", 8))) continue;
        if (c->line == INT32_MAX) return hs_err(HS_EINPUT, "%s: too many lines", c->path);
        hs_status st = merge_line(tok, c, line, n);
        if (st) return st;
    }
    return HS_OK;
}

hs_status hs_bpe_load_merges(hs_tokenizer *tok, const char *path)
{
    char *data = NULL;
    size_t len = 0;
    hs_status st = hs_read_file(path, &data, &len);
    if (st) return st;
    size_t lines = count_lines(data, len);
    merges_ctx c = {path, 0, hs_malloc(len + 1, "merges"),
                    hs_malloc(lines * sizeof(int32_t), "merges")};
    if (!c.scratch || !c.rank_line) st = HS_ENOMEM;
    if (!st) st = hs_mergemap_init(&tok->merges, lines);
    if (!st) st = merges_parse(tok, &c, data, len);
    free(c.scratch);
    free(c.rank_line);
    free(data);
    return st;
}
