/* ops: read-only operator commands: status, submissions, participants, trace.
 * Not for commands that change state. */
#ifndef LINDUNG_OPS_H
#define LINDUNG_OPS_H
#include <stdio.h>

/* argv[0] is the command name. Returns the process exit code: 0 ok, 1 failed
 * (database unreachable, not found, a daemon unready), 2 usage. */
int ops_main(int argc, char **argv);

/* The ops commands' lines for lindungctl's usage text. */
void ops_usage(FILE *out);
#endif
