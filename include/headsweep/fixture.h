/* fixture.h: model directories made up for tests, benchmarks and the demo, where no real
 * checkpoint can be downloaded (src/fixture; `headsweep mkmodel`). Kept out of the model
 * library: writing the synthetic vocabulary needs the tokenizer, reading a model does not. */
#ifndef HEADSWEEP_FIXTURE_H
#define HEADSWEEP_FIXTURE_H

#include <stdint.h>

#include "headsweep/util.h"

/* Writes a randomly initialised checkpoint (normal(0, 0.02) as GPT-2 initialises) with a
 * synthetic byte-level BPE vocabulary of the shape's size into DIR. shape: tiny,
 * distilgpt2, gpt2, gpt2-medium, gpt2-large, gpt2-xl. dtype: F32, F16, BF16. */
hs_status hs_model_make_random(const char *dir, const char *shape, uint64_t seed, const char *dtype);

#endif
