/* test_model.c: checkpoint loading (every malformed-input case), conversions, and the
 * forward pass invariants: mask == skip, prefill == step-by-step decode, prefixed names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "headsweep/fixture.h"
#include "headsweep/model.h"
#include "headsweep/safetensors.h"
#include "kernels.h"
#include "test_util.h"

static char *g_dir; /* a valid tiny model, made once */

static int setup(void **state)
{
    g_dir = tu_mkdtemp("model");
    if (!g_dir) return -1;
    return hs_model_make_random(g_dir, "tiny", 7, "f32") == HS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

/* FIPS 180-4 test vectors through both routines, then libcrypto against the portable
 * routine on every length around the block and padding edges and on a few MB. */
static void test_sha256(void **state)
{
    void (*const fn[2])(const void *, size_t, char *) = {hs_sha256_hex, hs_sha256_hex_builtin};
    char hex[65], ref[65];
    const char *s56 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    for (int k = 0; k < 2; k++) {
        fn[k]("abc", 3, hex);
        assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        fn[k]("", 0, hex);
        assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        fn[k](s56, strlen(s56), hex);
        assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    size_t big = 3u << 20;
    uint8_t *buf = malloc(big);
    assert_non_null(buf);
    uint32_t x = 12345;
    for (size_t i = 0; i < big; i++) buf[i] = (uint8_t)((x = x * 1664525u + 1013904223u) >> 24);
    for (size_t n = 0; n <= 300; n++) {
        hs_sha256_hex(buf, n, hex);
        hs_sha256_hex_builtin(buf, n, ref);
        assert_string_equal(hex, ref);
    }
    hs_sha256_hex(buf, big - 7, hex);
    hs_sha256_hex_builtin(buf, big - 7, ref);
    assert_string_equal(hex, ref);
    free(buf);
}

static void test_half(void **state)
{
    assert_true(hs_f16_to_f32(0x3c00) == 1.0f);
    assert_true(hs_f16_to_f32(0xc000) == -2.0f);
    assert_true(hs_f16_to_f32(0x0001) == ldexpf(1.0f, -24)); /* smallest subnormal */
    assert_true(isinf(hs_f16_to_f32(0x7c00)));
    assert_true(hs_bf16_to_f32(0x3f80) == 1.0f);
    for (float x = -3.0f; x < 3.0f; x += 0.37f) {
        assert_true(fabsf(hs_f16_to_f32(hs_f32_to_f16(x)) - x) <= fabsf(x) * 1e-3f + 1e-7f);
        assert_true(fabsf(hs_bf16_to_f32(hs_f32_to_bf16(x)) - x) <= fabsf(x) * 8e-3f + 1e-7f);
    }
}

/* ---- crafted checkpoints ---- */

typedef struct {
    json_t *header;
    const uint8_t *data; /* after the header */
    size_t data_len;
    hs_mapped_file mf;
} st_image;

static void image_load(st_image *im)
{
    char *p = tu_join(g_dir, "model.safetensors");
    assert_int_equal(hs_map_file(&im->mf, p), HS_OK);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | im->mf.data[i];
    im->header = json_loadb((const char *)im->mf.data + 8, hlen, 0, NULL);
    assert_non_null(im->header);
    im->data = im->mf.data + 8 + hlen;
    im->data_len = im->mf.size - 8 - hlen;
    free(p);
}

static void image_free(st_image *im)
{
    json_decref(im->header);
    hs_unmap_file(&im->mf);
}

/* Writes a model dir with config.json copied, the given header text and data. */
static char *write_variant(const char *header_txt, const uint8_t *data, size_t len, const char *config_txt)
{
    char *d = tu_mkdtemp("bad");
    char *cfg_src = tu_join(g_dir, "config.json"), *cfg = tu_join(d, "config.json"),
         *st = tu_join(d, "model.safetensors");
    char *txt;
    size_t n;
    assert_int_equal(hs_read_file(cfg_src, &txt, &n), HS_OK);
    assert_int_equal(tu_write(cfg, config_txt ? config_txt : txt, config_txt ? strlen(config_txt) : n), 0);
    FILE *f = fopen(st, "wb");
    uint64_t hl = strlen(header_txt);
    for (int i = 0; i < 8; i++) fputc((int)(hl >> (8 * i)) & 0xff, f);
    fwrite(header_txt, 1, hl, f);
    if (len) fwrite(data, 1, len, f);
    fclose(f);
    free(txt);
    free(cfg_src);
    free(cfg);
    free(st);
    return d;
}

/* Loads dir and requires HS_EINPUT with a message containing both needles. */
static void expect_bad(const char *dir, const char *needle1, const char *needle2)
{
    hs_model m;
    hs_status st = hs_model_load(&m, dir, NULL);
    if (st != HS_EINPUT || !strstr(hs_err_msg(), needle1) || (needle2 && !strstr(hs_err_msg(), needle2)))
        fail_msg("status %d, message: %s (wanted '%s' and '%s')", st, hs_err_msg(), needle1, needle2 ? needle2 : "");
    tu_rmtree(dir);
    free((void *)dir);
}

/* Loads dir and requires HS_OK. */
static void expect_good(const char *dir)
{
    hs_model m;
    hs_status st = hs_model_load(&m, dir, NULL);
    if (st != HS_OK) fail_msg("status %d, message: %s (wanted a load)", st, hs_err_msg());
    hs_model_free(&m);
    tu_rmtree(dir);
    free((void *)dir);
}

static char *variant_from_header(st_image *im, json_t *hdr, size_t data_len)
{
    char *txt = json_dumps(hdr, JSON_COMPACT);
    char *d = write_variant(txt, im->data, data_len, NULL);
    free(txt);
    return d;
}

static void test_bad_container(void **state)
{
    st_image im;
    image_load(&im);
    char *hdr = json_dumps(im.header, JSON_COMPACT);
    /* truncated: the data ends early, so offsets point past the end */
    expect_bad(write_variant(hdr, im.data, im.data_len / 2, NULL), "model.safetensors", "out of range");
    /* header not a JSON object, not JSON at all */
    expect_bad(write_variant("[1, 2, 3]", NULL, 0, NULL), "model.safetensors", "not a JSON object");
    expect_bad(write_variant("{\"wte.weight\": ", NULL, 0, NULL), "model.safetensors", "not valid JSON");
    /* header length past the end */
    char *d = tu_mkdtemp("bad"), *cfg = tu_join(g_dir, "config.json"), *cfg2 = tu_join(d, "config.json"),
         *st = tu_join(d, "model.safetensors");
    char *ctxt;
    size_t cn;
    assert_int_equal(hs_read_file(cfg, &ctxt, &cn), HS_OK);
    tu_write(cfg2, ctxt, cn);
    uint8_t bad[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    tu_write(st, bad, sizeof bad);
    expect_bad(d, "header length", "past the end");
    /* a file shorter than the length prefix */
    d = tu_mkdtemp("bad");
    free(cfg2);
    free(st);
    cfg2 = tu_join(d, "config.json");
    st = tu_join(d, "model.safetensors");
    tu_write(cfg2, ctxt, cn);
    tu_write(st, bad, 3);
    expect_bad(d, "truncated", NULL);
    free(ctxt);
    free(cfg);
    free(cfg2);
    free(st);
    free(hdr);
    image_free(&im);
}

static void test_bad_entries(void **state)
{
    st_image im;
    image_load(&im);
    json_t *h;
    /* offsets out of range */
    h = json_deep_copy(im.header);
    json_array_set_new(json_object_get(json_object_get(h, "ln_f.bias"), "data_offsets"), 1, json_integer(1 << 30));
    expect_bad(variant_from_header(&im, h, im.data_len), "ln_f.bias", "out of range");
    json_decref(h);
    /* offsets that do not match the shape */
    h = json_deep_copy(im.header);
    json_t *o = json_object_get(json_object_get(h, "ln_f.bias"), "data_offsets");
    json_array_set_new(o, 1, json_integer(json_integer_value(json_array_get(o, 1)) - 4));
    expect_bad(variant_from_header(&im, h, im.data_len), "ln_f.bias", "shape and F32 need");
    json_decref(h);
    /* overlapping tensors */
    h = json_deep_copy(im.header);
    json_object_set(json_object_get(h, "ln_f.weight"), "data_offsets",
                    json_object_get(json_object_get(h, "ln_f.bias"), "data_offsets"));
    expect_bad(variant_from_header(&im, h, im.data_len), "overlap", NULL);
    json_decref(h);
    /* unknown dtype */
    h = json_deep_copy(im.header);
    json_object_set_new(json_object_get(h, "ln_f.bias"), "dtype", json_string("Q4_K"));
    expect_bad(variant_from_header(&im, h, im.data_len), "ln_f.bias", "unknown dtype 'Q4_K'");
    json_decref(h);
    /* a known dtype we do not compute with */
    h = json_deep_copy(im.header);
    json_object_set_new(json_object_get(h, "ln_f.bias"), "dtype", json_string("I32"));
    expect_bad(variant_from_header(&im, h, im.data_len), "ln_f.bias", "not supported");
    json_decref(h);
    /* missing tensor */
    h = json_deep_copy(im.header);
    json_object_del(h, "h.1.mlp.c_fc.bias");
    expect_bad(variant_from_header(&im, h, im.data_len), "missing tensor h.1.mlp.c_fc.bias", NULL);
    json_decref(h);
    image_free(&im);
}

/* A header with one more entry, name, over the bytes [b, e) of the data (shape [n]). */
static char *with_extra(st_image *im, const char *name, const char *dtype, json_int_t n, json_int_t b, json_int_t e)
{
    json_t *h = json_deep_copy(im->header);
    json_object_set_new(h, name, json_pack("{s:s, s:[I], s:[I,I]}", "dtype", dtype, "shape", n, "data_offsets", b, e));
    char *d = variant_from_header(im, h, im->data_len);
    json_decref(h);
    return d;
}

/* Tensors the model never reads are refused (config.json and checkpoint disagree, or the
 * checkpoint is not a GPT-2 LM); Hugging Face's attention buffers of real layers are not. */
static void test_unused_tensors(void **state)
{
    st_image im;
    image_load(&im);
    json_int_t end = (json_int_t)im.data_len;
    /* the data block is all tensors back to back: extra entries may only cover 0 bytes */
    expect_bad(with_extra(&im, "score.weight", "F32", 0, end, end), "tensor score.weight is not used", NULL);
    expect_bad(with_extra(&im, "h.2.ln_1.weight", "F32", 0, end, end), "h.2.ln_1.weight belongs to layer 2",
               "n_layer 2 (layers 0..1)");
    expect_bad(with_extra(&im, "transformer.h.7.attn.bias", "U8", 0, end, end), "belongs to layer 7", NULL);
    expect_bad(with_extra(&im, "h.0.attn.c_attn.weight_scale", "F32", 0, end, end), "is not used", NULL);
    /* a tensor under both names: the plain one is read, the other would be ignored */
    expect_bad(with_extra(&im, "transformer.ln_f.bias", "F32", 0, end, end), "transformer.ln_f.bias is not used",
               NULL);
    expect_good(with_extra(&im, "h.1.attn.masked_bias", "F32", 0, end, end));
    expect_good(with_extra(&im, "transformer.h.0.attn.bias", "U8", 0, end, end));
    image_free(&im);
}

/* An lm_head.weight that differs from wte.weight is used only when config.json unties them
 * (Hugging Face ties by default and then reads wte.weight). */
static void test_tied_head(void **state)
{
    st_image im;
    image_load(&im);
    json_t *off = json_object_get(json_object_get(im.header, "wte.weight"), "data_offsets");
    size_t wb = (size_t)json_integer_value(json_array_get(off, 0));
    size_t we = (size_t)json_integer_value(json_array_get(off, 1));
    size_t n2 = im.data_len + (we - wb);
    uint8_t *data2 = malloc(n2);
    memcpy(data2, im.data, im.data_len);
    memcpy(data2 + im.data_len, im.data + wb, we - wb);
    data2[n2 - 1] ^= 0x80; /* the last value of the head, its sign flipped */
    json_t *h = json_deep_copy(im.header);
    json_object_set_new(h, "lm_head.weight", json_pack("{s:s, s:[i,i], s:[I,I]}", "dtype", "F32", "shape", 1024, 64,
                                                        "data_offsets", (json_int_t)im.data_len, (json_int_t)n2));
    char *htxt = json_dumps(h, JSON_COMPACT), *cfg_txt;
    expect_bad(write_variant(htxt, data2, n2, NULL), "lm_head.weight differs from wte.weight", "tie_word_embeddings");
    char *cfg_path = tu_join(g_dir, "config.json");
    size_t n;
    assert_int_equal(hs_read_file(cfg_path, &cfg_txt, &n), HS_OK);
    json_t *cfg = json_loads(cfg_txt, 0, NULL);
    json_object_set_new(cfg, "tie_word_embeddings", json_false());
    char *untied = json_dumps(cfg, JSON_COMPACT);
    char *d = write_variant(htxt, data2, n2, untied);
    hs_model m;
    assert_int_equal(hs_model_load(&m, d, NULL), HS_OK);
    assert_true(m.lm_head != m.wte && m.lm_head[1024 * 64 - 1] == -m.wte[1024 * 64 - 1]);
    hs_model_free(&m);
    tu_rmtree(d);
    free(d), free(untied), free(cfg_path), free(cfg_txt), free(htxt), free(data2);
    json_decref(cfg);
    json_decref(h);
    image_free(&im);
}

/* Writes a variant whose value k of tensor name is the F32 value x. */
static char *with_value(st_image *im, const char *name, size_t k, float x)
{
    json_t *off = json_object_get(json_object_get(im->header, name), "data_offsets");
    size_t b = (size_t)json_integer_value(json_array_get(off, 0));
    uint8_t *data = malloc(im->data_len);
    memcpy(data, im->data, im->data_len);
    memcpy(data + b + 4 * k, &x, 4);
    char *hdr = json_dumps(im->header, JSON_COMPACT);
    char *d = write_variant(hdr, data, im->data_len, NULL);
    free(hdr);
    free(data);
    return d;
}

/* NaN and infinite weights are refused at load with the tensor and the first bad index,
 * F32 in place and F16/BF16 after widening alike. */
static void test_nonfinite_weights(void **state)
{
    st_image im;
    image_load(&im);
    expect_bad(with_value(&im, "h.0.ln_1.weight", 5, NAN), "tensor h.0.ln_1.weight: value nan at index 5",
               "not finite");
    /* (C, 3C) = (64, 192): index 200 is row 1, column 8 */
    expect_bad(with_value(&im, "h.1.attn.c_attn.weight", 200, -INFINITY), "h.1.attn.c_attn.weight: value -inf",
               "index 200 (row 1, column 8)");
    expect_bad(with_value(&im, "wte.weight", 64 * 1024 - 1, INFINITY), "wte.weight: value inf at index 65535", NULL);
    expect_good(with_value(&im, "ln_f.bias", 0, FLT_MAX)); /* large but finite */
    image_free(&im);
    char *d = tu_mkdtemp("half"), *p = tu_join(d, "model.safetensors");
    assert_int_equal(hs_model_make_random(d, "tiny", 7, "bf16"), HS_OK);
    hs_mapped_file mf;
    assert_int_equal(hs_map_file(&mf, p), HS_OK);
    uint8_t *copy = malloc(mf.size);
    memcpy(copy, mf.data, mf.size);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | copy[i];
    json_t *hdr = json_loadb((const char *)copy + 8, hl, 0, NULL);
    json_t *off = json_object_get(json_object_get(hdr, "ln_f.weight"), "data_offsets");
    size_t at = 8 + hl + (size_t)json_integer_value(json_array_get(off, 0)) + 2 * 3;
    copy[at] = 0x80, copy[at + 1] = 0x7f; /* bf16 +inf at index 3 */
    size_t size = mf.size;
    hs_unmap_file(&mf);
    assert_int_equal(tu_write(p, copy, size), 0);
    expect_bad(d, "tensor ln_f.weight: value inf at index 3", NULL);
    json_decref(hdr);
    free(copy);
    free(p);
}

static void test_bad_config(void **state)
{
    st_image im;
    image_load(&im);
    char *hdr = json_dumps(im.header, JSON_COMPACT);
    const char *base = "\"n_head\": 4, \"n_layer\": 2, \"n_positions\": 128, \"layer_norm_epsilon\": 1e-5";
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "{\"n_embd\": 64, \"vocab_size\": 1000, %s}", base); /* vocab disagrees */
    expect_bad(write_variant(hdr, im.data, im.data_len, cfg), "wte.weight has shape [1024, 64]", "[1000, 64]");
    snprintf(cfg, sizeof cfg, "{\"vocab_size\": 1024, %s}", base);
    expect_bad(write_variant(hdr, im.data, im.data_len, cfg), "config.json", "missing \"n_embd\"");
    snprintf(cfg, sizeof cfg, "{\"n_embd\": -64, \"vocab_size\": 1024, %s}", base);
    expect_bad(write_variant(hdr, im.data, im.data_len, cfg), "config.json", "out of range");
    snprintf(cfg, sizeof cfg, "{\"n_embd\": 66, \"vocab_size\": 1024, %s}", base);
    expect_bad(write_variant(hdr, im.data, im.data_len, cfg), "config.json", "not a multiple");
    snprintf(cfg, sizeof cfg, "{\"n_embd\": \"64\", \"vocab_size\": 1024, %s}", base);
    expect_bad(write_variant(hdr, im.data, im.data_len, cfg), "config.json", "not an integer");
    snprintf(cfg, sizeof cfg, "{\"n_embd\": 64, \"vocab_size\": 1024, \"activation_function\": \"relu\", %s}", base);
    expect_bad(write_variant(hdr, im.data, im.data_len, cfg), "config.json", "relu");
    /* keys of GPT2Config that change the computation, where the engine does not implement the value */
    static const struct { const char *kv, *needle; } refused[] = {
        {"\"model_type\": \"llama\"", "\"model_type\": \"llama\" is not supported"},
        {"\"model_type\": 2", "\"model_type\": 2 is not supported"},
        {"\"scale_attn_weights\": false", "\"scale_attn_weights\": false is not supported"},
        {"\"scale_attn_weights\": null", "\"scale_attn_weights\": null is not supported"},
        {"\"scale_attn_by_inverse_layer_idx\": true", "\"scale_attn_by_inverse_layer_idx\": true is not supported"},
        {"\"scale_attn_by_inverse_layer_idx\": 1", "\"scale_attn_by_inverse_layer_idx\": 1 is not supported"},
        {"\"add_cross_attention\": true", "\"add_cross_attention\": true is not supported"},
        {"\"reorder_and_upcast_attn\": \"yes\"", "\"reorder_and_upcast_attn\": \"yes\" is not a boolean"},
        {"\"activation_function\": \"gelu\"", "activation_function \"gelu\" is not supported"},
        {"\"num_attention_heads\": 8", "\"num_attention_heads\": 8 disagrees with \"n_head\": 4"},
        {"\"num_hidden_layers\": 3", "\"num_hidden_layers\": 3 disagrees with \"n_layer\": 2"},
        {"\"hidden_size\": 32", "\"hidden_size\": 32 disagrees with \"n_embd\": 64"},
        {"\"max_position_embeddings\": 64", "\"max_position_embeddings\": 64 disagrees"},
        {"\"n_ctx\": 64", "\"n_ctx\": 64 disagrees with \"n_positions\": 128"},
        {"\"n_ctx\": \"128\"", "\"n_ctx\": \"128\" disagrees"},
        {"\"tie_word_embeddings\": 0", "\"tie_word_embeddings\": 0 is not a boolean"},
        {"\"tie_word_embeddings\": false", "no tensor lm_head.weight, but config.json has tie_word_embeddings false"},
        {"\"n_layer\": 1", "h.1.attn.c_attn.bias belongs to layer 1, but config.json has n_layer 1"},
    };
    const char *tail = "\"n_embd\": 64, \"n_head\": 4, \"n_positions\": 128, \"vocab_size\": 1024";
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        /* a repeated key would be invalid JSON: n_layer comes from the case when it has one */
        snprintf(cfg, sizeof cfg, "{%s, %s%s}", refused[i].kv, tail, strstr(refused[i].kv, "\"n_layer\"") ? "" :
                 ", \"n_layer\": 2");
        expect_bad(write_variant(hdr, im.data, im.data_len, cfg), "config.json", refused[i].needle);
    }
    /* the values that mean plain GPT-2 load, and reorder_and_upcast_attn true (only an f32 upcast) */
    snprintf(cfg, sizeof cfg, "{%s, \"n_layer\": 2, \"model_type\": \"gpt2\", \"scale_attn_weights\": true, "
             "\"scale_attn_by_inverse_layer_idx\": false, \"add_cross_attention\": null, \"reorder_and_upcast_attn\": "
             "true, \"tie_word_embeddings\": true, \"num_attention_heads\": 4, \"hidden_size\": 64, "
             "\"activation_function\": \"gelu_pytorch_tanh\", \"n_ctx\": 128}", tail);
    expect_good(write_variant(hdr, im.data, im.data_len, cfg));
    snprintf(cfg, sizeof cfg, "{\"n_embd\": 64, \"n_head\": 4, \"n_positions\": 1, \"vocab_size\": 1024, "
             "\"n_layer\": 2}");
    expect_bad(write_variant(hdr, im.data, im.data_len, cfg), "config.json", "\"n_positions\" = 1 is out of range [2,");
    expect_bad(write_variant(hdr, im.data, im.data_len, "{\"n_embd\": 64,"), "config.json", "not valid JSON");
    expect_bad(write_variant(hdr, im.data, im.data_len, "[64]"), "config.json", "not a JSON object");
    char *nodir = tu_mkdtemp("empty");
    expect_bad(nodir, "config.json", "cannot open");
    free(hdr);
    image_free(&im);
}

/* ---- forward pass invariants ---- */

static float *run_logits(const hs_model *m, hs_gating mode, const float *gates, const int32_t *ids, int n, int stepwise)
{
    hs_ctx *c;
    assert_int_equal(hs_ctx_init(&c, m, n, mode), HS_OK);
    assert_int_equal(hs_ctx_set_gates(c, gates), HS_OK);
    float *lg = malloc((size_t)m->cfg.vocab_size * sizeof(float));
    if (stepwise)
        for (int i = 0; i < n; i++) assert_int_equal(hs_ctx_forward(c, ids + i, 1, lg, 0), HS_OK);
    else
        assert_int_equal(hs_ctx_forward(c, ids, n, lg, 0), HS_OK);
    hs_ctx_free(c);
    return lg;
}

static double max_diff(const float *a, const float *b, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* Mask and skip agree (to rounding), prefill and stepwise decode too, in every weight mode:
 * tiny's heads of 16 put a run of live heads mid-way into W8A8's activation blocks of 32,
 * which skip mode must quantize as mask mode does (the blocks of the whole row). */
static void forward_invariants(hs_weights mode)
{
    hs_model m;
    assert_int_equal(hs_model_load(&m, g_dir, &(hs_model_opts){.weights = mode}), HS_OK);
    int LH = m.cfg.n_layer * m.cfg.n_head, V = m.cfg.vocab_size;
    int32_t ids[40];
    for (int i = 0; i < 40; i++) ids[i] = (i * 37 + 11) % V;
    float g_all[8], g_some[8], g_frac[8];
    for (int i = 0; i < LH; i++)
        g_all[i] = 1, g_some[i] = (i % 3 == 1) ? 0.0f : 1.0f, g_frac[i] = (i % 2) ? 0.0f : 0.25f + 0.1f * i;
    const float *sets[] = {g_all, g_some, g_frac};
    for (int s = 0; s < 3; s++) {
        float *a = run_logits(&m, HS_GATING_MASK, sets[s], ids, 40, 0);
        float *b = run_logits(&m, HS_GATING_SKIP, sets[s], ids, 40, 0);
        float *c = run_logits(&m, HS_GATING_SKIP, sets[s], ids, 40, 1);
        double d_skip = max_diff(a, b, V), d_step = max_diff(a, c, V);
        if (!(d_skip < 1e-4 && d_step < 1e-4))
            fail_msg("%s, gates %d: skip differs from mask by %g, stepwise by %g", hs_weights_name(mode), s, d_skip,
                     d_step);
        if (s > 0) {
            float *full = run_logits(&m, HS_GATING_MASK, g_all, ids, 40, 0);
            assert_true(max_diff(a, full, V) > 1e-3); /* pruning changes the output */
            free(full);
        }
        free(a);
        free(b);
        free(c);
    }
    hs_model_free(&m);
}

static void test_forward_invariants(void **state)
{
    (void)state;
    static const hs_weights modes[4] = {HS_WEIGHTS_F32, HS_WEIGHTS_BF16, HS_WEIGHTS_INT8, HS_WEIGHTS_W8A8};
    for (int w = 0; w < 4; w++) forward_invariants(modes[w]);
}

static void test_forward_bad_input(void **state)
{
    hs_model m;
    assert_int_equal(hs_model_load(&m, g_dir, NULL), HS_OK);
    hs_ctx *c;
    assert_int_equal(hs_ctx_init(&c, &m, m.cfg.n_positions + 1, HS_GATING_MASK), HS_EINPUT);
    assert_int_equal(hs_ctx_init(&c, &m, 4, HS_GATING_MASK), HS_OK);
    int32_t ids[5] = {1, 2, 3, 4, 5}, bad = m.cfg.vocab_size;
    assert_int_equal(hs_ctx_forward(c, ids, 5, NULL, 0), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "exceeds the context"));
    assert_int_equal(hs_ctx_forward(c, &bad, 1, NULL, 0), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "out of range"));
    float g[8] = {1, 1, 1, 1, 1, 1, 1, 1.5f};
    assert_int_equal(hs_ctx_set_gates(c, g), HS_EINPUT);
    hs_ctx_free(c);
    hs_model_free(&m);
}

