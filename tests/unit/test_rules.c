/* test_rules: verify's pure eligibility rules, one test per rule, each
 * checking the reason code a client would match on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "rules.h"

static const date_t TODAY = {2026, 11, 24};

static program_rules_t pali(void)
{
    program_rules_t p = {.id = 1, .version = 1, .min_age = -1, .max_age = 64};
    strcpy(p.code, "PALI-2025-ADD");
    strcpy(p.regency, "16.12");
    strcpy(p.funding_source, "ADD");
    p.coverage_start = (date_t){2025, 7, 1};
    p.occupations[p.n_occupations++] = 9;  /* PETANI/PEKEBUN */
    p.occupations[p.n_occupations++] = 81; /* SOPIR */
    return p;
}

static applicant_facts_t budi(void)
{
    return (applicant_facts_t){.nik = "1612011205800001",
                               .birth_date = {1980, 5, 12},
                               .sex = 'M',
                               .occupation = 9,
                               .poverty_ref = "",
                               .village_code = "16.12.01.2001",
                               .received = {2026, 11, 24},
                               .first_month = {2026, 11, 1}};
}

static const reason_t *reason(const verdict_t *v, const char *code)
{
    for (int i = 0; i < v->n_reasons; i++)
        if (strcmp(v->reasons[i].code, code) == 0)
            return &v->reasons[i];
    return NULL;
}

static bool has(const verdict_t *v, const char *code)
{
    return reason(v, code) != NULL;
}

static verdict_t decide(program_rules_t p, applicant_facts_t a)
{
    verdict_t v;
    rules_decide(&p, &a, TODAY, &v);
    return v;
}

static void test_eligible(void **state)
{
    (void)state;
    verdict_t v = decide(pali(), budi());
    assert_int_equal(v.n_reasons, 0);
    assert_int_equal(v.n_warnings, 0);
    assert_true(v.nik_ok);
    assert_string_equal(v.nik.digits, "1612011205800001");
}

static void test_nik_invalid_and_temporary(void **state)
{
    (void)state;
    applicant_facts_t a = budi();
    a.nik = "161201120580001"; /* 15 digits */
    verdict_t v = decide(pali(), a);
    assert_true(has(&v, "NIK_INVALID"));
    assert_false(v.nik_ok);
    a.nik = "0612011205800001"; /* OpenSID temporary number */
    v = decide(pali(), a);
    assert_true(has(&v, "NIK_TEMPORARY"));
    assert_false(has(&v, "NIK_INVALID"));
}

static void test_separators_accepted(void **state)
{
    (void)state;
    applicant_facts_t a = budi();
    a.nik = "16.12.01 120580-0001";
    verdict_t v = decide(pali(), a);
    assert_int_equal(v.n_reasons, 0);
    assert_string_equal(v.nik.digits, "1612011205800001");
}

static void test_birth_date_and_sex_mismatch(void **state)
{
    (void)state;
    applicant_facts_t a = budi();
    a.birth_date = (date_t){1980, 5, 13};
    verdict_t v = decide(pali(), a);
    assert_true(has(&v, "BIRTH_DATE_MISMATCH"));
    a = budi();
    a.sex = 'F';
    v = decide(pali(), a);
    assert_true(has(&v, "SEX_MISMATCH"));
    /* A woman: day + 40 in the NIK, declared F. */
    a.nik = "1612015205800001";
    v = decide(pali(), a);
    assert_int_equal(v.n_reasons, 0);
}

static void test_two_digit_year_decided_by_birth_date(void **state)
{
    (void)state;
    applicant_facts_t a = budi();
    a.nik = "1612010101050001"; /* 01-01-05: 1905 or 2005 */
    a.birth_date = (date_t){2005, 1, 1};
    verdict_t v = decide(pali(), a);
    assert_int_equal(v.n_reasons, 0);
    a.birth_date = (date_t){1905, 1, 1}; /* same NIK date, but 120 years old */
    v = decide(pali(), a);
    assert_false(has(&v, "BIRTH_DATE_MISMATCH"));
    assert_true(has(&v, "AGE_OVER_LIMIT"));
}

/* Age is judged on the person's own first covered month (2026-11 here, day
 * 1), not on the programme's coverage start 2025-07. */
