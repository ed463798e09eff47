/* args: reading lindungctl's "--flag" and "--option VALUE" arguments, in any
 * order after the command. Not a full parser: commands check what they need,
 * before they connect to PostgreSQL (docs/development.md, "lindungctl
 * commands"). */
#ifndef LINDUNG_ARGS_H
#define LINDUNG_ARGS_H
#include <stdbool.h>
#include <stdio.h>
#include "nik.h"

/* Exit codes of every lindungctl command. */
#define ARGS_OK 0
#define ARGS_FAILED 1 /* database, not found, refused, out of memory */
#define ARGS_USAGE 2  /* the command line is wrong: nothing was done */

/* The value after `flag` in argv, or NULL. */
const char *args_value(int argc, char **argv, const char *flag);
/* Whether `flag` is in argv. */
bool args_flag(int argc, char **argv, const char *flag);
/* The n-th (from 0) argument that is neither a --flag nor the value of one
 * of the flags listed in `valued` (NULL-terminated), or NULL. */
const char *args_positional(int argc, char **argv, int n, const char *const *valued);
/* Whether every argument is one of `flags` or one of `valued` followed by
 * its value (both NULL-terminated); otherwise false after saying
 * "lindungctl COMMAND: unknown argument X" on stderr. For commands that
 * take no positional argument. */
bool args_known(int argc, char **argv, const char *const *flags,
                const char *const *valued, const char *command);
/* The 16 digits of a NIK as people type it, spaces, dots and dashes
 * dropped (as nik_parse does), into out; false unless 16 digits remain. The
 * structure is not checked: an operator may look up a NIK that verify
 * rejected, or one a village typed wrong. */
bool args_nik_digits(const char *text, char out[NIK_LEN + 1]);
/* Whether "--help" or "-h" is in argv. */
bool args_help(int argc, char **argv);
/* ARGS_USAGE after printing usage to stderr: the one way a command says its
 * command line is wrong when it has nothing more precise to say. */
int args_usage(const char *usage);
#endif
