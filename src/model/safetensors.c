/* safetensors.c: validating parser of the safetensors header (see safetensors.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/safetensors.h"

/* Headers of real checkpoints are a few hundred kB; refuse absurd lengths early. */
#define HS_ST_MAX_HEADER (100u << 20)

size_t hs_dtype_size(hs_dtype dt)
{
    switch (dt) {
    case HS_DT_F32: return 4;
    case HS_DT_F16:
    case HS_DT_BF16: return 2;
    default: return 0;
    }
}

static hs_dtype dtype_parse(const char *s)
{
    if (!strcmp(s, "F32")) return HS_DT_F32;
    if (!strcmp(s, "F16")) return HS_DT_F16;
    if (!strcmp(s, "BF16")) return HS_DT_BF16;
    return HS_DT_OTHER;
}

/* Element size of dtypes we do not compute with but must still validate/skip. */
static size_t other_dtype_size(const char *s)
{
    static const struct { const char *n; size_t sz; } t[] = {
        {"F64", 8}, {"I64", 8}, {"U64", 8}, {"I32", 4}, {"U32", 4}, {"I16", 2},
        {"U16", 2}, {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(s, t[i].n)) return t[i].sz;
    return 0;
}

static int get_u64(json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

static hs_status parse_shape(hs_st_tensor *t, json_t *shape, const char *path)
{
    if (!json_is_array(shape) || json_array_size(shape) > HS_ST_MAX_DIMS)
        return hs_err(HS_EINPUT, "%s: tensor %s: shape is not an array of at most %d integers",
                      path, t->name, HS_ST_MAX_DIMS);
    t->ndim = (int)json_array_size(shape);
    t->n_elems = 1;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t v;
        if (!get_u64(json_array_get(shape, (size_t)d), &v) || v > (1ull << 40))
            return hs_err(HS_EINPUT, "%s: tensor %s: shape[%d] is not a sane non-negative integer",
                          path, t->name, d);
        t->shape[d] = (int64_t)v;
        if (v && (uint64_t)t->n_elems > (1ull << 50) / v)
            return hs_err(HS_EINPUT, "%s: tensor %s: shape too large", path, t->name);
        t->n_elems *= (int64_t)v;
    }
    return HS_OK;
}

static hs_status parse_entry(hs_st_tensor *t, json_t *obj, const uint8_t *base,
                             size_t data_size, const char *path)
{
    if (!json_is_object(obj)) return hs_err(HS_EINPUT, "%s: tensor %s: entry is not an object", path, t->name);
    json_t *dt = json_object_get(obj, "dtype"), *offs = json_object_get(obj, "data_offsets");
    if (!json_is_string(dt)) return hs_err(HS_EINPUT, "%s: tensor %s: missing dtype", path, t->name);
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", json_string_value(dt));
    t->dtype = dtype_parse(t->dtype_name);
    size_t esz = t->dtype == HS_DT_OTHER ? other_dtype_size(t->dtype_name) : hs_dtype_size(t->dtype);
    if (!esz) return hs_err(HS_EINPUT, "%s: tensor %s: unknown dtype '%s'", path, t->name, t->dtype_name);
    hs_status st = parse_shape(t, json_object_get(obj, "shape"), path);
    if (st) return st;
    uint64_t b, e;
    if (!json_is_array(offs) || json_array_size(offs) != 2 || !get_u64(json_array_get(offs, 0), &b) ||
        !get_u64(json_array_get(offs, 1), &e))
        return hs_err(HS_EINPUT, "%s: tensor %s: data_offsets is not [begin, end]", path, t->name);
    if (b > e || e > data_size)
        return hs_err(HS_EINPUT, "%s: tensor %s: data_offsets [%llu, %llu] out of range (data size %zu)",
                      path, t->name, (unsigned long long)b, (unsigned long long)e, data_size);
    if ((uint64_t)t->n_elems * esz != e - b)
        return hs_err(HS_EINPUT, "%s: tensor %s: data_offsets [%llu, %llu] hold %llu bytes, shape and %s need %llu",
                      path, t->name, (unsigned long long)b, (unsigned long long)e,
                      (unsigned long long)(e - b), t->dtype_name,
                      (unsigned long long)((uint64_t)t->n_elems * esz));
    t->data = base + b;
    t->nbytes = (size_t)(e - b);
    return HS_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const hs_st_tensor *)a)->name, ((const hs_st_tensor *)b)->name);
}

