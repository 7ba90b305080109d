/* fuzz_tokenizer_files.c: hs_tokenizer_load_files with a fuzzed vocab.json, a fuzzed
 * merges.txt, or both. The first byte picks the case (mod 3):
 *   0  the rest is vocab.json; merges.txt is the test fixture's (tests/tokenizer/data)
 *   1  vocab.json is the fixture's; the rest is merges.txt
 *   2  the rest is split at its first NUL byte: vocab.json before, merges.txt after
 * A refused pair is HS_EINPUT naming vocab.json or merges.txt. An accepted pair is a
 * working tokenizer: the input itself (and a fixed text) must encode and decode back to
 * the same bytes, in both special-token modes, with every id inside the vocabulary. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "headsweep/tokenizer.h"

static char *g_vocab, *g_merges, *g_fixed_vocab, *g_fixed_merges;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = fz_dir();
    g_vocab = fz_path(dir, "vocab.json");
    g_merges = fz_path(dir, "merges.txt");
    g_fixed_vocab = fz_path(dir, "fixture-vocab.json");
    g_fixed_merges = fz_path(dir, "fixture-merges.txt");
    size_t n;
    char *v = fz_read_fixture("tests/tokenizer/data/vocab.json", &n);
    FZ_CHECK(v, "tests/tokenizer/data/vocab.json not found under %s (set HS_SOURCE_DIR)", fz_source_dir());
    fz_write(g_fixed_vocab, v, n);
    free(v);
    char *m = fz_read_fixture("tests/tokenizer/data/merges.txt", &n);
    FZ_CHECK(m, "tests/tokenizer/data/merges.txt not found");
    fz_write(g_fixed_merges, m, n);
    free(m);
    return 0;
}

static void round_trip(const hs_tokenizer *tok, const char *text, size_t len, int special)
{
    int32_t *ids = NULL;
    size_t n_ids = 0;
    char *back = NULL;
    size_t back_len = 0;
    FZ_CHECK(hs_tokenizer_encode(tok, text, len, special, &ids, &n_ids) == HS_OK, "encode: %s", hs_err_msg());
    int V = hs_tokenizer_vocab_size(tok);
    for (size_t i = 0; i < n_ids; i++) FZ_CHECK(ids[i] >= 0 && ids[i] < V, "id %d outside the vocabulary", ids[i]);
    FZ_CHECK(hs_tokenizer_decode(tok, ids, n_ids, &back, &back_len) == HS_OK, "decode: %s", hs_err_msg());
    FZ_CHECK(back_len == len && !memcmp(back, text, len), "round trip changed %zu bytes into %zu (special %d)", len,
             back_len, special);
    free(ids);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int mode = data[0] % 3;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    const char *vocab = g_fixed_vocab, *merges = g_fixed_merges;
    if (mode == 0) {
        fz_write(g_vocab, rest, n);
        vocab = g_vocab;
    } else if (mode == 1) {
        fz_write(g_merges, rest, n);
        merges = g_merges;
    } else {
        const char *nul = memchr(rest, '\0', n);
        size_t k = nul ? (size_t)(nul - rest) : n;
        fz_write(g_vocab, rest, k);
        fz_write(g_merges, nul ? nul + 1 : "", nul ? n - k - 1 : 0);
        vocab = g_vocab;
        merges = g_merges;
    }
    hs_tokenizer *tok = NULL;
    hs_err_clear();
    hs_status st = hs_tokenizer_load_files(&tok, vocab, merges);
    if (st) {
        FZ_CHECK(!tok, "a failed load left a tokenizer behind");
        fz_expect_input_error(st, "vocab.json", "merges.txt");
        return 0;
    }
    fz_trace(HS_OK);
    static const char sample[] = "hello world, it's 2024!\n\tabcabc xyxy \xc3\xa9t\xc3\xa9 <|endoftext|>\xff\xfe";
    for (int special = 0; special < 2; special++) {
        round_trip(tok, sample, sizeof sample - 1, special);
        round_trip(tok, rest, n, special);
    }
    hs_tokenizer_free(tok);
    return 0;
}
