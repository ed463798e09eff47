/* args: linear scans; argument lists are a handful of words. */
#include "args.h"
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
