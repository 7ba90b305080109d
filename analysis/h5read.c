/* h5read.c: one results file -> hs_study (see h5read.h, docs/results-format.md).
 *
 * Strings may be variable- or fixed-length (h5py writes the former, C writers often the
 * latter); numbers are converted by HDF5 to the memory type we ask for. Every HDF5 call
 * is checked and every identifier closed on every path; HDF5's own error stack printing
 * is switched off so the user sees one message naming the file and the object. */
#include "h5read.h"

#include <hdf5.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "headsweep/results_check.h"

#define HS_SCHEMA_VERSION 1

typedef struct {
    const char *path; /* for messages */
    hid_t f;
    uint8_t *cells;   /* (nv, nl, nshard) /cells/done */
    hsize_t nshard;
    struct chunk_addrs *chunks; /* file address of every chunk read so far */
} rd;

struct chunk_addrs {
    haddr_t *addr;
    size_t n, cap;
};

/* Object paths are given relative to the root ("metrics/x") or absolute ("/variant");
 * messages always show them absolute. */
static const char *slash(const char *obj) { return obj[0] == '/' ? "" : "/"; }

/* "file: /object: problem". */
static hs_status bad(const rd *r, const char *obj, const char *what)
{
    return hs_err(HS_EINPUT, "%s: %s%s: %s", r->path, slash(obj), obj, what);
}

/* Innermost description on HDF5's error stack ("data error detected by Fletcher32
 * checksum", "unable to lock file, errno = 11, ..."). */
static herr_t on_error(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc) snprintf(data, 256, "%s", e->desc);
    return 0;
}

/* bad() for a failed HDF5 call: adds HDF5's reason, and says plainly when a checksum
 * failed (the writer gives every dataset and its metadata one: the file is damaged). */
static hs_status bad_h5(const rd *r, const char *obj, const char *what)
{
    char why[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, on_error, why);
    if (strstr(why, "checksum"))
        return hs_err(HS_EINPUT, "%s: %s%s: %s: %s: the file is damaged (a checksum does not match)", r->path,
                      slash(obj), obj, what, why);
    return hs_err(HS_EINPUT, "%s: %s%s: %s%s%s", r->path, slash(obj), obj, what, why[0] ? ": " : "", why);
}

const char *hs_h5_library_version(void)
{
    static char buf[32];
    unsigned maj = 0, min = 0, rel = 0;
    if (H5get_libversion(&maj, &min, &rel) < 0) return "unknown";
    snprintf(buf, sizeof buf, "%u.%u.%u", maj, min, rel);
    return buf;
}

/* ---- objects ---- */

/* 1 when every component of obj (a path relative to the root) exists, 0 when one does
 * not, -1 when HDF5 fails to tell. */
static int link_exists(const rd *r, const char *obj)
{
    char buf[512];
    if (snprintf(buf, sizeof buf, "%s", obj) >= (int)sizeof buf) return -1;
    for (char *p = buf;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        htri_t e = H5Lexists(r->f, buf, H5P_DEFAULT);
        if (e <= 0) return e < 0 ? -1 : 0;
        if (c == '\0') return 1;
        *p = c;
    }
}

static hs_status open_dataset(const rd *r, const char *obj, hid_t *d)
{
    int e = link_exists(r, obj);
    if (e < 0) return bad_h5(r, obj, "cannot look up this object");
    if (e == 0) return bad(r, obj, "missing dataset (see docs/results-format.md)");
    *d = H5Dopen2(r->f, obj, H5P_DEFAULT);
    if (*d < 0) return bad_h5(r, obj, "exists but is not a readable dataset");
    return HS_OK;
}

typedef struct {
    int rank;
    hsize_t dim[6];
    const char *name[6]; /* dimension names for messages */
} shape;

static void shape_text(const hsize_t *dim, const char *const *name, int rank, char *buf,
                       size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < rank && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%s%s%llu", i ? ", " : "",
                              name ? name[i] : "", name ? " " : "", (unsigned long long)dim[i]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
}

/* Reads the extent of d; checks it against want (when want->dim[i] == 0 any length is
 * accepted along that axis) and stores it in got. */
static hs_status check_shape(const rd *r, hid_t d, const char *obj, const shape *want,
                             hsize_t *got)
{
    hid_t sp = H5Dget_space(d);
    if (sp < 0) return bad(r, obj, "cannot read its dataspace");
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[H5S_MAX_RANK];
    hs_status st = HS_OK;
    if (nd < 0 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0)
        st = bad(r, obj, "cannot read its dimensions");
    if (!st && nd != want->rank)
        st = hs_err(HS_EINPUT, "%s: %s%s: has %d dimensions, expected %d", r->path, slash(obj), obj, nd,
                    want->rank);
    for (int i = 0; !st && i < nd; i++) {
        if (want->dim[i] != 0 && dims[i] != want->dim[i]) {
            char a[160], b[160];
            shape_text(dims, NULL, nd, a, sizeof a);
            shape_text(want->dim, want->name, want->rank, b, sizeof b);
            st = hs_err(HS_EINPUT, "%s: %s%s: has shape %s, expected %s", r->path, slash(obj), obj, a, b);
        }
        if (!st && got) got[i] = dims[i];
    }
    if (H5Sclose(sp) < 0 && !st) st = bad(r, obj, "cannot close its dataspace");
    return st;
}

