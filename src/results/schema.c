/* schema.c: the schema table (include/headsweep/results.h): every dimension scale and
 * dataset of a results file, its shape, type, units and description, and every attribute
 * with its type, size and whether a file must have it. The writer creates from it, the
 * schema check checks against it and the readers read through it;
 * docs/results-format.md describes the same layout for people.
 * Units follow the CF conventions: every one parses with UDUNITS-2 (counts and ids are
 * "1", the description, written as long_name, says what is counted); `results_tool.py cf`
 * (tests/sweep/sweep_netcdf.sh) checks a real file with the udunits2 program. */
#include <stdio.h>
#include <string.h>

#include "headsweep/results.h"

#define CELL {HS_RD_VARIANT, HS_RD_LEVEL, HS_RD_SHARD}

const hs_results_scale_def hs_results_scales[HS_RD_COUNT] = {
    [HS_RD_VARIANT] = {"/variant", HS_RT_STRING, "1",
                       "model variant: gating mode + agency on/off (attributes gating, agency)"},
    [HS_RD_LEVEL] = {"/level", HS_RT_F64, "percent", "pruning level: share of the attention heads switched off"},
    [HS_RD_PROMPT] = {"/prompt", HS_RT_STRING, "1", "evaluation prompt id, in prompt-file order"},
    [HS_RD_LAYER] = {"/layer", HS_RT_I32, "1", "transformer layer index"},
    [HS_RD_HEAD] = {"/head", HS_RT_I32, "1", "attention head index within a layer"},
    [HS_RD_STATE] = {"/state", HS_RT_STRING, "1", "agency state of a head"},
    [HS_RD_SHARD] = {"/shard", HS_RT_I32, "1", "prompt shard: prompt i belongs to shard i % n_shards"},
    [HS_RD_NEW_TOKEN] = {"/new_token", HS_RT_I32, "1", "position of a generated token"},
    [HS_RD_HEAD_DIM] = {"/head_dim", HS_RT_I32, "1",
                        "position within a head's output vector (only with /heads/means)"},
};

