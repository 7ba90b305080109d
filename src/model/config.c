/* config.c: GPT-2 config.json as Hugging Face writes it. Values outside what any GPT-2
 * checkpoint could have are refused, so a corrupt config fails here and not in a kernel. */
#include <jansson.h>
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

static hs_status read_fields(hs_config *c, json_t *root, const char *path)
{
    hs_status st;
    if ((st = get_int(root, "n_embd", 1, 1 << 16, &c->n_embd, path))) return st;
    if ((st = get_int(root, "n_head", 1, 1024, &c->n_head, path))) return st;
    if ((st = get_int(root, "n_layer", 1, 1024, &c->n_layer, path))) return st;
    if ((st = get_int(root, "vocab_size", 1, 1 << 22, &c->vocab_size, path))) return st;
    const char *pos_key = json_object_get(root, "n_positions") ? "n_positions" : "n_ctx";
    if ((st = get_int(root, pos_key, 1, 1 << 20, &c->n_positions, path))) return st;
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
    return check_activation(root, path);
}

hs_status hs_config_load(hs_config *cfg, const char *path)
{
    memset(cfg, 0, sizeof *cfg);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (strstr(jerr.text, "unable to open"))
            return hs_err(HS_EINPUT, "%s: cannot open (a model directory needs config.json)", path);
        return hs_err(HS_EINPUT, "%s:%d: not valid JSON: %s", path, jerr.line, jerr.text);
    }
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
