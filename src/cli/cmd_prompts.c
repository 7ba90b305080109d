/* cmd_prompts.c: `headsweep prompts check` (every problem of a prompt file, line by line,
 * plus length statistics) and `headsweep prompts shard` (the same split as
 * hs_prompts_shard, written as files whose lines are the original lines, byte for byte).
 *
 * With --model, check tokenizes each prompt and reference the way the runner does
 * (separately, <|endoftext|> as plain text) and compares against n_positions of the
 * model's config.json: prompt + reference must fit for teacher-forced perplexity, and
 * prompt + max-new for generation. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"
#include "commands.h"
#include "headsweep/model.h"
#include "headsweep/prompts.h"
#include "headsweep/tokenizer.h"

static const char prompts_usage[] =
    "usage: headsweep prompts check FILE [--model DIR] [--max-new N] [--require-reference]\n"
    "       headsweep prompts shard FILE --shards N --out-dir DIR\n"
    "\n"
    "check   reports every problem of a prompt file (JSON lines: \"id\", \"prompt\",\n"
    "        optional \"reference\"), one per line as FILE:LINE: PROBLEM, then a summary\n"
    "        of the lengths. Exit 0 when clean, 2 when there is any problem. Blank lines\n"
    "        are listed as notes (every reader skips them; they do not change the exit).\n"
    "        --model DIR  also count tokens (vocab.json, merges.txt) and check them\n"
    "                     against n_positions in DIR/config.json: prompt + reference\n"
    "                     (without it the context is NOT checked, and the summary says so)\n"
    "        --max-new N  and prompt + N generated tokens (needs --model)\n"
    "        --require-reference  a prompt without \"reference\" is a problem (an\n"
    "                     evaluation set needs one for reference perplexity)\n"
    "shard   writes N files DIR/STEM.shard-K-of-N.jsonl (K = 0..N-1): prompt i goes to\n"
    "        shard i mod N, as in a sweep; lines are copied unchanged. N is at most the\n"
    "        number of prompts (an empty shard would be a prompt file a sweep refuses).\n";

static const char prompts_exits[] =
    "Exit status: 0 done (check: no problem), 2 bad input or usage (check: any problem\n"
    "found), 1 failure (I/O, memory, internal).\n";

/* ---- problems, collected then printed in line order ----------------------------- */

typedef struct {
    int line;
    char *msg;
} problem;

/* Problems and notes (blank lines) share the list so both print in line order; only
 * problems make the check fail. */
typedef struct {
    problem *v;
    size_t n, cap;
    size_t n_notes;
    hs_status st; /* HS_ENOMEM once an append failed */
} problem_list;

static void problems_add(void *ctx, int line, const char *msg)
{
    problem_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        problem *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->st = hs_err(HS_ENOMEM, "out of memory collecting problems");
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    char *m = hs_strdup(msg);
    if (!m) {
        l->st = HS_ENOMEM;
        return;
    }
    l->v[l->n++] = (problem){line, m};
}

static int problem_cmp(const void *a, const void *b)
{
    const problem *x = a, *y = b;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    return x < y ? -1 : x > y; /* never equal pointers; qsort is not stable */
}

static void problems_free(problem_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i].msg);
    free(l->v);
}

/* ---- check -------------------------------------------------------------------- */

/* Blank lines: every reader skips them (hs_prompts_parse), so they are notes, not problems,
 * but a file that should have none (a generator's bug, a stray edit) shows them here. */
static void note_blank_lines(const char *path, const char *data, size_t len, problem_list *pl)
{
    size_t pos = 0;
    for (int line = 1; pos < len && !pl->st; line++) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len, i = pos;
        while (i < end && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r')) i++;
        pos = end + 1;
        if (i < end) continue;
        char msg[512];
        snprintf(msg, sizeof msg, "%s:%d: note: blank line (skipped)", path, line);
        problems_add(pl, line, msg);
        pl->n_notes++;
    }
}

typedef struct {
    const char *file, *model;
    int max_new;     /* -1 when not given */
    int require_ref; /* --require-reference */
} check_opts;

typedef struct {
    size_t *prompt_len; /* (set.n) tokens, or bytes without --model */
    size_t *ref_len;    /* (number with a reference) */
    size_t n_ref;
} lengths;