const hs_results_dataset_def hs_results_datasets[HS_RDS_COUNT] = {
    [HS_RDS_GEN] = {"/text/generated_ids", 4, {HS_RD_VARIANT, HS_RD_LEVEL, HS_RD_PROMPT, HS_RD_NEW_TOKEN}, HS_RT_I32,
                    0, "1",
                    "GPT-2 token ids generated for the prompt, -1 after the last one (end of text not stored)"},
    [HS_RDS_OCC] = {"/agency/occupancy", 6,
                    {HS_RD_VARIANT, HS_RD_LEVEL, HS_RD_SHARD, HS_RD_LAYER, HS_RD_HEAD, HS_RD_STATE}, HS_RT_I64, 0,
                    "1",
                    "forward steps (prefill + decode) each head spent in each agency state during generation, "
                    "summed over the prompts of the cell; 0 for variants without agency"},
    [HS_RDS_DONE] = {"/cells/done", 3, CELL, HS_RT_U8, 0, "1", "1 once the cell's data is on disk"},
    [HS_RDS_RANK] = {"/cells/rank", 3, CELL, HS_RT_I32, 0, "1", "MPI rank that computed the cell, -1 if none"},
    [HS_RDS_HOST] = {"/cells/host", 3, CELL, HS_RT_HOST, 0, "1", "host name of the rank that computed the cell"},
    [HS_RDS_SECONDS] = {"/cells/seconds", 3, CELL, HS_RT_F64, 0, "s",
                        "wall time of the cell (throughput mode: its batched evaluation, without the latency "
                        "sample)"},
    [HS_RDS_FINISHED] = {"/cells/finished_utc", 3, CELL, HS_RT_F64, 0, HS_RESULTS_EPOCH_UNITS,
                         "time the cell finished (UTC)"},
    [HS_RDS_RUN] = {"/cells/run", 3, CELL, HS_RT_I32, 0, "1",
                    "sweep invocation that wrote the cell (1 = the run that created the file), 0 if none"},
    [HS_RDS_PRUNED] = {"/heads/pruned", 4, {HS_RD_VARIANT, HS_RD_LEVEL, HS_RD_LAYER, HS_RD_HEAD}, HS_RT_U8, 0, "1",
                       "1 where the head is switched off in the variant at the level"},
    [HS_RDS_SCORE] = {"/heads/score", 2, {HS_RD_LAYER, HS_RD_HEAD}, HS_RT_F64, 0, "1",
                      "head scores of the first variant (scale set by the attribute strategy), higher = more "
                      "useful; levels switch off the lowest first (every variant's: /heads/variant_score)"},
    [HS_RDS_TRANS] = {"/agency/transitions", 5, {HS_RD_VARIANT, HS_RD_LEVEL, HS_RD_SHARD, HS_RD_LAYER, HS_RD_HEAD},
                      HS_RT_I64, 1, "1",
                      "agency state changes of each head during generation, summed over the prompts of the cell; 0 "
                      "for variants without agency"},
    [HS_RDS_VSCORE] = {"/heads/variant_score", 3, {HS_RD_VARIANT, HS_RD_LAYER, HS_RD_HEAD}, HS_RT_F64, 1, "1",
                       "each variant's head scores (scale set by the strategy attribute of /variant), higher = "
                       "more useful; its levels switch off the lowest first"},
    [HS_RDS_MEANS] = {"/heads/means", 4, {HS_RD_VARIANT, HS_RD_LAYER, HS_RD_HEAD, HS_RD_HEAD_DIM}, HS_RT_F64, 1,
                      "1",
                      "mean ablation: each head's output activation (before c_proj) averaged over the calibration "
                      "set, which a switched-off head contributes instead of zero; NaN for zero-ablation variants "
                      "(attributes: each variant's calibration set, its sha256, prompts and max_tokens)"},
    [HS_RDS_PROMPT_TEXT] = {"/prompts/text", 1, {HS_RD_PROMPT}, HS_RT_STRING, 1, "1",
                            "the prompt's text (UTF-8), as in the prompt file"},
    [HS_RDS_REFERENCE_TEXT] = {"/prompts/reference", 1, {HS_RD_PROMPT}, HS_RT_STRING, 1, "1",
                               "the reference continuation's text (UTF-8) that reference_perplexity scores, \"\" "
                               "when the prompt file has none"},
    [HS_RDS_GEN_TEXT] = {"/prompts/generated", 3, {HS_RD_VARIANT, HS_RD_LEVEL, HS_RD_PROMPT}, HS_RT_STRING, 1, "1",
                         "the generated text: generated_ids decoded, as valid UTF-8 (a byte sequence that is not "
                         "UTF-8, and NUL, become U+FFFD, as Python's decode(errors=\"replace\")); \"\" until done"},
    [HS_RDS_PROMPT_INDEX] = {"/prompts/file_index", 1, {HS_RD_PROMPT}, HS_RT_I32, 1, "1",
                             "the prompt's position among the prompt file's prompts (0-based, blank lines not "
                             "counted): which prompts max_prompts chose; -1 when not recorded"},
    [HS_RDS_PROMPT_LINE] = {"/prompts/line", 1, {HS_RD_PROMPT}, HS_RT_I32, 1, "1",
                            "line of the prompt file (1-based) holding the prompt; -1 when not recorded"},
    [HS_RDS_PROMPT_BOOK] = {"/prompts/book", 1, {HS_RD_PROMPT}, HS_RT_STRING, 1, "1",
                            "the prompt's book, the stratum of the max_prompts sample: its id without up to two "
                            "trailing -<digits> parts"},
    [HS_RDS_COPIES_REQUESTED] = {"/cells/copies_requested", 3, CELL, HS_RT_U8, 1, "1",
                                 "speed copies the cell's work reads that its rank asked for, bits: 1 packed "
                                 "weights (throughput), 2 head-major c_attn (skip), 4 batch-1 panels; 255 not "
                                 "recorded"},
    [HS_RDS_COPIES_USED] = {"/cells/copies_used", 3, CELL, HS_RT_U8, 1, "1",
                            "those of the requested speed copies the rank had (a copy gives way when memory is "
                            "short: its timings are slower), same bits; 255 not recorded"},
};

