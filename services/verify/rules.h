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
    /* Day 1 of the person's first covered month (rules_first_month): age
     * limits are judged on it, and it must not be after coverage_end. */
    date_t first_month;
    /* Queued by a programme's renewal (program_renewal_queue), not sent by a
     * village: no submission deadline applies. */
    bool renewal;
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

/* The first month an enrolment decided `today` covers (day 1): the month of
 * `today` (coverage starts at acceptance; insurance cannot cover the past),
 * or the programme's coverage_start when that is later. A renewal
 * (`renewed_end`: the last covered month of the programme it renews, else
 * NULL) instead continues without a gap: the month after renewed_end, or
 * coverage_start when later. */
date_t rules_first_month(const program_rules_t *program, date_t today,
                         const date_t *renewed_end);

/* Apply every rule that needs no database; `today` bounds the NIK's future check. */
void rules_decide(const program_rules_t *program, const applicant_facts_t *who,
                  date_t today, verdict_t *out);

/* The age limits on day 1 of `first_month`, adding AGE_OVER_LIMIT or
 * AGE_UNDER_LIMIT to `v`; rules_decide calls it, and verifier again when an
 * earlier enrolment moves a person's first month later. */
void rules_check_age(const program_rules_t *program, date_t birth_date,
                     date_t first_month, verdict_t *v);

/* Add a reason (verifier adds the database ones the same way). */
void rules_reject(verdict_t *v, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#endif
