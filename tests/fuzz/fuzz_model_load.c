/* fuzz_model_load.c: hs_model_load on a model directory whose config.json is a fixed,
 * valid micro GPT-2 (1 layer, 2 heads, 4 channels, 8 tokens, 4 positions) and whose
 * model.safetensors is the fuzzed bytes. A refused file must be HS_EINPUT naming
 * model.safetensors; an accepted one must bind every weight to memory it owns (the
 * mapping or the widened block) with the length config.json implies, and must run a
 * forward pass in both gating modes without a sanitizer report (the logits may be
 * anything: the weights are arbitrary). tests/fuzz/make_seeds.py writes valid files
 * for this config (F32, F16, BF16, prefixed names, lm_head, misaligned data). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "headsweep/model.h"

/* Must match MICRO_CONFIG in make_seeds.py. */
static const char config_json[] =
    "{\"model_type\": \"gpt2\", \"n_layer\": 1, \"n_head\": 2, \"n_embd\": 4, \"n_positions\": 4,\n"
    " \"vocab_size\": 8, \"n_inner\": 8, \"layer_norm_epsilon\": 1e-05,\n"
    " \"activation_function\": \"gelu_new\"}\n";

static char *g_dir, *g_st_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_dir = fz_path(fz_dir(), "model");
    if (mkdir(g_dir, 0700) != 0) FZ_FAIL("mkdir %s", g_dir);
    char *cfg = fz_path(g_dir, "config.json");
    fz_write(cfg, config_json, strlen(config_json));
    free(cfg);
    g_st_path = fz_path(g_dir, "model.safetensors");
    return 0;
}

/* p[0..n) floats lies inside the mapping or inside the owned block. */
static void check_weight(const hs_model *m, const float *p, size_t n, const char *what)
{
    FZ_CHECK(p, "%s not bound", what);
    uintptr_t b = (uintptr_t)p, e = b + n * sizeof *p;
    uintptr_t ms = (uintptr_t)m->st.data, me = ms + m->st.size;
    uintptr_t os = (uintptr_t)m->owned, oe = os + m->n_params * sizeof(float); /* owned <= n_params */
    int in_map = ms && b >= ms && e <= me;
    int in_owned = os && b >= os && e <= oe;
    FZ_CHECK(in_map || in_owned, "%s (%zu floats) points outside the mapping and the owned block", what, n);
    FZ_CHECK(((uintptr_t)p & 3u) == 0, "%s is not 4-byte aligned", what);
    fz_touch(p, n * sizeof *p);
}

static void check_bindings(const hs_model *m)
{
    const hs_config *c = &m->cfg;
    size_t C = (size_t)c->n_embd, F = (size_t)c->n_inner, V = (size_t)c->vocab_size, T = (size_t)c->n_positions;
    check_weight(m, m->wte, V * C, "wte");
    check_weight(m, m->wpe, T * C, "wpe");
    check_weight(m, m->lm_head, V * C, "lm_head");
    check_weight(m, m->lnf_w, C, "ln_f.weight");
    check_weight(m, m->lnf_b, C, "ln_f.bias");
    for (int l = 0; l < c->n_layer; l++) {
        const hs_block *b = &m->blocks[l];
        check_weight(m, b->ln1_w, C, "ln_1.weight");
        check_weight(m, b->ln1_b, C, "ln_1.bias");
        check_weight(m, b->attn_w, C * 3 * C, "c_attn.weight");
        check_weight(m, b->attn_b, 3 * C, "c_attn.bias");
        check_weight(m, b->proj_w, C * C, "attn.c_proj.weight");
        check_weight(m, b->proj_b, C, "attn.c_proj.bias");
        check_weight(m, b->ln2_w, C, "ln_2.weight");
        check_weight(m, b->ln2_b, C, "ln_2.bias");
        check_weight(m, b->fc_w, C * F, "c_fc.weight");
        check_weight(m, b->fc_b, F, "c_fc.bias");
        check_weight(m, b->fc_proj_w, F * C, "mlp.c_proj.weight");
        check_weight(m, b->fc_proj_b, C, "mlp.c_proj.bias");
    }
    FZ_CHECK(!strcmp(m->dtype, "F32") || !strcmp(m->dtype, "F16") || !strcmp(m->dtype, "BF16"),
             "dtype '%s'", m->dtype);
}

/* Prefill of 3 tokens then one decode step, with head 1 switched off. */
static void run_forward(const hs_model *m, hs_gating mode)
{
    hs_ctx *ctx = NULL;
    float gates[2] = {1.0f, 0.0f}, logits[8];
    const int32_t ids[4] = {1, 7, 0, 3};
    FZ_CHECK(hs_ctx_init(&ctx, m, 4, mode) == HS_OK, "hs_ctx_init: %s", hs_err_msg());
    FZ_CHECK(hs_ctx_set_gates(ctx, gates) == HS_OK, "hs_ctx_set_gates: %s", hs_err_msg());
    FZ_CHECK(hs_ctx_forward(ctx, ids, 3, logits, 0) == HS_OK, "prefill: %s", hs_err_msg());
    FZ_CHECK(hs_ctx_forward(ctx, ids + 3, 1, logits, 0) == HS_OK, "decode: %s", hs_err_msg());
    hs_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_write(g_st_path, data, size);
    hs_model m;
    hs_err_clear();
    hs_status st = hs_model_load(&m, g_dir, NULL);
    if (st) {
        fz_expect_input_error(st, "model.safetensors", NULL);
        return 0;
    }
    fz_trace(HS_OK);
    check_bindings(&m);
    FZ_CHECK(strlen(hs_model_sha256(&m)) == 64, "sha256");
    run_forward(&m, HS_GATING_MASK);
    run_forward(&m, HS_GATING_SKIP);
    hs_model_free(&m);
    return 0;
}