/* transformer.-prefixed names, an explicit lm_head equal to wte, and F16/BF16 files. */
static void test_layout_variants(void **state)
{
    st_image im;
    image_load(&im);
    json_t *h = json_object();
    const char *key;
    json_t *val;
    json_object_foreach(im.header, key, val) {
        char nk[128];
        snprintf(nk, sizeof nk, "%s%s", strcmp(key, "__metadata__") ? "transformer." : "", key);
        json_object_set(h, nk, val);
    }
    /* lm_head.weight (a copy of wte) and an unused attn.bias buffer appended to the data */
    json_t *wte_off = json_object_get(json_object_get(im.header, "wte.weight"), "data_offsets");
    size_t wb = (size_t)json_integer_value(json_array_get(wte_off, 0)),
           we = (size_t)json_integer_value(json_array_get(wte_off, 1));
    size_t n2 = im.data_len + (we - wb) + 4;
    uint8_t *data2 = calloc(n2, 1);
    memcpy(data2, im.data, im.data_len);
    memcpy(data2 + im.data_len, im.data + wb, we - wb);
    json_object_set_new(h, "lm_head.weight",
                        json_pack("{s:s, s:[i,i], s:[I,I]}", "dtype", "F32", "shape", 1024, 64, "data_offsets",
                                  (json_int_t)im.data_len, (json_int_t)(im.data_len + we - wb)));
    json_object_set_new(h, "transformer.h.0.attn.bias",
                        json_pack("{s:s, s:[i,i,i,i], s:[I,I]}", "dtype", "U8", "shape", 1, 1, 2, 2, "data_offsets",
                                  (json_int_t)(n2 - 4), (json_int_t)n2));
    char *htxt = json_dumps(h, JSON_COMPACT);
    char *d = write_variant(htxt, data2, n2, NULL);
    free(htxt);
    free(data2);
    json_decref(h);
    hs_model a, b;
    assert_int_equal(hs_model_load(&a, g_dir, NULL), HS_OK);
    assert_int_equal(hs_model_load(&b, d, NULL), HS_OK);
    assert_true(b.lm_head != b.wte); /* explicit head used, not tied */
    int32_t ids[3] = {5, 6, 7};
    float g[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    float *la = run_logits(&a, HS_GATING_MASK, g, ids, 3, 0), *lb = run_logits(&b, HS_GATING_MASK, g, ids, 3, 0);
    assert_true(max_diff(la, lb, a.cfg.vocab_size) == 0.0);
    free(la);
    free(lb);
    hs_model_free(&a);
    hs_model_free(&b);
    tu_rmtree(d);
    free(d);
    image_free(&im);
    const char *dts[] = {"f16", "bf16"};
    for (int i = 0; i < 2; i++) {
        char *dd = tu_mkdtemp("half");
        assert_int_equal(hs_model_make_random(dd, "tiny", 7, dts[i]), HS_OK);
        hs_model hm;
        assert_int_equal(hs_model_load(&hm, dd, NULL), HS_OK);
        assert_non_null(hm.owned); /* widened once into an owned block */
        assert_string_equal(hm.dtype, i ? "BF16" : "F16");
        float *lh = run_logits(&hm, HS_GATING_MASK, g, ids, 3, 0);
        for (int v = 0; v < hm.cfg.vocab_size; v++) assert_true(isfinite(lh[v]));
        free(lh);
        hs_model_free(&hm);
        tu_rmtree(dd);
        free(dd);
    }
}

/* hs_ctx_forward_rows: the logits of any range of 2 or more positions are those rows of
 * the all-positions logits, bit for bit (what teacher-forced perplexity relies on); a
 * single row equals the last-position logits of a call ending there; bad ranges are
 * refused. */
static void test_forward_rows(void **state)
{
    (void)state;
    enum { N = 20 };
    hs_model m;
    assert_int_equal(hs_model_load(&m, g_dir, NULL), HS_OK);
    int V = m.cfg.vocab_size;
    int32_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (int32_t)((i * 37 + 11) % V);
    hs_ctx *c;
    assert_int_equal(hs_ctx_init(&c, &m, N, HS_GATING_MASK), HS_OK);
    float *all = malloc((size_t)N * V * sizeof(float)), *part = malloc((size_t)N * V * sizeof(float));
    assert_int_equal(hs_ctx_forward(c, ids, N, all, 1), HS_OK);
    static const int ranges[][2] = {{0, N}, {5, N}, {5, N - 1}, {0, 2}, {N - 2, N}, {3, 17}};
    for (size_t r = 0; r < sizeof ranges / sizeof *ranges; r++) {
        int lo = ranges[r][0], hi = ranges[r][1];
        hs_ctx_reset(c);
        assert_int_equal(hs_ctx_forward_rows(c, ids, N, part, lo, hi), HS_OK);
        assert_int_equal(hs_ctx_pos(c), N);
        if (memcmp(part, all + (size_t)lo * V, (size_t)(hi - lo) * V * sizeof(float)))
            fail_msg("logits of positions %d .. %d differ from those rows of all positions", lo, hi - 1);
    }
    float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(m.cfg.n_layer * m.cfg.n_head, 8);
    float *last = run_logits(&m, HS_GATING_MASK, ones, ids, 8, 0);
    hs_ctx_reset(c);
    assert_int_equal(hs_ctx_forward_rows(c, ids, N, part, 7, 8), HS_OK);
    assert_memory_equal(part, last, (size_t)V * sizeof(float));
    static const int bad[][2] = {{-1, 3}, {4, 4}, {5, 3}, {0, N + 1}};
    for (size_t r = 0; r < sizeof bad / sizeof *bad; r++) {
        hs_ctx_reset(c);
        assert_int_equal(hs_ctx_forward_rows(c, ids, N, part, bad[r][0], bad[r][1]), HS_EINPUT);
        assert_non_null(strstr(hs_err_msg(), "logits of positions"));
    }
    free(last), free(all), free(part);
    hs_ctx_free(c);
    hs_model_free(&m);
}

/* A decode batch gives every sequence exactly (bit for bit) the logits it gets alone,
 * in both gating modes and with head statistics on. */
static void batch_vs_single(const hs_model *m, hs_gating mode, const float *gates, int with_stats)
{
    enum { B = 4, STEPS = 6 };
    int V = m->cfg.vocab_size, LH = m->cfg.n_layer * m->cfg.n_head;
    hs_ctx *solo[B], *bat[B];
    float *ls = malloc((size_t)V * sizeof(float)), *lb = malloc((size_t)B * V * sizeof(float));
    float st_mem[2][B][4][64];
    int rows_mem[2][B][64];
    hs_head_stats st[2][B];
    int32_t tok[B];
    for (int i = 0; i < B; i++) {
        int np = 3 + 5 * i;
        int32_t prompt[32];
        for (int t = 0; t < np; t++) prompt[t] = (int32_t)((t * 13 + i * 101 + 5) % V);
        for (int k = 0; k < 2; k++) {
            hs_ctx **c = k ? &bat[i] : &solo[i];
            assert_int_equal(hs_ctx_init(c, m, 48, mode), HS_OK);
            assert_int_equal(hs_ctx_set_gates(*c, gates), HS_OK);
            st[k][i] = (hs_head_stats){st_mem[k][i][0], st_mem[k][i][1], rows_mem[k][i], st_mem[k][i][2]};
            if (with_stats) assert_int_equal(hs_ctx_collect_stats(*c, &st[k][i]), HS_OK);
            assert_int_equal(hs_ctx_forward(*c, prompt, np, NULL, 0), HS_OK);
        }
        tok[i] = (int32_t)(i * 7 + 1);
    }
    for (int step = 0; step < STEPS; step++) {
        assert_int_equal(hs_ctx_forward_batch(bat, B, tok, lb), HS_OK);
        for (int i = 0; i < B; i++) {
            assert_int_equal(hs_ctx_forward(solo[i], &tok[i], 1, ls, 0), HS_OK);
            assert_memory_equal(ls, lb + (size_t)i * V, (size_t)V * sizeof(float));
            if (with_stats) {
                assert_memory_equal(st[0][i].util, st[1][i].util, (size_t)LH * sizeof(float));
                assert_memory_equal(st[0][i].cosine, st[1][i].cosine, (size_t)LH * sizeof(float));
            }
            tok[i] = (int32_t)((tok[i] * 31 + step) % V);
        }
    }
    for (int i = 0; i < B; i++) {
        assert_int_equal(hs_ctx_pos(bat[i]), hs_ctx_pos(solo[i]));
        hs_ctx_free(solo[i]);
        hs_ctx_free(bat[i]);
    }
    free(ls);
    free(lb);
}

static void test_batch_decode_identical(void **state)
{
    hs_model m;
    assert_int_equal(hs_model_load(&m, g_dir, NULL), HS_OK);
    float all[8] = {1, 1, 1, 1, 1, 1, 1, 1}, some[8] = {1, 0, 0.5f, 1, 0, 1, 1, 0.25f};
    batch_vs_single(&m, HS_GATING_MASK, all, 0);
    batch_vs_single(&m, HS_GATING_SKIP, some, 0);
    batch_vs_single(&m, HS_GATING_SKIP, some, 1);
    /* sequences with different live heads cannot share a batch */
    hs_ctx *a, *b;
    assert_int_equal(hs_ctx_init(&a, &m, 8, HS_GATING_SKIP), HS_OK);
    assert_int_equal(hs_ctx_init(&b, &m, 8, HS_GATING_SKIP), HS_OK);
    assert_int_equal(hs_ctx_set_gates(b, some), HS_OK);
    hs_ctx *pair[2] = {a, b};
    int32_t ids[2] = {1, 2};
    float *lg = malloc((size_t)2 * m.cfg.vocab_size * sizeof(float));
    assert_int_equal(hs_ctx_forward_batch(pair, 2, ids, lg), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "other live heads"));
    free(lg);
    hs_ctx_free(a);
    hs_ctx_free(b);
    hs_model_free(&m);
}

