/* gnuplot.c: the gnuplot kit (see gnuplot.h): strings, colours, axes and the terminal in
 * scripts, a figure's .dat/.gp pair, finding gnuplot on PATH and running one script in the
 * output directory.
 *
 * The child changes into the output directory so scripts use relative file names and
 * stay runnable by hand; its stdout and stderr are captured (up to 64 KiB) to be shown
 * when it fails. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gnuplot.h"

/* Okabe and Ito's palette without its yellow (too light on white), and Tol's wine. */
const char *hs_gp_color(int i)
{
    static const char *const colors[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                         "#e69f00", "#56b4e9", "#000000", "#882255"};
    return colors[(unsigned)i % 8];
}

/* Filled circle, square, triangle, inverted triangle, diamond. */
int hs_gp_point(int i)
{
    static const int points[] = {7, 5, 9, 11, 13};
    return points[(unsigned)i % 5];
}

/* Solid, dashed, dash-dot, dash-dot-dot (gnuplot's dotted type 3 reads as a gap at lw 2). */
int hs_gp_dash(int i)
{
    static const int dashes[] = {1, 2, 4, 5};
    return dashes[(unsigned)i % 4];
}

void hs_gp_series(FILE *f, int i, int open)
{
    fprintf(f, "lw 2 pt %d dt %d lc rgb \"%s\"", hs_gp_point(i) - (open ? 1 : 0), hs_gp_dash(i), hs_gp_color(i));
}

/* A single-quoted gnuplot string: gnuplot expands backquotes (command substitution) and
 * backslash escapes inside double quotes but nothing inside single quotes, where the only
 * special character is the quote itself, written twice. Control characters (a newline
 * would end the command) become spaces. */
void hs_gp_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\'') fputc('\'', f);
        fputc(hs_is_control(c) ? ' ' : c, f);
    }
    fputc('\'', f);
}

#define HS_MAX_TICS 8

/* Tics every step (1, 2 or 5 x 10^k, about 5 of them) in [lo, hi]: for ranges under a
 * factor 2, where a log axis looks linear anyway. */
static int linear_tics(double lo, double hi, double *t)
{
    double raw = (hi - lo) / 5, p = pow(10, floor(log10(raw))), step = p;
    if (raw > 5 * p) step = 10 * p;
    else if (raw > 2 * p) step = 5 * p;
    else if (raw > p) step = 2 * p;
    int n = 0;
    for (double v = ceil(lo / step) * step; v <= hi * (1 + 1e-12) && n < HS_MAX_TICS + 4; v += step) t[n++] = v;
    return n;
}

/* Values m x 10^e in [lo, hi] for the mantissas m (0-terminated); returns how many
 * (possibly more than fit: only the first cap are stored). */
static int mantissa_tics(double lo, double hi, const double *m, double *t, int cap)
{
    int n = 0;
    for (int e = (int)floor(log10(lo)); e <= (int)ceil(log10(hi)); e++)
        for (int j = 0; m[j] > 0; j++) {
            double v = m[j] * pow(10, e);
            if (v < lo || v > hi) continue;
            if (n < cap) t[n] = v;
            n++;
        }
    return n;
}

/* The densest of these sets that gives at most HS_MAX_TICS tics; 0 when even decades are
 * too many (gnuplot's own decade tics are then right). */
static int log_tics(double lo, double hi, double *t, int cap)
{
    static const double sets[][12] = {{1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9, 0}, {1, 2, 3, 4, 5, 6, 8, 0},
                                      {1, 2, 3, 5, 7, 0}, {1, 2, 5, 0}, {1, 3, 0}, {1, 0}};
    if (hi < 2 * lo) return linear_tics(lo, hi, t);
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        int n = mantissa_tics(lo, hi, sets[k], t, cap);
        if (n <= HS_MAX_TICS) return n;
    }
    return 0;
}

void hs_gp_log_axis(FILE *f, char axis, double lo, double hi, int reverse)
{
    double pad = hi > lo ? pow(hi / lo, 0.05) : 1.1, t[HS_MAX_TICS + 4];
    if (pad < 1.02) pad = 1.02;
    double a = lo / pad, b = hi * pad;
    fprintf(f, "set logscale %c\nset %crange [%.6g:%.6g]\n", axis, axis, reverse ? b : a, reverse ? a : b);
    int n = log_tics(a, b, t, HS_MAX_TICS + 4);
    if (n < 2) return;
    fprintf(f, "set %ctics (", axis);
    for (int i = 0; i < n; i++) fprintf(f, "%s%.6g", i ? ", " : "", t[i]);
    fprintf(f, ")\nset m%ctics 1\n", axis);
}

