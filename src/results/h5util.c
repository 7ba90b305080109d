/* h5util.c: HDF5 helpers every reader of a results file shares (results_impl.h): the
 * innermost error of a failed call, the entry-by-entry check of a chunk index and its
 * digest (which the writer records too), the in-memory file images of the fuzz targets,
 * and the refusal of files without metadata checksums. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results_impl.h"

#include "headsweep/util.h" /* hs_sha256_hex */

static herr_t on_error(unsigned n, const H5E_error2_t *e, void *data)
{
    char **out = data;
    if (n == 0 && e->desc) snprintf(out[0], (size_t)(out[1] - out[0]), "%s", e->desc);
    return 0;
}

void hs_h5_innermost(char *out, size_t n)
{
    if (!n) return;
    out[0] = '\0';
    char *span[2] = {out, out + n};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, on_error, span);
}

/* A file access property list that opens size bytes at image (copied) as the file, through
 * the core driver without a backing file. -1 on failure. */
static hid_t image_fapl(const void *image, size_t size)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return -1;
    /* backing_store 0: nothing is ever written to a file named like the image */
    if (H5Pset_fapl_core(fapl, 1 << 16, 0) < 0 || H5Pset_file_image(fapl, (void *)image, size) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

hs_status hs_h5_image_open(const char *name, const void *image, size_t size, hid_t *fapl)
{
    *fapl = -1;
    if (H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0) return hs_err(HS_EINTERNAL, "cannot silence the HDF5 error stack");
    if (!size) return hs_err(HS_EINPUT, "%s: empty file", name); /* no image: the core driver would read name */
    hs_status st = hs_h5_require_checksums(name, hs_h5_superblock_version(image, size));
    if (st) return st;
    *fapl = image_fapl(image, size);
    return *fapl < 0 ? hs_err(HS_EINTERNAL, "%s: cannot set up an in-memory HDF5 file", name) : HS_OK;
}


static int remember(hs_h5_chunks *seen, haddr_t addr)
{
    if (seen->n == seen->cap) {
        size_t cap = seen->cap ? 2 * seen->cap : 256;
        haddr_t *grown = realloc(seen->addr, cap * sizeof *grown);
        if (!grown) return 0;
        seen->addr = grown, seen->cap = cap;
    }
    seen->addr[seen->n++] = addr;
    return 1;
}

/* Next chunk coordinate (row-major) in steps of chunk; 0 past the last. */
static int next_chunk(int nd, const hsize_t *dims, const hsize_t *chunk, hsize_t *at)
{
    for (int i = nd - 1; i >= 0; i--) {
        at[i] += chunk[i];
        if (at[i] < dims[i]) return 1;
        at[i] = 0;
    }
    return 0;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Layout of chunked dataset d: its chunk shape, full-chunk bytes (elem each) and chunk count
 * over dims, and *fletcher: 1 when fletcher32 is its only filter, 2 when it has others too, 0
 * without it. 0 when not chunked, -1 on failure. */
static int chunk_layout(hid_t d, int rank, const hsize_t *dims, size_t elem, hsize_t *chunk, size_t *bytes,
                        hsize_t *count, int *fletcher)
{
    hid_t dcpl = H5Dget_create_plist(d);
    H5D_layout_t lay = dcpl < 0 ? H5D_LAYOUT_ERROR : H5Pget_layout(dcpl);
    int ok = lay == H5D_CHUNKED ? H5Pget_chunk(dcpl, rank, chunk) == rank : lay >= 0;
    int nf = ok && lay == H5D_CHUNKED ? H5Pget_nfilters(dcpl) : 0, n_fletcher = 0;
    for (int i = 0; i < nf; i++)
        n_fletcher += H5Pget_filter2(dcpl, (unsigned)i, NULL, NULL, NULL, 0, NULL, NULL) == H5Z_FILTER_FLETCHER32;
    *fletcher = n_fletcher ? (nf == 1 ? 1 : 2) : 0;
    if (dcpl >= 0) H5Pclose(dcpl);
    if (!ok || nf < 0) return -1;
    if (lay != H5D_CHUNKED) return 0;
    *bytes = elem;
    *count = 1;
    for (int i = 0; i < rank; i++) {
        *count *= (dims[i] + chunk[i] - 1) / chunk[i];
        *bytes *= (size_t)chunk[i];
    }
    return 1;
}

/* Every chunk of d in row-major order: its address and stored size (as
 * H5Dget_chunk_info_by_coord reports them) into rec, 16 bytes a chunk, little-endian. With
 * check: also found by the lookup reads use, unfiltered, of size full + 4 (fletcher32), and
 * remembered in seen. NULL when fine, else what is wrong. */
static const char *walk_chunks(hid_t d, int rank, const hsize_t *dims, const hsize_t *chunk, size_t full,
                               int check, hs_h5_chunks *seen, unsigned char *rec)
{
    hsize_t at[H5S_MAX_RANK] = {0};
    do {
        unsigned mask = 1;
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0, found = 0;
        if (H5Dget_chunk_info_by_coord(d, at, &mask, &addr, &size) < 0 || addr == HADDR_UNDEF)
            return "a chunk is missing, misplaced or of the wrong size";
        if (check && (mask != 0 || size != full + 4 || H5Dget_chunk_storage_size(d, at, &found) < 0 || found != size))
            return "a chunk is missing, misplaced or of the wrong size";
        if (check && !remember(seen, addr)) return "out of memory checking the chunk index";
        put_le64(rec, addr);
        put_le64(rec + 8, size);
        rec += 16;
    } while (next_chunk(rank, dims, chunk, at));
    return NULL;
}

/* The digest d carries: 1 and out filled, 0 when it has none, -1 when it is not one string of
 * 64 characters (stored in 64 bytes, or 65 with its NUL as the writer does). */
static int recorded_digest(hid_t d, char out[65])
{
    out[0] = '\0';
    htri_t has = H5Aexists(d, HS_H5_DIGEST_ATTR);
    if (has <= 0) return has < 0 ? -1 : 0;
    hid_t a = H5Aopen(d, HS_H5_DIGEST_ATTR, H5P_DEFAULT);
    hid_t t = a < 0 ? -1 : H5Aget_type(a), sp = a < 0 ? -1 : H5Aget_space(a);
    hid_t mt = H5Tcopy(H5T_C_S1);
    int ok = t >= 0 && sp >= 0 && mt >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0 &&
             (H5Tget_size(t) == 64 || H5Tget_size(t) == 65) && H5Sget_simple_extent_type(sp) == H5S_SCALAR &&
             H5Tset_size(mt, 65) >= 0 && H5Tset_cset(mt, H5Tget_cset(t)) >= 0 && H5Aread(a, mt, out) >= 0;
    out[64] = '\0';
    ok = ok && strlen(out) == 64; /* NUL inside: not the digest */
    if (mt >= 0) H5Tclose(mt);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return ok ? 1 : -1;
}

/* SHA-256 (hex) over the 16-byte records of n chunks of d; NULL or what went wrong. */
static const char *index_digest(hid_t d, int rank, const hsize_t *dims, const hsize_t *chunk, size_t full,
                                hsize_t n, int check, hs_h5_chunks *seen, char out[65])
{
    unsigned char *rec = malloc((size_t)n * 16);
    if (!rec) return "out of memory checking the chunk index";
    const char *bad = walk_chunks(d, rank, dims, chunk, full, check, seen, rec);
    if (!bad) hs_sha256_hex(rec, (size_t)n * 16, out);
    free(rec);
    return bad;
}

const char *hs_h5_chunk_digest(hid_t d, char out[65])
{
    hid_t fs = H5Dget_space(d), t = H5Dget_type(d);
    int rank = fs < 0 ? -1 : H5Sget_simple_extent_ndims(fs);
    hsize_t dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK], n = 0;
    size_t full = 0, elem = t < 0 ? 0 : H5Tget_size(t);
    int fletcher = 0;
    int lay = rank < 1 || elem == 0 || H5Sget_simple_extent_dims(fs, dims, NULL) != rank
                  ? -1 : chunk_layout(d, rank, dims, elem, chunk, &full, &n, &fletcher);
    if (fs >= 0) H5Sclose(fs);
    if (t >= 0) H5Tclose(t);
    out[0] = '\0';
    if (lay < 0) return "cannot read its layout";
    return lay == 0 || n == 0 ? NULL : index_digest(d, rank, dims, chunk, full, n, 0, NULL, out);
}

const char *hs_h5_check_chunks(hid_t d, int rank, const hsize_t *dims, size_t elem, int flags, hs_h5_chunks *seen)
{
    hsize_t chunk[H5S_MAX_RANK], n = 0, want = 0;
    size_t bytes = 0;
    int fletcher = 0, lay = chunk_layout(d, rank, dims, elem, chunk, &bytes, &want, &fletcher);
    if (lay < 0) return "cannot read its layout";
    /* HDF5 1.10's fletcher32 filter reads before its buffer for a stored chunk under 4
     * bytes, and with other filters in the pipeline no stored size can be checked:
     * headsweep writes fletcher32 alone, so any other pipeline holding it is refused. */
    if (fletcher == 2) return "fletcher32 with other filters (headsweep writes it alone)";
    if (lay == 0 || (!(flags & HS_H5_STRICT) && !fletcher)) return NULL; /* variable-length labels, h5py's files */
    if (rank < 1) return NULL;
    hid_t fs = H5Dget_space(d);
    int ok = fs >= 0 && H5Dget_num_chunks(d, fs, &n) >= 0 && n == want;
    if (fs >= 0) H5Sclose(fs);
    if (!ok) return "chunks missing or extra";
    if (want == 0) return NULL;
    char have[65], recorded[65];
    const char *bad = index_digest(d, rank, dims, chunk, bytes, want, 1, seen, have);
    int got = bad ? 0 : recorded_digest(d, recorded);
    if (bad) return bad;
    if (got < 0) return "its attribute " HS_H5_DIGEST_ATTR " is not one string of 64 characters";
    if (got == 0) return flags & HS_H5_DIGEST ? "it has no attribute " HS_H5_DIGEST_ATTR : NULL;
    return strcmp(have, recorded) ? "its chunk addresses are not those " HS_H5_DIGEST_ATTR " recorded" : NULL;
}

static int cmp_addr(const void *a, const void *b)
{
    haddr_t x = *(const haddr_t *)a, y = *(const haddr_t *)b;
    return x < y ? -1 : x > y;
}

const char *hs_h5_chunks_distinct(hs_h5_chunks *seen)
{
    if (seen->n > 1) qsort(seen->addr, seen->n, sizeof *seen->addr, cmp_addr);
    for (size_t i = 1; i < seen->n; i++)
        if (seen->addr[i] == seen->addr[i - 1]) return "two chunks at one address";
    return NULL;
}

htri_t hs_h5_path_exists(hid_t file, const char *path)
{
    char buf[512];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        htri_t e = H5Lexists(file, buf, H5P_DEFAULT);
        if (e <= 0 || c == '\0') return e;
        *p = c;
    }
}

