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
                               .received = {2026, 11, 24}};
}

static bool has(const verdict_t *v, const char *code)
{
    for (int i = 0; i < v->n_reasons; i++)
        if (strcmp(v->reasons[i].code, code) == 0)
            return true;
    return false;
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

static void test_age_limits_at_coverage_start(void **state)
{
    (void)state;
    applicant_facts_t a = budi();
    a.nik = "1612010207600001"; /* born 1960-07-02: 64 on 2025-07-01 */
    a.birth_date = (date_t){1960, 7, 2};
    verdict_t v = decide(pali(), a);
    assert_false(has(&v, "AGE_OVER_LIMIT"));
    a.nik = "1612010107600001"; /* born 1960-07-01: 65 on 2025-07-01 */
    a.birth_date = (date_t){1960, 7, 1};
    v = decide(pali(), a);
    assert_true(has(&v, "AGE_OVER_LIMIT"));
    program_rules_t p = pali();
    p.min_age = 18;
    a.nik = "1612010101100001";
    a.birth_date = (date_t){2010, 1, 1};
    v = decide(p, a);
    assert_true(has(&v, "AGE_UNDER_LIMIT"));
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
}

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
    a.received = (date_t){2026, 12, 1};
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
        cmocka_unit_test(test_age_limits_at_coverage_start),
        cmocka_unit_test(test_occupation),
        cmocka_unit_test(test_poverty_ref),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_programme_over),
        cmocka_unit_test(test_add_only_for_desa),
        cmocka_unit_test(test_region_mismatch_is_a_warning),
        cmocka_unit_test(test_every_problem_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
