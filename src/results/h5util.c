/* h5util.c: HDF5 helpers every reader of a results file shares (results_impl.h): the
 * innermost error of a failed call, the entry-by-entry check of a chunk index, and the
 * in-memory file images of the fuzz targets, and the refusal of files without metadata
 * checksums. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results_impl.h"

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

const char *hs_h5_check_chunks(hid_t d, int rank, const hsize_t *dims, size_t elem, int strict, hs_h5_chunks *seen)
{
    hid_t dcpl = H5Dget_create_plist(d);
    H5D_layout_t lay = dcpl < 0 ? H5D_LAYOUT_ERROR : H5Pget_layout(dcpl);
    hsize_t chunk[H5S_MAX_RANK], at[H5S_MAX_RANK] = {0}, n = 0, want = 1;
    int ok = lay == H5D_CHUNKED ? H5Pget_chunk(dcpl, rank, chunk) == rank : lay >= 0;
    int nf = ok && lay == H5D_CHUNKED ? H5Pget_nfilters(dcpl) : 0, fletcher = 0;
    for (int i = 0; i < nf; i++)
        fletcher += H5Pget_filter2(dcpl, (unsigned)i, NULL, NULL, NULL, 0, NULL, NULL) == H5Z_FILTER_FLETCHER32;
    if (dcpl >= 0) H5Pclose(dcpl);
    if (!ok || nf < 0) return "cannot read its layout";
    /* HDF5 1.10's fletcher32 filter reads before its buffer for a stored chunk under 4
     * bytes, and with other filters in the pipeline no stored size can be checked:
     * headsweep writes fletcher32 alone, so any other pipeline holding it is refused. */
    if (fletcher && nf != 1) return "fletcher32 with other filters (headsweep writes it alone)";
    if (lay != H5D_CHUNKED || (!strict && !fletcher)) return NULL; /* variable-length labels, h5py's files */
    if (rank < 1) return NULL;
    size_t bytes = elem;
    for (int i = 0; i < rank; i++) {
        want *= (dims[i] + chunk[i] - 1) / chunk[i];
        bytes *= (size_t)chunk[i];
    }
    hid_t fs = H5Dget_space(d);
    ok = fs >= 0 && H5Dget_num_chunks(d, fs, &n) >= 0 && n == want;
    if (fs >= 0) H5Sclose(fs);
    if (!ok) return "chunks missing or extra";
    if (want == 0) return NULL;
    do {
        unsigned mask = 1;
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0, found = 0;
        if (H5Dget_chunk_info_by_coord(d, at, &mask, &addr, &size) < 0 || addr == HADDR_UNDEF || mask != 0 ||
            size != bytes + 4 || H5Dget_chunk_storage_size(d, at, &found) < 0 || found != size)
            return "a chunk is missing, misplaced or of the wrong size";
        if (!remember(seen, addr)) return "out of memory checking the chunk index";
    } while (next_chunk(rank, dims, chunk, at));
    return NULL;
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
    int fd = open(path, O_RDONLY | O_CLOEXEC);
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
                  "format it writes (superblock version 2 or later; `h5repack --latest IN OUT` converts a file)",
                  path, version);
}
