/* test_tokenizer.c: unit tests of the GPT-2 byte-level BPE (src/tokenizer).
 *
 * Most tests use the hand-written fixture in data/ (see data/README.md): the 256 byte
 * tokens with id = byte value, a few merges chosen to pin down rank order, rounds and
 * left-to-right merging, and <|endoftext|> = 276. Malformed-file tests write small files
 * into a temporary directory and check the status and the message (file, line). The
 * merge loop is also checked against a naive transcription of encoder.py's bpe(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bpe_impl.h"
#include "headsweep/tokenizer.h"
#include "test_util.h"

/* Fixture ids (data/vocab.json). */
enum { HE = 256, LL, HELL, HELLO, SP_W, OR, SP_WOR, AA, AAAA, LD, SP_WORLD, APOS_S, NL_NL,
       SP_SP, E_ACUTE, BC, AB, ABC, XY, XYX, EOT };

static hs_tokenizer *fixture;
static char *tmpdir;

static int setup(void **state)
{
    const char *data = getenv("HS_TOK_DATA");
    if (!data) {
        fprintf(stderr, "HS_TOK_DATA (tests/tokenizer/data) is not set\n");
        return -1;
    }
    if (hs_tokenizer_load(&fixture, data)) {
        fprintf(stderr, "fixture: %s\n", hs_err_msg());
        return -1;
    }
    tmpdir = tu_mkdtemp("tok");
    return tmpdir ? 0 : -1;
}

static int teardown(void **state)
{
    hs_tokenizer_free(fixture);
    tu_rmtree(tmpdir);
    free(tmpdir);
    return 0;
}

/* Encodes s and compares with the expected ids (terminated by -1). */
static void expect_ids(const char *s, size_t len, int special, ...)
{
    int32_t want[64];
    size_t n_want = 0;
    va_list ap;
    va_start(ap, special);
    for (int id; (id = va_arg(ap, int)) >= 0;) want[n_want++] = id;
    va_end(ap);
    int32_t *ids;
    size_t n;
    assert_int_equal(hs_tokenizer_encode(fixture, s, len, special, &ids, &n), HS_OK);
    if (n != n_want || memcmp(ids, want, n * sizeof *ids)) {
        fprintf(stderr, "encode(\"%.*s\"): got", (int)len, s);
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
        fail_msg("ids differ");
    }
    free(ids);
}
#define EXPECT(s, special, ...) expect_ids(s, sizeof(s) - 1, special, __VA_ARGS__, -1)

static void test_bytes_to_unicode(void **state)
{
    /* Values from encoder.py: printable bytes stand for themselves, the others follow
     * U+0100 in increasing order (space is U+0120 "Ġ", newline U+010A "Ċ"). */
    assert_int_equal(hs_bytelevel_char('A'), 'A');
    assert_int_equal(hs_bytelevel_char('!'), '!');
    assert_int_equal(hs_bytelevel_char(0xE9), 0xE9);
    assert_int_equal(hs_bytelevel_char(0x00), 0x100);
    assert_int_equal(hs_bytelevel_char(' '), 0x120);
    assert_int_equal(hs_bytelevel_char('\n'), 0x10A);
    assert_int_equal(hs_bytelevel_char(0x7F), 0x121);
    assert_int_equal(hs_bytelevel_char(0xA0), 0x142);
    assert_int_equal(hs_bytelevel_char(0xAD), 0x143);
    int seen[324] = {0};
    for (int b = 0; b < 256; b++) {
        uint32_t c = hs_bytelevel_char((uint8_t)b);
        assert_true(c < 324);
        assert_int_equal(seen[c]++, 0); /* one-to-one */
        /* and the fixture's token of byte b has exactly that byte */
        size_t len;
        const char *t = hs_tokenizer_token_bytes(fixture, b, &len);
        assert_non_null(t);
        assert_int_equal(len, 1);
        assert_int_equal((unsigned char)t[0], b);
    }
    char out[4];
    uint32_t bad;
    assert_int_equal(hs_bytelevel_decode("\xc4\xa0", 2, out, &bad), 1); /* "Ġ" */
    assert_int_equal(out[0], ' ');
    assert_int_equal(hs_bytelevel_decode(" ", 1, out, &bad), -1); /* raw space: no byte */
    assert_int_equal(bad, 0x20);
    assert_int_equal(hs_bytelevel_decode("\xff", 1, out, &bad), -1);
    assert_int_equal(bad, UINT32_MAX);
}