static size_t shape_count(const hsize_t *dim, int rank)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= (size_t)dim[i];
    return n;
}

/* Adds a chunk's file address to r->chunks (0 when out of memory). */
static int remember_chunk(const rd *r, haddr_t addr)
{
    struct chunk_addrs *c = r->chunks;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        haddr_t *grown = realloc(c->addr, cap * sizeof *grown);
        if (!grown) return 0;
        c->addr = grown, c->cap = cap;
    }
    c->addr[c->n++] = addr;
    return 1;
}

/* 1 when the chunk index of d (a version 1 B-tree, which HDF5 does not checksum) has
 * every chunk at its coordinates, with no filter skipped and the stored size of a full
 * fletcher32 chunk; a damaged entry would otherwise read silently as fill values. 1 for
 * datasets that are not chunked or not checksummed (older files, h5py's). Each chunk's
 * address joins r->chunks: an entry pointing at another chunk (whose checksum is valid)
 * is caught by chunks_distinct once everything is read. */
static int chunk_index_ok(const rd *r, hid_t d, int rank, const hsize_t *dims)
{
    hid_t dcpl = H5Dget_create_plist(d), t = H5Dget_type(d);
    hsize_t chunk[H5S_MAX_RANK], at[H5S_MAX_RANK] = {0}, n = 0, want = 1;
    int ok = dcpl >= 0 && t >= 0;
    int checked = ok && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, rank, chunk) == rank &&
                  H5Pget_nfilters(dcpl) == 1 &&
                  H5Pget_filter2(dcpl, 0, NULL, NULL, NULL, 0, NULL, NULL) == H5Z_FILTER_FLETCHER32;
    size_t bytes = ok ? H5Tget_size(t) : 0;
    for (int i = 0; checked && i < rank; i++) {
        want *= (dims[i] + chunk[i] - 1) / chunk[i];
        bytes *= (size_t)chunk[i];
    }
    hid_t sp = checked ? H5Dget_space(d) : -1;
    if (checked && (sp < 0 || H5Dget_num_chunks(d, sp, &n) < 0 || n != want)) ok = 0;
    if (sp >= 0) H5Sclose(sp);
    for (int more = checked && ok && want > 0; more && ok;) {
        unsigned mask = 1;
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0;
        hsize_t found = 0; /* the lookup reads use: see verify_chunks in src/results/results.c */
        ok = H5Dget_chunk_info_by_coord(d, at, &mask, &addr, &size) >= 0 && addr != HADDR_UNDEF && mask == 0 &&
             size == bytes + 4 && H5Dget_chunk_storage_size(d, at, &found) >= 0 && found == size &&
             remember_chunk(r, addr);
        more = 0;
        for (int i = rank - 1; i >= 0 && !more; i--) {
            at[i] += chunk[i];
            if (at[i] < dims[i]) more = 1;
            else at[i] = 0;
        }
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (t >= 0) H5Tclose(t);
    return ok;
}

/* Reads a whole numeric dataset as memtype into a new buffer of elsize-byte elements. */
static hs_status read_numeric(const rd *r, const char *obj, hid_t memtype, size_t elsize,
                              const shape *want, hsize_t *got, void **out)
{
    hid_t d = -1;
    hsize_t dims[6] = {0};
    *out = NULL;
    hs_status st = open_dataset(r, obj, &d);
    if (st) return st;
    st = check_shape(r, d, obj, want, dims);
    if (!st) {
        size_t n = shape_count(dims, want->rank);
        *out = hs_malloc(n * elsize, obj);
        if (!*out) st = HS_ENOMEM;
    }
    if (!st && shape_count(dims, want->rank) > 0 &&
        H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
        st = bad_h5(r, obj, "cannot read its values as numbers");
    if (!st && !chunk_index_ok(r, d, want->rank, dims))
        st = bad(r, obj, "its chunk index is damaged (a chunk is missing, misplaced or of the wrong size)");
    if (H5Dclose(d) < 0 && !st) st = bad(r, obj, "cannot close");
    if (got) memcpy(got, dims, sizeof(hsize_t) * (size_t)want->rank);
    return st;
}

/* ---- strings (datasets and attributes) ---- */

typedef struct {
    hid_t id;
    int is_attr;
    const char *what; /* "/variant" or "/variant@gating", for messages */
} strobj;

static hid_t obj_type(const strobj *o) { return o->is_attr ? H5Aget_type(o->id) : H5Dget_type(o->id); }
static hid_t obj_space(const strobj *o)
{
    return o->is_attr ? H5Aget_space(o->id) : H5Dget_space(o->id);
}
static herr_t obj_read(const strobj *o, hid_t memtype, void *buf)
{
    return o->is_attr ? H5Aread(o->id, memtype, buf)
                      : H5Dread(o->id, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
}

static hs_status copy_strings(char **src, size_t n, char **dst)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = hs_strdup(src[i] ? src[i] : "");
        if (!dst[i]) return HS_ENOMEM;
    }
    return HS_OK;
}

