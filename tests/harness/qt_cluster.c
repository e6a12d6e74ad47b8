/*
 * qt_cluster: a chroot, brokers 1..n, topics made with quire-topics.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qt_cluster.h"
#include "qt_zk.h"

#ifndef QT_TOPICS_BIN
#error "QT_TOPICS_BIN must name tools/quire-topics"
#endif

int qt_cluster_init(qt_cluster_t *cl, int timeout_ms)
{
    memset(cl, 0, sizeof(*cl));
    cl->zk_connect = qt_zk_chroot_new(qt_zk_env(), timeout_ms);
    return cl->zk_connect ? 0 : -1;
}

int qt_cluster_start_brokers(qt_cluster_t *cl, int n, const char *broker_zk,
                             const char *extra, int timeout_ms)
{
    size_t len = 0;

    if (n > QT_CLUSTER_MAX) {
        fprintf(stderr, "qt_cluster: %d brokers, at most %d\n", n,
                QT_CLUSTER_MAX);
        return -1;
    }
    for (cl->n = 0; cl->n < n; cl->n++) {
        qt_broker_t *b = qt_broker_new(
            cl->n + 1, broker_zk ? broker_zk : cl->zk_connect, extra);

        if (!b)
            return -1;
        cl->b[cl->n] = b;
        if (qt_broker_start(b, timeout_ms) != 0)
            return -1;
        len +=
            (size_t)snprintf(cl->bootstrap + len, sizeof(cl->bootstrap) - len,
                             "%s%s", cl->n ? "," : "", b->addr);
    }
    return 0;
}

int qt_cluster_start(qt_cluster_t *cl, int n, const char *extra, int timeout_ms)
{
    if (qt_cluster_init(cl, timeout_ms) != 0)
        return -1;
    return qt_cluster_start_brokers(cl, n, NULL, extra, timeout_ms);
}

/* Every partition of @p topic has a leader (its state znode). */
static int wait_leaders(const qt_cluster_t *cl, const char *topic, int parts,
                        int timeout_ms)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    zhandle_t *zh = qt_zk_connect(cl->zk_connect, timeout_ms);
    int rc = zh ? 0 : -1;

    for (int p = 0; p < parts && rc == 0; p++) {
        char path[320];

        snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state",
                 topic, p);
        if (!qt_zk_wait_exists(zh, path, true, (int)(deadline - qt_now_ms()))) {
            fprintf(stderr, "qt_cluster: no leader for %s-%d\n", topic, p);
            rc = -1;
        }
    }
    qt_zk_close(zh);
    return rc;
}

int qt_cluster_topic_create(const qt_cluster_t *cl, const char *topic,
                            int parts, int rf, int timeout_ms)
{
    char nparts[16], nrf[16];
    char *argv[] = {QT_TOPICS_BIN,
                    "--zookeeper",
                    cl->zk_connect,
                    "--create",
                    "--topic",
                    (char *)topic,
                    "--partitions",
                    nparts,
                    rf > 0 ? "--replication-factor" : NULL,
                    nrf,
                    NULL};
    qt_run_result_t res;
    int rc;

    snprintf(nparts, sizeof(nparts), "%d", parts);
    snprintf(nrf, sizeof(nrf), "%d", rf);
    if (qt_run(argv, NULL, timeout_ms, &res) != 0)
        return -1;
    rc = res.status == 0 ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "qt_cluster: quire-topics --create %s: %s", topic,
                res.err);
    qt_run_free(&res);
    return rc == 0 ? wait_leaders(cl, topic, parts, timeout_ms) : -1;
}

void qt_cluster_stop(qt_cluster_t *cl)
{
    for (int i = 0; i < QT_CLUSTER_MAX; i++)
        qt_broker_destroy(cl->b[i]);
    free(cl->zk_connect);
    memset(cl, 0, sizeof(*cl));
}
