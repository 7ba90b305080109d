/* cmd_tokenize.c: `headsweep tokenize` (bytes on stdin -> ids) and `headsweep detokenize`
 * (ids -> the exact bytes). Both need only vocab.json and merges.txt in --model DIR.
 * tokenize --jsonl is the batch mode the reference test uses: one JSON string per input
 * line, one line of ids per input line, so thousands of strings cost one process. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "headsweep/tokenizer.h"

static const char tokenize_usage[] =
    "usage: headsweep tokenize --model DIR [--no-special] [--jsonl] < TEXT\n"
    "\n"
    "Reads all of standard input as bytes (any bytes, not only UTF-8) and prints its GPT-2\n"
    "token ids on one line, separated by spaces. Only DIR/vocab.json and DIR/merges.txt\n"
    "are read.\n"
    "\n"
    "  --model DIR   model directory (Hugging Face layout)\n"
    "  --no-special  encode the text <|endoftext|> as ordinary text; by default it is the\n"
    "                special token\n"
    "  --jsonl       batch mode: every input line is one JSON string (\"...\"); prints one\n"
    "                line of ids per input line, in order\n";

static const char detokenize_usage[] =
    "usage: headsweep detokenize --model DIR [--ids \"464 2068 ...\"]\n"
    "\n"
    "Reads token ids separated by whitespace from standard input (or from --ids) and\n"
    "writes the exact bytes they stand for to standard output. An id that is not in the\n"
    "vocabulary is bad input (exit 2).\n"
    "\n"
    "  --model DIR   model directory (only vocab.json and merges.txt are read)\n"
    "  --ids LIST    ids separated by spaces or commas, instead of standard input\n";

typedef struct {
    const char *model;
    const char *ids;
    int no_special, jsonl;
} tok_opts;

/* Parses the options both commands share; returns -1 when fine, else an exit code. */
static int parse_opts(int argc, char **argv, const char *usage, int detok, tok_opts *o)
{
    static const struct option tok_opts_list[] = {{"model", required_argument, 0, 'm'},
                                                  {"no-special", no_argument, 0, 'n'},
                                                  {"jsonl", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    static const struct option detok_opts_list[] = {{"model", required_argument, 0, 'm'},
                                                    {"ids", required_argument, 0, 'i'}, {0, 0, 0, 0}};
    hs_opt p;
    int c, rc;
    memset(o, 0, sizeof *o);
    hs_cli_opt_init(&p, argv[0], usage, NULL, detok ? detok_opts_list : tok_opts_list);
    while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        if (c == HS_OPT_EXIT) return rc;
        if (c == 'm') o->model = optarg;
        else if (c == 'i') o->ids = optarg;
        else if (c == 'n') o->no_special = 1;
        else if (c == 'j') o->jsonl = 1;
    }
    if (hs_opt_operands(&p, argc, 0, 0, detok ? "detokenize reads standard input or --ids, not operands"
                                              : "tokenize reads standard input, not operands")) return 2;
    if (!o->model) return hs_opt_error(&p, "--model DIR is required");
    return -1;
}

/* Reads all of f into a new NUL-terminated buffer (*len excludes the NUL). */
static hs_status read_all(FILE *f, const char *name, char **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n + 1 < cap) break; /* short read: end of input or error */
        char *nb = realloc(buf, 2 * cap);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    if (!buf) return hs_err(HS_ENOMEM, "%s: out of memory reading input", name);
    if (ferror(f)) {
        free(buf);
        return hs_err(HS_EIO, "%s: read error: %s", name, strerror(errno));
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return HS_OK;
}

/* Writes ids as decimal numbers separated by spaces, then a newline. */
static hs_status write_ids(FILE *f, const int32_t *ids, size_t n)
{
    char buf[1 << 14];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > sizeof buf - 16) {
            if (fwrite(buf, 1, k, f) != k) return hs_err(HS_EIO, "stdout: write error");
            k = 0;
        }
        k += (size_t)snprintf(buf + k, sizeof buf - k, i ? " %ld" : "%ld", (long)ids[i]);
    }
    buf[k++] = '\n';
    if (fwrite(buf, 1, k, f) != k) return hs_err(HS_EIO, "stdout: write error");
    return HS_OK;
}

static hs_status encode_and_print(const hs_tokenizer *tok, const char *s, size_t n, int special)
{
    int32_t *ids;
    size_t n_ids;
    hs_status st = hs_tokenizer_encode(tok, s, n, special, &ids, &n_ids);
    if (st) return st;
    st = write_ids(stdout, ids, n_ids);
    free(ids);
    return st;
}

