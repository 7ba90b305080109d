/* results.c: the results file (docs/results-format.md); the only code that calls HDF5.
 *
 * Why a kill -9 at any moment leaves a usable file:
 *  - A new file is built in memory, written under a temporary name, fsync'ed and
 *    renamed, so the output path either does not exist or holds the whole structure,
 *    and a full disk shows up as one failed write() naming the file.
 *  - Every dataset is allocated and filled at creation (NaN, -1, 0), every chunk with
 *    it. After that a cell only overwrites chunks in place with chunks of the same size
 *    (fletcher32 adds 4 bytes whatever the data): no HDF5 metadata changes while a sweep
 *    runs, so there is no half-written B-tree or heap for a kill to leave behind. The
 *    few attributes a run updates (runs, hosts, updated_utc, ...) have fixed sizes and
 *    are rewritten in place at the start and end of a run.
 *  - A cell's data is flushed and fsync'ed before its /cells/done flag is set, so a
 *    flag never stands for data that is not on disk; a cell killed half-written is not
 *    done and is computed again.
 * Why damage on disk is never used silently: every dataset has the fletcher32 filter
 * (each chunk carries a checksum HDF5 verifies on every read), and the file format is
 * that of HDF5 1.8 (superblock version 2, version 2 object headers), whose metadata
 * carries checksums too. Opening a file reads every dataset once, so a damaged file is
 * refused up front (resume, merge) rather than half-way; the chunk index (a version 1
 * B-tree, which HDF5 does not checksum) is checked entry by entry (hs_h5_check_chunks). Every
 * string is fixed-length (schema 2): attribute text sits in the checksummed object headers and
 * labels in chunked fletcher32 datasets, so HDF5's unchecksummed global heap holds no text (only
 * the dimension scales' DIMENSION_LIST references, which headsweep's readers do not use and merge
 * writes afresh in its output: hs_results_reattach_scales). The 1.10
 * format would checksum the global heap too, but it marks a file "open for writing" in the
 * superblock, and a file whose writer was killed then needs h5clear before it opens again: a kill
 * must never make the file unusable. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "headsweep/version.h"
#include "headsweep/agency.h"
#include "headsweep/results.h"
#include "results_impl.h"

/* The layout comes from the schema table (schema.c, include/headsweep/results.h). */
enum { D_VARIANT = HS_RD_VARIANT, D_LEVEL = HS_RD_LEVEL, D_PROMPT = HS_RD_PROMPT, D_LAYER = HS_RD_LAYER,
       D_HEAD = HS_RD_HEAD, D_STATE = HS_RD_STATE, D_SHARD = HS_RD_SHARD, D_NEW_TOKEN = HS_RD_NEW_TOKEN,
       D_HEAD_DIM = HS_RD_HEAD_DIM, D_COUNT = HS_RD_COUNT };
enum { DS_GEN = HS_RDS_GEN, DS_OCC = HS_RDS_OCC, DS_DONE = HS_RDS_DONE, DS_RANK = HS_RDS_RANK, DS_HOST = HS_RDS_HOST,
       DS_SECONDS = HS_RDS_SECONDS, DS_FINISHED = HS_RDS_FINISHED, DS_RUN = HS_RDS_RUN, DS_PRUNED = HS_RDS_PRUNED,
       DS_SCORE = HS_RDS_SCORE, DS_TRANS = HS_RDS_TRANS, DS_VSCORE = HS_RDS_VSCORE,
       DS_MEANS = HS_RDS_MEANS, DS_PROMPT_TEXT = HS_RDS_PROMPT_TEXT, DS_REFERENCE_TEXT = HS_RDS_REFERENCE_TEXT,
       DS_GEN_TEXT = HS_RDS_GEN_TEXT, DS_PROMPT_INDEX = HS_RDS_PROMPT_INDEX, DS_PROMPT_LINE = HS_RDS_PROMPT_LINE,
       DS_PROMPT_BOOK = HS_RDS_PROMPT_BOOK, DS_COPIES_REQUESTED = HS_RDS_COPIES_REQUESTED,
       DS_COPIES_USED = HS_RDS_COPIES_USED, DS_COUNT = HS_RDS_COUNT };
typedef hs_results_dataset_def ds_layout;
#define layout hs_results_datasets
#define metric_layout hs_results_metric
#define dim_names(d) hs_results_dim_name(d)

struct hs_results {
    char *path;
    hid_t file;
    int writable;
    hs_grid grid;
    char *study;
    char *last_version;       /* git describe of the build that last wrote cells */
    char **variants;          /* (n_variants) */
    double *levels;           /* (n_levels) */
    char **prompts;           /* (n_prompts) */
    hs_prompt_row *rows;      /* (n_prompts) read by hs_results_prompt_rows, NULL before */
    char **books;             /* (n_prompts) /prompts/book, NULL when the file predates it */
    hid_t metric[HS_M_COUNT];
    hid_t ds[DS_COUNT];
};

/* ---- errors ---- */

/* HDF5's innermost error, reduced to the system's message when it carries one
 * ("... errno = 28, error message = 'No space left on device', ..."). */
static void h5_reason(char *out, size_t n)
{
    char detail[1024];
    hs_h5_innermost(detail, sizeof detail);
    H5Eclear2(H5E_DEFAULT);
    const char *em = strstr(detail, "error message = '");
    if (em) {
        em += strlen("error message = '");
        snprintf(out, n, "%.*s", (int)strcspn(em, "'"), em);
    } else {
        snprintf(out, n, "%s", detail);
    }
}

static hs_status h5_fail(const char *path, const char *fmt, ...) HS_PRINTF(2, 3);

/* The error of what (a failed step on path) with reason, HDF5's words for it. */
static hs_status h5_fail_because(const char *path, const char *what, const char *reason)
{
    if (strstr(reason, "checksum"))
        return hs_err(HS_EINPUT, "%s: %s failed: %s: the file is damaged (a checksum does not match); refusing to "
                                 "use it", path, what, reason);
    return hs_err(HS_EIO, "%s: %s failed%s%s", path, what, reason[0] ? ": " : "", reason);
}

/* The error of a failed HDF5 call, with HDF5's reason: call it before any other HDF5
 * call, which would clear the error stack. */
static hs_status h5_fail(const char *path, const char *fmt, ...)
{
    char what[512], reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    h5_reason(reason, sizeof reason);
    return h5_fail_because(path, what, reason);
}

static void h5_quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* we report errors ourselves, with the file name */
}

/* Releases a handle on a cleanup path. Datasets and files whose closing can write are
 * closed with checks where it matters (H5Fclose, datasets being created); a failure to
 * release a type, space, attribute or property list changes nothing on disk. */
static void close_id(hid_t id)
{
    if (id < 0) return;
    switch (H5Iget_type(id)) {
    case H5I_FILE: H5Fclose(id); break;
    case H5I_GROUP: H5Gclose(id); break;
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_ATTR: H5Aclose(id); break;
    case H5I_GENPROP_LST: H5Pclose(id); break;
    default: break;
    }
}

/* ---- types and attributes ---- */

/* A string type: variable length (n == 0, UTF-8) or n bytes, NUL-terminated. */
static hid_t string_type(size_t n)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, n ? n : H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0 ||
        H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* A memory type for reading the fixed-length strings of file type ft: n bytes in ft's
 * character set (HDF5 converts no ASCII to UTF-8: h5py writes bytes as ASCII). */
static hid_t string_type_as(hid_t ft, size_t n)
{
    hid_t t = string_type(n);
    H5T_cset_t cset = H5Tget_cset(ft);
    if (t >= 0 && (cset < 0 || H5Tset_cset(t, cset) < 0)) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* Writes attribute name of obj (n elements, 0: scalar), creating it when absent. */
/* 1 when attribute `name` exists with exactly `type` and n elements (n = 0: scalar), 0 when
 * it does not exist, or is deleted here because another tool rewrote it with another type or
 * shape (h5py writes a variable-length string where we keep a fixed-size one, and HDF5 cannot
 * convert between the two: sweep_guard), -1 on an HDF5 error. */
static htri_t attr_reusable(hid_t obj, const char *name, hid_t type, hsize_t n)
{
    htri_t exists = H5Aexists(obj, name);
    if (exists <= 0) return exists;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = a < 0 ? -1 : H5Aget_type(a);
    hid_t s = a < 0 ? -1 : H5Aget_space(a);
    htri_t same = t < 0 || s < 0 ? -1 : H5Tequal(t, type);
    if (same > 0) {
        hssize_t have = H5Sget_simple_extent_npoints(s);
        int rank = H5Sget_simple_extent_ndims(s);
        same = have < 0 || rank < 0 ? -1 : (n ? rank == 1 && (hsize_t)have == n : rank == 0);
    }
    close_id(s);
    close_id(t);
    close_id(a);
    if (same == 0 && H5Adelete(obj, name) < 0) return -1;
    return same;
}

static hs_status put_attr(hid_t obj, const char *path, const char *name, hid_t type, hsize_t n, const void *data)
{
    hid_t space = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    htri_t exists = space < 0 ? -1 : attr_reusable(obj, name, type, n);
    hid_t a = exists < 0 ? -1
              : exists   ? H5Aopen(obj, name, H5P_DEFAULT)
                         : H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t w = a < 0 ? -1 : H5Awrite(a, type, data);
    hs_status st = w < 0 ? h5_fail(path, "writing attribute %s", name) : HS_OK; /* before closing: see transfer() */
    close_id(a);
    close_id(space);
    return st;
}

/* n strings packed into one buffer of n fixed-size elements, each as long as the longest
 * string plus its NUL (*size): fixed-length strings keep text out of HDF5's unchecksummed global
 * heap. */
static char *pack_strings(const char *const *v, size_t n, size_t *size)
{
    *size = 1;
    for (size_t i = 0; i < n; i++)
        if (v[i] && strlen(v[i]) + 1 > *size) *size = strlen(v[i]) + 1;
    char *buf = hs_calloc(n ? n : 1, *size, "strings");
    for (size_t i = 0; buf && i < n; i++)
        if (v[i]) memcpy(buf + i * *size, v[i], strlen(v[i]));
    return buf;
}

/* n fixed-length strings as the attribute name of obj (n = 0: one scalar string, v[0]). */
static hs_status put_strs(hid_t obj, const char *path, const char *name, hsize_t n, const char *const *v)
{
    size_t size = 0;
    char *buf = pack_strings(v, n ? (size_t)n : 1, &size);
    if (!buf) return HS_ENOMEM;
    hid_t t = string_type(size);
    hs_status st = t < 0 ? h5_fail(path, "creating a string type") : put_attr(obj, path, name, t, n, buf);
    close_id(t);
    free(buf);
    return st;
}

static hs_status put_str(hid_t obj, const char *path, const char *name, const char *value)
{
    const char *v = value ? value : "";
    return put_strs(obj, path, name, 0, &v);
}

/* A fixed-size string attribute (rewritten in place by later runs); longer values are cut. */
static hs_status put_fixed_str(hid_t obj, const char *path, const char *name, const char *value, size_t size)
{
    char *buf = hs_calloc(1, size, "attribute");
    if (!buf) return HS_ENOMEM;
    snprintf(buf, size, "%s", value ? value : "");
    hid_t t = string_type(size);
    hs_status st = t < 0 ? h5_fail(path, "creating a string type") : put_attr(obj, path, name, t, 0, buf);
    close_id(t);
    free(buf);
    return st;
}

/* Attribute id of the attribute table (schema.c) on obj, by its name, type and size there:
 * n values (the length of its axis for one per variant or level, else 0: one), value a
 * string (const char *), n strings (const char *const *) or n numbers of the table's type. */
static hs_status put_def(hid_t obj, const char *path, int id, hsize_t n, const void *value)
{
    const hs_results_attr_def *a = &hs_results_attrs[id];
    HS_CHECK(!n == (a->per == HS_RA_ONE));
    switch (a->type) {
    case HS_RT_I32: return put_attr(obj, path, a->name, H5T_NATIVE_INT32, n, value);
    case HS_RT_U8: return put_attr(obj, path, a->name, H5T_NATIVE_UINT8, n, value);
    case HS_RT_U64: return put_attr(obj, path, a->name, H5T_NATIVE_UINT64, n, value);
    case HS_RT_F32: return put_attr(obj, path, a->name, H5T_NATIVE_FLOAT, n, value);
    default: break;
    }
    HS_CHECK(a->type == HS_RT_STRING);
    if (n) return put_strs(obj, path, a->name, n, value);
    return a->size ? put_fixed_str(obj, path, a->name, value, a->size) : put_str(obj, path, a->name, value);
}

/* One value of attribute id, checked against the table's type. */
static hs_status put_text(hid_t obj, const char *path, int id, const char *v)
{
    HS_CHECK(hs_results_attrs[id].type == HS_RT_STRING);
    return put_def(obj, path, id, 0, v);
}

static hs_status put_i32(hid_t obj, const char *path, int id, int32_t v)
{
    HS_CHECK(hs_results_attrs[id].type == HS_RT_I32);
    return put_def(obj, path, id, 0, &v);
}

static hs_status put_f32(hid_t obj, const char *path, int id, float v)
{
    HS_CHECK(hs_results_attrs[id].type == HS_RT_F32);
    return put_def(obj, path, id, 0, &v);
}

static hs_status put_u64(hid_t obj, const char *path, int id, uint64_t v)
{
    HS_CHECK(hs_results_attrs[id].type == HS_RT_U64);
    return put_def(obj, path, id, 0, &v);
}

static hs_status put_u8(hid_t obj, const char *path, int id, uint8_t v)
{
    HS_CHECK(hs_results_attrs[id].type == HS_RT_U8);
    return put_def(obj, path, id, 0, &v);
}

/* A variable-length string, anywhere: its text is in HDF5's global heap, which no
 * checksum covers and which HDF5 reads without checking a reference (the schema check
 * refuses them; this is the same refusal where a caller reads without it). */
static hs_status refuse_vlen(const char *path, const char *what, const char *name)
{
    return hs_err(HS_EINPUT, "%s: %s %s holds variable-length strings (HDF5's global heap, outside every "
                             "checksum); refusing to read it", path, what, name);
}

/* Reads a fixed-length string attribute into a new string. */
static hs_status get_str(hid_t obj, const char *path, const char *name, char **out)
{
    *out = NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = a < 0 ? -1 : H5Aget_type(a);
    htri_t vlen = ft < 0 ? -1 : H5Tis_variable_str(ft);
    hs_status st = HS_OK;
    if (vlen < 0 || H5Tget_class(ft) != H5T_STRING) {
        st = h5_fail(path, "reading string attribute %s", name);
    } else if (vlen) {
        st = refuse_vlen(path, "attribute", name);
    } else {
        size_t size = H5Tget_size(ft);
        hid_t mt = string_type_as(ft, size + 1);
        *out = hs_calloc(1, size + 1, "attribute");
        if (!*out) st = HS_ENOMEM;
        else if (mt < 0 || H5Aread(a, mt, *out) < 0) st = h5_fail(path, "reading attribute %s", name);
        close_id(mt);
    }
    close_id(ft);
    close_id(a);
    if (st) {
        free(*out);
        *out = NULL;
    }
    return st;
}

static hs_status get_scalar(hid_t obj, const char *path, const char *name, hid_t mem_type, void *out)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    herr_t r = a < 0 ? -1 : H5Aread(a, mem_type, out);
    hs_status st = r < 0 ? h5_fail(path, "reading attribute %s", name) : HS_OK; /* before closing */
    close_id(a);
    return st;
}

