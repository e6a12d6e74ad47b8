/*
 * cli: shared CLI helpers. See cli.h.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "logging.h"

const char *qr_cli_zookeeper_default(void)
{
    const char *env = getenv("QUIRE_ZOOKEEPER");

    return env && *env ? env : QR_CLI_ZOOKEEPER_DEFAULT;
}

void qr_cli_print_version(const char *prog)
{
    printf("%s (quire) %s\n", prog, PACKAGE_VERSION);
}

int qr_cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

void qr_cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
}

void qr_cli_error(const char *prog, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: error: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void qr_cli_log_setup(int verbose)
{
    if (verbose)
        qr_log_setup(QR_LOG_LVL_DEBUG, QR_DBG_ZK, -1);
    else
        qr_log_setup(QR_LOG_LVL_WARNING, 0, -1);
}
