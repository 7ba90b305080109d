/* fuzz_st_parse.c: hs_st_parse (the safetensors header and its data offsets) on
 * arbitrary bytes. Besides "no crash, no leak, HS_OK or HS_EINPUT naming the file", an
 * accepted file must give an index that the rest of the loader can trust: every tensor
 * inside the data section, byte counts matching shape x dtype, names sorted and found
 * by hs_st_find, and no two tensors sharing a byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "headsweep/safetensors.h"

#define PATH "fuzz.safetensors"

/* Element sizes as the safetensors format defines them (an independent table). */
static size_t elem_size(const char *dt)
{
    static const struct { const char *n; size_t sz; } t[] = {
        {"F64", 8}, {"I64", 8}, {"U64", 8}, {"F32", 4}, {"I32", 4}, {"U32", 4},
        {"F16", 2}, {"BF16", 2}, {"I16", 2}, {"U16", 2}, {"I8", 1}, {"U8", 1},
        {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(dt, t[i].n)) return t[i].sz;
    return 0;
}

static int by_start(const void *a, const void *b)
{
    const hs_st_tensor *x = *(const hs_st_tensor *const *)a, *y = *(const hs_st_tensor *const *)b;
    return x->data < y->data ? -1 : x->data > y->data;
}

static void check_tensor(const hs_st_index *idx, size_t i, const uint8_t *lo, const uint8_t *hi)
{
    const hs_st_tensor *t = &idx->tensors[i];
    FZ_CHECK(t->name && strcmp(t->name, "__metadata__"), "tensor %zu has no name or is __metadata__", i);
    FZ_CHECK(t->ndim >= 0 && t->ndim <= HS_ST_MAX_DIMS, "%s: ndim %d", t->name, t->ndim);
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        FZ_CHECK(t->shape[d] >= 0, "%s: negative dimension", t->name);
        n *= t->shape[d];
    }
    FZ_CHECK(n == t->n_elems, "%s: n_elems %lld, shape gives %lld", t->name, (long long)t->n_elems, (long long)n);
    size_t esz = elem_size(t->dtype_name);
    FZ_CHECK(esz, "%s: accepted unknown dtype '%s'", t->name, t->dtype_name);
    FZ_CHECK((uint64_t)t->n_elems * esz == t->nbytes, "%s: %zu bytes for %lld x %zu", t->name, t->nbytes,
             (long long)t->n_elems, esz);
    FZ_CHECK(t->data >= lo && t->data <= hi && t->nbytes <= (size_t)(hi - t->data),
             "%s: data outside the data section", t->name);
    fz_touch(t->data, t->nbytes);
    if (i > 0) FZ_CHECK(strcmp(idx->tensors[i - 1].name, t->name) < 0, "names not sorted at %s", t->name);
    FZ_CHECK(hs_st_find(idx, t->name) == t, "hs_st_find(%s) misses it", t->name);
}

/* No byte of the data section belongs to two tensors (empty tensors own no byte). */
static void check_no_overlap(const hs_st_index *idx)
{
    const hs_st_tensor **order = malloc((idx->n + 1) * sizeof *order);
    FZ_CHECK(order, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < idx->n; i++)
        if (idx->tensors[i].nbytes) order[k++] = &idx->tensors[i];
    qsort(order, k, sizeof *order, by_start);
    const hs_st_tensor *reach = NULL; /* the tensor that ends furthest so far */
    for (size_t i = 0; i < k; i++) {
        if (reach)
            FZ_CHECK(order[i]->data >= reach->data + reach->nbytes, "tensors %s and %s overlap but were accepted",
                     reach->name, order[i]->name);
        if (!reach || order[i]->data + order[i]->nbytes > reach->data + reach->nbytes) reach = order[i];
    }
    free(order);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_st_index idx;
    hs_err_clear();
    hs_status st = hs_st_parse(&idx, data, size, PATH);
    if (st) {
        fz_expect_input_error(st, PATH, NULL);
        FZ_CHECK(idx.n == 0 && idx.tensors == NULL, "a failed parse left an index behind");
        return 0;
    }
    fz_trace(HS_OK);
    FZ_CHECK(size >= 8, "accepted a file of %zu bytes", size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
    FZ_CHECK(hlen <= size - 8, "accepted a header past the end");
    for (size_t i = 0; i < idx.n; i++) check_tensor(&idx, i, data + 8 + hlen, data + size);
    check_no_overlap(&idx);
    FZ_CHECK(hs_st_find(&idx, "__metadata__") == NULL, "__metadata__ listed as a tensor");
    hs_st_free(&idx);
    FZ_CHECK(idx.n == 0 && idx.tensors == NULL, "hs_st_free left the index set");
    return 0;
}
