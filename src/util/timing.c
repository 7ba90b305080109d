/* timing.c: monotonic wall clock, CPU times and resident memory of this process. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "headsweep/util.h"

double hs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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
