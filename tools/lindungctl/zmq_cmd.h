/* zmq_cmd: `lindungctl zmq keygen DIR [--client NAME]...`: the CURVE keys of
 * an installation (docs/operations.md, "ZeroMQ security"). */
#ifndef LINDUNG_ZMQ_CMD_H
#define LINDUNG_ZMQ_CMD_H
#include <stdio.h>

/* argv[0] is "zmq". Returns the process exit code. */
int zmq_cmd_main(int argc, char **argv);

/* The zmq command's lines for lindungctl's usage text. */
void zmq_cmd_usage(FILE *out);
#endif
