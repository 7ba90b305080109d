/* sweep.h: a study as a job file, the grid of cells it defines, and the results file.
 *
 * A job file (INI, docs/sweep.md) names a model, an evaluation prompt set, variants
 * (gating mode + agency settings), pruning levels and a strategy. Its cells are
 * (variant x level x prompt shard); `headsweep sweep` hands them out to MPI ranks and
 * writes every finished cell into one HDF5 file (docs/results-format.md) that a killed
 * or preempted run resumes. The MPI side lives in src/sweep/comm.c and the HDF5 side in
 * src/results (include/headsweep/results.h: the grid, the file and its cell I/O); nothing
 * else in the project sees either library. */
#ifndef HEADSWEEP_SWEEP_H
#define HEADSWEEP_SWEEP_H

#include <stdint.h>

#include "headsweep/agency.h"
#include "headsweep/eval.h"
#include "headsweep/model.h"
#include "headsweep/prompts.h"
#include "headsweep/prune.h"
#include "headsweep/results.h"
#include "headsweep/util.h"

#define HS_VARIANT_NAME_MAX 64
#define HS_AGENCY_PERCENTILE 95.0 /* agency_thresholds = calibrated without agency_percentile */

/* ---- job files ---- */

typedef struct {
    char name[HS_VARIANT_NAME_MAX];
    hs_gating gating;
    int agency_on;
    hs_agency_params agency; /* used when agency_on */
    double agency_percentile; /* agency_thresholds = calibrated: the percentile (0, 100) of the
                                 calibration set's per-step statistics the sweep sets the
                                 overload and alignment thresholds to at plan time
                                 (hs_agency_calibrate); 0: the thresholds as set */
    int recovery_calibrated;  /* agency_recovery = calibrated: recovery_steps is the mean run length of the
                                 calibrated conditions on the calibration set (hs_agency_calib) */
    /* The variant's pruning: [variant.NAME] strategy, scores, per_layer and
     * keep_one_per_layer, each defaulting to [pruning]'s. Variants with the same strategy
     * and scores file share one set of scores. */
    hs_strategy strategy;
    const char *scores_path; /* saved scores (the job's or the section's), NULL: computed */
    hs_select_opts select;
    int own_pruning;         /* the section sets one of them (then the study text says so) */
    hs_ablation ablation;    /* ablation = zero|mean ([pruning]'s unless the section sets it):
                                what a switched-off head contributes */
} hs_variant;

typedef struct hs_job_entry hs_job_entry; /* one setting and where it came from (job.c) */

typedef struct {
    char *path;               /* the job file as given */
    char *text;               /* its bytes, then one "; --set ..." line per override */
    char *name;               /* [job] name, default: file name without .ini */
    char *model_dir;          /* paths relative to the current directory, as written */
    char *prompts_path;
    char *calib_path;         /* NULL when the strategy needs no calibration set */
    char *scores_path;        /* [pruning] scores: saved head scores used instead of computing
                                 them (NULL: computed); the file's strategy is the job's */
    char *heads_off;          /* [pruning] heads_off: an explicit head list, the study's one
                                 level (NULL: levels over scores), as written; its level and
                                 canonical spelling are the pruning plan's (prune.h) */
    char *output;
    int max_prompts;          /* evaluation prompts used; 0: all */
    int prompt_head;          /* prompt_order = head: the first max_prompts, not a sample */
    uint64_t prompt_seed;     /* seed of the max_prompts sample (hs_prompts_sample) */
    double progress_interval; /* [job] progress_interval: seconds between plain progress lines;
                                 0: HS_PROGRESS_INTERVAL; --progress-interval overrides it */
    int shards;               /* prompt shards: prompt i belongs to shard i % shards */
    int threads;              /* BLAS threads per rank */
    int throughput;           /* mode = throughput: a cell's prompts decoded together */
    int batch;                /* sequences decoded together in throughput mode */
    int latency_prompts;      /* throughput mode: prompts of each cell, spread over it, also timed alone */
    hs_weights weights;       /* weights = f32|bf16|int8|w8a8 (all but f32 change quality numbers) */
    int huge_pages;           /* huge_pages = true: hs_model_opts.huge_pages (timings only) */
    int panels;               /* panels = false: no hs_model_opts.panels in latency mode (timings, memory) */
    int sequential;           /* timing_order = sequential: a cell's variant alone, not interleaved */
    int timing_repeats;       /* timed generations per prompt, their median recorded (>= 1) */
    int measure_unpruned_ppl; /* score generations under the unpruned model too */
    hs_variant *variants;     /* (n_variants) in the order of `variants` */
    int n_variants;
    double *levels;           /* (n_levels) percent of heads switched off (with heads_off: one
                                 level, its value the pruning plan's) */
    int n_levels;
    int each_head;            /* [pruning] each_head = on: the plan adds a level per head that
                                 switches off that head alone (docs/pruning.md, "Each head alone") */
    const int *level_head;    /* (n_levels) as run (hs_job_as_run): -1, or l*H + h for the level
                                 that switches off head (l, h) alone; NULL without each_head */
    hs_strategy strategy;
    hs_score_opts score;      /* calibration limits and the random strategy's seed */
    hs_select_opts select;
    hs_ablation ablation;     /* [pruning] ablation, the variants' default (zero) */
    hs_sample_params sample;
    hs_job_entry *entries;    /* (n_entries) every key set, with its origin */
    int n_entries;
} hs_job;

/* Reads and checks a job file. sets are "section.key=value" overrides (--set) applied
 * after the file. Errors name file:line (or the --set argument). Relative paths in the
 * file are taken relative to the current working directory. */
