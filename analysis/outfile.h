/* outfile.h: checked creation of the report's output files.
 *
 * Every output goes through hs_out_open / hs_out_close so a full disk or a directory we
 * cannot write is reported with the file's path instead of leaving a truncated report.
 * The output directory may be shared: a file is written under a fresh temporary name
 * (mkstemp, O_EXCL, never through a symlink) and renamed over its name when closed, so a
 * symlink planted at that name is replaced, never written through (docs/report.md). */
#ifndef HS_REPORT_OUTFILE_H
#define HS_REPORT_OUTFILE_H

#include <stdio.h>

#include "headsweep/util.h"

/* Creates dir and its missing parents (mode 0777 before umask). */
hs_status hs_mkdir_p(const char *dir);

typedef struct {
    FILE *f;
    char *path; /* dir/name */
    char *tmp;  /* dir/name.tmp.XXXXXX, the file f writes until hs_out_close renames it */
} hs_out;

/* Opens a new file that hs_out_close gives the name dir/name (replacing what is there). */
hs_status hs_out_open(hs_out *o, const char *dir, const char *name);
/* Closes and renames the file to its name, reporting any earlier write error (the file is
 * then removed); NULL-safe and frees the paths. */
hs_status hs_out_close(hs_out *o);
/* Writes s (any bytes from a results file) as Markdown text that renders as itself:
 * markup characters backslash-escaped, control characters as spaces. Safe in table cells. */
void hs_out_md_cell(FILE *f, const char *s);
/* Writes s as one Markdown code span (fence longer than any backtick run in s). */
void hs_out_md_code(FILE *f, const char *s);
/* Writes the string s as one RFC 4180 CSV field (quoted when needed, quotes doubled), with
 * a single quote before an = + - @ tab or CR that starts it or follows a , ; tab CR or LF,
 * so no spreadsheet runs it as a formula (OWASP CSV injection). Not for numbers. */
void hs_out_csv_cell(FILE *f, const char *s);
/* Copies s into out (cap bytes) keeping [A-Za-z0-9._-] and replacing the rest with '_',
 * so a variant or metric name can be part of a file name or a whitespace column. */
void hs_out_safe_name(const char *s, char *out, size_t cap);

#endif
