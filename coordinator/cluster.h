/*
 * cluster: the broker's side of the coordinator (issue 4, item 7), the one
 * object quire-broker plugs into.
 *
 * One qr_cluster_t per broker process, on the main libev loop. It owns the
 * ZooKeeper session (zk.c) and, through it:
 *   - registers the broker as the ephemeral /brokers/ids/<id> (registry.c),
 *     again after every session expiry;
 *   - runs for controller and, when elected, acts as the controller
 *     (controller.c);
 *   - watches /brokers/ids, /brokers/topics/<t> and every
 *     /brokers/topics/<t>/partitions/<p>/state, and tells the broker which
 *     partitions it leads through the open/close callbacks;
 *   - watches /admin/delete_topics and asks the broker to delete the data of
 *     its replicas of a topic being deleted (delete callback), then
 *     acknowledges so the controller can remove the topic's znodes;
 *   - watches /config/topics/<t> and hands each topic's overrides to the
 *     broker: with open_partition, and through topic_config when they
 *     change for a topic it leads partitions of (Kafka applies topic
 *     config changes dynamically);
 *   - publishes an immutable metadata snapshot (meta.h) for the Metadata API
 *     and for the network threads' "am I the leader" check;
 *   - creates topics on request (auto.create.topics.enable).
 *
 * Ordering promise: open_partition() for a partition returns before a
 * snapshot saying this broker leads it is published; a snapshot saying it no
 * longer leads it is published before close_partition() is called. So a
 * network thread that sees itself as leader in the snapshot it holds may use
 * the log, provided the broker keeps the log alive while any thread uses it
 * (e.g. refcounts, STYLE.md §4.4).
 *
 * Ownership: qr_cluster_new() copies everything in the conf; the callbacks'
 * @c opaque is borrowed for the cluster's lifetime.
 */
#ifndef QR_CLUSTER_H
#define QR_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "isrchange.h"
#include "meta.h"
#include "znode.h"

struct ev_loop;

typedef struct qr_cluster qr_cluster_t;

/** The settings the broker reads from server.properties (Kafka's keys). */
typedef struct qr_cluster_conf {
    const char *zk_connect;       /* zookeeper.connect: h:p[,h:p...][/chroot] */
    int zk_session_timeout_ms;    /* zookeeper.session.timeout.ms (6000) */
    int zk_connection_timeout_ms; /* zookeeper.connection.timeout.ms: give
                                     up the first connection after this */
    int32_t broker_id;            /* broker.id, >= 0 */
    const char *host;             /* advertised host (never empty) */
    int port;                     /* advertised port, 1..65535 */
    int kafka_port; /* advertised Kafka listener port (issue 13), 0: none */
    int controller_eligible; /* 1: run for controller (the default) */
    int auto_create_topics;  /* auto.create.topics.enable */
    int32_t num_partitions;  /* num.partitions, for auto-creation */
    int32_t default_replication_factor; /* default.replication.factor */
    int unclean_leader_election;        /* unclean.leader.election.enable, as
                                           the controller's default */
} qr_cluster_conf_t;

/** What qr_cluster_cbs_t.status reports. */
typedef enum qr_cluster_status {
    /* /brokers/ids/<id> now holds this broker: after start and after every
     * new session (expiry) */
    QR_CLUSTER_REGISTERED,
    /* the session expired; the cluster is re-creating it and will report
     * REGISTERED again. Leadership is kept meanwhile (Kafka does the same);
     * the controller decides again once the session is back. */
    QR_CLUSTER_SESSION_LOST,
    /* the broker cannot run: duplicate live broker id at start, no
     * ZooKeeper within zookeeper.connection.timeout.ms. @p msg says which;
     * the broker should stop and exit 1. */
    QR_CLUSTER_FATAL,
} qr_cluster_status_t;

/**
 * Callbacks into the broker. All run on the main loop, from inside the
 * cluster's ZooKeeper processing: they must not block for long, and must
 * not call qr_cluster_close()/qr_cluster_destroy() (schedule that instead).
 */