static void test_merges_order(void **state)
{
    EXPECT("hello", 1, HELLO);
    EXPECT("hello world's", 1, HELLO, SP_WORLD, APOS_S);
    EXPECT("abc", 1, 'a', BC);        /* "b c" ranks before "a b": not [ab, c] or [abc] */
    EXPECT("ab", 1, AB);
    EXPECT("aaa", 1, AA, 'a');        /* left to right, no overlap */
    EXPECT("aaaaa", 1, AAAA, 'a');    /* round of "a a", then "aa aa" */
    EXPECT("aaaaaaa", 1, AAAA, AA, 'a');
    EXPECT("xyxy", 1, XY, XY);        /* all "x y" first, although "xy x" ranks lower */
    EXPECT("xyx", 1, XYX);
    EXPECT("caf\xc3\xa9", 1, 'c', 'a', 'f', E_ACUTE);
    expect_ids("", 0, 1, -1);
}

static void test_pretokenizer(void **state)
{
    EXPECT("a  b", 1, 'a', ' ', ' ', 'b');          /* "\s+(?!\S)" leaves one space */
    EXPECT("a   ", 1, 'a', SP_SP, ' ');             /* trailing run kept whole */
    EXPECT("\n\n", 1, NL_NL);
    EXPECT("\n\nhe", 1, '\n', '\n', HE);               /* the run ends before " ?\p{L}" */
    EXPECT("he's", 1, HE, APOS_S);
    EXPECT("HE'S", 1, 'H', 'E', '\'', 'S');         /* contractions are lower case only */
    EXPECT("ab12!!", 1, AB, '1', '2', '!', '!');
    EXPECT(" world", 1, SP_WORLD);
}

static void test_special_token(void **state)
{
    assert_int_equal(hs_tokenizer_eot(fixture), EOT);
    assert_int_equal(hs_tokenizer_vocab_size(fixture), EOT + 1);
    EXPECT("<|endoftext|>", 1, EOT);
    EXPECT("he<|endoftext|>he", 1, HE, EOT, HE);
    EXPECT("<|endoftext|><|endoftext|>", 1, EOT, EOT);
    EXPECT("<|endoftext|>", 0, '<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|', '>');
    EXPECT("<|endoftext|", 1, '<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|');
}

