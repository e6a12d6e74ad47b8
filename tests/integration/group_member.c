/*
 * group_member: one consumer-group member for the integration tests
 * (check_groups). It runs a qr_group_t on a libev loop with its own
 * ZooKeeper session and "consumes" without a broker: while it owns a
 * partition it advances the partition's position every --tick-ms and
 * stores it, so commits, revokes and handovers carry real numbers.
 *
 *   group_member --zookeeper CONNECT --group G --id ID
 *                (--topics a,b | --regex RE) [--strategy S]
 *                [--session-timeout-ms MS] [--events FILE] [--tick-ms MS]
 *                [--commit-ms MS] [--backoff-ms MS]
 *
 * Every callback appends one line to FILE with a single write(2) (O_APPEND,
 * so lines of several members and of the test never interleave):
 *   <mono ms> <id> ASSIGN <t> <p> <offset>     (-1: none committed)
 *   <mono ms> <id> REVOKE <t> <p> <position>
 *   <mono ms> <id> ERROR <code> <msg>
 *   <mono ms> <id> CLOSED
 * SIGTERM/SIGINT: leave the group cleanly (revoke, commit, delete our
 * nodes), then exit 0.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "group.h"
#include "logging.h"
#include "zk.h"

typedef struct member {
    struct ev_loop *loop;
    qr_zk_t *zk;
    qr_group_t *g;
    int fd;
    const char *id;
    ev_timer tick;
    ev_signal sigterm, sigint;
} member_t;

static void event(member_t *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void event(member_t *m, const char *fmt, ...)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "%" PRId64 " %s ", qr_clock_mono_ms(),
                     m->id);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (write(m->fd, line, (size_t)n) != n)
        fprintf(stderr, "group_member: write: %s\n", strerror(errno));
}

static void on_assigned(void *opaque, qr_group_t *g, const qr_group_tp_t *tps,
                        size_t n)
{
    member_t *m = opaque;
    for (size_t i = 0; i < n; i++) {
        event(m, "ASSIGN %s %d %" PRId64, tps[i].topic, (int)tps[i].partition,
              tps[i].offset);
        /* start from the committed offset, or 0 (auto.offset.reset) */
        int64_t pos = tps[i].offset < 0 ? 0 : tps[i].offset;
        qr_group_offset_store(g, tps[i].topic, tps[i].partition, pos);
    }
}

static void on_revoked(void *opaque, qr_group_t *g, const qr_group_tp_t *tps,
                       size_t n)
{
    member_t *m = opaque;
    (void)g;
    for (size_t i = 0; i < n; i++)
        event(m, "REVOKE %s %d %" PRId64, tps[i].topic, (int)tps[i].partition,
              tps[i].offset);
}

static void on_error(void *opaque, qr_group_t *g, quire_err_t err,
                     const char *msg)
{
    (void)g;
    event(opaque, "ERROR %s %s", quire_err2name(err), msg);
}

static void on_closed(void *opaque, qr_group_t *g)
{
    member_t *m = opaque;
    (void)g;
    event(m, "CLOSED");
    ev_break(m->loop, EVBREAK_ALL);
}

/* "Consume" one record of every partition we fetch. */
static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    member_t *m = w->data;
    const qr_group_tp_t *tps;
    (void)loop;
    (void)revents;
    size_t n = qr_group_assignment(m->g, &tps);
    for (size_t i = 0; i < n; i++) {
        int64_t pos = tps[i].offset < 0 ? 0 : tps[i].offset;
        qr_group_offset_store(m->g, tps[i].topic, tps[i].partition, pos + 1);
    }
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    member_t *m = w->data;
    (void)loop;
    (void)revents;
    ev_timer_stop(m->loop, &m->tick);
    qr_group_close(m->g);
}

static void usage(void)
{
    fprintf(stderr, "usage: group_member --zookeeper CONNECT --group G --id "
                    "ID (--topics a,b | --regex RE) [--strategy S] "
                    "[--session-timeout-ms MS] [--events FILE] [--tick-ms MS] "
                    "[--commit-ms MS] [--backoff-ms MS]\n");
    exit(2);
}