static hs_status read_vlen_strings(const rd *r, const strobj *o, hid_t memtype, size_t n,
                                   char **out)
{
    char **tmp = hs_calloc(n, sizeof *tmp, o->what);
    if (!tmp) return HS_ENOMEM;
    hs_status st = HS_OK;
    if (obj_read(o, memtype, tmp) < 0) st = bad_h5(r, o->what, "cannot read its strings");
    if (!st) st = copy_strings(tmp, n, out);
    hid_t sp = obj_space(o);
    if (sp < 0 || H5Dvlen_reclaim(memtype, sp, H5P_DEFAULT, tmp) < 0)
        if (!st) st = bad(r, o->what, "cannot release its strings");
    if (sp >= 0) H5Sclose(sp);
    free(tmp);
    return st;
}

static hs_status read_fixed_strings(const rd *r, const strobj *o, hid_t memtype, size_t size,
                                    size_t n, char **out)
{
    char *buf = hs_calloc(n ? n : 1, size, o->what);
    if (!buf) return HS_ENOMEM;
    hs_status st = HS_OK;
    if (obj_read(o, memtype, buf) < 0) st = bad_h5(r, o->what, "cannot read its strings");
    for (size_t i = 0; !st && i < n; i++) {
        buf[i * size + size - 1] = '\0';
        out[i] = hs_strdup(buf + i * size);
        if (!out[i]) st = HS_ENOMEM;
    }
    free(buf);
    return st;
}

/* Memory string type matching ftype: variable-length, or fixed with one byte more for
 * the terminator; same character set. */
static hid_t string_memtype(hid_t ftype, int *is_var, size_t *size)
{
    htri_t var = H5Tis_variable_str(ftype);
    H5T_cset_t cset = H5Tget_cset(ftype);
    if (var < 0 || cset < 0) return -1;
    *is_var = var > 0;
    *size = var ? 0 : H5Tget_size(ftype) + 1;
    if (!var && *size == 1) return -1;
    hid_t m = H5Tcopy(H5T_C_S1);
    if (m < 0) return -1;
    if (H5Tset_size(m, var ? H5T_VARIABLE : *size) < 0 || H5Tset_cset(m, cset) < 0 ||
        H5Tset_strpad(m, H5T_STR_NULLTERM) < 0) {
        H5Tclose(m);
        return -1;
    }
    return m;
}

/* Reads the n strings of a string dataset or attribute into out (n pointers, zeroed). */
static hs_status read_strings(const rd *r, const strobj *o, size_t n, char **out)
{
    hid_t ft = obj_type(o);
    if (ft < 0) return bad(r, o->what, "cannot read its type");
    hs_status st = HS_OK;
    H5T_class_t cls = H5Tget_class(ft);
    int is_var = 0;
    size_t size = 0;
    hid_t mt = -1;
    if (cls != H5T_STRING) st = bad(r, o->what, "is not a string");
    if (!st && (mt = string_memtype(ft, &is_var, &size)) < 0)
        st = bad(r, o->what, "has an unsupported string type");
    if (!st)
        st = is_var ? read_vlen_strings(r, o, mt, n, out)
                    : read_fixed_strings(r, o, mt, size, n, out);
    if (mt >= 0) H5Tclose(mt);
    H5Tclose(ft);
    return st;
}

static hs_status space_points(const rd *r, const strobj *o, size_t *n)
{
    hid_t sp = obj_space(o);
    if (sp < 0) return bad(r, o->what, "cannot read its dataspace");
    hssize_t k = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    if (k < 0) return bad(r, o->what, "cannot count its elements");
    *n = (size_t)k;
    return HS_OK;
}

/* A 1-D string dataset (a dimension scale) of any length: *out gets n new strings. */
static hs_status read_string_dataset(const rd *r, const char *obj, char ***out, int *n)
{
    hid_t d = -1;
    hs_status st = open_dataset(r, obj, &d);
    if (st) return st;
    shape want = {1, {0}, {obj}};
    hsize_t dims[1] = {0};
    st = check_shape(r, d, obj, &want, dims);
    if (!st && !(*out = hs_calloc(dims[0] ? dims[0] : 1, sizeof **out, obj))) st = HS_ENOMEM;
    if (!st) {
        *n = (int)dims[0];
        strobj o = {d, 0, obj};
        st = read_strings(r, &o, dims[0], *out);
    }
    if (H5Dclose(d) < 0 && !st) st = bad(r, obj, "cannot close");
    return st;
}

/* ---- attributes ---- */

/* Opens attribute name of object loc (named obj in messages); *a < 0 when absent. */
static hs_status open_attr(const rd *r, hid_t loc, const char *obj, const char *name, hid_t *a)
{
    *a = -1;
    htri_t e = H5Aexists(loc, name);
    if (e < 0) return hs_err(HS_EINPUT, "%s: %s%s: cannot look up attribute %s", r->path, slash(obj), obj, name);
    if (e == 0) return HS_OK;
    *a = H5Aopen(loc, name, H5P_DEFAULT);
    if (*a < 0) return hs_err(HS_EINPUT, "%s: %s%s: cannot open attribute %s", r->path, slash(obj), obj, name);
    return HS_OK;
}

/* Reads string attribute name (exactly n values, n >= 1) into out; absent -> required
 * error, or out[i] = "" when not required. */