static void test_invalid_utf8(void **state)
{
    /* Each byte outside a valid UTF-8 sequence is a pre-token of its own. */
    EXPECT("he\xffllo", 1, HE, 0xFF, LL, 'o');
    EXPECT("\xc3", 1, 0xC3);                         /* truncated sequence */
    EXPECT("\xc3\xc3\xa9", 1, 0xC3, E_ACUTE);
    EXPECT("\xc0\xaf", 1, 0xC0, 0xAF);               /* overlong */
    EXPECT("\xed\xa0\x80", 1, 0xED, 0xA0, 0x80);     /* surrogate */
    EXPECT("\xf4\x90\x80\x80", 1, 0xF4, 0x90, 0x80, 0x80); /* above U+10FFFF */
    EXPECT("a\0b", 1, 'a', 0, 'b');
    assert_int_equal(hs_utf8_valid_prefix("ab\xc3\xa9\xff", 5), 4);
    assert_int_equal(hs_utf8_valid_prefix("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(hs_utf8_valid_prefix("\xf0\x9f\x98", 3), 0);
}

static uint64_t rng_state = 42;
static uint32_t rng(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static void round_trip(const char *s, size_t len, int special)
{
    int32_t *ids;
    size_t n, out_len;
    char *out;
    assert_int_equal(hs_tokenizer_encode(fixture, s, len, special, &ids, &n), HS_OK);
    assert_int_equal(hs_tokenizer_decode(fixture, ids, n, &out, &out_len), HS_OK);
    assert_int_equal(out_len, len);
    assert_memory_equal(out, s, len);
    assert_int_equal(out[len], '\0');
    free(ids);
    free(out);
}

static void test_round_trip_bytes(void **state)
{
    static const char alphabet[] = "helo wrd'sabcxy\n\t<|endoftext|>\xc3\xa9\xff\x80\xe6\x97\xa5";
    char buf[3000];
    for (int it = 0; it < 600; it++) {
        size_t len = rng() % sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = it % 2 ? (char)rng() : alphabet[rng() % (sizeof alphabet - 1)];
        round_trip(buf, len, it % 3 != 0);
    }
    char all[256];
    for (int b = 0; b < 256; b++) all[b] = (char)b;
    round_trip(all, sizeof all, 1);
    round_trip("", 0, 1);
}

/* encoder.py's bpe() transcribed on ids: lowest-ranked pair, merged everywhere left to
 * right, repeated. Quadratic, only for checking the heap version. */
static size_t naive_bpe(const unsigned char *s, size_t n, int32_t *w)
{
    for (size_t i = 0; i < n; i++) w[i] = fixture->byte_id[s[i]];
    for (;;) {
        const hs_merge *best = NULL;
        for (size_t i = 0; i + 1 < n; i++) {
            const hs_merge *m = hs_mergemap_find(&fixture->merges, w[i], w[i + 1]);
            if (m && (!best || m->rank < best->rank)) best = m;
        }
        if (!best) return n;
        int32_t l = (int32_t)(best->key >> 32), r = (int32_t)(uint32_t)best->key;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && w[i] == l && w[i + 1] == r) {
                w[k++] = best->result;
                i++;
            } else
                w[k++] = w[i];
        }
        n = k;
    }
}

static void test_heap_matches_naive(void **state)
{
    static const char letters[] = "abcxyhelo"; /* one pre-token: letters only */
    unsigned char word[200];
    int32_t want[200];
    for (int it = 0; it < 3000; it++) {
        size_t len = 1 + rng() % (it < 2500 ? 12 : sizeof word);
        for (size_t i = 0; i < len; i++) word[i] = (unsigned char)letters[rng() % 9];
        size_t n_want = naive_bpe(word, len, want);
        int32_t *ids;
        size_t n;
        assert_int_equal(hs_tokenizer_encode(fixture, (char *)word, len, 1, &ids, &n), HS_OK);
        if (n != n_want || memcmp(ids, want, n * sizeof *ids))
            fail_msg("heap and naive BPE differ on \"%.*s\"", (int)len, (char *)word);
        free(ids);
    }
}

static void test_long_inputs(void **state)
{
    size_t len = 1 << 20; /* a 1 MiB single pre-token must not be quadratic */
    char *s = malloc(len);
    assert_non_null(s);
    memset(s, 'a', len);
    int32_t *ids;
    size_t n;
    assert_int_equal(hs_tokenizer_encode(fixture, s, len, 1, &ids, &n), HS_OK);
    assert_int_equal(n, len / 4);
    assert_int_equal(ids[0], AAAA);
    free(ids);
    for (size_t i = 0; i < len; i++) s[i] = "abcxyhelo \n\t"[rng() % 12];
    round_trip(s, len, 1);
    memset(s, ' ', len); /* one whitespace run */
    round_trip(s, len, 1);
    free(s);
}

static void test_decode_errors(void **state)
{
    int32_t bad1[] = {HE, -1}, bad2[] = {EOT + 1};
    char *out = (char *)1;
    size_t len;
    assert_int_equal(hs_tokenizer_decode(fixture, bad1, 2, &out, &len), HS_EINPUT);
    assert_null(out);
    assert_non_null(strstr(hs_err_msg(), "token id -1 (position 1) is not in the vocabulary"));
    assert_int_equal(hs_tokenizer_decode(fixture, bad2, 1, &out, &len), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "277"));
    assert_null(hs_tokenizer_token_bytes(fixture, EOT + 1, &len));
    assert_int_equal(hs_tokenizer_decode(fixture, NULL, 0, &out, &len), HS_OK);
    assert_int_equal(len, 0);
    free(out);
}

