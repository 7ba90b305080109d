/* prompts.c: prompt files (JSON lines, see prompts.h) and their reproducible sharding.
 *
 * One parser serves two callers: the loaders (hs_prompts_load/parse) stop at the first
 * problem, `headsweep prompts check` (hs_prompts_check) hears about every problem and
 * keeps the good lines. Each line is checked for UTF-8 first (so the message says so,
 * rather than the JSON parser's), then parsed with jansson. Ids are kept in a hash
 * table for the duplicate check, so large files load in linear time. */
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/prompts.h"
#include "headsweep/tokenizer.h"

typedef struct {
    hs_prompt_set *set;
    size_t cap;              /* capacity of set->items */
    size_t *ids;             /* (id_cap) index into set->items, SIZE_MAX when free */
    size_t id_cap;           /* power of two, kept at least twice set->n */
    const char *path;
    int line;                /* current line */
    int line_bad;            /* a problem was found on the current line */
    hs_prompts_report_fn report; /* NULL: stop at the first problem */
    void *ctx;
    size_t n_problems;
} parser;

/* Records a problem on the current line. Returns HS_EINPUT when parsing must stop. */
static hs_status problem(parser *p, const char *fmt, ...) HS_PRINTF(2, 3);
static hs_status problem(parser *p, const char *fmt, ...)
{
    char what[512], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s:%d: %s", p->path, p->line, what);
    int first_on_line = !p->line_bad;
    p->line_bad = 1;
    p->n_problems++;
    if (!p->report) { /* keep the first problem's message */
        if (first_on_line) hs_err(HS_EINPUT, "%s", msg);
        return HS_EINPUT;
    }
    p->report(p->ctx, p->line, msg);
    return HS_OK;
}

/* Slot of id in the table: where it is, or the free slot where it would go. */
static size_t *id_slot(const parser *p, const char *id)
{
    size_t mask = p->id_cap - 1;
    for (size_t i = hs_hash_bytes(id, strlen(id)) & mask;; i = (i + 1) & mask) {
        size_t *s = &p->ids[i];
        if (*s == SIZE_MAX || !strcmp(p->set->items[*s].id, id)) return s;
    }
}

static hs_status id_table_grow(parser *p)
{
    size_t cap = p->id_cap ? 2 * p->id_cap : 1024;
    size_t *t = hs_malloc(cap * sizeof *t, "prompt id table");
    if (!t) return HS_ENOMEM;
    memset(t, 0xFF, cap * sizeof *t);
    free(p->ids);
    p->ids = t;
    p->id_cap = cap;
    for (size_t i = 0; i < p->set->n; i++) *id_slot(p, p->set->items[i].id) = i;
    return HS_OK;
}

/* Bytes of an id at most. The results file stores every id at the longest one's size
 * (fixed-length strings, /prompt), so one huge id would multiply the file by the prompt
 * count; the results reader takes no string over HS_RESULTS_TEXT_MAX (1 MiB) at all. */
#define HS_PROMPT_ID_MAX 1024

/* HS_OK, or the problem with an id that the results file's reader would refuse
 * (analysis/h5read.c check_printable: a control character, hs_is_control) or that is
 * too long to store. The line is valid UTF-8 already, so the id is too. */
static hs_status check_id(parser *p, const char *id, size_t len)
{
    if (len > HS_PROMPT_ID_MAX)
        return problem(p, "\"id\" is %zu bytes long, over the limit of %d", len, HS_PROMPT_ID_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (hs_is_control(c))
            return problem(p, "\"id\" holds a control character (0x%02x at byte %zu of the id), which a results "
                              "file does not keep in an id", c, i + 1);
    }
    return HS_OK;
}

/* Text of the "id" field into buf (integers kept as their decimal text), or NULL. */
static const char *id_text(parser *p, json_t *obj, char *buf, size_t cap, hs_status *st)
{
    json_t *v = json_object_get(obj, "id");
    *st = HS_OK;
    if (!v) *st = problem(p, "missing \"id\"");
    else if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        return buf;
    } else if (!json_is_string(v)) *st = problem(p, "\"id\" must be a string or an integer");
    else if (json_string_length(v) == 0) *st = problem(p, "empty \"id\"");
    else if (!(*st = check_id(p, json_string_value(v), json_string_length(v))) && !p->line_bad)
        return json_string_value(v);
    return NULL;
}

/* Value of a string field; *present is 0 when the field is absent or null. */
static const char *str_field(parser *p, json_t *obj, const char *key, int required,
                             hs_status *st)
{
    json_t *v = json_object_get(obj, key);
    *st = HS_OK;
    if (!v || json_is_null(v)) {
        if (required) *st = problem(p, "missing \"%s\"", key);
        return NULL;
    }
    if (!json_is_string(v)) *st = problem(p, "\"%s\" must be a string", key);
    else if (json_string_length(v) == 0)
        *st = problem(p, required ? "empty \"%s\"" : "empty \"%s\" (leave the field out when "
                                                     "there is none)", key);
    else return json_string_value(v);
    return NULL;
}

static hs_status add_prompt(parser *p, const char *id, const char *prompt, const char *ref)
{
    if (p->set->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        hs_prompt *items = realloc(p->set->items, cap * sizeof *items);
        if (!items) return hs_err(HS_ENOMEM, "%s: out of memory for %zu prompts", p->path, cap);
        p->set->items = items;
        p->cap = cap;
    }
    if (2 * (p->set->n + 1) > p->id_cap) {
        hs_status st = id_table_grow(p);
        if (st) return st;
    }
    hs_prompt *q = &p->set->items[p->set->n];
    *q = (hs_prompt){hs_strdup(id), hs_strdup(prompt), ref ? hs_strdup(ref) : NULL, p->line};
    if (!q->id || !q->prompt || (ref && !q->reference)) {
        free(q->id), free(q->prompt), free(q->reference);
        return HS_ENOMEM;
    }
    *id_slot(p, q->id) = p->set->n++;
    return HS_OK;
}