static void test_age_limits_on_first_month(void **state)
{
    (void)state;
    applicant_facts_t a = budi();
    a.nik = "1612010211610001"; /* born 1961-11-02: 64 on 2026-11-01 */
    a.birth_date = (date_t){1961, 11, 2};
    verdict_t v = decide(pali(), a);
    assert_false(has(&v, "AGE_OVER_LIMIT"));
    a.nik = "1612010111610001"; /* born 1961-11-01: 65 on 2026-11-01 */
    a.birth_date = (date_t){1961, 11, 1};
    v = decide(pali(), a);
    assert_true(has(&v, "AGE_OVER_LIMIT"));
    assert_string_equal(reason(&v, "AGE_OVER_LIMIT")->message,
                        "aged 65 in its first covered month 2026-11; the limit is 64");
    /* 64 on the coverage start 2025-07-01 but 65 when the person applies:
     * over the limit (judged on the programme's start, they used to get in). */
    a.nik = "1612011501610001";
    a.birth_date = (date_t){1961, 1, 15};
    v = decide(pali(), a);
    assert_true(has(&v, "AGE_OVER_LIMIT"));
    /* The same person in a renewal whose first month is 2026-01: 64. */
    a.first_month = (date_t){2026, 1, 1};
    v = decide(pali(), a);
    assert_false(has(&v, "AGE_OVER_LIMIT"));
    program_rules_t p = pali();
    p.min_age = 18;
    a = budi();
    a.nik = "1612010212080001"; /* born 2008-12-02: 17 on 2026-11-01 */
    a.birth_date = (date_t){2008, 12, 2};
    v = decide(p, a);
    assert_true(has(&v, "AGE_UNDER_LIMIT"));
    assert_string_equal(reason(&v, "AGE_UNDER_LIMIT")->message,
                        "aged 17 in its first covered month 2026-11; the minimum is 18");
    a.first_month = (date_t){2026, 12, 1}; /* 17 still: the birthday is on the 2nd */
    v = decide(p, a);
    assert_true(has(&v, "AGE_UNDER_LIMIT"));
    a.first_month = (date_t){2027, 1, 1};
    v = decide(p, a);
    assert_false(has(&v, "AGE_UNDER_LIMIT"));
}

/* Cover begins when a person is accepted, or when the programme begins;
 * a renewal continues from the month after the old programme's last. */
static void test_first_month(void **state)
{
    (void)state;
    char d[11];
    program_rules_t p = pali(); /* coverage from 2025-07 */
    date_format(rules_first_month(&p, (date_t){2026, 11, 24}, NULL), d);
    assert_string_equal(d, "2026-11-01");
    date_format(rules_first_month(&p, (date_t){2025, 5, 31}, NULL), d);
    assert_string_equal(d, "2025-07-01"); /* accepted before the programme starts */
    date_t old_end = {2026, 12, 1};
    p.coverage_start = (date_t){2027, 1, 1};
    date_format(rules_first_month(&p, (date_t){2026, 12, 2}, &old_end), d);
    assert_string_equal(d, "2027-01-01");
    /* decided late: still no gap (the old programme covered until 2026-12) */
    date_format(rules_first_month(&p, (date_t){2027, 3, 5}, &old_end), d);
    assert_string_equal(d, "2027-01-01");
    /* a successor starting later than the month after: its own start */
    p.coverage_start = (date_t){2027, 4, 1};
    date_format(rules_first_month(&p, (date_t){2026, 12, 2}, &old_end), d);
    assert_string_equal(d, "2027-04-01");
}

static void test_occupation(void **state)
{
    (void)state;
    applicant_facts_t a = budi();
    a.occupation = 3; /* PELAJAR/MAHASISWA */
    verdict_t v = decide(pali(), a);
    assert_true(has(&v, "OCCUPATION_NOT_ELIGIBLE"));
    a.occupation = -1; /* not a Dukcapil occupation at all */
    v = decide(pali(), a);
    assert_true(has(&v, "OCCUPATION_NOT_ELIGIBLE"));
    program_rules_t any = pali();
    any.n_occupations = 0;
    a.occupation = 3;
    v = decide(any, a);
    assert_false(has(&v, "OCCUPATION_NOT_ELIGIBLE"));
}

static void test_poverty_ref(void **state)
{
    (void)state;
    program_rules_t p = pali();
    p.poverty_ref_required = true;
    applicant_facts_t a = budi();
    verdict_t v = decide(p, a);
    assert_true(has(&v, "POVERTY_REF_REQUIRED"));
    a.poverty_ref = "Musdes 12/2025";
    v = decide(p, a);
    assert_false(has(&v, "POVERTY_REF_REQUIRED"));
}

static void test_deadline(void **state)
{
    (void)state;
    program_rules_t p = pali();
    p.has_deadline = true;
    p.deadline = (date_t){2025, 5, 30};
    applicant_facts_t a = budi();
    a.received = (date_t){2025, 5, 30};
    verdict_t v = decide(p, a);
    assert_false(has(&v, "DEADLINE_PASSED"));
    a.received = (date_t){2025, 5, 31};
    v = decide(p, a);
    assert_true(has(&v, "DEADLINE_PASSED"));
    /* PALI's policy: late villages are still decided, with a warning. */
    p.deadline_warn_only = true;
    v = decide(p, a);
    assert_int_equal(v.n_reasons, 0);
    assert_int_equal(v.n_warnings, 1);
    assert_string_equal(v.warnings[0].code, "SUBMITTED_AFTER_DEADLINE");
    /* A renewal was submitted by no village: never late, either policy. */
    a.renewal = true;
    v = decide(p, a);
    assert_int_equal(v.n_reasons, 0);
    assert_int_equal(v.n_warnings, 0);
    p.deadline_warn_only = false;
    v = decide(p, a);
    assert_int_equal(v.n_reasons, 0);
}

