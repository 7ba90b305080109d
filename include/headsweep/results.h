/* results.h: the results stage (src/results), the one owner of the HDF5 results file
 * (docs/results-format.md): its schema table, the grid of cells its datasets are shaped
 * by, creating, opening and the cell I/O of resume and merge, the schema check every
 * reader runs, the merge rule, the read-only access the report uses, and the format of a
 * variant's line of the study text; nothing outside src/results includes hdf5.h.
 *
 * Every problem with a file (missing, not HDF5, not a headsweep file, another schema
 * version, a missing or misshapen dataset, a damaged chunk or checksum) is HS_EINPUT with a
 * message naming the file and the object. */
#ifndef HEADSWEEP_RESULTS_H
#define HEADSWEEP_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "headsweep/eval.h"
#include "headsweep/model.h"
#include "headsweep/prune.h"
#include "headsweep/util.h"

/* Version 2: CF-1.8 attributes (long_name, UDUNITS-2 units, _FillValue), fixed-length strings only (no
 * global heap), /cells/finished_utc as seconds since the epoch. Version 3: version 2 plus, on every
 * chunked dataset, the attribute chunk_index_sha256 (a digest of its chunk addresses that every reader
 * compares). headsweep-report reads versions 2 and 3; resume and merge write into and from version 3
 * only (docs/results-format.md). Version 1 kept its strings variable-length, in HDF5's global heap,
 * which no checksum covers and which HDF5 reads without bounds checks (a crafted heap reference
 * crashed the report inside H5HG_read): no reader takes a variable-length string any more. */
#define HS_RESULTS_SCHEMA_VERSION 3
#define HS_RESULTS_SCHEMA_OLDEST 2 /* oldest version the report reads */
#define HS_RESULTS_EPOCH_UNITS "seconds since 1970-01-01T00:00:00Z" /* CF units of a time */
#define HS_RESULTS_DIM_MAX (1 << 24)            /* any one dimension (100,000 prompts is tested) */
#define HS_RESULTS_CHUNKS_MAX (1 << 22)         /* chunks of one dataset (one per cell in practice) */
#define HS_RESULTS_COUNT_MAX ((int64_t)1 << 38) /* agency counters: sums over HS_RESULTS_DIM_MAX shards stay < 2^62 */
#define HS_RESULTS_TEXT_MAX (1 << 20)           /* bytes of one fixed-length string (the schema check's limit) */
#define HS_RESULTS_COPIES_UNKNOWN 255           /* /cells/copies_*: not recorded (the fill; HS_COPY_ALL or less else) */

/* ---- the schema table: one row per dimension scale and per dataset ---- */

/* Dimension scales, each a 1-D dataset at the root. HEAD_DIM exists only in files with
 * /heads/means (a study with a mean-ablation variant). */
enum { HS_RD_VARIANT, HS_RD_LEVEL, HS_RD_PROMPT, HS_RD_LAYER, HS_RD_HEAD, HS_RD_STATE, HS_RD_SHARD, HS_RD_NEW_TOKEN,
       HS_RD_HEAD_DIM, HS_RD_COUNT };

/* Element types as the writer stores them; readers accept any type of the same class. */
typedef enum {
    HS_RT_I32, HS_RT_I64, HS_RT_U8, HS_RT_F64,
    HS_RT_STRING, /* fixed length, sized to the longest value */
    HS_RT_HOST,   /* fixed, HS_HOST_MAX bytes */
    HS_RT_U64, HS_RT_F32 /* attributes only */
} hs_results_type;
typedef enum { HS_RC_INTEGER, HS_RC_FLOAT, HS_RC_STRING } hs_results_class;

typedef struct {
    const char *path;     /* "/variant" */
    hs_results_type type;
    const char *units, *description; /* written as the CF attributes units and long_name */
} hs_results_scale_def;

/* Datasets besides /metrics/<name>, in the order the writer creates them. TRANS and
 * VSCORE came after the first files were written, PROMPT_TEXT and REFERENCE_TEXT with
 * schema 2, GEN_TEXT after them, PROMPT_INDEX, PROMPT_LINE and PROMPT_BOOK (which rows of
 * the prompt file the study uses) after it, COPIES_REQUESTED and COPIES_USED (the speed copies
 * a cell's timings had) after them: files without them still open. MEANS is written
 * only by studies with a mean-ablation variant. */
