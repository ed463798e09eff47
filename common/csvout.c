/* csvout: one field at a time; the caller writes the commas and line ends.
 * Formula neutralisation follows OWASP's CSV-injection guidance: a cell
 * starting with = + - @ tab or CR gets a leading apostrophe inside quotes.
 * XLSX exports need none of this: libxlsxwriter writes strings as string
 * cells, never formulas. */
#include "csvout.h"
#include <stdbool.h>
#include <string.h>

/* What a spreadsheet reads as the start of a formula. Tab, CR and LF are
 * here because importers strip them and then see the next character. */
static const char FORMULA_STARTS[] = "=+-@\t\r\n";

/* Characters that end a cell in some spreadsheet's reading of a CSV line:
 * RFC 4180's comma, quote and line breaks, plus the `;` of locales with a
 * decimal comma (Indonesian Excel and LibreOffice) and the tab. */
static const char CELL_BREAKS[] = ",\"\r\n;\t";

/* Whether a spreadsheet could take `text` for a formula. */
static bool is_formula(const char *text)
{
    /* Leading spaces are skipped: some importers trim them. */
    const char *p = text + strspn(text, " ");
    return *p != '\0' && strchr(FORMULA_STARTS, *p) != NULL;
}

void csvout_field(FILE *out, const char *text)
{
    bool formula = is_formula(text);
    if (!formula && !strpbrk(text, CELL_BREAKS)) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    if (formula)
        fputc('\'', out);
    for (const char *c = text; *c; c++) {
        if (*c == '"')
            fputc('"', out);
        fputc(*c, out);
    }
    fputc('"', out);
}
