/* reader.c: read-only access to a results file for headsweep-report (hs_results_reader_*,
 * include/headsweep/results.h): open after the schema check, numbers and strings with
 * their shapes checked, every chunk index entry checked (hs_h5_check_chunks), attributes.
 *
 * Strings are fixed-length (a variable-length one is refused unread: its text would come
 * from HDF5's global heap, which no checksum covers); numbers are converted by HDF5 to the
 * memory type asked for. Every HDF5 call is
 * checked and every identifier closed on every path; HDF5's own error stack printing is
 * switched off so the user sees one message naming the file and the object. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "results_impl.h"

struct hs_results_reader {
    const char *path; /* for messages */
    char *path_copy;
    hid_t f;
    hs_h5_chunks chunks; /* file address of every chunk read so far */
    int chunk_flags;     /* for hs_h5_check_chunks: HS_H5_DIGEST from schema 3 on */
};
typedef struct hs_results_reader rd;

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

/* bad() for a failed HDF5 call: adds HDF5's reason, and says plainly when a checksum
 * failed (the writer gives every dataset and its metadata one: the file is damaged). */
static hs_status bad_h5(const rd *r, const char *obj, const char *what)
{
    char why[256];
    hs_h5_innermost(why, sizeof why);
    if (strstr(why, "checksum"))
        return hs_err(HS_EINPUT, "%s: %s%s: %s: %s: the file is damaged (a checksum does not match)", r->path,
                      slash(obj), obj, what, why);
    return hs_err(HS_EINPUT, "%s: %s%s: %s%s%s", r->path, slash(obj), obj, what, why[0] ? ": " : "", why);
}

const char *hs_results_hdf5_version(void)
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
    if (obj[0] == '/') obj++; /* absolute and relative paths name the same object */
    if (!obj[0]) return 1;
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