static hs_status count_tokens(const hs_tokenizer *tok, const char *s, size_t *n)
{
    int32_t *ids;
    hs_status st = hs_tokenizer_encode(tok, s, strlen(s), 0, &ids, n);
    free(ids);
    return st;
}

/* Lengths of prompt i (and reference); with a model, also checks them against the context. */
static hs_status measure(const hs_prompt_set *set, size_t i, const hs_tokenizer *tok,
                         const hs_config *cfg, const check_opts *o, lengths *len,
                         problem_list *pl)
{
    const hs_prompt *p = &set->items[i];
    size_t np = strlen(p->prompt), nr = p->reference ? strlen(p->reference) : 0;
    hs_status st = tok ? count_tokens(tok, p->prompt, &np) : HS_OK;
    if (!st && tok && p->reference) st = count_tokens(tok, p->reference, &nr);
    if (st) return st;
    len->prompt_len[i] = np;
    if (p->reference) len->ref_len[len->n_ref++] = nr;
    char msg[1024], ref[64] = "";
    if (o->require_ref && !p->reference) {
        snprintf(msg, sizeof msg, "%s:%d: no \"reference\" (--require-reference: reference "
                 "perplexity needs the text that follows the prompt)", set->path, p->line);
        problems_add(pl, p->line, msg);
    }
    if (!tok) return pl->st;
    size_t ctx = (size_t)cfg->n_positions;
    if (p->reference) snprintf(ref, sizeof ref, " + reference (%zu tokens)", nr);
    if (np + nr > ctx) {
        snprintf(msg, sizeof msg, "%s:%d: prompt (%zu tokens)%s = %zu tokens, over the model's "
                 "context of %zu", set->path, p->line, np, ref, np + nr, ctx);
        problems_add(pl, p->line, msg);
    }
    if (o->max_new >= 0 && np + (size_t)o->max_new > ctx) {
        snprintf(msg, sizeof msg, "%s:%d: prompt (%zu tokens) + --max-new %d = %zu tokens, over "
                 "the model's context of %zu", set->path, p->line, np, o->max_new,
                 np + (size_t)o->max_new, ctx);
        problems_add(pl, p->line, msg);
    }
    return pl->st;
}

static int size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void print_stats(const char *what, size_t *v, size_t n)
{
    if (n == 0) {
        printf("%s: none\n", what);
        return;
    }
    qsort(v, n, sizeof *v, size_cmp);
    double median = n % 2 ? (double)v[n / 2] : 0.5 * ((double)v[n / 2 - 1] + (double)v[n / 2]);
    printf("%s: min %zu, median %g, max %zu\n", what, v[0], median, v[n - 1]);
}

static hs_status load_model_parts(const char *dir, hs_tokenizer **tok, hs_config *cfg)
{
    char *path = hs_path_join(dir, "config.json");
    if (!path) return HS_ENOMEM;
    hs_status st = hs_config_load(cfg, path);
    free(path);
    return st ? st : hs_tokenizer_load(tok, dir);
}

/* Measures every prompt; n_ctx gets the model's context (0 without --model). */
static hs_status measure_all(const hs_prompt_set *set, const check_opts *o, lengths *len,
                             problem_list *pl, int *n_ctx)
{
    hs_tokenizer *tok = NULL;
    hs_config cfg = {0};
    hs_status st = o->model ? load_model_parts(o->model, &tok, &cfg) : HS_OK;
    len->prompt_len = hs_malloc(set->n * sizeof(size_t), "lengths");
    len->ref_len = hs_malloc(set->n * sizeof(size_t), "lengths");
    if (!st && (!len->prompt_len || !len->ref_len)) st = HS_ENOMEM;
    for (size_t i = 0; !st && i < set->n; i++) st = measure(set, i, tok, &cfg, o, len, pl);
    *n_ctx = cfg.n_positions;
    hs_tokenizer_free(tok);
    return st;
}

