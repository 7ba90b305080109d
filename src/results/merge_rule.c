/* merge_rule.c: the one definition of when two results files of one study may be joined,
 * used by `headsweep merge` (src/sweep/merge.c) and by the report's multi-file reading
 * (analysis/study.c), so the two never disagree about the same pair of files:
 *  - the study texts are equal (hs_results_same_study);
 *  - the prompts are the same rows of the prompt file: ids, and where both record them,
 *    /prompts/file_index, /prompts/line and /prompts/book (resume checks a file against
 *    its run's sample by the same rule);
 *  - a (variant, level) present in both switches off the same heads;
 *  - a cell done in both agrees in every quality number (a metric with timing = 0, a
 *    generated token, its generated text, an agency count of its shard), NaN agreeing with
 *    NaN; timing numbers may differ between runs and are taken from the first file that
 *    has the cell.
 * Anything else is refused with one message naming both files and the cell. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "headsweep/results.h"

/* Line i (0-based) of text, as a pointer and a length; NULL past the end. */
static const char *nth_line(const char *text, int i, int *len)
{
    for (; i > 0 && text; i--) {
        text = strchr(text, '\n');
        if (text) text++;
    }
    if (!text || !*text) return NULL;
    *len = (int)strcspn(text, "\n");
    return text;
}

int hs_results_same_study(const char *x, const char *y, int *n_differ, char *a, char *b, size_t cap)
{
    *n_differ = 0;
    if (cap) a[0] = b[0] = '\0';
    if (!strcmp(x, y)) return 1;
    for (int i = 0;; i++) {
        int la = 0, lb = 0;
        const char *p = nth_line(x, i, &la), *q = nth_line(y, i, &lb);
        if (!p && !q) break;
        if (p && q && la == lb && !memcmp(p, q, (size_t)la)) continue;
        if (!(*n_differ)++ && cap) {
            snprintf(a, cap, "%.*s", p ? la : (int)strlen("(end)"), p ? p : "(end)");
            snprintf(b, cap, "%.*s", q ? lb : (int)strlen("(end)"), q ? q : "(end)");
        }
    }
    return 0;
}

const char *hs_results_study_value(const char *study, const char *key, size_t *len)
{
    size_t n = strlen(key);
    for (const char *l = study; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (!strncmp(l, key, n) && !strncmp(l + n, " = ", 3)) {
            *len = strcspn(l + n + 3, "\n");
            return l + n + 3;
        }
    return NULL;
}

int hs_results_study_is(const char *study, const char *key, const char *value)
{
    size_t len = 0;
    const char *v = hs_results_study_value(study, key, &len);
    return v && len == strlen(value) && !strncmp(v, value, len);
}

int hs_results_same_value(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

int hs_results_same_metric(const char *name, int timing, const char *prompt, double a, double b, char *what,
                           size_t cap)
{
    if (timing || hs_results_same_value(a, b)) return 1;
    snprintf(what, cap, "%s of prompt %s is %.17g vs %.17g", name, prompt, a, b);
    return 0;
}

int hs_results_same_tokens(const char *prompt, const int32_t *a, const int32_t *b, int n, char *what, size_t cap)
{
    for (int t = 0; t < n; t++)
        if (a[t] != b[t]) {
            snprintf(what, cap, "generated token %d of prompt %s is %d vs %d", t, prompt, a[t], b[t]);
            return 0;
        }
    return 1;
}

int hs_results_same_text(const char *prompt, const char *a, const char *b, char *what, size_t cap)
{
    if (!strcmp(a, b)) return 1;
    size_t k = 0;
    while (a[k] == b[k]) k++;
    snprintf(what, cap, "the generated text of prompt %s differs from byte %zu on", prompt, k);
    return 0;
}

int hs_results_same_counts(const char *name, const int64_t *a, const int64_t *b, size_t n, char *what, size_t cap)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) {
            snprintf(what, cap, "agency %s count %zu of the shard is %lld vs %lld", name, i, (long long)a[i],
                     (long long)b[i]);
            return 0;
        }
    return 1;
}

hs_status hs_results_cell_conflict(const char *variant, double level, int shard, const char *a, const char *b,
                                   const char *what)
{
    return hs_err(HS_EINPUT, "cell (variant %s, level %g, shard %d) is done in both %s and %s with different results: "
                             "%s; refusing to merge",
                  variant, level, shard, a, b, what);
}

hs_status hs_results_heads_conflict(const char *variant, double level, const char *a, const char *b)
{
    return hs_err(HS_EINPUT, "cannot merge %s with %s: they switch off different heads (/heads/pruned) in variant %s "
                             "at level %g",
                  b, a, variant, level);
}

/* The rows of two files agree where both record them: -1 (or no book) is a file that
 * predates the dataset, not a different row. */
static int rows_known(int32_t a, int32_t b) { return a >= 0 && b >= 0; }
static int book_known(const char *a, const char *b) { return a && b && a[0] && b[0]; }

int hs_results_same_prompt(int p, const hs_prompt_row *a, const hs_prompt_row *b, char *what, size_t cap)
{
    if (strcmp(a->id, b->id)) snprintf(what, cap, "prompt %d: /prompt is %s vs %s", p, a->id, b->id);
    else if (rows_known(a->file_index, b->file_index) && a->file_index != b->file_index)
        snprintf(what, cap, "prompt %d (%s): /prompts/file_index is %d vs %d", p, a->id, (int)a->file_index,
                 (int)b->file_index);
    else if (rows_known(a->line, b->line) && a->line != b->line)
        snprintf(what, cap, "prompt %d (%s): /prompts/line is %d vs %d", p, a->id, (int)a->line, (int)b->line);
    else if (book_known(a->book, b->book) && strcmp(a->book, b->book))
        snprintf(what, cap, "prompt %d (%s): /prompts/book is %s vs %s", p, a->id, a->book, b->book);
    else return 1;
    return 0;
}

hs_status hs_results_prompts_conflict(const char *a, const char *b, const char *what)
{
    return hs_err(HS_EINPUT, "%s and %s hold different prompts: %s (the prompt file or the way max_prompts "
                             "samples changed between their runs); refusing to mix results",
                  a, b, what);
}