static int by_offset(const void *a, const void *b)
{
    const hs_st_tensor *x = *(const hs_st_tensor *const *)a, *y = *(const hs_st_tensor *const *)b;
    return x->data < y->data ? -1 : x->data > y->data;
}

/* Two tensors may not share bytes: a writer bug or a crafted file. */
static hs_status check_overlap(const hs_st_index *idx, const char *path)
{
    if (idx->n < 2) return HS_OK;
    const hs_st_tensor **order = hs_malloc(idx->n * sizeof *order, "tensor order");
    if (!order) return HS_ENOMEM;
    for (size_t i = 0; i < idx->n; i++) order[i] = &idx->tensors[i];
    qsort(order, idx->n, sizeof *order, by_offset);
    /* Compare with the non-empty tensor that reaches furthest so far: an empty tensor
     * (no bytes) between two overlapping ones must not hide the overlap. */
    hs_status st = HS_OK;
    const hs_st_tensor *reach = NULL;
    for (size_t i = 0; i < idx->n && !st; i++) {
        const hs_st_tensor *t = order[i];
        if (!t->nbytes) continue;
        if (reach && reach->data + reach->nbytes > t->data)
            st = hs_err(HS_EINPUT, "%s: tensors %s and %s overlap", path, reach->name, t->name);
        if (!reach || t->data + t->nbytes > reach->data + reach->nbytes) reach = t;
    }
    free(order);
    return st;
}

static hs_status parse_header(hs_st_index *idx, json_t *root, const uint8_t *base,
                              size_t data_size, const char *path)
{
    idx->tensors = hs_calloc(json_object_size(root), sizeof *idx->tensors, "tensor index");
    if (!idx->tensors) return HS_ENOMEM;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) continue;
        hs_st_tensor *t = &idx->tensors[idx->n++];
        if (!(t->name = hs_strdup(key))) return HS_ENOMEM;
        hs_status st = parse_entry(t, val, base, data_size, path);
        if (st) return st;
    }
    qsort(idx->tensors, idx->n, sizeof *idx->tensors, by_name);
    return check_overlap(idx, path);
}

hs_status hs_st_parse(hs_st_index *idx, const uint8_t *data, size_t size, const char *path)
{
    memset(idx, 0, sizeof *idx);
    if (size < 8)
        return hs_err(HS_EINPUT, "%s: truncated: %zu bytes, a safetensors file starts with an 8-byte header length",
                      path, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
    if (hlen > size - 8)
        return hs_err(HS_EINPUT, "%s: header length %llu past the end of the file (size %zu)", path,
                      (unsigned long long)hlen, size);
    if (hlen > HS_ST_MAX_HEADER)
        return hs_err(HS_EINPUT, "%s: header length %llu is absurd", path, (unsigned long long)hlen);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return hs_err(HS_EINPUT, "%s: header is not valid JSON: %s (at byte %d)", path, jerr.text, jerr.position);
    hs_status st = HS_OK;
    if (!json_is_object(root))
        st = hs_err(HS_EINPUT, "%s: header is not a JSON object", path);
    else
        st = parse_header(idx, root, data + 8 + hlen, size - 8 - (size_t)hlen, path);
    json_decref(root);
    if (st) hs_st_free(idx);
    return st;
}

void hs_st_free(hs_st_index *idx)
{
    if (!idx) return;
    for (size_t i = 0; i < idx->n; i++) free(idx->tensors[i].name);
    free(idx->tensors);
    memset(idx, 0, sizeof *idx);
}

const hs_st_tensor *hs_st_find(const hs_st_index *idx, const char *name)
{
    hs_st_tensor key = {.name = (char *)name};
    return bsearch(&key, idx->tensors, idx->n, sizeof key, by_name);
}
