/* metrics.c: the per-prompt metrics of a study: names, units and meaning (DESIGN.md,
 * "Metrics"). The results file and the report take their labels from this table. */
#include "headsweep/eval.h"

const hs_metric_info hs_metrics[HS_M_COUNT] = {
    [HS_M_PROMPT_TOKENS] = {"prompt_tokens", "tokens", "tokens in the prompt", 0},
    [HS_M_REFERENCE_TOKENS] = {"reference_tokens", "tokens",
                               "tokens in the reference continuation scored for reference_perplexity", 0},
    [HS_M_GENERATED_TOKENS] = {"generated_tokens", "tokens", "tokens generated (end of text not counted)", 0},
    [HS_M_PREFILL_S] = {"prefill_seconds", "s", "wall time of the prompt's forward pass", 1},
    [HS_M_DECODE_S] = {"decode_seconds", "s", "wall time from the first generated token to the end of generation", 1},
    [HS_M_GENERATION_S] = {"generation_seconds", "s",
                           "wall time of the whole generation (prefill + sampling + decode)", 1},
    [HS_M_DECODE_TOKENS_PER_S] = {"decode_tokens_per_second", "tokens/s",
                                  "decode steps after the first token divided by decode_seconds", 1},
    [HS_M_TTFT_S] = {"time_to_first_token", "s",
                     "wall time from the start of the prefill to the first sampled token", 1},
    [HS_M_REFERENCE_PPL] = {"reference_perplexity", "1",
                            "exp of the mean NLL of the reference continuation given the prompt, teacher-forced, "
                            "under this variant and level", 0},
    [HS_M_GENERATED_PPL_UNPRUNED] = {"generated_perplexity_unpruned", "1",
                                     "exp of the mean NLL of the generated tokens given the prompt under the "
                                     "unpruned model", 0},
    [HS_M_DISTINCT_1] = {"distinct_1", "1", "unique generated tokens / generated tokens (Li et al. 2016)", 0},
    [HS_M_DISTINCT_2] = {"distinct_2", "1", "unique generated token bigrams / token bigrams (Li et al. 2016)", 0},
    [HS_M_TYPE_TOKEN_RATIO] = {"type_token_ratio", "1",
                               "unique whitespace-separated words / words of the generated text", 0},
    [HS_M_REPETITION] = {"repetition_rate", "1",
                         "share of generated token 4-grams that already occurred earlier in the generation", 0},
    [HS_M_PEAK_RSS] = {"peak_rss_bytes", "bytes",
                       "peak resident set size of the rank while it evaluated this prompt (VmHWM, reset per prompt)",
                       1},
    [HS_M_CPU_USER_S] = {"cpu_user_seconds", "s", "user CPU time of the rank for this prompt (all metrics)", 1},
    [HS_M_CPU_SYSTEM_S] = {"cpu_system_seconds", "s", "system CPU time of the rank for this prompt (all metrics)", 1},
    [HS_M_LIVE_HEADS] = {"live_heads", "heads", "heads not switched off by pruning", 0},
    [HS_M_FLOPS_PER_TOKEN] = {"flops_per_token", "FLOP",
                              "analytic FLOPs of one decode step at the mean generation context, counting the heads "
                              "the gating mode computes, plus agency's per-head c_proj product when agency is on", 0},
    [HS_M_HIT_EOT] = {"hit_eot", "1", "1 when generation stopped at <|endoftext|>", 0},
};