/* HDF5's format signature, searched at 0, 512, 1024, 2048, ... (a user block before it). */
static const unsigned char h5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

int hs_h5_superblock_version(const void *image, size_t size)
{
    const unsigned char *b = image;
    for (size_t at = 0; at + 9 <= size && at < ((size_t)1 << 62); at = at ? 2 * at : 512)
        if (!memcmp(b + at, h5_signature, sizeof h5_signature)) return b[at + 8];
    return -1;
}

int hs_h5_superblock_version_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* O_NONBLOCK: a FIFO must not hang */
    if (fd < 0) return -2;
    struct stat sb;
    int version = fstat(fd, &sb) == 0 ? -1 : -2;
    unsigned char head[9];
    for (off_t at = 0; version == -1 && at + 9 <= sb.st_size && at < ((off_t)1 << 60); at = at ? 2 * at : 512) {
        if (pread(fd, head, sizeof head, at) != (ssize_t)sizeof head) version = -2;
        else if (!memcmp(head, h5_signature, sizeof h5_signature)) version = head[8];
    }
    close(fd);
    return version;
}

hs_status hs_h5_require_checksums(const char *path, int version)
{
    if (version >= 2) return HS_OK;
    if (version == -2) return hs_err(HS_EINPUT, "%s: cannot read it: %s", path, strerror(errno));
    if (version == -1) return hs_err(HS_EINPUT, "%s: not an HDF5 file (no HDF5 signature); refusing it", path);
    return hs_err(HS_EINPUT,
                  "%s: its HDF5 superblock (version %d) and object headers carry no checksums, so the HDF5 "
                  "library could crash on damage in them; refusing it: headsweep reads only the checksummed "
                  "format it writes (superblock version 2 or later, every attribute in its object's header: "
                  "docs/results-format.md, \"Storage choices\")",
                  path, version);
}

