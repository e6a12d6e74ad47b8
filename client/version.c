/*
 * version: what quire_version() reports, from configure's PACKAGE_VERSION.
 */
#include "config.h"

#include "quire.h"

_Static_assert(sizeof(PACKAGE_VERSION) == sizeof(QUIRE_VERSION_STR),
               "QUIRE_VERSION_STR out of step with configure.ac");

const char *quire_version(void)
{
    return PACKAGE_VERSION;
}
