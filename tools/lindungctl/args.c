/* args: linear scans; argument lists are a handful of words. */
#include "args.h"
#include <stdio.h>
#include <string.h>

const char *args_value(int argc, char **argv, const char *flag)
{
    for (int i = 0; i < argc - 1; i++)
        if (strcmp(argv[i], flag) == 0)
            return argv[i + 1];
    return NULL;
}

bool args_flag(int argc, char **argv, const char *flag)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return true;
    return false;
}

const char *args_positional(int argc, char **argv, int n, const char *const *valued)
{
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0) {
            for (const char *const *v = valued; *v; v++)
                if (strcmp(argv[i], *v) == 0)
                    i++;
            continue;
        }
        if (n-- == 0)
            return argv[i];
    }
    return NULL;
}

static bool listed(const char *arg, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(arg, *list) == 0)
            return true;
    return false;
}

bool args_known(int argc, char **argv, const char *const *flags,
                const char *const *valued, const char *command)
{
    for (int i = 0; i < argc; i++) {
        if (listed(argv[i], valued) && i + 1 < argc) {
            i++;
        } else if (!listed(argv[i], flags) && !listed(argv[i], valued)) {
            fprintf(stderr, "lindungctl %s: unknown argument %s\n", command, argv[i]);
            return false;
        }
    }
    return true;
}

bool args_help(int argc, char **argv)
{
    return args_flag(argc, argv, "--help") || args_flag(argc, argv, "-h");
}

int args_usage(const char *usage)
{
    fputs(usage, stderr);
    return ARGS_USAGE;
}

bool args_nik_digits(const char *text, char out[NIK_LEN + 1])
{
    size_t n = 0;
    for (const char *c = text; *c; c++) {
        if (*c == ' ' || *c == '.' || *c == '-')
            continue;
        if (*c < '0' || *c > '9' || n == NIK_LEN)
            return false;
        out[n++] = *c;
    }
    out[n] = '\0';
    return n == NIK_LEN;
}
