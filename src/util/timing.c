/* timing.c: monotonic wall clock, UTC time stamps, CPU times and resident memory of this process. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "headsweep/util.h"

double hs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void hs_utc_now(char out[HS_UTC_MAX])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, HS_UTC_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void hs_cpu_times(double *user_s, double *sys_s)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        *user_s = *sys_s = 0.0;
        return;
    }
    *user_s = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec;
    *sys_s = (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

/* Reads one "Key:   N kB" line of /proc/self/status; -1 when unavailable. */
static int64_t proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    int64_t kb = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            long long v;
            if (sscanf(line + klen + 1, "%lld", &v) == 1) kb = v;
            break;
        }
    }
    fclose(f);
    return kb;
}

int64_t hs_peak_rss_bytes(void)
{
    int64_t kb = proc_status_kb("VmHWM");
    return kb < 0 ? -1 : kb * 1024;
}

int64_t hs_rss_bytes(void)
{
    int64_t kb = proc_status_kb("VmRSS");
    return kb < 0 ? -1 : kb * 1024;
}

void hs_peak_rss_reset(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd < 0) return;
    if (write(fd, "5", 1) != 1) { /* ignore: the peak degrades to the process's so far */ }
    close(fd);
}

static double cpu_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return NAN;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void hs_phase_begin(hs_phase *p)
{
    hs_peak_rss_reset();
    p->rss = hs_rss_bytes();
    p->cpu = cpu_now();
    p->wall = hs_now();
}

hs_phase_use hs_phase_end(const hs_phase *p)
{
    hs_phase_use u;
    u.wall_s = hs_now() - p->wall; /* clocks first: reading /proc is not part of the phase */
    u.cpu_s = cpu_now() - p->cpu;
    int64_t peak = hs_peak_rss_bytes();
    u.peak_rss = peak < 0 ? NAN : (double)peak;
    u.rss_growth = peak < 0 || p->rss < 0 ? NAN : (double)(peak > p->rss ? peak - p->rss : 0);
    return u;
}
