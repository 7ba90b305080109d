/* status.c: per-thread error messages and exit codes (see util.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/util.h"

#define HS_ERR_CAP 2048

static _Thread_local char err_buf[HS_ERR_CAP];

/* Messages quote names and text from files (an HDF5 object's name, a job's value): a
 * terminal escape sequence there must not reach the user's terminal, so every control
 * character but newline and tab prints as '?'. */
static void err_defang(void)
{
    for (unsigned char *p = (unsigned char *)err_buf; *p; p++)
        if (hs_is_control(*p) && *p != '\n' && *p != '\t') *p = '?';
}

hs_status hs_err(hs_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    err_defang();
    return st;
}

hs_status hs_err_wrap(hs_status st, const char *fmt, ...)
{
    char prefix[512], old[HS_ERR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err_buf, sizeof old);
    /* Truncation of very long chains is acceptable; the return value is used only
     * to tell the compiler that it was considered. */
    if (snprintf(err_buf, sizeof err_buf, "%s: %s", prefix, old) < 0) err_buf[0] = '\0';
    err_defang();
    return st;
}

const char *hs_err_msg(void) { return err_buf[0] ? err_buf : "unknown error"; }

void hs_err_clear(void) { err_buf[0] = '\0'; }

int hs_status_exit_code(hs_status st)
{
    switch (st) {
    case HS_OK: return 0;
    case HS_EINPUT: return 2;
    case HS_EINTR: return 3;
    case HS_EBUSY: return 4;
    default: return 1;
    }
}

const char *hs_status_name(hs_status st)
{
    static const char *names[] = {"ok", "bad input", "I/O error", "out of memory",
                                  "internal error", "interrupted", "busy"};
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "unknown";
}

_Noreturn void hs_die_internal(const char *file, int line, const char *what)
{
    fprintf(stderr, "headsweep: internal error at %s:%d: check failed: %s\n", file, line, what);
    abort();
}
