/* rules: every structural and programme rule, each adding a reason code, so
 * an operator sees all that is wrong with a person at once. Codes are stable
 * (clients match on them); messages are for people. */
#include "rules.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rules_reject(verdict_t *v, const char *code, const char *fmt, ...)
{
    if (v->n_reasons >= RULES_MAX_REASONS)
        return;
    reason_t *r = &v->reasons[v->n_reasons++];
    r->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

static void warn(verdict_t *v, const char *code, const char *message)
{
    if (v->n_warnings >= RULES_MAX_WARNINGS)
        return;
    reason_t *r = &v->warnings[v->n_warnings++];
    r->code = code;
    snprintf(r->message, sizeof r->message, "%s", message);
}

static void check_nik(const applicant_facts_t *who, date_t today, verdict_t *v)
{
    nik_error_t err = nik_parse(who->nik, today, &v->nik);
    if (err == NIK_ERR_TEMPORARY) {
        rules_reject(v, "NIK_TEMPORARY", "%s", nik_error_message(err));
        return;
    }
    if (err != NIK_OK) {
        rules_reject(v, "NIK_INVALID", "%s", nik_error_message(err));
        return;
    }
    v->nik_ok = true;
    if (!nik_matches_birth_date(&v->nik, who->birth_date))
        rules_reject(v, "BIRTH_DATE_MISMATCH",
                     "the birth date in the NIK does not match the declared birth date");
    if (!nik_matches_sex(&v->nik, who->sex))
        rules_reject(v, "SEX_MISMATCH",
                     "the NIK encodes the other sex (women have 40 added to the day)");
    char regency[6];
    if (region_regency_of(who->village_code, regency) &&
        strcmp(regency, v->nik.regency) != 0)
        warn(v, "NIK_REGION_MISMATCH",
             "the NIK was issued in another regency (people move, regions are re-coded)");
}

static void check_age(const program_rules_t *p, const applicant_facts_t *who,
                      date_t today, verdict_t *v)
{
    if (date_compare(who->birth_date, today) > 0) {
        rules_reject(v, "NIK_INVALID", "the declared birth date is in the future");
        return;
    }
    int age = date_age_on(who->birth_date, p->coverage_start);
    if (p->max_age >= 0 && age > p->max_age)
        rules_reject(v, "AGE_OVER_LIMIT", "aged %d at coverage start; the limit is %d",
                     age, p->max_age);
    if (p->min_age >= 0 && age < p->min_age)
        rules_reject(v, "AGE_UNDER_LIMIT", "aged %d at coverage start; the minimum is %d",
                     age, p->min_age);
}

static void check_occupation(const program_rules_t *p, const applicant_facts_t *who,
                             verdict_t *v)
{
    if (who->occupation < 0) {
        rules_reject(v, "OCCUPATION_NOT_ELIGIBLE",
                     "the occupation is not a Dukcapil occupation name or code");
        return;
    }
    if (p->n_occupations == 0)
        return;
    for (int i = 0; i < p->n_occupations; i++)
        if (p->occupations[i] == who->occupation)
            return;
    rules_reject(v, "OCCUPATION_NOT_ELIGIBLE",
                 "occupation %d is not eligible in this programme", who->occupation);
}

void rules_decide(const program_rules_t *p, const applicant_facts_t *who, date_t today,
                  verdict_t *v)
{
    memset(v, 0, sizeof *v);
    check_nik(who, today, v);
    check_age(p, who, today, v);
    check_occupation(p, who, v);
    if (p->poverty_ref_required && (!who->poverty_ref || !who->poverty_ref[0]))
        rules_reject(v, "POVERTY_REF_REQUIRED",
                     "this programme requires a poverty reference (Musdes decision, "
                     "DTKS/P3KE id)");
    if (p->has_deadline && date_compare(who->received, p->deadline) > 0) {
        char d[11], msg[96];
        date_format(p->deadline, d);
        snprintf(msg, sizeof msg, "submitted after the programme's deadline %s", d);
        if (p->deadline_warn_only)
            warn(v, "SUBMITTED_AFTER_DEADLINE", msg);
        else
            rules_reject(v, "DEADLINE_PASSED", "%s", msg);
    }
    if (p->has_coverage_end && (who->received.year > p->coverage_end.year ||
                                (who->received.year == p->coverage_end.year &&
                                 who->received.month > p->coverage_end.month))) {
        char d[11];
        date_format(p->coverage_end, d);
        rules_reject(v, "DEADLINE_PASSED",
                     "the programme's coverage ended with the month of %.7s", d);
    }
    if (strcmp(p->funding_source, "ADD") == 0 && !region_is_desa(who->village_code))
        rules_reject(v, "NOT_A_DESA",
                     "ADD is paid only for a desa; this village is a kelurahan");
}