/* ---- datasets ---- */

static hsize_t dim_size(const hs_grid *g, int d)
{
    switch (d) {
    case D_VARIANT: return (hsize_t)g->n_variants;
    case D_LEVEL: return (hsize_t)g->n_levels;
    case D_PROMPT: return (hsize_t)g->n_prompts;
    case D_LAYER: return (hsize_t)g->n_layers;
    case D_HEAD: return (hsize_t)g->n_heads;
    case D_STATE: return HS_AG_NSTATES;
    case D_SHARD: return (hsize_t)g->n_shards;
    case D_HEAD_DIM: return (hsize_t)g->head_dim;
    default: return (hsize_t)g->max_new;
    }
}

static void layout_dims(const hs_grid *g, const ds_layout *l, hsize_t *dims)
{
    for (int i = 0; i < l->rank; i++) dims[i] = dim_size(g, l->dims[i]);
}

/* Chunk shape: one cell along the cell axes (variant, level, shard), so a cell rewrites
 * few chunks besides its own; other axes whole, halved until a chunk is at most
 * CHUNK_BYTES. 0 when some axis is empty (such a dataset cannot be chunked). */
#define CHUNK_BYTES 65536
static int chunk_dims(int nd, const hsize_t *dims, const int *axes, size_t elem, hsize_t *chunk)
{
    size_t bytes = elem;
    for (int i = 0; i < nd; i++) {
        if (dims[i] == 0) return 0;
        int cell_axis = axes && (axes[i] == D_VARIANT || axes[i] == D_LEVEL || axes[i] == D_SHARD);
        chunk[i] = cell_axis ? 1 : dims[i];
        bytes *= (size_t)chunk[i];
    }
    for (int i = 0; i < nd && bytes > CHUNK_BYTES; i++)
        while (chunk[i] > 1 && bytes > CHUNK_BYTES) {
            bytes = bytes / (size_t)chunk[i] * (size_t)((chunk[i] + 1) / 2);
            chunk[i] = (chunk[i] + 1) / 2;
        }
    return 1;
}

/* Creation properties of every dataset: chunked with a fletcher32 checksum per chunk,
 * allocated and filled now (fill may be NULL: HDF5's zero fill). HDF5 applies no filter
 * to variable-length strings (the /variant, /prompt, /state labels): those stay
 * contiguous. */
static hid_t checked_dcpl(int nd, const hsize_t *dims, const int *axes, hid_t type, const void *fill)
{
    hsize_t chunk[6];
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    size_t elem = H5Tget_size(type);
    htri_t vlen = H5Tis_variable_str(type);
    herr_t ok = dcpl < 0 || elem == 0 || vlen < 0 ? -1 : 0;
    if (ok >= 0 && !vlen && chunk_dims(nd, dims, axes, elem, chunk)) {
        ok = H5Pset_chunk(dcpl, nd, chunk);
        if (ok >= 0) ok = H5Pset_fletcher32(dcpl);
    }
    if (ok >= 0) ok = hs_h5_keep_compact(dcpl, 0);
    if (ok >= 0) ok = H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    if (ok >= 0) ok = H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
    if (ok >= 0 && fill) ok = H5Pset_fill_value(dcpl, type, fill);
    if (ok >= 0) ok = H5Pset_obj_track_times(dcpl, 0);
    if (ok < 0) {
        close_id(dcpl);
        return -1;
    }
    return dcpl;
}

/* CF's _FillValue (in the dataset's own type) where the fill marks a value not written yet
 * (NaN, -1), so that netCDF readers (xarray) mask it; 0-filled counters and flags have none. */
static hs_status put_missing(hid_t d, const char *path, hid_t type, const void *missing)
{
    return missing ? put_attr(d, path, "_FillValue", type, 0, missing) : HS_OK;
}

/* CF attributes of a dataset: units, long_name and, on fixed-length text, the _Encoding that
 * xarray needs to return str rather than bytes. */
static hs_status put_cf(hid_t d, const char *path, hid_t type, const char *units, const char *long_name)
{
    hs_status st = units ? put_text(d, path, HS_RA_UNITS, units) : HS_OK;
    if (!st && long_name) st = put_text(d, path, HS_RA_LONG_NAME, long_name);
    if (!st && H5Tget_class(type) == H5T_STRING) st = put_text(d, path, HS_RA_ENCODING, "utf-8");
    return st;
}

/* A dataset allocated and filled now, with its dimension scales attached. missing: the
 * fill value as CF's _FillValue, or NULL when the fill is real data (zero counts). The
 * scales name the dimensions: no DIMENSION_LABELS besides them. */
static hs_status create_dataset(hid_t file, const char *path, const char *name, const ds_layout *l,
                                const hs_grid *g, hid_t type, const void *fill, const void *missing,
                                const hid_t *scales, hid_t *out)
{
    hsize_t dims[6];
    layout_dims(g, l, dims);
    hid_t space = H5Screate_simple(l->rank, dims, NULL);
    hid_t dcpl = checked_dcpl(l->rank, dims, l->dims, type, fill);
    hid_t d = space < 0 || dcpl < 0 ? -1 : H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    close_id(dcpl);
    close_id(space);
    if (d < 0) return h5_fail(path, "creating dataset %s", name);
    hs_status st = put_cf(d, path, type, l->units, l->description);
    if (!st) st = put_missing(d, path, type, missing);
    if (st) {
        H5Dclose(d);
        return st;
    }
    for (int i = 0; i < l->rank; i++)
        if (H5DSattach_scale(d, scales[l->dims[i]], (unsigned)i) < 0) {
            H5Dclose(d);
            return h5_fail(path, "attaching dimension %s to %s", dim_names(l->dims[i]), name);
        }
    *out = d;
    return HS_OK;
}

/* Opens a dataset and checks its shape against the grid (guards against foreign files). */
static hs_status open_dataset(hid_t file, const char *path, const char *name, const ds_layout *l,
                              const hs_grid *g, hid_t *out)
{
    hsize_t want[6], have[6];
    layout_dims(g, l, want);
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    hid_t s = d < 0 ? -1 : H5Dget_space(d);
    int nd = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
    if (nd == l->rank && H5Sget_simple_extent_dims(s, have, NULL) < 0) nd = -1;
    hs_status st = d < 0 || nd < 0 ? h5_fail(path, "opening dataset %s", name) : HS_OK; /* before closing */
    close_id(s);
    if (st) {
        close_id(d);
        return st;
    }
    int same = nd == l->rank;
    for (int i = 0; same && i < nd; i++) same = have[i] == want[i];
    if (!same) {
        H5Dclose(d);
        return hs_err(HS_EINPUT, "%s: dataset %s does not have the shape its dimensions say (damaged file?)", path,
                      name);
    }
    *out = d;
    return HS_OK;
}

static hs_status write_all(hid_t d, const char *path, const char *name, hid_t mem_type, const void *data)
{
    return H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ? h5_fail(path, "writing %s", name) : HS_OK;
}

static hs_status read_all(hid_t d, const char *path, const char *name, hid_t mem_type, void *data)
{
    return H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ? h5_fail(path, "reading %s", name) : HS_OK;
}

/* ---- creating a file ---- */

typedef struct {
    const char *path;      /* the name users know (messages) */
    hid_t file;
    const hs_results_spec *spec;
    hid_t scales[D_COUNT];
} creator;

