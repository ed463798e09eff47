/* signals: a flag set from the handler and read by the main loop; nothing
 * else happens inside a signal handler. */
#include "signals.h"
#include <signal.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_requested = 0;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool signals_stop_requested(void)
{
    return stop_requested != 0;
}

void signals_sleep_ms(int ms)
{
    while (ms > 0 && !stop_requested) {
        int step = ms < 100 ? ms : 100;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}