/* Stacked prefills (hs_ctx_forward_stack, throughput mode starting several prompts): each
 * sequence's last logits, its mark and continuation, and its later decode steps are
 * bit-identical to its own hs_ctx_forward call's, for lengths 1 to 47 (the row route's
 * whole range, the first sequence leading the call), mask and skip gating. */
static void stack_vs_single(const hs_model *m, hs_gating mode, const float *gates)
{
    enum { S = 5, STEPS = 3 };
    static const int len[S] = {20, 1, 4, 47, 3};
    int V = m->cfg.vocab_size;
    hs_ctx *solo[S], *st[S];
    int32_t ids[S][48], tok[S];
    const int32_t *idp[S];
    float *ls = malloc((size_t)8 * V * sizeof(float)), *lb = malloc((size_t)S * V * sizeof(float)),
          *lc = malloc((size_t)8 * V * sizeof(float));
    for (int i = 0; i < S; i++) {
        for (int t = 0; t < len[i]; t++) ids[i][t] = (int32_t)((t * 17 + i * 89 + 3) % V);
        idp[i] = ids[i];
        tok[i] = (int32_t)(i * 11 + 2);
        assert_int_equal(hs_ctx_init(&solo[i], m, 128, mode), HS_OK);
        assert_int_equal(hs_ctx_init(&st[i], m, 128, mode), HS_OK);
        assert_int_equal(hs_ctx_set_gates(solo[i], gates), HS_OK);
        assert_int_equal(hs_ctx_set_gates(st[i], gates), HS_OK);
        assert_true(hs_ctx_stackable(st[i], len[i]));
    }
    assert_int_equal(hs_ctx_forward_stack(st, S, idp, len, lb), HS_OK);
    for (int i = 0; i < S; i++) {
        assert_int_equal(hs_ctx_forward(solo[i], ids[i], len[i], ls, 0), HS_OK);
        assert_memory_equal(ls, lb + (size_t)i * V, (size_t)V * sizeof(float));
        assert_int_equal(hs_ctx_pos(st[i]), len[i]);
        /* the mark keeps the last final hidden state: a continuation from it matches */
        assert_int_equal(hs_ctx_mark(solo[i]), HS_OK);
        assert_int_equal(hs_ctx_mark(st[i]), HS_OK);
        int32_t cont[4] = {7, 8, 9, 10};
        int nc = len[i] + 4 < 48 ? 4 : 0;
        if (nc) {
            assert_int_equal(hs_ctx_forward_cont(solo[i], cont, nc, ls, -1, nc), HS_OK);
            assert_int_equal(hs_ctx_forward_cont(st[i], cont, nc, lc, -1, nc), HS_OK);
            assert_memory_equal(ls, lc, (size_t)(nc + 1) * V * sizeof(float));
            assert_int_equal(hs_ctx_rewind(solo[i]), HS_OK);
            assert_int_equal(hs_ctx_rewind(st[i]), HS_OK);
        }
    }
    for (int step = 0; step < STEPS; step++) { /* the caches hold the same rows */
        assert_int_equal(hs_ctx_forward_batch(st, S, tok, lb), HS_OK);
        for (int i = 0; i < S; i++) {
            assert_int_equal(hs_ctx_forward(solo[i], &tok[i], 1, ls, 0), HS_OK);
            assert_memory_equal(ls, lb + (size_t)i * V, (size_t)V * sizeof(float));
            tok[i] = (int32_t)((tok[i] * 29 + step) % V);
        }
    }
    for (int i = 0; i < S; i++) {
        hs_ctx_free(solo[i]);
        hs_ctx_free(st[i]);
    }
    free(ls);
    free(lb);
    free(lc);
}