/* PDF page side of a W-pixel PNG: cairo draws a PNG at 72 pixels per inch (a 10-point font is 10
 * pixels high), so W/72 inches gives the PDF the PNG's exact layout. Pages beyond 200 inches
 * (14400 points, the PDF reference's implementation limit, Adobe PDF 1.7 annex C) are scaled
 * down with fonts and lines, keeping the proportions. */
#define HS_GP_PDF_MAX_PT 14400.0

void hs_gp_preamble(FILE *f, const char *name, int width, int height)
{
    double side = width > height ? width : height, s = side > HS_GP_PDF_MAX_PT ? HS_GP_PDF_MAX_PT / side : 1;
    fprintf(f, "# %s.gp: written by headsweep-report; run `gnuplot %s.gp` in this directory: it draws\n"
               "# %s.png, then loads itself again with hs_pdf = 1 to draw the same figure as %s.pdf.\n"
               "reset\n"
               "if (!exists(\"hs_pdf\")) { hs_pdf = 0 }\n"
               "if (!exists(\"hs_png_out\")) { hs_png_out = \"%s.png\" }\n"
               "if (!exists(\"hs_pdf_out\")) { hs_pdf_out = \"%s.pdf\" }\n"
               "if (hs_pdf) {\n"
               "    set terminal pdfcairo size %.4fin,%.4fin noenhanced font \",10\" fontscale %.4g linewidth %.4g\n"
               "    set output hs_pdf_out\n"
               "} else {\n"
               "    if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
               "        set terminal pngcairo size %d,%d noenhanced font \",10\"\n"
               "    } else {\n"
               "        set terminal png size %d,%d noenhanced\n"
               "    }\n"
               "    set output hs_png_out\n"
               "}\n",
            name, name, name, name, name, name, width * s / 72.0, height * s / 72.0, s, s, width, height, width,
            height);
}

/* The second pass: the same script with the PDF terminal, when gnuplot has one (Debian's
 * gnuplot-nox has pdfcairo). A multiplot cannot be replotted, so the script is run again. */
static void gp_trailer(FILE *f, const char *name)
{
    fprintf(f, "unset output\n"
               "if (!hs_pdf && strstrt(GPVAL_TERMINALS, \"pdfcairo\") > 0) {\n"
               "    hs_pdf = 1\n"
               "    load \"%s.gp\"\n"
               "}\n", name);
}

hs_status hs_gp_open(const char *dir, const char *name, hs_out *dat, hs_out *gp)
{
    char file[300];
    gp->f = NULL, gp->path = NULL, gp->tmp = NULL;
    snprintf(file, sizeof file, "%s.dat", name);
    hs_status st = hs_out_open(dat, dir, file);
    if (st) return st;
    snprintf(file, sizeof file, "%s.gp", name);
    st = hs_out_open(gp, dir, file);
    if (st) hs_out_close(dat);
    return st;
}

hs_status hs_gp_close(hs_out *dat, hs_out *gp, const char *name)
{
    if (gp->f) gp_trailer(gp->f, name);
    hs_status a = hs_out_close(dat), b = hs_out_close(gp);
    return a ? a : b;
}

#define HS_GP_CAPTURE (64 * 1024)

int hs_gnuplot_find(char *path, size_t cap)
{
    const char *env = getenv("PATH");
    if (!env || !*env) return 0;
    const char *p = env;
    while (*p) {
        size_t len = strcspn(p, ":");
        int k = snprintf(path, cap, "%.*s%sgnuplot", (int)len, p, len ? "/" : "./");
        struct stat sb;
        if (k > 0 && (size_t)k < cap && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
            access(path, X_OK) == 0)
            return 1;
        p += len;
        if (*p == ':') p++;
    }
    return 0;
}

/* A figure's PNG and PDF while gnuplot draws them (docs/report.md, "Output directory"): new
 * files beside their names (NAME.png.tmp.XXXXXX: mkstemp, O_EXCL, so never through a symlink
 * planted in a shared directory) that gnuplot writes through the descriptors it inherits
 * (set output '/dev/fd/3', '/dev/fd/4': no name anyone could swap meanwhile), renamed over
 * NAME.png and NAME.pdf when good. rename() replaces a symlink there, never its target. */