static hs_status make_scale(creator *c, int dim, hid_t file_type, hid_t mem_type, const void *data)
{
    hsize_t n = dim_size(&c->spec->grid, dim);
    char name[64];
    snprintf(name, sizeof name, "/%s", dim_names(dim));
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t dcpl = checked_dcpl(1, &n, NULL, file_type, NULL);
    hid_t d = space < 0 || dcpl < 0 ? -1 : H5Dcreate2(c->file, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    close_id(dcpl);
    close_id(space);
    if (d < 0) return h5_fail(c->path, "creating dimension %s", name);
    c->scales[dim] = d;
    if (H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) return h5_fail(c->path, "writing %s", name);
    if (H5DSset_scale(d, dim_names(dim)) < 0) return h5_fail(c->path, "making %s a dimension scale", name);
    return put_cf(d, c->path, file_type, hs_results_scales[dim].units, hs_results_scales[dim].description);
}

/* A label scale (variant, prompt, state): fixed-length strings, chunked with fletcher32 like
 * every dataset (checked_dcpl). */
static hs_status make_string_scale(creator *c, int dim, const char *const *labels)
{
    size_t size = 0;
    char *buf = pack_strings(labels, (size_t)dim_size(&c->spec->grid, dim), &size);
    if (!buf) return HS_ENOMEM;
    hid_t t = string_type(size);
    hs_status st = t < 0 ? h5_fail(c->path, "creating a string type") : make_scale(c, dim, t, t, buf);
    close_id(t);
    free(buf);
    return st;
}

static hs_status make_index_scale(creator *c, int dim)
{
    hsize_t n = dim_size(&c->spec->grid, dim);
    int32_t *v = hs_malloc(n * sizeof *v, "dimension");
    if (!v) return HS_ENOMEM;
    for (hsize_t i = 0; i < n; i++) v[i] = (int32_t)i;
    hs_status st = make_scale(c, dim, H5T_STD_I32LE, H5T_NATIVE_INT32, v);
    free(v);
    return st;
}

/* Per variant: gating and agency, and its pruning (strategy, per_layer,
 * keep_one_per_layer; strategy heads_off for an explicit list). */
static hs_status variant_attrs(creator *c)
{
    const hs_results_job *job = &c->spec->job;
    int nv = c->spec->grid.n_variants;
    const char **gating = hs_calloc((size_t)nv, sizeof *gating, "variant attributes");
    const char **strategy = hs_calloc((size_t)nv, sizeof *strategy, "variant attributes");
    uint8_t *flags = hs_calloc((size_t)nv * 3, 1, "variant attributes"); /* agency, per_layer, keep_one */
    hs_status st = !gating || !strategy || !flags ? HS_ENOMEM : HS_OK;
    for (int v = 0; !st && v < nv; v++) {
        const hs_results_variant *var = &job->variants[v];
        gating[v] = hs_gating_name(var->gating);
        strategy[v] = job->heads_off ? "heads_off" : hs_strategy_name(c->spec->scores[v].strategy);
        flags[v] = (uint8_t)var->agency_on;
        flags[nv + v] = (uint8_t)var->select.per_layer;
        flags[2 * nv + v] = (uint8_t)var->select.keep_one_per_layer;
    }
    hid_t d = c->scales[D_VARIANT];
    if (!st) st = put_def(d, c->path, HS_RA_GATING, (hsize_t)nv, gating);
    if (!st) st = put_def(d, c->path, HS_RA_AGENCY, (hsize_t)nv, flags);
    if (!st) st = put_def(d, c->path, HS_RA_VARIANT_STRATEGY, (hsize_t)nv, strategy);
    if (!st) st = put_def(d, c->path, HS_RA_VARIANT_PER_LAYER, (hsize_t)nv, flags + nv);
    if (!st) st = put_def(d, c->path, HS_RA_VARIANT_KEEP_ONE, (hsize_t)nv, flags + 2 * nv);
    free(gating);
    free(strategy);
    free(flags);
    return st;
}

static hs_status write_scales(creator *c)
{
    const hs_results_spec *s = c->spec;
    const hs_results_job *job = &s->job;
    const char **names = hs_calloc((size_t)s->grid.n_variants, sizeof *names, "variant names");
    static const char *const states[HS_AG_NSTATES] = {"active", "overloaded", "misaligned", "withdrawn"};
    hs_status st = !names ? HS_ENOMEM : HS_OK;
    for (int v = 0; !st && v < s->grid.n_variants; v++) names[v] = job->variants[v].name;
    if (!st) st = make_string_scale(c, D_VARIANT, names);
    if (!st) st = variant_attrs(c);
    if (!st) st = make_scale(c, D_LEVEL, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, job->levels);
    /* each_head: which head a level switches off alone (-1: a level of the strategies) */
    if (!st && job->level_head)
        st = put_def(c->scales[D_LEVEL], c->path, HS_RA_SINGLE_HEAD, (hsize_t)s->grid.n_levels, job->level_head);
    if (!st) st = make_string_scale(c, D_PROMPT, s->prompt_ids);
    if (!st) st = make_string_scale(c, D_STATE, states);
    for (int d = D_LAYER; !st && d < D_COUNT; d++)
        if (d != D_STATE && (d != D_HEAD_DIM || s->grid.head_dim)) st = make_index_scale(c, d);
    free(names);
    return st;
}

/* Where the switched-off heads came from: scores computed on the calibration set, a
 * scores file, or an explicit list. */
static hs_status heads_source_attrs(creator *c)
{
    const hs_results_job *job = &c->spec->job;
    const char *source = job->heads_off ? "heads_off" : job->scores_path ? "scores_file" : "computed";
    hs_status st = put_text(c->file, c->path, HS_RA_HEADS_SOURCE, source);
    if (!st) st = put_text(c->file, c->path, HS_RA_SCORES_PATH, job->scores_path ? job->scores_path : "");
    if (!st) st = put_text(c->file, c->path, HS_RA_SCORES_SHA256, c->spec->inputs->scores_sha256);
    if (!st) st = put_text(c->file, c->path, HS_RA_HEADS_OFF, job->heads_off ? job->heads_off : "");
    return st;
}

static hs_status provenance_attrs(creator *c)
{
    const hs_results_spec *s = c->spec;
    const hs_results_job *job = &s->job;
    hid_t f = c->file;
    const char *p = c->path;
    char now[HS_UTC_MAX], sha[65];
    hs_utc_now(now);
    hs_sha256_hex(s->study, strlen(s->study), sha);
    hs_status st = put_i32(f, p, HS_RA_SCHEMA_VERSION, HS_RESULTS_SCHEMA_VERSION);
    if (!st) st = put_text(f, p, HS_RA_CONVENTIONS, "CF-1.8"); /* units, long_name, _FillValue as CF defines them */
    if (!st) st = put_text(f, p, HS_RA_HEADSWEEP_VERSION, HS_VERSION);
    if (!st) st = put_text(f, p, HS_RA_GIT_DESCRIBE, HS_GIT_DESCRIBE);
    if (!st) st = put_text(f, p, HS_RA_CREATED_UTC, now);
    if (!st) st = put_text(f, p, HS_RA_JOB_NAME, job->name);
    if (!st) st = put_text(f, p, HS_RA_JOB_FILE, job->path);
    if (!st) st = put_text(f, p, HS_RA_JOB_FILE_TEXT, job->text);
    if (!st) st = put_text(f, p, HS_RA_STUDY, s->study);
    if (!st) st = put_text(f, p, HS_RA_STUDY_SHA256, sha);
    if (!st) st = put_text(f, p, HS_RA_MODEL_DIR, job->model_dir);
    if (!st) st = put_text(f, p, HS_RA_MODEL_SHA256, s->inputs->model_sha256);
    if (!st) st = put_text(f, p, HS_RA_PROMPTS_PATH, job->prompts_path);
    if (!st) st = put_text(f, p, HS_RA_PROMPTS_SHA256, s->inputs->prompts_sha256);
    if (!st) st = put_i32(f, p, HS_RA_MAX_PROMPTS, job->max_prompts);
    if (!st) st = put_text(f, p, HS_RA_CALIBRATION_PATH, job->calib_path ? job->calib_path : "");
    if (!st) st = put_text(f, p, HS_RA_CALIBRATION_SHA256, s->inputs->calibration_sha256);
    if (!st) st = heads_source_attrs(c);
    return st;
}

static hs_status settings_attrs(creator *c)
{
    const hs_results_job *job = &c->spec->job;
    hid_t f = c->file;
    const char *p = c->path;
    hs_status st = put_text(f, p, HS_RA_STRATEGY, job->heads_off ? "heads_off" : hs_strategy_name(job->strategy));
    if (!st) st = put_u64(f, p, HS_RA_PRUNING_SEED, job->pruning_seed);
    if (!st) st = put_u8(f, p, HS_RA_PER_LAYER, (uint8_t)job->select.per_layer);
    if (!st) st = put_u8(f, p, HS_RA_KEEP_ONE, (uint8_t)job->select.keep_one_per_layer);
    if (!st) st = put_u64(f, p, HS_RA_SEED, job->sample.seed);
    if (!st) st = put_i32(f, p, HS_RA_MAX_NEW_TOKENS, job->sample.max_new);
    if (!st) st = put_f32(f, p, HS_RA_TEMPERATURE, job->sample.temperature);
    if (!st) st = put_i32(f, p, HS_RA_TOP_K, job->sample.top_k);
    if (!st) st = put_f32(f, p, HS_RA_TOP_P, job->sample.top_p);
    if (!st) st = put_i32(f, p, HS_RA_N_SHARDS, job->shards);
    if (!st) st = put_u8(f, p, HS_RA_MEASURE_UNPRUNED_PPL, (uint8_t)job->measure_unpruned_ppl);
    return st;
}

/* Attributes each run rewrites: created now with their final sizes. */
static hs_status run_attrs(hid_t f, const char *p, const hs_run_info *info, int run, int complete)
{
    char now[HS_UTC_MAX], h5ver[64];
    unsigned maj = 0, min = 0, rel = 0;
    if (H5get_libversion(&maj, &min, &rel) < 0) return h5_fail(p, "asking the HDF5 version");
    snprintf(h5ver, sizeof h5ver, "%u.%u.%u", maj, min, rel);
    hs_utc_now(now);
    hs_status st = put_text(f, p, HS_RA_UPDATED_UTC, now);
    if (!st) st = put_i32(f, p, HS_RA_RUNS, run);
    if (!st) st = put_u8(f, p, HS_RA_COMPLETE, (uint8_t)complete);
    if (!st && info) st = put_text(f, p, HS_RA_COMMAND_LINE, info->command_line);
    if (!st && info) st = put_i32(f, p, HS_RA_N_RANKS, info->n_ranks);
    if (!st && info) st = put_text(f, p, HS_RA_HOSTS, info->hosts);
    if (!st && info) st = put_text(f, p, HS_RA_MPI_VERSION, info->mpi_version);
    if (!st && info) st = put_text(f, p, HS_RA_OPENBLAS_VERSION, info->openblas_version);
    if (!st && info) st = put_text(f, p, HS_RA_HDF5_VERSION, h5ver);
    if (!st && info) st = put_text(f, p, HS_RA_LAST_GIT_DESCRIBE, HS_GIT_DESCRIBE);
    return st;
}

static hs_status make_groups(creator *c)
{
    static const char *const groups[] = {"/metrics", "/heads", "/agency", "/text", "/cells", "/prompts"};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
        hid_t g = gcpl < 0 || hs_h5_keep_compact(gcpl, 1) < 0
                      ? -1
                      : H5Gcreate2(c->file, groups[i], H5P_DEFAULT, gcpl, H5P_DEFAULT);
        close_id(gcpl);
        if (g < 0 || H5Gclose(g) < 0) return h5_fail(c->path, "creating group %s", groups[i]);
    }
    return HS_OK;
}

static hs_status make_metrics(creator *c)
{
    const double nan = NAN;
    hs_status st = HS_OK;
    for (int m = 0; !st && m < HS_M_COUNT; m++) {
        char name[128];
        snprintf(name, sizeof name, "/metrics/%s", hs_metrics[m].name);
        hid_t d = -1;
        st = create_dataset(c->file, c->path, name, &metric_layout, &c->spec->grid, H5T_IEEE_F64LE, &nan, &nan,
                            c->scales, &d);
        if (st) break;
        st = put_cf(d, c->path, H5T_IEEE_F64LE, hs_metrics[m].units, hs_metrics[m].description);
        if (!st) st = put_u8(d, c->path, HS_RA_TIMING, (uint8_t)hs_metrics[m].timing);
        if (H5Dclose(d) < 0 && !st) st = h5_fail(c->path, "closing %s", name);
    }
    return st;
}

/* The file type of a schema type (a new type: close it). */
static hid_t file_type(hs_results_type t)
{
    switch (t) {
    case HS_RT_I32: return H5Tcopy(H5T_STD_I32LE);
    case HS_RT_I64: return H5Tcopy(H5T_STD_I64LE);
    case HS_RT_U8: return H5Tcopy(H5T_STD_U8LE);
    case HS_RT_F64: return H5Tcopy(H5T_IEEE_F64LE);
    case HS_RT_HOST: return string_type(HS_HOST_MAX);
    default: return string_type(0);
    }
}

static hs_status make_cell_datasets(creator *c, hid_t *ds)
{
    static const int32_t minus1 = -1, zero32 = 0;
    static const int64_t zero64 = 0;
    static const uint8_t zero8 = 0, unknown8 = HS_RESULTS_COPIES_UNKNOWN;
    const double nan = NAN;
    const void *fill[DS_COUNT] = {[DS_GEN] = &minus1, [DS_OCC] = &zero64, [DS_DONE] = &zero8, [DS_RANK] = &minus1,
                                  [DS_SECONDS] = &nan, [DS_RUN] = &zero32, [DS_PRUNED] = &zero8,
                                  [DS_TRANS] = &zero64, [DS_VSCORE] = &nan, [DS_MEANS] = &nan, [DS_FINISHED] = &nan,
                                  [DS_PROMPT_INDEX] = &minus1, [DS_PROMPT_LINE] = &minus1,
                                  [DS_COPIES_REQUESTED] = &unknown8, [DS_COPIES_USED] = &unknown8};
    /* padding and cells not done yet, rows not recorded; the rest is written at creation or counts from 0 */
    const void *missing[DS_COUNT] = {[DS_GEN] = &minus1, [DS_RANK] = &minus1, [DS_SECONDS] = &nan,
                                     [DS_FINISHED] = &nan, [DS_PROMPT_INDEX] = &minus1, [DS_PROMPT_LINE] = &minus1,
                                     [DS_COPIES_REQUESTED] = &unknown8, [DS_COPIES_USED] = &unknown8};
    hs_status st = HS_OK;
    for (int i = 0; !st && i < DS_COUNT; i++) {
        if (i == DS_MEANS && !c->spec->grid.head_dim) continue; /* no mean-ablation variant */
        if (i == DS_PROMPT_TEXT || i == DS_REFERENCE_TEXT || i == DS_GEN_TEXT || i == DS_PROMPT_BOOK)
            continue; /* make_texts: sized to the text */
        hid_t t = file_type(layout[i].type);
        if (t < 0) return h5_fail(c->path, "creating a type");
        st = create_dataset(c->file, c->path, layout[i].path, &layout[i], &c->spec->grid, t, fill[i], missing[i],
                            c->scales, &ds[i]);
        H5Tclose(t);
    }
    return st;
}

/* Per-variant string attribute of /heads/means from a field of each variant's means. */
static hs_status means_str_attr(creator *c, hid_t d, int id, size_t offset)
{
    int nv = c->spec->grid.n_variants;
    const char **v = hs_calloc((size_t)nv, sizeof *v, "head means attributes");
    hs_status st = !v ? HS_ENOMEM : HS_OK;
    for (int i = 0; !st && i < nv; i++) v[i] = (const char *)&c->spec->scores[i].means + offset;
    if (!st) st = put_def(d, c->path, id, (hsize_t)nv, v); /* fixed-length, as every string */
    free(v);
    return st;
}

/* One text per prompt (NULL: all ""), fixed-length to the longest, so that the file holds
 * what its numbers were measured on without the prompt file. */
static hs_status make_text(creator *c, int i, const char *const *text, hid_t *d)
{
    size_t np = (size_t)c->spec->grid.n_prompts, size = 0;
    const char **v = hs_calloc(np, sizeof *v, "prompt texts");
    for (size_t p = 0; v && text && p < np; p++) v[p] = text[p];
    char *buf = v ? pack_strings(v, np, &size) : NULL;
    hid_t t = buf ? string_type(size) : -1;
    hs_status st = !buf ? HS_ENOMEM : t < 0 ? h5_fail(c->path, "creating a string type") : HS_OK;
    if (!st)
        st = create_dataset(c->file, c->path, layout[i].path, &layout[i], &c->spec->grid, t, NULL, NULL, c->scales,
                            d);
    if (!st) st = write_all(*d, c->path, layout[i].path, t, buf);
    close_id(t);
    free(buf);
    free(v);
    return st;
}