static hs_status attr_strings(const rd *r, hid_t loc, const char *obj, const char *name,
                              size_t n, int required, char **out)
{
    hid_t a;
    char what[256];
    snprintf(what, sizeof what, "%s%s attribute %s", slash(obj), obj, name);
    hs_status st = open_attr(r, loc, obj, name, &a);
    if (st) return st;
    if (a < 0) {
        if (required) return bad(r, what, "missing (see docs/results-format.md)");
        for (size_t i = 0; i < n; i++)
            if (!(out[i] = hs_strdup(""))) return HS_ENOMEM;
        return HS_OK;
    }
    strobj o = {a, 1, what};
    size_t k = 0;
    st = space_points(r, &o, &k);
    if (!st && k != n)
        st = hs_err(HS_EINPUT, "%s: %s: has %zu values, expected %zu", r->path, what, k, n);
    if (!st) st = read_strings(r, &o, n, out);
    if (H5Aclose(a) < 0 && !st) st = bad(r, what, "cannot close");
    return st;
}

/* Reads numeric attribute name (n values) as memtype; *found = 0 when absent. */
static hs_status attr_numbers(const rd *r, hid_t loc, const char *obj, const char *name,
                              hid_t memtype, size_t n, void *out, int *found)
{
    hid_t a;
    char what[256];
    snprintf(what, sizeof what, "%s%s attribute %s", slash(obj), obj, name);
    hs_status st = open_attr(r, loc, obj, name, &a);
    *found = a >= 0;
    if (st || a < 0) return st;
    strobj o = {a, 1, what};
    size_t k = 0;
    st = space_points(r, &o, &k);
    if (!st && k != n)
        st = hs_err(HS_EINPUT, "%s: %s: has %zu values, expected %zu", r->path, what, k, n);
    if (!st && H5Aread(a, memtype, out) < 0) st = bad(r, what, "cannot read it as a number");
    if (H5Aclose(a) < 0 && !st) st = bad(r, what, "cannot close");
    return st;
}

/* ---- provenance: every root attribute as text ---- */

static char *join_numbers(hid_t a, hid_t ft, H5T_class_t cls, size_t n)
{
    int is_unsigned = cls == H5T_INTEGER && H5Tget_sign(ft) == H5T_SGN_NONE;
    hid_t mt = cls == H5T_FLOAT ? H5T_NATIVE_DOUBLE : is_unsigned ? H5T_NATIVE_ULLONG
                                                                  : H5T_NATIVE_LLONG;
    union { double d; long long ll; unsigned long long ull; } *v = calloc(n ? n : 1, sizeof *v);
    char *text = calloc(n * 32 + 1, 1);
    if (!v || !text || H5Aread(a, mt, v) < 0) {
        free(v);
        free(text);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *sep = i ? ", " : "";
        if (cls == H5T_FLOAT) k += (size_t)snprintf(text + k, 32, "%s%.10g", sep, v[i].d);
        else if (is_unsigned) k += (size_t)snprintf(text + k, 32, "%s%llu", sep, v[i].ull);
        else k += (size_t)snprintf(text + k, 32, "%s%lld", sep, v[i].ll);
    }
    free(v);
    return text;
}

static char *join_strings(char **s, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++) len += strlen(s[i]) + 2;
    char *text = malloc(len);
    if (!text) return NULL;
    text[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(text, ", ");
        strcat(text, s[i]);
    }
    return text;
}

static void free_strings(char **s, size_t n)
{
    if (!s) return;
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

/* Renders attribute a (named name) as text; NULL with a message on failure. */
static char *attr_as_text(const rd *r, hid_t a, const char *name)
{
    strobj o = {a, 1, name};
    size_t n = 0;
    if (space_points(r, &o, &n)) return NULL;
    hid_t ft = H5Aget_type(a);
    if (ft < 0) {
        bad(r, name, "cannot read the attribute's type");
        return NULL;
    }
    H5T_class_t cls = H5Tget_class(ft);
    char *text = NULL;
    if (cls == H5T_STRING) {
        char **s = calloc(n ? n : 1, sizeof *s);
        if (s && !read_strings(r, &o, n, s)) text = join_strings(s, n);
        free_strings(s, n);
    } else if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
        text = join_numbers(a, ft, cls, n);
        if (!text) bad(r, name, "cannot read the attribute's values");
    } else {
        text = strdup("(value of a type this report does not show)");
    }
    H5Tclose(ft);
    return text;
}

typedef struct {
    const rd *r;
    hs_source *src;
    hs_status st;
} attr_walk;

static herr_t on_root_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    attr_walk *w = data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) {
        w->st = hs_err(HS_EINPUT, "%s: / attribute %s: cannot open", w->r->path, name);
        return -1;
    }
    char what[300];
    snprintf(what, sizeof what, "/ attribute %s", name);
    char *text = attr_as_text(w->r, a, what);
    H5Aclose(a);
    hs_attr_text *grown = realloc(w->src->attrs, (size_t)(w->src->n_attrs + 1) * sizeof *grown);
    char *key = hs_strdup(name);
    if (!text || !grown || !key) {
        if (grown) w->src->attrs = grown;
        free(text);
        free(key);
        w->st = text ? hs_err(HS_ENOMEM, "out of memory reading attributes") : HS_EINPUT;
        return -1;
    }
    w->src->attrs = grown;
    w->src->attrs[w->src->n_attrs++] = (hs_attr_text){key, text};
    return 0;
}