herr_t hs_h5_keep_compact(hid_t cpl, int links)
{
    herr_t ok = H5Pset_attr_phase_change(cpl, HS_H5_MAX_COMPACT, 0);
    if (ok >= 0 && links) ok = H5Pset_link_phase_change(cpl, HS_H5_MAX_COMPACT, 0);
    return ok;
}

typedef struct {
    char name[256];  /* the first object found wrong */
    const char *why; /* what is wrong with it; NULL while all is well */
} object_walk;

/* Records the first wrong object and stops the walk. */
static herr_t walk_fail(object_walk *w, const char *name, const char *why)
{
    int root = !strcmp(name, ".");
    if (snprintf(w->name, sizeof w->name, "%s%s", root ? "" : "/", root ? "/" : name) >= (int)sizeof w->name)
        memcpy(w->name + sizeof w->name - 4, "...", 4); /* a long name, cut: the message stays one line */
    for (char *p = w->name; *p; p++) /* the name comes from the file: one line in the message */
        if (hs_is_control((unsigned char)*p)) *p = '?';
    w->why = why;
    return 1;
}

/* The walk of every link, group by group without recursion (HDF5's own H5Lvisit and H5Ovisit
 * recurse: a file of 20,000 nested groups overflowed the stack of every reader, and walked
 * 2,000 of them in 20 s looking each up by its whole path). headsweep's objects sit at most
 * two names deep (/metrics/decode_seconds), a group holds at most a few dozen, and each has
 * one name. Every link a hard link: the lookups by path that come later follow soft,
 * external and user-defined links, and an external link opens whatever file it names (a FIFO
 * there hung headsweep-report; /dev/zero or another of the reader's files would be read as
 * part of a shared file). One name per object: a dataset hard-linked under two metric names
 * made a resume write one metric's values over the other's. */
