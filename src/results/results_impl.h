/* results_impl.h: pieces of src/results shared between its files, not part of the public
 * API (include/headsweep/results.h): the schema check and the HDF5 helpers every reader
 * of a results file uses. Only src/results includes hdf5.h. */
#ifndef HEADSWEEP_RESULTS_IMPL_H
#define HEADSWEEP_RESULTS_IMPL_H

#include <hdf5.h>
#include <stddef.h>

#include "headsweep/results.h"

/* The schema check every reader of a results file runs before it trusts anything in it
 * (resume and merge in hs_results_open, headsweep-report in hs_results_reader_open), so
 * all accept exactly the same files. A results file is what collaborators exchange: it
 * may be made by hand or damaged. The check reads only shapes, types, attribute layouts
 * and a few small datasets (done flags, run numbers, counters, levels) and refuses, with
 * one message naming the file and the object (HS_EINPUT), any file where a later read
 * could overflow a buffer, truncate a size to int, loop for hours or add counters past
 * INT64_MAX:
 *  - every dimension scale: rank 1, length 1..HS_RESULTS_DIM_MAX, its type class;
 *  - every dataset of the schema table: rank and shape from the scales, type class and
 *    element size, and declared bytes (overflow-checked) no more than the file holds,
 *    since a writer allocates every dataset at creation; at most HS_RESULTS_CHUNKS_MAX
 *    chunks;
 *  - every attribute of the attribute table (hs_results_attrs, the writer's too): its
 *    class, one value or one per variant or level, present where required (not the size
 *    of a string a run rewrites: the run recreates one that another tool rewrote);
 *  - values: done flags and pruned flags 0/1, run numbers in [0, runs], ranks >= -1,
 *    agency counters in [0, HS_RESULTS_COUNT_MAX], levels finite in [0, 100], head
 *    scores finite; texts (/prompts/text, /prompts/reference, /prompts/generated) valid
 *    UTF-8 with nothing after a fixed-length string's first NUL.
 * Not checked here: names' characters (the report's concern), study text contents.
 * Checks the open file (path for messages) and fills *dims. */
hs_status hs_results_validate(hid_t file, const char *path, hs_results_dims *dims);

/* HDF5's innermost error description ("data error detected by Fletcher32 checksum",
 * "unable to lock file, errno = 11, ..."), "" when the stack is empty. Call it before
 * any other HDF5 call, which would clear the stack. */
void hs_h5_innermost(char *out, size_t n);

/* What both fuzz entry points do first: HDF5's error printing off, an empty image or one
 * without metadata checksums refused (messages name `name`), then *fapl: a file access
 * property list that opens the size bytes at image (copied) as the file, through the core
 * driver without a backing file (the caller closes it). */
hs_status hs_h5_image_open(const char *name, const void *image, size_t size, hid_t *fapl);

/* The version of the superblock at the file's HDF5 signature: 0 or 1 (HDF5 1.6's format,
 * which h5py writes by default) give the superblock and object headers no checksums, and a
 * flipped bit there can crash the HDF5 library before it reports anything (a heap overflow
 * in H5Aexists, found by fuzz_results_report): such files are refused before HDF5 reads
 * them. -1: no signature; -2 (file only): cannot read it, errno set. */
int hs_h5_superblock_version(const void *image, size_t size);
int hs_h5_superblock_version_file(const char *path);
/* HS_OK for version >= 2, else a message naming path and exit 2. */
hs_status hs_h5_require_checksums(const char *path, int version);

/* Attribute and link messages kept in the object headers (which carry checksums), never in
 * HDF5's "dense" storage: a fractal heap stores an entry over 4 KiB (a 4096-byte
 * command_line attribute, say) as a "huge" object outside every checksum, and HDF5 1.10
 * decodes a damaged one past its buffer (the regression inputs dense-attribute-huge-object-*.h5 of
 * both results fuzz targets). The writer sets these on every file, group and dataset;
 * the largest counts HDF5 accepts. */
#define HS_H5_MAX_COMPACT 65535
/* Sets the phase changes above on a file, group or dataset creation property list. */
herr_t hs_h5_keep_compact(hid_t cpl, int links);
/* Turns off HDF5's filter plugins, refuses any link but a hard link, loads every object
 * header whole (HDF5 checks each chunk's checksum) and refuses any object whose attributes
 * are in dense storage and any dataset stored outside the file (virtual, external) or
 * filtered by anything but fletcher32, before anything reads an attribute or a value. */
hs_status hs_h5_check_headers(hid_t file, const char *path);

/* Addresses of every chunk seen while reading a file: no two may be equal. */
typedef struct {
    haddr_t *addr;
    size_t n, cap;
} hs_h5_chunks;

/* The chunk index of dataset d (extent dims, elem bytes per element) checked entry by
 * entry: NULL when whole, else what is wrong. HDF5 gives the version 1 B-tree that
 * indexes chunks no checksum, and a damaged entry would read silently as fill values (a
 * chunk not found) or as another chunk's data (with a valid checksum): so every chunk
 * must be found at its coordinates, with no filter skipped, with the stored size of a
 * full chunk plus its fletcher32 checksum, at an address no other chunk has
 * (hs_h5_chunks_distinct, once everything is read). Found twice:
 * H5Dget_chunk_info_by_coord matches a chunk on its dataset coordinates only, while
 * reads (and H5Dget_chunk_storage_size) search the B-tree on every key field, so a flip
 * in a key's last (element size) offset hides the chunk from reads alone.
 * Those checks cannot tell a chunk address whose flipped bit lands on other bytes that
 * pass fletcher32 (zero-filled space: zeros have the checksum 0, tests/sweep/bitflip.py):
 * so the writer records, in the dataset's checksummed object header, the SHA-256 of every
 * chunk's address and size (HS_H5_DIGEST_ATTR, hs_h5_chunk_digest; schema 3), which is
 * compared here. Chunks never move after creation (cells overwrite them in place with
 * chunks of the same size), so the digest never changes.
 * flags: HS_H5_STRICT (files a sweep opens): every chunked dataset must carry fletcher32;
 * otherwise datasets that are not chunked with fletcher32 alone (files made by h5py) are
 * skipped. HS_H5_DIGEST (schema 3 files): a checked dataset without the digest is refused;
 * without it a digest present is still compared. */
#define HS_H5_STRICT 1
#define HS_H5_DIGEST 2
#define HS_H5_DIGEST_ATTR "chunk_index_sha256" /* hs_results_attrs[HS_RA_CHUNK_DIGEST] */
const char *hs_h5_check_chunks(hid_t d, int rank, const hsize_t *dims, size_t elem, int flags, hs_h5_chunks *seen);
/* The digest HS_H5_DIGEST_ATTR holds for d: SHA-256 (64 hex characters) of every chunk's file
 * address and stored size (little-endian uint64 each), chunks in row-major order, as
 * H5Dget_chunk_info_by_coord reports them; "" for a dataset that is not chunked. NULL when
 * done, else what went wrong. */
const char *hs_h5_chunk_digest(hid_t d, char out[65]);
/* Whether the absolute path exists, component by component: H5Lexists fails rather than
 * answering 0 when a group on the way is missing (/prompts/text in a schema 1 file). */
htri_t hs_h5_path_exists(hid_t file, const char *path);
/* NULL when no two chunks seen share an address; sorts seen. */
const char *hs_h5_chunks_distinct(hs_h5_chunks *seen);

#endif
