/*
 * gc_member: one member of a consumer group over libquire's group
 * consumer (quire_consumer_subscribe), for check_group_churn and
 * groupbench: a real consumer process they start, stop, SIGKILL and
 * SIGSTOP.
 *
 *   gc_member --zookeeper CONNECT --group G --topic T [--strategy S]
 *             [--session-timeout-ms MS] [--fetch-wait-ms MS]
 *             [--commit-ms MS] [--record-ms MS] [--quiet]
 *
 * It writes to standard output (the test points it at a file), one line
 * per event, times from the system's monotonic clock in ms:
 *   A <ms> <partition> <offset>     assigned (offset: where it starts,
 *                                   -2 / -1 for earliest / latest)
 *   R <ms> <partition> <position>   revoked
 *   M <ms> <partition> <offset> <value>   a record (not with --quiet)
 *   E <ms> <error> <message>        the group's trouble, reported by poll
 *   P <ms> <records>                with --quiet, at each periodic commit:
 *                                   records read so far
 *   C <ms> <partition> <offset>     a commit ZooKeeper confirmed (offset:
 *                                   the next to read), printed when the
 *                                   confirmation arrives (not with
 *                                   --quiet)
 *   X <ms> <records>                clean exit (after SIGTERM/SIGINT)
 * --record-ms: a slow application, MS ms of work after each record
 * (check_group_lease: records are still buffered when it is stopped).
 * Commits are its own (enable.auto.commit=false), always after flushing
 * standard output: every --commit-ms, in the revocation callback and at
 * exit, each of every owned partition's position. So every committed
 * record is in the file; a member killed between commits leaves
 * duplicates, never gaps, and the C lines say which reads a later owner
 * may repeat: those at or after the last committed offset (a commit
 * ZooKeeper took but the member never heard of only makes that set
 * larger).
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quire.h"

static volatile sig_atomic_t stop;
static int quiet; /* --quiet: no M and C lines */

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A commit of @p n partitions in flight; printed as C lines when
 * ZooKeeper confirms it. */
typedef struct commit {
    quire_topic_partition_t *tps;
    size_t n;
} commit_t;

static void commit_print(const quire_topic_partition_t *tps, size_t n)
{
    long long now = mono_ms();

    if (quiet)
        return;
    for (size_t i = 0; i < n; i++)
        printf("C %lld %d %lld\n", now, tps[i].partition,
               (long long)tps[i].offset);
    fflush(stdout);
}

static void on_commit(quire_consumer_t *c, quire_err_t err, void *opaque)
{
    commit_t *cm = opaque;

    (void)c;
    if (err == QUIRE_ERR_NONE)
        commit_print(cm->tps, cm->n);
    quire_topic_partitions_free(cm->tps, cm->n);
    free(cm);
}

/* Commits the position of every owned partition (what commit with NULL
 * offsets does, named here so it can be printed; @p revoked: the
 * partitions a revocation callback is given, which the assignment no
 * longer lists): waiting @p sync, else confirmed from a later poll.
 * Standard output is flushed first. */
static void commit_owned(quire_consumer_t *c,
                         const quire_topic_partition_t *revoked,
                         size_t nrevoked, int sync)
{
    quire_topic_partition_t *tps = NULL, *all;
    size_t n = 0;
    commit_t *cm;

    fflush(stdout);
    if (quire_consumer_assignment(c, &tps, &n) != QUIRE_ERR_NONE)
        return;
    if (nrevoked) {
        all = realloc(tps, (n + nrevoked) * sizeof(*tps));
        if (!all) {
            quire_topic_partitions_free(tps, n);
            return;
        }
        tps = all;
        for (size_t i = 0; i < nrevoked; i++) {
            tps[n] = revoked[i];
            tps[n].topic = strdup(revoked[i].topic);
            if (!tps[n].topic)
                break;
            n++;
        }
    }
    /* no position yet (nothing fetched): nothing to commit, as NULL */
    for (size_t i = 0, k = n; i < k; i++)
        if (tps[i].offset < 0) {
            free((char *)tps[i].topic);
            n--;
        } else
            tps[i - (k - n)] = tps[i];
    if (n == 0) {
        free(tps);
        return;
    }
    if (sync) {
        if (quire_consumer_commit(c, tps, n, 10000) == QUIRE_ERR_NONE)
            commit_print(tps, n);
        quire_topic_partitions_free(tps, n);
        return;
    }
    cm = malloc(sizeof(*cm));
    if (!cm) {
        quire_topic_partitions_free(tps, n);
        return;
    }
    cm->tps = tps;
    cm->n = n;
    if (quire_consumer_commit_async(c, tps, n, on_commit, cm) != QUIRE_ERR_NONE)
        on_commit(c, QUIRE_ERR_STATE, cm);
}

