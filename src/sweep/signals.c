/* signals.c: the sweep's signal handling. SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 (a
 * scheduler's preemption warning, a user's Ctrl-C) only set a flag that the sweep reads
 * between prompts, so finished cells are saved and the run ends with exit code 3; a second
 * signal ends the process at once (the results file is safe: cells are written whole). */
#include <signal.h>
#include <string.h>

#include "sweep_impl.h"

static volatile sig_atomic_t caught_signal;

static void on_signal(int sig)
{
    if (caught_signal) { /* a second signal: the user insists, end now (the file is safe) */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    caught_signal = sig;
}

void hs_sweep_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
    /* A file-size limit should fail a write with EFBIG (an error naming the file), not
     * kill the process. */
    signal(SIGXFSZ, SIG_IGN);
}

int hs_sweep_signal(void) { return caught_signal; }

const char *hs_sweep_signal_name(int sig)
{
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    default: return "a signal";
    }
}
