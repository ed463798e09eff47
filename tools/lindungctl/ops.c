/* ops: operator read commands. Not yet written: see issue 6. */
#include "ops.h"
#include <stdio.h>

int ops_main(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "lindungctl %s: not implemented yet\n", argv[0]);
    return 2;
}