typedef struct {
    char *path[2]; /* dir/NAME.png, dir/NAME.pdf */
    char *tmp[2];  /* their temporary names */
    FILE *f[2];
} fig_out;

enum { FIG_PNG, FIG_PDF };
#define HS_GP_FD0 3 /* the child's descriptor of the PNG; the PDF's is the next */

static hs_status fig_out_open(fig_out *o, const char *dir, const char *name)
{
    static const char *const ext[2] = {"png", "pdf"};
    char file[300];
    memset(o, 0, sizeof *o);
    hs_status st = HS_OK;
    for (int i = 0; i < 2 && !st; i++) {
        snprintf(file, sizeof file, "%s.%s", name, ext[i]);
        o->path[i] = hs_path_join(dir, file);
        st = o->path[i] ? hs_tmp_open(o->path[i], &o->f[i], &o->tmp[i]) : HS_ENOMEM;
    }
    return st;
}

/* Renames output i to its name when keep is HS_OK, else removes it; frees its paths. */
static hs_status fig_out_finish(fig_out *o, int i, hs_status keep)
{
    hs_status st = o->f[i] ? hs_tmp_commit(o->path[i], o->f[i], o->tmp[i], keep) : HS_OK;
    free(o->path[i]);
    o->path[i] = o->tmp[i] = NULL;
    o->f[i] = NULL;
    return keep ? HS_OK : st;
}

static void fig_out_discard(fig_out *o)
{
    for (int i = 0; i < 2; i++) fig_out_finish(o, i, HS_EINTERNAL);
}

/* The -e argument that points the script's outputs at the inherited descriptors, or, where
 * /dev/fd does not exist, at the temporary files' names (created O_EXCL just before). */
static void outputs_arg(const fig_out *o, char *buf, size_t cap)
{
    if (access("/dev/fd", X_OK) == 0) {
        snprintf(buf, cap, "hs_png_out = '/dev/fd/%d'; hs_pdf_out = '/dev/fd/%d'", HS_GP_FD0, HS_GP_FD0 + 1);
        return;
    }
    const char *a = strrchr(o->tmp[FIG_PNG], '/'), *b = strrchr(o->tmp[FIG_PDF], '/');
    snprintf(buf, cap, "hs_png_out = '%s'; hs_pdf_out = '%s'", a ? a + 1 : o->tmp[FIG_PNG],
             b ? b + 1 : o->tmp[FIG_PDF]); /* mkstemp names: letters, digits, '.', '_' and '-' only */
}

/* Child side: output to the pipe, the figure files as descriptors 3 and 4, into dir, exec
 * gnuplot. Never returns. */
static void child_exec(const char *gnuplot, const char *dir, const char *script, const char *outputs, int wfd,
                       const fig_out *o)
{
    if (dup2(wfd, STDOUT_FILENO) < 0 || dup2(wfd, STDERR_FILENO) < 0) _exit(126);
    close(wfd);
    /* Copies above 3 and 4 first, so that dup2 cannot close one before it is copied. */
    int png = fcntl(fileno(o->f[FIG_PNG]), F_DUPFD, 10), pdf = fcntl(fileno(o->f[FIG_PDF]), F_DUPFD, 10);
    if (png < 0 || pdf < 0 || dup2(png, HS_GP_FD0) < 0 || dup2(pdf, HS_GP_FD0 + 1) < 0) _exit(126);
    if (chdir(dir) != 0) {
        fprintf(stderr, "cannot change into %s: %s\n", dir, strerror(errno));
        _exit(126);
    }
    execl(gnuplot, "gnuplot", "-e", outputs, script, (char *)NULL);
    fprintf(stderr, "cannot run %s: %s\n", gnuplot, strerror(errno));
    _exit(127);
}

/* Reads everything from fd into buf (cap bytes, NUL-terminated, excess dropped). */
static void drain(int fd, char *buf, size_t cap)
{
    size_t k = 0;
    char tmp[4096];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t take = (size_t)n < cap - 1 - k ? (size_t)n : cap - 1 - k;
        memcpy(buf + k, tmp, take);
        k += take;
    }
    buf[k] = '\0';
}

