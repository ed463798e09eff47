/* claims: the `lindungctl claims ...` commands: the claims register (JKK
 * claims recorded, steps of any claim, lists) and the loss-ratio report. */
#ifndef LINDUNG_CLAIMS_CMD_H
#define LINDUNG_CLAIMS_CMD_H
#include <stdio.h>

/* argv[0] is "claims". Returns the process exit code: 0 done, 1 refused or
 * failed, 2 bad usage. */
int claims_cmd_main(int argc, char **argv);

/* The claims commands' lines for lindungctl's usage text. */
void claims_cmd_usage(FILE *out);
#endif
