/* job.c: job files (INI, parsed by inih) and --set overrides -> hs_job.
 *
 * Parsing has three steps: collect every "key = value" with where it came from (file:line
 * or the --set argument), apply the overrides, then interpret the settings with checks
 * that name that origin. inih reports syntax errors by line; our own line counter (the
 * reader below feeds inih one line at a time) gives the line of every setting, so even
 * checks made after the whole file is read can point at the line to fix.
 * Checks that need the model (a heads_off list against its shape, a scores file against
 * its sha256) are made by the sweep once the model is loaded, still naming file:line
 * through hs_job_where.
 * Limits: no per-variant model directory (one model per study); lines of at most 200
 * bytes without their end (HS_JOB_LINE_MAX), section names of at most 49 (inih's). */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "headsweep/sweep.h"
#include "headsweep/tokenizer.h"

/* Bytes of a job file's line, not counting its end (\n or \r\n): docs/sweep.md's limit, one
 * more than inih's line buffer holds (read_line, collect). */
#define HS_JOB_LINE_MAX 200
/* Bytes of a [section] name inih keeps (its MAX_SECTION, 50 with the NUL): a longer one was
 * cut silently, so [variant.<42 or more bytes>] set the variant named by its first 41. */
#define HS_JOB_SECTION_MAX 49

struct hs_job_entry {
    char *section, *key, *value;
    char *where;  /* "file:line" or "--set section.key=value" */
    int from_set; /* 1 for --set */
};

typedef struct {
    char *name;
    char *where;
} section_mark;

/* State of one parse: the entries so far and the first error. */
typedef struct {
    hs_job *job;
    const char *path;
    const char *p;        /* reader position in the text */
    const char *line;     /* start of the line inih is processing */
    int lineno;
    int long_line;        /* first line over HS_JOB_LINE_MAX bytes, 0 if none */
    size_t long_len;      /* its length (without the line end) */
    int long_comment;     /* it is a comment */
    char *buf;            /* inih's copy of the line (read_line) */
    char *cut;            /* a line of HS_JOB_LINE_MAX bytes: where inih's copy ends, one byte short */
    char cut_byte;        /* the byte left out there */
    section_mark *sections;
    int n_sections;
    hs_job_entry *last;   /* entry of the previous key, for continuation lines */
    hs_status st;
} parse_state;

static const char *const job_keys[] = {"name", "model", "prompts", "max_prompts", "shards", "threads",
                                       "output", "variants", "measure_unpruned_ppl", "mode", "batch",
                                       "latency_prompts", "weights", "huge_pages", "panels", "timing_order",
                                       "timing_repeats", "prompt_order", "prompt_seed", "progress_interval", NULL};
static const char *const generation_keys[] = {"max_new_tokens", "temperature", "top_k", "top_p", "seed", NULL};
static const char *const pruning_keys[] = {"strategy", "levels", "calibration", "calibration_max_prompts",
                                           "calibration_max_tokens", "per_layer", "keep_one_per_layer",
                                           "seed", "scores", "heads_off", "iterative_base", "iterative_step",
                                           "ablation", "each_head", NULL};
static const char *const variant_keys[] = {"gating", "agency", "ema_alpha", "overload_threshold",
                                           "alignment_threshold", "recovery_steps", "factor_active",
                                           "factor_overloaded", "factor_misaligned", "factor_withdrawn",
                                           "agency_thresholds", "agency_percentile", "agency_recovery",
                                           "strategy", "scores", "per_layer", "keep_one_per_layer", "ablation",
                                           NULL};
/* Variant keys that are the variant's pruning, not its agency (ablation, what its pruned
 * heads contribute, is handled beside them: it selects no heads). */
static const char *const variant_pruning_keys[] = {"strategy", "scores", "per_layer", "keep_one_per_layer", NULL};
/* Keys whose value is a list and may continue on indented lines. */
static const char *const list_keys[] = {"variants", "levels", NULL};

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s)) return 1;
    return 0;
}

/* Variant names become HDF5 strings and --set section names: no dots, no spaces. */
static int valid_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
    return 1;
}

/* The keys allowed in a section, or NULL for an unknown section. */
static const char *const *section_keys(const char *section)
{
    if (!strcmp(section, "job")) return job_keys;
    if (!strcmp(section, "generation")) return generation_keys;
    if (!strcmp(section, "pruning")) return pruning_keys;
    if (!strncmp(section, "variant.", 8) && valid_name(section + 8)) return variant_keys;
    return NULL;
}

static hs_status unknown_section(const char *where, const char *section)
{
    return hs_err(HS_EINPUT, "%s: unknown section [%s] (expected [job], [generation], [pruning] or "
                             "[variant.NAME] with NAME of letters, digits, '_' and '-')", where, section);
}

static hs_status unknown_key(const char *where, const char *section, const char *key)
{
    return hs_err(HS_EINPUT, "%s: unknown key '%s' in [%s]", where, key, section);
}

/* ---- collecting entries ---- */

static hs_job_entry *find_entry(const hs_job *job, const char *section, const char *key)
{
    for (int i = job->n_entries - 1; i >= 0; i--)
        if (!strcmp(job->entries[i].section, section) && !strcmp(job->entries[i].key, key)) return &job->entries[i];
    return NULL;
}

static void entry_free(hs_job_entry *e)
{
    free(e->section);
    free(e->key);
    free(e->value);
    free(e->where);
}

static hs_status add_entry(hs_job *job, const char *section, const char *key, const char *value,
                           const char *where, int from_set)
{
    hs_job_entry *grown = realloc(job->entries, (size_t)(job->n_entries + 1) * sizeof *grown);
    if (!grown) return hs_err(HS_ENOMEM, "job file: out of memory");
    job->entries = grown;
    hs_job_entry *e = &grown[job->n_entries];
    *e = (hs_job_entry){hs_strdup(section), hs_strdup(key), hs_strdup(value), hs_strdup(where), from_set};
    if (!e->section || !e->key || !e->value || !e->where) {
        entry_free(e);
        return hs_err(HS_ENOMEM, "job file: out of memory");
    }
    job->n_entries++;
    return HS_OK;
}

static char *where_line(const char *path, int line)
{
    char buf[1100];
    snprintf(buf, sizeof buf, "%s:%d", path, line);
    return hs_strdup(buf);
}

/* Appends an indented continuation line to a list value ("levels = 0, 30\n  50, 70"). */
static hs_status continue_entry(parse_state *ps, const char *key, const char *value)
{
    char where[1100];
    snprintf(where, sizeof where, "%s:%d", ps->path, ps->lineno);
    if (!in_list(list_keys, key))
        return hs_err(HS_EINPUT, "%s: indented line continues the value of '%s', which is not a list; "
                                 "remove the indentation", where, key);
    hs_job_entry *e = ps->last;
    size_t n = strlen(e->value) + strlen(value) + 3;
    char *joined = malloc(n);
    if (!joined) return hs_err(HS_ENOMEM, "job file: out of memory");
    snprintf(joined, n, "%s, %s", e->value, value);
    free(e->value);
    e->value = joined;
    return HS_OK;
}

/* "file:line" of the latest [section] header with this name (the current one). */
static const char *section_where(const parse_state *ps, const char *section, const char *fallback)
{
    for (int i = ps->n_sections - 1; i >= 0; i--)
        if (ps->sections[i].name && !strcmp(ps->sections[i].name, section)) return ps->sections[i].where;
    return fallback;
}