typedef struct qr_cluster_cbs {
    void *opaque; /* passed to every callback; borrowed */

    /* This broker is now the leader of topic-partition, at @p leader_epoch:
     * open its log, creating the directory if needed, with the topic's
     * overrides @p config (/config/topics/<t>, text as written by
     * quire-topics; borrowed for the call; never NULL, empty when the
     * topic has none) over the broker's defaults. A non-NONE return is
     * logged and the open is tried again after a delay (the snapshot does
     * not show the partition as led meanwhile). Also called again with a
     * higher epoch when the controller re-elects this broker. */
    quire_err_t (*open_partition)(void *opaque, const char *topic,
                                  int32_t partition, int32_t leader_epoch,
                                  const qr_topic_config_t *config);

    /* This broker no longer leads topic-partition: stop serving it and
     * close the log (data stays on disk). */
    void (*close_partition)(void *opaque, const char *topic, int32_t partition);

    /* The topic is being deleted and this broker holds a replica of
     * topic-partition: remove its data from disk (close it first if open;
     * close_partition is called before this when it was led). Called even
     * if the log was never opened; deleting what does not exist is success.
     * A non-NONE return is logged and retried after a delay; the controller
     * finishes the deletion only when every replica is deleted. */
    quire_err_t (*delete_partition)(void *opaque, const char *topic,
                                    int32_t partition);

    /* Session and registration events (see qr_cluster_status_t). @p msg is
     * one line for the log, borrowed for the call. May be NULL. */
    void (*status)(void *opaque, qr_cluster_status_t status, quire_err_t err,
                   const char *msg);

    /* The overrides of @p topic changed (set, altered or removed) while
     * this broker leads some of its partitions: apply @p config (borrowed
     * for the call; empty: back to the defaults) to their open logs. Called
     * once per change and topic, after the view settles. May be NULL. */
    void (*topic_config)(void *opaque, const char *topic,
                         const qr_topic_config_t *config);

    /* The state of a partition this broker leads, as the view read it:
     * its replica list, the state znode (@p st: leader, leader epoch,
     * controller epoch, ISR) and that znode's version (for the leader's
     * conditional ISR writes, qr_cluster_isr_write()). Called right after
     * a successful open_partition, and whenever the version or the
     * replica list changes while it is led. All borrowed for the call.
     * May be NULL. */
    void (*partition_state)(void *opaque, const char *topic, int32_t partition,
                            const qr_replicas_t *replicas,
                            const qr_pstate_t *st, int32_t version);

    /* Replication (issue 16). This broker is a replica of topic-partition
     * and the state names another leader: @p leader (-1 when the state
     * has none or the leader is not registered; @p leader_host NULL then)
     * at @p leader_epoch, registered at @p leader_host:@p leader_port
     * (borrowed for the call). Called again whenever the leader, its epoch,
     * its address or the topic's overrides (@p config, as open_partition)
     * change, and after open_partition's leadership ended (close_partition
     * is then NOT called: the log stays open). A non-NONE return is logged
     * and retried after a delay. Optional (NULL: replicas not led are
     * ignored, as before replication); unfollow_partition is then
     * mandatory. */
    quire_err_t (*follow_partition)(void *opaque, const char *topic,
                                    int32_t partition, int32_t leader,
                                    int32_t leader_epoch,
                                    const char *leader_host, int leader_port,
                                    const qr_topic_config_t *config);

    /* This broker followed topic-partition and is no longer one of its
     * replicas (reassigned away) nor its leader: stop fetching, close the
     * log, and remove its data when @p delete_data (the topic still exists
     * without us; 0 when the topic itself vanished from the view). A topic
     * being deleted goes through delete_partition instead. */
    void (*unfollow_partition)(void *opaque, const char *topic,
                               int32_t partition, int delete_data);
} qr_cluster_cbs_t;

/**
 * @brief Checks @p conf and builds the cluster object; nothing is contacted
 * until qr_cluster_start().
 * @param conf borrowed; everything needed is copied.
 * @param cbs borrowed; copied. open_partition, close_partition and
 *        delete_partition are mandatory.
 * @returns owned (qr_cluster_destroy()), or NULL with a one-line reason in
 *          @p errstr (bad connect string, bad id or port).
 * @locality main loop  @locks none
 */
qr_cluster_t *qr_cluster_new(struct ev_loop *loop,
                             const qr_cluster_conf_t *conf,
                             const qr_cluster_cbs_t *cbs, char *errstr,
                             size_t errstr_size);

/**
 * @brief Starts the session; registration, the controller election and
 * the watches follow on the loop. Progress is reported through the status
 * callback.
 * @returns QUIRE_ERR_NONE, or QUIRE_ERR_ZK with @p errstr when the client
 *          could not be created.
 * @locality main loop  @locks none
 */
quire_err_t qr_cluster_start(qr_cluster_t *cl, char *errstr,
                             size_t errstr_size);

