/* ops: read-only operator commands: status, submissions, participants, trace. */
#ifndef LINDUNG_OPS_H
#define LINDUNG_OPS_H

/* argv[0] is the command name. Returns the process exit code. */
int ops_main(int argc, char **argv);
#endif
