/* outfile.c: output directory and files with checked writes, renamed into place (see outfile.h). */
#include "outfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

hs_status hs_mkdir_p(const char *dir)
{
    if (!dir[0]) return hs_err(HS_EINPUT, "the output directory path is empty");
    char *buf = hs_strdup(dir);
    if (!buf) return HS_ENOMEM;
    hs_status st = HS_OK;
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            st = hs_err(errno == ENOTDIR ? HS_EINPUT : HS_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = c;
        if (st || c == '\0') break;
    }
    struct stat sb;
    if (!st && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        st = hs_err(HS_EINPUT, "%s: not a directory", dir);
    free(buf);
    return st;
}

hs_status hs_out_open(hs_out *o, const char *dir, const char *name)
{
    o->f = NULL;
    o->tmp = NULL;
    o->path = hs_path_join(dir, name);
    if (!o->path) return HS_ENOMEM;
    hs_status st = hs_tmp_open(o->path, &o->f, &o->tmp);
    if (st) {
        free(o->path);
        o->path = NULL;
    }
    return st;
}

hs_status hs_out_close(hs_out *o)
{
    if (!o) return HS_OK;
    hs_status st = o->f ? hs_tmp_commit(o->path, o->f, o->tmp, HS_OK) : HS_OK;
    o->f = NULL;
    o->tmp = NULL; /* hs_tmp_commit freed it */
    free(o->path);
    o->path = NULL;
    return st;
}

/* Backslash before every character Markdown could read as markup (CommonMark lets any
 * ASCII punctuation be escaped so), so a string from a file can neither close a table
 * cell nor open a code span, link, emphasis or HTML tag; control characters (a newline
 * would end the table row) become spaces. */
void hs_out_md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (hs_is_control(c)) c = ' ';
        else if (strchr("\\`|*_[]<>#!&~", c)) fputc('\\', f);
        fputc(c, f);
    }
}

void hs_out_md_code(FILE *f, const char *s)
{
    int run = 0, longest = 0;
    for (const char *p = s; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > longest) longest = run;
    }
    /* Not for table cells (GFM splits rows on | even inside code). A fence longer than any backtick run inside; a space
     * keeps a backtick at either end from joining the fence (CommonMark strips one such space on each side). */
    int pad = s[0] == '`' || (s[0] && s[strlen(s) - 1] == '`');
    for (int i = 0; i <= longest; i++) fputc('`', f);
    if (pad) fputc(' ', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        fputc(hs_is_control(c) ? ' ' : c, f);
    }
    if (pad) fputc(' ', f);
    for (int i = 0; i <= longest; i++) fputc('`', f);
}

/* Spreadsheets (Excel, LibreOffice, Google Sheets) run a cell starting with = + - @ as a
 * formula, some after stripping a leading tab or CR, and DDE payloads such as
 * =cmd|' /C calc'!A0 run commands. OWASP's CSV injection advice: a single quote in front,
 * which the spreadsheet shows as text and a CSV reader keeps as data. Also in front of such
 * a character after a , ; tab CR or LF inside the field: a spreadsheet splitting on another
 * separator than ours (';' in decimal-comma locales, tab) would start a cell there. */
static int csv_formula_char(char c) { return c && strchr("=+-@\t\r", c) != NULL; }
static int csv_separator(char c) { return c && strchr(",;\t\r\n", c) != NULL; }

/* RFC 4180: a field with a comma, quote, CR or LF is quoted and its quotes doubled. Other
 * control characters, edge spaces and semicolons also get quotes, so no reader trims or
 * splits them. Only string cells come here; numbers are printed as numbers (-0.5 stays one). */
void hs_out_csv_cell(FILE *f, const char *s)
{
    int quote = 0;
    for (const char *p = s; *p; p++)
        quote |= *p == ',' || *p == ';' || *p == '"' || hs_is_control((unsigned char)*p);
    size_t n = strlen(s);
    quote |= n && (s[0] == ' ' || s[n - 1] == ' ');
    if (quote) fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (csv_formula_char(*p) && (p == s || csv_separator(p[-1]))) fputc('\'', f);
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
    }
    if (quote) fputc('"', f);
}

void hs_out_safe_name(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    for (; *s && k + 1 < cap; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        out[k++] = ok ? c : '_';
    }
    if (k == 0 && cap > 1) out[k++] = '_';
    if (cap) out[k] = '\0';
}
