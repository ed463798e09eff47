/* billing_internal: what the billing command files share (billing_cmd.c
 * dispatches; billing_run.c, billing_pay.c, billing_reports.c and rates.c
 * each hold commands). Each command takes the words after "billing" (argv[0]
 * its verb) or, for rates, after "rates"; checks them before it connects to
 * PostgreSQL; and returns the exit code (ARGS_OK, ARGS_FAILED, ARGS_USAGE).
 * Not part of lindungctl's interface to other commands (billing_cmd.h). */
#ifndef LINDUNG_BILLING_INTERNAL_H
#define LINDUNG_BILLING_INTERNAL_H

/* billing_run.c: lindung-billing runs a month, over its control socket. */
int billing_run(int argc, char **argv);
/* billing_pay.c */
int billing_pay(int argc, char **argv);
/* billing_reports.c */
int billing_arrears(int argc, char **argv);
int billing_lapses(int argc, char **argv);
int billing_statement(int argc, char **argv);
int billing_export(int argc, char **argv);
/* rates.c */
int rates_show(int argc, char **argv);
#endif
