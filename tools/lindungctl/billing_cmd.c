/* billing_cmd: `lindungctl billing ...` and `lindungctl rates`, for
 * operators and finance staff: which file holds which command, and the
 * usage. The commands are split like ops: billing_run.c (a run, asked of
 * lindung-billing over its control socket), billing_pay.c (payments),
 * billing_reports.c (arrears, lapses, statements, exports) and rates.c
 * (rates in force); billing_internal.h is what they share. Not the accrual
 * (services/billing). */
#include "billing_cmd.h"
#include <string.h>
#include "args.h"
#include "billing_internal.h"

static const char *USAGE =
    "usage: lindungctl billing run YYYY-MM [--force]\n"
    "                  (--force: a month outside billing's window, by default 60\n"
    "                  months back to 12 ahead; docs/operations.md)\n"
    "       lindungctl billing pay INVOICE_ID AMOUNT [--date YYYY-MM-DD] [--reference "
    "R]\n"
    "                  [--lines ENROLMENT_ID,... | --except ENROLMENT_ID,...]\n"
    "       lindungctl billing arrears [--json]\n"
    "       lindungctl billing lapses [--json]\n"
    "       lindungctl billing statement --payer CODE [--json]\n"
    "       lindungctl billing export --payer CODE --period YYYY-MM --format csv|xlsx "
    "--out FILE\n"
    "       lindungctl rates [YYYY-MM] [--transport] [--income RUPIAH] [--json]\n";

void billing_cmd_usage(FILE *out)
{
    fputs(USAGE, out);
}

static const struct {
    const char *verb;
    int (*run)(int argc, char **argv);
} COMMANDS[] = {
    {"run", billing_run},
    {"pay", billing_pay},
    {"arrears", billing_arrears},
    {"lapses", billing_lapses},
    {"statement", billing_statement},
    {"export", billing_export},
};

int billing_cmd_main(int argc, char **argv)
{
    int n = argc - 1;
    char **a = argv + 1;
    if (args_help(n, a)) {
        fputs(USAGE, stdout);
        return ARGS_OK;
    }
    if (strcmp(argv[0], "rates") == 0)
        return rates_show(n, a);
    const char *verb = n > 0 ? a[0] : "";
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(verb, COMMANDS[i].verb) == 0)
            return COMMANDS[i].run(n, a);
    return args_usage(USAGE);
}