/* Listings use HDF5's native order and are sorted here: with H5_ITER_INC, HDF5 (1.10)
 * copies a group's or object's dense link/attribute storage into a table first, and when
 * a checksum of that storage fails it frees the half-built table and crashes; the native
 * order walks the index and returns the error. */
static int cmp_attr_key(const void *a, const void *b)
{
    return strcmp(((const hs_attr_text *)a)->key, ((const hs_attr_text *)b)->key);
}

static int cmp_metric_name(const void *a, const void *b)
{
    return strcmp(((const hs_metric_data *)a)->name, ((const hs_metric_data *)b)->name);
}

static hs_status read_source(const rd *r, hs_study *s)
{
    s->src = hs_calloc(1, sizeof *s->src, "source");
    if (!s->src) return HS_ENOMEM;
    s->nsrc = 1;
    if (!(s->src->path = hs_strdup(r->path))) return HS_ENOMEM;
    attr_walk w = {r, s->src, HS_OK};
    hsize_t idx = 0;
    herr_t e = H5Aiterate2(r->f, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, on_root_attr, &w);
    if (w.st) return w.st;
    if (e < 0) return bad_h5(r, "/", "cannot list the root attributes");
    qsort(s->src->attrs, (size_t)s->src->n_attrs, sizeof *s->src->attrs, cmp_attr_key);
    return HS_OK;
}

static hs_status read_schema_version(const rd *r)
{
    long long v = 0;
    int found = 0;
    hs_status st = attr_numbers(r, r->f, "/", "schema_version", H5T_NATIVE_LLONG, 1, &v, &found);
    if (st) return hs_err(HS_EINPUT, "%s: not a headsweep results file (schema_version is not a number)",
                          r->path);
    if (!found)
        return hs_err(HS_EINPUT, "%s: not a headsweep results file (no schema_version attribute)",
                      r->path);
    if (v != HS_SCHEMA_VERSION)
        return hs_err(HS_EINPUT, "%s: schema_version %lld; this headsweep-report reads version %d",
                      r->path, v, HS_SCHEMA_VERSION);
    return HS_OK;
}

/* ---- dimension scales and variant attributes ---- */

static hs_status scale_length(const rd *r, const char *obj, int *n)
{
    hid_t d = -1;
    hs_status st = open_dataset(r, obj, &d);
    if (st) return st;
    shape want = {1, {0}, {obj}};
    hsize_t dims[1] = {0};
    st = check_shape(r, d, obj, &want, dims);
    if (H5Dclose(d) < 0 && !st) st = bad(r, obj, "cannot close");
    *n = (int)dims[0];
    if (!st && *n <= 0) st = bad(r, obj, "is empty");
    return st;
}

static hs_status variant_attrs(const rd *r, hs_study *s)
{
    hid_t d = -1;
    hs_status st = open_dataset(r, "variant", &d);
    if (st) return st;
    s->gating = hs_calloc((size_t)s->nv, sizeof *s->gating, "gating");
    s->agency = hs_calloc((size_t)s->nv, 1, "agency flags");
    s->strategy = hs_calloc((size_t)s->nv, sizeof *s->strategy, "strategies");
    if (!s->gating || !s->agency || !s->strategy) st = HS_ENOMEM;
    if (!st) st = attr_strings(r, d, "/variant", "gating", (size_t)s->nv, 1, s->gating);
    /* optional: files from before the strategy per variant have "" */
    if (!st) st = attr_strings(r, d, "/variant", "strategy", (size_t)s->nv, 0, s->strategy);
    int found = 0;
    if (!st) st = attr_numbers(r, d, "/variant", "agency", H5T_NATIVE_UINT8, (size_t)s->nv,
                               s->agency, &found);
    if (!st && !found) st = bad(r, "/variant attribute agency", "missing (see docs/results-format.md)");
    if (H5Dclose(d) < 0 && !st) st = bad(r, "/variant", "cannot close");
    return st;
}

static hs_status check_unique(const rd *r, const hs_study *s)
{
    for (int i = 0; i < s->nv; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(s->variant[i], s->variant[j]))
                return hs_err(HS_EINPUT, "%s: /variant: name %s appears twice", r->path, s->variant[i]);
    for (int i = 0; i < s->nl; i++) {
        if (!isfinite(s->level[i]))
            return hs_err(HS_EINPUT, "%s: /level: value %d is not a number", r->path, i);
        for (int j = 0; j < i; j++)
            if (s->level[i] == s->level[j])
                return hs_err(HS_EINPUT, "%s: /level: %g appears twice", r->path, s->level[i]);
    }
    return HS_OK;
}

/* Names become file names, data-file columns, gnuplot titles and Markdown: they must be
 * what a job can give (letters, digits, '_', '-', as src/sweep/job.c checks), so a file
 * made by hand cannot smuggle quotes, backquotes or newlines into them. */
static hs_status check_names(const rd *r, const char *obj, char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        int ok = len > 0 && len < 64;
        for (const char *c = names[i]; ok && *c; c++) ok = isalnum((unsigned char)*c) || *c == '_' || *c == '-';
        if (!ok)
            return hs_err(HS_EINPUT, "%s: %s: entry %d is not a name (1-63 letters, digits, '_' or '-')",
                          r->path, obj, i);
    }
    return HS_OK;
}

