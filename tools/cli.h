/*
 * cli: what every quire CLI shares (DESIGN.md §8, STYLE.md §3): the
 * --zookeeper default, --version text, exit codes, number parsing and the
 * one-line error formats. No ZooKeeper or sockets in here; a tool that
 * needs ZooKeeper waits on its loop through coordinator/zk_sync.h.
 */
#ifndef QR_CLI_H
#define QR_CLI_H

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
 * @brief After getopt_long() returned '?' with opterr = 0: says in one
 * line which option was wrong and that --help helps.
 * @returns -1 (a usage error).
 * @locality main thread  @locks none
 */
int qr_cli_bad_option(const char *prog, char *const *argv);

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

#endif /* QR_CLI_H */
