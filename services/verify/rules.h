/* rules: the eligibility decision for one applicant under one programme,
 * as pure logic (no database). Duplicates inside a submission, duplicates
 * against active enrolments and quotas need the database: verifier.c. */
#ifndef LINDUNG_RULES_H
#define LINDUNG_RULES_H
#include <stdbool.h>
#include "date.h"
#include "nik.h"
#include "region.h"

#define RULES_MAX_OCCUPATIONS 128
#define RULES_MAX_REASONS 12
#define RULES_MAX_WARNINGS 4

typedef struct {
    int id;
    int version;
    char code[65];
    char regency[8];
    char funding_source[16];
    date_t coverage_start; /* day 1 of the first covered month */
    bool has_coverage_end;
    date_t coverage_end; /* day 1 of the last covered month */
    bool has_deadline;
    date_t deadline;         /* last day submissions are accepted */
    bool deadline_warn_only; /* late is a warning (SUBMITTED_AFTER_DEADLINE), not a
                                rejection */
    int min_age;             /* inclusive, -1 none */
    int max_age;             /* inclusive, -1 none */
    int occupations[RULES_MAX_OCCUPATIONS]; /* eligible codes; none listed: any */
    int n_occupations;
    bool poverty_ref_required;
} program_rules_t;

typedef struct {
    const char *nik; /* as sent */
    date_t birth_date;
    char sex;                /* 'M' or 'F' */
    int occupation;          /* resolved Dukcapil code, -1 unknown */
    const char *poverty_ref; /* NULL or "" when absent */
    const char *village_code;
    date_t received; /* the day the submission arrived (Asia/Jakarta) */
} applicant_facts_t;

typedef struct {
    const char *code; /* a stable reason code, docs/api.md */
    char message[160];
} reason_t;

typedef struct {
    reason_t reasons[RULES_MAX_REASONS];
    int n_reasons;
    reason_t warnings[RULES_MAX_WARNINGS];
    int n_warnings;
    bool nik_ok;
    nik_t nik; /* parsed, when nik_ok */
} verdict_t;

/* Apply every rule that needs no database; `today` bounds the NIK's future check. */
void rules_decide(const program_rules_t *program, const applicant_facts_t *who,
                  date_t today, verdict_t *out);

/* Add a reason (verifier adds the database ones the same way). */
void rules_reject(verdict_t *v, const char *code, const char *fmt, ...);
#endif