/* Checks the fields of one parsed line and keeps it when all are fine. */
static hs_status take_object(parser *p, json_t *obj)
{
    char buf[32];
    hs_status st1, st2, st3;
    const char *id = id_text(p, obj, buf, sizeof buf, &st1);
    const char *prompt = str_field(p, obj, "prompt", 1, &st2);
    const char *ref = str_field(p, obj, "reference", 0, &st3);
    if (st1 || st2 || st3) return HS_EINPUT;
    if (id && p->id_cap) {
        size_t *slot = id_slot(p, id);
        if (*slot != SIZE_MAX)
            return problem(p, "duplicate id \"%.200s\" (first at line %d)", id,
                           p->set->items[*slot].line);
    }
    if (p->line_bad) return HS_OK;
    return add_prompt(p, id, prompt, ref);
}

static const char *json_type_name(const json_t *v)
{
    static const char *names[] = {"object", "array", "string", "integer",
                                  "real number", "true", "false", "null"};
    return names[json_typeof(v)];
}

static hs_status parse_line(parser *p, const char *s, size_t n)
{
    size_t valid = hs_utf8_valid_prefix(s, n);
    if (valid < n) return problem(p, "invalid UTF-8 (byte %zu of the line)", valid + 1);
    json_error_t jerr;
    json_t *obj = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!obj) return problem(p, "not valid JSON: column %d: %s", jerr.column, jerr.text);
    hs_status st = json_is_object(obj)
                       ? take_object(p, obj)
                       : problem(p, "expected a JSON object, found a JSON %s", json_type_name(obj));
    json_decref(obj);
    return st;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

static hs_status parse_all(parser *p, const char *data, size_t len)
{
    hs_prompt_set *set = p->set;
    memset(set, 0, sizeof *set);
    set->path = hs_strdup(p->path);
    if (!set->path) return HS_ENOMEM;
    hs_sha256_hex(data, len, set->sha256);
    size_t pos = 0;
    for (p->line = 1; pos < len; p->line++) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        const char *s = data + pos;
        size_t n = end - pos;
        pos = end + 1;
        if (is_blank(s, n)) continue;
        if (p->line == INT32_MAX) return hs_err(HS_EINPUT, "%s: too many lines", p->path);
        p->line_bad = 0;
        hs_status st = parse_line(p, s, n);
        if (st && (!p->report || st != HS_EINPUT)) return st;
    }
    return HS_OK;
}

/* Runs the parser; on failure frees what was built. */
static hs_status run(parser *p, const char *data, size_t len)
{
    hs_status st = parse_all(p, data, len);
    free(p->ids);
    if (st) hs_prompts_free(p->set);
    return st;
}

hs_status hs_prompts_parse(hs_prompt_set *set, const char *data, size_t len, const char *path)
{
    parser p = {.set = set, .path = path};
    return run(&p, data, len);
}

hs_status hs_prompts_check(hs_prompt_set *set, const char *data, size_t len, const char *path,
                           hs_prompts_report_fn report, void *ctx, size_t *n_problems)
{
    parser p = {.set = set, .path = path, .report = report, .ctx = ctx};
    hs_status st = run(&p, data, len);
    *n_problems = p.n_problems;
    return st;
}

hs_status hs_prompts_load(hs_prompt_set *set, const char *path)
{
    char *data;
    size_t len;
    memset(set, 0, sizeof *set);
    hs_status st = hs_read_file(path, &data, &len);
    if (st) return st;
    st = hs_prompts_parse(set, data, len, path);
    free(data);
    return st;
}

void hs_prompts_free(hs_prompt_set *set)
{
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) {
        free(set->items[i].id);
        free(set->items[i].prompt);
        free(set->items[i].reference);
    }
    free(set->items);
    free(set->path);
    memset(set, 0, sizeof *set);
}

int hs_shard_of(size_t prompt, int n_shards)
{
    return (int)(prompt % (size_t)n_shards);
}

size_t hs_shard_size(size_t n_prompts, int n_shards, int k)
{
    return n_prompts > (size_t)k ? (n_prompts - (size_t)k - 1) / (size_t)n_shards + 1 : 0;
}

size_t hs_shard_prompt(int k, size_t j, int n_shards)
{
    return (size_t)k + j * (size_t)n_shards;
}

hs_status hs_prompts_shard(const hs_prompt_set *set, int n_shards, int k, size_t **idx,
                           size_t *n_idx)
{
    *idx = NULL;
    *n_idx = 0;
    if (n_shards < 1)
        return hs_err(HS_EINPUT, "number of shards must be at least 1, not %d", n_shards);
    if (k < 0 || k >= n_shards)
        return hs_err(HS_EINPUT, "shard %d does not exist (shards 0..%d)", k, n_shards - 1);
    size_t count = hs_shard_size(set->n, n_shards, k);
    size_t *v = hs_malloc(count * sizeof *v, "shard indices");
    if (!v) return HS_ENOMEM;
    for (size_t j = 0; j < count; j++) v[j] = hs_shard_prompt(k, j, n_shards);
    *idx = v;
    *n_idx = count;
    return HS_OK;
}