const hs_results_dataset_def hs_results_metric = {
    NULL, 3, {HS_RD_VARIANT, HS_RD_LEVEL, HS_RD_PROMPT}, HS_RT_F64, 0, NULL, NULL};

const hs_results_dataset_def hs_results_occupancy_unsharded = {
    "/agency/occupancy", 5, {HS_RD_VARIANT, HS_RD_LEVEL, HS_RD_LAYER, HS_RD_HEAD, HS_RD_STATE}, HS_RT_I64, 2,
    NULL, NULL};

const hs_results_dataset_def *const hs_results_older[HS_RDS_COUNT] = {[HS_RDS_OCC] = &hs_results_occupancy_unsharded};

/* The attribute table: every attribute the writer writes and the schema check checks
 * (docs/results-format.md, "Root attributes"). Strings are fixed-length: sized to their
 * value, or to `size` where a run rewrites them in place. */
#define ROOT "/"
#define VAR "/variant"
#define SCORE "/heads/score"
#define MEANS "/heads/means"

const hs_results_attr_def hs_results_attrs[HS_RA_COUNT] = {
    /* written once, when the file is created */
    [HS_RA_SCHEMA_VERSION] = {ROOT, "schema_version", HS_RT_I32, HS_RA_ONE, 0, 1, "1", "results schema version"},
    [HS_RA_CONVENTIONS] = {ROOT, "Conventions", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "CF conventions followed: CF-1.8"},
    [HS_RA_HEADSWEEP_VERSION] = {ROOT, "headsweep_version", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL,
                                 "version of the headsweep that created the file"},
    [HS_RA_GIT_DESCRIBE] = {ROOT, "git_describe", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "git describe of that build"},
    [HS_RA_CREATED_UTC] = {ROOT, "created_utc", HS_RT_STRING, HS_RA_ONE, 0, 0, "ISO 8601", "creation time (UTC)"},
    [HS_RA_JOB_NAME] = {ROOT, "job_name", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "[job] name"},
    [HS_RA_JOB_FILE] = {ROOT, "job_file", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "the job file's path as given"},
    [HS_RA_JOB_FILE_TEXT] = {ROOT, "job_file_text", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL,
                             "the job file's bytes, then one `; --set ...` line per override"},
    [HS_RA_STUDY] = {ROOT, "study", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL,
                     "the study's identity: one `key = value` line per setting that changes a result"},
    [HS_RA_STUDY_SHA256] = {ROOT, "study_sha256", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "SHA-256 of study"},
    [HS_RA_MODEL_DIR] = {ROOT, "model_dir", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "model directory as given"},
    [HS_RA_MODEL_SHA256] = {ROOT, "model_sha256", HS_RT_STRING, HS_RA_ONE, 0, 0,
                            NULL, "SHA-256 of its model.safetensors"},
    [HS_RA_PROMPTS_PATH] = {ROOT, "prompts_path", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "evaluation prompts"},
    [HS_RA_PROMPTS_SHA256] = {ROOT, "prompts_sha256", HS_RT_STRING, HS_RA_ONE, 0, 0,
                              NULL, "SHA-256 of the prompt file"},
    [HS_RA_MAX_PROMPTS] = {ROOT, "max_prompts", HS_RT_I32, HS_RA_ONE, 0, 0, "1", "evaluation prompts used (0 = all)"},
    [HS_RA_CALIBRATION_PATH] = {ROOT, "calibration_path", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL,
                                "calibration prompts, \"\" without"},
    [HS_RA_CALIBRATION_SHA256] = {ROOT, "calibration_sha256", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL,
                                  "SHA-256 of the calibration set (or of the scores file)"},
    [HS_RA_HEADS_SOURCE] = {ROOT, "heads_source", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL,
                            "where the switched-off heads came from: computed, scores_file or heads_off"},
    [HS_RA_SCORES_PATH] = {ROOT, "scores_path", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "the scores file as given, \"\""},
    [HS_RA_SCORES_SHA256] = {ROOT, "scores_sha256", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "its SHA-256, \"\""},
    [HS_RA_HEADS_OFF] = {ROOT, "heads_off", HS_RT_STRING, HS_RA_ONE, 0, 0,
                         NULL, "the explicit head list, canonical, \"\""},
    [HS_RA_STRATEGY] = {ROOT, "strategy", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "pruning strategy"},
    [HS_RA_PRUNING_SEED] = {ROOT, "pruning_seed", HS_RT_U64, HS_RA_ONE, 0, 0, "1", "seed of the random strategy"},
    [HS_RA_PER_LAYER] = {ROOT, "per_layer", HS_RT_U8, HS_RA_ONE, 0, 0, "1", "1: a level switches off heads per layer"},
    [HS_RA_KEEP_ONE] = {ROOT, "keep_one_per_layer", HS_RT_U8, HS_RA_ONE, 0, 0, "1", "1: every layer keeps a head"},
    [HS_RA_SEED] = {ROOT, "seed", HS_RT_U64, HS_RA_ONE, 0, 0, "1", "sampling seed"},
    [HS_RA_MAX_NEW_TOKENS] = {ROOT, "max_new_tokens", HS_RT_I32, HS_RA_ONE, 0, 0, "1", "tokens generated at most"},
    [HS_RA_TEMPERATURE] = {ROOT, "temperature", HS_RT_F32, HS_RA_ONE, 0, 0, "1", "sampling temperature"},
    [HS_RA_TOP_K] = {ROOT, "top_k", HS_RT_I32, HS_RA_ONE, 0, 0, "1", "top-k sampling (0: off)"},
    [HS_RA_TOP_P] = {ROOT, "top_p", HS_RT_F32, HS_RA_ONE, 0, 0, "1", "top-p sampling (1: off)"},
    [HS_RA_N_SHARDS] = {ROOT, "n_shards", HS_RT_I32, HS_RA_ONE, 0, 0, "1", "prompt shards"},
    [HS_RA_MEASURE_UNPRUNED_PPL] = {ROOT, "measure_unpruned_ppl", HS_RT_U8, HS_RA_ONE, 0, 0, "1",
                                    "1: generated_perplexity_unpruned is measured"},
    /* rewritten in place by every run that computes cells: fixed sizes */
    [HS_RA_UPDATED_UTC] = {ROOT, "updated_utc", HS_RT_STRING, HS_RA_ONE, HS_UTC_MAX, 0, "ISO 8601",
                           "last start or end of a run"},
    [HS_RA_RUNS] = {ROOT, "runs", HS_RT_I32, HS_RA_ONE, 0, 0, "1", "sweep invocations that computed cells"},
    [HS_RA_COMPLETE] = {ROOT, "complete", HS_RT_U8, HS_RA_ONE, 0, 0, "1", "1 when every cell is done"},
    [HS_RA_COMMAND_LINE] = {ROOT, "command_line", HS_RT_STRING, HS_RA_ONE, 4096, 0, NULL, "of the last run"},
    [HS_RA_N_RANKS] = {ROOT, "n_ranks", HS_RT_I32, HS_RA_ONE, 0, 0, "1", "MPI ranks of the last run"},
    [HS_RA_HOSTS] = {ROOT, "hosts", HS_RT_STRING, HS_RA_ONE, 2048, 0, NULL, "distinct host names of the last run"},
    [HS_RA_MPI_VERSION] = {ROOT, "mpi_version", HS_RT_STRING, HS_RA_ONE, 256, 0, NULL, "of the last run"},
    [HS_RA_OPENBLAS_VERSION] = {ROOT, "openblas_version", HS_RT_STRING, HS_RA_ONE, 256, 0, NULL, "of the last run"},
    [HS_RA_HDF5_VERSION] = {ROOT, "hdf5_version", HS_RT_STRING, HS_RA_ONE, 64, 0, NULL, "of the last run"},
    [HS_RA_LAST_GIT_DESCRIBE] = {ROOT, "last_git_describe", HS_RT_STRING, HS_RA_ONE, 256, 0, NULL,
                                 "git describe of the build that last computed cells"},
    [HS_RA_MERGED_FROM] = {ROOT, "merged_from", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "headsweep merge's inputs"},
    /* per variant */
    [HS_RA_GATING] = {VAR, "gating", HS_RT_STRING, HS_RD_VARIANT, 0, 1, NULL, "gating mode: mask or skip"},
    [HS_RA_AGENCY] = {VAR, "agency", HS_RT_U8, HS_RD_VARIANT, 0, 1, "1", "1: agency on"},
    [HS_RA_VARIANT_STRATEGY] = {VAR, "strategy", HS_RT_STRING, HS_RD_VARIANT, 0, 0, NULL, "the variant's strategy"},
    [HS_RA_VARIANT_PER_LAYER] = {VAR, "per_layer", HS_RT_U8, HS_RD_VARIANT, 0, 0, "1", "per_layer of the variant"},
    [HS_RA_VARIANT_KEEP_ONE] = {VAR, "keep_one_per_layer", HS_RT_U8, HS_RD_VARIANT, 0, 0, "1", "keep_one_per_layer"},
    /* the first variant's head scores */
    [HS_RA_SCORE_STRATEGY] = {SCORE, "strategy", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "scale of the scores"},
    [HS_RA_SCORE_CALIBRATION] = {SCORE, "calibration_set", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "calibration set"},
    [HS_RA_SCORE_CALIBRATION_SHA256] = {SCORE, "calibration_sha256", HS_RT_STRING, HS_RA_ONE, 0, 0,
                                        NULL, "its SHA-256"},
    [HS_RA_SCORE_N_PROMPTS] = {SCORE, "n_prompts", HS_RT_I32, HS_RA_ONE, 0, 0, "1", "calibration prompts used"},
    [HS_RA_SCORE_SEED] = {SCORE, "seed", HS_RT_U64, HS_RA_ONE, 0, 0, "1", "seed of the random strategy"},
    [HS_RA_SCORE_CONVENTION] = {SCORE, "convention", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "how to read the scores"},
    /* mean ablation, per variant */
    [HS_RA_MEANS_CALIBRATION] = {MEANS, "calibration_set", HS_RT_STRING, HS_RD_VARIANT, 0, 1,
                                 NULL, "calibration set, \"\""},
    [HS_RA_MEANS_CALIBRATION_SHA256] = {MEANS, "calibration_sha256", HS_RT_STRING, HS_RD_VARIANT, 0, 1,
                                        NULL, "its SHA-256"},
    [HS_RA_MEANS_N_PROMPTS] = {MEANS, "n_prompts", HS_RT_I32, HS_RD_VARIANT, 0, 1, "1", "calibration prompts used"},
    [HS_RA_MEANS_MAX_TOKENS] = {MEANS, "max_tokens", HS_RT_I32, HS_RD_VARIANT, 0, 1,
                                "1", "tokens per calibration prompt"},
    /* each_head: per level, the head it switches off alone */
    [HS_RA_SINGLE_HEAD] = {"/level", "single_head", HS_RT_I32, HS_RD_LEVEL, 0, 0, "1",
                           "the head a level switches off alone (layer * n_head + head), -1 for a listed level"},
    /* every dataset (HS_RESULTS_ANY) and every metric; CF's _FillValue, in each dataset's own type, is not here */
    [HS_RA_UNITS] = {HS_RESULTS_ANY, "units", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "CF units (UDUNITS-2)"},
    [HS_RA_LONG_NAME] = {HS_RESULTS_ANY, "long_name", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL, "CF long_name (schema 2)"},
    [HS_RA_ENCODING] = {HS_RESULTS_ANY, "_Encoding", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL,
                        "utf-8 on text, so that xarray returns str"},
    [HS_RA_TIMING] = {HS_RESULTS_METRIC, "timing", HS_RT_U8, HS_RA_ONE, 0, 0, "1", "1: a timing number"},
    [HS_RA_CHUNK_DIGEST] = {HS_RESULTS_ANY, "chunk_index_sha256", HS_RT_STRING, HS_RA_ONE, 0, 0, NULL,
                            "SHA-256 of the chunk addresses and sizes (schema 3; compared by hs_h5_check_chunks)"},
};

const char *hs_results_dim_name(int dim) { return hs_results_scales[dim].path + 1; }

hs_results_class hs_results_type_class(hs_results_type t)
{
    if (t == HS_RT_F64 || t == HS_RT_F32) return HS_RC_FLOAT;
    return t == HS_RT_STRING || t == HS_RT_HOST ? HS_RC_STRING : HS_RC_INTEGER;
}