static hs_status collect_value(parse_state *ps, const char *section, const char *key, const char *value)
{
    char where[1100];
    snprintf(where, sizeof where, "%s:%d", ps->path, ps->lineno);
    if (isspace((unsigned char)ps->line[0]) && ps->last && !strcmp(ps->last->key, key))
        return continue_entry(ps, key, value);
    if (!*section)
        return hs_err(HS_EINPUT,
                      "%s: '%s' is outside any section (put it under [job], [generation], [pruning] or [variant.NAME])",
                      where, key);
    const char *const *keys = section_keys(section);
    if (!keys) return unknown_section(section_where(ps, section, where), section);
    if (!in_list(keys, key)) return unknown_key(where, section, key);
    const hs_job_entry *dup = find_entry(ps->job, section, key);
    if (dup) return hs_err(HS_EINPUT, "%s: '%s' in [%s] is already set at %s", where, key, section, dup->where);
    hs_status st = add_entry(ps->job, section, key, value, where, 0);
    if (!st) ps->last = &ps->job->entries[ps->job->n_entries - 1];
    return st;
}

/* Whether value (in inih's copy of the line) ran to the end of a line inih got one byte short
 * (read_line): then the byte left out, and the blanks before it that inih trimmed, belong to
 * it, unless inih would have dropped the byte too (a blank, or ';' after a blank: an inline
 * comment). A value that ended earlier (an inline comment) never included it. */
static int value_cut(const parse_state *ps, const char *value)
{
    if (!ps->cut || value < ps->buf || value > ps->cut) return 0;
    size_t end = (size_t)(value - ps->buf) + strlen(value), keep = (size_t)(ps->cut - ps->buf);
    for (size_t i = end; i < keep; i++)
        if (!isspace((unsigned char)ps->line[i])) return 0;
    char c = ps->cut_byte;
    return !isspace((unsigned char)c) && !(c == ';' && keep > 0 && isspace((unsigned char)ps->line[keep - 1]));
}

static hs_status collect(parse_state *ps, const char *section, const char *key, const char *value)
{
    if (!value_cut(ps, value)) return collect_value(ps, section, key, value);
    size_t at = (size_t)(value - ps->buf), n = (size_t)(ps->cut - ps->buf) + 1 - at;
    char *whole = malloc(n + 1); /* the value as the file has it, from the original line */
    if (!whole) return hs_err(HS_ENOMEM, "job file: out of memory");
    memcpy(whole, ps->line + at, n);
    whole[n] = '\0';
    hs_status st = collect_value(ps, section, key, whole);
    free(whole);
    return st;
}

static int on_ini_entry(void *user, const char *section, const char *key, const char *value)
{
    parse_state *ps = user;
    if (ps->st) return 1; /* keep the first error only */
    ps->st = collect(ps, section, key, value);
    return ps->st == HS_OK;
}

/* Remembers a [section] header and its line, so empty or unlisted sections can be named.
 * An indented one is refused: inih reads it as the continuation of the key before it (a
 * list's next line), which gave "'levels' in [pruning] is already set" for the keys after it. */
static void mark_section(parse_state *ps, const char *line)
{
    const char *start = line;
    while (isspace((unsigned char)*line)) line++;
    if (*line != '[') return;
    if (line > start && !ps->st)
        ps->st = hs_err(HS_EINPUT, "%s:%d: a [section] header must not be indented (an indented line continues "
                                   "the list before it); remove the blanks before '['", ps->path, ps->lineno);
    ps->last = NULL;
    const char *end = strchr(line, ']');
    if (!end) return; /* inih reports the syntax error */
    if (end - line - 1 > HS_JOB_SECTION_MAX && !ps->st)
        ps->st = hs_err(HS_EINPUT, "%s:%d: section name of %d bytes, over the limit of %d (the INI reader cuts it, "
                                   "and [variant.NAME] would set the variant of the cut name): shorten the variant "
                                   "name", ps->path, ps->lineno, (int)(end - line - 1), HS_JOB_SECTION_MAX);
    section_mark *grown = realloc(ps->sections, (size_t)(ps->n_sections + 1) * sizeof *grown);
    if (!grown) return;
    ps->sections = grown;
    char *name = malloc((size_t)(end - line));
    if (name) {
        memcpy(name, line + 1, (size_t)(end - line - 1));
        name[end - line - 1] = '\0';
    }
    grown[ps->n_sections++] = (section_mark){name, where_line(ps->path, ps->lineno)};
}

static int is_comment(const char *line)
{
    while (*line == ' ' || *line == '\t') line++;
    return *line == ';' || *line == '#';
}

/* A line over HS_JOB_LINE_MAX bytes: remembered (the first one) for collect_file's message. */
static void mark_long_line(parse_state *ps, size_t len)
{
    if (ps->long_line) return;
    ps->long_line = ps->lineno;
    ps->long_len = len;
    ps->long_comment = is_comment(ps->line);
}

/* fgets-like reader over the text that counts lines (inih calls it once per line). It gives
 * inih the line without its end (\n or \r\n, which inih would strip anyway), so a line may
 * hold HS_JOB_LINE_MAX bytes either way; inih's buffer (INI_MAX_LINE, 200 with its NUL in
 * Debian's build) holds one byte less, which collect puts back. */
static char *read_line(char *buf, int size, void *stream)
{
    parse_state *ps = stream;
    if (!*ps->p) return NULL;
    const char *nl = strchr(ps->p, '\n');
    size_t len = nl ? (size_t)(nl - ps->p) : strlen(ps->p), next = nl ? len + 1 : len;
    if (nl && len > 0 && ps->p[len - 1] == '\r') len--;
    ps->line = ps->p;
    ps->lineno++;
    ps->cut = NULL;
    size_t keep = len;
    if (len > HS_JOB_LINE_MAX) mark_long_line(ps, len);
    if (keep > (size_t)size - 1) keep = (size_t)size - 1;
    memcpy(buf, ps->p, keep);
    /* with its newline when that fits, as fgets gives it: newer inih releases (benhoyt/inih
     * #188) read on until a chunk ends in '\n', so only lines that fill the buffer depend on
     * the release (tests/sweep/test_sweep_job.c covers them) */
    if (nl && keep == len && keep + 1 <= (size_t)size - 1) buf[keep++] = '\n';
    buf[keep] = '\0';
    ps->buf = buf;
    if (keep < len && len <= HS_JOB_LINE_MAX && keep + 1 == len) {
        ps->cut = buf + keep;
        ps->cut_byte = ps->p[keep];
    } else if (keep < len) {
        mark_long_line(ps, len); /* an inih with a smaller buffer: no longer line gets through it */
    }
    ps->p += next;
    mark_section(ps, buf);
    return buf;
}

static hs_status check_sections(const parse_state *ps)
{
    for (int i = 0; i < ps->n_sections; i++) {
        const section_mark *s = &ps->sections[i];
        if (s->name && !section_keys(s->name)) return unknown_section(s->where, s->name);
    }
    return HS_OK;
}