/* Prompt ids come from the prompts file and may hold any text but control characters. */
static hs_status check_printable(const rd *r, const char *obj, char *const *text, int n)
{
    for (int i = 0; i < n; i++)
        for (const unsigned char *c = (const unsigned char *)text[i]; *c; c++)
            if (*c < 0x20 || *c == 0x7f)
                return hs_err(HS_EINPUT, "%s: %s: entry %d holds a control character", r->path, obj, i);
    return HS_OK;
}

static hs_status read_scales(const rd *r, hs_study *s)
{
    hs_status st = read_string_dataset(r, "variant", &s->variant, &s->nv);
    if (!st) st = read_string_dataset(r, "prompt", &s->prompt, &s->np);
    if (!st) st = read_string_dataset(r, "state", &s->state, &s->ns);
    if (!st) st = scale_length(r, "layer", &s->L);
    if (!st) st = scale_length(r, "head", &s->H);
    if (!st && (s->nv == 0 || s->np == 0 || s->ns == 0))
        st = hs_err(HS_EINPUT, "%s: /variant, /prompt and /state must not be empty", r->path);
    shape any = {1, {0}, {"level"}};
    hsize_t nl = 0;
    if (!st) st = read_numeric(r, "level", H5T_NATIVE_DOUBLE, sizeof(double), &any, &nl,
                               (void **)&s->level);
    s->nl = (int)nl;
    if (!st && s->nl == 0) st = bad(r, "level", "is empty");
    if (!st) st = variant_attrs(r, s);
    if (!st) st = check_names(r, "/variant", s->variant, s->nv);
    if (!st) st = check_names(r, "/state", s->state, s->ns);
    if (!st) st = check_names(r, "/variant attribute gating", s->gating, s->nv);
    if (!st) st = check_printable(r, "/prompt", s->prompt, s->np);
    if (!st) st = check_unique(r, s);
    return st;
}

/* ---- metrics ---- */

typedef struct {
    const rd *r;
    hs_study *s;
    hs_status st;
} metric_walk;

static hs_status metric_attrs(const rd *r, const char *obj, hs_metric_data *m)
{
    hid_t d = -1;
    hs_status st = open_dataset(r, obj, &d);
    if (st) return st;
    st = attr_strings(r, d, obj, "units", 1, 0, &m->units);
    if (!st) st = attr_strings(r, d, obj, "description", 1, 0, &m->description);
    int found = 0, timing = 0;
    if (!st) st = attr_numbers(r, d, obj, "timing", H5T_NATIVE_INT, 1, &timing, &found);
    m->timing = found ? timing : -1;
    if (H5Dclose(d) < 0 && !st) st = bad(r, obj, "cannot close");
    return st;
}

static hs_status read_metric(const rd *r, hs_study *s, const char *name)
{
    hs_metric_data *grown = realloc(s->metric, (size_t)(s->nm + 1) * sizeof *grown);
    if (!grown) return hs_err(HS_ENOMEM, "out of memory listing metrics");
    s->metric = grown;
    hs_metric_data *m = &s->metric[s->nm++];
    memset(m, 0, sizeof *m);
    if (!(m->name = hs_strdup(name))) return HS_ENOMEM;
    hs_status st = check_names(r, "/metrics", &m->name, 1);
    if (st) return st;
    char obj[300];
    snprintf(obj, sizeof obj, "metrics/%s", name);
    shape want = {3, {(hsize_t)s->nv, (hsize_t)s->nl, (hsize_t)s->np}, {"variant", "level", "prompt"}};
    st = read_numeric(r, obj, H5T_NATIVE_DOUBLE, sizeof(double), &want, NULL, (void **)&m->v);
    if (!st) st = metric_attrs(r, obj, m);
    return st;
}

static herr_t on_metric(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    metric_walk *w = data;
    w->st = read_metric(w->r, w->s, name);
    return w->st ? -1 : 0;
}

static hs_status read_metrics(const rd *r, hs_study *s)
{
    int e = link_exists(r, "metrics");
    if (e <= 0) return bad(r, "metrics", e < 0 ? "cannot look up" : "missing group");
    hid_t g = H5Gopen2(r->f, "metrics", H5P_DEFAULT);
    if (g < 0) return bad_h5(r, "metrics", "is not a readable group");
    metric_walk w = {r, s, HS_OK};
    hsize_t idx = 0;
    herr_t it = H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, on_metric, &w);
    hs_status st = w.st;
    if (!st && it >= 0) qsort(s->metric, (size_t)s->nm, sizeof *s->metric, cmp_metric_name);
    if (!st && it < 0) st = bad_h5(r, "metrics", "cannot list its datasets");
    if (H5Gclose(g) < 0 && !st) st = bad(r, "metrics", "cannot close");
    if (!st && s->nm == 0) st = bad(r, "metrics", "holds no metrics");
    return st;
}

/* ---- cells, heads, agency ---- */

