/* test_csvout: one CSV field as finance staff's spreadsheets will read it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include "csvout.h"

static void field(const char *in, const char *want)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    csvout_field(out, in);
    fclose(out);
    assert_string_equal(buf, want);
    free(buf);
}

static void test_plain_fields_unchanged(void **state)
{
    (void)state;
    field("Budi Santoso", "Budi Santoso");
    field("16800", "16800");
    field("", "");
}

static void test_quoting(void **state)
{
    (void)state;
    field("Santoso, Budi", "\"Santoso, Budi\"");
    field("Budi \"Ucok\"", "\"Budi \"\"Ucok\"\"\"");
    field("line\nbreak", "\"line\nbreak\"");
    field("cr\rhere", "\"cr\rhere\"");
}

static void test_formulas_are_not_run(void **state)
{
    (void)state;
    field("=SUM(A1:A9)", "\"'=SUM(A1:A9)\"");
    field("+62812", "\"'+62812\"");
    field("-1", "\"'-1\"");
    field("@cmd", "\"'@cmd\"");
    field("a=b", "a=b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_fields_unchanged),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_formulas_are_not_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
