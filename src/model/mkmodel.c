/* mkmodel.c: random GPT-2 checkpoints in the Hugging Face layout, for tests and
 * benchmarks on machines where no real checkpoint can be downloaded.
 *
 * Weights are normal(0, 0.02) as GPT-2 initialises them; biases and LayerNorm
 * parameters get the same noise around GPT-2's 0 / 1 so that reference tests exercise
 * every parameter. The vocabulary is a synthetic byte-level BPE (256 byte tokens, then
 * merges of letter strings, <|endoftext|> last) written as vocab.json + merges.txt, so
 * every command, the tokenizer included, works on the result. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <strings.h>
#include <sys/stat.h>

#include "headsweep/model.h"
#include "headsweep/tokenizer.h"

typedef struct {
    const char *name;
    int L, H, C, T, V;
} shape_def;

static const shape_def shapes[] = {
    {"tiny", 2, 4, 64, 128, 1024},
    {"distilgpt2", 6, 12, 768, 1024, 50257},
    {"gpt2", 12, 12, 768, 1024, 50257},
    {"gpt2-medium", 24, 16, 1024, 1024, 50257},
    {"gpt2-large", 36, 20, 1280, 1024, 50257},
    {"gpt2-xl", 48, 25, 1600, 1024, 50257},
};

/* splitmix64: small, seedable, and the same on every platform. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s) { return ((rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static float rng_normal(uint64_t *s)
{
    /* Box-Muller; one value per call keeps the stream simple to reproduce. */
    double u = rng_uniform(s), v = rng_uniform(s);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* Appends the byte-level (bytes_to_unicode) UTF-8 spelling of raw bytes to out. */