/* The last part of a long output (the error is usually at the end); fits a message. */
static const char *tail(const char *s)
{
    size_t n = strlen(s);
    return n > 1200 ? s + n - 1200 : s;
}

static hs_status wait_child(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) return hs_err(HS_EIO, "gnuplot: waitpid failed: %s", strerror(errno));
    return HS_OK;
}

/* Removes dir/NAME.EXT left by an earlier report, so an output that this run fails to make is
 * not mistaken for one it made. */
static hs_status remove_old(const char *dir, const char *name, const char *ext)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    if (unlink(path) != 0 && errno != ENOENT)
        return hs_err(HS_EIO, "cannot remove the old %s: %s", path, strerror(errno));
    return HS_OK;
}

/* The PNG must have bytes; the PDF has bytes when gnuplot has pdfcairo (*pdf = 1), and must
 * then start with the PDF header (cairo writes the file as it goes: a failed page leaves a
 * stub). Both are read through the descriptors gnuplot wrote, not by name. */
static hs_status check_outputs(const fig_out *o, const char *name, const char *output, int *pdf)
{
    char head[5] = {0};
    struct stat sb;
    int png_fd = fileno(o->f[FIG_PNG]), pdf_fd = fileno(o->f[FIG_PDF]);
    if (fstat(png_fd, &sb) != 0 || sb.st_size == 0)
        return hs_err(HS_EIO, "gnuplot %s.gp made no %s%s%s", name, o->path[FIG_PNG],
                      output[0] ? "; its output:\n" : "", output);
    *pdf = fstat(pdf_fd, &sb) == 0 && sb.st_size > 0;
    if (*pdf && (pread(pdf_fd, head, sizeof head, 0) != (ssize_t)sizeof head || memcmp(head, "%PDF-", 5) != 0)) {
        *pdf = -1;
        return hs_err(HS_EIO, "gnuplot %s.gp made %s without a PDF header%s%s", name, o->path[FIG_PDF],
                      output[0] ? "; its output:\n" : "", output);
    }
    if (output[0]) fprintf(stderr, "headsweep-report: gnuplot %s.gp: %s", name, output);
    return HS_OK;
}

/* Runs `gnuplot -e OUTPUTS script` in dir onto the files o; *output: what it printed (64 KiB
 * at most), shown when it fails. */
static hs_status run_child(const char *gnuplot, const char *dir, const char *script, const fig_out *o,
                           char **output)
{
    char outputs[800];
    outputs_arg(o, outputs, sizeof outputs);
    int fd[2];
    if (pipe(fd) != 0) return hs_err(HS_EIO, "gnuplot: pipe failed: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return hs_err(HS_EIO, "gnuplot: fork failed: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fd[0]);
        child_exec(gnuplot, dir, script, outputs, fd[1], o);
    }
    close(fd[1]);
    *output = hs_malloc(HS_GP_CAPTURE, "gnuplot output");
    if (*output) drain(fd[0], *output, HS_GP_CAPTURE);
    close(fd[0]);
    int status = 0;
    hs_status st = wait_child(pid, &status);
    if (!st && !*output) st = HS_ENOMEM;
    if (!st && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
        st = hs_err(HS_EIO, "gnuplot %s/%s failed (%s %d); its output:\n%s", dir, script,
                    WIFEXITED(status) ? "exit status" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), tail(*output));
    return st;
}

hs_status hs_gnuplot_run(const char *gnuplot, const char *dir, const char *name, int *pdf)
{
    char script[300], *output = NULL;
    snprintf(script, sizeof script, "%s.gp", name);
    *pdf = 0;
    fig_out o;
    memset(&o, 0, sizeof o);
    hs_status st = remove_old(dir, name, "png");
    if (!st) st = remove_old(dir, name, "pdf");
    if (!st) st = fig_out_open(&o, dir, name);
    if (!st) st = run_child(gnuplot, dir, script, &o, &output);
    if (!st) st = check_outputs(&o, name, output, pdf);
    free(output);
    if (st) {
        fig_out_discard(&o);
        return st;
    }
    st = fig_out_finish(&o, FIG_PNG, HS_OK);
    hs_status b = fig_out_finish(&o, FIG_PDF, *pdf == 1 && !st ? HS_OK : HS_EINTERNAL); /* none: removed */
    if (st) *pdf = 0;
    return st ? st : b;
}