/* /heads/means (variant, L, H, D): the means each mean-ablation variant ran with (NaN for
 * the others, whose scores carry none), and per variant where they came from. */
static hs_status write_means(creator *c, hid_t d)
{
    const hs_results_spec *s = c->spec;
    const hs_grid *g = &s->grid;
    size_t n = (size_t)g->n_layers * g->n_heads * g->head_dim;
    double *all = hs_malloc((size_t)g->n_variants * n * sizeof *all, "head means");
    int32_t *ints = hs_calloc((size_t)g->n_variants * 2, sizeof *ints, "head means attributes");
    hs_status st = all && ints ? HS_OK : HS_ENOMEM;
    for (int v = 0; !st && v < g->n_variants; v++) {
        const hs_head_mean_set *ms = &s->scores[v].means;
        int use = s->job.variants[v].ablation == HS_ABLATION_MEAN && ms->v && ms->D == g->head_dim;
        for (size_t i = 0; i < n; i++) all[v * n + i] = use ? ms->v[i] : NAN;
        ints[v] = use ? ms->n_prompts : 0;
        ints[g->n_variants + v] = use ? ms->max_tokens : 0;
    }
    if (!st) st = write_all(d, c->path, "/heads/means", H5T_NATIVE_DOUBLE, all);
    if (!st) st = means_str_attr(c, d, HS_RA_MEANS_CALIBRATION, offsetof(hs_head_mean_set, calibration));
    if (!st)
        st = means_str_attr(c, d, HS_RA_MEANS_CALIBRATION_SHA256, offsetof(hs_head_mean_set, calibration_sha256));
    if (!st) st = put_def(d, c->path, HS_RA_MEANS_N_PROMPTS, (hsize_t)g->n_variants, ints);
    if (!st) st = put_def(d, c->path, HS_RA_MEANS_MAX_TOKENS, (hsize_t)g->n_variants, ints + g->n_variants);
    free(all);
    free(ints);
    return st;
}

/* /prompts/generated: "" until a cell writes its texts, in strings of the grid's text_bytes, a
 * bound of any text of max_new tokens (fixed now: cells only overwrite chunks in place). */
static hs_status make_generated_text(creator *c, hid_t *d)
{
    hid_t t = string_type((size_t)c->spec->grid.text_bytes);
    hs_status st = t < 0 ? h5_fail(c->path, "creating a string type") : HS_OK;
    if (!st)
        st = create_dataset(c->file, c->path, layout[DS_GEN_TEXT].path, &layout[DS_GEN_TEXT], &c->spec->grid, t, NULL,
                            NULL, c->scales, d);
    close_id(t);
    return st;
}

/* The prompts' texts, the generated texts' dataset and which rows of the prompt file the
 * prompts are (/prompts/file_index, line and book), so a reader knows the sample without
 * re-running the sampler. */
static hs_status make_texts(creator *c, hid_t *ds)
{
    const hs_results_spec *s = c->spec;
    hs_status st = make_text(c, DS_PROMPT_TEXT, s->prompt_text, &ds[DS_PROMPT_TEXT]);
    if (!st) st = make_text(c, DS_REFERENCE_TEXT, s->reference_text, &ds[DS_REFERENCE_TEXT]);
    if (!st && s->grid.text_bytes > 0) st = make_generated_text(c, &ds[DS_GEN_TEXT]);
    if (!st) st = make_text(c, DS_PROMPT_BOOK, s->prompt_book, &ds[DS_PROMPT_BOOK]);
    if (!st && s->prompt_file_index)
        st = write_all(ds[DS_PROMPT_INDEX], c->path, "/prompts/file_index", H5T_NATIVE_INT32, s->prompt_file_index);
    if (!st && s->prompt_line)
        st = write_all(ds[DS_PROMPT_LINE], c->path, "/prompts/line", H5T_NATIVE_INT32, s->prompt_line);
    return st;
}

static hs_status write_heads(creator *c, const hid_t *ds)
{
    const hs_results_spec *s = c->spec;
    const hs_grid *g = &s->grid;
    size_t LH = (size_t)g->n_layers * g->n_heads;
    size_t n = (size_t)g->n_variants * g->n_levels * LH;
    uint8_t *pruned = hs_malloc(n, "pruned heads");
    double *vscore = hs_malloc((size_t)g->n_variants * LH * sizeof *vscore, "head scores");
    hs_status st = pruned && vscore ? HS_OK : HS_ENOMEM;
    for (size_t i = 0; !st && i < n; i++) pruned[i] = s->gates[i] == 0.0f;
    for (int v = 0; !st && v < g->n_variants; v++) memcpy(vscore + v * LH, s->scores[v].score, LH * sizeof *vscore);
    if (!st) st = write_all(ds[DS_PRUNED], c->path, "/heads/pruned", H5T_NATIVE_UINT8, pruned);
    if (!st) st = write_all(ds[DS_VSCORE], c->path, "/heads/variant_score", H5T_NATIVE_DOUBLE, vscore);
    free(pruned);
    free(vscore);
    hid_t d = ds[DS_SCORE];
    /* heads_off: 0 for a listed head, 1 for the others (src/prune/plan.c), no strategy behind them */
    const char *strategy = s->job.heads_off ? "heads_off" : hs_strategy_name(s->scores->strategy);
    if (!st) st = write_all(d, c->path, "/heads/score", H5T_NATIVE_DOUBLE, s->scores->score);
    if (!st) st = put_text(d, c->path, HS_RA_SCORE_STRATEGY, strategy);
    if (!st) st = put_text(d, c->path, HS_RA_SCORE_CALIBRATION, s->scores->calibration);
    if (!st) st = put_text(d, c->path, HS_RA_SCORE_CALIBRATION_SHA256, s->scores->calibration_sha256);
    if (!st) st = put_i32(d, c->path, HS_RA_SCORE_N_PROMPTS, s->scores->n_prompts);
    if (!st) st = put_u64(d, c->path, HS_RA_SCORE_SEED, s->scores->seed);
    if (!st)
        st = put_text(d, c->path, HS_RA_SCORE_CONVENTION,
                      "higher = more useful; a level switches off the lowest scores first");
    if (!st && ds[DS_MEANS] >= 0) st = write_means(c, ds[DS_MEANS]);
    return st;
}

/* The digest of d's chunk index (hs_h5_chunk_digest) as its attribute HS_H5_DIGEST_ATTR, in its
 * checksummed object header: every reader compares it (schema 3). Chunks never move after
 * creation, so it is recorded once. */
static hs_status put_digest(const creator *c, hid_t d, const char *name)
{
    char digest[65];
    const char *bad = hs_h5_chunk_digest(d, digest);
    if (bad) return hs_err(HS_EINTERNAL, "%s: %s: digest of its chunk index: %s", c->path, name, bad);
    return digest[0] ? put_text(d, c->path, HS_RA_CHUNK_DIGEST, digest) : HS_OK;
}

/* Every dataset's digest, once every chunk is allocated and written (flushed first, so no
 * chunk is still in the cache). */
static hs_status record_digests(creator *c, const hid_t *ds)
{
    hs_status st = H5Fflush(c->file, H5F_SCOPE_GLOBAL) < 0 ? h5_fail(c->path, "flushing the new file") : HS_OK;
    for (int i = 0; !st && i < D_COUNT; i++)
        if (c->scales[i] >= 0) st = put_digest(c, c->scales[i], dim_names(i));
    for (int i = 0; !st && i < DS_COUNT; i++)
        if (ds[i] >= 0) st = put_digest(c, ds[i], layout[i].path);
    for (int m = 0; !st && m < HS_M_COUNT; m++) {
        char name[128];
        snprintf(name, sizeof name, "/metrics/%s", hs_metrics[m].name);
        hid_t d = H5Dopen2(c->file, name, H5P_DEFAULT);
        st = d < 0 ? h5_fail(c->path, "opening %s", name) : put_digest(c, d, name);
        close_id(d);
    }
    return st;
}

static hs_status build_file(creator *c)
{
    hid_t ds[DS_COUNT];
    for (int i = 0; i < DS_COUNT; i++) ds[i] = -1;
    hs_status st = provenance_attrs(c);
    if (!st) st = settings_attrs(c);
    if (!st) st = run_attrs(c->file, c->path, &(hs_run_info){"", 0, "", "", ""}, 0, 0);
    if (!st) st = write_scales(c);
    if (!st) st = make_groups(c);
    if (!st) st = make_metrics(c);
    if (!st) st = make_cell_datasets(c, ds);
    if (!st) st = make_texts(c, ds);
    if (!st) st = write_heads(c, ds);
    if (!st) st = record_digests(c, ds);
    for (int i = 0; i < DS_COUNT; i++) close_id(ds[i]);
    return st;
}

/* fsync of a file or directory by path, so a rename is not durable before the data. */
static hs_status sync_path(const char *p, const char *shown)
{
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hs_err(HS_EIO, "%s: cannot open for fsync: %s", shown, strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    /* Some file systems refuse fsync on directories (EINVAL): nothing to do then. */
    if (rc != 0 && err != EINVAL) return hs_err(HS_EIO, "%s: fsync failed: %s", shown, strerror(err));
    return HS_OK;
}

static char *parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return hs_strdup(".");
    if (slash == path) return hs_strdup("/");
    char *d = hs_malloc((size_t)(slash - path) + 1, "path");
    if (d) {
        memcpy(d, path, (size_t)(slash - path));
        d[slash - path] = '\0';
    }
    return d;
}

/* Bob Jenkins' lookup3 hashlittle(), the checksum of HDF5 metadata (H5checksum.c); a
 * tail shorter than 12 bytes is zero-padded, which adds nothing to the sums. */
#define ROT32(x, k) (((x) << (k)) | ((x) >> (32 - (k))))
static uint32_t lookup3(const uint8_t *k, size_t length)
{
    uint32_t a, b, c;
    a = b = c = 0xdeadbeefu + (uint32_t)length;
    if (length == 0) return c;
    for (;;) {
        uint8_t tail[12] = {0};
        const uint8_t *p = k;
        size_t n = length > 12 ? 12 : length;
        if (n < 12) p = memcpy(tail, k, n);
        a += p[0] + ((uint32_t)p[1] << 8) + ((uint32_t)p[2] << 16) + ((uint32_t)p[3] << 24);
        b += p[4] + ((uint32_t)p[5] << 8) + ((uint32_t)p[6] << 16) + ((uint32_t)p[7] << 24);
        c += p[8] + ((uint32_t)p[9] << 8) + ((uint32_t)p[10] << 16) + ((uint32_t)p[11] << 24);
        if (length <= 12) break;
        a -= c; a ^= ROT32(c, 4);  c += b;
        b -= a; b ^= ROT32(a, 6);  a += c;
        c -= b; c ^= ROT32(b, 8);  b += a;
        a -= c; a ^= ROT32(c, 16); c += b;
        b -= a; b ^= ROT32(a, 19); a += c;
        c -= b; c ^= ROT32(b, 4);  b += a;
        length -= 12;
        k += 12;
    }
    c ^= b; c -= ROT32(b, 14);
    a ^= c; a -= ROT32(c, 11);
    b ^= a; b -= ROT32(a, 25);
    c ^= b; c -= ROT32(b, 16);
    a ^= c; a -= ROT32(c, 4);
    b ^= a; b -= ROT32(a, 14);
    c ^= b; c -= ROT32(b, 24);
    return c;
}

/* HDF5 1.10.8's H5Fget_file_image sets the end-of-file address in the image's version 2
 * superblock without recomputing the superblock's checksum, and such a file does not
 * open ("incorrect metadata checksum"). Recomputes it: signature, version 2, then the
 * offset and length sizes, flags, four addresses and the checksum. */
static hs_status fix_superblock(const char *path, uint8_t *image, size_t size)
{
    static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (size < 12 || memcmp(image, sig, 8) || image[8] != 2)
        return hs_err(HS_EINTERNAL, "%s: the file image does not start with a version 2 superblock", path);
    size_t n = 12 + 4 * (size_t)image[9];
    if (n + 4 > size) return hs_err(HS_EINTERNAL, "%s: the file image's superblock is cut short", path);
    uint32_t sum = lookup3(image, n);
    for (int i = 0; i < 4; i++) image[n + (size_t)i] = (uint8_t)(sum >> (8 * i));
    return HS_OK;
}

/* Builds the whole new file in memory (HDF5's core driver) and returns its bytes. A
 * disk error therefore never happens inside HDF5, where a file that fails to close is
 * left in a state that crashes the library's exit handler; it happens in write_image. */
