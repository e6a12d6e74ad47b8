/*
 * coordd: a stand-in broker for the coordinator's integration tests. It
 * runs a qr_cluster_t (registration, controller candidacy, leadership,
 * deletions) on a libev loop, with no network server and no logs on disk,
 * so a test can start several in separate processes and kill them by PID.
 *
 *   coordd --zookeeper CONNECT --id N [--port P] [--no-controller]
 *          [--session-timeout-ms MS] [--events FILE] [--unclean]
 *          [--controlled-shutdown RETRIES:BACKOFF_MS]
 *          [--leader-rebalance=SECONDS] (auto.leader.rebalance.enable, at any
 *          imbalance, checked every SECONDS)
 *
 * Each callback appends one line to FILE (default stdout), flushed at once:
 *   REGISTERED | SESSION_LOST | FATAL <msg> | OPEN <t> <p> <epoch> |
 *   CLOSE <t> <p> | DELETE <t> <p>
 *   SHUTDOWN <moved 0|1>   (a controlled shutdown ended)
 * SIGTERM/SIGINT: close the cluster (deregister) and exit 0; with
 * --controlled-shutdown, a controlled shutdown first (a second signal skips
 * it). FATAL: exit 1.
 */
#include "config.h"

#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "logging.h"

typedef struct daemon {
    struct ev_loop *loop;
    FILE *events;
    int exit_code;
    qr_cluster_t *cl;
    int cs_retries; /* 0: no controlled shutdown */
    int64_t cs_backoff_ms;
    int cs_started;
} daemon_t;

static void event(daemon_t *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void event(daemon_t *d, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(d->events, fmt, ap);
    va_end(ap);
    fputc('\n', d->events);
    fflush(d->events);
}

static quire_err_t on_open(void *opaque, const char *topic, int32_t p,
                           int32_t epoch, const qr_topic_config_t *config)
{
    (void)config;
    event(opaque, "OPEN %s %d %d", topic, (int)p, (int)epoch);
    return QUIRE_ERR_NONE;
}

static void on_close(void *opaque, const char *topic, int32_t p)
{
    event(opaque, "CLOSE %s %d", topic, (int)p);
}

static quire_err_t on_delete(void *opaque, const char *topic, int32_t p)
{
    event(opaque, "DELETE %s %d", topic, (int)p);
    return QUIRE_ERR_NONE;
}

static void on_status(void *opaque, qr_cluster_status_t st, quire_err_t err,
                      const char *msg)
{
    daemon_t *d = opaque;

    (void)err;
    if (st == QR_CLUSTER_REGISTERED) {
        event(d, "REGISTERED");
    } else if (st == QR_CLUSTER_SESSION_LOST) {
        event(d, "SESSION_LOST");
    } else {
        event(d, "FATAL %s", msg ? msg : "");
        d->exit_code = 1;
        ev_break(d->loop, EVBREAK_ALL);
    }
}

static void on_shutdown_done(void *opaque, int moved, const char *msg)
{
    daemon_t *d = opaque;

    (void)msg;
    event(d, "SHUTDOWN %d", moved);
    ev_break(d->loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    daemon_t *d = w->data;

    (void)revents;
    if (d->cs_retries > 0 && !d->cs_started) {
        d->cs_started = 1;
        if (qr_cluster_controlled_shutdown(d->cl, d->cs_retries,
                                           d->cs_backoff_ms, on_shutdown_done,
                                           d) == QUIRE_ERR_NONE)
            return;
    }
    ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"zookeeper", required_argument, NULL, 'z'},
        {"id", required_argument, NULL, 'i'},
        {"port", required_argument, NULL, 'p'},
        {"no-controller", no_argument, NULL, 'n'},
        {"session-timeout-ms", required_argument, NULL, 's'},
        {"events", required_argument, NULL, 'e'},
        {"leader-rebalance", required_argument, NULL, 'r'},
        {"unclean", no_argument, NULL, 'u'},
        {"controlled-shutdown", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    qr_cluster_conf_t conf = {
        .zk_session_timeout_ms = 2000,
        .zk_connection_timeout_ms = 10000,
        .broker_id = -1,
        .host = "127.0.0.1",
        .port = 9092,
        .controller_eligible = 1,
        .auto_create_topics = 1,
        .num_partitions = 1,
        .default_replication_factor = 1,
    };
    daemon_t d = {.events = stdout};
    qr_cluster_cbs_t cbs = {&d,   on_open, on_close, on_delete, on_status,
                            NULL, NULL,    NULL,     NULL};
    qr_cluster_t *cl;
    ev_signal sigterm, sigint;
    char errstr[512];
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'z':
            conf.zk_connect = optarg;
            break;
        case 'i':
            conf.broker_id = atoi(optarg);
            break;
        case 'p':
            conf.port = atoi(optarg);
            break;
        case 'n':
            conf.controller_eligible = 0;
            break;
        case 's':
            conf.zk_session_timeout_ms = atoi(optarg);
            break;
        case 'r': /* auto.leader.rebalance every N s, at any imbalance */
            conf.leader_balance.auto_rebalance = 1;
            conf.leader_balance.check_interval_s = atoi(optarg);
            conf.leader_balance.imbalance_percentage = 0;
            break;
        case 'e':
            d.events = fopen(optarg, "a");
            if (!d.events) {
                perror(optarg);
                return 2;
            }
            break;
        case 'u':
            conf.unclean_leader_election = 1;
            break;
        case 'c':
            if (sscanf(optarg, "%d:%" SCNd64, &d.cs_retries,
                       &d.cs_backoff_ms) != 2)
                return 2;
            break;
        default:
            return 2;
        }
    }
    qr_log_setup(getenv("COORDD_DEBUG") ? QR_LOG_LVL_DEBUG : QR_LOG_LVL_INFO,
                 getenv("COORDD_DEBUG") ? QR_DBG_ZK : 0, conf.broker_id);
    d.loop = ev_default_loop(0);
    cl = qr_cluster_new(d.loop, &conf, &cbs, errstr, sizeof(errstr));
    if (!cl) {
        fprintf(stderr, "coordd: %s\n", errstr);
        return 2;
    }
    if (qr_cluster_start(cl, errstr, sizeof(errstr)) != QUIRE_ERR_NONE) {
        fprintf(stderr, "coordd: %s\n", errstr);
        qr_cluster_destroy(cl);
        return 1;
    }
    d.cl = cl;
    ev_signal_init(&sigterm, on_signal, SIGTERM);
    sigterm.data = &d;
    ev_signal_start(d.loop, &sigterm);
    ev_signal_init(&sigint, on_signal, SIGINT);
    sigint.data = &d;
    ev_signal_start(d.loop, &sigint);
    ev_run(d.loop, 0);
    qr_cluster_destroy(cl);
    ev_signal_stop(d.loop, &sigterm);
    ev_signal_stop(d.loop, &sigint);
    ev_loop_destroy(d.loop);
    if (d.events != stdout)
        fclose(d.events);
    return d.exit_code;
}
