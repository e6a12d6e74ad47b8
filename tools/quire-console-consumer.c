/*
 * quire-console-consumer: prints records of a topic on standard output
 * (man/quire-console-consumer.1), Kafka's kafka-console-consumer over
 * libquire's simple consumer, with its DefaultMessageFormatter properties;
 * with --group, as a member of a consumer group (--topic or --whitelist),
 * as Kafka's old ZooKeeper-based console consumer.
 *
 * In a group the tool commits itself (enable.auto.commit is false unless
 * set with --consumer-property): standard output is flushed before every
 * commit, so a committed record has been written out and a member killed
 * between commits leaves only duplicates, never a gap. Commits happen
 * every auto.commit.interval.ms, when partitions are revoked, and at exit.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clientcli.h"
#include "clock.h"
#include "quire.h"

#define PROG "quire-console-consumer"

static const char usage_text[] =
    "Usage: quire-console-consumer --topic TOPIC [OPTION...]\n"
    "       quire-console-consumer --group GROUP (--topic TOPIC |\n"
    "                              --whitelist REGEX) [OPTION...]\n"
    "Print the records of TOPIC on standard output, one per line.\n"
    "\n"
    "  --topic TOPIC              the topic to read\n"
    "  --group GROUP              consume as a member of consumer group\n"
    "                             GROUP (through ZooKeeper), sharing the\n"
    "                             partitions with its other members and\n"
    "                             committing its offsets\n"
    "  --whitelist REGEX          in a group: every topic whose name\n"
    "                             matches REGEX, also topics created "
    "later;\n"
    "                             without --group, in a new group\n"
    "                             console-consumer-NNNNN\n"
    "  --bootstrap-server LIST    host:port[,host:port...] of brokers\n"
    "  --zookeeper CONNECT        find the brokers in ZooKeeper (default:\n"
    "                             $QUIRE_ZOOKEEPER, else localhost:2181)\n"
    "  --from-beginning           start at the earliest record (default: "
    "only\n"
    "                             records produced from now on); with\n"
    "                             --group, where the group has no "
    "committed\n"
    "                             offset (auto.offset.reset=earliest)\n"
    "  --partition N              read only partition N (default: all)\n"
    "  --offset OFFSET            with --partition: start at OFFSET, or\n"
    "                             earliest, or latest\n"
    "  --max-messages N           exit after N records\n"
    "  --timeout-ms MS            exit when no record came for MS ms\n"
    "  --skip-message-on-error    on a corrupt batch, say which offsets it\n"
    "                             holds and go on after it (default: stop\n"
    "                             there with exit status 1)\n"
    "  --property KEY=VALUE       print.key, print.timestamp,\n"
    "                             print.partition, print.offset,\n"
    "                             print.headers (=true), key.separator\n"
    "                             (default TAB)\n"
    "  --consumer-property KEY=VALUE  any libquire consumer setting,\n"
    "                             e.g. fetch.max.wait.ms=100 (see "
    "quire(3))\n"
    "  -v, --verbose              log debugging information\n"
    "  -h, --help                 show this help and exit\n"
    "  -V, --version              show the version and exit\n";

typedef struct opts {
    const char *topic, *bootstrap, *zookeeper, *group, *whitelist;
    int from_beginning;
    int32_t partition; /* -1: all */
    int64_t offset;    /* with --partition; QUIRE_OFFSET_* or >= 0 */
    int has_offset;
    int64_t max_messages; /* -1: unlimited */
    int64_t timeout_ms;   /* -1: none */
    int print_key, print_ts, print_part, print_off, print_hdrs;
    char *sep;
    int verbose;
    int64_t commit_interval_ms; /* --group: auto.commit.interval.ms */
    int skip_on_error;          /* --skip-message-on-error */
} opts_t;

#define COMMIT_TIMEOUT_MS 10000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int set_bool(int *field, const char *v)
{
    if (!strcmp(v, "true"))
        *field = 1;
    else if (!strcmp(v, "false"))
        *field = 0;
    else
        return -1;
    return 0;
}