/* ---- text for files (text.c) ------------------------------------------------------ */

#define R "\xEF\xBF\xBD" /* U+FFFD */

static void expect_text(const char *in, size_t n, const char *want)
{
    char out[256];
    assert_int_equal(hs_utf8_replace_invalid(in, n, out, sizeof out), strlen(want));
    assert_string_equal(out, want);
}

/* The examples of Unicode 15, section 3.9 (Tables 3-8 to 3-11, "U+FFFD Substitution of
 * Maximal Subparts"), which Python's bytes.decode("utf-8", "replace") follows too. */
static void test_replace_invalid(void **state)
{
    (void)state;
    expect_text("a\xF1\x80\x80\xE1\x80\xC2" "b\x80" "c\x80\xBF" "d", 13, "a" R R R "b" R "c" R R "d");
    expect_text("\xC0\xAF\xE0\x80\xBF\xF0\x81\x82" "A", 9, R R R R R R R R "A");          /* non-shortest */
    expect_text("\xED\xA0\x80\xED\xBF\xBF\xED\xAF" "A", 9, R R R R R R R R "A");          /* surrogates */
    expect_text("\xF4\x91\x92\x93\xFF" "A\x80\xBF" "B", 9, R R R R R "A" R R "B");        /* other */
    expect_text("\xE1\x80\xE2\xF0\x91\x92\xF1\xBF" "A", 9, R R R R "A");                  /* truncated */
    expect_text("x\0y\xE2\x82", 5, "x" R "y" R);   /* NUL, and a sequence cut at the end */
    expect_text("\xC3\xA9\xE2\x82\xAC\n\t", 7, "\xC3\xA9\xE2\x82\xAC\n\t"); /* valid text and controls unchanged */
    char small[4];
    assert_int_equal(hs_utf8_replace_invalid("ab\xFF", 3, small, sizeof small), 5);
    assert_string_equal(small, "ab"); /* cut before a piece that does not fit whole */
}

/* Decoded text on the fixture: a text within the bound, the bound of its vocabulary (the
 * longest token is <|endoftext|>, 13 ASCII bytes; a byte token that is no UTF-8 alone adds
 * up to 3), and a buffer too short. */
static void test_decode_text(void **state)
{
    (void)state;
    int32_t ids[] = {HELLO, SP_WORLD, 0xC3, E_ACUTE, 0xE2, 0x82, 0, '!'};
    char out[64];
    assert_int_equal(hs_tokenizer_decode_text(fixture, ids, 8, out, sizeof out), HS_OK);
    assert_string_equal(out, "hello world" R "\xC3\xA9" R R "!");
    assert_int_equal(hs_tokenizer_text_bound(fixture), 13);
    assert_int_equal(hs_tokenizer_decode_text(fixture, ids, 8, out, 20), HS_EINTERNAL);
    int32_t bad[] = {EOT + 1};
    assert_int_equal(hs_tokenizer_decode_text(fixture, bad, 1, out, sizeof out), HS_EINPUT);
}

/* ---- malformed files ------------------------------------------------------------ */

/* JSON text of the 256 byte tokens with id = byte, followed by extra ("..." entries). */
static char *byte_vocab(const char *extra, int skip_byte)
{
    size_t cap = 8192 + strlen(extra), k = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    s[k++] = '{';
    for (int b = 0; b < 256; b++) {
        if (b == skip_byte) continue;
        uint32_t c = hs_bytelevel_char((uint8_t)b);
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : NULL;
        char u[8];
        if (c < 0x80)
            snprintf(u, sizeof u, "%c", (char)c);
        else
            snprintf(u, sizeof u, "%c%c", (char)(0xC0 | (c >> 6)), (char)(0x80 | (c & 0x3F)));
        k += (size_t)snprintf(s + k, cap - k, "%s\"%s\": %d", k > 1 ? ", " : "", esc ? esc : u, b);
    }
    k += (size_t)snprintf(s + k, cap - k, "%s%s}", *extra ? ", " : "", extra);
    return s;
}

