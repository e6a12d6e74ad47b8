/*
 * admin: topic administration (issue 4, item 5), what quire-topics does:
 * create, alter, delete, list, describe, in Kafka's layout.
 *
 * Everything is checked before anything is written: the topic name
 * ([A-Za-z0-9._-]{1,249}, not "." or ".."), the partition count, the
 * replication factor against the live brokers (or a hand-made
 * --replica-assignment: its syntax, its broker ids against the live ones),
 * each config override (qr_topic_config_check()).
 *
 * qr_admin_plan_create() is pure and non-blocking (the broker's
 * auto-creation uses it on its loop); the qr_admin_* operations below it
 * block on the loop through zk_sync, for tools and tests.
 */
#ifndef QR_ADMIN_H
#define QR_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "assign.h"
#include "err.h"
#include "zk.h"
#include "zk_sync.h"
#include "znode.h"

/**
 * @brief Checks a topic creation and builds the multi that performs it:
 * create /brokers/topics/<t> (the assignment) and /config/topics/<t>.
 * @param cfg borrowed, may be NULL (no overrides).
 * @param live borrowed: the live broker ids.
 * @param start_index, shift the placement's random draws (assign.h).
 * @param out set to an owned multi on success (qr_zk_multi_submit()).
 * @returns QUIRE_ERR_NONE; INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS,
 *          INVALID_REPLICATION_FACTOR, BROKER_NOT_AVAILABLE,
 *          or INVALID_CONFIG, each with one line in @p errstr (a
 *          replication factor above the live brokers names both numbers).
 * @locality any  @locks none
 */
quire_err_t qr_admin_plan_create(const char *topic, int32_t partitions,
                                 int32_t rf, const qr_topic_config_t *cfg,
                                 const int32_t *live, size_t nlive,
                                 uint32_t start_index, uint32_t shift,
                                 qr_zk_multi_t **out, char *errstr,
                                 size_t errstr_size);

/** The environment variable that fixes the placement's random draws, as
 * "START:SHIFT" (tests; documented in quire-topics(1)). */
#define QR_ADMIN_PLACEMENT_ENV "QUIRE_REPLICA_PLACEMENT"

/**
 * @brief The placement's start index and shift: from
 * $QUIRE_REPLICA_PLACEMENT ("START:SHIFT") when set and well formed, else
 * random (Kafka draws both at random).
 * @returns 1 when they came from the environment, else 0.
 * @locality any  @locks none
 */
int qr_admin_placement_draws(uint32_t *start_index, uint32_t *shift);

/**
 * @brief Parses a hand-made assignment, Kafka's --replica-assignment:
 * partitions separated by ',', each partition's broker ids by ':', the
 * first id the preferred leader ("1:2:3,2:3:1").
 * @param live borrowed, may be NULL (syntax only): the live broker ids;
 *        an id not among them is refused.
 * @param out filled on success (owned: qr_assign_free()).
 * @returns QUIRE_ERR_NONE, or INVALID_REPLICA_ASSIGNMENT with one line in
 *          @p errstr naming the partition and the broker id (bad syntax, an
 *          id twice in a partition, a replica count unlike partition 0's,
 *          an id not live).
 * @locality any  @locks none
 */
quire_err_t qr_admin_parse_assignment(const char *spec, const int32_t *live,
                                      size_t nlive, qr_assign_t *out,
                                      char *errstr, size_t errstr_size);

/**
 * @brief As qr_admin_plan_create() with the assignment @p a given.
 * @param a borrowed.
 * @locality any  @locks none
 */
quire_err_t qr_admin_plan_create_assigned(const char *topic,
                                          const qr_assign_t *a,
                                          const qr_topic_config_t *cfg,
                                          qr_zk_multi_t **out, char *errstr,
                                          size_t errstr_size);

/**
 * @brief What a creation multi's outcome means (the multi of
 * qr_admin_plan_create*(), submitted by a tool or by the broker's
 * CreateTopics): @p rc the multi's, @p op_errs its per-op codes.
 * @returns QUIRE_ERR_NONE; TOPIC_ALREADY_EXISTS (the topic, or a stale
 *          /config/topics/<t>, named in @p errstr); a ZooKeeper error.
 * @locality any  @locks none
 */
quire_err_t qr_admin_create_result(const char *topic, int rc,
                                   const int *op_errs, int op_cnt,
                                   char *errstr, size_t errstr_size);

/**
 * @brief Checks a topic deletion and builds the multi that asks for it:
 * check that /brokers/topics/<t> exists, create /admin/delete_topics/<t>
 * (quire-topics --delete and the broker's DeleteTopics).
 * @param out set to an owned multi on success.
 * @returns QUIRE_ERR_NONE or INVALID_TOPIC_EXCEPTION (in @p errstr).
 * @locality any  @locks none
 */
quire_err_t qr_admin_plan_delete(const char *topic, qr_zk_multi_t **out,
                                 char *errstr, size_t errstr_size);

/**
 * @brief What a deletion multi's outcome means.
 * @param already set to 1 when the topic was marked already (success).
 * @returns QUIRE_ERR_NONE, UNKNOWN_TOPIC_OR_PARTITION, or a ZooKeeper
 *          error (in @p errstr).
 * @locality any  @locks none
 */
