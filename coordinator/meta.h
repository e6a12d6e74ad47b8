/*
 * meta: an immutable, refcounted snapshot of the cluster as ZooKeeper
 * describes it (brokers, topics, partitions, leaders): what the Metadata
 * API answers from and what a network thread checks before appending.
 *
 * The coordinator builds a new snapshot on the main loop after every change
 * it sees and publishes it (qr_cluster_meta_get()); readers on any thread
 * hold a reference while they use it. Nothing in a published snapshot ever
 * changes, so readers need no lock (RK's metadata cache idea, made
 * copy-on-write).
 */
#ifndef QR_META_H
#define QR_META_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct qr_meta_broker {
    int32_t id;
    char *host; /* owned by the snapshot */
    int port;
    int kafka_port; /* its Kafka listener (issue 13), 0: none */
} qr_meta_broker_t;

typedef struct qr_meta_part {
    int32_t partition;
    int32_t leader;       /* broker id, -1 when none */
    int32_t leader_epoch; /* -1 when the partition has no state yet */
    int32_t *replicas;    /* owned by the snapshot; preferred leader first */
    size_t replica_cnt;
    int32_t *isr; /* owned by the snapshot */
    size_t isr_cnt;
    /* NONE when the leader is a live broker; LEADER_NOT_AVAILABLE when
     * the partition has no state yet, leader -1 or a dead leader */
    quire_err_t err;
} qr_meta_part_t;

typedef struct qr_meta_topic {
    char *name;            /* owned by the snapshot */
    qr_meta_part_t *parts; /* owned; index == partition id */
    size_t part_cnt;
    int deleting; /* a deletion request exists for it */
} qr_meta_topic_t;

typedef struct qr_meta {
    int refcnt;                /* atomic; use qr_meta_keep/qr_meta_release */
    int32_t controller_id;     /* -1 when no controller is elected */
    qr_meta_broker_t *brokers; /* owned; sorted by id */
    size_t broker_cnt;
    qr_meta_topic_t *topics; /* owned; sorted by name */
    size_t topic_cnt;
} qr_meta_t;

/**
 * @brief An empty snapshot with one reference (no brokers, no topics,
 * controller -1). The builder fills the arrays before publishing it.
 * @returns owned; release with qr_meta_release().
 * @locality any  @locks none
 */
qr_meta_t *qr_meta_new(void);

/**
 * @brief Takes one more reference on @p meta.
 * @returns @p meta.
 * @locality any  @locks none
 */
qr_meta_t *qr_meta_keep(qr_meta_t *meta);

/**
 * @brief Drops one reference; frees the snapshot with the last one.
 * Accepts NULL.
 * @locality any  @locks none
 */
void qr_meta_release(qr_meta_t *meta);

/**
 * @brief Sorts brokers by id and topics by name (the builder calls it once
 * before publishing, so lookups can bisect).
 * @locality the builder's thread  @locks none
 */
void qr_meta_sort(qr_meta_t *meta);

/**
 * @brief The broker with @p id.
 * @returns borrowed, valid while the caller holds @p meta; NULL if absent.
 * @locality any  @locks none
 */
const qr_meta_broker_t *qr_meta_broker_find(const qr_meta_t *meta, int32_t id);

/**
 * @brief The topic called @p name.
 * @returns borrowed, valid while the caller holds @p meta; NULL if absent.
 * @locality any  @locks none
 */
const qr_meta_topic_t *qr_meta_topic_find(const qr_meta_t *meta,
                                          const char *name);

/**
 * @brief The partition @p partition of @p topic.
 * @returns borrowed, valid while the caller holds @p meta; NULL if the topic
 *          or the partition does not exist.
 * @locality any  @locks none
 */
const qr_meta_part_t *qr_meta_part_find(const qr_meta_t *meta,
                                        const char *topic, int32_t partition);

#endif /* QR_META_H */
