/* utf8: whether bytes are text PostgreSQL will take: well-formed UTF-8 with
 * no NUL. Shared by intake's field checks and httpd's check of a request's
 * path and query (PostgreSQL refuses other bytes with an error, which must
 * be the client's 400, never the server's 500). Not a decoder. */
#ifndef LINDUNG_UTF8_H
#define LINDUNG_UTF8_H
#include <stdbool.h>
#include <stddef.h>

/* True for well-formed UTF-8 without NUL, overlong forms, surrogates or code
 * points past U+10FFFF. */
bool utf8_valid(const char *s, size_t len);

#endif