static hs_status collect_file(parse_state *ps, const char *text)
{
    ps->p = text;
    int rc = ini_parse_stream(read_line, ps, on_ini_entry, ps);
    if (ps->st) return ps->st;
    if (ps->long_line)
        return hs_err(HS_EINPUT,
                      "%s:%d: line too long: %zu bytes, over the limit of %d (not counting the line end); %s", ps->path,
                      ps->long_line, ps->long_len, HS_JOB_LINE_MAX,
                      ps->long_comment ? "split the comment over several lines"
                                       : "split a list (variants, levels) over indented lines, or shorten the value");
    if (rc > 0)
        return hs_err(HS_EINPUT, "%s:%d: syntax error: expected [section], key = value, or a ';' or '#' comment",
                      ps->path, rc);
    if (rc < 0) return hs_err(HS_ENOMEM, "%s: out of memory while parsing", ps->path);
    return check_sections(ps);
}

/* --set section.key=value: the section is everything before the last dot of the name. */
static hs_status apply_set(hs_job *job, const char *arg)
{
    char where[1100];
    snprintf(where, sizeof where, "--set %s", arg);
    const char *eq = strchr(arg, '=');
    const char *dot = NULL;
    for (const char *q = arg; eq && q < eq; q++)
        if (*q == '.') dot = q;
    if (!eq || !dot || dot == arg || dot + 1 == eq)
        return hs_err(HS_EINPUT, "%s: expected section.key=value (e.g. --set generation.seed=7)", where);
    char section[256], key[256];
    if ((size_t)(dot - arg) >= sizeof section || (size_t)(eq - dot - 1) >= sizeof key)
        return hs_err(HS_EINPUT, "%s: name too long", where);
    snprintf(section, sizeof section, "%.*s", (int)(dot - arg), arg);
    snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
    for (size_t n = strlen(key); n > 0 && isspace((unsigned char)key[n - 1]); n--) key[n - 1] = '\0';
    const char *value = eq + 1;
    while (isspace((unsigned char)*value)) value++;
    const char *const *keys = section_keys(section);
    if (!keys) return unknown_section(where, section);
    if (!in_list(keys, key)) return unknown_key(where, section, key);
    hs_job_entry *e = find_entry(job, section, key);
    if (!e) return add_entry(job, section, key, value, where, 1);
    char *v = hs_strdup(value), *w = hs_strdup(where);
    if (!v || !w) {
        free(v);
        free(w);
        return HS_ENOMEM;
    }
    free(e->value);
    free(e->where);
    e->value = v;
    e->where = w;
    e->from_set = 1;
    return HS_OK;
}

/* ---- values ---- */

static hs_status bad_value(const hs_job_entry *e, const char *expected)
{
    return hs_err(HS_EINPUT, "%s: %s = '%s': expected %s", e->where, e->key, e->value, expected);
}

static hs_status get_long(const hs_job_entry *e, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(e->value, &end, 10);
    if (errno || end == e->value || *end || v < lo || v > hi) {
        char what[96];
        snprintf(what, sizeof what, "an integer in [%ld, %ld]", lo, hi);
        return bad_value(e, what);
    }
    *out = v;
    return HS_OK;
}

static hs_status get_int(const hs_job_entry *e, int lo, int hi, int *out)
{
    long v;
    hs_status st = get_long(e, lo, hi, &v);
    if (!st) *out = (int)v;
    return st;
}

static hs_status get_u64(const hs_job_entry *e, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(e->value, &end, 10);
    if (errno || end == e->value || *end || e->value[0] == '-') return bad_value(e, "a non-negative integer");
    *out = (uint64_t)v;
    return HS_OK;
}

