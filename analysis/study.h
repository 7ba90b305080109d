/* study.h: the report tool's in-memory picture of one study (one or more results files).
 *
 * h5read.c fills one hs_study per file; study.c merges several into one (union of
 * variants and levels, prompts must match) and answers "which values are real": a value
 * counts only when its prompt's cell is done and the value is finite. Nothing here knows
 * HDF5, so the statistics and writers can be tested without files. */
#ifndef HS_REPORT_STUDY_H
#define HS_REPORT_STUDY_H

#include <stdint.h>

#include "headsweep/util.h"

typedef struct {
    char *name;        /* dataset name under /metrics */
    char *units;       /* attribute `units` ("" when absent) */
    char *description; /* attribute `description` */
    int timing;        /* attribute `timing`: 1 timing/memory, 0 exact quality metric */
    double *v;         /* (nv, nl, np); NaN where the file has no value */
} hs_metric_data;

typedef struct {
    char *key;   /* root attribute name */
    char *value; /* rendered as text (arrays joined with ", ") */
} hs_attr_text;

typedef struct {
    char *path;          /* the results file */
    int n_attrs;
    hs_attr_text *attrs; /* (n_attrs) root attributes, in the file's order */
    int nshard;          /* prompt shards of the file: prompt p is in shard hs_shard_of(p, nshard) */
} hs_source;

typedef struct {
    int nv, nl, np, L, H, ns; /* variants, levels, prompts, layers, heads, states */
    char **variant;           /* (nv) names */
    char **gating;            /* (nv) "mask" / "skip" */
    char **strategy;          /* (nv) the variant's head-pruning strategy ("entropy", ...,
                                 "heads_off"); "" when the file predates the attribute */
    uint8_t *agency;          /* (nv) 1 when the variant runs the agency state machine */
    double *level;            /* (nl) percent, ascending after a merge */
    int *level_head;          /* (nl) each_head studies: l*H + h for a level that switches off head
                                 (l, h) alone (several share one percentage), -1 for the others;
                                 NULL when the study has no such level. A level is (level, head). */
    char **prompt;            /* (np) ids in prompt-file order */
    char **book;              /* (np) each prompt's book as the sweep's sample took it (/prompts/book);
                                 NULL when the file predates it (books then come from the ids) */
    int32_t *row;             /* (np, 2) index among the prompt file's prompts and line (/prompts/file_index,
                                 /prompts/line; -1 unknown); NULL when the file has neither */
    char **state;             /* (ns) agency state names */
    int nm;
    hs_metric_data *metric;   /* (nm) every /metrics/<name> of the file */
    uint8_t *done;            /* (nv, nl, np) 1 when the prompt's cell is done */
    uint8_t *pruned;          /* (nv, nl, L, H) 1 = head switched off */
    uint8_t *heads_known;     /* (nv, nl) pruned map taken from a file with this cell */
    int *map_source;          /* (nv, nl) index into src of the file the pruned map comes from; -1 unknown */
    int *source;              /* (nv, nl, np) index into src of the file a done prompt's values come from;
                                 -1 not done */
    int64_t *occupancy;       /* (nv, nl, L, H, ns) steps per state, summed over prompts */
    int nshard;               /* shards of the per-shard arrays below, 0 when they are not kept (a file
                                 with occupancy summed over shards, or files of different shard counts) */
    uint8_t *shard_done;      /* (nv, nl, nshard) 1 when the cell (variant, level, shard) is done */
    int64_t *occ_shard;       /* (nv, nl, nshard, L, H, ns) /agency/occupancy per cell as stored */
    int64_t *trans_shard;     /* (nv, nl, nshard, L, H) /agency/transitions; NULL without them */
    int max_new;              /* generated tokens per prompt (/new_token) */
    int32_t *gen_ids;         /* (nv, nl, np, max_new) /text/generated_ids, -1 padded; NULL: not known */
    char **gen_text;          /* (nv, nl, np) /prompts/generated, NULL entries where not known; NULL
                                 without the dataset */
    double *score;            /* (L, H) head usefulness, higher = more useful */
    int norigins;
    char **origins;           /* (norigins) distinct "host, run k": where and in which sweep
                                 invocation cells ran (/cells/host, /cells/run) */
    int *origin;              /* (nv, nl, np) index into origins for the prompt's cell; -1
                                 unknown (no /cells/host, or not done) */
    uint8_t *copies;          /* (nv, nl, np, 2) the speed copies (HS_COPY_* bits of headsweep/model.h) the
                                 prompt's cell read when its rank had them, requested [0] and used [1]
                                 (/cells/copies_requested, /cells/copies_used); HS_RESULTS_COPIES_UNKNOWN where
                                 not recorded (files before them, cells not done) */
    int nsrc;
    hs_source *src;           /* (nsrc) one per input file */
    int nnotes;
    char **notes;             /* (nnotes) things the reader must know (merge choices) */
} hs_study;