/* Loads vocab text + merges text; returns the status, message in hs_err_msg(). */
static hs_status load_texts(const char *vocab, const char *merges)
{
    char *vp = tu_join(tmpdir, "vocab.json"), *mp = tu_join(tmpdir, "merges.txt");
    remove(vp);
    remove(mp);
    if (vocab) assert_int_equal(tu_write(vp, vocab, strlen(vocab)), 0);
    if (merges) assert_int_equal(tu_write(mp, merges, strlen(merges)), 0);
    hs_tokenizer *tok = (hs_tokenizer *)1;
    hs_err_clear();
    hs_status st = hs_tokenizer_load(&tok, tmpdir);
    if (st) assert_null(tok);
    hs_tokenizer_free(tok);
    free(vp);
    free(mp);
    return st;
}

static void expect_load_error(const char *vocab, const char *merges, const char *file,
                              const char *what)
{
    assert_int_equal(load_texts(vocab, merges), HS_EINPUT);
    const char *msg = hs_err_msg();
    if (!strstr(msg, file) || !strstr(msg, what))
        fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", msg, file, what);
}

static void test_bad_vocab(void **state)
{
    const char *m = "#version: 0.2\n";
    char *ok = byte_vocab("\"ab\": 256", -1);
    assert_int_equal(load_texts(ok, "#version: 0.2\na b\n"), HS_OK);
    expect_load_error(NULL, m, "vocab.json", "cannot open");
    expect_load_error("{\"a\": 1", m, "vocab.json", "not valid JSON");
    expect_load_error("[1, 2]", m, "vocab.json", "expected a non-empty JSON object");
    expect_load_error("{}", m, "vocab.json", "expected a non-empty JSON object");
    expect_load_error("{\"a\": 1.5}", m, "vocab.json", "token \"a\": id must be an integer");
    expect_load_error("{\"a\": \"1\"}", m, "vocab.json", "token \"a\": id must be an integer");
    expect_load_error("{\"a\": -1}", m, "vocab.json", "token \"a\": negative id -1");
    expect_load_error("{\"a\": 99999999999}", m, "vocab.json", "above the limit");
    expect_load_error("{\"a\": 1, \"a\": 2}", m, "vocab.json", "duplicate object key");
    char *v = byte_vocab("\"ab\": 5", -1);
    expect_load_error(v, m, "vocab.json", "id 5 is given to two tokens");
    free(v);
    v = byte_vocab("\"a b\": 300", -1);
    expect_load_error(v, m, "vocab.json", "U+0020 stands for no byte");
    free(v);
    v = byte_vocab("\"\": 300", -1);
    expect_load_error(v, m, "vocab.json", "empty token");
    free(v);
    v = byte_vocab("", 'q');
    expect_load_error(v, m, "vocab.json", "no token for byte 0x71");
    free(v);
    /* ids with no token: the model would sample them and fail to decode mid-run */
    v = byte_vocab("\"ab\": 256, \"abc\": 300", -1);
    expect_load_error(v, m, "vocab.json", "no token has id 257, though ids run up to 300 (43 of the ids 0..300");
    free(v);
    free(ok);
}