enum { HS_RDS_GEN, HS_RDS_OCC, HS_RDS_DONE, HS_RDS_RANK, HS_RDS_HOST, HS_RDS_SECONDS, HS_RDS_FINISHED, HS_RDS_RUN,
       HS_RDS_PRUNED, HS_RDS_SCORE, HS_RDS_TRANS, HS_RDS_VSCORE, HS_RDS_MEANS, HS_RDS_PROMPT_TEXT,
       HS_RDS_REFERENCE_TEXT, HS_RDS_GEN_TEXT, HS_RDS_PROMPT_INDEX, HS_RDS_PROMPT_LINE, HS_RDS_PROMPT_BOOK,
       HS_RDS_COPIES_REQUESTED, HS_RDS_COPIES_USED, HS_RDS_COUNT };

typedef struct {
    const char *path;     /* "/cells/done" */
    int rank;
    int dims[6];          /* HS_RD_* of each axis */
    hs_results_type type;
    int optional;         /* absent from files written before it existed */
    const char *units, *description;
} hs_results_dataset_def;

extern const hs_results_scale_def hs_results_scales[HS_RD_COUNT];
extern const hs_results_dataset_def hs_results_datasets[HS_RDS_COUNT];
/* /metrics/<name>: (variant, level, prompt) doubles; units and description per metric. */
extern const hs_results_dataset_def hs_results_metric;
/* Older layouts readers accept beside a row of hs_results_datasets, told apart by their
 * rank; NULL where there is none. The format's first sketch stored /agency/occupancy
 * without the shard axis: the report reads such files (summing nothing), a sweep refuses
 * to write into them. */
extern const hs_results_dataset_def *const hs_results_older[HS_RDS_COUNT];
extern const hs_results_dataset_def hs_results_occupancy_unsharded;
/* ---- the attribute table (schema.c): every attribute the writer writes and the schema
 * check checks, the one place their names, types and fixed sizes are written down ---- */

/* Root attributes in the order the writer writes them (created, then rewritten by every
 * run, then merge's), then the attributes of /variant, /heads/score, /heads/means and
 * /level, then those of every dataset and of every metric. */
enum { HS_RA_SCHEMA_VERSION, HS_RA_CONVENTIONS, HS_RA_HEADSWEEP_VERSION, HS_RA_GIT_DESCRIBE, HS_RA_CREATED_UTC,
       HS_RA_JOB_NAME, HS_RA_JOB_FILE, HS_RA_JOB_FILE_TEXT, HS_RA_STUDY, HS_RA_STUDY_SHA256, HS_RA_MODEL_DIR,
       HS_RA_MODEL_SHA256, HS_RA_PROMPTS_PATH, HS_RA_PROMPTS_SHA256, HS_RA_MAX_PROMPTS, HS_RA_CALIBRATION_PATH,
       HS_RA_CALIBRATION_SHA256, HS_RA_HEADS_SOURCE, HS_RA_SCORES_PATH, HS_RA_SCORES_SHA256, HS_RA_HEADS_OFF,
       HS_RA_STRATEGY, HS_RA_PRUNING_SEED, HS_RA_PER_LAYER, HS_RA_KEEP_ONE, HS_RA_SEED, HS_RA_MAX_NEW_TOKENS,
       HS_RA_TEMPERATURE, HS_RA_TOP_K, HS_RA_TOP_P, HS_RA_N_SHARDS, HS_RA_MEASURE_UNPRUNED_PPL,
       HS_RA_UPDATED_UTC, HS_RA_RUNS, HS_RA_COMPLETE, HS_RA_COMMAND_LINE, HS_RA_N_RANKS, HS_RA_HOSTS,
       HS_RA_MPI_VERSION, HS_RA_OPENBLAS_VERSION, HS_RA_HDF5_VERSION, HS_RA_LAST_GIT_DESCRIBE, HS_RA_MERGED_FROM,
       HS_RA_GATING, HS_RA_AGENCY, HS_RA_VARIANT_STRATEGY, HS_RA_VARIANT_PER_LAYER, HS_RA_VARIANT_KEEP_ONE,
       HS_RA_SCORE_STRATEGY, HS_RA_SCORE_CALIBRATION, HS_RA_SCORE_CALIBRATION_SHA256, HS_RA_SCORE_N_PROMPTS,
       HS_RA_SCORE_SEED, HS_RA_SCORE_CONVENTION, HS_RA_MEANS_CALIBRATION, HS_RA_MEANS_CALIBRATION_SHA256,
       HS_RA_MEANS_N_PROMPTS, HS_RA_MEANS_MAX_TOKENS, HS_RA_SINGLE_HEAD, HS_RA_UNITS, HS_RA_LONG_NAME,
       HS_RA_ENCODING, HS_RA_TIMING, HS_RA_CHUNK_DIGEST, HS_RA_COUNT };