static void on_rebalance(quire_consumer_t *c, quire_rebalance_event_t ev,
                         const quire_topic_partition_t *tps, size_t n,
                         void *opaque)
{
    (void)opaque;
    for (size_t i = 0; i < n; i++)
        printf("%c %lld %d %lld\n", ev == QUIRE_REBALANCE_REVOKED ? 'R' : 'A',
               mono_ms(), tps[i].partition, (long long)tps[i].offset);
    fflush(stdout);
    if (ev == QUIRE_REBALANCE_REVOKED)
        commit_owned(c, tps, n, 1);
}

static int set(quire_conf_t *conf, const char *key, const char *value)
{
    char errstr[256];

    if (quire_conf_set(conf, key, value, errstr, sizeof(errstr)) ==
        QUIRE_ERR_NONE)
        return 0;
    fprintf(stderr, "gc_member: %s\n", errstr);
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"zookeeper", required_argument, NULL, 'z'},
        {"group", required_argument, NULL, 'g'},
        {"topic", required_argument, NULL, 't'},
        {"strategy", required_argument, NULL, 's'},
        {"session-timeout-ms", required_argument, NULL, 'S'},
        {"fetch-wait-ms", required_argument, NULL, 'f'},
        {"commit-ms", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"record-ms", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    const char *zk = NULL, *group = NULL, *topic = NULL;
    const char *strategy = "range", *session = "2000", *fetch_wait = "100";
    long long commit_ms = 500, last_commit, got = 0;
    int opt, record_ms = 0;
    quire_conf_t *conf;
    quire_consumer_t *c;
    char errstr[256];

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'z':
            zk = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 's':
            strategy = optarg;
            break;
        case 'S':
            session = optarg;
            break;
        case 'f':
            fetch_wait = optarg;
            break;
        case 'c':
            commit_ms = atoll(optarg);
            break;
        case 'q':
            quiet = 1;
            break;
        case 'r':
            record_ms = atoi(optarg);
            break;
        default:
            return 2;
        }
    }
    if (!zk || !group || !topic || optind < argc) {
        fprintf(stderr, "usage: gc_member --zookeeper C --group G --topic T "
                        "[--strategy S] [--session-timeout-ms MS] "
                        "[--fetch-wait-ms MS] [--commit-ms MS] "
                        "[--record-ms MS] [--quiet]\n");
        return 2;
    }
    conf = quire_conf_new();
    if (!conf || set(conf, "zookeeper.connect", zk) ||
        set(conf, "group.id", group) ||
        set(conf, "partition.assignment.strategy", strategy) ||
        set(conf, "zookeeper.session.timeout.ms", session) ||
        set(conf, "fetch.max.wait.ms", fetch_wait) ||
        set(conf, "enable.auto.commit", "false") ||
        set(conf, "auto.offset.reset", "earliest") ||
        set(conf, "rebalance.backoff.ms", "200"))
        return 2;
    quire_conf_set_rebalance_cb(conf, on_rebalance, NULL);
    if (quire_consumer_new(conf, &c, errstr, sizeof(errstr)) !=
        QUIRE_ERR_NONE) {
        fprintf(stderr, "gc_member: %s\n", errstr);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    if (quire_consumer_subscribe(c, &topic, 1, errstr, sizeof(errstr)) !=
        QUIRE_ERR_NONE) {
        fprintf(stderr, "gc_member: %s\n", errstr);
        quire_consumer_close(c);
        return 1;
    }
    last_commit = mono_ms();
    while (!stop) {
        const quire_record_t *r;
        quire_err_t err = quire_consumer_poll(c, 100, &r);
        long long now = mono_ms();

        if (err == QUIRE_ERR_NONE) {
            got++;
            if (!quiet)
                printf("M %lld %d %lld %.*s\n", now, r->partition,
                       (long long)r->offset, (int)r->value_len,
                       r->value ? (const char *)r->value : "");
            if (record_ms > 0) {
                struct timespec ts = {record_ms / 1000,
                                      (long)(record_ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
            }
        } else if (err != QUIRE_ERR_TIMED_OUT) {
            printf("E %lld %s %.*s\n", now, quire_err2str(err),
                   r && !r->topic && r->value ? (int)r->value_len : 0,
                   r && !r->topic && r->value ? (const char *)r->value : "");
        }
        if (now - last_commit >= commit_ms) {
            if (quiet)
                printf("P %lld %lld\n", now, got);
            commit_owned(c, NULL, 0, 0);
            last_commit = now;
        }
    }
    commit_owned(c, NULL, 0, 1);
    quire_consumer_close(c);
    printf("X %lld %lld\n", mono_ms(), got);
    fflush(stdout);
    return 0;
}
