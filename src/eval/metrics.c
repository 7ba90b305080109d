/* metrics.c: the per-prompt metrics of a study: names, units and meaning (DESIGN.md,
 * "Metrics"). The results file and the report take their labels from this table. Units are
 * UDUNITS-2 strings as the CF conventions want them (the results file's `units`): a count
 * is "1" and its description says what it counts, a rate of tokens "s-1". */
#include "headsweep/eval.h"

const hs_metric_info hs_metrics[HS_M_COUNT] = {
    [HS_M_PROMPT_TOKENS] = {"prompt_tokens", "1", "tokens in the prompt", 0, 0, HS_METRIC_COUNT_MAX},
    [HS_M_REFERENCE_TOKENS] = {"reference_tokens", "1",
                               "tokens in the reference continuation scored for reference_perplexity", 0, 0,
                               HS_METRIC_COUNT_MAX},
    [HS_M_GENERATED_TOKENS] = {"generated_tokens", "1", "tokens generated (end of text not counted)", 0, 0,
                               HS_METRIC_COUNT_MAX},
    [HS_M_PREFILL_S] = {"prefill_seconds", "s", "wall time of the prompt's forward pass", 1, 0, HS_METRIC_SECONDS_MAX},
    [HS_M_DECODE_S] = {"decode_seconds", "s", "wall time from the first generated token to the end of generation", 1, 0,
                       HS_METRIC_SECONDS_MAX},
    [HS_M_GENERATION_S] = {"generation_seconds", "s", "wall time of the whole generation (prefill + sampling + decode)",
                           1, 0, HS_METRIC_SECONDS_MAX},
    [HS_M_DECODE_TOKENS_PER_S] = {"decode_tokens_per_second", "s-1",
                                  "decode speed in tokens per second: decode steps after the first token "
                                  "divided by decode_seconds",
                                  1, 0, HS_METRIC_RATE_MAX},
    [HS_M_TTFT_S] = {"time_to_first_token", "s", "wall time from the start of the prefill to the first sampled token",
                     1, 0, HS_METRIC_SECONDS_MAX},
    [HS_M_REFERENCE_PPL] = {"reference_perplexity", "1",
                            "exp of the mean NLL of the reference continuation given the prompt, teacher-forced, "
                            "under this variant and level",
                            0, HS_METRIC_PPL_MIN, HS_METRIC_PPL_MAX},
    [HS_M_GENERATED_PPL_UNPRUNED] = {"generated_perplexity_unpruned", "1",
                                     "exp of the mean NLL of the generated tokens given the prompt under the "
                                     "unpruned model",
                                     0, HS_METRIC_PPL_MIN, HS_METRIC_PPL_MAX},
    [HS_M_DISTINCT_1] = {"distinct_1", "1", "unique generated tokens / generated tokens (Li et al. 2016)", 0, 0, 1},
    [HS_M_DISTINCT_2] = {"distinct_2", "1", "unique generated token bigrams / token bigrams (Li et al. 2016)", 0, 0, 1},
    [HS_M_TYPE_TOKEN_RATIO] = {"type_token_ratio", "1",
                               "unique whitespace-separated words / words of the generated text", 0, 0, 1},
    [HS_M_REPETITION] = {"repetition_rate", "1",
                         "share of generated token 4-grams that already occurred earlier in the generation", 0, 0, 1},
    [HS_M_PEAK_RSS] = {"peak_rss_bytes", "bytes",
                       "peak resident set size of the rank while it evaluated this prompt (VmHWM, reset per prompt)", 1,
                       0, HS_METRIC_BYTES_MAX},
    [HS_M_CPU_USER_S] = {"cpu_user_seconds", "s", "user CPU time of the rank for this prompt (all metrics)", 1, 0,
                         HS_METRIC_SECONDS_MAX},
    [HS_M_CPU_SYSTEM_S] = {"cpu_system_seconds", "s", "system CPU time of the rank for this prompt (all metrics)", 1, 0,
                           HS_METRIC_SECONDS_MAX},
    [HS_M_LIVE_HEADS] = {"live_heads", "1", "attention heads not switched off by pruning", 0, 0, HS_METRIC_COUNT_MAX},
    [HS_M_FLOPS_PER_TOKEN] = {"flops_per_token", "1",
                              "analytic floating-point operations (FLOP) of one decode step at the mean generation "
                              "context, counting the heads the gating mode computes, plus agency's per-head c_proj "
                              "product when agency is on",
                              0, 0, HS_METRIC_FLOPS_MAX},
    [HS_M_HIT_EOT] = {"hit_eot", "1", "1 when generation stopped at <|endoftext|>", 0, 0, 1},
    [HS_M_PREFILL_CPU_S] = {"prefill_cpu_seconds", "s",
                            "CPU time (user + system, all threads) of the prompt's forward pass", 1, 0,
                            HS_METRIC_SECONDS_MAX},
    [HS_M_DECODE_CPU_S] =
        {"decode_cpu_seconds", "s",
         "CPU time (user + system, all threads) of the generation after the prefill (sampling and decode "
         "steps)",
         1, 0, HS_METRIC_SECONDS_MAX},
    [HS_M_SCORING_S] =
        {"scoring_seconds", "s",
         "wall time of the quality metrics after the generation (reference perplexity, unpruned perplexity, "
         "type-token ratio); with agency the reference is fed token by token",
         1, 0, HS_METRIC_SECONDS_MAX},
    [HS_M_SCORING_CPU_S] = {"scoring_cpu_seconds", "s", "CPU time (user + system, all threads) of the scoring phase", 1,
                            0, HS_METRIC_SECONDS_MAX},
    [HS_M_PREFILL_RSS_GROWTH] =
        {"prefill_rss_growth_bytes", "bytes",
         "peak resident set size during the prefill minus the resident set size at its start (VmHWM reset per "
         "phase)",
         1, -HS_METRIC_BYTES_MAX, HS_METRIC_BYTES_MAX},
    [HS_M_DECODE_RSS_GROWTH] =
        {"decode_rss_growth_bytes", "bytes",
         "peak resident set size during the decode phase minus the resident set size at its start", 1,
         -HS_METRIC_BYTES_MAX, HS_METRIC_BYTES_MAX},
    [HS_M_SCORING_RSS_GROWTH] =
        {"scoring_rss_growth_bytes", "bytes",
         "peak resident set size during the scoring phase minus the resident set size at its start", 1,
         -HS_METRIC_BYTES_MAX, HS_METRIC_BYTES_MAX},
    [HS_M_RUN_POSITION] =
        {"run_position", "1",
         "0-based position at which this variant's timed generation of the prompt ran among the variants of "
         "its level interleaved with it (first repeat); NaN when the timings were not interleaved",
         1, 0, HS_METRIC_COUNT_MAX},
    [HS_M_RUN_START] =
        {"run_start_seconds", "seconds since 1970-01-01T00:00:00Z",
         "wall-clock time (seconds since the Unix epoch) at which this variant's first timed generation of the"
         " prompt started: the order of all timed runs",
         1, 0, HS_METRIC_EPOCH_MAX},
    [HS_M_TIMING_REPEATS] =
        {"timing_repeats", "1",
         "timed generations of the prompt (job key timing_repeats); the generation timings and the prefill and"
         " decode resources are their medians",
         1, 0, HS_METRIC_COUNT_MAX},
};