hs_status hs_job_load(hs_job *job, const char *path, const char *const *sets, int n_sets);
/* The same from text already in memory (path is used in messages and for the name). */
hs_status hs_job_parse(hs_job *job, const char *path, const char *text, const char *const *sets,
                       int n_sets);
void hs_job_free(hs_job *job);
/* Where section.key was set: "jobs/demo.ini:7" or "--set job.shards=9"; "defaults"
 * when it was not. The string lives as long as the job. */
const char *hs_job_where(const hs_job *job, const char *section, const char *key);
/* Checks the job against the number of evaluation prompts it uses: every shard gets one,
 * and in throughput mode the smallest shard holds latency_prompts. Names the job's line. */
hs_status hs_job_check_prompts(const hs_job *job, int n_prompts);

/* The study's identity as "key = value" lines, one per setting that changes a result
 * (not paths, threads or the output). Two runs with equal texts may fill the same file.
 * Newly allocated. */
char *hs_study_text(const hs_job *job, const hs_study_inputs *in);

/* The job as a results file records it (hs_results_spec): its variants are allocated,
 * strings borrowed from job; free with hs_job_results_view_free. */
hs_status hs_job_results_view(const hs_job *job, hs_results_job *out);
void hs_job_results_view_free(hs_results_job *out);

/* ---- the grid of cells ---- */

/* A slice of the cells for a job-array task: part k (1-based) of n holds the cells whose
 * index % n == k - 1. n == 0 means every cell. */
typedef struct {
    int k, n;
} hs_slice;

hs_status hs_slice_parse(const char *s, hs_slice *out);
int hs_slice_has(const hs_slice *s, int64_t index);
/* What a slice divides: the cell index, or with interleaved timings its (level, shard)
 * (level * n_shards + shard), so that the variants timed together stay in one part. */
int64_t hs_grid_slice_key(const hs_grid *g, int64_t cell, int interleaved);
/* HS_EINPUT when --cells K/N has more parts than the study has work items (or cells, not
 * interleaved): parts above that would hold nothing, yet a sweep of one would compute the
 * head scores and create a results file with no cell to fill. */
hs_status hs_slice_check(const hs_slice *s, const hs_grid *g, int interleaved);
/* Whether a study's cells were sliced by work item (timings interleaved, the default) or
 * cell by cell (timing_order = sequential), from the study text the file records. */
int hs_study_interleaved(const char *study);

/* ---- the results file's lock (src/sweep/lock.c) ---- */

/* 1 when a live sweep holds the lock of results_path (OUT.lock, src/sweep/lock.c), with
 * the pid and host it wrote there; 0 when nobody does. Takes nothing. */
int hs_lock_holder(const char *results_path, long *pid, char host[HS_HOST_MAX]);

/* ---- commands ---- */

#define HS_PROGRESS_INTERVAL 10.0 /* seconds between plain progress lines (batch logs) */

typedef struct {
    const char *job_path;
    const char *const *sets;   /* (n_sets) "section.key=value" */
    int n_sets;
    const char *output;        /* overrides [job] output when not NULL */
    hs_slice slice;
    int progress;              /* -1 auto (bar on a terminal), 0 plain lines, 1 bar */
    double progress_interval;  /* seconds between plain progress lines; <= 0: HS_PROGRESS_INTERVAL */
    const char *command_line;
} hs_sweep_opts;

/* What a sweep would compute, without computing: the job after every --set, the prompts
 * used and the cells (sweep --dry-run, src/sweep/dryrun.c). Reads the job file, the prompt file, the
 * model's config.json and tokenizer, the calibration set and scores files (and hashes
 * model.safetensors for the latter), and refuses what the sweep refuses for them; no MPI. */
typedef struct {
    hs_job job;            /* as parsed, with --out */
    hs_prune_plan prune;   /* its levels as run (a heads_off list's share of the heads);
                              sized, no scores or gates */
    int have_prune;
    int n_prompts;         /* evaluation prompts used */
    hs_prompt_set prompts; /* those prompts (max_prompts' choice, hs_prompts_choose), in file order */
    size_t *file_index;    /* (n_prompts) each one's index among the file's prompts */
    int n_file;            /* prompts in the file */
    hs_grid grid;          /* n_layers, n_heads from config.json; cells in grid order */
    int64_t cells;         /* every cell of the study */
    int64_t cells_slice;   /* the cells of --cells K/N (all without it) */
} hs_sweep_plan;

hs_status hs_sweep_plan_make(hs_sweep_plan *p, const hs_sweep_opts *o);
void hs_sweep_plan_free(hs_sweep_plan *p);

/* Rank of this process as its MPI launcher announced it before MPI_Init (0 without a
 * launcher), so that a usage error is printed once, not once per rank. src/sweep/comm.c
 * owns the launchers' environment. */
int hs_sweep_launcher_rank(void);

/* Runs the study on every rank of the job (serially without mpirun), printing progress
 * and, on rank 0, the outcome to stderr (a top-level driver: only rank 0 knows every
 * rank's result). Returns the status all ranks agreed on: HS_EINTR when a signal stopped
 * it after saving the finished cells. */
hs_status hs_sweep_run(const hs_sweep_opts *o);

/* Combines results files of one study into out (which must not exist). Cells done in
 * several inputs must agree on every quality number. *done and *total count the cells
 * of out. */
hs_status hs_merge(const char *out, const char *const *inputs, int n_inputs, int64_t *done, int64_t *total);

#endif