quire_err_t qr_admin_delete_result(const char *topic, int rc,
                                   const int *op_errs, int op_cnt,
                                   int *already, char *errstr,
                                   size_t errstr_size);

/** @brief Writes "@p action @p path: <ZooKeeper's reason>" to @p errstr.
 * @returns @p err. @locality any @locks none */
quire_err_t qr_admin_zk_fail(quire_err_t err, const qr_zk_sres_t *res,
                             const char *action, const char *path, char *errstr,
                             size_t errstr_size);

/**
 * @brief The ids registered under /brokers/ids (none: *@p n == 0).
 * @param ids set to an owned array (free()), unsorted.
 * @locality main thread, outside the loop  @locks none
 */
quire_err_t qr_admin_live_brokers(qr_zk_t *zk, int timeout_ms, int32_t **ids,
                                  size_t *n, char *errstr, size_t errstr_size);

/* ---- blocking operations (main thread of a tool, outside the loop) ----
 * Each waits at most @p timeout_ms per ZooKeeper call and reports one line
 * in @p errstr on failure. */

/**
 * @brief Creates @p topic with @p partitions partitions and @p rf
 * replicas each, on the brokers registered now.
 * @returns as qr_admin_plan_create(), plus TOPIC_ALREADY_EXISTS and the
 *          ZooKeeper errors (ZK_CONNECTION_LOSS, TIMED_OUT, ZK).
 * @locality main thread, outside the loop  @locks none
 */
quire_err_t qr_admin_create(qr_zk_t *zk, const char *topic, int32_t partitions,
                            int32_t rf, const qr_topic_config_t *cfg,
                            int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief Creates @p topic with the hand-made assignment @p spec
 * (qr_admin_parse_assignment(), checked against the brokers registered
 * now).
 * @returns as qr_admin_create(), or INVALID_REPLICA_ASSIGNMENT.
 * @locality main thread, outside the loop  @locks none
 */
quire_err_t qr_admin_create_assigned(qr_zk_t *zk, const char *topic,
                                     const char *spec,
                                     const qr_topic_config_t *cfg,
                                     int timeout_ms, char *errstr,
                                     size_t errstr_size);

/**
 * @brief Alters @p topic: grows it to @p partitions (-1: unchanged; fewer
 * than now is refused with INVALID_PARTITIONS), sets the overrides in
 * @p set and removes the keys in @p unset (each may be NULL/0).
 * @returns QUIRE_ERR_NONE, UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS,
 *          INVALID_CONFIG, ZK_BAD_VERSION (changed concurrently: retry), or
 *          a ZooKeeper error.
 * @locality main thread, outside the loop  @locks none
 */
quire_err_t qr_admin_alter(qr_zk_t *zk, const char *topic, int32_t partitions,
                           const qr_topic_config_t *set,
                           const char *const *unset, size_t unset_cnt,
                           int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief Marks @p topic for deletion (/admin/delete_topics/<t>); the
 * brokers and the controller complete it.
 * @param already set to 1 when it was marked already (not an error).
 * @returns QUIRE_ERR_NONE, UNKNOWN_TOPIC_OR_PARTITION, or a ZooKeeper
 *          error.
 * @locality main thread, outside the loop  @locks none
 */
quire_err_t qr_admin_delete(qr_zk_t *zk, const char *topic, int *already,
                            int timeout_ms, char *errstr, size_t errstr_size);

/** One partition of a description. */
typedef struct qr_admin_part {
    qr_replicas_t replicas; /* owned */
    int has_state;
    qr_pstate_t st;
} qr_admin_part_t;

/** One topic of a description; everything owned. */
typedef struct qr_admin_topic {
    char *name;
    int deleting; /* marked for deletion */
    qr_topic_config_t config;
    qr_admin_part_t *parts;
    size_t part_cnt;
} qr_admin_topic_t;

typedef struct qr_admin_desc {
    qr_admin_topic_t *topics; /* sorted by name */
    size_t topic_cnt;
    int32_t *brokers; /* live broker ids, sorted */
    size_t broker_cnt;
} qr_admin_desc_t;

/**
 * @brief Lists topics (names and deletion marks only when @p full is 0),
 * or describes them (assignment, states, config) when @p full is 1.
 * @param topic NULL for all topics; else only that one.
 * @param out filled on success; owned by the caller (qr_admin_desc_free()).
 * @returns QUIRE_ERR_NONE, UNKNOWN_TOPIC_OR_PARTITION (@p topic absent),
 *          BAD_JSON (a malformed znode, named), or a ZooKeeper error.
 * @locality main thread, outside the loop  @locks none
 */
quire_err_t qr_admin_describe(qr_zk_t *zk, const char *topic, int full,
                              qr_admin_desc_t *out, int timeout_ms,
                              char *errstr, size_t errstr_size);

/** @brief Frees what @p desc owns and zeroes it. Accepts NULL. @locality any
 * @locks none */
void qr_admin_desc_free(qr_admin_desc_t *desc);

#endif /* QR_ADMIN_H */