#define WALK_DEPTH_MAX 2   /* groups below the root */
#define WALK_LINKS_MAX 1024 /* links in one group (the most headsweep writes: /metrics, ~40) */
#define WALK_GROUPS_MAX 64  /* groups in the file (headsweep writes 8) */

typedef struct {
    object_walk *w;
    const char *dir;   /* the group's path, "" for the root */
    int depth;         /* of the group */
    char (*groups)[256]; /* (WALK_GROUPS_MAX) groups still to walk, as paths */
    int *n_groups;
} link_walk;

#if H5_VERSION_GE(1, 12, 0)
static herr_t on_link(hid_t g, const char *name, const H5L_info2_t *info, void *data)
#else
static herr_t on_link(hid_t g, const char *name, const H5L_info_t *info, void *data)
#endif
{
    link_walk *lw = data;
    char path[256];
    if (snprintf(path, sizeof path, "%s%s%s", lw->dir, lw->dir[0] ? "/" : "", name) >= (int)sizeof path)
        return walk_fail(lw->w, lw->dir[0] ? lw->dir : ".", "holds a name longer than headsweep writes");
    if (info->type != H5L_TYPE_HARD)
        return walk_fail(lw->w, path, info->type == H5L_TYPE_SOFT       ? "is a soft link"
                                      : info->type == H5L_TYPE_EXTERNAL ? "is an external link (to another file)"
                                                                        : "is a user-defined link");
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t oi;
    if (H5Oget_info_by_name3(g, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
#else
    H5O_info_t oi;
    if (H5Oget_info_by_name2(g, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
#endif
    if (oi.rc != 1) return walk_fail(lw->w, path, "is linked from more than one place (hard links to one object)");
    if (oi.type != H5O_TYPE_GROUP) return 0;
    if (lw->depth + 1 > WALK_DEPTH_MAX) return walk_fail(lw->w, path, "is a group nested deeper than headsweep writes");
    if (*lw->n_groups == WALK_GROUPS_MAX) return walk_fail(lw->w, path, "is one group more than headsweep writes");
    snprintf(lw->groups[(*lw->n_groups)++], 256, "%s", path);
    return 0;
}

/* One group's links; its subgroups appended to groups. -1 when HDF5 fails. */
static herr_t walk_group(hid_t file, object_walk *w, char (*groups)[256], int *n_groups, int at)
{
    const char *dir = groups[at];
    int depth = 0;
    for (const char *p = dir; *p; p++) depth += *p == '/';
    depth += dir[0] != '\0';
    hid_t g = H5Gopen2(file, dir[0] ? dir : "/", H5P_DEFAULT);
    H5G_info_t gi;
    herr_t ok = g < 0 ? -1 : H5Gget_info(g, &gi);
    if (ok >= 0 && gi.nlinks > WALK_LINKS_MAX) ok = walk_fail(w, dir[0] ? dir : ".", "holds more links than headsweep "
                                                                                     "writes in a group (over 1024)");
    link_walk lw = {w, dir, depth, groups, n_groups};
    hsize_t idx = 0;
    if (ok == 0) ok = H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, on_link, &lw);
    if (g >= 0) H5Gclose(g);
    return ok;
}

/* Every group breadth first from the root; stops at the first wrong link (w). */
static herr_t walk_links(hid_t file, object_walk *w)
{
    char(*groups)[256] = calloc(WALK_GROUPS_MAX + 1, 256);
    if (!groups) return -1;
    int n = 1; /* groups[0] = "" is the root */
    herr_t ok = 0;
    for (int at = 0; at < n && ok == 0 && !w->name[0]; at++) ok = walk_group(file, w, groups, &n, at);
    free(groups);
    return ok < 0 ? -1 : 0;
}

/* A dataset's raw data in this file, stored the ways HDF5 itself checks: chunked, not a virtual
 * dataset (it maps other files' datasets, opened on a read), no external storage (raw data
 * in files the dataset names: a FIFO there hung the reader), and no filter but fletcher32,
 * the only one headsweep writes (anything else is unchecked decompression of hostile
 * bytes, or an attempt to load a plugin, which hs_h5_check_headers turns off anyway). */
static const char *dataset_storage(hid_t file, const char *name)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    hid_t dcpl = d < 0 ? -1 : H5Dget_create_plist(d), sp = d < 0 ? -1 : H5Dget_space(d);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    if (sp >= 0) H5Sclose(sp);
    H5D_layout_t lay = dcpl < 0 ? H5D_LAYOUT_ERROR : H5Pget_layout(dcpl);
    int n_ext = lay < 0 ? -1 : H5Pget_external_count(dcpl);
    int nf = lay == H5D_CHUNKED ? H5Pget_nfilters(dcpl) : 0;
    H5Z_filter_t f0 = nf == 1 ? H5Pget_filter2(dcpl, 0, NULL, NULL, NULL, 0, NULL, NULL) : H5Z_FILTER_NONE;
    if (dcpl >= 0) H5Pclose(dcpl);
    if (d >= 0) H5Dclose(d);
    if (lay < 0 || n_ext < 0 || nf < 0 || n < 0) return "cannot be opened as a dataset";
    if (lay == H5D_VIRTUAL) return "is a virtual dataset (its data would be read from other files)";
    if (lay != H5D_COMPACT && lay != H5D_CONTIGUOUS && lay != H5D_CHUNKED) return "has an unknown storage layout";
    if (n_ext > 0) return "keeps its data in external files";
    /* the writer chunks every dataset that has a value, each chunk with its fletcher32 sum and
     * the index with its digest: data stored contiguous or compact escapes every check */
    if (lay != H5D_CHUNKED && n > 0) return "is not stored in checksummed chunks (as headsweep stores every dataset)";
    if (nf > 1 || (nf == 1 && f0 != H5Z_FILTER_FLETCHER32))
        return "passes its data through a filter other than fletcher32 (headsweep writes no other)";
    return NULL;
}

/* Stops at an object whose attributes sit in dense storage (the fractal heap and the name
 * index that HDF5 sizes here from their checksummed headers, without reading an entry) or a
 * dataset stored in a way dataset_storage refuses. */
#if H5_VERSION_GE(1, 12, 0)
static herr_t on_header(hid_t obj, const char *name, const H5O_info2_t *info, void *data)
{
    H5O_native_info_t ni;
    if (H5Oget_native_info_by_name(obj, name, &ni, H5O_NATIVE_INFO_META_SIZE, H5P_DEFAULT) < 0) return -1;
    const H5_ih_info_t *attr = &ni.meta_size.attr;
#else
static herr_t on_header(hid_t obj, const char *name, const H5O_info_t *info, void *data)
{
    const H5_ih_info_t *attr = &info->meta_size.attr;
#endif
    if (attr->heap_size || attr->index_size) return walk_fail(data, name, NULL);
    const char *why = info->type == H5O_TYPE_DATASET ? dataset_storage(obj, name) : NULL;
    return why ? walk_fail(data, name, why) : 0;
}

hs_status hs_h5_check_headers(hid_t file, const char *path)
{
    /* No filter plugin is ever loaded on a shared file's word (process-wide; headsweep
     * needs none). */
    if (H5PLset_loading_state(0) < 0) return hs_err(HS_EINTERNAL, "%s: cannot turn off HDF5's filter plugins", path);
    object_walk w = {"", NULL};
    herr_t ok = walk_links(file, &w); /* first: it bounds the recursion of H5Ovisit below */
    if (ok >= 0 && !w.name[0])
#if H5_VERSION_GE(1, 12, 0)
        ok = H5Ovisit3(file, H5_INDEX_NAME, H5_ITER_NATIVE, on_header, &w, H5O_INFO_ALL);
#else
        ok = H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_NATIVE, on_header, &w, H5O_INFO_ALL);
#endif
    if (ok < 0) {
        char why[256];
        hs_h5_innermost(why, sizeof why);
        return hs_err(HS_EINPUT, "%s: reading back every link and object header failed%s%s: the file is damaged; "
                      "refusing it", path, why[0] ? ": " : "", why);
    }
    if (!w.name[0]) return HS_OK;
    if (w.why) return hs_err(HS_EINPUT, "%s: %s %s; refusing the file: headsweep writes no such object (see "
                             "docs/results-format.md, \"Storage choices\")", path, w.name, w.why);
    return hs_err(HS_EINPUT,
                  "%s: the attributes of %s are kept in HDF5's dense storage, where an entry over 4 KiB lies outside "
                  "every checksum and damage to it crashes HDF5 1.10; refusing the file: headsweep keeps every "
                  "attribute in the checksummed object headers (files written before 2026-12-06 did not: run their "
                  "sweep again)",
                  path, w.name);
}