static void test_stacked_prefill_identical(void **state)
{
    (void)state;
    float all[8] = {1, 1, 1, 1, 1, 1, 1, 1}, some[8] = {1, 0, 0.5f, 1, 0, 1, 1, 0.25f};
    for (int how = 0; how < 3; how++) { /* f32, f32 pre-packed, bf16 pre-packed */
        hs_model m;
        hs_model_opts o = {.weights = how == 2 ? HS_WEIGHTS_BF16 : HS_WEIGHTS_F32, .pack = how > 0};
        assert_int_equal(hs_model_load(&m, g_dir, &o), HS_OK);
        stack_vs_single(&m, HS_GATING_MASK, all);
        stack_vs_single(&m, HS_GATING_SKIP, some);
        hs_model_free(&m);
    }
    /* refused: a prompt the tiles' route would take, rows past the scratch, statistics */
    hs_model m;
    assert_int_equal(hs_model_load(&m, g_dir, NULL), HS_OK);
    hs_ctx *c[3];
    for (int i = 0; i < 3; i++) assert_int_equal(hs_ctx_init(&c[i], &m, 64, HS_GATING_MASK), HS_OK);
    int32_t ids[48] = {0};
    const int32_t *idp[3] = {ids, ids, ids};
    int n48[1] = {48}, n3x30[3] = {30, 30, 30};
    float *lg = malloc((size_t)3 * m.cfg.vocab_size * sizeof(float));
    assert_false(hs_ctx_stackable(c[0], 48));
    assert_false(hs_ctx_stackable(c[0], 0));
    assert_int_equal(hs_ctx_forward_stack(c, 1, idp, n48, lg), HS_EINTERNAL);
    assert_int_equal(hs_ctx_forward_stack(c, 3, idp, n3x30, lg), HS_EINPUT);
    assert_non_null(strstr(hs_err_msg(), "rows of scratch"));
    assert_int_equal(hs_ctx_pos(c[0]), 0);
    float sm[4][8];
    int rows[8];
    hs_head_stats hst = {sm[0], sm[1], rows, sm[2]};
    assert_int_equal(hs_ctx_collect_stats(c[1], &hst), HS_OK);
    assert_false(hs_ctx_stackable(c[1], 5));
    free(lg);
    for (int i = 0; i < 3; i++) hs_ctx_free(c[i]);
    hs_model_free(&m);
}

