/* progress.c: rank 0's progress report on stderr: cells done of total, prompts per
 * second and the time left at that rate. On a terminal one line is redrawn as a bar;
 * otherwise (batch logs, mpirun, which pipes rank 0's stderr) a plain line every
 * interval seconds (default HS_PROGRESS_INTERVAL), whether a cell has finished or not:
 * with a large model one cell takes minutes, and a log that says nothing for that long
 * cannot be told from a hung run. Lines come between rank 0's prompts, so they are at
 * least one prompt apart. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "sweep_impl.h"

#define BAR_INTERVAL 0.5
#define BAR_WIDTH 30

void hs_progress_init(hs_progress *p, FILE *out, int mode, double interval, int64_t cells, int64_t prompts)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->bar = mode < 0 ? isatty(fileno(out)) : mode;
    p->interval = interval > 0 ? interval : HS_PROGRESS_INTERVAL;
    p->cells_total = cells;
    p->prompts_total = prompts;
    p->start = hs_now();
    p->last_print = p->start;
}

static void format_duration(double s, char *out, size_t n)
{
    if (!isfinite(s) || s < 0) snprintf(out, n, "?");
    else if (s >= 3600) snprintf(out, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60) snprintf(out, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(out, n, "%.0fs", s);
}

static void print(hs_progress *p, int64_t prompts_done, double now)
{
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? prompts_done / elapsed : 0;
    char eta[32];
    format_duration(rate > 0 ? (p->prompts_total - prompts_done) / rate : NAN, eta, sizeof eta);
    if (p->bar) {
        int fill = p->cells_total ? (int)(BAR_WIDTH * p->cells_done / p->cells_total) : BAR_WIDTH;
        char bar[BAR_WIDTH + 1];
        for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        fprintf(p->out, "\r[%s] %lld/%lld cells  %.2f prompts/s  ETA %s\033[K", bar, (long long)p->cells_done,
                (long long)p->cells_total, rate, eta);
    } else {
        fprintf(p->out, "headsweep: %lld/%lld cells, %lld/%lld prompts, %.2f prompts/s, ETA %s\n",
                (long long)p->cells_done, (long long)p->cells_total, (long long)prompts_done,
                (long long)p->prompts_total, rate, eta);
    }
    fflush(p->out);
    p->last_print = now;
    p->cells_printed = p->cells_done;
    p->prompts_printed = prompts_done;
}

void hs_progress_update(hs_progress *p, int64_t cells_done, int64_t prompts_done, int force)
{
    p->cells_done = cells_done;
    double now = hs_now();
    double due = p->bar ? BAR_INTERVAL : p->interval;
    if (force || now - p->last_print >= due) print(p, prompts_done, now);
}

void hs_progress_finish(hs_progress *p, int64_t cells_done, int64_t prompts_done)
{
    p->cells_done = cells_done;
    /* A plain log needs no repeat of a line it just printed. */
    if (p->bar || cells_done != p->cells_printed || prompts_done != p->prompts_printed)
        print(p, prompts_done, hs_now());
    if (p->bar) fputc('\n', p->out);
    fflush(p->out);
}
