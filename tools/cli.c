/*
 * cli: shared CLI helpers. See cli.h.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "logging.h"
#include "logsink.h"

const char *qr_cli_zookeeper_default(void)
{
    const char *env = getenv("QUIRE_ZOOKEEPER");

    return env && *env ? env : QR_CLI_ZOOKEEPER_DEFAULT;
}

void qr_cli_no_brokers_msg(char *buf, size_t size, const char *zookeeper)
{
    snprintf(buf, size,
             "no brokers registered under %s%s: is the chroot missing? "
             "(--zookeeper host:port/chroot, or export QUIRE_ZOOKEEPER)",
             zookeeper, strchr(zookeeper, '/') ? "" : "/");
}

void qr_cli_no_brokers(const char *prog, const char *zookeeper)
{
    char msg[512];

    qr_cli_no_brokers_msg(msg, sizeof(msg), zookeeper);
    qr_cli_error(prog, "%s", msg);
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

int qr_cli_bad_option(const char *prog, char *const *argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";

    /* getopt's own message is turned off (opterr = 0): one line, with the
     * way to help in it (issue 18) */
    if (optopt && strncmp(arg, "--", 2) && (arg[0] != '-' || arg[1] != optopt))
        fprintf(stderr, "%s: invalid option '-%c'; try '%s --help'\n", prog,
                optopt, prog);
    else if (optopt)
        fprintf(stderr, "%s: option '%s' needs an argument; try '%s --help'\n",
                prog, arg, prog);
    else
        fprintf(stderr, "%s: unrecognized option '%s'; try '%s --help'\n", prog,
                arg, prog);
    return -1;
}

int qr_cli_next(const qr_cli_tool_t *tool, int argc, char **argv,
                qr_cli_common_t *common)
{
    opterr = 0; /* qr_cli_bad_option() says it in one line (issue 18) */
    for (;;) {
        int c = getopt_long(argc, argv, tool->shortopts, tool->longopts, NULL);

        switch (c) {
        case -1:
            return QR_CLI_OPTS_END;
        case 'z':
            common->zookeeper = optarg;
            break;
        case 'b':
            common->bootstrap = optarg;
            break;
        case 'v':
            common->verbose = 1;
            break;
        case 'h':
            fputs(tool->usage, stdout);
            return QR_CLI_OPTS_DONE;
        case 'V':
            qr_cli_print_version(tool->prog);
            return QR_CLI_OPTS_DONE;
        case '?':
            return qr_cli_bad_option(tool->prog, argv);
        default:
            return c;
        }
    }
}

int qr_cli_parse(const qr_cli_tool_t *tool, int argc, char **argv, void *opts,
                 qr_cli_common_t *common)
{
    int c, r;

    common->zookeeper = qr_cli_zookeeper_default();
    while ((c = qr_cli_next(tool, argc, argv, common)) > QR_CLI_OPTS_DONE)
        if ((r = tool->one(opts, c, optarg)) != 0)
            return r;
    if (c == QR_CLI_OPTS_END && optind < argc) {
        qr_cli_usage_error(tool->prog, "unexpected argument \"%s\"",
                           argv[optind]);
        return -1;
    }
    return c;
}

int qr_cli_set_action(const char *prog, int *action, int none, int a,
                      const char *choices)
{
    if (*action != none && *action != a) {
        qr_cli_usage_error(prog, "give exactly one of %s", choices);
        return -1;
    }
    *action = a;
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

/* issue 18: a tool's lines go through one sink on its main thread:
 * repeats summarised, and the ZooKeeper client's own lines ("ZKC") only
 * with --verbose (the tool's one-line error says what went wrong). */
static qr_logsink_t cli_logs;
static int cli_verbose;

void qr_cli_log_line(void *opaque, int level, const char *fac, const char *msg)
{
    (void)opaque;
    if (!cli_verbose && !strcmp(fac, "ZKC"))
        return;
    qr_log_stderr(level, fac, msg);
}

int qr_cli_log_verbose(void)
{
    return cli_verbose;
}

void qr_cli_log_setup(int verbose)
{
    static int set_up;

    /* a tool may set up early and again through qr_zkcli_open() */
    if (set_up && cli_verbose == verbose)
        return;
    set_up = 1;
    cli_verbose = verbose;
    if (verbose)
        qr_log_setup(QR_LOG_LVL_DEBUG, QR_DBG_ZK, -1);
    else
        qr_log_setup(QR_LOG_LVL_WARNING, 0, -1);
    qr_logsink_init(&cli_logs, qr_log_level, qr_log_debug, qr_cli_log_line,
                    NULL, QR_CLI_LOG_REPEAT_MS);
    qr_logsink_enter(&cli_logs);
}