/* Per-prompt done flags from the per-shard cells: prompt i is in shard i % n_shards. */
static hs_status read_cells(rd *r, hs_study *s)
{
    shape want = {3, {(hsize_t)s->nv, (hsize_t)s->nl, 0}, {"variant", "level", "shard"}};
    hsize_t dims[3];
    hs_status st = read_numeric(r, "cells/done", H5T_NATIVE_UINT8, 1, &want, dims, (void **)&r->cells);
    if (!st && dims[2] == 0) st = bad(r, "cells/done", "has no shards");
    r->nshard = dims[2];
    size_t nvl = (size_t)s->nv * (size_t)s->nl;
    if (!st && !(s->done = hs_calloc(nvl * (size_t)s->np, 1, "done flags"))) st = HS_ENOMEM;
    for (size_t vl = 0; !st && vl < nvl; vl++)
        for (int p = 0; p < s->np; p++)
            s->done[vl * (size_t)s->np + p] = r->cells[vl * r->nshard + (size_t)p % r->nshard] != 0;
    return st;
}

/* Optional int32 (variant, level, shard) dataset; *out = NULL when the file has none. */
static hs_status read_optional_cells_int(const rd *r, const hs_study *s, const char *obj, int32_t **out)
{
    *out = NULL;
    int e = link_exists(r, obj);
    if (e <= 0) return e < 0 ? bad(r, obj, "cannot look up") : HS_OK;
    shape want = {3, {(hsize_t)s->nv, (hsize_t)s->nl, r->nshard}, {"variant", "level", "shard"}};
    return read_numeric(r, obj, H5T_NATIVE_INT32, sizeof(int32_t), &want, NULL, (void **)out);
}

static hs_status read_cell_strings(const rd *r, const hs_study *s, const char *obj, char **names)
{
    hid_t d = -1;
    shape want = {3, {(hsize_t)s->nv, (hsize_t)s->nl, r->nshard}, {"variant", "level", "shard"}};
    hs_status st = open_dataset(r, obj, &d);
    if (st) return st;
    st = check_shape(r, d, obj, &want, NULL);
    char what[64];
    snprintf(what, sizeof what, "/%s", obj);
    if (!st) st = read_strings(r, &(strobj){d, 0, what}, (size_t)s->nv * (size_t)s->nl * r->nshard, names);
    if (H5Dclose(d) < 0 && !st) st = bad(r, obj, "cannot close");
    return st;
}

/* Where and when each prompt's cell ran: "host, run k" from /cells/host and /cells/run.
 * Both are optional for the report: without them timing pairs cannot be checked for
 * having run side by side. */
static hs_status read_origins(const rd *r, hs_study *s)
{
    size_t nvl = (size_t)s->nv * (size_t)s->nl, ncell = nvl * r->nshard;
    if (!(s->origin = hs_malloc(nvl * (size_t)s->np * sizeof *s->origin, "cell origins"))) return HS_ENOMEM;
    for (size_t i = 0; i < nvl * (size_t)s->np; i++) s->origin[i] = -1;
    int e = link_exists(r, "cells/host");
    if (e <= 0) return e < 0 ? bad(r, "cells/host", "cannot look up") : HS_OK;
    int32_t *run = NULL;
    char **host = hs_calloc(ncell, sizeof *host, "host names");
    hs_status st = host ? read_cell_strings(r, s, "cells/host", host) : HS_ENOMEM;
    if (!st) st = read_optional_cells_int(r, s, "cells/run", &run);
    for (size_t vl = 0; !st && vl < nvl; vl++)
        for (int p = 0; !st && p < s->np; p++) {
            size_t c = vl * r->nshard + (size_t)p % r->nshard, i = vl * (size_t)s->np + p;
            char name[128] = "";
            if (s->done[i] && host[c][0]) snprintf(name, sizeof name, "%s, run %d", host[c], run ? run[c] : 0);
            st = hs_study_origin(s, name, &s->origin[i]);
        }
    free_strings(host, host ? ncell : 0);
    free(run);
    return st;
}

static hs_status dataset_rank(const rd *r, const char *obj, int *rank)
{
    hid_t d = -1;
    hs_status st = open_dataset(r, obj, &d);
    if (st) return st;
    hid_t sp = H5Dget_space(d);
    *rank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    if (sp >= 0) H5Sclose(sp);
    if (H5Dclose(d) < 0 || *rank < 0) return bad(r, obj, "cannot read its dimensions");
    return HS_OK;
}

/* /agency/occupancy as documented, (variant, level, layer, head, state), or with a shard
 * axis after level (what the sweep writer stores so resumed and merged runs stay exact);
 * the latter is summed over the shards that are done. */
static hs_status read_occupancy(const rd *r, hs_study *s)
{
    hsize_t nv = (hsize_t)s->nv, nl = (hsize_t)s->nl, L = (hsize_t)s->L, H = (hsize_t)s->H, S = (hsize_t)s->ns;
    shape oc = {5, {nv, nl, L, H, S}, {"variant", "level", "layer", "head", "state"}};
    shape os = {6, {nv, nl, r->nshard, L, H, S}, {"variant", "level", "shard", "layer", "head", "state"}};
    int rank = 0;
    hs_status st = dataset_rank(r, "agency/occupancy", &rank);
    if (st || rank != 6)
        return st ? st : read_numeric(r, "agency/occupancy", H5T_NATIVE_INT64, sizeof(int64_t), &oc, NULL,
                                      (void **)&s->occupancy);
    int64_t *per_shard = NULL;
    st = read_numeric(r, "agency/occupancy", H5T_NATIVE_INT64, sizeof(int64_t), &os, NULL, (void **)&per_shard);
    size_t block = (size_t)(L * H * S), nvl = (size_t)(nv * nl);
    if (!st && !(s->occupancy = hs_calloc(nvl * block, sizeof(int64_t), "occupancy"))) st = HS_ENOMEM;
    for (size_t vl = 0; !st && vl < nvl; vl++)
        for (size_t k = 0; k < r->nshard; k++)
            if (r->cells[vl * r->nshard + k])
                for (size_t i = 0; i < block; i++)
                    s->occupancy[vl * block + i] += per_shard[(vl * r->nshard + k) * block + i];
    free(per_shard);
    return st;
}