/* Problems in line order, then the summary. */
static hs_status print_report(const hs_prompt_set *set, problem_list *pl, lengths *len,
                              int n_ctx)
{
    if (pl->n) qsort(pl->v, pl->n, sizeof *pl->v, problem_cmp);
    for (size_t i = 0; i < pl->n; i++) printf("%s\n", pl->v[i].msg);
    const char *unit = n_ctx ? "tokens" : "bytes";
    char what[64];
    size_t n_problems = pl->n - pl->n_notes;
    printf("%s: %zu prompts, %zu with a reference, %zu problem%s", set->path, set->n, len->n_ref,
           n_problems, n_problems == 1 ? "" : "s");
    if (pl->n_notes) printf(", %zu blank line%s skipped", pl->n_notes, pl->n_notes == 1 ? "" : "s");
    printf("\n");
    snprintf(what, sizeof what, "prompt %s", unit);
    print_stats(what, len->prompt_len, set->n);
    snprintf(what, sizeof what, "reference %s", unit);
    print_stats(what, len->ref_len, len->n_ref);
    if (n_ctx) printf("model context: %d tokens\n", n_ctx);
    else printf("model context: not checked (give --model DIR to count tokens against it)\n");
    if (fflush(stdout) || ferror(stdout)) return hs_err(HS_EIO, "stdout: write error");
    return HS_OK;
}

static int check_file(const check_opts *o)
{
    char *data = NULL;
    size_t len = 0, n_parse = 0;
    int n_ctx = 0;
    hs_prompt_set set = {0};
    problem_list pl = {0};
    lengths lens = {0};
    hs_status st = hs_read_file(o->file, &data, &len);
    if (!st) st = hs_prompts_check(&set, data, len, o->file, problems_add, &pl, &n_parse);
    if (!st) note_blank_lines(o->file, data, len, &pl);
    if (!st) st = pl.st;
    if (!st) st = measure_all(&set, o, &lens, &pl, &n_ctx);
    if (!st) st = print_report(&set, &pl, &lens, n_ctx);
    int rc = st ? hs_cli_fail(st) : (pl.n > pl.n_notes ? 2 : 0);
    free(lens.prompt_len);
    free(lens.ref_len);
    problems_free(&pl);
    hs_prompts_free(&set);
    free(data);
    return rc;
}

static int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"require-reference", no_argument, 0, 'r'},
                                         {"max-new", required_argument, 0, 'n'}, {0, 0, 0, 0}};
    check_opts o = {NULL, NULL, -1, 0};
    hs_opt p;
    int c, rc;
    hs_cli_opt_init(&p, "prompts check", prompts_usage, prompts_exits, opts);
    while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        if (c == HS_OPT_EXIT) return rc;
        if (c == 'm') o.model = optarg;
        else if (c == 'r') o.require_ref = 1;
        else if (c == 'n' && hs_cli_parse_int(&p, optarg, "--max-new", 0, 1 << 20, &o.max_new)) return 2;
    }
    if (hs_opt_operands(&p, argc, 1, 1, "exactly one FILE is required")) return 2;
    o.file = argv[p.next];
    if (o.max_new >= 0 && !o.model) return hs_opt_error(&p, "--max-new needs --model");
    return check_file(&o);
}

/* ---- shard -------------------------------------------------------------------- */

typedef struct {
    const char *file, *out_dir;
    int shards;
} shard_opts;

/* Start offsets of the lines of data: (n_lines + 1) entries, the last one past the end. */
static hs_status line_index(const char *data, size_t len, size_t **starts, size_t *n_lines)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++) n += data[i] == '\n';
    size_t *s = hs_malloc((n + 1) * sizeof *s, "line index");
    if (!s) return HS_ENOMEM;
    size_t k = 0;
    s[k++] = 0;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n') s[k++] = i + 1;
    s[k] = len + 1; /* as if the file ended with a newline */
    *starts = s;
    *n_lines = n;
    return HS_OK;
}

/* DIR/STEM.shard-K-of-N.jsonl, STEM the file name without its last extension. */
static char *shard_path(const shard_opts *o, int k)
{
    const char *base = strrchr(o->file, '/') ? strrchr(o->file, '/') + 1 : o->file;
    const char *dot = strrchr(base, '.');
    int stem = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    char name[512];
    snprintf(name, sizeof name, "%.*s.shard-%d-of-%d.jsonl", stem, base, k, o->shards);
    return hs_path_join(o->out_dir, name);
}

static hs_status write_lines(FILE *f, const char *data, const size_t *starts,
                             const hs_prompt_set *set, const size_t *idx, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        int line = set->items[idx[j]].line;
        size_t a = starts[line - 1], b = starts[line] - 1; /* without the newline */
        if (fwrite(data + a, 1, b - a, f) != b - a || fputc('\n', f) == EOF) return HS_EIO;
    }
    return HS_OK;
}

