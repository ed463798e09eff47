/* bpjs: reconciliation with BPJS Ketenagakerjaan (issue 14; docs/lifecycle.md,
 * "BPJS registration"): `lindungctl bpjs export` (newly accepted
 * participants, for registration), `bpjs import` (BPJS's answer: a KPJ or a
 * refusal, per NIK) and `bpjs unconfirmed` (registrations BPJS has not
 * answered, for follow-up). The rules of an answer live in the database
 * (bpjs_apply, 019_bpjs.sql); a refusal's money is billing's (credit notes). */
#ifndef LINDUNG_BPJS_H
#define LINDUNG_BPJS_H
#include <stdio.h>

/* argv[0] is "bpjs". Returns the process exit code: 0, 1 (failed, or an
 * import with rows not applied) or 2 (usage). */
int bpjs_main(int argc, char **argv);
void bpjs_usage(FILE *out);
#endif
