/* fuzz_tokenizer_roundtrip.c: the tokenizer on arbitrary bytes with a real vocabulary
 * (models/kjv-gpt2 when its vocab.json and merges.txt are there, else the synthetic one
 * that `headsweep mkmodel --shape tiny` writes). Encoding then decoding must give the
 * bytes back exactly, in both special-token modes, with every id in the vocabulary.
 * Inputs under 4 KiB are also encoded repeated up to 4 KiB, so the per-call pre-token
 * cache (on from 4 KiB of text) is exercised as well. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "headsweep/fixture.h"
#include "headsweep/model.h"
#include "headsweep/tokenizer.h"

#define CACHE_TEXT 4096 /* CACHE_MIN_TEXT in src/tokenizer/bpe_cache.c */

static hs_tokenizer *g_tok;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *dir = fz_path(fz_source_dir(), "models/kjv-gpt2");
    char *vocab = fz_path(dir, "vocab.json"), *merges = fz_path(dir, "merges.txt");
    if (access(vocab, R_OK) != 0 || access(merges, R_OK) != 0) {
        free(dir);
        dir = fz_path(fz_dir(), "tiny");
        FZ_CHECK(hs_model_make_random(dir, "tiny", 1, "F32") == HS_OK, "mkmodel: %s", hs_err_msg());
    }
    FZ_CHECK(hs_tokenizer_load(&g_tok, dir) == HS_OK, "%s", hs_err_msg());
    fprintf(stderr, "fuzz_tokenizer_roundtrip: vocabulary %s (%d tokens)\n", dir, hs_tokenizer_vocab_size(g_tok));
    free(vocab);
    free(merges);
    free(dir);
    return 0;
}

static void round_trip(const char *text, size_t len, int special)
{
    int32_t *ids = NULL;
    size_t n_ids = 0;
    char *back = NULL;
    size_t back_len = 0;
    FZ_CHECK(hs_tokenizer_encode(g_tok, text, len, special, &ids, &n_ids) == HS_OK, "encode: %s", hs_err_msg());
    int V = hs_tokenizer_vocab_size(g_tok);
    for (size_t i = 0; i < n_ids; i++) FZ_CHECK(ids[i] >= 0 && ids[i] < V, "id %d outside the vocabulary", ids[i]);
    FZ_CHECK(n_ids <= len, "%zu ids for %zu bytes", n_ids, len);
    FZ_CHECK(hs_tokenizer_decode(g_tok, ids, n_ids, &back, &back_len) == HS_OK, "decode: %s", hs_err_msg());
    if (back_len != len || memcmp(back, text, len)) {
        size_t i = 0;
        while (i < len && i < back_len && back[i] == text[i]) i++;
        FZ_FAIL("round trip (special %d): %zu bytes came back as %zu, first difference at byte %zu", special, len,
                back_len, i);
    }
    free(ids);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    round_trip(text, size, 0);
    round_trip(text, size, 1);
    if (size > 0 && size < CACHE_TEXT) {
        size_t reps = CACHE_TEXT / size + 1, n = reps * size;
        char *big = malloc(n);
        FZ_CHECK(big, "out of memory");
        for (size_t i = 0; i < reps; i++) memcpy(big + i * size, data, size);
        round_trip(big, n, data[0] & 1);
        free(big);
    }
    return 0;
}
