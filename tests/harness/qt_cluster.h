/*
 * qt_cluster: the brokers of one integration test under a chroot of its
 * own, and the topics it makes with tools/quire-topics (STYLE.md §10).
 *
 * What several tests wrote each for themselves: a fresh chroot of the
 * harness's ZooKeeper (QUIRE_TEST_ZK), brokers 1..n started on it (each
 * ready once registered: qt_broker_start()), a topic created with the CLI
 * and waited on until the controller has elected its leaders, and the
 * brokers stopped by PID. Every wait has a deadline; nothing here uses
 * Check, so a caller asserts on the returned code.
 *
 * @locality the test's thread  @locks none
 */
#ifndef QT_CLUSTER_H
#define QT_CLUSTER_H

#include "qt_broker.h"

/* The most brokers one test starts. */
#define QT_CLUSTER_MAX 4

/* A test's cluster; zero it (or use a static), then qt_cluster_init(). */
typedef struct qt_cluster {
    char *zk_connect; /* owned: QUIRE_TEST_ZK with the test's chroot */
    qt_broker_t *b[QT_CLUSTER_MAX]; /* owned; broker id i + 1 at b[i] */
    int n;                          /* brokers started */
    char bootstrap[1024];           /* the brokers' "host:port,..." */
} qt_cluster_t;

/**
 * @brief Makes a fresh chroot on QUIRE_TEST_ZK (exits 99 when unset) and
 *        stores its connect string in @p cl->zk_connect. No broker yet.
 * @returns 0, or -1 with a line on stderr.
 */
int qt_cluster_init(qt_cluster_t *cl, int timeout_ms);

/**
 * @brief Starts brokers 1..@p n and waits until each serves.
 * @param broker_zk the brokers' zookeeper.connect (a proxy's, say), or
 *        NULL for @p cl->zk_connect. Borrowed.
 * @param extra more server.properties lines for every broker, or NULL.
 * @returns 0, or -1 with a line on stderr (what started is in @p cl).
 */
int qt_cluster_start_brokers(qt_cluster_t *cl, int n, const char *broker_zk,
                             const char *extra, int timeout_ms);

/** @brief qt_cluster_init() then qt_cluster_start_brokers(cl, n, NULL,
 *         extra, timeout_ms). @returns 0 or -1. */
int qt_cluster_start(qt_cluster_t *cl, int n, const char *extra,
                     int timeout_ms);

/**
 * @brief Creates @p topic with quire-topics --create and waits until every
 *        partition has its state znode (a leader elected).
 * @param rf the replication factor, or 0 to leave quire-topics' default.
 * @returns 0, or -1 with the tool's stderr on ours.
 */
int qt_cluster_topic_create(const qt_cluster_t *cl, const char *topic,
                            int parts, int rf, int timeout_ms);

/** @brief Kills the brokers still running, removes their directories,
 *         frees the connect string; @p cl is zeroed. */
void qt_cluster_stop(qt_cluster_t *cl);

#endif /* QT_CLUSTER_H */