/* Throughput mode's pre-packed weights (hs_model_opts.pack): the batch reads the packed
 * copy (the LM head too), each sequence alone the original matrices, and the logits stay
 * bit-identical, for f32 and bf16 weights, mask and skip gating (skip reads slices of rows and columns: the
 * live heads' Q/K/V columns and c_proj rows). */
static void test_batch_decode_packed(void **state)
{
    (void)state;
    float all[8] = {1, 1, 1, 1, 1, 1, 1, 1}, some[8] = {1, 0, 0.5f, 1, 0, 1, 1, 0.25f},
          first[8] = {0, 1, 1, 1, 1, 1, 1, 1};
    for (int bf16 = 0; bf16 < 2; bf16++) {
        hs_model m;
        hs_model_opts o = {.weights = bf16 ? HS_WEIGHTS_BF16 : HS_WEIGHTS_F32, .pack = 1};
        assert_int_equal(hs_model_load(&m, g_dir, &o), HS_OK);
        assert_int_equal(m.weights, o.weights);
#ifdef __AVX2__
        assert_non_null(m.owned_pack);
        assert_non_null(m.blocks[0].attn_wp.data);
        assert_int_equal(m.blocks[1].fc_proj_wp.K, m.cfg.n_inner);
        assert_non_null(m.lm_head_wp.data); /* the batch's LM head on the tiles */
        assert_int_equal(m.lm_head_wp.N, m.cfg.vocab_size);
#endif
        batch_vs_single(&m, HS_GATING_MASK, all, 0);
        batch_vs_single(&m, HS_GATING_SKIP, some, 1);
        batch_vs_single(&m, HS_GATING_SKIP, first, 0);
        hs_model_free(&m);
    }
}

