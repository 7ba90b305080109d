/* util.h: status codes and error messages, timing, resource accounting, file mapping.
 *
 * Library code never prints and never exits: it returns an hs_status and leaves a
 * message (naming the file and the problem) in a per-thread buffer that the caller
 * reads with hs_err_msg(). Only main() and top-level drivers turn that into output
 * and an exit code (hs_status_exit_code). */
#ifndef HEADSWEEP_UTIL_H
#define HEADSWEEP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    HS_OK = 0,
    HS_EINPUT = 1,   /* bad input: malformed file, bad option, out-of-range value (exit 2) */
    HS_EIO = 2,      /* operating-system failure: open, read, write, full disk (exit 1) */
    HS_ENOMEM = 3,   /* allocation failed (exit 1) */
    HS_EINTERNAL = 4,/* broken invariant or library failure (exit 1) */
    HS_EINTR = 5,    /* stopped by a signal after saving work (exit 3, requeue) */
    HS_EBUSY = 6,    /* the results file is held by another live sweep (exit 4) */
} hs_status;

#if defined(__GNUC__)
#define HS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define HS_PRINTF(a, b)
#endif

/* Records a message for this thread and returns st, so callers write
 * `return hs_err(HS_EINPUT, "%s: bad header", path);`. */
hs_status hs_err(hs_status st, const char *fmt, ...) HS_PRINTF(2, 3);
/* Prefixes the current message with "<prefix>: " (adds context on the way up). */
hs_status hs_err_wrap(hs_status st, const char *fmt, ...) HS_PRINTF(2, 3);
const char *hs_err_msg(void);
void hs_err_clear(void);
/* Exit code for a status: 0 ok, 2 bad input, 3 interrupted, 4 busy, 1 otherwise. */
int hs_status_exit_code(hs_status st);
const char *hs_status_name(hs_status st);

/* Always-on invariant check (never compiled out, unlike assert). */
#define HS_CHECK(cond)                                                              \
    do {                                                                            \
        if (!(cond)) hs_die_internal(__FILE__, __LINE__, #cond);                    \
    } while (0)
_Noreturn void hs_die_internal(const char *file, int line, const char *what);

/* Allocation helpers: return NULL and set HS_ENOMEM message on failure. */
void *hs_malloc(size_t n, const char *what);
/* align: a power of two, a multiple of sizeof(void *); release with free(). */
void *hs_malloc_aligned(size_t n, size_t align, const char *what);
void *hs_calloc(size_t n, size_t size, const char *what);
/* A block for weights on 2 MB transparent huge pages: aligned to 2 MB, its size rounded
 * up to a multiple of it, and marked MADV_HUGEPAGE before anything touches it, so the
 * kernel backs it with huge pages where it can (THP "always" or "madvise"; 4 KB pages,
 * and nothing else different, where it cannot). Release with free(). */
void *hs_malloc_huge(size_t n, const char *what);
/* kB of this process's memory on anonymous huge pages (AnonHugePages of
 * /proc/self/smaps_rollup), or -1 where the kernel does not say. */
long hs_anon_huge_kb(void);
char *hs_strdup(const char *s);

/* Wall clock in seconds from a monotonic clock. */
double hs_now(void);
#define HS_UTC_MAX 32 /* bytes of an ISO 8601 UTC time, NUL included */
/* UTC now as ISO 8601 "2024-05-01T12:00:00Z". */
void hs_utc_now(char out[HS_UTC_MAX]);
/* Process CPU user and system seconds. */
void hs_cpu_times(double *user_s, double *sys_s);
/* Peak resident set size of this process in bytes (VmHWM). */
int64_t hs_peak_rss_bytes(void);
/* Current resident set size in bytes (VmRSS). */
int64_t hs_rss_bytes(void);
/* Resets the kernel's peak-RSS watermark (VmHWM) to the current RSS (Linux >= 4.0: 5 into
 * /proc/self/clear_refs). Best effort: where it fails the peak stays the process's so far. */
void hs_peak_rss_reset(void);
/* Wall time, CPU time and peak-RSS growth of one phase of work (prefill, decode, scoring):
 * hs_phase_begin resets the peak watermark and reads RSS and the clocks; hs_phase_end
 * gives wall seconds, CPU seconds of the process (user + system, all threads:
 * CLOCK_PROCESS_CPUTIME_ID, ns resolution), the peak RSS during the phase and its growth
 * over the RSS at its start (bytes; NaN where /proc does not say). */
typedef struct {
    double wall, cpu;
    int64_t rss;
} hs_phase;

typedef struct {
    double wall_s, cpu_s, peak_rss, rss_growth;
} hs_phase_use;

void hs_phase_begin(hs_phase *p);
hs_phase_use hs_phase_end(const hs_phase *p);

/* Opens a file the user named as an input (job, prompts, model or score file) for reading,
 * refusing anything but a regular file (a directory, a FIFO, a device such as /dev/zero,
 * a socket) with HS_EINPUT: "PATH: is a FIFO (named pipe), not a regular file". The open is
 * O_NONBLOCK, so a FIFO cannot hang it, and the check is fstat of the opened descriptor;
 * symlinks are followed (users link models). *fd: O_RDONLY | O_CLOEXEC, blocking, the
 * caller closes it; *size (may be NULL): its size in bytes. A missing path is HS_EINPUT. */
hs_status hs_file_open_regular(const char *path, int *fd, int64_t *size);
/* The same check for an input a library opens by its name (HDF5): opens, checks, closes. */
hs_status hs_file_check_regular(const char *path);

/* Read-only mapping of a whole file (a regular file only: hs_file_open_regular). */
typedef struct {
    const uint8_t *data; /* (size) bytes, PROT_READ, MAP_SHARED: ranks on a node share pages */
    size_t size;
    char *path;
} hs_mapped_file;

hs_status hs_map_file(hs_mapped_file *mf, const char *path);
void hs_unmap_file(hs_mapped_file *mf);

/* Reads a whole file into a NUL-terminated buffer (*len excludes the NUL). A regular file
 * only (hs_file_open_regular); one larger than the machine's physical memory is refused
 * (HS_ENOMEM, naming the file and both sizes) before anything is allocated. */
hs_status hs_read_file(const char *path, char **out, size_t *len);

/* A C0 control character or DEL: the bytes of a file's text (a results file, a prompt id)
 * that a terminal, a Markdown viewer or gnuplot would act on, never shown or stored raw. */
static inline int hs_is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

/* splitmix64 (Steele, Lea, Flood 2014): the next value of the seeded stream *s, the same
 * on every platform; the one copy behind every seeded choice (random checkpoints, random
 * head scores, the prompt sample, the report's bootstrap generator). */
static inline uint64_t hs_splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* 64-bit FNV-1a of len bytes: the hash of the project's open-addressing tables (token
 * bytes, prompt ids, book names), whose keys are short. */
