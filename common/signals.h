/* signals: SIGTERM and SIGINT ask a daemon to stop; SIGPIPE is ignored (a
 * client that hangs up must not kill the process). Not for reloads. */
#ifndef LINDUNG_SIGNALS_H
#define LINDUNG_SIGNALS_H
#include <stdbool.h>

void signals_install(void);
bool signals_stop_requested(void);
/* Sleep up to ms milliseconds, waking early when a stop is requested. */
void signals_sleep_ms(int ms);
#endif