/* The programme's last month is compared with the person's first month,
 * not with the day the list arrived. */
static void test_programme_over(void **state)
{
    (void)state;
    program_rules_t p = pali();
    p.has_coverage_end = true;
    p.coverage_end = (date_t){2026, 11, 1};
    applicant_facts_t a = budi();
    a.received = (date_t){2026, 11, 30};
    verdict_t v = decide(p, a);
    assert_false(has(&v, "DEADLINE_PASSED"));
    /* received on the 30th, decided on 1 December: nothing left to cover */
    a.first_month = (date_t){2026, 12, 1};
    v = decide(p, a);
    assert_true(has(&v, "DEADLINE_PASSED"));
    /* a renewal is held to its programme's last month too */
    a.renewal = true;
    v = decide(p, a);
    assert_true(has(&v, "DEADLINE_PASSED"));
}

static void test_add_only_for_desa(void **state)
{
    (void)state;
    applicant_facts_t a = budi();
    a.village_code = "16.12.01.1003"; /* a kelurahan */
    verdict_t v = decide(pali(), a);
    assert_true(has(&v, "NOT_A_DESA"));
    a.village_code = "51.04.01.3001"; /* a desa adat receives ADD */
    v = decide(pali(), a);
    assert_false(has(&v, "NOT_A_DESA"));
    program_rules_t apbd = pali();
    strcpy(apbd.funding_source, "APBD");
    a.village_code = "16.12.01.1003";
    v = decide(apbd, a);
    assert_false(has(&v, "NOT_A_DESA"));
}

/* A kelurahan has no APBDes (the village budget) either. */
static void test_apbdes_only_for_desa(void **state)
{
    (void)state;
    program_rules_t p = pali();
    strcpy(p.funding_source, "APBDES");
    applicant_facts_t a = budi();
    a.village_code = "16.12.01.1003"; /* a kelurahan */
    verdict_t v = decide(p, a);
    assert_true(has(&v, "NOT_A_DESA"));
    assert_non_null(strstr(reason(&v, "NOT_A_DESA")->message, "APBDes"));
    a.village_code = "16.12.01.2001";
    v = decide(p, a);
    assert_false(has(&v, "NOT_A_DESA"));
    strcpy(p.funding_source, "DBH_SAWIT");
    a.village_code = "16.12.01.1003";
    v = decide(p, a);
    assert_false(has(&v, "NOT_A_DESA"));
    strcpy(p.funding_source, "CSR");
    v = decide(p, a);
    assert_false(has(&v, "NOT_A_DESA"));
}

static void test_region_mismatch_is_a_warning(void **state)
{
    (void)state;
    applicant_facts_t a = budi();
    a.village_code = "16.04.01.2001"; /* NIK issued in 16.12, village in 16.04 */
    verdict_t v = decide(pali(), a);
    assert_int_equal(v.n_reasons, 0);
    assert_int_equal(v.n_warnings, 1);
    assert_string_equal(v.warnings[0].code, "NIK_REGION_MISMATCH");
}

static void test_every_problem_reported(void **state)
{
    (void)state;
    program_rules_t p = pali();
    p.poverty_ref_required = true;
    applicant_facts_t a = budi();
    a.sex = 'F';
    a.occupation = 3;
    a.village_code = "16.12.01.1003";
    verdict_t v = decide(p, a);
    assert_true(has(&v, "SEX_MISMATCH"));
    assert_true(has(&v, "OCCUPATION_NOT_ELIGIBLE"));
    assert_true(has(&v, "POVERTY_REF_REQUIRED"));
    assert_true(has(&v, "NOT_A_DESA"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eligible),
        cmocka_unit_test(test_nik_invalid_and_temporary),
        cmocka_unit_test(test_separators_accepted),
        cmocka_unit_test(test_birth_date_and_sex_mismatch),
        cmocka_unit_test(test_two_digit_year_decided_by_birth_date),
        cmocka_unit_test(test_age_limits_on_first_month),
        cmocka_unit_test(test_first_month),
        cmocka_unit_test(test_occupation),
        cmocka_unit_test(test_poverty_ref),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_programme_over),
        cmocka_unit_test(test_add_only_for_desa),
        cmocka_unit_test(test_apbdes_only_for_desa),
        cmocka_unit_test(test_region_mismatch_is_a_warning),
        cmocka_unit_test(test_every_problem_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