static const struct option opts[] = {
    {"zookeeper", required_argument, NULL, 'z'},
    {"group", required_argument, NULL, 'g'},
    {"id", required_argument, NULL, 'i'},
    {"topics", required_argument, NULL, 't'},
    {"regex", required_argument, NULL, 'r'},
    {"strategy", required_argument, NULL, 's'},
    {"session-timeout-ms", required_argument, NULL, 'S'},
    {"events", required_argument, NULL, 'e'},
    {"tick-ms", required_argument, NULL, 'k'},
    {"commit-ms", required_argument, NULL, 'c'},
    {"backoff-ms", required_argument, NULL, 'b'},
    {NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
    const char *zkc = NULL, *topics = NULL, *regex = NULL, *events = NULL;
    int session_ms = 6000, tick_ms = 50, c;
    member_t m = {.fd = STDOUT_FILENO};
    qr_group_conf_t conf;
    qr_group_conf_init(&conf);
    conf.auto_commit_interval_ms = 200;
    conf.rebalance_backoff_ms = 500;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'z':
            zkc = optarg;
            break;
        case 'g':
            conf.group_id = optarg;
            break;
        case 'i':
            conf.consumer_id = m.id = optarg;
            break;
        case 't':
            topics = optarg;
            break;
        case 'r':
            regex = optarg;
            break;
        case 's':
            if (qr_assignor_parse(optarg, &conf.strategy) != 0)
                usage();
            break;
        case 'S':
            session_ms = atoi(optarg);
            break;
        case 'e':
            events = optarg;
            break;
        case 'k':
            tick_ms = atoi(optarg);
            break;
        case 'c':
            conf.auto_commit_interval_ms = atoi(optarg);
            break;
        case 'b':
            conf.rebalance_backoff_ms = atoi(optarg);
            break;
        default:
            usage();
        }
    }
    if (!zkc || !conf.group_id || !m.id || !!topics == !!regex || tick_ms < 1)
        usage();
    qr_log_setup(getenv("MEMBER_DEBUG") ? QR_LOG_LVL_DEBUG : QR_LOG_LVL_WARNING,
                 getenv("MEMBER_DEBUG") ? QR_DBG_GROUP | QR_DBG_ZK : 0, -1);
    if (events) {
        m.fd = open(events, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (m.fd < 0) {
            fprintf(stderr, "group_member: %s: %s\n", events, strerror(errno));
            return 1;
        }
    }
    char errstr[512];
    m.loop = ev_default_loop(0);
    m.zk = qr_zk_new(m.loop, zkc, session_ms, 10000, errstr, sizeof(errstr));
    if (!m.zk) {
        fprintf(stderr, "group_member: %s\n", errstr);
        return 2;
    }
    qr_group_cbs_t cbs = {.opaque = &m,
                          .assigned = on_assigned,
                          .revoked = on_revoked,
                          .error = on_error,
                          .closed = on_closed};
    m.g = qr_group_new(m.zk, &conf, &cbs, errstr, sizeof(errstr));
    if (!m.g) {
        fprintf(stderr, "group_member: %s\n", errstr);
        return 2;
    }
    quire_err_t err;
    if (topics) {
        char *copy = strdup(topics), *save = NULL;
        const char *list[64];
        size_t n = 0;
        for (char *t = strtok_r(copy, ",", &save); t && n < 64;
             t = strtok_r(NULL, ",", &save))
            list[n++] = t;
        err = qr_group_subscribe(m.g, list, n, errstr, sizeof(errstr));
        free(copy);
    } else {
        err = qr_group_subscribe_regex(m.g, regex, errstr, sizeof(errstr));
    }
    if (err != QUIRE_ERR_NONE) {
        fprintf(stderr, "group_member: %s\n", errstr);
        return 2;
    }
    if (qr_zk_start(m.zk, errstr, sizeof(errstr)) != QUIRE_ERR_NONE ||
        qr_group_start(m.g) != QUIRE_ERR_NONE) {
        fprintf(stderr, "group_member: cannot start: %s\n", errstr);
        return 1;
    }
    ev_timer_init(&m.tick, on_tick, tick_ms / 1000.0, tick_ms / 1000.0);
    m.tick.data = &m;
    ev_timer_start(m.loop, &m.tick);
    ev_signal_init(&m.sigterm, on_signal, SIGTERM);
    ev_signal_init(&m.sigint, on_signal, SIGINT);
    m.sigterm.data = m.sigint.data = &m;
    ev_signal_start(m.loop, &m.sigterm);
    ev_signal_start(m.loop, &m.sigint);
    ev_run(m.loop, 0);
    qr_group_destroy(m.g);
    qr_zk_destroy(m.zk);
    if (m.fd != STDOUT_FILENO)
        close(m.fd);
    ev_loop_destroy(m.loop);
    return 0;
}
