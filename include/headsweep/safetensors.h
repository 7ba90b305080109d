/* safetensors.h: the safetensors container (8-byte little-endian header length, a JSON
 * header mapping tensor names to {dtype, shape, data_offsets}, then raw little-endian
 * data). Parsing validates everything a hostile or truncated file could get wrong:
 * header past the end, header not a JSON object, unknown dtype, offsets out of range,
 * overlapping or not matching the shape. */
#ifndef HEADSWEEP_SAFETENSORS_H
#define HEADSWEEP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "headsweep/util.h"

#define HS_ST_MAX_DIMS 8

typedef enum { HS_DT_F32, HS_DT_F16, HS_DT_BF16, HS_DT_OTHER } hs_dtype;

typedef struct {
    char *name;
    hs_dtype dtype;
    char dtype_name[16];
    int ndim;
    int64_t shape[HS_ST_MAX_DIMS];
    int64_t n_elems;
    const uint8_t *data; /* (nbytes) inside the mapping */
    size_t nbytes;
} hs_st_tensor;

typedef struct {
    hs_st_tensor *tensors; /* (n) sorted by name */
    size_t n;
} hs_st_index;

/* Parses the header of a safetensors image of size bytes; path is used in messages.
 * Tensors keep pointers into data, which must outlive the index. */
hs_status hs_st_parse(hs_st_index *idx, const uint8_t *data, size_t size, const char *path);
void hs_st_free(hs_st_index *idx);
/* Finds a tensor by exact name; NULL when absent. */
const hs_st_tensor *hs_st_find(const hs_st_index *idx, const char *name);
size_t hs_dtype_size(hs_dtype dt);

#endif