/* Latency mode's batch-1 panels (hs_model_opts.panels; layers and LM head): decoding
 * token by token on the panels gives the logits of the row kernels on the original
 * matrices bit for bit, f32, bf16 and int8, in mask mode (every layer on the panels), in
 * skip mode with heads off (those layers keep the row kernels, or with the head-major
 * c_attn read c_proj's live rows and the MLP from the panels) and with every head live, and with head statistics on
 * (agency's per-head c_proj rows read from the panels). No copy without AVX-512. */
static void test_panels_decode(void **state)
{
    (void)state;
    float all[8] = {1, 1, 1, 1, 1, 1, 1, 1}, some[8] = {1, 0, 0.5f, 1, 0, 1, 1, 0.25f};
    int32_t ids[6] = {5, 6, 7, 300, 2, 1000};
    static const hs_weights wts[3] = {HS_WEIGHTS_F32, HS_WEIGHTS_BF16, HS_WEIGHTS_INT8};
    for (int wt = 0; wt < 3; wt++) {
        hs_model ref, m;
        hs_model_opts o = {.weights = wts[wt]}, op = o;
        op.panels = 1;
        assert_int_equal(hs_model_load(&ref, g_dir, &o), HS_OK);
        assert_int_equal(hs_model_load(&m, g_dir, &op), HS_OK);
        assert_null(ref.owned_panels);
        const char *no512 = getenv("HS_NO_AVX512");
        int wide = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                   !(no512 && *no512 && strcmp(no512, "0"));
        if (m.owned_panels) {
            const hs_wpanel *g = &m.blocks[1].fc_proj_wg;
            assert_true((g->f != NULL) + (g->h != NULL) + (g->q != NULL) == 1);
            assert_true(wt == 1 ? g->h != NULL : wt == 2 ? g->q != NULL : g->f != NULL);
            assert_int_equal(g->K, m.cfg.n_inner);
            assert_int_equal(g->N, m.cfg.n_embd);
            assert_true(wt == 1 ? m.lm_headg.h != NULL : wt == 2 ? m.lm_headg.q != NULL : m.lm_headg.f != NULL);
            assert_int_equal(m.lm_headg.N, m.cfg.vocab_size / 8 * 8);
        }
        assert_int_equal(m.owned_panels != NULL, wide);
        const float *gates[3] = {all, some, all};
        hs_gating modes[3] = {HS_GATING_MASK, HS_GATING_SKIP, HS_GATING_SKIP};
        for (int i = 0; i < 3; i++) {
            float *la = run_logits(&ref, modes[i], gates[i], ids, 6, 1);
            float *lb = run_logits(&m, modes[i], gates[i], ids, 6, 1);
            assert_memory_equal(la, lb, (size_t)m.cfg.vocab_size * sizeof(float));
            free(la);
            free(lb);
        }
        /* head statistics: agency's per-head c_proj rows (64-row slices) read from the panels */
        hs_ctx *c[2];
        float sm[2][3][8];
        int rows[2][8];
        for (int k = 0; k < 2; k++) {
            hs_head_stats hst = {sm[k][0], sm[k][1], rows[k], sm[k][2]};
            assert_int_equal(hs_ctx_init(&c[k], k ? &m : &ref, 6, HS_GATING_MASK), HS_OK);
            assert_int_equal(hs_ctx_set_gates(c[k], some), HS_OK);
            assert_int_equal(hs_ctx_collect_stats(c[k], &hst), HS_OK);
            for (int t = 0; t < 6; t++) assert_int_equal(hs_ctx_forward(c[k], ids + t, 1, NULL, 0), HS_OK);
            hs_ctx_free(c[k]);
        }
        assert_memory_equal(sm[0], sm[1], sizeof sm[0]);
        batch_vs_single(&m, HS_GATING_MASK, some, 1); /* the batch's tiles: the same chains */
        hs_model_free(&ref);
        hs_model_free(&m);
        /* skip mode on the head-major c_attn: its layers with heads off read c_proj's live
         * rows and the MLP from the panels */
        o.head_major = op.head_major = 1;
        assert_int_equal(hs_model_load(&ref, g_dir, &o), HS_OK);
        assert_int_equal(hs_model_load(&m, g_dir, &op), HS_OK);
        float *la = run_logits(&ref, HS_GATING_SKIP, some, ids, 6, 1);
        float *lb = run_logits(&m, HS_GATING_SKIP, some, ids, 6, 1);
        assert_memory_equal(la, lb, (size_t)m.cfg.vocab_size * sizeof(float));
        free(la);
        free(lb);
        hs_model_free(&ref);
        hs_model_free(&m);
    }
}

