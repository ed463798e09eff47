/* billing_cmd: the `lindungctl billing ...` and `lindungctl rates` commands. */
#ifndef LINDUNG_BILLING_CMD_H
#define LINDUNG_BILLING_CMD_H

/* argv[0] is "billing" or "rates". Returns the process exit code. */
int billing_cmd_main(int argc, char **argv);
#endif
