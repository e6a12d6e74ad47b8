/*
 * view: a watched, in-memory copy of the cluster's znodes, shared by the
 * controller and the broker side of one process.
 *
 * It reads, and keeps watches on: /brokers/ids and each registration,
 * /brokers/topics and each topic's assignment, every partition's state
 * (with its znode version, for the controller's conditional writes), each
 * topic's configuration overrides (/config/topics/<t>),
 * /admin/delete_topics with each marker's acknowledgements,
 * /admin/controlled_shutdown (brokers stopping, issue 16 item 9) and
 * /controller. Each watch that fires re-reads its node and re-arms itself.
 *
 * When no read is in flight the view is "settled" and its listeners run:
 * they see a consistent picture of everything read so far. On a new
 * session (and on a reconnect after a failed read) the view forgets all it
 * knew and reads everything again, re-arming every watch; listeners run
 * again once that reload settles.
 *
 * A malformed znode is logged and treated as absent (its topic is skipped),
 * never trusted.
 */
#ifndef QR_VIEW_H
#define QR_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "assign.h"
#include "zk.h"
#include "znode.h"

typedef struct qr_view_broker {
    int32_t id;
    char *host; /* owned; NULL until its registration was read */
    int port;
    int kafka_port; /* its KAFKA:// endpoint, 0: none (issue 13) */
} qr_view_broker_t;

typedef struct qr_view_part {
    int has_state; /* the state znode exists and parsed */
    qr_pstate_t st;
    int32_t version; /* the state znode's version */
} qr_view_part_t;

typedef struct qr_view_topic {
    char *name; /* owned */
    int loaded; /* the assignment was read and parsed */
    qr_assign_t assign;
    qr_view_part_t *parts;    /* owned; assign.part_cnt entries */
    qr_topic_config_t config; /* /config/topics/<name>: owned; empty when
                                 absent, unread or malformed */
    int64_t config_mzxid;     /* that node's last change (mzxid); 0 when
                                 absent or unread */
} qr_view_topic_t;

/** A deletion request, /admin/delete_topics/<name> (its topic may already
 * be gone). */
typedef struct qr_view_marker {
    char *name;    /* owned */
    int32_t *acks; /* owned: brokers that deleted their replicas */
    size_t ack_cnt;
    int acks_loaded; /* its children were read */
} qr_view_marker_t;

typedef struct qr_view qr_view_t;

/** Runs when the view settles (see the file comment). */
typedef void(qr_view_cb_t)(qr_view_t *view, void *opaque);

struct qr_view {
    qr_zk_t *zk;               /* borrowed */
    qr_view_broker_t *brokers; /* owned; sorted by id */
    size_t broker_cnt;
    qr_view_topic_t *topics; /* owned; sorted by name */
    size_t topic_cnt;
    qr_view_marker_t *markers; /* owned */
    size_t marker_cnt;
    int32_t *shutting; /* owned: ids under /admin/controlled_shutdown */
    size_t shutting_cnt;
    int32_t controller_id;    /* -1 when /controller is absent */
    int64_t controller_owner; /* its ephemeralOwner (session id) */
    int32_t controller_version;
    int loaded; /* a full read has settled since the last reload */

    /* private */
    void *gen; /* owner token of the current reload's requests */
    int inflight;
    int failed; /* a read failed: reload on the next reconnect */
    struct ev_loop *loop;
    void *settle_timer; /* ev_timer *, owned: coalesces listener calls */
    qr_view_cb_t *cb;
    void *opaque;
};

/**
 * @brief Creates a view over @p zk; it starts reading on the next SESSION
 * event (or at once if @p zk is connected).
 * @param cb called when the view settles; @p opaque is borrowed.
 * @returns owned: qr_view_destroy().
 * @locality main loop  @locks none
 */
qr_view_t *qr_view_new(qr_zk_t *zk, qr_view_cb_t *cb, void *opaque);

/** @brief Stops listening and frees the view. Accepts NULL.
 * @locality main loop @locks none */
void qr_view_destroy(qr_view_t *view);

/** @brief Whether broker @p id is registered (live).
 * @locality main loop @locks none */
int qr_view_broker_live(const qr_view_t *view, int32_t id);

/** @brief The topic called @p name. @returns borrowed until the view next
 * changes (the next zk callback); NULL if absent. @locality main loop @locks
 * none */
qr_view_topic_t *qr_view_topic(const qr_view_t *view, const char *name);

/** @brief Whether broker @p id asked for a controlled shutdown (its
 * /admin/controlled_shutdown/<id> exists). @locality main loop @locks none */
int qr_view_broker_shutting_down(const qr_view_t *view, int32_t id);

/** @brief The deletion marker of @p name. @returns borrowed as
 * qr_view_topic(); NULL if none. @locality main loop @locks none */
qr_view_marker_t *qr_view_marker(const qr_view_t *view, const char *name);

/**
 * @brief Re-reads one topic's assignment and partition states (e.g. after a
 * conditional write found them stale). The listeners run when it settles.
 * @locality main loop  @locks none
 */
void qr_view_refresh_topic(qr_view_t *view, const char *name);

/**
 * @brief Re-reads one partition's state (an /isr_change_notification named
 * it). Nothing when the view does not know the partition. The listeners
 * run when it settles.
 * @locality main loop  @locks none
 */
void qr_view_refresh_state(qr_view_t *view, const char *topic,
                           int32_t partition);

/**
 * @brief Records what a successful write of a state znode produced, so the
 * next decision uses the new version without waiting for the watch.
 * @locality main loop  @locks none
 */
void qr_view_note_state(qr_view_t *view, const char *topic, int32_t partition,
                        const qr_pstate_t *st, int32_t version);

#endif /* QR_VIEW_H */