/* Batch mode: each line of data is a JSON string. */
static hs_status tokenize_jsonl(const hs_tokenizer *tok, const char *data, size_t len, int special)
{
    size_t pos = 0;
    for (int line = 1; pos < len; line++) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        json_error_t jerr;
        json_t *v = json_loadb(data + pos, end - pos, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        pos = end + 1;
        if (!v || !json_is_string(v)) {
            json_decref(v);
            return hs_err(HS_EINPUT, "stdin:%d: expected one JSON string per line%s%s", line,
                          v ? "" : ": ", v ? "" : jerr.text);
        }
        hs_status st = encode_and_print(tok, json_string_value(v), json_string_length(v), special);
        json_decref(v);
        if (st) return st;
    }
    return HS_OK;
}

static hs_status finish_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout))
        return hs_err(HS_EIO, "stdout: write error: %s", strerror(errno));
    return HS_OK;
}

int hs_cmd_tokenize(int argc, char **argv)
{
    tok_opts o;
    int rc = parse_opts(argc, argv, tokenize_usage, 0, &o);
    if (rc >= 0) return rc;
    hs_tokenizer *tok = NULL;
    char *data = NULL;
    size_t len = 0;
    hs_status st = hs_tokenizer_load(&tok, o.model);
    if (!st) st = read_all(stdin, "stdin", &data, &len);
    if (!st && o.jsonl) st = tokenize_jsonl(tok, data, len, !o.no_special);
    else if (!st) st = encode_and_print(tok, data, len, !o.no_special);
    if (!st) st = finish_stdout();
    free(data);
    hs_tokenizer_free(tok);
    return st ? hs_cli_fail(st) : 0;
}

#define ID_SEPARATORS " ,\t\n\v\f\r"

/* Parses ids separated by whitespace or commas; an empty list is fine. */
static hs_status parse_id_list(const char *s, size_t len, const char *what, int32_t **ids,
                               size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (memchr(s, '\0', len)) return hs_err(HS_EINPUT, "%s: NUL byte among the token ids", what);
    int32_t *v = malloc((len / 2 + 1) * sizeof *v); /* every id takes >= 2 bytes but the last */
    if (!v) return hs_err(HS_ENOMEM, "%s: out of memory", what);
    size_t k = 0;
    for (const char *p = s;;) {
        while (*p && strchr(ID_SEPARATORS, *p)) p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long x = *p >= '0' && *p <= '9' ? strtol(p, &end, 10) : -1;
        if (x < 0 || errno || x > INT32_MAX || (*end && !strchr(ID_SEPARATORS, *end))) {
            int w = (int)strcspn(p, ID_SEPARATORS);
            free(v);
            return hs_err(HS_EINPUT, "%s: '%.*s' is not a token id", what, w > 40 ? 40 : w, p);
        }
        v[k++] = (int32_t)x;
        p = end;
    }
    *ids = v;
    *n = k;
    return HS_OK;
}

static hs_status detokenize(const hs_tokenizer *tok, const char *text, size_t len, const char *what)
{
    int32_t *ids;
    size_t n;
    char *out = NULL;
    size_t out_len = 0;
    hs_status st = parse_id_list(text, len, what, &ids, &n);
    if (!st) st = hs_tokenizer_decode(tok, ids, n, &out, &out_len);
    if (!st && fwrite(out, 1, out_len, stdout) != out_len)
        st = hs_err(HS_EIO, "stdout: write error");
    free(ids);
    free(out);
    return st;
}

int hs_cmd_detokenize(int argc, char **argv)
{
    tok_opts o;
    int rc = parse_opts(argc, argv, detokenize_usage, 1, &o);
    if (rc >= 0) return rc;
    hs_tokenizer *tok = NULL;
    char *data = NULL;
    size_t len = 0;
    hs_status st = hs_tokenizer_load(&tok, o.model);
    if (!st && o.ids) st = detokenize(tok, o.ids, strlen(o.ids), "--ids");
    else if (!st) {
        st = read_all(stdin, "stdin", &data, &len);
        if (!st) st = detokenize(tok, data, len, "stdin");
    }
    if (!st) st = finish_stdout();
    free(data);
    hs_tokenizer_free(tok);
    return st ? hs_cli_fail(st) : 0;
}