/* --property: Kafka's DefaultMessageFormatter keys. */
static int console_property(opts_t *o, const char *kv)
{
    static const struct {
        const char *key;
        size_t off;
    } bools[] = {
        {"print.key=", offsetof(opts_t, print_key)},
        {"print.timestamp=", offsetof(opts_t, print_ts)},
        {"print.partition=", offsetof(opts_t, print_part)},
        {"print.offset=", offsetof(opts_t, print_off)},
        {"print.headers=", offsetof(opts_t, print_hdrs)},
    };

    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        size_t n = strlen(bools[i].key);

        if (!strncmp(kv, bools[i].key, n)) {
            if (set_bool((int *)((char *)o + bools[i].off), kv + n) == 0)
                return 0;
            qr_cli_usage_error(PROG, "--property: %s needs true or false",
                               bools[i].key);
            return -1;
        }
    }
    if (!strncmp(kv, "key.separator=", 14)) {
        free(o->sep);
        o->sep = strdup(kv + 14);
        return 0;
    }
    qr_cli_usage_error(PROG,
                       "--property: unknown '%s' (known: print.key, "
                       "print.timestamp, print.partition, print.offset, "
                       "print.headers, key.separator)",
                       kv);
    return -1;
}

static int parse_offset(opts_t *o, const char *s)
{
    if (!strcmp(s, "earliest"))
        o->offset = QUIRE_OFFSET_BEGINNING;
    else if (!strcmp(s, "latest"))
        o->offset = QUIRE_OFFSET_END;
    else if (qr_cli_parse_int(s, 0, INT64_MAX, &o->offset) != 0) {
        qr_cli_usage_error(PROG,
                           "--offset: expected a non-negative "
                           "number, earliest or latest, got '%s'",
                           s);
        return -1;
    }
    o->has_offset = 1;
    return 0;
}

