/*
 * quire-console-producer: one record per line of standard input
 * (man/quire-console-producer.1), Kafka's kafka-console-producer over
 * libquire. Exits 0 when every line was delivered, 1 when any failed.
 */
#include "config.h"

#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clientcli.h"
#include "quire.h"

#define PROG "quire-console-producer"

static const char usage_text[] =
    "Usage: quire-console-producer --topic TOPIC [OPTION...]\n"
    "Send each line of standard input to TOPIC as one record.\n"
    "\n"
    "  --topic TOPIC              the topic to write to (required)\n"
    "  --bootstrap-server LIST    host:port[,host:port...] of brokers\n"
    "  --zookeeper CONNECT        find the brokers in ZooKeeper (default:\n"
    "                             $QUIRE_ZOOKEEPER, else localhost:2181)\n"
    "  --acks ACKS                0, 1 or all (default 1)\n"
    "  --compression CODEC        none, gzip, lz4 or zstd (default none)\n"
    "  --property KEY=VALUE       parse.key=true: split each line into key\n"
    "                             and value at key.separator (default TAB)\n"
    "  --producer-property KEY=VALUE  any libquire producer setting,\n"
    "                             e.g. linger.ms=5 (see quire(3))\n"
    "  --timeout-ms MS            how long to wait for the last deliveries\n"
    "                             at end of input (default: linger.ms +\n"
    "                             delivery.timeout.ms, so every record\n"
    "                             gets its own outcome)\n"
    "  -v, --verbose              log debugging information\n"
    "  -h, --help                 show this help and exit\n"
    "  -V, --version              show the version and exit\n";

typedef struct opts {
    const char *topic;
    int parse_key;
    char *key_sep;
    int timeout_ms;
    qr_cli_common_t cli; /* --bootstrap-server, --zookeeper, --verbose */
} opts_t;

static atomic_long failed, delivered;

/* Failures per partition, each partition's first reason printed once
 * (delivery reports come from the producer's one background thread). */
#define FAIL_PARTS 1024
static long part_failed[FAIL_PARTS];

static void on_delivery(const quire_delivery_t *dr, void *opaque)
{
    (void)opaque;
    if (dr->err != QUIRE_ERR_NONE) {
        int32_t p = dr->partition;
        int first = p >= 0 && p < FAIL_PARTS ? part_failed[p]++ == 0
                                             : atomic_load(&failed) == 0;

        atomic_fetch_add(&failed, 1);
        if (first)
            fprintf(stderr, "%s: error: delivery to %s-%d failed: %s\n", PROG,
                    dr->topic, (int)p,
                    dr->errstr ? dr->errstr : quire_err2str(dr->err));
    } else
        atomic_fetch_add(&delivered, 1);
}

/* Handles --property: parse.key and key.separator. */
static int console_property(opts_t *o, const char *kv)
{
    if (!strcmp(kv, "parse.key=true"))
        o->parse_key = 1;
    else if (!strcmp(kv, "parse.key=false"))
        o->parse_key = 0;
    else if (!strncmp(kv, "key.separator=", 14) && kv[14]) {
        free(o->key_sep);
        o->key_sep = strdup(kv + 14);
    } else {
        qr_cli_usage_error(PROG,
                           "--property: unknown or bad '%s' (known: "
                           "parse.key=true|false, key.separator=SEP)",
                           kv);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, opts_t *o, quire_conf_t *conf)
{
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, 't'},
        {"acks", required_argument, NULL, 'a'},
        {"compression", required_argument, NULL, 'c'},
        {"property", required_argument, NULL, 'p'},
        {"producer-property", required_argument, NULL, 'P'},
        {"timeout-ms", required_argument, NULL, 'T'},
        QR_CLI_BROKER_LONG_OPTS_END,
    };
    int64_t v;
    int c;

    static const qr_cli_tool_t tool = {PROG, usage_text, "vhV", longopts, NULL};

    while ((c = qr_cli_next(&tool, argc, argv, &o->cli)) > QR_CLI_OPTS_DONE) {
        switch (c) {
        case 't':
            o->topic = optarg;
            break;
        case 'a':
        case 'c':
            if (qr_ccli_conf_set(conf, PROG,
                                 c == 'a' ? "acks" : "compression.type",
                                 optarg) != 0)
                return QR_CLI_EXIT_USAGE;
            break;
        case 'p':
            if (console_property(o, optarg) != 0)
                return QR_CLI_EXIT_USAGE;
            break;
        case 'P':
            if (qr_ccli_conf_kv(conf, PROG, optarg) != 0)
                return QR_CLI_EXIT_USAGE;
            break;
        case 'T':
            if (qr_cli_parse_int(optarg, 0, 2147483647, &v) != 0) {
                qr_cli_usage_error(PROG, "--timeout-ms: bad value '%s'",
                                   optarg);
                return QR_CLI_EXIT_USAGE;
            }
            o->timeout_ms = (int)v;
            break;
        }
    }
    if (c != QR_CLI_OPTS_END) /* -1 here: nothing more to do */
        return c == QR_CLI_OPTS_DONE ? -1 : QR_CLI_EXIT_USAGE;
    if (optind < argc) {
        qr_cli_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
        return QR_CLI_EXIT_USAGE;
    }
    if (!o->topic) {
        qr_cli_usage_error(PROG, "--topic is required");
        return QR_CLI_EXIT_USAGE;
    }
    return 0;
}

