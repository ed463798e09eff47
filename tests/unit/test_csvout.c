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

/* Issue 15: OWASP's list also has tab and carriage return; line feed and
 * leading spaces are stripped by some importers before they look. */
static void test_formulas_behind_whitespace(void **state)
{
    (void)state;
    field("\t=1+1", "\"'\t=1+1\"");
    field("\r=1+1", "\"'\r=1+1\"");
    field("\n=1+1", "\"'\n=1+1\"");
    field("\tBudi", "\"'\tBudi\"");
    field("  =HYPERLINK(\"http://x\")", "\"'  =HYPERLINK(\"\"http://x\"\")\"");
    field(" @SUM(A1)", "\"' @SUM(A1)\"");
    field("   ", "   ");
    field("Budi = Ucok", "Budi = Ucok");
}

/* Issue 15: spreadsheets in an Indonesian locale split a CSV line on `;`
 * (and some importers on tabs), so a field holding one is quoted: what
 * follows the separator then stays inside this cell and cannot start a
 * formula, whether after `;` or `,`. */
static void test_separators_of_other_locales_quoted(void **state)
{
    (void)state;
    field("Budi;=cmd|' /C calc'!A0", "\"Budi;=cmd|' /C calc'!A0\"");
    field("a;b", "\"a;b\"");
    field("Budi,=1+1", "\"Budi,=1+1\"");
    field("Budi; @SUM(A1)", "\"Budi; @SUM(A1)\"");
    field("Budi\t=1+1", "\"Budi\t=1+1\"");
    field("Jl. Merdeka No. 5", "Jl. Merdeka No. 5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_fields_unchanged),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_formulas_are_not_run),
        cmocka_unit_test(test_formulas_behind_whitespace),
        cmocka_unit_test(test_separators_of_other_locales_quoted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