#define HS_RESULTS_ANY "*"            /* hs_results_attr_def.obj: every dataset */
#define HS_RESULTS_METRICS "/metrics"   /* the group of the metrics, one dataset each */
#define HS_RESULTS_METRIC HS_RESULTS_METRICS "/*" /* every /metrics/<name> */
#define HS_RA_ONE (-1)                 /* hs_results_attr_def.per: one value */

typedef struct {
    const char *obj;        /* "/", a dataset's path, HS_RESULTS_ANY or HS_RESULTS_METRIC */
    const char *name;
    hs_results_type type;   /* HS_RT_STRING (fixed-length, sized to the value or to size), HS_RT_I32, HS_RT_U8,
                               HS_RT_U64, HS_RT_F32 */
    int per;                /* HS_RD_VARIANT or HS_RD_LEVEL: one value per entry of that axis; HS_RA_ONE:
                               one value (a run writes one value over it) */
    size_t size;            /* strings a run rewrites in place: their bytes, NUL included; else 0 */
    int required;           /* the schema check refuses a file without it (schema_version: not results) */
    const char *units;      /* of a number, NULL for text (documentation; attributes carry no units) */
    const char *long_name;  /* what it holds */
} hs_results_attr_def;

extern const hs_results_attr_def hs_results_attrs[HS_RA_COUNT];

/* The scale name without its slash ("variant"), as dimension labels use it. */
const char *hs_results_dim_name(int dim);
hs_results_class hs_results_type_class(hs_results_type t);

/* Extents the schema check found (every one in 1..HS_RESULTS_DIM_MAX). */
typedef struct {
    int schema_version; /* HS_RESULTS_SCHEMA_OLDEST..HS_RESULTS_SCHEMA_VERSION */
    int n_variants, n_levels, n_prompts, n_layers, n_heads, n_states, n_shards, max_new;
    int n_head_dim;      /* /head_dim's length, 0 without /heads/means */
    int has_transitions; /* /agency/transitions exists (files before it do not have it) */
    int has_copies;      /* bit 0: /cells/copies_requested exists, bit 1: /cells/copies_used (files before them
                            have neither) */
} hs_results_dims;

/* ---- the grid of cells (src/results/cells.c): the shape of a file's cell datasets ---- */

#define HS_HOST_MAX 64 /* bytes of a host name in /cells/host, NUL included */

typedef struct {
    int n_variants, n_levels, n_shards; /* cells: variant x level x shard */
    int n_prompts, n_layers, n_heads, max_new;
    int head_dim;       /* n_embd / n_head of /heads/means (mean ablation), 0: no means stored */
    int text_bytes;     /* size of /prompts/generated's fixed-length strings, NUL included: max_new times
                           hs_tokenizer_text_bound, plus 1; 0: no generated text stored */
} hs_grid;

typedef struct {
    int variant, level, shard;
} hs_cell;

/* Cells are numbered variant-major: index = (variant * n_levels + level) * n_shards + shard,
 * the row-major order of /cells/done. */
int64_t hs_grid_cells(const hs_grid *g);
hs_cell hs_grid_cell(const hs_grid *g, int64_t index);
/* Prompts of a shard: shard s holds prompts s, s + n_shards, ... (hs_prompts_shard). */
int hs_grid_shard_size(const hs_grid *g, int shard);
/* Fills idx (hs_grid_shard_size entries) with the shard's prompt indices, ascending. */
void hs_grid_shard_prompts(const hs_grid *g, int shard, int32_t *idx);