/* A cell's pruned map is known when the cell has a done prompt or any head switched off
 * (the writer fills maps when it creates the file; an all-zero map of a cell never run
 * may be the fill value). */
static hs_status mark_known_maps(hs_study *s)
{
    size_t nvl = (size_t)s->nv * (size_t)s->nl, LH = (size_t)s->L * (size_t)s->H;
    if (!(s->heads_known = hs_calloc(nvl, 1, "head map flags"))) return HS_ENOMEM;
    for (size_t vl = 0; vl < nvl; vl++) {
        for (int p = 0; p < s->np; p++) s->heads_known[vl] |= s->done[vl * (size_t)s->np + p];
        for (size_t k = 0; k < LH; k++) s->heads_known[vl] |= s->pruned[vl * LH + k] != 0;
    }
    return HS_OK;
}

static hs_status read_heads(const rd *r, hs_study *s)
{
    hsize_t nv = (hsize_t)s->nv, nl = (hsize_t)s->nl, L = (hsize_t)s->L, H = (hsize_t)s->H;
    shape sc = {2, {L, H}, {"layer", "head"}};
    shape pr = {4, {nv, nl, L, H}, {"variant", "level", "layer", "head"}};
    hs_status st = read_numeric(r, "heads/score", H5T_NATIVE_DOUBLE, sizeof(double), &sc, NULL,
                                (void **)&s->score);
    if (!st) st = read_numeric(r, "heads/pruned", H5T_NATIVE_UINT8, 1, &pr, NULL,
                               (void **)&s->pruned);
    if (!st) st = mark_known_maps(s);
    if (!st) st = read_occupancy(r, s);
    return st;
}

/* ---- entry point ---- */

static hs_status open_failed(const char *path)
{
    char why[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, on_error, why);
    if (strstr(why, "unable to lock"))
        return hs_err(HS_EINPUT, "%s: cannot open: the file is locked (%s); a sweep is probably still "
                      "writing it. Report when it is done, or set HDF5_USE_FILE_LOCKING=FALSE to report "
                      "on the cells done so far", path, why);
    return hs_err(HS_EINPUT, "%s: cannot open it as an HDF5 file%s%s", path, why[0] ? ": " : "", why);
}

static hs_status check_file(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return hs_err(HS_EINPUT, "%s: no such file", path);
    if (!S_ISREG(sb.st_mode)) return hs_err(HS_EINPUT, "%s: not a regular file", path);
    htri_t h = H5Fis_hdf5(path);
    if (h < 0) return hs_err(HS_EINPUT, "%s: cannot read it", path);
    if (h == 0) return hs_err(HS_EINPUT, "%s: not an HDF5 file", path);
    return HS_OK;
}

static int cmp_haddr(const void *a, const void *b)
{
    haddr_t x = *(const haddr_t *)a, y = *(const haddr_t *)b;
    return x < y ? -1 : x > y;
}

/* No two chunks at one address (see chunk_index_ok). */
static hs_status chunks_distinct(const rd *r)
{
    struct chunk_addrs *c = r->chunks;
    if (c->n > 1) qsort(c->addr, c->n, sizeof *c->addr, cmp_haddr);
    for (size_t i = 1; i < c->n; i++)
        if (c->addr[i] == c->addr[i - 1])
            return hs_err(HS_EINPUT, "%s: the file is damaged (two chunks of its datasets share one address in the "
                                     "chunk index); refusing to use it", r->path);
    return HS_OK;
}

hs_status hs_h5_read_study(const char *path, hs_study *s)
{
    memset(s, 0, sizeof *s);
    if (H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0)
        return hs_err(HS_EINTERNAL, "cannot silence the HDF5 error stack");
    hs_status st = check_file(path);
    if (st) return st;
    struct chunk_addrs chunks = {NULL, 0, 0};
    rd r = {path, H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), NULL, 0, &chunks};
    if (r.f < 0) return open_failed(path);
    hs_results_dims dims;
    st = hs_results_validate(r.f, path, &dims); /* the check resume and merge run too */
    if (!st) st = read_schema_version(&r);
    if (!st) st = read_source(&r, s);
    if (!st) st = read_scales(&r, s);
    if (!st) st = read_metrics(&r, s);
    if (!st) st = read_cells(&r, s);
    if (!st) st = read_origins(&r, s);
    if (!st) st = read_heads(&r, s);
    if (!st) st = chunks_distinct(&r);
    free(r.cells);
    free(chunks.addr);
    if (H5Fclose(r.f) < 0 && !st) st = hs_err(HS_EINPUT, "%s: cannot close", path);
    return st;
}