static void unicode_spelling(const char *raw, size_t n, char *out)
{
    size_t k = strlen(out);
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = hs_bytelevel_char((uint8_t)raw[i]);
        if (cp < 0x80) out[k++] = (char)cp;
        else {
            out[k++] = (char)(0xc0 | (cp >> 6));
            out[k++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    out[k] = '\0';
}

#define TOKMAX 12

typedef struct {
    char (*tok)[TOKMAX + 1]; /* (n) raw bytes of each token, NUL-terminated (no NUL inside merges) */
    int *left, *right;       /* (n) merge parts, -1 for byte tokens */
    int n;
    int *table;              /* (cap) open-addressing set of merged tokens' ids, -1 empty */
    size_t cap;
} synth_vocab;

static size_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

/* Returns 1 when s is already a token; otherwise records id under s and returns 0. */
static int vocab_insert(synth_vocab *v, const char *s, int id)
{
    size_t i = str_hash(s) & (v->cap - 1);
    for (; v->table[i] >= 0; i = (i + 1) & (v->cap - 1))
        if (!strcmp(v->tok[v->table[i]], s)) return 1;
    v->table[i] = id;
    return 0;
}

/* Merges: words of lowercase letters, optionally with a leading space, built by joining
 * an existing word token with a continuation token. Deterministic for a seed. */
static hs_status vocab_build(synth_vocab *v, int n_tokens, uint64_t seed)
{
    v->tok = calloc((size_t)n_tokens, sizeof *v->tok);
    v->left = malloc((size_t)n_tokens * sizeof(int));
    v->right = malloc((size_t)n_tokens * sizeof(int));
    for (v->cap = 1024; v->cap < 2 * (size_t)n_tokens; v->cap *= 2) {}
    v->table = malloc(v->cap * sizeof(int));
    if (!v->tok || !v->left || !v->right || !v->table) return hs_err(HS_ENOMEM, "out of memory for the vocabulary");
    memset(v->table, 0xff, v->cap * sizeof(int));
    for (int b = 0; b < 256; b++) {
        v->tok[b][0] = (char)b;
        v->left[b] = v->right[b] = -1;
    }
    v->n = 256;
    uint64_t s = seed ^ 0x5eedb9eull;
    while (v->n < n_tokens - 1) {
        int a = (int)(rng_next(&s) % (uint64_t)v->n), b = (int)(rng_next(&s) % (uint64_t)v->n);
        if (a < 256 && !(a == ' ' || (a >= 'a' && a <= 'z'))) a = 'a' + (int)(rng_next(&s) % 26);
        if (b < 256 && !(b >= 'a' && b <= 'z')) b = 'a' + (int)(rng_next(&s) % 26);
        if (v->tok[b][0] == ' ') continue; /* a space only starts a word */
        size_t la = strlen(v->tok[a]), lb = strlen(v->tok[b]);
        if (la + lb > TOKMAX) continue;
        memcpy(v->tok[v->n], v->tok[a], la);
        memcpy(v->tok[v->n] + la, v->tok[b], lb + 1);
        if (vocab_insert(v, v->tok[v->n], v->n)) continue;
        v->left[v->n] = a;
        v->right[v->n] = b;
        v->n++;
    }
    return HS_OK;
}

static void vocab_free(synth_vocab *v)
{
    free(v->tok);
    free(v->left);
    free(v->right);
    free(v->table);
}

static size_t tok_len(const synth_vocab *v, int i) { return i < 256 ? 1 : strlen(v->tok[i]); }

static hs_status write_vocab(const synth_vocab *v, const char *dir)
{
    char *vp = hs_path_join(dir, "vocab.json"), *mp = hs_path_join(dir, "merges.txt");
    json_t *obj = json_object();
    hs_status st = (!vp || !mp || !obj) ? hs_err(HS_ENOMEM, "out of memory writing the vocabulary") : HS_OK;
    char spell[TOKMAX * 2 + 1];
    for (int i = 0; i < v->n && !st; i++) {
        spell[0] = '\0';
        unicode_spelling(v->tok[i], tok_len(v, i), spell);
        json_object_set_new(obj, spell, json_integer(i));
    }
    json_object_set_new(obj, "<|endoftext|>", json_integer(v->n));
    if (!st && json_dump_file(obj, vp, JSON_PRESERVE_ORDER | JSON_COMPACT) != 0)
        st = hs_err(HS_EIO, "%s: cannot write", vp);
    FILE *f = st ? NULL : fopen(mp, "w");
    if (!st && !f) st = hs_err(HS_EIO, "%s: cannot open for writing", mp);
    if (f) {
        fprintf(f, "#version: 0.2\n");
        for (int i = 256; i < v->n; i++) {
            char a[TOKMAX * 2 + 1] = "", b[TOKMAX * 2 + 1] = "";
            unicode_spelling(v->tok[v->left[i]], tok_len(v, v->left[i]), a);
            unicode_spelling(v->tok[v->right[i]], tok_len(v, v->right[i]), b);
            fprintf(f, "%s %s\n", a, b);
        }
        if (fclose(f) != 0) st = hs_err(HS_EIO, "%s: write failed", mp);
    }
    json_decref(obj);
    free(vp);
    free(mp);
    return st;
}

static const shape_def *shape_find(const char *name)
{
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(shapes[i].name, name)) return &shapes[i];
    return NULL;
}

static hs_status write_config(const shape_def *sd, const char *dir)
{
    char *p = hs_path_join(dir, "config.json");
    if (!p) return HS_ENOMEM;
    json_t *o = json_pack("{s:s, s:[s], s:i, s:i, s:i, s:i, s:i, s:i, s:n, s:f, s:s, s:i, s:i}",
                          "model_type", "gpt2", "architectures", "GPT2LMHeadModel",
                          "n_embd", sd->C, "n_head", sd->H, "n_layer", sd->L, "n_positions", sd->T,
                          "n_ctx", sd->T, "vocab_size", sd->V, "n_inner", "layer_norm_epsilon", 1e-5,
                          "activation_function", "gelu_new", "bos_token_id", sd->V - 1,
                          "eos_token_id", sd->V - 1);
    hs_status st = HS_OK;
    if (!o) st = hs_err(HS_EINTERNAL, "cannot build config.json");
    else if (json_dump_file(o, p, JSON_PRESERVE_ORDER | JSON_INDENT(2)) != 0)
        st = hs_err(HS_EIO, "%s: cannot write", p);
    json_decref(o);
    free(p);
    return st;
}

/* One tensor to write: its name, 2-D or 1-D shape, and the mean of its values. */
typedef struct {
    char name[48];
    int64_t d0, d1;
    float mean;
} mk_tensor;

static int mk_tensors(const shape_def *sd, mk_tensor *t)
{
    int64_t C = sd->C, F = 4 * (int64_t)sd->C;
    int n = 0;
#define T(nm, a, b, mu) (snprintf(t[n].name, sizeof t[n].name, "%s", nm), t[n].d0 = a, t[n].d1 = b, t[n].mean = mu, n++)
    T("wte.weight", sd->V, C, 0);
    T("wpe.weight", sd->T, C, 0);
    for (int l = 0; l < sd->L; l++) {
        static const char *sfx[] = {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                                    "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                                    "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"};
        int64_t d0[] = {C, C, C, 3 * C, C, C, C, C, C, F, F, C};
        int64_t d1[] = {0, 0, 3 * C, 0, C, 0, 0, 0, F, 0, C, 0};
        for (int k = 0; k < 12; k++) {
            char nm[48];
            snprintf(nm, sizeof nm, "h.%d.%s", l, sfx[k]);
            T(nm, d0[k], d1[k], (k == 0 || k == 6) ? 1.0f : 0.0f);
        }
    }
    T("ln_f.weight", C, 0, 1.0f);
    T("ln_f.bias", C, 0, 0);
#undef T
    return n;
}

static hs_status write_header(FILE *f, const mk_tensor *t, int n, size_t esz, const char *dtype, const char *path)
{
    json_t *root = json_object(), *meta = json_pack("{s:s}", "format", "pt");
    json_object_set_new(root, "__metadata__", meta);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        uint64_t bytes = (uint64_t)t[i].d0 * (uint64_t)(t[i].d1 ? t[i].d1 : 1) * esz;
        json_t *shape = t[i].d1 ? json_pack("[I,I]", (json_int_t)t[i].d0, (json_int_t)t[i].d1)
                                : json_pack("[I]", (json_int_t)t[i].d0);
        json_object_set_new(root, t[i].name, json_pack("{s:s, s:o, s:[I,I]}", "dtype", dtype, "shape", shape,
                                                       "data_offsets", (json_int_t)off, (json_int_t)(off + bytes)));
        off += bytes;
    }
    char *txt = json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(root);
    if (!txt) return hs_err(HS_ENOMEM, "cannot build the safetensors header");
    size_t len = strlen(txt), padded = (len + 7) & ~(size_t)7;
    uint8_t lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    int ok = fwrite(lenbuf, 1, 8, f) == 8 && fwrite(txt, 1, len, f) == len;
    for (size_t i = len; i < padded && ok; i++) ok = fputc(' ', f) != EOF;
    free(txt);
    return ok ? HS_OK : hs_err(HS_EIO, "%s: write failed", path);
}

/* Streams random values in chunks so that even gpt2-xl never sits in memory twice. */
static hs_status write_values(FILE *f, const mk_tensor *t, int dt, uint64_t *rng, const char *path)
{
    enum { CHUNK = 1 << 16 };
    static uint8_t buf[CHUNK * 4];
    int64_t n = t->d0 * (t->d1 ? t->d1 : 1);
    size_t esz = dt == 0 ? 4 : 2;
    for (int64_t done = 0; done < n;) {
        int64_t k = n - done < CHUNK ? n - done : CHUNK;
        for (int64_t i = 0; i < k; i++) {
            float x = t->mean + 0.02f * rng_normal(rng);
            uint16_t h = dt == 1 ? hs_f32_to_f16(x) : hs_f32_to_bf16(x);
            if (dt == 0) memcpy(buf + 4 * i, &x, 4);
            else buf[2 * i] = (uint8_t)h, buf[2 * i + 1] = (uint8_t)(h >> 8);
        }
        if (fwrite(buf, esz, (size_t)k, f) != (size_t)k) return hs_err(HS_EIO, "%s: write failed (disk full?)", path);
        done += k;
    }
    return HS_OK;
}

static hs_status write_safetensors(const shape_def *sd, const char *dir, uint64_t seed, int dt)
{
    static const char *dtn[] = {"F32", "F16", "BF16"};
    mk_tensor *t = calloc((size_t)(4 + 12 * sd->L), sizeof *t);
    char *p = hs_path_join(dir, "model.safetensors");
    if (!t || !p) {
        free(t);
        free(p);
        return hs_err(HS_ENOMEM, "out of memory");
    }
    int n = mk_tensors(sd, t);
    FILE *f = fopen(p, "wb");
    hs_status st =
        f ? write_header(f, t, n, dt == 0 ? 4 : 2, dtn[dt], p) : hs_err(HS_EIO, "%s: cannot open for writing", p);
    uint64_t rng = seed;
    for (int i = 0; i < n && !st; i++) st = write_values(f, &t[i], dt, &rng, p);
    if (f && fclose(f) != 0 && !st) st = hs_err(HS_EIO, "%s: write failed (disk full?)", p);
    free(t);
    free(p);
    return st;
}

hs_status hs_model_make_random(const char *dir, const char *shape, uint64_t seed, const char *dtype)
{
    const shape_def *sd = shape_find(shape);
    if (!sd)
        return hs_err(HS_EINPUT, "unknown shape '%s' (tiny, distilgpt2, gpt2, gpt2-medium, gpt2-large, gpt2-xl)",
                      shape);
    int dt = !strcasecmp(dtype, "f32") ? 0 : !strcasecmp(dtype, "f16") ? 1 : !strcasecmp(dtype, "bf16") ? 2 : -1;
    if (dt < 0) return hs_err(HS_EINPUT, "unknown dtype '%s' (f32, f16, bf16)", dtype);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return hs_err(HS_EIO, "%s: cannot create directory: %s", dir, strerror(errno));
    synth_vocab v = {0};
    hs_status st = vocab_build(&v, sd->V, seed);
    if (!st) st = write_vocab(&v, dir);
    vocab_free(&v);
    if (!st) st = write_config(sd, dir);
    if (!st) st = write_safetensors(sd, dir, seed, dt);
    return st;
}