static hs_status build_image(creator *c, void **image, size_t *size)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fcpl = H5Pcreate(H5P_FILE_CREATE);
    /* V18 bounds: checksummed metadata without the 1.10 "open for writing" flag (top of file).
     * The root group's attributes and links stay in its header: hs_h5_keep_compact. */
    hs_status st = fapl < 0 || fcpl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 ||
                           H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0 ||
                           hs_h5_keep_compact(fcpl, 1) < 0
                       ? h5_fail(c->path, "setting up memory")
                       : HS_OK;
    c->file = st ? -1 : H5Fcreate(c->path, H5F_ACC_TRUNC, fcpl, fapl);
    close_id(fapl);
    close_id(fcpl);
    if (!st && c->file < 0) st = h5_fail(c->path, "creating the results file in memory");
    if (!st) st = build_file(c);
    for (int i = 0; i < D_COUNT; i++) close_id(c->scales[i]);
    ssize_t n = st ? -1 : (H5Fflush(c->file, H5F_SCOPE_GLOBAL) < 0 ? -1 : H5Fget_file_image(c->file, NULL, 0));
    if (!st && n <= 0) st = h5_fail(c->path, "getting the file image");
    if (!st && !(*image = hs_malloc((size_t)n, "file image"))) st = HS_ENOMEM;
    if (!st && H5Fget_file_image(c->file, *image, (size_t)n) != n) st = h5_fail(c->path, "copying the file image");
    if (!st) st = fix_superblock(c->path, *image, (size_t)n);
    if (c->file >= 0 && H5Fclose(c->file) < 0 && !st) st = h5_fail(c->path, "closing the file in memory");
    *size = st ? 0 : (size_t)n;
    return st;
}

/* Writes the image to tmp (new file), fsync'ed. */
static hs_status write_image(const char *path, const char *tmp, const void *image, size_t size)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return hs_err(HS_EIO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
    hs_status st = HS_OK;
    for (size_t off = 0; off < size && !st;) {
        ssize_t w = write(fd, (const char *)image + off, size - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) st = hs_err(HS_EIO, "%s: cannot write the new results file (as %s, %zu bytes): %s", path, tmp, size,
                               strerror(errno));
        else off += (size_t)w;
    }
    if (!st && fsync(fd) != 0) st = hs_err(HS_EIO, "%s: fsync of %s failed: %s", path, tmp, strerror(errno));
    if (close(fd) != 0 && !st) st = hs_err(HS_EIO, "%s: closing %s failed: %s", path, tmp, strerror(errno));
    return st;
}

/* PID of name when it is base.tmp.PID, else 0. */
static long tmp_pid(const char *name, const char *base)
{
    size_t n = strlen(base);
    if (strncmp(name, base, n) || strncmp(name + n, ".tmp.", 5)) return 0;
    const char *digits = name + n + 5;
    char *end;
    long pid = strtol(digits, &end, 10);
    return *digits >= '0' && *digits <= '9' && !*end && pid > 0 ? pid : 0;
}

void hs_results_remove_stale_tmp(const char *path)
{
    char *dir = parent_dir(path);
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    DIR *d = dir ? opendir(dir) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        long pid = tmp_pid(e->d_name, base);
        if (!pid || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *tmp = hs_malloc(n, "path");
        if (!tmp) break;
        snprintf(tmp, n, "%s/%s", dir, e->d_name);
        if (unlink(tmp) == 0)
            fprintf(stderr, "headsweep: removed %s, left by a run that was killed (pid %ld is not running)\n", tmp,
                    pid);
        free(tmp);
    }
    if (d) closedir(d);
    free(dir);
}

hs_status hs_results_create(const char *path, const hs_results_spec *spec)
{
    h5_quiet();
    if (access(path, F_OK) == 0) return hs_err(HS_EINPUT, "%s already exists; not overwriting it", path);
    hs_results_remove_stale_tmp(path);
    size_t n = strlen(path) + 32, size = 0;
    char *tmp = hs_malloc(n, "path"), *dir = parent_dir(path);
    void *image = NULL;
    hs_status st = tmp && dir ? HS_OK : HS_ENOMEM;
    creator c = {.path = path, .spec = spec};
    for (int i = 0; i < D_COUNT; i++) c.scales[i] = -1;
    if (!st) st = build_image(&c, &image, &size);
    if (!st) {
        snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
        st = write_image(path, tmp, image, size);
        if (!st) st = hs_rename_noreplace(tmp, path); /* a file that appeared meanwhile is not replaced */
        if (!st) st = sync_path(dir, dir);
        if (st) unlink(tmp);
    }
    free(image);
    free(tmp);
    free(dir);
    return st;
}

/* Element i of a fixed-length string attribute a of n elements (schema 2) into a new string. */
static hs_status get_fixed_str_at(hid_t a, hid_t ft, const char *path, const char *name, size_t n, size_t i,
                                  char **out)
{
    size_t size = H5Tget_size(ft) + 1;
    char *buf = size > 1 ? hs_calloc(n, size, "attribute") : NULL;
    hid_t mt = buf ? string_type_as(ft, size) : -1;
    hs_status st = !buf ? HS_ENOMEM : HS_OK;
    if (!st && (mt < 0 || H5Aread(a, mt, buf) < 0))
        st = h5_fail(path, "reading element %zu of attribute %s (%zu expected)", i, name, n);
    if (!st) {
        buf[i * size + size - 1] = '\0';
        if (!(*out = hs_strdup(buf + i * size))) st = HS_ENOMEM;
    }
    close_id(mt);
    free(buf);
    return st;
}

/* Element i of a string attribute of n elements (variable or fixed length) into a new string. */
static hs_status get_str_at(hid_t obj, const char *path, const char *name, size_t n, size_t i, char **out)
{
    *out = NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t sp = a < 0 ? -1 : H5Aget_space(a), ft = a < 0 ? -1 : H5Aget_type(a);
    hssize_t len = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    htri_t vlen = ft < 0 ? -1 : H5Tis_variable_str(ft);
    hs_status st = HS_OK;
    if (len != (hssize_t)n || i >= n || vlen < 0)
        st = h5_fail(path, "reading element %zu of attribute %s (%zu expected)", i, name, n);
    else if (vlen) st = refuse_vlen(path, "attribute", name);
    else st = get_fixed_str_at(a, ft, path, name, n, i, out);
    close_id(ft);
    close_id(sp);
    close_id(a);
    return st;
}

/* ---- opening ---- */

/* The n fixed-length strings of label dataset d, each copied into a new string. */
static hs_status read_fixed_strings(hid_t d, hid_t ft, const char *path, const char *name, int n, char **copy)
{
    size_t size = H5Tget_size(ft) + 1;
    char *buf = size > 1 ? hs_calloc((size_t)n, size, "strings") : NULL;
    hid_t t = buf ? string_type_as(ft, size) : -1;
    hs_status st = !buf ? HS_ENOMEM : t < 0 ? h5_fail(path, "creating a string type") : HS_OK;
    if (!st && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) st = h5_fail(path, "reading %s", name);
    for (int i = 0; !st && i < n; i++) {
        buf[(size_t)i * size + size - 1] = '\0';
        if (!(copy[i] = hs_strdup(buf + (size_t)i * size))) st = HS_ENOMEM;
    }
    close_id(t);
    free(buf);
    return st;
}

static hs_status read_strings(hid_t d, const char *path, const char *name, int n, char ***out)
{
    char **copy = hs_calloc((size_t)n, sizeof *copy, "strings");
    hid_t ft = H5Dget_type(d);
    htri_t vlen = ft < 0 ? -1 : H5Tis_variable_str(ft);
    hs_status st = !copy ? HS_ENOMEM : vlen < 0 ? h5_fail(path, "reading the type of %s", name) : HS_OK;
    if (!st) st = vlen ? refuse_vlen(path, "dataset", name) : read_fixed_strings(d, ft, path, name, n, copy);
    close_id(ft);
    if (st) {
        for (int i = 0; i < n && copy; i++) free(copy[i]);
        free(copy);
        copy = NULL;
    }
    *out = copy;
    return st;
}

static void free_strings(char **s, int n)
{
    for (int i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

static hs_status scale_length(hid_t file, const char *path, int dim, int *n)
{
    char name[64];
    snprintf(name, sizeof name, "/%s", dim_names(dim));
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    hid_t s = d < 0 ? -1 : H5Dget_space(d);
    hsize_t len = 0;
    int nd = s < 0 ? -1 : H5Sget_simple_extent_dims(s, &len, NULL);
    hs_status st = nd != 1 ? h5_fail(path, "reading dimension %s", name) : HS_OK; /* before closing: see transfer() */
    close_id(s);
    close_id(d);
    *n = (int)len;
    return st;
}

/* The grid's text_bytes: the string size of /prompts/generated, 0 without it. */
static hs_status text_size(hs_results *r)
{
    const char *name = layout[DS_GEN_TEXT].path;
    htri_t has = hs_h5_path_exists(r->file, name);
    hid_t d = has > 0 ? H5Dopen2(r->file, name, H5P_DEFAULT) : -1;
    hid_t t = d < 0 ? -1 : H5Dget_type(d);
    size_t size = t < 0 ? 0 : H5Tget_size(t);
    htri_t vlen = t < 0 ? -1 : H5Tis_variable_str(t);
    hs_status st = has < 0 || (has && (size == 0 || vlen < 0)) ? h5_fail(r->path, "reading the type of %s", name)
                   : vlen > 0 ? hs_err(HS_EINPUT, "%s: %s holds variable-length strings; refusing to write into it",
                                       r->path, name)
                              : HS_OK;
    close_id(t);
    close_id(d);
    r->grid.text_bytes = st ? 0 : (int)size; /* at most 1 MiB: hs_results_validate */
    return st;
}

static hs_status read_grid(hs_results *r)
{
    hs_grid *g = &r->grid;
    int *fields[D_COUNT] = {&g->n_variants, &g->n_levels, &g->n_prompts, &g->n_layers, &g->n_heads,
                            NULL,           &g->n_shards, &g->max_new,  &g->head_dim};
    int states;
    htri_t means = H5Lexists(r->file, "/head_dim", H5P_DEFAULT); /* only with /heads/means */
    hs_status st = means < 0 ? h5_fail(r->path, "looking up /head_dim") : HS_OK;
    g->head_dim = 0;
    for (int d = 0; !st && d < D_COUNT; d++)
        if (d != D_HEAD_DIM || means) st = scale_length(r->file, r->path, d, fields[d] ? fields[d] : &states);
    if (!st && states != HS_AG_NSTATES)
        st = hs_err(HS_EINPUT, "%s: /state has %d entries, expected %d", r->path, states, HS_AG_NSTATES);
    if (!st) st = text_size(r);
    return st;
}

static hs_status read_labels(hs_results *r)
{
    hid_t v = H5Dopen2(r->file, "/variant", H5P_DEFAULT);
    hid_t l = H5Dopen2(r->file, "/level", H5P_DEFAULT);
    hid_t p = H5Dopen2(r->file, "/prompt", H5P_DEFAULT);
    hs_status st = v < 0 || l < 0 || p < 0 ? h5_fail(r->path, "opening /variant, /level or /prompt") : HS_OK;
    if (!st) st = read_strings(v, r->path, "/variant", r->grid.n_variants, &r->variants);
    if (!st) st = read_strings(p, r->path, "/prompt", r->grid.n_prompts, &r->prompts);
    if (!st && !(r->levels = hs_malloc((size_t)r->grid.n_levels * sizeof(double), "levels"))) st = HS_ENOMEM;
    if (!st) st = read_all(l, r->path, "/level", H5T_NATIVE_DOUBLE, r->levels);
    close_id(v);
    close_id(l);
    close_id(p);
    return st;
}

static hs_status open_datasets(hs_results *r)
{
    hs_status st = HS_OK;
    for (int m = 0; !st && m < HS_M_COUNT; m++) {
        char name[128];
        snprintf(name, sizeof name, "/metrics/%s", hs_metrics[m].name);
        st = open_dataset(r->file, r->path, name, &metric_layout, &r->grid, &r->metric[m]);
    }
    for (int i = 0; !st && i < DS_COUNT; i++) {
        htri_t has = layout[i].optional ? hs_h5_path_exists(r->file, layout[i].path) : 1;
        if (has < 0) st = h5_fail(r->path, "looking up %s", layout[i].path);
        else if (has) st = open_dataset(r->file, r->path, layout[i].path, &layout[i], &r->grid, &r->ds[i]);
    }
    return st;
}

/* Reads one attribute in its own type (H5Aiterate2 callback; HDF5 checks the checksum of
 * the header or heap block holding it). On failure, HDF5's reason goes to data. */
static herr_t read_back_attr(hid_t obj, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = a < 0 ? -1 : H5Aget_type(a), sp = a < 0 ? -1 : H5Aget_space(a);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    size_t size = t < 0 ? 0 : H5Tget_size(t);
    /* Object references (DIMENSION_LIST, which HDF5's dimension scales keep as variable-length
     * lists in the global heap, the one place no checksum covers) are HDF5's own
     * bookkeeping, never read by headsweep: reading them back would let a flipped bit there
     * crash the library (a merge did, tests/sweep/bitflip.py). */
    if (t >= 0 && H5Tdetect_class(t, H5T_REFERENCE) > 0) {
        close_id(sp);
        close_id(t);
        close_id(a);
        return 0;
    }
    /* Nor variable-length data of any other attribute, for the same reason: refused. */
    int vlen = t < 0 || H5Tdetect_class(t, H5T_VLEN) != 0 || H5Tis_variable_str(t) != 0;
    void *buf = vlen || n < 0 || size == 0 ? NULL : calloc((size_t)(n ? n : 1), size);
    herr_t ok = buf && H5Aread(a, t, buf) >= 0 ? 0 : -1;
    if (vlen) snprintf(data, 1024, "attribute %s holds variable-length data (HDF5's global heap, outside every "
                                   "checksum)", name);
    else if (ok < 0) h5_reason(data, 1024);
    free(buf);
    close_id(sp);
    close_id(t);
    close_id(a);
    return ok;
}

/* Every attribute of obj read once, before a run rewrites any of them: damage found
 * half-way through rewriting them would leave the file changed. */
static hs_status verify_attrs(const hs_results *r, hid_t obj, const char *name)
{
    char reason[1024] = "", what[300];
    hsize_t idx = 0;
    if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, read_back_attr, reason) >= 0) return HS_OK;
    if (!reason[0]) h5_reason(reason, sizeof reason);
    snprintf(what, sizeof what, "reading back the attributes of %s", name);
    return h5_fail_because(r->path, what, reason);
}

