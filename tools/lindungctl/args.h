/* args: reading lindungctl's "--flag" and "--option VALUE" arguments, in any
 * order after the command. Not a full parser: commands check what they need. */
#ifndef LINDUNG_ARGS_H
#define LINDUNG_ARGS_H
#include <stdbool.h>

/* The value after `flag` in argv, or NULL. */
const char *args_value(int argc, char **argv, const char *flag);
/* Whether `flag` is in argv. */
bool args_flag(int argc, char **argv, const char *flag);
#endif