/* Writes shard k through a temporary file renamed into place. */
static hs_status write_shard(const shard_opts *o, const hs_prompt_set *set, const char *data,
                             const size_t *starts, int k)
{
    size_t *idx = NULL, n = 0;
    char *path = shard_path(o, k), *tmp = NULL;
    FILE *f = NULL;
    hs_status st = path ? hs_prompts_shard(set, o->shards, k, &idx, &n) : HS_ENOMEM;
    if (!st) st = hs_tmp_create(path, &f, &tmp);
    if (!st) {
        st = write_lines(f, data, starts, set, idx, n);
        if (st) st = hs_err(HS_EIO, "%s: write error: %s", tmp, strerror(errno));
        st = hs_tmp_commit(path, f, tmp, st);
    }
    if (!st) printf("%s: %zu prompts\n", path, n);
    free(idx);
    free(path);
    return st;
}

static hs_status make_dir(const char *dir)
{
    if (!dir[0]) return hs_err(HS_EINPUT, "the output directory path is empty");
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return HS_OK;
        return hs_err(HS_EINPUT, "%s: not a directory", dir);
    }
    return hs_err(errno == ENOENT ? HS_EINPUT : HS_EIO, "%s: cannot create directory: %s", dir,
                  strerror(errno));
}

static int shard_file(const shard_opts *o)
{
    char *data = NULL;
    size_t len = 0, *starts = NULL, n_lines;
    hs_prompt_set set = {0};
    hs_status st = hs_read_file(o->file, &data, &len);
    if (!st) st = hs_prompts_parse(&set, data, len, o->file);
    /* an empty shard would be an empty prompt file, which a sweep refuses */
    if (!st && set.n < (size_t)o->shards)
        st = hs_err(HS_EINPUT, "%s: %zu prompts cannot fill %d shards (one prompt each at least); give --shards %zu or "
                               "fewer", o->file, set.n, o->shards, set.n ? set.n : 1);
    if (!st) st = line_index(data, len, &starts, &n_lines);
    if (!st) st = make_dir(o->out_dir);
    for (int k = 0; !st && k < o->shards; k++) st = write_shard(o, &set, data, starts, k);
    if (!st && (fflush(stdout) || ferror(stdout))) st = hs_err(HS_EIO, "stdout: write error");
    free(starts);
    hs_prompts_free(&set);
    free(data);
    return st ? hs_cli_fail(st) : 0;
}

static int cmd_shard(int argc, char **argv)
{
    static const struct option opts[] = {{"shards", required_argument, 0, 's'},
                                         {"out-dir", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    shard_opts o = {NULL, NULL, 0};
    hs_opt p;
    int c, rc;
    hs_cli_opt_init(&p, "prompts shard", prompts_usage, prompts_exits, opts);
    while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        if (c == HS_OPT_EXIT) return rc;
        if (c == 's' && hs_cli_parse_int(&p, optarg, "--shards", 1, 1 << 20, &o.shards)) return 2;
        else if (c == 'o') o.out_dir = optarg;
    }
    if (hs_opt_operands(&p, argc, 1, 1, "exactly one FILE is required")) return 2;
    o.file = argv[p.next];
    if (!o.out_dir || !o.shards) return hs_opt_error(&p, "FILE, --shards N and --out-dir DIR are required");
    return shard_file(&o);
}

int hs_cmd_prompts(int argc, char **argv)
{
    static const struct option none[] = {{0, 0, 0, 0}};
    hs_opt p;
    int rc;
    hs_cli_opt_init(&p, "prompts", prompts_usage, prompts_exits, none);
    if (argc >= 2 && !strcmp(argv[1], "check")) return cmd_check(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "shard")) return cmd_shard(argc - 1, argv + 1);
    if (argc >= 2 && argv[1][0] == '-' && hs_opt_next(&p, argc, argv, &rc) == HS_OPT_EXIT) return rc;
    if (argc < 2) return hs_opt_error(&p, "a subcommand is required: check or shard");
    return hs_opt_error(&p, "unknown subcommand '%s' (check or shard)", argv[1]);
}
