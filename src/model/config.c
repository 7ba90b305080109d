/* config.c: GPT-2 config.json as Hugging Face writes it. Values outside what any GPT-2
 * checkpoint could have are refused, so a corrupt config fails here and not in a kernel,
 * and so are GPT2Config keys whose value asks for a computation forward.c does not do. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/model.h"

/* Reads an integer key into *out; returns 0 (with message) when missing or out of range. */
static hs_status get_int(json_t *root, const char *key, int lo, int hi, int *out, const char *path)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return hs_err(HS_EINPUT, "%s: missing \"%s\"", path, key);
    if (!json_is_integer(v)) return hs_err(HS_EINPUT, "%s: \"%s\" is not an integer", path, key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return hs_err(HS_EINPUT, "%s: \"%s\" = %lld is out of range [%d, %d]", path, key, (long long)x, lo, hi);
    *out = (int)x;
    return HS_OK;
}

static hs_status check_activation(json_t *root, const char *path)
{
    json_t *v = json_object_get(root, "activation_function");
    if (!v) return HS_OK; /* GPT2Config's default is gelu_new */
    const char *s = json_string_value(v);
    if (!s) return hs_err(HS_EINPUT, "%s: \"activation_function\" is not a string", path);
    /* "gelu_pytorch_tanh" is the same tanh approximation under another name. */
    if (strcmp(s, "gelu_new") && strcmp(s, "gelu_pytorch_tanh"))
        return hs_err(HS_EINPUT, "%s: activation_function \"%s\" is not supported (gelu_new only)", path, s);
    return HS_OK;
}

/* v as compact JSON for a message, cut to fit buf. */
static const char *json_text(const json_t *v, char *buf, size_t cap)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, cap, "%s", s ? s : "?");
    if (s && strlen(s) >= cap && cap > 4) memcpy(buf + cap - 4, "...", 4);
    free(s);
    return buf;
}

/* A GPT2Config flag whose other value changes the computation (Hugging Face's modeling_gpt2
 * honours it) and that this engine does not implement: refused unless absent or `want`.
 * null is what Python reads as false, so it passes only where false is wanted. */
static hs_status check_flag(json_t *root, const char *key, int want, const char *path)
{
    json_t *v = json_object_get(root, key);
    if (!v || (json_is_boolean(v) && json_boolean_value(v) == want) || (json_is_null(v) && !want)) return HS_OK;
    char val[48];
    return hs_err(HS_EINPUT, "%s: \"%s\": %s is not supported (this engine computes GPT-2 with %s: %s only)", path,
                  key, json_text(v, val, sizeof val), key, want ? "true" : "false");
}

/* Hugging Face's attribute_map names for the keys read here: GPT2Config assigns the alias
 * after the GPT-2 name, so an alias that disagrees is the value Hugging Face would use. */
static hs_status check_alias(json_t *root, const char *alias, const char *key, int value, const char *path)
{
    json_t *v = json_object_get(root, alias);
    if (!v || (json_is_integer(v) && json_integer_value(v) == value)) return HS_OK;
    char val[48];
    return hs_err(HS_EINPUT, "%s: \"%s\": %s disagrees with \"%s\": %d (Hugging Face would use %s)", path, alias,
                  json_text(v, val, sizeof val), key, value, alias);
}

/* Keys of GPT2Config (and PretrainedConfig) that would change what the model computes, each
 * refused where it asks for something forward.c does not do, so that a checkpoint is never
 * run as a plain GPT-2 when Hugging Face would run it otherwise. */
static hs_status check_architecture(json_t *root, const hs_config *c, const char *path)
{
    json_t *mt = json_object_get(root, "model_type");
    char val[48];
    if (mt && !(json_is_string(mt) && !strcmp(json_string_value(mt), "gpt2")))
        return hs_err(HS_EINPUT, "%s: \"model_type\": %s is not supported (gpt2 only)", path,
                      json_text(mt, val, sizeof val));
    hs_status st;
    if ((st = check_flag(root, "scale_attn_weights", 1, path))) return st;
    if ((st = check_flag(root, "scale_attn_by_inverse_layer_idx", 0, path))) return st;
    if ((st = check_flag(root, "add_cross_attention", 0, path))) return st;
    /* reorder_and_upcast_attn true is accepted: it computes q.k^T and its softmax in f32
     * with the 1/sqrt(D) scale folded into the product, which differs from the plain path
     * only when the weights are f16/bf16 in PyTorch; this engine computes all attention
     * in f32 already, so both values are the same model here (to f32 rounding). */
    json_t *ru = json_object_get(root, "reorder_and_upcast_attn");
    if (ru && !json_is_boolean(ru) && !json_is_null(ru))
        return hs_err(HS_EINPUT, "%s: \"reorder_and_upcast_attn\": %s is not a boolean", path,
                      json_text(ru, val, sizeof val));
    if ((st = check_alias(root, "hidden_size", "n_embd", c->n_embd, path))) return st;
    if ((st = check_alias(root, "num_attention_heads", "n_head", c->n_head, path))) return st;
    if ((st = check_alias(root, "num_hidden_layers", "n_layer", c->n_layer, path))) return st;
    if ((st = check_alias(root, "max_position_embeddings", "n_positions", c->n_positions, path))) return st;
    /* n_ctx: older transformers releases sized the causal mask by it, newer ones ignore it,
     * so a config where it disagrees with n_positions is two models depending on version */
    json_t *ctx = json_object_get(root, "n_ctx");
    if (ctx && json_object_get(root, "n_positions") &&
        !(json_is_integer(ctx) && json_integer_value(ctx) == c->n_positions))
        return hs_err(HS_EINPUT,
                      "%s: \"n_ctx\": %s disagrees with \"n_positions\": %d (older transformers releases limit "
                      "attention to n_ctx, newer ones ignore it); make them equal",
                      path, json_text(ctx, val, sizeof val), c->n_positions);
    return HS_OK;
}