/* Reads a whole numeric dataset as memtype into a new buffer of elsize-byte elements. */
static hs_status read_numeric(rd *r, const char *obj, hid_t memtype, size_t elsize,
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
    hid_t t = st ? -1 : H5Dget_type(d);
    const char *why = st      ? NULL
                      : t < 0 ? "cannot read its type"
                              : hs_h5_check_chunks(d, want->rank, dims, H5Tget_size(t), r->chunk_flags, &r->chunks);
    if (t >= 0) H5Tclose(t);
    if (why) st = hs_err(HS_EINPUT, "%s: %s%s: its chunk index is damaged (%s)", r->path, slash(obj), obj, why);
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

/* Memory string type matching the fixed-length ftype with one byte more for the terminator,
 * same character set. */
static hid_t string_memtype(hid_t ftype, size_t *size)
{
    H5T_cset_t cset = H5Tget_cset(ftype);
    if (cset < 0) return -1;
    *size = H5Tget_size(ftype) + 1;
    if (*size == 1) return -1;
    hid_t m = H5Tcopy(H5T_C_S1);
    if (m < 0) return -1;
    if (H5Tset_size(m, *size) < 0 || H5Tset_cset(m, cset) < 0 ||
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
    htri_t var = cls == H5T_STRING ? H5Tis_variable_str(ft) : 0;
    size_t size = 0;
    hid_t mt = -1;
    if (cls != H5T_STRING) st = bad(r, o->what, "is not a string");
    /* never handed to HDF5: a variable-length string is a reference into the global heap,
     * which no checksum covers (the schema check refuses them; this is for attributes it
     * does not list) */
    else if (var != 0) st = bad(r, o->what, var < 0 ? "has an unreadable string type"
                                                    : "holds a variable-length string (global heap, no checksum)");
    if (!st && (mt = string_memtype(ft, &size)) < 0)
        st = bad(r, o->what, "has an unsupported string type");
    if (!st) st = read_fixed_strings(r, o, mt, size, n, out);
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

/* The schema version, which decides what the chunk checks require (HS_H5_DIGEST from 3 on:
 * older files have no digest of their chunk index and are read with the checks of their time). */
static hs_status read_schema_version(rd *r)
{
    long long v = 0;
    int found = 0;
    hs_status st = attr_numbers(r, r->f, "/", "schema_version", H5T_NATIVE_LLONG, 1, &v, &found);
    if (st) return hs_err(HS_EINPUT, "%s: not a headsweep results file (schema_version is not a number)",
                          r->path);
    if (!found)
        return hs_err(HS_EINPUT, "%s: not a headsweep results file (no schema_version attribute)",
                      r->path);
    if (v < HS_RESULTS_SCHEMA_OLDEST || v > HS_RESULTS_SCHEMA_VERSION)
        return hs_err(HS_EINPUT, "%s: schema_version %lld; this headsweep-report reads versions %d to %d",
                      r->path, v, HS_RESULTS_SCHEMA_OLDEST, HS_RESULTS_SCHEMA_VERSION);
    r->chunk_flags = v >= 3 ? HS_H5_DIGEST : 0;
    return HS_OK;
}

static hs_status open_failed(const char *path)
{
    char why[256];
    hs_h5_innermost(why, sizeof why);
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
    return hs_h5_require_checksums(path, hs_h5_superblock_version_file(path));
}

/* ---- the public calls ---- */

static int cmp_attr_key(const void *a, const void *b)
{
    return strcmp(((const hs_results_attr *)a)->key, ((const hs_results_attr *)b)->key);
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct {
    const rd *r;
    hs_results_attr *attrs;
    int n;
    hs_status st;
} attr_walk;

static herr_t on_root_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
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
    hs_results_attr *grown = realloc(w->attrs, (size_t)(w->n + 1) * sizeof *grown);
    char *key = hs_strdup(name);
    if (!text || !grown || !key) {
        if (grown) w->attrs = grown;
        free(text);
        free(key);
        w->st = text ? hs_err(HS_ENOMEM, "out of memory reading attributes") : HS_EINPUT;
        return -1;
    }
    w->attrs = grown;
    w->attrs[w->n++] = (hs_results_attr){key, text};
    return 0;
}

/* Listings use HDF5's native order and are sorted here: with H5_ITER_INC, HDF5 (1.10)
 * copies a group's or object's dense link/attribute storage into a table first, and when
 * a checksum of that storage fails it frees the half-built table and crashes; the native
 * order walks the index and returns the error. */
hs_status hs_results_reader_root_attrs(const hs_results_reader *r, hs_results_attr **out, int *n)
{
    attr_walk w = {r, NULL, 0, HS_OK};
    hsize_t idx = 0;
    herr_t e = H5Aiterate2(r->f, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, on_root_attr, &w);
    if (!w.st && e < 0) w.st = bad_h5(r, "/", "cannot list the root attributes");
    if (!w.st) qsort(w.attrs, (size_t)w.n, sizeof *w.attrs, cmp_attr_key);
    *out = w.attrs;
    *n = w.n;
    return w.st;
}

void hs_results_attrs_free(hs_results_attr *a, int n)
{
    for (int i = 0; a && i < n; i++) {
        free(a[i].key);
        free(a[i].value);
    }
    free(a);
}

typedef struct {
    char **names;
    int n;
    hs_status st;
} name_walk;

static herr_t on_link(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g, (void)info;
    name_walk *w = data;
    char **grown = realloc(w->names, (size_t)(w->n + 1) * sizeof *grown);
    if (grown) w->names = grown;
    char *copy = grown ? hs_strdup(name) : NULL;
    if (!copy) {
        w->st = hs_err(HS_ENOMEM, "out of memory listing a group");
        return -1;
    }
    w->names[w->n++] = copy;
    return 0;
}

hs_status hs_results_reader_list(const hs_results_reader *r, const char *obj, char ***names, int *n)
{
    *names = NULL;
    *n = 0;
    int e = link_exists(r, obj);
    if (e <= 0) return bad(r, obj, e < 0 ? "cannot look up" : "missing group");
    hid_t g = H5Gopen2(r->f, obj, H5P_DEFAULT);
    if (g < 0) return bad_h5(r, obj, "is not a readable group");
    name_walk w = {NULL, 0, HS_OK};
    hsize_t idx = 0;
    herr_t it = H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, on_link, &w);
    hs_status st = w.st;
    if (!st && it < 0) st = bad_h5(r, obj, "cannot list its datasets");
    if (H5Gclose(g) < 0 && !st) st = bad(r, obj, "cannot close");
    if (!st) qsort(w.names, (size_t)w.n, sizeof *w.names, cmp_name);
    *names = w.names;
    *n = w.n;
    return st;
}

/* Opens path (a file, or only a name when fapl holds an image) and runs the checks. */
static hs_status reader_open(hs_results_reader **out, const char *path, hid_t fapl, hs_results_dims *dims)
{
    hs_status st = HS_OK;
    rd *r = hs_calloc(1, sizeof *r, "results reader");
    if (!r) return HS_ENOMEM;
    if (!(r->path_copy = hs_strdup(path))) {
        free(r);
        return HS_ENOMEM;
    }
    r->path = r->path_copy;
    r->f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (r->f < 0) st = open_failed(path);
    if (!st) st = hs_results_validate(r->f, path, dims); /* the check resume and merge run too */
    if (!st) st = read_schema_version(r);
    if (st) {
        hs_results_reader_close(r);
        return st;
    }
    *out = r;
    return HS_OK;
}

hs_status hs_results_reader_open(hs_results_reader **out, const char *path, hs_results_dims *dims)
{
    *out = NULL;
    memset(dims, 0, sizeof *dims);
    if (H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0) return hs_err(HS_EINTERNAL, "cannot silence the HDF5 error stack");
    hs_status st = check_file(path);
    return st ? st : reader_open(out, path, H5P_DEFAULT, dims);
}

hs_status hs_results_reader_open_image(hs_results_reader **out, const char *name, const void *image, size_t size,
                                       hs_results_dims *dims)
{
    *out = NULL;
    memset(dims, 0, sizeof *dims);
    hid_t fapl;
    hs_status st = hs_h5_image_open(name, image, size, &fapl);
    if (st) return st;
    st = reader_open(out, name, fapl, dims);
    H5Pclose(fapl);
    return st;
}

hs_status hs_results_reader_close(hs_results_reader *r)
{
    if (!r) return HS_OK;
    const char *why = hs_h5_chunks_distinct(&r->chunks);
    hs_status st = why ? hs_err(HS_EINPUT, "%s: the file is damaged (%s in the chunk index of its datasets); "
                                           "refusing to use it", r->path, why)
                       : HS_OK;
    if (r->f >= 0 && H5Fclose(r->f) < 0 && !st) st = hs_err(HS_EINPUT, "%s: cannot close", r->path);
    free(r->chunks.addr);
    free(r->path_copy);
    free(r);
    return st;
}

const char *hs_results_reader_path(const hs_results_reader *r) { return r->path; }

hs_status hs_results_reader_exists(const hs_results_reader *r, const char *obj, int *exists)
{
    *exists = link_exists(r, obj);
    return *exists < 0 ? bad(r, obj, "cannot look up") : HS_OK;
}

hs_status hs_results_reader_rank(const hs_results_reader *r, const char *obj, int *rank)
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

static hid_t num_type(hs_results_num t, size_t *size)
{
    switch (t) {
    case HS_RN_F64: *size = sizeof(double); return H5T_NATIVE_DOUBLE;
    case HS_RN_I64: *size = sizeof(int64_t); return H5T_NATIVE_INT64;
    case HS_RN_I32: *size = sizeof(int32_t); return H5T_NATIVE_INT32;
    case HS_RN_INT: *size = sizeof(int); return H5T_NATIVE_INT;
    default: *size = 1; return H5T_NATIVE_UINT8;
    }
}

static shape to_shape(const hs_results_shape *s)
{
    shape out = {s->rank, {0}, {NULL}};
    for (int i = 0; i < s->rank && i < 6; i++) {
        out.dim[i] = (hsize_t)s->dim[i];
        out.name[i] = s->name[i];
    }
    return out;
}

hs_status hs_results_reader_numbers(hs_results_reader *r, const char *obj, hs_results_num type,
                                    const hs_results_shape *want, uint64_t *got, void **out)
{
    size_t size = 0;
    hid_t mt = num_type(type, &size);
    shape w = to_shape(want);
    hsize_t dims[6] = {0};
    hs_status st = read_numeric(r, obj, mt, size, &w, dims, out);
    for (int i = 0; got && i < want->rank; i++) got[i] = (uint64_t)dims[i];
    return st;
}

hs_status hs_results_reader_strings(hs_results_reader *r, const char *obj, const hs_results_shape *want,
                                    uint64_t *got, char ***out)
{
    *out = NULL;
    hid_t d = -1;
    hs_status st = open_dataset(r, obj, &d);
    if (st) return st;
    shape w = to_shape(want);
    hsize_t dims[6] = {0};
    st = check_shape(r, d, obj, &w, dims);
    size_t n = st ? 0 : shape_count(dims, w.rank);
    if (!st && !(*out = hs_calloc(n ? n : 1, sizeof **out, obj))) st = HS_ENOMEM;
    char what[300];
    snprintf(what, sizeof what, "%s%s", slash(obj), obj);
    if (!st) st = read_strings(r, &(strobj){d, 0, what}, n, *out);
    /* Labels and /cells/host are chunked with fletcher32 since schema 2: their chunk index
     * is checked like the numbers' (a flipped key read another cell's host, bitflip.py). */
    hid_t t = st || n == 0 ? -1 : H5Dget_type(d);
    const char *why = st || n == 0 ? NULL
                      : t < 0      ? "cannot read its type"
                                   : hs_h5_check_chunks(d, w.rank, dims, H5Tget_size(t), r->chunk_flags, &r->chunks);
    if (t >= 0) H5Tclose(t);
    if (why) st = hs_err(HS_EINPUT, "%s: %s: its chunk index is damaged (%s)", r->path, what, why);
    if (H5Dclose(d) < 0 && !st) st = bad(r, obj, "cannot close");
    for (int i = 0; got && i < w.rank; i++) got[i] = (uint64_t)dims[i];
    return st;
}

/* Opens object obj for its attributes. */
static hs_status open_object(const rd *r, const char *obj, hid_t *o)
{
    int e = strcmp(obj, "/") ? link_exists(r, obj) : 1;
    if (e < 0) return bad_h5(r, obj, "cannot look up this object");
    if (e == 0) return bad(r, obj, "missing (see docs/results-format.md)");
    *o = H5Oopen(r->f, obj, H5P_DEFAULT);
    return *o < 0 ? bad_h5(r, obj, "cannot open it") : HS_OK;
}

hs_status hs_results_reader_attr_strings(const hs_results_reader *r, const char *obj, const char *name, size_t n,
                                         int required, char **out)
{
    hid_t o = -1;
    hs_status st = open_object(r, obj, &o);
    if (!st) st = attr_strings(r, o, obj, name, n, required, out);
    if (o >= 0 && H5Oclose(o) < 0 && !st) st = bad(r, obj, "cannot close");
    return st;
}

hs_status hs_results_reader_attr_numbers(const hs_results_reader *r, const char *obj, const char *name,
                                         hs_results_num type, size_t n, void *out, int *found)
{
    size_t size = 0;
    hid_t mt = num_type(type, &size);
    hid_t o = -1;
    *found = 0;
    hs_status st = open_object(r, obj, &o);
    if (!st) st = attr_numbers(r, o, obj, name, mt, n, out, found);
    if (o >= 0 && H5Oclose(o) < 0 && !st) st = bad(r, obj, "cannot close");
    return st;
}