/* A finite number in [lo, hi] (open at the ends marked by lo_open / hi_open). */
static hs_status get_double(const hs_job_entry *e, double lo, int lo_open, double hi, int hi_open, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(e->value, &end);
    int ok = !errno && end != e->value && !*end && isfinite(v) && (lo_open ? v > lo : v >= lo) &&
             (hi_open ? v < hi : v <= hi);
    if (!ok) {
        char what[96];
        snprintf(what, sizeof what, "a number in %c%g, %g%c", lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
        return bad_value(e, what);
    }
    *out = v;
    return HS_OK;
}

/* The study text (hs_study_text) writes these numbers with %.9g, and resume and merge
 * compare that text: a number needing more digits would share its text with another one
 * and run other heads under the same study, so it is refused rather than rounded. -0 is 0
 * (it would print as "-0", another study). tok is the number as written. */
static hs_status study_digits(const hs_job_entry *e, const char *tok, double *v)
{
    if (*v == 0) *v = 0;
    char text[32];
    snprintf(text, sizeof text, "%.9g", *v);
    if (strtod(text, NULL) == *v) return HS_OK;
    return hs_err(HS_EINPUT,
                  "%s: %s: %s has more than 9 significant digits, which the results file's study text keeps; "
                  "write %s",
                  e->where, e->key, tok, text);
}

static hs_status get_float(const hs_job_entry *e, double lo, int lo_open, double hi, int hi_open, float *out)
{
    double v = 0;
    hs_status st = get_double(e, lo, lo_open, hi, hi_open, &v);
    if (st) return st;
    /* The range must hold for the float that is used: 1e-300 is in (0, 1] as a double but
     * 0 as a float, 0.999999999 is in (0, 1) but 1 as a float. */
    float f = (float)v;
    if (!((lo_open ? f > lo : f >= lo) && (hi_open ? f < hi : f <= hi))) {
        char what[96];
        snprintf(what, sizeof what, "a number in %c%g, %g%c as a float", lo_open ? '(' : '[', lo, hi,
                 hi_open ? ')' : ']');
        return bad_value(e, what);
    }
    *out = f;
    return HS_OK;
}

static hs_status get_bool(const hs_job_entry *e, int *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1", NULL}, *const no[] = {"off", "false", "no", "0", NULL};
    if (in_list(yes, e->value)) *out = 1;
    else if (in_list(no, e->value)) *out = 0;
    else return bad_value(e, "on or off");
    return HS_OK;
}

static hs_status get_path(const hs_job_entry *e, char **out)
{
    if (!e->value[0]) return bad_value(e, "a path");
    free(*out);
    *out = hs_strdup(e->value);
    return *out ? HS_OK : HS_ENOMEM;
}

/* A readable regular file, or a directory holding config.json when dir is set. The
 * other model files are read (and reported with this line) by the sweep. */
static hs_status check_input(const hs_job_entry *e, int dir)
{
    struct stat sb;
    char probe[4200];
    snprintf(probe, sizeof probe, dir ? "%s/config.json" : "%s", e->value);
    if (stat(e->value, &sb) != 0)
        return hs_err(HS_EINPUT, "%s: %s = %s: %s", e->where, e->key, e->value, strerror(errno));
    if (dir && !S_ISDIR(sb.st_mode))
        return hs_err(HS_EINPUT, "%s: %s = %s: not a directory", e->where, e->key, e->value);
    if (!dir && S_ISDIR(sb.st_mode))
        return hs_err(HS_EINPUT, "%s: %s = %s: is a directory, expected a file", e->where, e->key, e->value);
    if (access(probe, R_OK) != 0)
        return hs_err(HS_EINPUT, "%s: %s = %s: %s: %s", e->where, e->key, e->value, probe, strerror(errno));
    return HS_OK;
}

/* ---- interpreting sections ---- */

typedef hs_status (*key_fn)(hs_job *job, const hs_job_entry *e);

static hs_status set_levels(hs_job *job, const hs_job_entry *e)
{
    free(job->levels);
    job->levels = NULL;
    job->n_levels = 0;
    size_t cap = strlen(e->value) / 2 + 1;
    job->levels = hs_calloc(cap, sizeof *job->levels, "levels");
    if (!job->levels) return HS_ENOMEM;
    char *copy = hs_strdup(e->value), *save = NULL;
    if (!copy) return HS_ENOMEM;
    hs_status st = HS_OK;
    for (char *tok = strtok_r(copy, ", \t", &save); tok && !st; tok = strtok_r(NULL, ", \t", &save)) {
        char *end;
        double v = strtod(tok, &end);
        if (*end || !isfinite(v) || v < 0 || v > 100) st = bad_value(e, "percentages in [0, 100] separated by commas");
        if (!st) st = study_digits(e, tok, &v);
        for (int i = 0; !st && i < job->n_levels; i++)
            if (job->levels[i] == v) st = hs_err(HS_EINPUT, "%s: levels: %g is listed twice", e->where, v);
        if (!st) job->levels[job->n_levels++] = v;
    }
    free(copy);
    if (!st && job->n_levels == 0) st = bad_value(e, "at least one level");
    return st;
}

static hs_status job_key(hs_job *job, const hs_job_entry *e)
{
    const char *k = e->key;
    if (!strcmp(k, "name")) {
        if (!valid_name(e->value)) return bad_value(e, "letters, digits, '_' and '-'");
        return get_path(e, &job->name);
    }
    if (!strcmp(k, "model")) return get_path(e, &job->model_dir);
    if (!strcmp(k, "prompts")) return get_path(e, &job->prompts_path);
    if (!strcmp(k, "output")) return get_path(e, &job->output);
    if (!strcmp(k, "max_prompts")) return get_int(e, 0, 100000000, &job->max_prompts);
    if (!strcmp(k, "shards")) return get_int(e, 1, 1000000, &job->shards);
    if (!strcmp(k, "threads")) return get_int(e, 1, 1024, &job->threads);
    if (!strcmp(k, "measure_unpruned_ppl")) return get_bool(e, &job->measure_unpruned_ppl);
    if (!strcmp(k, "mode")) {
        if (strcmp(e->value, "latency") && strcmp(e->value, "throughput")) return bad_value(e, "latency or throughput");
        job->throughput = !strcmp(e->value, "throughput");
        return HS_OK;
    }
    if (!strcmp(k, "batch")) return get_int(e, 1, 4096, &job->batch);
    if (!strcmp(k, "weights")) {
        if (hs_weights_parse(e->value, &job->weights)) return bad_value(e, "f32, bf16, int8 or w8a8");
        return HS_OK;
    }
    if (!strcmp(k, "huge_pages")) return get_bool(e, &job->huge_pages);
    if (!strcmp(k, "panels")) return get_bool(e, &job->panels);
    if (!strcmp(k, "latency_prompts")) return get_int(e, 0, 100000000, &job->latency_prompts);
    if (!strcmp(k, "timing_repeats")) return get_int(e, 1, 1000, &job->timing_repeats);
    if (!strcmp(k, "timing_order")) {
        if (strcmp(e->value, "interleaved") && strcmp(e->value, "sequential"))
            return bad_value(e, "interleaved or sequential");
        job->sequential = !strcmp(e->value, "sequential");
        return HS_OK;
    }
    if (!strcmp(k, "prompt_order")) {
        if (strcmp(e->value, "sample") && strcmp(e->value, "head")) return bad_value(e, "sample or head");
        job->prompt_head = !strcmp(e->value, "head");
        return HS_OK;
    }
    if (!strcmp(k, "prompt_seed")) return get_u64(e, &job->prompt_seed);
    if (!strcmp(k, "progress_interval")) return get_double(e, 0.01, 0, 86400, 0, &job->progress_interval);
    return HS_OK; /* variants: read by build_variants */
}

static hs_status generation_key(hs_job *job, const hs_job_entry *e)
{
    hs_sample_params *s = &job->sample;
    const char *k = e->key;
    if (!strcmp(k, "max_new_tokens")) return get_int(e, 1, 1 << 20, &s->max_new);
    if (!strcmp(k, "temperature")) return get_float(e, 0, 0, 100, 0, &s->temperature);
    if (!strcmp(k, "top_k")) return get_int(e, 0, 1 << 30, &s->top_k);
    if (!strcmp(k, "top_p")) return get_float(e, 0, 1, 1, 0, &s->top_p);
    return get_u64(e, &s->seed);
}

static hs_status get_ablation(const hs_job_entry *e, hs_ablation *out)
{
    return hs_ablation_parse(e->value, out) ? bad_value(e, "zero or mean") : HS_OK;
}

static hs_status pruning_key(hs_job *job, const hs_job_entry *e)
{
    const char *k = e->key;
    if (!strcmp(k, "strategy")) {
        if (hs_strategy_parse(e->value, &job->strategy))
            return bad_value(e, "entropy, magnitude, random, ablation, gradient, taylor or iterative");
        return HS_OK;
    }
    if (!strcmp(k, "levels")) return set_levels(job, e);
    if (!strcmp(k, "calibration")) return get_path(e, &job->calib_path);
    if (!strcmp(k, "calibration_max_prompts")) return get_int(e, 0, 100000000, &job->score.max_prompts);
    if (!strcmp(k, "calibration_max_tokens")) return get_int(e, 0, 1 << 20, &job->score.max_tokens);
    if (!strcmp(k, "per_layer")) return get_bool(e, &job->select.per_layer);
    if (!strcmp(k, "keep_one_per_layer")) return get_bool(e, &job->select.keep_one_per_layer);
    if (!strcmp(k, "scores")) return get_path(e, &job->scores_path);
    if (!strcmp(k, "iterative_base")) {
        hs_strategy b;
        if (hs_strategy_parse(e->value, &b) || b == HS_STRATEGY_ITERATIVE)
            return bad_value(e, "entropy, magnitude, random, ablation, gradient or taylor");
        job->score.iterative_base = b;
        return HS_OK;
    }
    if (!strcmp(k, "iterative_step")) {
        hs_status st = get_double(e, 0.0, 1, 100.0, 0, &job->score.iterative_step);
        return st ? st : study_digits(e, e->value, &job->score.iterative_step);
    }
    if (!strcmp(k, "ablation")) return get_ablation(e, &job->ablation);
    if (!strcmp(k, "each_head")) return get_bool(e, &job->each_head);
    if (!strcmp(k, "heads_off")) {
        free(job->heads_off);
        return (job->heads_off = hs_strdup(e->value)) ? HS_OK : HS_ENOMEM; /* "" = no head */
    }
    return get_u64(e, &job->score.seed);
}

/* strategy, scores, per_layer, keep_one_per_layer of a variant section. */
static hs_status variant_pruning_key(hs_variant *v, const hs_job_entry *e)
{
    const char *k = e->key;
    v->own_pruning = 1;
    if (!strcmp(k, "strategy")) {
        if (hs_strategy_parse(e->value, &v->strategy))
            return bad_value(e, "entropy, magnitude, random, ablation, gradient, taylor or iterative");
        return HS_OK;
    }
    if (!strcmp(k, "per_layer")) return get_bool(e, &v->select.per_layer);
    if (!strcmp(k, "keep_one_per_layer")) return get_bool(e, &v->select.keep_one_per_layer);
    hs_status st = check_input(e, 0); /* scores */
    if (!st) v->scores_path = e->value;
    return st;
}

static hs_status variant_key(hs_variant *v, const hs_job_entry *e)
{
    hs_agency_params *a = &v->agency;
    const char *k = e->key;
    if (in_list(variant_pruning_keys, k)) return variant_pruning_key(v, e);
    if (!strcmp(k, "ablation")) return get_ablation(e, &v->ablation);
    if (!strcmp(k, "gating")) return hs_gating_parse(e->value, &v->gating) ? bad_value(e, "mask or skip") : HS_OK;
    if (!strcmp(k, "agency")) return get_bool(e, &v->agency_on);
    if (!strcmp(k, "ema_alpha")) return get_float(e, 0, 0, 1, 1, &a->ema_alpha);
    if (!strcmp(k, "overload_threshold")) return get_float(e, 0, 0, 1, 0, &a->overload_threshold);
    if (!strcmp(k, "alignment_threshold")) return get_float(e, 0, 0, 1, 0, &a->alignment_threshold);
    if (!strcmp(k, "recovery_steps")) return get_int(e, 1, 1 << 30, &a->recovery_steps);
    if (!strcmp(k, "agency_thresholds") || !strcmp(k, "agency_percentile") || !strcmp(k, "agency_recovery"))
        return HS_OK; /* variant_thresholds */
    if (!strcmp(k, "factor_active")) return get_float(e, 0, 0, 1, 0, &a->factor[HS_AG_ACTIVE]);
    if (!strcmp(k, "factor_overloaded")) return get_float(e, 0, 0, 1, 0, &a->factor[HS_AG_OVERLOADED]);
    if (!strcmp(k, "factor_misaligned")) return get_float(e, 0, 0, 1, 0, &a->factor[HS_AG_MISALIGNED]);
    /* factor_withdrawn: withdrawn heads are not computed at all (DESIGN.md), so only 0 fits. */
    hs_status st = get_float(e, 0, 0, 0, 0, &a->factor[HS_AG_WITHDRAWN]);
    return st ? bad_value(e, "0 (withdrawn heads are never computed)") : HS_OK;
}

/* Predefined variants: usable by name in `variants` without a section. */
static int predefined_variant(const char *name, hs_variant *v)
{
    static const struct {
        const char *name;
        hs_gating gating;
        int agency;
    } table[] = {{"baseline", HS_GATING_MASK, 0}, {"agency", HS_GATING_SKIP, 1}, {"baseline-skip", HS_GATING_SKIP, 0}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(name, table[i].name)) {
            v->gating = table[i].gating;
            v->agency_on = table[i].agency;
            return 1;
        }
    v->gating = HS_GATING_MASK;
    v->agency_on = 0;
    return 0;
}

/* Agency withdraws heads by not computing them (DESIGN.md): with gating = mask they would
 * be computed and multiplied by 0, a different cost and a contradiction of the variant's
 * meaning. Points at the gating line when there is one, else at agency = on. */
static hs_status check_agency_gating(const hs_job *job, const hs_variant *v, const char *section)
{
    if (!v->agency_on || v->gating != HS_GATING_MASK) return HS_OK;
    const hs_job_entry *g = find_entry(job, section, "gating"), *a = find_entry(job, section, "agency");
    const char *where = g ? g->where : a ? a->where : "defaults";
    return hs_err(HS_EINPUT, "%s: variant %s has agency = on with gating = %s: agency needs gating = skip "
                             "(withdrawn heads are never computed)%s",
                  where, v->name, g ? "mask" : "mask (the default)", g ? "" : "; add gating = skip");
}

/* agency_thresholds = calibrated (with agency_percentile, default HS_AGENCY_PERCENTILE):
 * the sweep sets the overload and alignment thresholds from the calibration set, so they
 * cannot also be given. */
static hs_status variant_thresholds(const hs_job *job, hs_variant *v, const char *section)
{
    const hs_job_entry *t = find_entry(job, section, "agency_thresholds");
    const hs_job_entry *p = find_entry(job, section, "agency_percentile");
    int calibrated = t && !strcmp(t->value, "calibrated");
    if (t && !calibrated && strcmp(t->value, "default")) return bad_value(t, "default or calibrated");
    if (p && !calibrated)
        return hs_err(HS_EINPUT, "%s: agency_percentile has no effect in variant %s without agency_thresholds = "
                                 "calibrated", p->where, v->name);
    v->agency_percentile = 0;
    if (!calibrated) return HS_OK;
    static const char *const derived[] = {"overload_threshold", "alignment_threshold"};
    for (int i = 0; i < 2; i++) {
        const hs_job_entry *e = find_entry(job, section, derived[i]);
        if (e)
            return hs_err(HS_EINPUT, "%s: %s cannot be set in variant %s: agency_thresholds = calibrated (%s) "
                                     "derives it from the calibration set", e->where, derived[i], v->name, t->where);
    }
    v->agency_percentile = HS_AGENCY_PERCENTILE;
    if (!p) return HS_OK;
    hs_status st = get_double(p, 0, 1, 100, 1, &v->agency_percentile);
    return st ? st : study_digits(p, p->value, &v->agency_percentile);
}

/* agency_recovery = calibrated: recovery_steps from the same calibration pass as the
 * thresholds (the mean run length of the conditions they test), so it needs them calibrated
 * and cannot also be set. */
static hs_status variant_recovery(const hs_job *job, hs_variant *v, const char *section)
{
    const hs_job_entry *r = find_entry(job, section, "agency_recovery");
    v->recovery_calibrated = r && !strcmp(r->value, "calibrated");
    if (r && !v->recovery_calibrated && strcmp(r->value, "fixed")) return bad_value(r, "fixed or calibrated");
    if (!v->recovery_calibrated) return HS_OK;
    if (v->agency_percentile <= 0)
        return hs_err(HS_EINPUT, "%s: agency_recovery = calibrated needs agency_thresholds = calibrated in variant %s "
                                 "(the run lengths are those of the calibrated conditions)", r->where, v->name);
    const hs_job_entry *e = find_entry(job, section, "recovery_steps");
    if (e)
        return hs_err(HS_EINPUT, "%s: recovery_steps cannot be set in variant %s: agency_recovery = calibrated (%s) "
                                 "derives it from the calibration set", e->where, v->name, r->where);
    return HS_OK;
}

/* Settings of [variant.NAME] on top of the predefined or default variant. */
static hs_status fill_variant(hs_job *job, hs_variant *v)
{
    char section[HS_VARIANT_NAME_MAX + 16];
    snprintf(section, sizeof section, "variant.%s", v->name);
    hs_agency_params_default(&v->agency);
    predefined_variant(v->name, v);
    v->strategy = job->strategy;
    v->scores_path = job->scores_path;
    v->select = job->select;
    v->ablation = job->ablation;
    int own_strategy = 0, own_scores = 0;
    for (int i = 0; i < job->n_entries; i++) {
        const hs_job_entry *e = &job->entries[i];
        if (strcmp(e->section, section)) continue;
        hs_status st = variant_key(v, e);
        if (st) return st;
        own_strategy |= !strcmp(e->key, "strategy");
        own_scores |= !strcmp(e->key, "scores");
    }
    /* a strategy of its own is computed, not read from [pruning]'s scores file */
    if (own_strategy && !own_scores) v->scores_path = NULL;
    for (int i = 0; i < job->n_entries && !v->agency_on; i++) {
        const hs_job_entry *e = &job->entries[i];
        if (!strcmp(e->section, section) && strcmp(e->key, "gating") && strcmp(e->key, "agency") &&
            strcmp(e->key, "ablation") && !in_list(variant_pruning_keys, e->key))
            return hs_err(HS_EINPUT, "%s: %s has no effect in variant %s, which has agency = off", e->where, e->key,
                          v->name);
    }
    hs_status st = variant_thresholds(job, v, section);
    if (!st) st = variant_recovery(job, v, section);
    return st ? st : check_agency_gating(job, v, section);
}

static hs_status add_variant(hs_job *job, const hs_job_entry *e, const char *name)
{
    if (!valid_name(name) || strlen(name) >= HS_VARIANT_NAME_MAX)
        return hs_err(HS_EINPUT,
                      "%s: variants: '%s' is not a variant name (letters, digits, '_' and '-', under %d bytes)",
                      e->where, name, HS_VARIANT_NAME_MAX);
    for (int i = 0; i < job->n_variants; i++)
        if (!strcmp(job->variants[i].name, name))
            return hs_err(HS_EINPUT, "%s: variants: '%s' is listed twice", e->where, name);
    hs_variant *v = &job->variants[job->n_variants++];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    char section[HS_VARIANT_NAME_MAX + 16];
    snprintf(section, sizeof section, "variant.%s", name);
    int has_section = 0;
    for (int i = 0; i < job->n_entries && !has_section; i++) has_section = !strcmp(job->entries[i].section, section);
    hs_variant probe;
    if (!has_section && !predefined_variant(name, &probe))
        return hs_err(HS_EINPUT, "%s: variants: '%s' is neither predefined (baseline, agency, baseline-skip) "
                                 "nor defined in a [variant.%s] section", e->where, name, name);
    return fill_variant(job, v);
}

static hs_status build_variants(hs_job *job)
{
    static const hs_job_entry fallback = {"job", "variants", "baseline, agency, baseline-skip", "defaults", 0};
    const hs_job_entry *e = find_entry(job, "job", "variants");
    if (!e) e = &fallback;
    job->variants = hs_calloc(strlen(e->value) / 2 + 1, sizeof *job->variants, "variants");
    char *copy = hs_strdup(e->value), *save = NULL;
    if (!job->variants || !copy) {
        free(copy);
        return HS_ENOMEM;
    }
    hs_status st = HS_OK;
    for (char *tok = strtok_r(copy, ", \t", &save); tok && !st; tok = strtok_r(NULL, ", \t", &save))
        st = add_variant(job, e, tok);
    free(copy);
    if (!st && job->n_variants == 0) st = bad_value(e, "at least one variant");
    return st;
}

/* A [variant.X] section (or --set variant.X.key) whose X is not in `variants` is a typo
 * or a forgotten list entry: either way the user should hear about it. */
static hs_status check_unlisted(const hs_job *job, const parse_state *ps)
{
    for (int i = 0; i < job->n_entries; i++) {
        const hs_job_entry *e = &job->entries[i];
        if (strncmp(e->section, "variant.", 8)) continue;
        int listed = 0;
        for (int v = 0; v < job->n_variants && !listed; v++) listed = !strcmp(job->variants[v].name, e->section + 8);
        if (listed) continue;
        const char *where = e->where;
        for (int s = 0; s < ps->n_sections && !e->from_set; s++)
            if (ps->sections[s].name && !strcmp(ps->sections[s].name, e->section)) {
                where = ps->sections[s].where;
                break;
            }
        return hs_err(HS_EINPUT, "%s: [%s] is not listed in variants (%s)", where, e->section,
                      hs_job_where(job, "job", "variants"));
    }
    return HS_OK;
}

static hs_status interpret(hs_job *job)
{
    for (int i = 0; i < job->n_entries; i++) {
        const hs_job_entry *e = &job->entries[i];
        hs_status st = HS_OK;
        if (!strcmp(e->section, "job")) st = job_key(job, e);
        else if (!strcmp(e->section, "generation")) st = generation_key(job, e);
        else if (!strcmp(e->section, "pruning")) st = pruning_key(job, e);
        if (st) return st;
    }
    return build_variants(job);
}

/* batch and latency_prompts only mean something in throughput mode: set in latency mode
 * they are a mistake the user should hear about, not a silent no-op. */
static hs_status check_mode(const hs_job *job)
{
    static const char *const only_throughput[] = {"batch", "latency_prompts"};
    for (int i = 0; i < 2 && !job->throughput; i++) {
        const hs_job_entry *e = find_entry(job, "job", only_throughput[i]);
        if (e) return hs_err(HS_EINPUT, "%s: %s applies to mode = throughput only (mode is latency: %s)", e->where,
                             only_throughput[i], hs_job_where(job, "job", "mode"));
    }
    return HS_OK;
}

static hs_status require(const hs_job *job, const char *section, const char *key, int dir)
{
    const hs_job_entry *e = find_entry(job, section, key);
    if (!e) return hs_err(HS_EINPUT, "%s: [%s] %s is required", job->path, section, key);
    return check_input(e, dir);
}

/* [pruning] keys beside heads_off: what a listed head contributes (ablation) and the
 * calibration set mean ablation averages its head means over. */
static const char *const heads_off_keys[] = {"ablation", "calibration", "calibration_max_prompts",
                                             "calibration_max_tokens", NULL};

/* heads_off is the whole pruning of the study: every other [pruning] key would select
 * heads too, or describe how scores are made, and so could only be ignored. */
static hs_status check_heads_off(hs_job *job)
{
    const hs_job_entry *h = find_entry(job, "pruning", "heads_off");
    for (int i = 0; h && i < job->n_entries; i++) {
        const hs_job_entry *e = &job->entries[i];
        if (e != h && !strcmp(e->section, "pruning") && !in_list(heads_off_keys, e->key))
            return hs_err(HS_EINPUT, "%s: %s cannot be combined with heads_off (%s): an explicit head list is the "
                                     "study's only pruning level; remove %s", e->where, e->key, h->where, e->key);
    }
    if (!h) return HS_OK;
    job->levels = hs_calloc(1, sizeof *job->levels, "levels");
    job->n_levels = 1; /* its value, the share of heads listed, is set once the model is known */
    return job->levels ? HS_OK : HS_ENOMEM;
}

/* With a scores file the scores are not computed: the calibration keys describe a
 * computation that does not happen and are ignored (the file records its own
 * calibration set and seed); `strategy`, when given, must match the file's (checked by
 * the sweep, which reads it). */
static hs_status check_scores(hs_job *job)
{
    const hs_job_entry *e = find_entry(job, "pruning", "scores");
    if (!e) return HS_OK;
    hs_status st = check_input(e, 0);
    free(job->calib_path);
    job->calib_path = NULL;
    job->score.max_prompts = job->score.max_tokens = 0;
    return st;
}

/* The first variant whose scores are computed with a strategy that reads the
 * calibration set, or whose head means are (mean ablation without a scores file), or NULL. */
static const hs_variant *calib_variant(const hs_job *job)
{
    for (int i = 0; i < job->n_variants; i++)
        if (!job->variants[i].scores_path && (hs_strategy_needs_calib(job->variants[i].strategy) ||
                                              job->variants[i].ablation == HS_ABLATION_MEAN))
            return &job->variants[i];
    return NULL;
}

/* heads_off is the study's whole pruning: a variant cannot prune otherwise (its ablation
 * kind, what a listed head contributes, it may set). */
static hs_status check_variant_pruning(const hs_job *job)
{
    for (int i = 0; job->heads_off && i < job->n_entries; i++) {
        const hs_job_entry *e = &job->entries[i];
        int prunes = in_list(variant_pruning_keys, e->key);
        if (!strncmp(e->section, "variant.", 8) && prunes)
            return hs_err(HS_EINPUT, "%s: %s cannot be combined with heads_off (%s): an explicit head list is the "
                                     "study's only pruning level", e->where, e->key,
                          hs_job_where(job, "pruning", "heads_off"));
    }
    return HS_OK;
}

/* A head list with mean ablation: the listed heads contribute their means over [pruning]
 * calibration, which is then required; without a mean variant the calibration keys would do
 * nothing and are refused, as before. */
static hs_status check_list_means(hs_job *job)
{
    for (int v = 0; v < job->n_variants; v++) {
        if (job->variants[v].ablation != HS_ABLATION_MEAN) continue;
        if (find_entry(job, "pruning", "calibration")) return require(job, "pruning", "calibration", 0);
        char section[HS_VARIANT_NAME_MAX + 16];
        snprintf(section, sizeof section, "variant.%s", job->variants[v].name);
        const char *where = hs_job_where(job, section, "ablation");
        return hs_err(HS_EINPUT, "%s: [pruning] calibration is required with ablation = mean (%s): the listed "
                                 "heads contribute their mean output over it", job->path,
                      strcmp(where, "defaults") ? where : hs_job_where(job, "pruning", "ablation"));
    }
    for (int i = 1; heads_off_keys[i]; i++) {
        const hs_job_entry *e = find_entry(job, "pruning", heads_off_keys[i]);
        if (e)
            return hs_err(HS_EINPUT, "%s: %s cannot be combined with heads_off (%s) unless a variant uses ablation "
                                     "= mean (it averages the head means): remove %s", e->where, e->key,
                          hs_job_where(job, "pruning", "heads_off"), e->key);
    }
    free(job->calib_path);
    job->calib_path = NULL;
    return HS_OK;
}

static hs_status check_inputs(hs_job *job)
{
    hs_status st = require(job, "job", "model", 1);
    if (!st) st = require(job, "job", "prompts", 0);
    if (!st) st = check_heads_off(job);
    if (!st) st = check_variant_pruning(job);
    if (st) return st;
    if (job->heads_off) return check_list_means(job);
    const hs_variant *cv = calib_variant(job);
    if (job->scores_path && !cv) return check_scores(job);
    if (!cv) {
        free(job->calib_path); /* ignored: magnitude and random need no calibration set */
        job->calib_path = NULL;
        return HS_OK;
    }
    if (!find_entry(job, "pruning", "calibration")) {
        char section[HS_VARIANT_NAME_MAX + 16];
        snprintf(section, sizeof section, "variant.%s", cv->name);
        int means = !hs_strategy_needs_calib(cv->strategy); /* only its head means need the set */
        const char *key = means ? "ablation" : "strategy";
        const char *where = hs_job_where(job, section, key);
        if (!strcmp(where, "defaults")) where = hs_job_where(job, "pruning", key);
        return hs_err(HS_EINPUT, "%s: [pruning] calibration is required with %s = %s (%s)", job->path, key,
                      means ? "mean" : hs_strategy_name(cv->strategy), where);
    }
    if (job->scores_path && (st = check_input(find_entry(job, "pruning", "scores"), 0))) return st;
    return require(job, "pruning", "calibration", 0);
}

/* agency_thresholds = calibrated reads the calibration set the study's scores are computed
 * from; a study without one (heads_off, scores files, magnitude or random) has none. */
static hs_status check_calibrated(const hs_job *job)
{
    for (int v = 0; v < job->n_variants && !job->calib_path; v++)
        if (job->variants[v].agency_percentile > 0) {
            char section[HS_VARIANT_NAME_MAX + 16];
            snprintf(section, sizeof section, "variant.%s", job->variants[v].name);
            return hs_err(HS_EINPUT, "%s: agency_thresholds = calibrated needs a calibration set, and this study "
                                     "reads none ([pruning] calibration with a strategy that computes scores "
                                     "from it: entropy, ablation, gradient, taylor or iterative)",
                          hs_job_where(job, section, "agency_thresholds"));
        }
    return HS_OK;
}

/* each_head measures every head's effect against the unpruned model of the same variant:
 * level 0 must be run (it is the reference of every single-head cell). */
static hs_status check_each_head(const hs_job *job)
{
    if (!job->each_head || job->heads_off) return HS_OK;
    for (int i = 0; i < job->n_levels; i++)
        if (job->levels[i] == 0) return HS_OK;
    return hs_err(HS_EINPUT, "%s: each_head = on needs level 0 (the unpruned reference of every head's effect) "
                             "in levels (%s)", hs_job_where(job, "pruning", "each_head"),
                  hs_job_where(job, "pruning", "levels"));
}

/* Job name default: the file name without directory and .ini, held to the rule of an
 * explicit `name =` (valid_name) by making every other byte '_': the name goes into the
 * results file's path, the report and log names, where a newline or an escape sequence
 * from a file name would do harm. */
static hs_status default_names(hs_job *job)
{
    if (!job->name) {
        const char *base = strrchr(job->path, '/');
        base = base ? base + 1 : job->path;
        size_t n = strlen(base);
        if (n > 4 && !strcmp(base + n - 4, ".ini")) n -= 4;
        job->name = malloc(n + 1);
        if (!job->name) return HS_ENOMEM;
        for (size_t i = 0; i < n; i++)
            job->name[i] = isalnum((unsigned char)base[i]) || base[i] == '_' || base[i] == '-' ? base[i] : '_';
        job->name[n] = '\0';
    }
    if (!job->output) {
        size_t n = strlen(job->name) + 16;
        job->output = malloc(n);
        if (!job->output) return HS_ENOMEM;
        snprintf(job->output, n, "results/%s.h5", job->name);
    }
    return HS_OK;
}

static void job_defaults(hs_job *job)
{
    job->shards = 4;
    job->threads = 1;
    job->batch = 16;
    job->timing_repeats = 1;
    job->panels = 1;
    job->measure_unpruned_ppl = 1;
    job->strategy = HS_STRATEGY_ENTROPY;
    job->score.iterative_base = HS_STRATEGY_GRADIENT;
    job->score.iterative_step = 10.0;
    hs_sample_params_default(&job->sample);
}

static hs_status default_levels(hs_job *job)
{
    if (job->levels) return HS_OK;
    static const double def[] = {0, 30, 50, 70};
    job->levels = hs_malloc(sizeof def, "levels");
    if (!job->levels) return HS_ENOMEM;
    memcpy(job->levels, def, sizeof def);
    job->n_levels = 4;
    return HS_OK;
}

/* Bytes of the job's text (the file plus its "; --set" lines) a results file can record.
 * The text is the root attribute job_file_text, and HDF5 keeps an attribute in its
 * object's checksummed header only while the attribute's message fits in 64 KiB
 * (H5O_MESG_MAX_SIZE); a larger one goes to dense storage, which the results reader
 * refuses, so a sweep would compute everything and then refuse its own file. Measured with
 * every other root attribute at its usual size: 64,856 bytes of text stayed in the header,
 * 65,686 did not. The other root attributes are messages of their own (fixed ones of at
 * most 4 KiB: command_line 4096, hosts 2048, the versions 256 each; paths up to PATH_MAX),
 * so the limit is on this one message: half of it, which leaves the message's own header
 * (name, datatype, dataspace: under 100 bytes) and a later HDF5's larger one far inside. */
#define HS_JOB_TEXT_MAX (32 * 1024)

/* The job's text for provenance: the file, then the overrides as comments. */
static hs_status record_text(hs_job *job, const char *text, const char *const *sets, int n_sets)
{
    size_t n = strlen(text) + 2;
    for (int i = 0; i < n_sets; i++) n += strlen(sets[i]) + 16;
    job->text = malloc(n);
    if (!job->text) return hs_err(HS_ENOMEM, "job text: out of memory");
    size_t len = (size_t)snprintf(job->text, n, "%s", text);
    if (n_sets && len && job->text[len - 1] != '\n') len += (size_t)snprintf(job->text + len, n - len, "\n");
    for (int i = 0; i < n_sets; i++) len += (size_t)snprintf(job->text + len, n - len, "; --set %s\n", sets[i]);
    if (len <= HS_JOB_TEXT_MAX) return HS_OK;
    char with_sets[64] = "";
    if (n_sets) snprintf(with_sets, sizeof with_sets, " (%zu with its --set lines)", len);
    return hs_err(HS_EINPUT, "%s: job file is %zu bytes%s, over the limit of %d bytes: a results file records the "
                             "job's text in one attribute (job_file_text) of at most 64 KiB; shorten its comments",
                  job->path, strlen(text), with_sets, HS_JOB_TEXT_MAX);
}

/* The job's text goes into the results file (job_file_text) and the report as it is: a byte
 * that is not UTF-8 (a comment saved in Latin-1) would reach them raw, so it is refused with
 * its line. The --set arguments are recorded too. */
static hs_status check_utf8(const char *path, const char *text, const char *const *sets, int n_sets)
{
    size_t len = strlen(text), valid = hs_utf8_valid_prefix(text, len);
    if (valid < len) {
        int line = 1;
        size_t start = 0;
        for (size_t i = 0; i < valid; i++)
            if (text[i] == '\n') line++, start = i + 1;
        return hs_err(HS_EINPUT, "%s:%d: not valid UTF-8 (byte %zu of the line): a results file records the job "
                                 "file's text; save it as UTF-8", path, line, valid - start + 1);
    }
    for (int i = 0; i < n_sets; i++) {
        size_t n = strlen(sets[i]), ok = hs_utf8_valid_prefix(sets[i], n);
        int shown = (int)hs_utf8_valid_prefix(sets[i], ok < 40 ? ok : 40); /* whole characters */
        if (ok < n)
            return hs_err(HS_EINPUT, "--set argument %d (after '%.*s'): not valid UTF-8 (byte %zu)", i + 1, shown,
                          sets[i], ok + 1);
    }
    return HS_OK;
}

hs_status hs_job_parse(hs_job *job, const char *path, const char *text, const char *const *sets, int n_sets)
{
    memset(job, 0, sizeof *job);
    job_defaults(job);
    parse_state ps = {.job = job, .path = path};
    hs_status st = (job->path = hs_strdup(path)) ? HS_OK : HS_ENOMEM;
    if (!st) st = record_text(job, text, sets, n_sets);
    if (!st) st = check_utf8(path, text, sets, n_sets);
    if (!st) st = collect_file(&ps, text);
    for (int i = 0; !st && i < n_sets; i++) st = apply_set(job, sets[i]);
    if (!st) st = interpret(job);
    if (!st) st = check_unlisted(job, &ps);
    if (!st) st = check_mode(job);
    if (!st) st = check_inputs(job);
    if (!st) st = check_calibrated(job);
    if (!st) st = default_names(job);
    if (!st) st = default_levels(job);
    if (!st) st = check_each_head(job);
    if (!st) st = hs_sample_params_check(&job->sample);
    for (int i = 0; i < ps.n_sections; i++) {
        free(ps.sections[i].name);
        free(ps.sections[i].where);
    }
    free(ps.sections);
    if (st) hs_job_free(job);
    return st;
}

hs_status hs_job_load(hs_job *job, const char *path, const char *const *sets, int n_sets)
{
    memset(job, 0, sizeof *job);
    char *text;
    size_t len;
    hs_status st = hs_read_file(path, &text, &len);
    if (st) return hs_err_wrap(st, "job file");
    if (strlen(text) != len) st = hs_err(HS_EINPUT, "%s: job file contains a NUL byte", path);
    if (!st) st = hs_job_parse(job, path, text, sets, n_sets);
    free(text);
    return st;
}

void hs_job_free(hs_job *job)
{
    if (!job) return;
    for (int i = 0; i < job->n_entries; i++) entry_free(&job->entries[i]);
    free(job->entries);
    free(job->path);
    free(job->text);
    free(job->name);
    free(job->model_dir);
    free(job->prompts_path);
    free(job->calib_path);
    free(job->scores_path);
    free(job->heads_off);
    free(job->output);
    free(job->variants);
    free(job->levels);
    memset(job, 0, sizeof *job);
}

const char *hs_job_where(const hs_job *job, const char *section, const char *key)
{
    const hs_job_entry *e = find_entry(job, section, key);
    return e ? e->where : "defaults";
}

hs_status hs_job_check_prompts(const hs_job *job, int n_prompts)
{
    if (n_prompts == 0) /* max_prompts takes at least one: the file has none */
        return hs_err(HS_EINPUT, "%s: prompts = %s: the prompt file holds no prompts (only blank lines, or nothing)",
                      hs_job_where(job, "job", "prompts"), job->prompts_path);
    if (n_prompts < job->shards)
        return hs_err(HS_EINPUT,
                      "%s: shards = %d but only %d evaluation prompts are used, so some cells would be empty",
                      hs_job_where(job, "job", "shards"), job->shards, n_prompts);
    /* hs_shard_size: shards differ by one prompt at most, the smallest has n / shards. A
     * cell with fewer would time fewer prompts than the study text says, silently. */
    int smallest = n_prompts / job->shards;
    if (job->throughput && job->latency_prompts > smallest)
        return hs_err(HS_EINPUT,
                      "%s: latency_prompts = %d but the smallest of the %d shards has %d of the %d evaluation "
                      "prompts; set it to %d or less",
                      hs_job_where(job, "job", "latency_prompts"), job->latency_prompts, job->shards, smallest,
                      n_prompts, smallest);
    return HS_OK;
}