static int parse_args(int argc, char **argv, opts_t *o, quire_conf_t *conf)
{
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, 't'},
        {"group", required_argument, NULL, 'g'},
        {"whitelist", required_argument, NULL, 'w'},
        {"bootstrap-server", required_argument, NULL, 'b'},
        {"zookeeper", required_argument, NULL, 'z'},
        {"from-beginning", no_argument, NULL, 'f'},
        {"partition", required_argument, NULL, 'p'},
        {"offset", required_argument, NULL, 'o'},
        {"max-messages", required_argument, NULL, 'm'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"property", required_argument, NULL, 'r'},
        {"consumer-property", required_argument, NULL, 'C'},
        {"skip-message-on-error", no_argument, NULL, 'S'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int64_t v;
    int c;

    opterr = 0; /* qr_cli_bad_option() says it in one line */
    while ((c = getopt_long(argc, argv, "vhV", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            o->topic = optarg;
            break;
        case 'g':
            o->group = optarg;
            break;
        case 'w':
            o->whitelist = optarg;
            break;
        case 'b':
            o->bootstrap = optarg;
            break;
        case 'z':
            o->zookeeper = optarg;
            break;
        case 'f':
            o->from_beginning = 1;
            break;
        case 'p':
            if (qr_cli_parse_int(optarg, 0, INT32_MAX, &v) != 0) {
                qr_cli_usage_error(PROG, "--partition: bad value '%s'", optarg);
                return QR_CLI_EXIT_USAGE;
            }
            o->partition = (int32_t)v;
            break;
        case 'o':
            if (parse_offset(o, optarg) != 0)
                return QR_CLI_EXIT_USAGE;
            break;
        case 'm':
        case 'T':
            if (qr_cli_parse_int(optarg, 0, INT64_MAX, &v) != 0) {
                qr_cli_usage_error(PROG, "--%s: bad value '%s'",
                                   c == 'm' ? "max-messages" : "timeout-ms",
                                   optarg);
                return QR_CLI_EXIT_USAGE;
            }
            *(c == 'm' ? &o->max_messages : &o->timeout_ms) = v;
            break;
        case 'r':
            if (console_property(o, optarg) != 0)
                return QR_CLI_EXIT_USAGE;
            break;
        case 'C':
            if (qr_ccli_conf_kv(conf, PROG, optarg) != 0)
                return QR_CLI_EXIT_USAGE;
            break;
        case 'S':
            o->skip_on_error = 1;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        case 'V':
            qr_cli_print_version(PROG);
            return -1;
        default:
            (void)qr_cli_bad_option(PROG, argv); /* issue 18 */
            return QR_CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        qr_cli_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
        return QR_CLI_EXIT_USAGE;
    }
    if (o->whitelist && !o->group) {
        /* Kafka's old console consumer: a group of its own */
        static char gen[32];

        srand((unsigned)time(NULL) ^ (unsigned)getpid());
        snprintf(gen, sizeof(gen), "console-consumer-%05d", rand() % 100000);
        o->group = gen;
        fprintf(stderr, "%s: --whitelist without --group: using group %s\n",
                PROG, gen);
    }
    if (o->whitelist && o->topic) {
        qr_cli_usage_error(PROG, "--topic and --whitelist are exclusive");
        return QR_CLI_EXIT_USAGE;
    }
    if (!o->topic && !o->whitelist) {
        qr_cli_usage_error(PROG, "--topic is required");
        return QR_CLI_EXIT_USAGE;
    }
    if (o->group && (o->partition >= 0 || o->has_offset)) {
        qr_cli_usage_error(PROG, "--partition and --offset are not for "
                                 "--group (the group assigns partitions)");
        return QR_CLI_EXIT_USAGE;
    }
    if (o->has_offset && o->partition < 0) {
        qr_cli_usage_error(PROG, "--offset needs --partition");
        return QR_CLI_EXIT_USAGE;
    }
    if (o->has_offset && o->from_beginning) {
        qr_cli_usage_error(PROG, "--offset and --from-beginning are exclusive");
        return QR_CLI_EXIT_USAGE;
    }
    return 0;
}

/* Kafka's DefaultMessageFormatter: the chosen fields, each followed by
 * key.separator, then the value and a newline. */
static void print_record(const opts_t *o, const quire_record_t *r)
{
    /* the value always follows, so every field gets its separator */
    if (o->print_ts)
        printf("CreateTime:%lld%s", (long long)r->timestamp, o->sep);
    if (o->print_part)
        printf("Partition:%d%s", r->partition, o->sep);
    if (o->print_off)
        printf("Offset:%lld%s", (long long)r->offset, o->sep);
    if (o->print_hdrs) {
        /* Kafka's: key:value,key2:value2, or NO_HEADERS */
        for (size_t i = 0; i < r->header_cnt; i++) {
            const quire_header_t *h = &r->headers[i];

            printf("%s%s:", i ? "," : "", h->key);
            if (h->value)
                fwrite(h->value, 1, h->value_len, stdout);
            else
                fputs("null", stdout);
        }
        if (r->header_cnt == 0)
            fputs("NO_HEADERS", stdout);
        fputs(o->sep, stdout);
    }
    if (o->print_key) {
        if (r->key)
            fwrite(r->key, 1, r->key_len, stdout);
        else
            fputs("null", stdout);
        fputs(o->sep, stdout);
    }
    if (r->value)
        fwrite(r->value, 1, r->value_len, stdout);
    else
        fputs("null", stdout);
    putchar('\n');
}

static int assign(quire_consumer_t *c, const opts_t *o)
{
    int64_t start =
        o->from_beginning ? QUIRE_OFFSET_BEGINNING : QUIRE_OFFSET_END;
    /* the user's --timeout-ms bounds the topic lookup too (issue 18) */
    int wait = o->timeout_ms >= 0 && o->timeout_ms < 30000 ? (int)o->timeout_ms
                                                           : 30000;
    int32_t cnt = 0;
    quire_err_t err;

    if (o->partition >= 0) {
        err = quire_consumer_partition_count(c, o->topic, wait, &cnt);
        if (err == QUIRE_ERR_NONE && o->partition >= cnt)
            err = QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        if (err == QUIRE_ERR_NONE)
            err = quire_consumer_assign(c, o->topic, o->partition,
                                        o->has_offset ? o->offset : start);
    } else {
        err = quire_consumer_partition_count(c, o->topic, wait, &cnt);
        for (int32_t p = 0; err == QUIRE_ERR_NONE && p < cnt; p++)
            err = quire_consumer_assign(c, o->topic, p, start);
    }
    if (err != QUIRE_ERR_NONE) {
        qr_cli_error(PROG, "cannot read %s: %s", o->topic, quire_err2str(err));
        return -1;
    }
    return 0;
}

/* A corrupt batch (the library's message names its offsets): said on
 * stderr, and with --skip-message-on-error skipped deliberately by a seek
 * past it (Kafka's console consumer option). Returns 1 to go on. */
static int on_corrupt(quire_consumer_t *c, const opts_t *o,
                      const quire_record_t *r)
{
    quire_err_t err;

    qr_cli_error(PROG, "%.*s", (int)r->value_len,
                 r->value ? (const char *)r->value : "corrupt batch");
    if (!o->skip_on_error) {
        fprintf(stderr,
                "%s: stopping; --skip-message-on-error would go on after "
                "it\n",
                PROG);
        return 0;
    }
    err = quire_consumer_seek(c, r->topic, r->partition, r->last_offset + 1);
    if (err != QUIRE_ERR_NONE) {
        qr_cli_error(PROG, "cannot skip it: %s", quire_err2str(err));
        return 0;
    }
    fprintf(stderr, "%s: skipped offsets %lld..%lld of %s-%d\n", PROG,
            (long long)r->offset, (long long)r->last_offset, r->topic,
            r->partition);
    return 1;
}

static int consume(quire_consumer_t *c, const opts_t *o)
{
    int64_t got = 0, idle = 0;
    const int step = 100;

    while (!stop && (o->max_messages < 0 || got < o->max_messages)) {
        const quire_record_t *r;
        quire_err_t err = quire_consumer_poll(c, step, &r);

        if (err == QUIRE_ERR_TIMED_OUT) {
            idle += step;
            if (o->timeout_ms >= 0 && idle >= o->timeout_ms)
                break;
            continue;
        }
        if (err == QUIRE_ERR_CORRUPT_MESSAGE && r && r->topic) {
            if (on_corrupt(c, o, r))
                continue;
            fflush(stdout);
            return QR_CLI_EXIT_ERROR;
        }
        if (err != QUIRE_ERR_NONE) {
            qr_cli_error(PROG, "%s-%d at offset %lld: %s", r->topic,
                         r->partition, (long long)r->offset,
                         quire_err2str(err));
            return QR_CLI_EXIT_ERROR;
        }
        idle = 0;
        print_record(o, r);
        got++;
    }
    fflush(stdout);
    fprintf(stderr, "Processed a total of %lld messages\n", (long long)got);
    return QR_CLI_EXIT_OK;
}

/* ---- --group ---- */

/* Revocation: what was printed of the partitions is written out and
 * committed before they go, so the next owner starts right after it. */
static void on_rebalance(quire_consumer_t *c, quire_rebalance_event_t ev,
                         const quire_topic_partition_t *tps, size_t n,
                         void *opaque)
{
    const opts_t *o = opaque;

    if (ev == QUIRE_REBALANCE_REVOKED) {
        quire_err_t err;

        fflush(stdout);
        err = quire_consumer_commit(c, NULL, 0, COMMIT_TIMEOUT_MS);
        if (err != QUIRE_ERR_NONE)
            qr_cli_error(PROG, "commit on revocation: %s", quire_err2str(err));
    }
    for (size_t i = 0; o->verbose && i < n; i++)
        fprintf(stderr, "%s: %s %s-%d at offset %lld\n", PROG,
                ev == QUIRE_REBALANCE_REVOKED ? "revoked" : "assigned",
                tps[i].topic, tps[i].partition, (long long)tps[i].offset);
}

static void on_commit(quire_consumer_t *c, quire_err_t err, void *opaque)
{
    (void)c;
    (void)opaque;
    if (err != QUIRE_ERR_NONE)
        qr_cli_error(PROG, "commit: %s", quire_err2str(err));
}

static int consume_group(quire_consumer_t *c, const opts_t *o)
{
    int64_t got = 0, idle = 0, last_commit = qr_clock_mono_ms();
    const int step = 100;
    char errstr[256];
    quire_err_t err;

    err = o->topic ? quire_consumer_subscribe(c, &o->topic, 1, errstr,
                                              sizeof(errstr))
                   : quire_consumer_subscribe_regex(c, o->whitelist, errstr,
                                                    sizeof(errstr));
    if (err != QUIRE_ERR_NONE) {
        qr_cli_error(PROG, "cannot join group %s: %s", o->group, errstr);
        return err == QUIRE_ERR_BAD_ARG ||
                       err == QUIRE_ERR_INVALID_TOPIC_EXCEPTION
                   ? QR_CLI_EXIT_USAGE
                   : QR_CLI_EXIT_ERROR;
    }
    while (!stop && (o->max_messages < 0 || got < o->max_messages)) {
        const quire_record_t *r;
        int64_t now;

        err = quire_consumer_poll(c, step, &r);
        if (err == QUIRE_ERR_TIMED_OUT) {
            idle += step;
            if (o->timeout_ms >= 0 && idle >= o->timeout_ms)
                break;
        } else if (err == QUIRE_ERR_CORRUPT_MESSAGE && r && r->topic) {
            if (!on_corrupt(c, o, r)) {
                fflush(stdout);
                return QR_CLI_EXIT_ERROR;
            }
        } else if (err != QUIRE_ERR_NONE && r && !r->topic) {
            /* the group's trouble: it keeps trying by itself, except
             * that a group id held by Kafka-protocol consumers ends the
             * run, as Kafka's console consumer stops on
             * InconsistentGroupProtocolException */
            qr_cli_error(PROG, "group %s: %s: %.*s", o->group,
                         quire_err2str(err), (int)r->value_len,
                         r->value ? (const char *)r->value : "");
            if (err == QUIRE_ERR_INCONSISTENT_GROUP_PROTOCOL) {
                fflush(stdout);
                return QR_CLI_EXIT_ERROR;
            }
        } else if (err != QUIRE_ERR_NONE) {
            if (r && r->topic)
                qr_cli_error(PROG, "%s-%d at offset %lld: %s", r->topic,
                             r->partition, (long long)r->offset,
                             quire_err2str(err));
            else
                qr_cli_error(PROG, "poll: %s", quire_err2str(err));
            fflush(stdout);
            return QR_CLI_EXIT_ERROR;
        } else {
            idle = 0;
            print_record(o, r);
            got++;
        }
        now = qr_clock_mono_ms();
        if (now - last_commit >= o->commit_interval_ms) {
            fflush(stdout);
            quire_consumer_commit_async(c, NULL, 0, on_commit, NULL);
            last_commit = now;
        }
    }
    fflush(stdout);
    err = quire_consumer_commit(c, NULL, 0, COMMIT_TIMEOUT_MS);
    if (err != QUIRE_ERR_NONE)
        qr_cli_error(PROG, "commit at exit: %s", quire_err2str(err));
    fprintf(stderr, "Processed a total of %lld messages\n", (long long)got);
    return QR_CLI_EXIT_OK;
}

/* group.id, zookeeper.connect, offsets and commits for --group. */
static int group_conf(quire_conf_t *conf, opts_t *o)
{
    char errstr[256], interval[32];
    size_t len = sizeof(interval);

    if (quire_conf_set(conf, "group.id", o->group, errstr, sizeof(errstr)) !=
            QUIRE_ERR_NONE ||
        quire_conf_set(conf, "zookeeper.connect",
                       o->zookeeper ? o->zookeeper : qr_cli_zookeeper_default(),
                       errstr, sizeof(errstr)) != QUIRE_ERR_NONE ||
        (o->bootstrap &&
         quire_conf_set(conf, "bootstrap.servers", o->bootstrap, errstr,
                        sizeof(errstr)) != QUIRE_ERR_NONE) ||
        (o->from_beginning &&
         quire_conf_set(conf, "auto.offset.reset", "earliest", errstr,
                        sizeof(errstr)) != QUIRE_ERR_NONE)) {
        qr_cli_usage_error(PROG, "%s", errstr);
        return -1;
    }
    quire_conf_get(conf, "auto.commit.interval.ms", interval, &len);
    o->commit_interval_ms = atoll(interval);
    quire_conf_set_rebalance_cb(conf, on_rebalance, o);
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o = {.partition = -1, .max_messages = -1, .timeout_ms = -1};
    quire_conf_t *conf = quire_conf_new();
    quire_consumer_t *c;
    char errstr[256];
    quire_err_t err;
    int rc, exit_code = QR_CLI_EXIT_OK;

    if (!conf) {
        qr_cli_error(PROG, "out of memory");
        return QR_CLI_EXIT_ERROR;
    }
    o.sep = strdup("\t");
    quire_conf_set(conf, "client.id", PROG, NULL, 0);
    /* with --group the tool commits (see the top); the user may say
     * otherwise with --consumer-property */
    quire_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
    rc = parse_args(argc, argv, &o, conf);
    if (rc == 0) {
        qr_cli_log_setup(o.verbose);
        if (o.group) {
            if (group_conf(conf, &o) != 0)
                rc = QR_CLI_EXIT_USAGE;
        } else if (qr_ccli_set_brokers(conf, PROG, o.bootstrap, o.zookeeper,
                                       &exit_code) != 0)
            rc = exit_code;
    }
    if (rc != 0) {
        quire_conf_destroy(conf);
        free(o.sep);
        return rc < 0 ? QR_CLI_EXIT_OK : rc;
    }
    errstr[0] = '\0';
    err = quire_consumer_new(conf, &c, errstr, sizeof(errstr));
    if (err != QUIRE_ERR_NONE) {
        quire_conf_destroy(conf);
        free(o.sep);
        return qr_ccli_new_failed(PROG, err, errstr);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (o.group)
        exit_code = consume_group(c, &o);
    else if (assign(c, &o) != 0)
        exit_code = QR_CLI_EXIT_ERROR;
    else
        exit_code = consume(c, &o);
    quire_consumer_close(c);
    free(o.sep);
    return exit_code;
}