/* int8 and W8A8 weight modes: a decode batch stays bit-identical to each sequence alone
 * (packed or not), and the logits stay close to f32's with the same top token. */
static void test_int8_weights(void **state)
{
    (void)state;
    float all[8] = {1, 1, 1, 1, 1, 1, 1, 1}, some[8] = {1, 0, 0.5f, 1, 0, 1, 1, 0.25f};
    int32_t ids[5] = {5, 6, 7, 300, 2};
    hs_model ref;
    assert_int_equal(hs_model_load(&ref, g_dir, NULL), HS_OK);
    for (int how = 0; how < 4; how++) {
        int pack = how & 1, w8a8 = how >> 1;
        hs_model m;
        hs_model_opts o = {.weights = w8a8 ? HS_WEIGHTS_W8A8 : HS_WEIGHTS_INT8, .pack = pack};
        assert_int_equal(hs_model_load(&m, g_dir, &o), HS_OK);
        assert_int_equal(m.weights, o.weights);
        if (w8a8) assert_non_null(m.blocks[0].attn_wv.q), assert_non_null(m.lm_headv.q), assert_null(m.owned_pack);
        else assert_non_null(m.blocks[0].attn_w8);
        batch_vs_single(&m, HS_GATING_MASK, all, 0);
        batch_vs_single(&m, HS_GATING_SKIP, some, 1);
        int V = m.cfg.vocab_size;
        float *la = run_logits(&ref, HS_GATING_MASK, all, ids, 5, 0);
        float *lb = run_logits(&m, HS_GATING_MASK, all, ids, 5, 0);
        float lo = la[0], hi = la[0], d = 0;
        int ta = 0, tb = 0;
        for (int v = 0; v < V; v++) {
            lo = la[v] < lo ? la[v] : lo, hi = la[v] > hi ? la[v] : hi;
            d = fabsf(la[v] - lb[v]) > d ? fabsf(la[v] - lb[v]) : d;
            ta = la[v] > la[ta] ? v : ta, tb = lb[v] > lb[tb] ? v : tb;
        }
        print_message("%s: max |logit - f32| %.4g, f32 spread %.4g\n", hs_weights_name(o.weights), d, hi - lo);
        assert_true(d <= 0.05f * (hi - lo));
        assert_int_equal(ta, tb);
        free(la);
        free(lb);
        hs_model_free(&m);
    }
    hs_model_free(&ref);
}

/* Skip mode's head-major c_attn (hs_model_opts.head_major): decode reads each live head's
 * Q/K/V columns from the copy and gets the bits (and the FLOP count) of the model without
 * it, in f32, bf16 and int8, for live sets of one run, several runs and a single head,
 * prefill and one-token calls alike; a decode batch (which keeps the column runs) still
 * equals each sequence alone. W8A8 makes no copy. */
static void head_major_vs_plain(const hs_model *plain, const hs_model *hm, const float *gates)
{
    enum { NP = 5, STEPS = 7 };
    int V = plain->cfg.vocab_size;
    hs_ctx *c[2];
    float *lg[2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(hs_ctx_init(&c[k], k ? hm : plain, NP + STEPS, HS_GATING_SKIP), HS_OK);
        assert_int_equal(hs_ctx_set_gates(c[k], gates), HS_OK);
        lg[k] = malloc((size_t)V * sizeof(float));
    }
    int32_t prompt[NP] = {5, 6, 7, 300, 2}, tok = 11;
    for (int k = 0; k < 2; k++) assert_int_equal(hs_ctx_forward(c[k], prompt, NP, lg[k], 0), HS_OK);
    assert_memory_equal(lg[0], lg[1], (size_t)V * sizeof(float));
    for (int step = 0; step < STEPS; step++) {
        for (int k = 0; k < 2; k++) assert_int_equal(hs_ctx_forward(c[k], &tok, 1, lg[k], 0), HS_OK);
        assert_memory_equal(lg[0], lg[1], (size_t)V * sizeof(float));
        tok = (int32_t)((tok * 29 + step) % V);
    }
    assert_true(hs_ctx_flops(c[0]) == hs_ctx_flops(c[1]));
    for (int k = 0; k < 2; k++) hs_ctx_free(c[k]), free(lg[k]);
}

/* The copy of hm's block 1 holds element (k 5, part 1, head 1, d 3) where the layout
 * says: bf16's paired copy (64-wide heads, AVX-512 at load) at d 3's paired place. */
static void head_major_layout(const hs_model *hm, hs_weights mode)
{
    const hs_block *b = &hm->blocks[1];
    if (mode == HS_WEIGHTS_W8A8) {
        assert_null(hm->owned_heads);
        return;
    }
    assert_non_null(hm->owned_heads);
    int C = hm->cfg.n_embd, H = hm->cfg.n_head, D = C / H, k = 5, paired = D == 64 && hs_k_avx512();
    int copies = (b->attn_wh != NULL) + (b->attn_wh16 != NULL) + (b->attn_wh16p != NULL) + (b->attn_wh8 != NULL);
    assert_int_equal(copies, 1);
    assert_true((b->attn_wh16p != NULL) == (mode == HS_WEIGHTS_BF16 && paired));
    size_t src = (size_t)k * 3 * C + C + 1 * D + 3, dst = (((size_t)1 * H + 1) * C + k) * D + 3;
    if (b->attn_wh) assert_true(b->attn_wh[dst] == b->attn_w[src]);
    if (b->attn_wh16) assert_true(b->attn_wh16[dst] == b->attn_w16[src]);
    if (b->attn_wh16p) assert_true(b->attn_wh16p[dst + 3] == b->attn_w16[src]); /* word 3's low half */
    if (b->attn_wh16p) assert_true(b->attn_wh16p[dst + 4] == b->attn_w16[src + 16]); /* its high half */
    if (b->attn_wh8) assert_true(b->attn_wh8[dst] == b->attn_w8[src]);
}

/* tiny (heads of 16: the row kernel reads the copy) and tiny64 (heads of 64: the panels'
 * kernel reads the live heads as a list, bf16's copy paired), every weight mode; tiny64
 * also with the AVX-512 paths turned off after loading, when bf16's paired copy is not
 * read and the column runs of c_attn give the same bits. Gates per (layer, head): a layer
 * with one live head, one with none (tiny64), a gate between 0 and 1. */