/* Sends one line (without its newline). @returns 0, or -1 on error. */
static int send_line(quire_producer_t *p, const opts_t *o, char *line,
                     size_t len)
{
    const char *key = NULL, *value = line;
    size_t key_len = 0, value_len = len;
    quire_err_t err;

    if (o->parse_key) {
        char *sep = strstr(line, o->key_sep);

        if (!sep) {
            fprintf(stderr, "%s: error: no key separator in line: '%s'\n", PROG,
                    line);
            return -1;
        }
        key = line;
        key_len = (size_t)(sep - line);
        value = sep + strlen(o->key_sep);
        value_len = len - key_len - strlen(o->key_sep);
    }
    err = quire_producer_send(p, o->topic, QUIRE_PARTITION_ANY, key, key_len,
                              value, value_len, NULL, 0, 0, NULL);
    if (err != QUIRE_ERR_NONE) {
        fprintf(stderr, "%s: error: cannot send to %s: %s\n", PROG, o->topic,
                quire_err2str(err));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o = {.timeout_ms = -1};
    char errstr[256], *line = NULL;
    quire_err_t err;
    quire_conf_t *conf = quire_conf_new();
    quire_producer_t *p;
    size_t cap = 0;
    ssize_t n;
    int rc, exit_code = QR_CLI_EXIT_OK;
    long sent = 0;

    if (!conf) {
        qr_cli_error(PROG, "out of memory");
        return QR_CLI_EXIT_ERROR;
    }
    o.key_sep = strdup("\t");
    quire_conf_set(conf, "client.id", PROG, NULL, 0);
    rc = parse_args(argc, argv, &o, conf);
    if (rc != 0) {
        quire_conf_destroy(conf);
        free(o.key_sep);
        return rc < 0 ? QR_CLI_EXIT_OK : rc;
    }
    qr_cli_log_setup(o.cli.verbose);
    if (qr_ccli_set_brokers(conf, PROG, o.cli.bootstrap, o.cli.zookeeper,
                            &exit_code) != 0) {
        quire_conf_destroy(conf);
        free(o.key_sep);
        return exit_code;
    }
    quire_conf_set_delivery_cb(conf, on_delivery, NULL);
    if (o.timeout_ms < 0) {
        /* as Kafka's console producer, which closes without a limit:
         * every record ends delivered or failed with its own reason
         * (delivery.timeout.ms), never cut short by the close */
        char dt[32], lg[32];
        size_t dl = sizeof(dt), ll = sizeof(lg);

        o.timeout_ms = 125000;
        if (quire_conf_get(conf, "delivery.timeout.ms", dt, &dl) ==
                QUIRE_ERR_NONE &&
            quire_conf_get(conf, "linger.ms", lg, &ll) == QUIRE_ERR_NONE) {
            long long t = atoll(dt) + atoll(lg) + 5000;

            o.timeout_ms = t > 2147483647 ? 2147483647 : (int)t;
        }
    }
    errstr[0] = '\0';
    err = quire_producer_new(conf, &p, errstr, sizeof(errstr));
    if (err != QUIRE_ERR_NONE) {
        quire_conf_destroy(conf);
        free(o.key_sep);
        return qr_ccli_new_failed(PROG, err, errstr);
    }
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        if (send_line(p, &o, line, (size_t)n) != 0) {
            exit_code = QR_CLI_EXIT_ERROR;
            break;
        }
        sent++;
    }
    free(line);
    if (quire_producer_close(p, o.timeout_ms) != QUIRE_ERR_NONE)
        qr_cli_error(PROG, "not every record was delivered within %d ms",
                     o.timeout_ms);
    if (atomic_load(&failed) > 0) {
        for (int32_t i = 0; i < FAIL_PARTS; i++)
            if (part_failed[i])
                qr_cli_error(PROG, "%ld record(s) for %s-%d not delivered",
                             part_failed[i], o.topic, (int)i);
        qr_cli_error(PROG, "%ld of %ld record(s) not delivered",
                     atomic_load(&failed), sent);
        exit_code = QR_CLI_EXIT_ERROR;
    }
    free(o.key_sep);
    return exit_code;
}