/* Everything one finished cell contributes to the results file. */
typedef struct {
    int64_t index;          /* cell index in the grid */
    int n;                  /* prompts in the cell */
    int32_t *prompt;        /* (n) prompt indices, ascending */
    double *metrics;        /* (n, HS_M_COUNT) per prompt, hs_metrics[] order */
    int32_t *gen_ids;       /* (n, max_new) generated ids, -1 padded */
    char *text;             /* (n, text_bytes) their text (hs_tokenizer_decode_text), NUL padded; NULL when
                               text_bytes is 0 */
    int text_bytes;         /* the grid's text_bytes when the buffers were made */
    int64_t *occupancy;     /* (L, H, HS_AG_NSTATES) agency steps, summed over the prompts */
    int64_t *transitions;   /* (L, H) agency state changes, summed over the prompts */
    double seconds;         /* wall time of the cell */
    int32_t rank;           /* rank that computed it */
    int32_t run;            /* sweep invocation that wrote it (1, 2, ...) */
    uint8_t copies_requested; /* HS_COPY_* (model.h) speed copies the cell's work reads and its rank asked
                                 for; HS_RESULTS_COPIES_UNKNOWN: not recorded (older files) */
    uint8_t copies_used;      /* those of them the rank had (a copy gives way when memory is short) */
    char host[HS_HOST_MAX];
    char finished_utc[HS_UTC_MAX];
} hs_cell_result;

/* One allocation for the arrays of a cell of n prompts. */
hs_status hs_cell_result_init(hs_cell_result *c, const hs_grid *g, int n);
void hs_cell_result_free(hs_cell_result *c);
/* Bytes of that one block (c->metrics on): the sweep's ranks send it as it is. */
size_t hs_cell_result_bytes(const hs_grid *g, int n);

/* Digests of the inputs that, with the job's settings, decide every quality number. */
typedef struct {
    char model_sha256[65];
    char config_sha256[65]; /* the model directory's config.json, vocab.json and merges.txt */
    char vocab_sha256[65];
    char merges_sha256[65];
    char prompts_sha256[65];
    char calibration_sha256[65]; /* "" without a calibration set */
    int n_prompts;               /* evaluation prompts used */
    char scores_sha256[65];      /* of the [pruning] scores file, "" without one */
    char (*variant_scores_sha256)[65]; /* (n_variants) of each variant's scores file, ""
                                          without one; NULL: no variant has its own */
    const char *prefill_route;   /* hs_model_prefill_route; NULL or "tiles": no line */
} hs_study_inputs;

/* One variant as a results file records it (/variant and its attributes). */
typedef struct {
    const char *name;
    hs_gating gating;
    int agency_on;
    hs_select_opts select;    /* per_layer, keep_one_per_layer */
    hs_ablation ablation;     /* mean: /heads/means holds the means its pruned heads contribute */
} hs_results_variant;

/* The settings a new results file records (root attributes, /variant, /level): plain data
 * that the sweep fills from the job as run (hs_job_results_view), so src/results does not
 * depend on the job parser. Strings are borrowed; NULL where the job has none. */
typedef struct {
    const char *name;                   /* job_name */
    const char *path, *text;            /* job_file, job_file_text */
    const char *model_dir, *prompts_path;
    const char *calib_path;             /* NULL: no calibration set */
    const char *scores_path;            /* NULL: scores computed */
    const char *heads_off;              /* canonical head list, NULL: levels over scores */
    int max_prompts;
    const hs_results_variant *variants; /* (n_variants of the grid) */
    const double *levels;               /* (n_levels of the grid) percent switched off */
    hs_strategy strategy;
    uint64_t pruning_seed;
    hs_select_opts select;
    hs_sample_params sample;
    int shards;
    int measure_unpruned_ppl;
    const int *level_head;              /* (n_levels) -1, or l*H + h for a level that switches off
                                           head (l, h) alone (each_head); NULL: no such level */
} hs_results_job;

/* ---- a results file to create, resume or merge (src/results/results.c) ---- */

typedef struct hs_results hs_results;

