/*
 * client_man_keys: prints the CONFIGURATION key list of man/quire.3 from
 * libquire's conf table (qr_cconf_print_man), for tests/unit/client_man.sh
 * to compare with the page.
 */
#include "config.h"

#include <stdio.h>

#include "clconf.h"

int main(void)
{
    qr_cconf_print_man(stdout);
    return ferror(stdout) ? 1 : 0;
}