/**
 * @brief The current snapshot, with a reference the caller must drop with
 * qr_meta_release(). Before the first ZooKeeper read completes it is an
 * empty snapshot (no brokers, no topics).
 * @returns owned reference; never NULL.
 * @locality any  @locks takes the cluster's snapshot mutex briefly
 */
qr_meta_t *qr_cluster_meta_get(qr_cluster_t *cl);

/**
 * @brief The broker id this cluster object registers.
 * @locality any  @locks none
 */
int32_t qr_cluster_broker_id(const qr_cluster_t *cl);

/**
 * @brief Asks for @p topic to be created with num.partitions partitions and
 * default.replication.factor (Kafka's auto-creation on Metadata). It returns
 * at once; the Metadata answer for the topic should be LEADER_NOT_AVAILABLE
 * until a snapshot shows the topic with leaders, as Kafka does. Requests
 * are de-duplicated and queued (bounded: at most 256 pending).
 * @param topic borrowed; copied.
 * @returns QUIRE_ERR_NONE (queued, or already pending);
 *          QUIRE_ERR_INVALID_TOPIC_EXCEPTION for a bad name;
 *          QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION when auto-creation is off;
 *          QUIRE_ERR_QUEUE_FULL when too many are pending.
 * @locality any (wakes the main loop through an ev_async)  @locks takes the
 *           cluster's request mutex briefly
 */
quire_err_t qr_cluster_topic_autocreate(qr_cluster_t *cl, const char *topic);

/** @brief The session (issue 22: producer id blocks). @returns borrowed,
 * valid until qr_cluster_destroy(). @locality main loop @locks none */
struct qr_zk *qr_cluster_zk(qr_cluster_t *cl);

/**
 * @brief A leader's ISR change (issue 16 item 5): writes @p st over state
 * version @p version of topic-partition, then the
 * /isr_change_notification (isrchange.h has the rules and results).
 * @param cb runs on the main loop unless this returns an error or the
 *        cluster closes first.
 * @returns QUIRE_ERR_NONE, or ZK_CONNECTION_LOSS / STATE (closed) when
 *          nothing was sent.
 * @locality main loop  @locks none
 */
quire_err_t qr_cluster_isr_write(qr_cluster_t *cl, const char *topic,
                                 int32_t partition, const qr_pstate_t *st,
                                 int32_t version, qr_isrchange_cb *cb,
                                 void *opaque);

/**
 * @brief Whether this broker is the elected controller right now.
 * @locality main loop  @locks none
 */
int qr_cluster_is_controller(const qr_cluster_t *cl);

/** Reports the end of a controlled shutdown (see below). */
typedef void(qr_cluster_shutdown_cb_t)(void *opaque, int moved,
                                       const char *msg);

/**
 * @brief Starts a controlled shutdown (issue 16 item 9; ctlshutdown.h):
 * asks the controller, through the ephemeral
 * /admin/controlled_shutdown/<id>, to move every leadership this broker
 * holds to another ISR member, and waits until the view shows it leading
 * nothing that could move, for at most @p max_retries attempts of
 * @p backoff_ms (controlled.shutdown.max.retries,
 * controlled.shutdown.retry.backoff.ms). The broker keeps serving
 * meanwhile. @p cb runs once, on the main loop, with @p moved 1 when done
 * or 0 when the attempts ran out; the broker then stops as usual
 * (qr_cluster_close()). A second call while one runs does nothing.
 * @returns QUIRE_ERR_NONE, or QUIRE_ERR_STATE when not started or closed.
 * @locality main loop  @locks none
 */
quire_err_t qr_cluster_controlled_shutdown(qr_cluster_t *cl, int max_retries,
                                           int64_t backoff_ms,
                                           qr_cluster_shutdown_cb_t *cb,
                                           void *opaque);

/**
 * @brief Stops the watchers, deletes this broker's registration and closes
 * the ZooKeeper session (the ephemerals go at once instead of after the
 * session timeout). close_partition is called for every partition still
 * led. Idempotent.
 * @locality main loop (not from inside a cluster callback)  @locks none
 */
void qr_cluster_close(qr_cluster_t *cl);

/**
 * @brief Closes (if not yet closed) and frees @p cl. Accepts NULL.
 * @locality main loop (not from inside a cluster callback)  @locks none
 */
void qr_cluster_destroy(qr_cluster_t *cl);

#endif /* QR_CLUSTER_H */