void hs_study_free(hs_study *s);

/* Index helpers; all arrays are row-major in the order of their comments. */
static inline size_t hs_vlp(const hs_study *s, int v, int l, int p)
{
    return ((size_t)v * s->nl + l) * s->np + p;
}
static inline size_t hs_vl(const hs_study *s, int v, int l) { return (size_t)v * s->nl + l; }

int hs_study_variant(const hs_study *s, const char *name); /* index or -1 */
int hs_study_level(const hs_study *s, double level);       /* index of a level that is not a single
                                                              head's, or -1 */
/* Index of level (level, head), head -1 for a level that is not a single head's; or -1. */
int hs_study_level_head(const hs_study *s, double level, int head);
const hs_metric_data *hs_study_metric(const hs_study *s, const char *name);
/* Root attribute of the first input file that has it, or NULL. */
const char *hs_study_attr(const hs_study *s, const char *key);
/* Prompts whose cell is done for (v, l). */
int hs_study_done_count(const hs_study *s, int v, int l);

/* 1 when input file i says its sweep did not finish every cell (root attribute
 * `complete` = 0: interrupted, still running, or run with --cells). */
int hs_study_src_incomplete(const hs_study *s, int i);
/* (variant, level, prompt) results whose cell is not done, and how many there are. */
void hs_study_not_done(const hs_study *s, size_t *not_done, size_t *total);

/* Index of name in s->origins, adding it when new; -1 for "" (unknown). */
hs_status hs_study_origin(hs_study *s, const char *name, int *idx);

/* Appends a note (printf style); returns HS_ENOMEM on failure. */
hs_status hs_study_note(hs_study *s, const char *fmt, ...) HS_PRINTF(2, 3);

/* Merges b into a (a keeps its order; b's new variants and levels are added, levels
 * sorted ascending). Refuses (HS_EINPUT, message naming both files) when the two are not
 * the same study: different model, prompts, calibration, strategy, sampling settings,
 * head grid, states, prompt ids, or a variant whose gating/agency differ. Files are joined
 * by the merge rule of `headsweep merge` (results.h): a (variant, level) in both must switch
 * off the same heads and a prompt done in both must have the same quality numbers, else
 * the merge is refused naming both files and the cell; its timing numbers are a's, and a
 * note says so. Quality numbers are those of hs_results_same_*: the metrics with timing 0,
 * the generated tokens and texts, and the agency counts of the cell's shard (when both keep
 * them per shard). b is left unchanged. */
hs_status hs_study_merge(hs_study *a, const hs_study *b);

/* Sorts levels ascending (a single file may list them in any order). */
hs_status hs_study_sort_levels(hs_study *s);

/* each_head: moves the single-head levels of s into *single (a study of the same variants and
 * prompts whose levels are those, level_head set) and keeps the others in s, so every table and
 * figure of the report sees the strategies' levels only. *single is zeroed when s has none. */
hs_status hs_study_split_heads(hs_study *s, hs_study *single);

#endif