static inline uint64_t hs_hash_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* SHA-256 of a buffer as 64 lowercase hex chars + NUL, by OpenSSL's libcrypto (SHA-NI or
 * AVX2 code: ~6x the portable routine; docs/performance.md, "SHA-256"). */
void hs_sha256_hex(const void *data, size_t len, char out[65]);
/* SHA-256 of a whole file's bytes (a scores file recorded in provenance); the read's error
 * names the file. */
hs_status hs_sha256_file(const char *path, char out[65]);
/* The same by the portable FIPS 180-4 routine this project had before: the independent
 * check of the libcrypto path in the tests and the baseline of bench/bench_sha256. */
void hs_sha256_hex_builtin(const void *data, size_t len, char out[65]);

/* A new output file through a unique temporary name (PATH.tmp.XXXXXX, mkstemp):
 * hs_tmp_create opens it; hs_tmp_commit closes it and, when st is HS_OK and every write
 * succeeded, renames it to path; otherwise removes it. Returns the first error. */
hs_status hs_tmp_create(const char *path, FILE **f, char **tmp);
/* HS_EINPUT naming the mistake when path cannot name a new output file: empty, a directory,
 * or in a directory that does not exist or is not one (hs_tmp_create checks it first;
 * commands that compute for long check it before they start). */
hs_status hs_out_path_check(const char *path);
/* hs_tmp_create without that check, for a directory the caller made itself (headsweep-report's
 * --out DIR): the new file never follows a symlink at path, and hs_tmp_commit replaces one. */
hs_status hs_tmp_open(const char *path, FILE **f, char **tmp);
hs_status hs_tmp_commit(const char *path, FILE *f, char *tmp, hs_status st);
/* rename(from, to) that fails (HS_EINPUT) instead of replacing an existing to
 * (renameat2 RENAME_NOREPLACE; link + unlink where the file system lacks it). */
hs_status hs_rename_noreplace(const char *from, const char *to);

/* Joins dir and name into a newly allocated path. */
char *hs_path_join(const char *dir, const char *name);

/* IEEE half and bfloat16 to float. */
float hs_f16_to_f32(uint16_t h);
float hs_bf16_to_f32(uint16_t b);
uint16_t hs_f32_to_bf16(float f);   /* round to nearest even */
uint16_t hs_f32_to_f16(float f);    /* round to nearest even */

#endif
