/* schema.c: the schema table (include/headsweep/results.h): every dimension scale and
 * dataset of a results file, its shape, type, units and description. The writer creates
 * from it, the schema check checks against it and the readers read through it;
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
                         "time the cell finished (UTC; schema 1: an ISO 8601 string)"},
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
};

const hs_results_dataset_def hs_results_metric = {
    NULL, 3, {HS_RD_VARIANT, HS_RD_LEVEL, HS_RD_PROMPT}, HS_RT_F64, 0, NULL, NULL};

const hs_results_dataset_def hs_results_occupancy_unsharded = {
    "/agency/occupancy", 5, {HS_RD_VARIANT, HS_RD_LEVEL, HS_RD_LAYER, HS_RD_HEAD, HS_RD_STATE}, HS_RT_I64, 2,
    NULL, NULL};

const char *hs_results_dim_name(int dim) { return hs_results_scales[dim].path + 1; }

hs_results_class hs_results_type_class(hs_results_type t)
{
    return t == HS_RT_F64 ? HS_RC_FLOAT : t == HS_RT_STRING || t == HS_RT_HOST || t == HS_RT_UTC ? HS_RC_STRING
                                                                                                : HS_RC_INTEGER;
}