static hs_status damaged_index(const hs_results *r, const char *name, const char *what)
{
    return hs_err(HS_EINPUT, "%s: %s: %s: the file is damaged (its chunk index is wrong); refusing to use it",
                  r->path, name, what);
}

/* Reads d whole, one index of its first axis at a time, in its own file type: HDF5
 * checks every chunk's checksum on the way. */
static hs_status verify_dataset(const hs_results *r, hid_t d, const char *name, hs_h5_chunks *seen)
{
    hid_t t = H5Dget_type(d), fs = H5Dget_space(d);
    int nd = fs < 0 ? -1 : H5Sget_simple_extent_ndims(fs);
    hsize_t dims[H5S_MAX_RANK], start[H5S_MAX_RANK] = {0};
    size_t row = t < 0 ? 0 : H5Tget_size(t);
    if (nd < 1 || row == 0 || H5Sget_simple_extent_dims(fs, dims, NULL) < 0) nd = -1;
    for (int i = 1; i < nd; i++) row *= (size_t)dims[i];
    hsize_t count[H5S_MAX_RANK];
    for (int i = 0; i < nd; i++) count[i] = i ? dims[i] : 1;
    hid_t ms = nd < 1 ? -1 : H5Screate_simple(nd, count, NULL);
    /* variable-length data lives in the global heap, outside every checksum: refused unread */
    int vlen = t < 0 || H5Tdetect_class(t, H5T_VLEN) != 0 || H5Tis_variable_str(t) != 0;
    void *buf = ms < 0 || vlen ? NULL : hs_malloc(row ? row : 1, "read-back buffer");
    herr_t ok = buf ? 0 : -1;
    for (hsize_t i = 0; ok >= 0 && nd > 0 && i < dims[0] && row > 0; i++) {
        start[0] = i;
        ok = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        if (ok >= 0) ok = H5Dread(d, t, ms, fs, H5P_DEFAULT, buf);
    }
    /* Before any other HDF5 call, which would clear the error stack h5_fail reads. */
    hs_status st = vlen     ? refuse_vlen(r->path, "dataset", name)
                   : ok < 0 ? h5_fail(r->path, "reading back %s", name)
                            : verify_attrs(r, d, name);
    int strict = HS_H5_STRICT | HS_H5_DIGEST; /* check_identity refused versions before 3 */
    const char *bad = st || nd <= 0 ? NULL : hs_h5_check_chunks(d, nd, dims, H5Tget_size(t), strict, seen);
    if (bad) st = damaged_index(r, name, bad); /* see hs_h5_check_chunks */
    free(buf);
    close_id(ms);
    close_id(fs);
    close_id(t);
    return st;
}

/* Every dataset read once, so damage anywhere is found before any use (the object headers:
 * hs_results_validate's hs_h5_check_headers, first). */
static hs_status verify_data(hs_results *r)
{
    hs_h5_chunks seen = {NULL, 0, 0};
    hs_status st = verify_attrs(r, r->file, "/");
    for (int dim = 0; !st && dim < D_COUNT; dim++) {
        if (dim == D_HEAD_DIM && !r->grid.head_dim) continue; /* absent without /heads/means */
        char name[64];
        snprintf(name, sizeof name, "/%s", dim_names(dim));
        hid_t d = H5Dopen2(r->file, name, H5P_DEFAULT);
        st = d < 0 ? h5_fail(r->path, "opening %s", name) : verify_dataset(r, d, name, &seen);
        close_id(d);
    }
    for (int m = 0; !st && m < HS_M_COUNT; m++) {
        char name[128];
        snprintf(name, sizeof name, "/metrics/%s", hs_metrics[m].name);
        st = verify_dataset(r, r->metric[m], name, &seen);
    }
    for (int i = 0; !st && i < DS_COUNT; i++)
        if (r->ds[i] >= 0) st = verify_dataset(r, r->ds[i], layout[i].path, &seen);
    const char *bad = st ? NULL : hs_h5_chunks_distinct(&seen);
    if (bad) st = damaged_index(r, "chunk index", bad);
    free(seen.addr);
    return st;
}

/* Refuses files that are not headsweep results of this schema before touching them. */
static hs_status check_identity(hs_results *r)
{
    htri_t has = H5Aexists(r->file, "schema_version");
    if (has < 0) return h5_fail(r->path, "reading the root attributes");
    if (!has || H5Aexists(r->file, "study") <= 0)
        return hs_err(HS_EINPUT, "%s is an HDF5 file but not a headsweep results file (no schema_version/study "
                                 "attributes); refusing to use it", r->path);
    int32_t version;
    hs_status st = get_scalar(r->file, r->path, "schema_version", H5T_NATIVE_INT32, &version);
    /* Writing into an older file would need a second writer (version 2 has no chunk index
     * digests): the build which made it can finish it. */
    if (!st && version != HS_RESULTS_SCHEMA_VERSION)
        st = hs_err(HS_EINPUT, "%s: results schema version %d; this headsweep resumes and merges version %d only: "
                               "finish or merge it with the build that made it (headsweep-report reads versions "
                               "%d to %d; docs/results-format.md)", r->path, version, HS_RESULTS_SCHEMA_VERSION,
                    HS_RESULTS_SCHEMA_OLDEST, HS_RESULTS_SCHEMA_VERSION);
    if (!st) st = get_str(r->file, r->path, "study", &r->study);
    if (!st) st = get_str(r->file, r->path, "last_git_describe", &r->last_version);
    return st;
}

/* Why an existing file did not open: held by another program, or damaged. */
static hs_status open_failure(const char *path, int writable)
{
    char detail[1024], reason[1024];
    hs_h5_innermost(detail, sizeof detail);
    h5_reason(reason, sizeof reason);
    if (strstr(detail, "unable to lock"))
        return hs_err(HS_EIO, "%s: cannot open: another program holds it open (h5py, HDFView, a sweep?): %s", path,
                      reason);
    return hs_err(HS_EINPUT, "%s cannot be opened as HDF5 (%s): corrupt or truncated?%s", path, reason,
                  writable ? " refusing to overwrite it: move it away or choose another output" : "");
}

hs_status hs_results_open(hs_results **out, const char *path, int writable)
{
    h5_quiet();
    *out = NULL;
    hs_results *r = hs_calloc(1, sizeof *r, "results");
    if (!r) return HS_ENOMEM;
    for (int i = 0; i < HS_M_COUNT; i++) r->metric[i] = -1;
    for (int i = 0; i < DS_COUNT; i++) r->ds[i] = -1;
    r->file = -1;
    r->writable = writable;
    hs_status st = (r->path = hs_strdup(path)) ? HS_OK : HS_ENOMEM;
    if (!st) {
        htri_t is_h5 = 1;
        if (access(path, F_OK) != 0) st = hs_err(HS_EINPUT, "%s: %s", path, strerror(errno));
        else if ((st = hs_file_check_regular(path))) is_h5 = -1; /* a FIFO would hang H5Fis_hdf5 */
        else if ((is_h5 = H5Fis_hdf5(path)) == 0)
            st = hs_err(HS_EINPUT, "%s is not an HDF5 file (corrupt or truncated?)%s", path,
                        writable ? "; refusing to overwrite it: move it away or choose another output" : "");
        else if (is_h5 > 0)
            st = hs_h5_require_checksums(path, hs_h5_superblock_version_file(path));
        r->file = st || is_h5 < 0 ? -1 : H5Fopen(path, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
        if (!st && r->file < 0) st = open_failure(path, writable);
    }
    hs_results_dims dims;
    /* The first read of all: it loads every object header whole (hs_h5_check_headers). */
    if (!st) st = hs_results_validate(r->file, path, &dims); /* shared with headsweep-report */
    if (!st) st = check_identity(r);
    if (!st) st = read_grid(r);
    if (!st) st = read_labels(r);
    if (!st) st = open_datasets(r);
    if (!st) st = verify_data(r);
    /* Past H5Fopen every read is of the file's own bytes: a failure there (an address past
     * the end, a length HDF5 cannot follow) is damage, exit 2 like a bad checksum. */
    if (st == HS_EIO && r->file >= 0)
        st = hs_err_wrap(HS_EINPUT, "%s: damaged or unreadable, refusing to use it", path);
    if (st) {
        hs_results_close(r);
        return st;
    }
    *out = r;
    return HS_OK;
}

hs_status hs_results_close(hs_results *r)
{
    if (!r) return HS_OK;
    hs_status st = HS_OK;
    for (int i = 0; i < HS_M_COUNT; i++) close_id(r->metric[i]);
    for (int i = 0; i < DS_COUNT; i++) close_id(r->ds[i]);
    if (r->file >= 0 && H5Fclose(r->file) < 0) st = h5_fail(r->path, "closing");
    free_strings(r->variants, r->grid.n_variants);
    free_strings(r->prompts, r->grid.n_prompts);
    free_strings(r->books, r->grid.n_prompts);
    free(r->rows);
    free(r->levels);
    free(r->study);
    free(r->last_version);
    free(r->path);
    free(r);
    return st;
}

const hs_grid *hs_results_grid(const hs_results *r) { return &r->grid; }
const char *hs_results_path(const hs_results *r) { return r->path; }
const char *hs_results_study(const hs_results *r) { return r->study; }
const char *hs_results_last_version(const hs_results *r) { return r->last_version; }
const char *hs_results_variant_name(const hs_results *r, int v) { return r->variants[v]; }
double hs_results_level(const hs_results *r, int l) { return r->levels[l]; }
const char *hs_results_prompt_id(const hs_results *r, int p) { return r->prompts[p]; }

/* ---- the study check ---- */

hs_status hs_results_check_study(const hs_results *r, const char *study)
{
    char a[512], b[512];
    int differ = 0;
    if (hs_results_same_study(r->study, study, &differ, a, b, sizeof a)) return HS_OK;
    return hs_err(HS_EINPUT, "%s holds results of a different study (%d setting%s differ%s; first: file has '%s', "
                             "this run has '%s'); refusing to mix them: choose another output or move the file away",
                  r->path, differ, differ == 1 ? "" : "s", differ == 1 ? "s" : "", a, b);
}

/* One row dataset of /prompts (file_index or line) into field k of rows: -1 (not recorded)
 * when the file predates it. */
static hs_status read_prompt_ints(hs_results *r, int d, int k, hs_prompt_row *rows)
{
    int n = r->grid.n_prompts;
    for (int i = 0; i < n; i++) *(k ? &rows[i].line : &rows[i].file_index) = -1;
    if (r->ds[d] < 0) return HS_OK;
    int32_t *v = hs_malloc((size_t)(n ? n : 1) * sizeof *v, "prompt rows");
    hs_status st = v ? read_all(r->ds[d], r->path, layout[d].path, H5T_NATIVE_INT32, v) : HS_ENOMEM;
    for (int i = 0; !st && i < n; i++) *(k ? &rows[i].line : &rows[i].file_index) = v[i];
    free(v);
    return st;
}

hs_status hs_results_prompt_rows(hs_results *r, const hs_prompt_row **rows)
{
    int n = r->grid.n_prompts;
    hs_status st = HS_OK;
    if (!r->rows) {
        hs_prompt_row *x = hs_calloc((size_t)(n ? n : 1), sizeof *x, "prompt rows");
        st = x ? read_prompt_ints(r, DS_PROMPT_INDEX, 0, x) : HS_ENOMEM;
        if (!st) st = read_prompt_ints(r, DS_PROMPT_LINE, 1, x);
        if (!st && r->ds[DS_PROMPT_BOOK] >= 0)
            st = read_strings(r->ds[DS_PROMPT_BOOK], r->path, layout[DS_PROMPT_BOOK].path, n, &r->books);
        for (int i = 0; !st && i < n; i++) {
            x[i].id = r->prompts[i];
            x[i].book = r->books ? r->books[i] : NULL;
        }
        if (st) free(x);
        else r->rows = x;
    }
    *rows = r->rows;
    return st;
}

hs_status hs_results_check_prompts(hs_results *r, int n, const hs_prompt_row *want, const char *run)
{
    if (n != r->grid.n_prompts)
        return hs_err(HS_EINPUT, "%s holds %d prompts, %s uses %d; refusing to mix results", r->path,
                      r->grid.n_prompts, run, n);
    const hs_prompt_row *have;
    hs_status st = hs_results_prompt_rows(r, &have);
    char what[512];
    for (int i = 0; !st && i < n; i++)
        if (!hs_results_same_prompt(i, &have[i], &want[i], what, sizeof what))
            st = hs_results_prompts_conflict(r->path, run, what);
    return st;
}

/* ---- reading ---- */

hs_status hs_results_read_done(hs_results *r, uint8_t *done)
{
    return read_all(r->ds[DS_DONE], r->path, "/cells/done", H5T_NATIVE_UINT8, done);
}

hs_status hs_results_read_copies(hs_results *r, uint8_t *requested, uint8_t *used, int *recorded)
{
    int64_t n = hs_grid_cells(&r->grid);
    uint8_t *v[2] = {requested, used};
    const int ds[2] = {DS_COPIES_REQUESTED, DS_COPIES_USED};
    hs_status st = HS_OK;
    *recorded = r->ds[DS_COPIES_REQUESTED] >= 0 && r->ds[DS_COPIES_USED] >= 0;
    for (int i = 0; !st && i < 2; i++) {
        if (!*recorded) memset(v[i], HS_RESULTS_COPIES_UNKNOWN, (size_t)n);
        else st = read_all(r->ds[ds[i]], r->path, layout[ds[i]].path, H5T_NATIVE_UINT8, v[i]);
        /* the schema check refuses other values; keep to the mask anyway (cell_copies) */
        for (int64_t c = 0; !st && c < n; c++)
            if (v[i][c] > HS_COPY_ALL) v[i][c] = HS_RESULTS_COPIES_UNKNOWN;
    }
    return st;
}

int hs_results_has_transitions(const hs_results *r) { return r->ds[DS_TRANS] >= 0; }

int hs_results_has_text(const hs_results *r) { return r->ds[DS_GEN_TEXT] >= 0; }

hs_status hs_results_read_pruned(hs_results *r, uint8_t *pruned)
{
    return read_all(r->ds[DS_PRUNED], r->path, "/heads/pruned", H5T_NATIVE_UINT8, pruned);
}

/* Row v of /heads/variant_score into score (L, H). */
static hs_status read_variant_row(hs_results *r, int v, double *score)
{
    size_t LH = (size_t)r->grid.n_layers * r->grid.n_heads;
    double *all = hs_malloc((size_t)r->grid.n_variants * LH * sizeof *all, "head scores");
    if (!all) return HS_ENOMEM;
    hs_status st = read_all(r->ds[DS_VSCORE], r->path, "/heads/variant_score", H5T_NATIVE_DOUBLE, all);
    if (!st) memcpy(score, all + (size_t)v * LH, LH * sizeof *score);
    free(all);
    return st;
}

/* Variant v's strategy: /variant's per-variant attribute where the file has per-variant
 * scores, else (files before strategies per variant) the study's, on /heads/score. */
static hs_status read_strategy(hs_results *r, int v, char **out)
{
    hid_t d = H5Dopen2(r->file, "/variant", H5P_DEFAULT);
    htri_t has = d < 0 ? -1 : H5Aexists(d, "strategy");
    hs_status st = has < 0 ? h5_fail(r->path, "looking up /variant's strategy attribute") : HS_OK;
    if (!st && has && r->ds[DS_VSCORE] >= 0)
        st = get_str_at(d, r->path, "strategy", (size_t)r->grid.n_variants, (size_t)v, out);
    else if (!st)
        st = get_str(r->ds[DS_SCORE], r->path, "strategy", out);
    close_id(d);
    return st;
}

/* An integer attribute of exactly n elements. */
static hs_status get_i32s(hid_t obj, const char *path, const char *name, size_t n, int32_t *out)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t sp = a < 0 ? -1 : H5Aget_space(a);
    hssize_t len = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    herr_t ok = len == (hssize_t)n ? H5Aread(a, H5T_NATIVE_INT32, out) : -1;
    hs_status st = ok < 0 ? h5_fail(path, "reading attribute %s (%zu integers expected)", name, n) : HS_OK;
    close_id(sp);
    close_id(a);
    return st;
}

