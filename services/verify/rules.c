/* rules: every structural and programme rule, each adding a reason code, so
 * an operator sees all that is wrong with a person at once. Codes are stable
 * (clients match on them); messages are for people. */
#include "rules.h"
#include "period.h"
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

/* Age is judged when the person's cover begins (their first covered month),
 * not on the programme's start: someone accepted in December is judged as
 * they are in December. The first of the month, so a birthday later in it
 * does not count yet. */
void rules_check_age(const program_rules_t *p, date_t birth_date, date_t first_month,
                     verdict_t *v)
{
    char month[11];
    date_format(first_month, month);
    int age = date_age_on(birth_date, (date_t){first_month.year, first_month.month, 1});
    if (p->max_age >= 0 && age > p->max_age)
        rules_reject(v, "AGE_OVER_LIMIT",
                     "aged %d in its first covered month %.7s; the limit is %d", age,
                     month, p->max_age);
    if (p->min_age >= 0 && age < p->min_age)
        rules_reject(v, "AGE_UNDER_LIMIT",
                     "aged %d in its first covered month %.7s; the minimum is %d", age,
                     month, p->min_age);
}

static void check_age(const program_rules_t *p, const applicant_facts_t *who,
                      date_t today, verdict_t *v)
{
    if (date_compare(who->birth_date, today) > 0) {
        rules_reject(v, "NIK_INVALID", "the declared birth date is in the future");
        return;
    }
    rules_check_age(p, who->birth_date, who->first_month, v);
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

static date_t later_month(date_t a, date_t b)
{
    return period_compare(period_of(a), period_of(b)) >= 0 ? a : b;
}

date_t rules_first_month(const program_rules_t *p, date_t today,
                         const date_t *renewed_end)
{
    period_t from = renewed_end ? period_next(period_of(*renewed_end)) : period_of(today);
    return later_month(period_first_day(from),
                       period_first_day(period_of(p->coverage_start)));
}

/* The submission deadline is for villages; a renewal was not submitted by
 * one, so it is never late. */
static void check_deadline(const program_rules_t *p, const applicant_facts_t *who,
                           verdict_t *v)
{
    if (who->renewal || !p->has_deadline || date_compare(who->received, p->deadline) <= 0)
        return;
    char d[11], msg[96];
    date_format(p->deadline, d);
    snprintf(msg, sizeof msg, "submitted after the programme's deadline %s", d);
    if (p->deadline_warn_only)
        warn(v, "SUBMITTED_AFTER_DEADLINE", msg);
    else
        rules_reject(v, "DEADLINE_PASSED", "%s", msg);
}

/* Nobody can be covered after the programme's last month. */
static void check_coverage_end(const program_rules_t *p, const applicant_facts_t *who,
                               verdict_t *v)
{
    if (!p->has_coverage_end ||
        period_compare(period_of(who->first_month), period_of(p->coverage_end)) <= 0)
        return;
    char end[11], first[11];
    date_format(p->coverage_end, end);
    date_format(who->first_month, first);
    rules_reject(
        v, "DEADLINE_PASSED",
        "the programme's coverage ended with the month of %.7s, before the first "
        "month %.7s this person could be covered",
        end, first);
}

/* ADD (Alokasi Dana Desa) and APBDes (the village budget) exist only in a
 * desa: a kelurahan is an office of the regency and has neither. */
static void check_desa(const program_rules_t *p, const applicant_facts_t *who,
                       verdict_t *v)
{
    const char *fs = p->funding_source;
    bool add = strcmp(fs, "ADD") == 0;
    if ((add || strcmp(fs, "APBDES") == 0) && !region_is_desa(who->village_code))
        rules_reject(v, "NOT_A_DESA",
                     "the funding source is %s, which only a desa has; this village is a "
                     "kelurahan",
                     add ? "ADD (Alokasi Dana Desa)" : "APBDes (the village budget)");
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
    check_deadline(p, who, v);
    check_coverage_end(p, who, v);
    check_desa(p, who, v);
}