/* What a new results file is created from. */
typedef struct {
    hs_results_job job;
    hs_grid grid;
    const char *study;                /* hs_study_text */
    const hs_study_inputs *inputs;
    const char *const *prompt_ids;    /* (n_prompts) */
    const char *const *prompt_text;   /* (n_prompts) UTF-8, stored so the file is self-contained */
    const char *const *reference_text; /* (n_prompts) UTF-8, NULL entries for none */
    const int32_t *prompt_file_index; /* (n_prompts) index among the prompt file's prompts, NULL: unknown (-1) */
    const int32_t *prompt_line;       /* (n_prompts) 1-based line in the prompt file, NULL: unknown (-1) */
    const char *const *prompt_book;   /* (n_prompts) the book (stratum of the sample), NULL: all "" */
    const hs_head_scores *scores;     /* (n_variants) each variant's scores */
    const float *gates;               /* (n_variants, n_levels, L, H): 0 = switched off */
} hs_results_spec;

/* Provenance of one sweep invocation, written to the root attributes. */
typedef struct {
    const char *command_line;
    int n_ranks;
    const char *hosts;                /* comma-separated */
    const char *mpi_version;
    const char *openblas_version;
} hs_run_info;

/* Creates path (refusing to replace an existing file) with every dataset allocated and
 * filled (NaN, -1, 0): from then on cells only overwrite raw data in place. The file is
 * written under a temporary name and renamed, so path is either absent or complete;
 * stale temporary files of killed runs are removed first. */
hs_status hs_results_create(const char *path, const hs_results_spec *spec);
/* Removes path.tmp.PID files that a killed create or merge left behind: only those whose
 * PID is not running on this host (called under the sweep's lock, and by merge). */
void hs_results_remove_stale_tmp(const char *path);
/* Opens a results file; refuses files that are not headsweep results of this schema. */
hs_status hs_results_open(hs_results **out, const char *path, int writable);
/* Flushes and closes; NULL-safe. */
hs_status hs_results_close(hs_results *r);

const hs_grid *hs_results_grid(const hs_results *r);
const char *hs_results_path(const hs_results *r);
const char *hs_results_study(const hs_results *r);
/* git describe of the build that last computed cells into the file ("" if none did). */
const char *hs_results_last_version(const hs_results *r);
const char *hs_results_variant_name(const hs_results *r, int v);
double hs_results_level(const hs_results *r, int l);
const char *hs_results_prompt_id(const hs_results *r, int p);

/* One prompt of a study as its sweep's sample took it: /prompt, /prompts/file_index,
 * /prompts/line and /prompts/book (-1, -1 and NULL or "" where a file predates them). */
typedef struct {
    const char *id;
    int32_t file_index; /* index among the prompt file's prompts */
    int32_t line;       /* 1-based line of the prompt file */
    const char *book;   /* the stratum of the sample */
} hs_prompt_row;
/* HS_EINPUT when the file's prompts are not these n, by hs_results_same_prompt (ids, and
 * where the file records them, the rows of the prompt file and the books): a resume must
 * compute the prompts the file's cells were computed on, whatever changed in the sampling
 * code since. run names this run's prompts in the message ("this run's sample of FILE"). */
hs_status hs_results_check_prompts(hs_results *r, int n, const hs_prompt_row *want, const char *run);
/* The file's prompts (n_prompts rows, owned by r until hs_results_close), read on the first
 * call. */
hs_status hs_results_prompt_rows(hs_results *r, const hs_prompt_row **rows);
/* HS_EINPUT naming the first settings that differ when the file holds another study. */
hs_status hs_results_check_study(const hs_results *r, const char *study);
hs_status hs_results_read_done(hs_results *r, uint8_t *done /* (cells) */);
/* Every cell's speed copies (/cells/copies_requested, /cells/copies_used), HS_COPY_* bits;
 * HS_RESULTS_COPIES_UNKNOWN for a cell not recorded, and for every cell of a file without
 * the datasets. *recorded: whether the file has them. */
hs_status hs_results_read_copies(hs_results *r, uint8_t *requested /* (cells) */, uint8_t *used /* (cells) */,
                                 int *recorded);
/* Variant v's scores (/heads/variant_score; files without it: /heads/score for every
 * variant). sc->score is allocated; free with hs_scores_free. */
hs_status hs_results_read_scores(hs_results *r, int v, hs_head_scores *sc);
hs_status hs_results_read_pruned(hs_results *r, uint8_t *pruned /* (variants, levels, L, H) */);
/* Which head each level switches off alone (/level attribute single_head: l*H + h for
 * each_head's single-head levels, -1 for the others and for files without it). */
hs_status hs_results_level_heads(hs_results *r, int32_t *head /* (n_levels) */);
/* 1 when the file has /agency/transitions (files written before it existed do not: their
 * cells are read with zero transitions and written without them). */