hs_status hs_results_level_heads(hs_results *r, int32_t *head)
{
    int nl = r->grid.n_levels;
    for (int l = 0; l < nl; l++) head[l] = -1;
    hid_t d = H5Dopen2(r->file, "/level", H5P_DEFAULT);
    htri_t has = d < 0 ? -1 : H5Aexists(d, "single_head");
    hs_status st = has < 0 ? h5_fail(r->path, "looking up /level's single_head attribute") : HS_OK;
    if (!st && has) st = get_i32s(d, r->path, "single_head", (size_t)nl, head);
    int LH = r->grid.n_layers * r->grid.n_heads;
    for (int l = 0; !st && l < nl; l++)
        if (head[l] < -1 || head[l] >= LH)
            st = hs_err(HS_EINPUT, "%s: /level attribute single_head: entry %d is %d, not -1 or a head index below %d",
                        r->path, l, (int)head[l], LH);
    close_id(d);
    return st;
}

/* Row v of /heads/means into sc->means with its provenance; none when the file has no means
 * or the row is NaN (a zero-ablation variant). */
static hs_status read_means(hs_results *r, int v, hs_head_scores *sc)
{
    hid_t d = r->ds[DS_MEANS];
    const hs_grid *g = &r->grid;
    size_t n = (size_t)g->n_layers * g->n_heads * g->head_dim, nv = (size_t)g->n_variants;
    if (d < 0 || !n) return HS_OK;
    double *all = hs_malloc(nv * n * sizeof *all, "head means");
    int32_t *ints = hs_malloc(nv * 2 * sizeof *ints, "head means attributes");
    char *calib = NULL, *sha = NULL;
    hs_status st = all && ints ? read_all(d, r->path, "/heads/means", H5T_NATIVE_DOUBLE, all) : HS_ENOMEM;
    int use = !st && !isnan(all[v * n]);
    if (use) st = get_str_at(d, r->path, "calibration_set", nv, (size_t)v, &calib);
    if (use && !st) st = get_str_at(d, r->path, "calibration_sha256", nv, (size_t)v, &sha);
    if (use && !st) st = get_i32s(d, r->path, "n_prompts", nv, ints);
    if (use && !st) st = get_i32s(d, r->path, "max_tokens", nv, ints + nv);
    hs_head_mean_set *ms = &sc->means;
    if (use && !st && !(ms->v = hs_malloc(n * sizeof *ms->v, "head means"))) st = HS_ENOMEM;
    for (size_t i = 0; use && !st && i < n; i++) ms->v[i] = (float)all[v * n + i];
    if (use && !st) {
        ms->D = g->head_dim;
        snprintf(ms->calibration, sizeof ms->calibration, "%s", calib);
        snprintf(ms->calibration_sha256, sizeof ms->calibration_sha256, "%s", sha);
        ms->n_prompts = ints[v];
        ms->max_tokens = ints[nv + v];
    }
    free(all);
    free(ints);
    free(calib);
    free(sha);
    return st;
}

hs_status hs_results_read_scores(hs_results *r, int v, hs_head_scores *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->L = r->grid.n_layers;
    sc->H = r->grid.n_heads;
    sc->score = hs_malloc((size_t)sc->L * sc->H * sizeof(double), "head scores");
    if (!sc->score) return HS_ENOMEM;
    hid_t d = r->ds[DS_SCORE];
    char *strategy = NULL, *calib = NULL, *calib_sha = NULL;
    hs_status st = r->ds[DS_VSCORE] >= 0 ? read_variant_row(r, v, sc->score)
                                         : read_all(d, r->path, "/heads/score", H5T_NATIVE_DOUBLE, sc->score);
    if (!st) st = read_strategy(r, v, &strategy);
    if (!st && hs_strategy_parse(strategy, &sc->strategy))
        st = hs_err(HS_EINPUT, "%s: variant %d: unknown strategy '%s'", r->path, v, strategy);
    if (!st) st = get_str(d, r->path, "calibration_set", &calib);
    if (!st) st = get_str(d, r->path, "calibration_sha256", &calib_sha);
    if (!st) st = get_scalar(d, r->path, "n_prompts", H5T_NATIVE_INT, &sc->n_prompts);
    if (!st) st = get_scalar(d, r->path, "seed", H5T_NATIVE_UINT64, &sc->seed);
    if (!st) st = read_means(r, v, sc);
    if (!st) {
        snprintf(sc->calibration, sizeof sc->calibration, "%s", calib);
        snprintf(sc->calibration_sha256, sizeof sc->calibration_sha256, "%s", calib_sha);
    }
    free(strategy);
    free(calib);
    free(calib_sha);
    if (st) hs_scores_free(sc);
    return st;
}

/* ---- cells ---- */

/* File selection of one prompt row per prompt of the cell in a (variant, level, prompt,
 * ...) dataset; count is the row length (1 for metrics, max_new for ids). A run of
 * prompts at a constant step (a shard's prompts s, s + N, s + 2N, ...: the whole cell) is
 * one strided hyperslab: OR-ing a block per prompt made HDF5 merge its span tree on every
 * call, a write of one cell growing with the square of its prompts and more (7.9 s for
 * 4,000 prompts at stride 2; an outside scale test). The rows selected are the same. */
static hid_t prompt_rows(hid_t d, const hs_cell *cell, const hs_cell_result *c, hsize_t count)
{
    hid_t s = H5Dget_space(d);
    if (s < 0) return s;
    herr_t ok = H5Sselect_none(s);
    for (int j = 0, len; ok >= 0 && j < c->n; j += len) {
        int64_t step = j + 1 < c->n ? c->prompt[j + 1] - c->prompt[j] : 1; /* ascending: >= 1 */
        for (len = 1; j + len < c->n && c->prompt[j + len] - c->prompt[j + len - 1] == step; len++) continue;
        hsize_t start[4] = {(hsize_t)cell->variant, (hsize_t)cell->level, (hsize_t)c->prompt[j], 0};
        hsize_t stride[4] = {1, 1, (hsize_t)step, 1}, cnt[4] = {1, 1, (hsize_t)len, 1}, block[4] = {1, 1, 1, count};
        ok = H5Sselect_hyperslab(s, H5S_SELECT_OR, start, stride, cnt, block);
    }
    if (ok < 0) {
        H5Sclose(s);
        return -1;
    }
    return s;
}

