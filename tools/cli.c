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

/* The long option that @p arg ("--name[=value]") names, by its whole name
 * or an unambiguous prefix, as getopt_long() finds it; NULL when none.
 * @p matches receives how many options the name is a prefix of. */
static const struct option *find_long(const struct option *longopts,
                                      const char *arg, int *matches)
{
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    const struct option *found = NULL;

    *matches = 0;
    for (const struct option *o = longopts; o->name; o++) {
        if (strncmp(o->name, name, len))
            continue;
        if (strlen(o->name) == len) {
            *matches = 1;
            return o;
        }
        found = o;
        ++*matches;
    }
    return *matches == 1 ? found : NULL;
}

int qr_cli_bad_option(const char *prog, const struct option *longopts, int c,
                      char *const *argv)
{
    /* getopt_long() has stepped past a long option whatever went wrong,
     * but not past a short one in the middle of a cluster ("-xh"): short
     * options are named by optopt alone */
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    int is_long = !strncmp(arg, "--", 2) && arg[2], matches = 0;
    const struct option *o =
        is_long ? find_long(longopts, arg, &matches) : NULL;

    /* getopt's own wording, on one line with the way to help (opterr = 0,
     * issue 18) */
    if (c == ':' && is_long && o)
        fprintf(stderr, "%s: option '--%s' requires an argument", prog,
                o->name);
    else if (c == ':')
        fprintf(stderr, "%s: option requires an argument -- '%c'", prog,
                optopt);
    else if (optopt && is_long && o && o->val == optopt &&
             o->has_arg == no_argument && strchr(arg, '='))
        fprintf(stderr, "%s: option '--%s' doesn't allow an argument", prog,
                o->name);
    else if (optopt)
        fprintf(stderr, "%s: invalid option -- '%c'", prog, optopt);
    else if (matches > 1)
        fprintf(stderr, "%s: option '%.*s' is ambiguous", prog,
                (int)strcspn(arg, "="), arg);
    else
        fprintf(stderr, "%s: unrecognized option '%s'", prog, arg);
    fprintf(stderr, "; try '%s --help'\n", prog);
    return -1;
}

/* Room for a tool's short options after the ':' qr_cli_next() puts first. */
#define CLI_SHORTOPTS_MAX 64

int qr_cli_next(const qr_cli_tool_t *tool, int argc, char **argv,
                qr_cli_common_t *common)
{
    char shortopts[CLI_SHORTOPTS_MAX];

    /* A leading ':' makes getopt_long() return ':' for a missing argument
     * and '?' only for an option it does not know (or a long one given an
     * argument it does not take), so the two are told apart by getopt,
     * not guessed from argv: a tool without -h was told "-h" needed an
     * argument. None of the tools' short options starts with '+' or '-',
     * which would have to stay first. */
    QR_ASSERT(strlen(tool->shortopts) < sizeof(shortopts) - 1 &&
              tool->shortopts[0] != '+' && tool->shortopts[0] != '-');
    shortopts[0] = ':';
    strcpy(shortopts + 1, tool->shortopts);
    opterr = 0; /* qr_cli_bad_option() says it in one line (issue 18) */
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, tool->longopts, NULL);

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
        case ':':
        case '?':
            return qr_cli_bad_option(tool->prog, tool->longopts, c, argv);
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