int hs_results_has_transitions(const hs_results *r);
/* 1 when the file has /prompts/generated (its grid's text_bytes > 0); files written before it
 * read as "" and are written without it. */
int hs_results_has_text(const hs_results *r);

/* Records a new invocation (runs += 1, its provenance) and returns its number. */
hs_status hs_results_begin_run(hs_results *r, const hs_run_info *info, int *run);
/* Writes a cell's data, flushes it to the operating system, then marks it done. */
hs_status hs_results_write_cell(hs_results *r, const hs_cell_result *c);
/* Reads cell c->index (c sized by hs_cell_result_init for the cell's prompts). */
hs_status hs_results_read_cell(hs_results *r, hs_cell_result *c);
/* Stamps updated_utc and whether every cell is done, and flushes. */
hs_status hs_results_end_run(hs_results *r);
/* When every cell is done but the file does not say `complete` (the run that wrote the
 * last cell was killed before stamping it), stamps it; otherwise changes nothing. */
hs_status hs_results_settle(hs_results *r);
/* The root attribute `complete`: 1 once a run stamped every cell done. */
hs_status hs_results_read_complete(hs_results *r, int *complete);
/* Merge's output: every dimension scale attached afresh. The old DIMENSION_LIST and
 * REFERENCE_LIST attributes are deleted unread: DIMENSION_LIST's references live in HDF5's
 * global heap, which no checksum covers and headsweep never reads, so a flipped bit there in
 * the first input would otherwise pass into the output, where netCDF and xarray follow it
 * (issue 17; the old heap objects stay behind unreferenced). */
hs_status hs_results_reattach_scales(hs_results *r);
/* Adds a root attribute `merged_from` (merge). */
hs_status hs_results_set_merged_from(hs_results *r, const char *inputs);

/* ---- one study, two files: the single definition resume, merge and the report use ---- */

/* Compares two study texts (root attribute `study`: one "key = value" line per setting that
 * changes a result). 1 when equal; else 0 with the number of differing lines and the first
 * differing line of each (NUL-terminated, "(end)" when one text is shorter) in a and b. */
int hs_results_same_study(const char *x, const char *y, int *n_differ, char *a, char *b, size_t cap);
/* The value of the study text's line "key = value" (a pointer into study, *len bytes up to
 * the line's end), NULL when no line has that key (or study is NULL): the one reader of the
 * text's lines for the sweep, status and the report. A variant's line has key "variant.NAME". */
const char *hs_results_study_value(const char *study, const char *key, size_t *len);
/* 1 when line key's value is exactly value. */
int hs_results_study_is(const char *study, const char *key, const char *value);

/* ---- a variant's line of the study text (src/results/variant_line.c) ---- */

/* One variant's settings that change a result, as its line of the study text records them:
 * "variant.NAME = gating skip, agency on[, strategy S, scores X, per_layer on|off,
 * keep_one_per_layer on|off][, ablation mean][, ema_alpha a, overload_threshold o,
 * alignment_threshold t, recovery_steps n, factors f0 f1 f2 f3[, thresholds calibrated at
 * percentile p][, recovery calibrated (mean run length)]]". The sweep writes it (hs_study_text
 * fills one from each hs_variant), the report reads it back: the one definition of its
 * fields. Agency numbers are doubles here, read with strtod as the report always read them:
 * the line holds a float's %.9g, which a cast to float turns back into that float. */
