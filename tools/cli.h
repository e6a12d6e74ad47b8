/*
 * cli: what every quire CLI shares (DESIGN.md §8, STYLE.md §3): the
 * --zookeeper default, --version text, exit codes, number parsing and the
 * one-line error formats. No ZooKeeper or sockets in here; a tool that
 * needs ZooKeeper waits on its loop through coordinator/zk_sync.h.
 */
#ifndef QR_CLI_H
#define QR_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes (STYLE.md §3). */
#define QR_CLI_EXIT_OK    0
#define QR_CLI_EXIT_ERROR 1 /* runtime failure */
#define QR_CLI_EXIT_USAGE 2 /* bad arguments or configuration */

/** Default --zookeeper when $QUIRE_ZOOKEEPER is unset or empty. */
#define QR_CLI_ZOOKEEPER_DEFAULT "localhost:2181"

/**
 * @brief The --zookeeper default: $QUIRE_ZOOKEEPER, else "localhost:2181".
 * @returns borrowed (the environment or a static string).
 * @locality main thread  @locks none
 */
const char *qr_cli_zookeeper_default(void);

/**
 * @brief Prints "<prog> (quire) <version>" on stdout (--version).
 * @locality main thread  @locks none
 */
void qr_cli_print_version(const char *prog);

/**
 * @brief Parses a whole decimal integer in [@p min, @p max].
 * @returns 0, or -1 (empty, trailing junk, out of range).
 * @locality any  @locks none
 */
int qr_cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/**
 * @brief Prints "<prog>: <message>" and "Try '<prog> --help'." on stderr.
 * The caller then exits QR_CLI_EXIT_USAGE.
 * @locality main thread  @locks none
 */
void qr_cli_usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * @brief Prints "<prog>: error: <message>" on stderr. The caller then
 * exits QR_CLI_EXIT_ERROR.
 * @locality main thread  @locks none
 */
void qr_cli_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * @brief After getopt_long() returned @p c, '?' or ':' (a missing
 *        argument: the short options began with ':'), with opterr = 0:
 *        says in getopt's words which option was wrong, on one line that
 *        ends with the way to --help.
 * @param longopts the table getopt_long() was given (borrowed).
 * @returns -1 (a usage error).
 * @locality main thread  @locks none
 */
int qr_cli_bad_option(const char *prog, const struct option *longopts, int c,
                      char *const *argv);

/**
 * @brief Sets up quire's logging for a tool: warnings and errors only, or
 * everything (with the `zk` debug context) when @p verbose.
 * @locality main thread, at start-up  @locks none
 */
void qr_cli_log_setup(int verbose);

/* How often a repeated line is summarised (issue 15 item 4). */
#define QR_CLI_LOG_REPEAT_MS 5000

/**
 * @brief The tools' log destination (a libquire log_cb's shape without
 * the last argument): stderr, minus the ZooKeeper client's lines unless
 * --verbose. For tools that hand it to libquire (clientcli.c).
 * @locality any  @locks none
 */
void qr_cli_log_line(void *opaque, int level, const char *fac, const char *msg);

/** @brief Whether qr_cli_log_setup() was given verbose. @locality any */
int qr_cli_log_verbose(void);

/**
 * @brief Prints the error for a ZooKeeper path without /brokers/ids
 * children, suggesting the chroot (issue 18 item 11).
 * @locality any  @locks none
 */
void qr_cli_no_brokers(const char *prog, const char *zookeeper);

/** @brief The same message into @p buf. @locality any  @locks none */
void qr_cli_no_brokers_msg(char *buf, size_t size, const char *zookeeper);

/* ---- option parsing shared by the tools ---- */

/* The end of every tool's long-option table: --verbose, --help,
 * --version (getopt_long gives 'v', 'h', 'V'). */
/* clang-format off */
#define QR_CLI_LONG_OPTS_END                                                   \
    {"verbose", no_argument, NULL, 'v'},                                       \
    {"help", no_argument, NULL, 'h'},                                          \
    {"version", no_argument, NULL, 'V'},                                       \
    {NULL, 0, NULL, 0}

/* The same after --zookeeper ('z'), for the tools that take one. */
#define QR_CLI_ZK_LONG_OPTS_END                                                \
    {"zookeeper", required_argument, NULL, 'z'},                               \
    QR_CLI_LONG_OPTS_END

/* The same after --bootstrap-server ('b') and --zookeeper, for the tools
 * that find brokers. */
#define QR_CLI_BROKER_LONG_OPTS_END                                            \
    {"bootstrap-server", required_argument, NULL, 'b'},                        \
    QR_CLI_ZK_LONG_OPTS_END
/* clang-format on */

/**
 * @brief One option of a tool's own, as getopt_long() returned it.
 * @param opts the tool's options (borrowed). @param arg its argument or NULL.
 * @returns 0 go on, 1 done (nothing more to do), -1 usage error (said).
 */
typedef int(qr_cli_opt_fn)(void *opts, int c, const char *arg);

/** A tool, as qr_cli_next() and qr_cli_parse() see it. */
typedef struct qr_cli_tool {
    const char *prog;
    const char *usage;             /* --help's text */
    const char *shortopts;         /* getopt's, "" for none */
    const struct option *longopts; /* ending in QR_CLI_LONG_OPTS_END */
    qr_cli_opt_fn *one;            /* qr_cli_parse(): the tool's options */
} qr_cli_tool_t;

/** What the options of most tools hold (NULL or 0 when not given). */
typedef struct qr_cli_common {
    const char *zookeeper; /* --zookeeper */
    const char *bootstrap; /* --bootstrap-server */
    int verbose;           /* --verbose */
} qr_cli_common_t;

/* What qr_cli_next() returns besides an option of the tool's own. */
#define QR_CLI_OPTS_END                                                \
    0                       /* no more options: optind is at the first \
                               argument */
#define QR_CLI_OPTS_DONE 1  /* --help or --version answered */
#define QR_CLI_OPTS_BAD  -1 /* a usage error, said in one line */

/**
 * @brief The next option of @p argv (getopt_long() with opterr = 0):
 *        --zookeeper, --bootstrap-server and --verbose are stored in
 *        @p common, --help prints the usage, --version the version, and an
 *        unknown option or a missing argument is said in one line
 *        (qr_cli_bad_option()). A tool's own options therefore use other
 *        values than 'z', 'b', 'v', 'h' and 'V'.
 * @returns the tool's next option (optarg holds its argument), or
 *          QR_CLI_OPTS_END, QR_CLI_OPTS_DONE, QR_CLI_OPTS_BAD.
 * @locality main thread  @locks none
 */
int qr_cli_next(const qr_cli_tool_t *tool, int argc, char **argv,
                qr_cli_common_t *common);

/**
 * @brief All of a ZooKeeper tool's options: qr_cli_next() and
 *        @p tool->one for the tool's own; --zookeeper defaults to
 *        qr_cli_zookeeper_default(); an argument after the options is a
 *        usage error.
 * @returns 0 go on, 1 done (--help, --version), -1 usage error (said).
 * @locality main thread  @locks none
 */
int qr_cli_parse(const qr_cli_tool_t *tool, int argc, char **argv, void *opts,
                 qr_cli_common_t *common);

/**
 * @brief The one action a tool is given: stores @p a in @p *action unless
 *        another one (not @p none) is there already, which is a usage
 *        error naming @p choices ("--create, --alter").
 * @returns 0, or -1 (said).
 * @locality main thread  @locks none
 */
int qr_cli_set_action(const char *prog, int *action, int none, int a,
                      const char *choices);

#endif /* QR_CLI_H */