static void test_bad_merges(void **state)
{
    char *v = byte_vocab("\"ab\": 256, \"abc\": 257", -1);
    expect_load_error(v, NULL, "merges.txt", "cannot open");
    expect_load_error(v, "#version: 0.2\na b\nab\n", "merges.txt:3", "found 1");
    expect_load_error(v, "#version: 0.2\na b c\n", "merges.txt:2", "found 3");
    expect_load_error(v, "a b\nzz c\n", "merges.txt:2", "token \"zz\" is not in the vocabulary");
    expect_load_error(v, "a b\nab d\n", "merges.txt:2", "merged token \"abd\" is not in the vocabulary");
    expect_load_error(v, "a b\na\xc5\x84 c\n", "merges.txt:2", "U+0144 stands for no byte");
    expect_load_error(v, "a b\nx \xff\n", "merges.txt:2", "\"\\xff\" is not byte-level text: invalid UTF-8");
    expect_load_error(v, "a b\nab c\na b\n", "merges.txt:3", "merge repeats line 1");
    assert_int_equal(load_texts(v, "a b\r\nab c\r\n"), HS_OK);   /* no header, CRLF */
    assert_int_equal(load_texts(v, ""), HS_OK);                   /* no merges at all */
    assert_int_equal(load_texts(v, "#version: 0.2\n\na b\n\n"), HS_OK); /* empty lines */
    free(v);
}

/* Random damage to the fixture files: loading must give HS_OK or HS_EINPUT, never crash,
 * and whatever loads must still round-trip any bytes. */
static void mutate(char *s, size_t *len, const char *alphabet)
{
    if (*len == 0) return;
    size_t p = rng() % *len;
    switch (rng() % 3) {
    case 0: s[p] = (char)rng(); break;
    case 1: *len = p; break;
    default: s[p] = alphabet[rng() % strlen(alphabet)];
    }
}

/* Loads the tokenizer in dir again and round-trips 300 random bytes through it. */
static void round_trip_with(const char *dir)
{
    hs_tokenizer *tok;
    char buf[300], *out;
    int32_t *ids;
    size_t n, out_len;
    assert_int_equal(hs_tokenizer_load(&tok, dir), HS_OK);
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)rng();
    assert_int_equal(hs_tokenizer_encode(tok, buf, sizeof buf, 1, &ids, &n), HS_OK);
    assert_int_equal(hs_tokenizer_decode(tok, ids, n, &out, &out_len), HS_OK);
    assert_int_equal(out_len, sizeof buf);
    assert_memory_equal(out, buf, sizeof buf);
    free(ids), free(out);
    hs_tokenizer_free(tok);
}

static void test_mutated_files(void **state)
{
    const char *dir = getenv("HS_TOK_DATA");
    char *vp = tu_join(dir, "vocab.json"), *mp = tu_join(dir, "merges.txt");
    char *vocab, *merges, *v = NULL, *m = NULL;
    size_t nv, nm;
    assert_int_equal(hs_read_file(vp, &vocab, &nv), HS_OK);
    assert_int_equal(hs_read_file(mp, &merges, &nm), HS_OK);
    int loaded = 0;
    for (int it = 0; it < 400; it++) {
        size_t lv = nv, lm = nm;
        v = realloc(v, nv + 1), m = realloc(m, nm + 1);
        assert_true(v && m);
        memcpy(v, vocab, nv + 1), memcpy(m, merges, nm + 1);
        for (int j = 0, k = 1 + (int)(rng() % 4); j < k; j++) {
            if (it % 3 != 1) mutate(v, &lv, "{}[]\":,0123456789-.e \\u");
            if (it % 3 != 0) mutate(m, &lm, " \n\r\tab#\xc4\xa0");
        }
        v[lv] = m[lm] = '\0';
        hs_status st = load_texts(v, m);
        if (st != HS_OK && st != HS_EINPUT) fail_msg("status %d: %s", st, hs_err_msg());
        if (st == HS_OK) round_trip_with(tmpdir);
        loaded += st == HS_OK;
    }
    print_message("%d of 400 damaged tokenizers still loaded\n", loaded);
    free(v), free(m), free(vocab), free(merges), free(vp), free(mp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_to_unicode),
        cmocka_unit_test(test_merges_order),
        cmocka_unit_test(test_pretokenizer),
        cmocka_unit_test(test_special_token),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_round_trip_bytes),
        cmocka_unit_test(test_heap_matches_naive),
        cmocka_unit_test(test_long_inputs),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_replace_invalid),
        cmocka_unit_test(test_decode_text),
        cmocka_unit_test(test_bad_vocab),
        cmocka_unit_test(test_bad_merges),
        cmocka_unit_test(test_mutated_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