#define HS_VARIANT_LINE_MAX 1024  /* bytes of a whole line, with room; a longer name is refused */
#define HS_VARIANT_FIELD_MAX 128  /* bytes of one ", "-separated field (the writer's longest is 71) */
#define HS_VARIANT_LINE_FACTORS 4 /* gate factor per agency state: active, overloaded, misaligned, withdrawn */
enum {
    HS_VL_GATING = 1u << 0,
    HS_VL_AGENCY = 1u << 1,
    HS_VL_STRATEGY = 1u << 2,
    HS_VL_SCORES = 1u << 3,
    HS_VL_PER_LAYER = 1u << 4,
    HS_VL_KEEP_ONE = 1u << 5,
    HS_VL_ABLATION = 1u << 6,
    HS_VL_EMA_ALPHA = 1u << 7,
    HS_VL_OVERLOAD = 1u << 8,
    HS_VL_ALIGNMENT = 1u << 9,
    HS_VL_RECOVERY_STEPS = 1u << 10,
    HS_VL_FACTORS = 1u << 11,
    HS_VL_PERCENTILE = 1u << 12,
    HS_VL_RECOVERY_CALIBRATED = 1u << 13,
};
typedef struct {
    unsigned has; /* HS_VL_* bits: the fields a parsed line held, each well formed (the writer ignores it) */
    hs_gating gating;
    int agency_on;
    int own_pruning;            /* the line names the variant's strategy, scores, per_layer and keep_one_per_layer */
    hs_strategy strategy;       /* with own_pruning */
    char scores[65];            /* with own_pruning: sha256 of the variant's scores file; "": none,
                                   written and read as "computed" */
    int per_layer, keep_one_per_layer;
    hs_ablation ablation;       /* the line says only "mean"; zero writes nothing */
    double ema_alpha, overload_threshold, alignment_threshold; /* with agency_on */
    int recovery_steps;
    double factor[HS_VARIANT_LINE_FACTORS];
    double percentile;          /* > 0: thresholds calibrated at this percentile; 0: as set */
    int recovery_calibrated;    /* recovery_steps is the calibrated mean run length */
} hs_variant_line;

/* Writes "variant.NAME = ..." (no newline) into buf (cap bytes, HS_VARIANT_LINE_MAX is enough
 * for a name of up to 64 bytes); HS_EINTERNAL when it does not fit. Optional fields appear
 * exactly where they always did, so a study's text, and so its identity, stays the same. */
hs_status hs_variant_line_format(const char *name, const hs_variant_line *v, char *buf, size_t cap);
/* Reads a line's value (the len bytes after "variant.NAME = ", not necessarily
 * NUL-terminated: it comes from a file) into *out, zeroed first. Unknown fields are skipped;
 * a known field that is malformed, repeated or longer than HS_VARIANT_FIELD_MAX is left out
 * of out->has and keeps its zero value. Returns the number of such bad fields (0: clean). */
int hs_variant_line_parse(const char *value, size_t len, hs_variant_line *out);
/* Finds variant name's line in the study text (NULL: none) and parses it: -1 when there is no
 * such line (*out zeroed), else what hs_variant_line_parse returns. */
int hs_variant_line_read(const char *study, const char *name, hs_variant_line *out);
/* The merge rule (src/results/merge_rule.c), one for `headsweep merge` and the report's
 * multi-file reading: equal study texts; a (variant, level) in both files switches off the
 * same heads; a cell done in both agrees in every quality number (a metric with timing = 0,
 * a generated token and text, an agency count of the cell's shard). Timing numbers of a cell
 * may differ between runs: merges take them from the first input that has the cell. */
/* Two values of a quality number agree when equal, NaN agreeing with NaN. */
int hs_results_same_value(double a, double b);
/* 1 when metric `name` (timing: 1 for a timing number, which may differ) of a prompt agrees
 * in both files; else 0 and what (cap bytes) says how: "distinct_2 of prompt p7 is x vs y". */
int hs_results_same_metric(const char *name, int timing, const char *prompt, double a, double b, char *what,
                           size_t cap);
/* 1 when a prompt's n generated tokens (-1 padded) agree; else 0 and what says the first
 * that differs: "generated token 3 of prompt p7 is 12 vs 40". */
int hs_results_same_tokens(const char *prompt, const int32_t *a, const int32_t *b, int n, char *what, size_t cap);
/* 1 when a prompt's generated texts (/prompts/generated) agree; else 0 and what. */
int hs_results_same_text(const char *prompt, const char *a, const char *b, char *what, size_t cap);
/* 1 when n agency counts of one cell (one shard: its occupancy or its transitions, named by
 * name) agree; else 0 and what. */
int hs_results_same_counts(const char *name, const int64_t *a, const int64_t *b, size_t n, char *what, size_t cap);
/* The refusal of a cell done in files a and b with different results (HS_EINPUT, naming
 * the cell, both files and what differs). */
hs_status hs_results_cell_conflict(const char *variant, double level, int shard, const char *a, const char *b,
                                   const char *what);
