/* event: `lindungctl event list NIK [--json]` (a person's life events, as
 * villages reported them over the API, with their results) and `lindungctl
 * event correct EVENT_ID --reason TEXT` (a death reported in error:
 * participant_event_correct in 017_life_events.sql restores the coverage;
 * billing bills it again by itself). docs/lifecycle.md. */
#ifndef LINDUNG_EVENT_H
#define LINDUNG_EVENT_H
#include <stdio.h>
#include "db.h"

/* argv[0] is "event". Checks the command line, then connects. Returns the
 * exit code: 0 done, 1 refused or failed, 2 usage. */
int event_main(int argc, char **argv);
void event_usage(FILE *out);
#endif
