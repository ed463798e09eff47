/* billing_cmd: the `lindungctl billing ...` and `lindungctl rates` commands. */
#ifndef LINDUNG_BILLING_CMD_H
#define LINDUNG_BILLING_CMD_H
#include <stdio.h>

/* argv[0] is "billing" or "rates". Returns the process exit code. */
int billing_cmd_main(int argc, char **argv);

/* The billing commands' lines for lindungctl's usage text. */
void billing_cmd_usage(FILE *out);
#endif