/* The refusal of files a and b whose pruned heads differ for a variant at a level. */
hs_status hs_results_heads_conflict(const char *variant, double level, const char *a, const char *b);
/* 1 when prompt p (0-based) is the same in both: the same id and, where both record them,
 * the same index, line and book; else 0 and what says how: "prompt 3 (gen-5): /prompts/line
 * is 9 vs 10". Two files (or a file and a resuming run) whose prompts differ were computed on
 * different rows of the prompt file, whatever their study texts say (the sampling code may
 * have changed between their builds). */
int hs_results_same_prompt(int p, const hs_prompt_row *a, const hs_prompt_row *b, char *what, size_t cap);
/* The refusal of a and b (two files, or a file and a run) whose prompts differ (HS_EINPUT,
 * naming both and what differs). */
hs_status hs_results_prompts_conflict(const char *a, const char *b, const char *what);

/* ---- read-only access (headsweep-report) ---- */

typedef struct hs_results_reader hs_results_reader;

typedef enum { HS_RN_F64, HS_RN_I64, HS_RN_I32, HS_RN_INT, HS_RN_U8 } hs_results_num;

typedef struct {
    int rank;
    uint64_t dim[6];      /* 0: any length along that axis */
    const char *name[6];  /* axis names for messages */
} hs_results_shape;

typedef struct {
    char *key;   /* root attribute name */
    char *value; /* rendered as text (arrays joined with ", ") */
} hs_results_attr;

/* Opens path read-only after the schema check (hs_results_validate) and the schema
 * version; fills *dims. On failure *out is NULL. */
hs_status hs_results_reader_open(hs_results_reader **out, const char *path, hs_results_dims *dims);
/* Checks that no two chunks read share one address (a damaged chunk index pointing at
 * another chunk with a valid checksum), then closes; NULL-safe. */
hs_status hs_results_reader_close(hs_results_reader *r);
const char *hs_results_reader_path(const hs_results_reader *r);
/* 1 when obj (relative to the root or absolute) exists, 0 when not; HS_EINPUT when
 * HDF5 cannot tell (*exists -1). */
hs_status hs_results_reader_exists(const hs_results_reader *r, const char *obj, int *exists);
/* Rank of dataset obj. */
hs_status hs_results_reader_rank(const hs_results_reader *r, const char *obj, int *rank);
/* Reads dataset obj whole as numbers into a new buffer, checking its shape against want
 * (extent into got when not NULL) and its chunk index entry by entry. */
hs_status hs_results_reader_numbers(hs_results_reader *r, const char *obj, hs_results_num type,
                                    const hs_results_shape *want, uint64_t *got, void **out);
/* Reads the string dataset obj of shape want (extent into got) into n new strings. */
hs_status hs_results_reader_strings(hs_results_reader *r, const char *obj, const hs_results_shape *want,
                                    uint64_t *got, char ***out);
/* Attribute `name` of object obj ("/" the root): n strings (allocated into out[0..n)), or
 * n numbers of the given type. Missing: HS_EINPUT when required, else out[i] = "" / *found 0. */
hs_status hs_results_reader_attr_strings(const hs_results_reader *r, const char *obj, const char *name, size_t n,
                                         int required, char **out);
hs_status hs_results_reader_attr_numbers(const hs_results_reader *r, const char *obj, const char *name,
                                         hs_results_num type, size_t n, void *out, int *found);
/* Every root attribute rendered as text, sorted by key (free with hs_results_attrs_free). */
hs_status hs_results_reader_root_attrs(const hs_results_reader *r, hs_results_attr **out, int *n);
void hs_results_attrs_free(hs_results_attr *a, int n);
/* Names of the links in group obj, sorted (free each and the array). */
hs_status hs_results_reader_list(const hs_results_reader *r, const char *obj, char ***names, int *n);

/* In-memory files (the fuzz targets of tests/fuzz): size bytes at image opened through
 * HDF5's core driver, name only for messages. _open_image is hs_results_reader_open;
 * validate_image runs the schema check resume and merge run (hs_results_validate) alone. */
hs_status hs_results_reader_open_image(hs_results_reader **out, const char *name, const void *image, size_t size,
                                       hs_results_dims *dims);
hs_status hs_results_validate_image(const char *name, const void *image, size_t size, hs_results_dims *dims);

/* Version of the HDF5 library in use, e.g. "1.10.8". */
const char *hs_results_hdf5_version(void);

#endif