/* tie_word_embeddings (PretrainedConfig, default true): whether the LM head is wte. model.c
 * checks it against the checkpoint's lm_head.weight. */
static hs_status read_tied(hs_config *c, json_t *root, const char *path)
{
    json_t *v = json_object_get(root, "tie_word_embeddings");
    c->tied = 1;
    if (!v) return HS_OK;
    char val[48];
    if (!json_is_boolean(v))
        return hs_err(HS_EINPUT, "%s: \"tie_word_embeddings\": %s is not a boolean", path,
                      json_text(v, val, sizeof val));
    c->tied = json_boolean_value(v);
    return HS_OK;
}

static hs_status read_fields(hs_config *c, json_t *root, const char *path)
{
    hs_status st;
    if ((st = get_int(root, "n_embd", 1, 1 << 16, &c->n_embd, path))) return st;
    if ((st = get_int(root, "n_head", 1, 1024, &c->n_head, path))) return st;
    if ((st = get_int(root, "n_layer", 1, 1024, &c->n_layer, path))) return st;
    if ((st = get_int(root, "vocab_size", 1, 1 << 22, &c->vocab_size, path))) return st;
    const char *pos_key = json_object_get(root, "n_positions") ? "n_positions" : "n_ctx";
    /* at least 2: a context of 1 token holds no (context, next token) pair to score */
    if ((st = get_int(root, pos_key, 2, 1 << 20, &c->n_positions, path))) return st;
    json_t *inner = json_object_get(root, "n_inner");
    c->n_inner = 4 * c->n_embd;
    if (inner && !json_is_null(inner) && (st = get_int(root, "n_inner", 1, 1 << 20, &c->n_inner, path)))
        return st;
    json_t *eps = json_object_get(root, "layer_norm_epsilon");
    c->ln_eps = 1e-5f;
    if (eps) {
        if (!json_is_number(eps)) return hs_err(HS_EINPUT, "%s: \"layer_norm_epsilon\" is not a number", path);
        double e = json_number_value(eps);
        float f = (float)e; /* checked as the float the kernels use: 1e-50 would become 0 */
        if (!(e > 0 && e < 1 && f > 0 && f < 1))
            return hs_err(HS_EINPUT, "%s: layer_norm_epsilon %g is out of range (0, 1) as a float", path, e);
        c->ln_eps = f;
    }
    if (c->n_embd % c->n_head)
        return hs_err(HS_EINPUT, "%s: n_embd %d is not a multiple of n_head %d", path, c->n_embd, c->n_head);
    if ((st = check_activation(root, path))) return st;
    if ((st = check_architecture(root, c, path))) return st;
    return read_tied(c, root, path);
}

hs_status hs_config_load(hs_config *cfg, const char *path)
{
    memset(cfg, 0, sizeof *cfg);
    json_error_t jerr;
    char *text; /* through hs_read_file: a regular file only (a FIFO hung json_load_file) */
    size_t len;
    hs_status rst = hs_read_file(path, &text, &len);
    if (rst) return rst;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root) return hs_err(HS_EINPUT, "%s:%d: not valid JSON: %s", path, jerr.line, jerr.text);
    hs_status st = json_is_object(root) ? read_fields(cfg, root, path)
                                        : hs_err(HS_EINPUT, "%s: not a JSON object", path);
    json_decref(root);
    return st;
}

hs_status hs_gating_parse(const char *s, hs_gating *out)
{
    if (!strcmp(s, "mask")) *out = HS_GATING_MASK;
    else if (!strcmp(s, "skip")) *out = HS_GATING_SKIP;
    else return hs_err(HS_EINPUT, "gating '%s': expected mask or skip", s);
    return HS_OK;
}

const char *hs_gating_name(hs_gating g) { return g == HS_GATING_SKIP ? "skip" : "mask"; }

hs_status hs_weights_parse(const char *s, hs_weights *out)
{
    if (!strcmp(s, "f32")) *out = HS_WEIGHTS_F32;
    else if (!strcmp(s, "bf16")) *out = HS_WEIGHTS_BF16;
    else if (!strcmp(s, "int8")) *out = HS_WEIGHTS_INT8;
    else if (!strcmp(s, "w8a8")) *out = HS_WEIGHTS_W8A8;
    else return hs_err(HS_EINPUT, "weights '%s': expected f32, bf16, int8 or w8a8", s);
    return HS_OK;
}

const char *hs_weights_name(hs_weights w)
{
    return w == HS_WEIGHTS_BF16 ? "bf16" : w == HS_WEIGHTS_INT8 ? "int8" : w == HS_WEIGHTS_W8A8 ? "w8a8" : "f32";
}

double hs_model_flops_per_token(const hs_config *c, int live_heads, int t)
{
    /* 2 FLOPs per multiply-add. Per layer: QKV and c_proj scale with live heads, MLP is
     * fixed, attention over t cached keys costs 2*t*D for scores and again for values. */
    double C = c->n_embd, D = (double)c->n_embd / c->n_head, F = c->n_inner;
    double per_live_head = 2.0 * C * 3 * D + 2.0 * D * C + 4.0 * t * D;
    double fixed_per_layer = 2.0 * 2 * C * F;
    return live_heads * per_live_head + c->n_layer * fixed_per_layer + 2.0 * C * c->vocab_size;
}
