/* csvout: one field at a time; the caller writes the commas and line ends. */
#include "csvout.h"
#include <stdbool.h>
#include <string.h>

void csvout_field(FILE *out, const char *text)
{
    bool formula = text[0] && strchr("=+-@", text[0]);
    if (!formula && !strpbrk(text, ",\"\r\n")) {
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