static void test_head_major(void **state)
{
    (void)state;
    static const float some[8] = {1, 0, 0.5f, 1, 0, 1, 1, 0.25f}, first[8] = {0, 1, 1, 1, 1, 1, 1, 1},
                       one[8] = {0, 0, 1, 0, 1, 1, 1, 1}, all[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    static const float some64[4] = {1, 0, 0, 0.5f}, first64[4] = {0, 1, 1, 1}, none64[4] = {0, 0, 1, 1},
                       all64[4] = {1, 1, 1, 1};
    const float *const sets[2][4] = {{some, first, one, all}, {some64, first64, none64, all64}};
    char *d64 = tu_mkdtemp("model64");
    assert_non_null(d64);
    assert_int_equal(hs_model_make_random(d64, "tiny64", 3, "f32"), HS_OK);
    int avx512 = hs_k_avx512();
    for (int s = 0; s < 2; s++)
        for (int w = 0; w < 4; w++) {
            static const hs_weights modes[4] = {HS_WEIGHTS_F32, HS_WEIGHTS_BF16, HS_WEIGHTS_INT8, HS_WEIGHTS_W8A8};
            hs_weights mode = modes[w];
            hs_model plain, hm;
            hs_model_opts o = {.weights = mode};
            const char *dir = s ? d64 : g_dir;
            assert_int_equal(hs_model_load(&plain, dir, &o), HS_OK);
            o.head_major = 1;
            assert_int_equal(hs_model_load(&hm, dir, &o), HS_OK);
            head_major_layout(&hm, mode);
            for (int wide = avx512; wide >= (s ? 0 : avx512); wide--) {
                hs_k_avx512_set(wide);
                for (int g = 0; g < 4; g++) head_major_vs_plain(&plain, &hm, sets[s][g]);
                batch_vs_single(&hm, HS_GATING_SKIP, sets[s][0], 1);
            }
            hs_k_avx512_set(avx512);
            hs_model_free(&plain);
            hs_model_free(&hm);
        }
    tu_rmtree(d64);
    free(d64);
}

static int in_block(const void *p, const void *block, size_t n)
{
    return (const char *)p >= (const char *)block && (const char *)p < (const char *)block + n;
}

/* Loads a model the way `how` says: bit 1 bf16, bit 2 packed, with or without huge pages. */
static void setup_model(hs_model *m, const char *dir, int how, int huge)
{
    hs_model_opts o = {.weights = how & 1 ? HS_WEIGHTS_BF16 : HS_WEIGHTS_F32, .pack = (how & 2) != 0,
                       .huge_pages = huge};
    assert_int_equal(hs_model_load(m, dir, &o), HS_OK);
}

/* The speed-only copies give way when memory is short: a child process whose address space
 * leaves room for the bundled model's mapping but not for its packed copy still loads the
 * model (a warning, no copy, copies_made without HS_COPY_PACK) instead of failing. Not under
 * ASan, whose shadow memory does not live with an address-space limit. */
static void test_copy_gives_way(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#else
    const char *src = getenv("HS_SOURCE_DIR");
    if (!src) skip();
    char dir[4096], st_path[4200];
    snprintf(dir, sizeof dir, "%s/models/kjv-gpt2", src);
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    struct stat sb;
    assert_int_equal(stat(st_path, &sb), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        long vm_kb = -1;
        char line[256];
        FILE *f = fopen("/proc/self/status", "r");
        while (f && fgets(line, sizeof line, f))
            if (!strncmp(line, "VmSize:", 7)) vm_kb = strtol(line + 7, NULL, 10);
        if (f) fclose(f);
        if (vm_kb < 0) _exit(3);
        /* the mapping and 4 MB for the small allocations; the packed copy (the layers'
         * weights, most of the file) does not fit */
        rlim_t cap = (rlim_t)vm_kb * 1024 + (rlim_t)sb.st_size + ((rlim_t)4 << 20);
        struct rlimit rl = {cap, cap};
        if (setrlimit(RLIMIT_AS, &rl)) _exit(3);
        hs_model m;
        hs_model_opts o = {.pack = 1};
        if (hs_model_load(&m, dir, &o) != HS_OK) _exit(1);
        int copied = m.owned_pack != NULL;
        /* and says so to the sweep, which records it per cell (/cells/copies_used) */
        int told = (m.copies_asked & HS_COPY_PACK) && !(m.copies_made & HS_COPY_PACK);
        hs_model_free(&m);
        _exit(copied ? 2 : told ? 0 : 4);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    if (WEXITSTATUS(ws) == 1) fail_msg("the model did not load when its packed copy did not fit");
    if (WEXITSTATUS(ws) == 2) fail_msg("the packed copy fit under the limit: the test proves nothing");
    if (WEXITSTATUS(ws) == 4) fail_msg("copies_asked / copies_made do not say the packed copy gave way");
    assert_int_equal(WEXITSTATUS(ws), 0);
#endif
}

/* Huge-page mode (hs_model_opts.huge_pages) reads every weight of the forward pass from
 * private memory instead of the shared file mapping, makes the widened/bf16/packed blocks
 * there, and changes no bit of any logit (batch 1, prefill, decode batches). Whether the
 * kernel really gave 2 MB pages depends on its THP setting, so that is printed, not
 * asserted. */
static void test_hugepages(void **state)
{
    (void)state;
    char *half = tu_mkdtemp("half");
    assert_int_equal(hs_model_make_random(half, "tiny", 7, "bf16"), HS_OK);
    float all[8] = {1, 1, 1, 1, 1, 1, 1, 1}, some[8] = {1, 0, 0.5f, 1, 0, 1, 1, 0.25f};
    int32_t ids[5] = {5, 6, 7, 300, 2};
    long huge_kb = -1;
    for (int how = 0; how < 4; how++)
        for (int d = 0; d < 2; d++) {
            const char *dir = d ? half : g_dir;
            hs_model ref, m;
            setup_model(&ref, dir, how, 0);
            setup_model(&m, dir, how, 1);
            assert_true(m.huge);
            long kb = hs_anon_huge_kb();
            huge_kb = kb > huge_kb ? kb : huge_kb;
            const hs_block *b = &m.blocks[m.cfg.n_layer - 1];
            const void *w[] = {m.wte, m.wpe, m.lm_head, m.lnf_b, b->attn_w, b->fc_proj_w, b->ln2_b, b->fc_proj_b};
            for (size_t i = 0; i < sizeof w / sizeof *w; i++) {
                assert_false(in_block(w[i], m.st.data, m.st.size));
                assert_true(in_block(w[i], m.owned_huge, m.st.size) || in_block(w[i], m.owned, m.owned_bytes));
            }
            assert_true(m.lm_head == m.wte); /* still tied */
            if (how & 1) assert_true(in_block(b->fc_w16, m.owned16, 2 * m.n_params));
            for (int stepwise = 0; stepwise < 2; stepwise++) {
                float *la = run_logits(&ref, HS_GATING_MASK, some, ids, 5, stepwise);
                float *lb = run_logits(&m, HS_GATING_MASK, some, ids, 5, stepwise);
                assert_memory_equal(la, lb, (size_t)m.cfg.vocab_size * sizeof(float));
                free(la);
                free(lb);
            }
            if (how & 2) {
                batch_vs_single(&m, HS_GATING_MASK, all, 0);
                batch_vs_single(&m, HS_GATING_SKIP, some, 1);
            }
            hs_model_free(&ref);
            hs_model_free(&m);
        }
    print_message("hugepages: up to %ld kB of this process were on anonymous huge pages\n", huge_kb);
    tu_rmtree(half);
    free(half);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_half),
        cmocka_unit_test(test_bad_container),
        cmocka_unit_test(test_bad_entries),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_unused_tensors),
        cmocka_unit_test(test_nonfinite_weights),
        cmocka_unit_test(test_tied_head),
        cmocka_unit_test(test_forward_invariants),
        cmocka_unit_test(test_forward_bad_input),
        cmocka_unit_test(test_layout_variants),
        cmocka_unit_test(test_batch_decode_identical),
        cmocka_unit_test(test_batch_decode_packed),
        cmocka_unit_test(test_panels_decode),
        cmocka_unit_test(test_stacked_prefill_identical),
        cmocka_unit_test(test_int8_weights),
        cmocka_unit_test(test_forward_rows),
        cmocka_unit_test(test_hugepages),
        cmocka_unit_test(test_head_major),
        cmocka_unit_test(test_copy_gives_way),
    };
    return cmocka_run_group_tests_name("model", tests, setup, teardown);
}