/* File selection of one element (rest = 0) or one block at (variant, level, shard, ...). */
static hid_t cell_block(hid_t d, const hs_cell *cell, int ndims, const hsize_t *tail)
{
    hid_t s = H5Dget_space(d);
    hsize_t start[6] = {(hsize_t)cell->variant, (hsize_t)cell->level, (hsize_t)cell->shard, 0, 0, 0};
    hsize_t cnt[6] = {1, 1, 1, 1, 1, 1};
    for (int i = 3; i < ndims; i++) cnt[i] = tail[i - 3];
    if (s >= 0 && H5Sselect_hyperslab(s, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0) {
        H5Sclose(s);
        return -1;
    }
    return s;
}

/* Moves data between memory and a file selection (reads when reading, else writes). The
 * memory side is n contiguous elements, or every stride-th element from offset. */
static hs_status transfer(hs_results *r, int reading, hid_t d, hid_t fsel, hid_t mtype, void *buf, hsize_t n,
                          hsize_t offset, hsize_t stride, const char *what)
{
    hsize_t total = stride > 1 ? n * stride : n;
    hid_t ms = fsel < 0 ? -1 : H5Screate_simple(1, &total, NULL);
    herr_t ok = ms < 0 ? -1 : 0;
    if (ok >= 0 && stride > 1) ok = H5Sselect_hyperslab(ms, H5S_SELECT_SET, &offset, &stride, &n, NULL);
    if (ok >= 0)
        ok = reading ? H5Dread(d, mtype, ms, fsel, H5P_DEFAULT, buf) : H5Dwrite(d, mtype, ms, fsel, H5P_DEFAULT, buf);
    /* h5_fail first: closing would clear the error stack it reads the reason from. */
    hs_status st = ok < 0 ? h5_fail(r->path, "%s %s", reading ? "reading" : "writing", what) : HS_OK;
    close_id(ms);
    close_id(fsel);
    return st;
}

/* A cell's per-head agency transitions; a file without the dataset reads as zeros and
 * is written without them. */
static hs_status cell_transitions(hs_results *r, int reading, const hs_cell *cell, hs_cell_result *c)
{
    hsize_t tail[2] = {(hsize_t)r->grid.n_layers, (hsize_t)r->grid.n_heads};
    if (r->ds[DS_TRANS] < 0) {
        if (reading) memset(c->transitions, 0, tail[0] * tail[1] * sizeof *c->transitions);
        return HS_OK;
    }
    hid_t fs = cell_block(r->ds[DS_TRANS], cell, 5, tail);
    return transfer(r, reading, r->ds[DS_TRANS], fs, H5T_NATIVE_INT64, c->transitions, tail[0] * tail[1], 0, 1,
                    "/agency/transitions");
}

/* A cell's generated texts; a file without /prompts/generated reads as "" and is written
 * without them. The cell's buffers must have the file's string size. */
static hs_status cell_text(hs_results *r, int reading, const hs_cell *cell, hs_cell_result *c)
{
    size_t bytes = (size_t)c->n * c->text_bytes;
    if (r->ds[DS_GEN_TEXT] < 0) {
        if (reading && c->text) memset(c->text, 0, bytes);
        return HS_OK;
    }
    if (c->text_bytes != r->grid.text_bytes)
        return hs_err(HS_EINPUT, "%s: /prompts/generated holds strings of %d bytes, the cell's texts have %d", r->path,
                      r->grid.text_bytes, c->text_bytes);
    hid_t t = string_type((size_t)c->text_bytes);
    if (t < 0) return h5_fail(r->path, "creating a string type");
    hid_t fs = prompt_rows(r->ds[DS_GEN_TEXT], cell, c, 1);
    hs_status st = transfer(r, reading, r->ds[DS_GEN_TEXT], fs, t, c->text, (hsize_t)c->n, 0, 1, "/prompts/generated");
    close_id(t);
    return st;
}

/* Metrics, generated ids and texts and agency counts of a cell (the part written before the flag). */
static hs_status cell_data(hs_results *r, int reading, const hs_cell *cell, hs_cell_result *c)
{
    const hs_grid *g = &r->grid;
    hs_status st = HS_OK;
    for (int m = 0; !st && m < HS_M_COUNT; m++) {
        char what[128];
        snprintf(what, sizeof what, "/metrics/%s", hs_metrics[m].name);
        hid_t fs = prompt_rows(r->metric[m], cell, c, 1);
        st = transfer(r, reading, r->metric[m], fs, H5T_NATIVE_DOUBLE, c->metrics, (hsize_t)c->n, (hsize_t)m,
                      HS_M_COUNT, what);
    }
    if (!st) {
        hid_t fs = prompt_rows(r->ds[DS_GEN], cell, c, (hsize_t)g->max_new);
        st = transfer(r, reading, r->ds[DS_GEN], fs, H5T_NATIVE_INT32, c->gen_ids, (hsize_t)c->n * g->max_new, 0, 1,
                      "/text/generated_ids");
    }
    if (!st) {
        hsize_t tail[3] = {(hsize_t)g->n_layers, (hsize_t)g->n_heads, HS_AG_NSTATES};
        hid_t fs = cell_block(r->ds[DS_OCC], cell, 6, tail);
        st = transfer(r, reading, r->ds[DS_OCC], fs, H5T_NATIVE_INT64, c->occupancy, tail[0] * tail[1] * tail[2], 0, 1,
                      "/agency/occupancy");
    }
    if (!st) st = cell_transitions(r, reading, cell, c);
    if (!st) st = cell_text(r, reading, cell, c);
    return st;
}

/* One element of a /cells dataset. */
static hs_status cell_field(hs_results *r, int reading, int ds, const hs_cell *cell, hid_t mtype, void *value)
{
    hid_t fs = cell_block(r->ds[ds], cell, 3, NULL);
    return transfer(r, reading, r->ds[ds], fs, mtype, value, 1, 0, 1, layout[ds].path);
}

/* A cell's finish time, "YYYY-MM-DDTHH:MM:SSZ" (hs_utc_now) in memory, seconds since the Unix
 * epoch in the file (CF's time units: xarray decodes it); NaN for "" (no time). */
static double utc_to_epoch(const char *utc)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int end = 0;
    if (sscanf(utc, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &end) != 6 || end == 0 || utc[end])
        return NAN;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm);
}

static void epoch_to_utc(double t, char out[HS_UTC_MAX])
{
    struct tm tm;
    time_t s = (time_t)t;
    out[0] = '\0';
    if (isfinite(t) && fabs(t) < 1e12 && gmtime_r(&s, &tm)) strftime(out, HS_UTC_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A cell's speed copies (/cells/copies_requested, /cells/copies_used); a file without them
 * reads as not recorded and is written without them. A value the schema check did not
 * allow cannot come back here (it refuses the file), but reading keeps to the mask anyway. */
static hs_status cell_copies(hs_results *r, int reading, const hs_cell *cell, hs_cell_result *c)
{
    uint8_t *v[2] = {&c->copies_requested, &c->copies_used};
    const int ds[2] = {DS_COPIES_REQUESTED, DS_COPIES_USED};
    hs_status st = HS_OK;
    for (int i = 0; !st && i < 2; i++) {
        if (r->ds[ds[i]] < 0) {
            if (reading) *v[i] = HS_RESULTS_COPIES_UNKNOWN;
            continue;
        }
        st = cell_field(r, reading, ds[i], cell, H5T_NATIVE_UINT8, v[i]);
        if (!st && reading && *v[i] > HS_COPY_ALL) *v[i] = HS_RESULTS_COPIES_UNKNOWN;
    }
    return st;
}

static hs_status cell_info(hs_results *r, int reading, const hs_cell *cell, hs_cell_result *c)
{
    hid_t host_t = string_type(HS_HOST_MAX);
    double finished = reading ? NAN : utc_to_epoch(c->finished_utc);
    hs_status st = host_t < 0 ? h5_fail(r->path, "creating a string type") : HS_OK;
    if (!st) st = cell_field(r, reading, DS_RANK, cell, H5T_NATIVE_INT32, &c->rank);
    if (!st) st = cell_field(r, reading, DS_RUN, cell, H5T_NATIVE_INT32, &c->run);
    if (!st) st = cell_field(r, reading, DS_SECONDS, cell, H5T_NATIVE_DOUBLE, &c->seconds);
    if (!st) st = cell_field(r, reading, DS_HOST, cell, host_t, c->host);
    if (!st) st = cell_field(r, reading, DS_FINISHED, cell, H5T_NATIVE_DOUBLE, &finished);
    if (!st && reading) epoch_to_utc(finished, c->finished_utc);
    if (!st) st = cell_copies(r, reading, cell, c);
    close_id(host_t);
    return st;
}

/* Flushes HDF5's buffers to the operating system and the operating system's to disk. */
static hs_status flush_sync(hs_results *r)
{
    if (H5Fflush(r->file, H5F_SCOPE_LOCAL) < 0) return h5_fail(r->path, "flushing");
    hid_t fapl = H5Fget_access_plist(r->file);
    void *handle = NULL;
    herr_t ok = fapl < 0 ? -1 : H5Fget_vfd_handle(r->file, fapl, &handle);
    close_id(fapl);
    if (ok < 0 || !handle) return h5_fail(r->path, "getting the file descriptor");
    if (fsync(*(int *)handle) != 0 && errno != EINVAL)
        return hs_err(HS_EIO, "%s: fsync failed: %s", r->path, strerror(errno));
    return HS_OK;
}

hs_status hs_results_write_cell(hs_results *r, const hs_cell_result *c)
{
    HS_CHECK(r->writable && c->index >= 0 && c->index < hs_grid_cells(&r->grid));
    for (int j = 1; j < c->n; j++) HS_CHECK(c->prompt[j - 1] < c->prompt[j]);
    hs_cell cell = hs_grid_cell(&r->grid, c->index);
    hs_cell_result *w = (hs_cell_result *)c; /* transfer() reads from it when writing */
    uint8_t one = 1;
    hs_status st = cell_data(r, 0, &cell, w);
    if (!st) st = cell_info(r, 0, &cell, w);
    if (!st) st = flush_sync(r);
    if (!st) st = cell_field(r, 0, DS_DONE, &cell, H5T_NATIVE_UINT8, &one);
    if (!st && H5Fflush(r->file, H5F_SCOPE_LOCAL) < 0) st = h5_fail(r->path, "flushing");
    return st;
}

hs_status hs_results_read_cell(hs_results *r, hs_cell_result *c)
{
    hs_cell cell = hs_grid_cell(&r->grid, c->index);
    HS_CHECK(c->n == hs_grid_shard_size(&r->grid, cell.shard));
    hs_grid_shard_prompts(&r->grid, cell.shard, c->prompt);
    hs_status st = cell_data(r, 1, &cell, c);
    if (!st) st = cell_info(r, 1, &cell, c);
    c->host[HS_HOST_MAX - 1] = c->finished_utc[HS_UTC_MAX - 1] = '\0';
    return st;
}

/* ---- runs ---- */

hs_status hs_results_begin_run(hs_results *r, const hs_run_info *info, int *run)
{
    int32_t runs = 0;
    hs_status st = get_scalar(r->file, r->path, "runs", H5T_NATIVE_INT32, &runs);
    if (!st) st = run_attrs(r->file, r->path, info, runs + 1, 0);
    if (!st) st = flush_sync(r);
    if (!st) *run = runs + 1;
    return st;
}

static hs_status all_done(hs_results *r, int *complete)
{
    int64_t n = hs_grid_cells(&r->grid);
    uint8_t *done = hs_malloc((size_t)n, "done flags");
    if (!done) return HS_ENOMEM;
    hs_status st = hs_results_read_done(r, done);
    *complete = 1;
    for (int64_t i = 0; i < n && !st; i++) *complete &= done[i] != 0;
    free(done);
    return st;
}

hs_status hs_results_end_run(hs_results *r)
{
    int complete = 0;
    int32_t runs = 0;
    hs_status st = all_done(r, &complete);
    if (!st) st = get_scalar(r->file, r->path, "runs", H5T_NATIVE_INT32, &runs);
    if (!st) st = run_attrs(r->file, r->path, NULL, runs, complete);
    if (!st) st = flush_sync(r);
    return st;
}

/* A kill between the last cell's done flag and end_run's stamp (sweep_killpoints.sh)
 * leaves complete = 0 on a finished file; the next run has no cell to compute and would
 * never call end_run. */
hs_status hs_results_settle(hs_results *r)
{
    int complete = 0;
    uint8_t stamped = 0;
    hs_status st = all_done(r, &complete);
    if (!st && complete) st = get_scalar(r->file, r->path, "complete", H5T_NATIVE_UINT8, &stamped);
    if (st || !complete || stamped) return st;
    return hs_results_end_run(r);
}

/* Deletes attribute name of obj when it is there, without reading its value. */
static hs_status drop_attr(hid_t obj, const char *path, const char *obj_name, const char *name)
{
    htri_t has = H5Aexists(obj, name);
    if (has > 0 && H5Adelete(obj, name) < 0) has = -1;
    return has < 0 ? h5_fail(path, "removing attribute %s of %s", name, obj_name) : HS_OK;
}

/* Detaches (without reading) and attaches again the scales of one dataset. */
static hs_status reattach(hs_results *r, hid_t d, const char *name, const ds_layout *l, const hid_t *scales)
{
    hs_status st = drop_attr(d, r->path, name, "DIMENSION_LIST");
    for (int i = 0; !st && i < l->rank; i++)
        if (H5DSattach_scale(d, scales[l->dims[i]], (unsigned)i) < 0)
            st = h5_fail(r->path, "attaching dimension %s to %s", dim_names(l->dims[i]), name);
    return st;
}

/* In creation order (build_file), so each scale's REFERENCE_LIST lists the datasets as a
 * new file's does. */
static hs_status reattach_all(hs_results *r, const hid_t *scales)
{
    hs_status st = HS_OK;
    for (int m = 0; !st && m < HS_M_COUNT; m++) {
        char name[128];
        snprintf(name, sizeof name, "/metrics/%s", hs_metrics[m].name);
        st = reattach(r, r->metric[m], name, &metric_layout, scales);
    }
    static const int texts[] = {DS_PROMPT_TEXT, DS_REFERENCE_TEXT, DS_GEN_TEXT, DS_PROMPT_BOOK}; /* make_texts */
    for (int i = 0; !st && i < DS_COUNT; i++)
        if (r->ds[i] >= 0 && i != DS_PROMPT_TEXT && i != DS_REFERENCE_TEXT && i != DS_GEN_TEXT && i != DS_PROMPT_BOOK)
            st = reattach(r, r->ds[i], layout[i].path, &layout[i], scales);
    for (int k = 0; !st && k < 4; k++)
        if (r->ds[texts[k]] >= 0) st = reattach(r, r->ds[texts[k]], layout[texts[k]].path, &layout[texts[k]], scales);
    return st;
}

hs_status hs_results_reattach_scales(hs_results *r)
{
    hid_t scales[D_COUNT];
    hs_status st = HS_OK;
    for (int dim = 0; dim < D_COUNT; dim++) scales[dim] = -1;
    for (int dim = 0; !st && dim < D_COUNT; dim++) {
        if (dim == D_HEAD_DIM && !r->grid.head_dim) continue; /* absent without /heads/means */
        char name[64];
        snprintf(name, sizeof name, "/%s", dim_names(dim));
        scales[dim] = H5Dopen2(r->file, name, H5P_DEFAULT);
        st = scales[dim] < 0 ? h5_fail(r->path, "opening %s", name) : drop_attr(scales[dim], r->path, name,
                                                                                "REFERENCE_LIST");
    }
    if (!st) st = reattach_all(r, scales);
    for (int dim = 0; dim < D_COUNT; dim++) close_id(scales[dim]);
    return st;
}

hs_status hs_results_set_merged_from(hs_results *r, const char *inputs)
{
    return put_text(r->file, r->path, HS_RA_MERGED_FROM, inputs);
}

hs_status hs_results_read_complete(hs_results *r, int *complete)
{
    uint8_t c = 0;
    hs_status st = get_scalar(r->file, r->path, "complete", H5T_NATIVE_UINT8, &c);
    *complete = c != 0;
    return st;
}
