/*
 * znode: the ZooKeeper layout of DESIGN.md §5 (Kafka's), paths and JSON.
 *
 *   /brokers/ids/<id>                          {"version":1,"host":..,
 *                                               "port":..,"timestamp":"ms",
 *                                               "jmx_port":-1}
 *   /brokers/topics/<t>                        {"version":1,"partitions":
 *                                               {"0":[ids],...}}
 *   /brokers/topics/<t>/partitions/<p>/state   {"version":1,"leader":..,
 *                                               "leader_epoch":..,"isr":[..],
 *                                               "controller_epoch":..}
 *   /config/topics/<t>                         {"version":1,"config":
 *                                               {"k":"v",...}}
 *   /admin/delete_topics/<t>                   (no data)
 *   /admin/delete_topics/<t>/<broker id>       (no data) a broker deleted
 *                                              its replicas (quire's; Kafka
 *                                              uses a StopReplica RPC)
 *   /admin/controlled_shutdown/<broker id>     (ephemeral, no data) the
 *                                              broker asks the controller
 *                                              to move its leadership away
 *                                              (quire's; Kafka uses an RPC)
 *   /controller                                {"version":1,"brokerid":..,
 *                                               "timestamp":"ms"}
 *   /controller_epoch                          decimal
 *   /isr_change_notification/isr_change_<seq>  {"version":1,"partitions":
 *                                               [{"topic":..,"partition":..}]}
 *                                              a leader changed an ISR
 *
 * Every reader refuses malformed data (wrong type, missing field, version
 * other than 1, out-of-range number) with QUIRE_ERR_BAD_JSON and one line
 * in errstr; it never trusts a length or an index it read.
 */
#ifndef QR_ZNODE_H
#define QR_ZNODE_H

#include <stddef.h>
#include <stdint.h>

#include "assign.h"
#include "err.h"

#define QR_ZNODE_BROKERS          "/brokers"
#define QR_ZNODE_BROKER_IDS       "/brokers/ids"
#define QR_ZNODE_TOPICS           "/brokers/topics"
#define QR_ZNODE_CONFIG           "/config"
#define QR_ZNODE_CONFIG_TOPICS    "/config/topics"
#define QR_ZNODE_ADMIN            "/admin"
#define QR_ZNODE_DELETE_TOPICS    "/admin/delete_topics"
#define QR_ZNODE_CONSUMERS        "/consumers"
#define QR_ZNODE_CONTROLLER       "/controller"
#define QR_ZNODE_CONTROLLER_EPOCH "/controller_epoch"
/* A leader's ISR changes, for the controller (Kafka 0.8.2's layout):
 * persistent sequential children isr_change_<seq> */
#define QR_ZNODE_ISR_CHANGE        "/isr_change_notification"
#define QR_ZNODE_ISR_CHANGE_PREFIX "/isr_change_notification/isr_change_"
/* Brokers asking for a controlled shutdown (issue 16 item 9) */
#define QR_ZNODE_CONTROLLED_SHUTDOWN "/admin/controlled_shutdown"

/* issue 13: /consumers/<g>/<QR_ZNODE_GROUP_KAFKA>/<broker id>, ephemeral,
 * held by the broker that coordinates <g> over Kafka's protocol while the
 * group has Kafka-protocol members. ZooKeeper-coordinated members (group.c)
 * refuse to join while it has children, and the coordinator refuses Kafka
 * members while /consumers/<g>/ids has children: each side creates its own
 * node first and checks the other's after, so two joining at once cannot
 * both miss each other (ZooKeeper orders all writes). */
#define QR_ZNODE_GROUP_KAFKA "kafka"

/* issue 16 item 10: Kafka 0.8.2's admin requests (coordinator/partlist.h) */
#define QR_ZNODE_PREFERRED_ELECTION "/admin/preferred_replica_election"
#define QR_ZNODE_REASSIGN           "/admin/reassign_partitions"

/** The persistent roots, parents first, created at start. */
extern const char *const qr_znode_roots[];
extern const size_t qr_znode_root_cnt;

/* ---- paths ----
 * Each @returns an owned string (free()); topic names must have passed
 * qr_topic_name_check(). @locality any  @locks none */
char *qr_znode_broker_path(int32_t id);
char *qr_znode_topic_path(const char *topic);
char *qr_znode_partitions_path(const char *topic);
char *qr_znode_partition_path(const char *topic, int32_t partition);
char *qr_znode_state_path(const char *topic, int32_t partition);
char *qr_znode_config_path(const char *topic);
char *qr_znode_delete_path(const char *topic);
char *qr_znode_delete_ack_path(const char *topic, int32_t id);
char *qr_znode_controlled_shutdown_path(int32_t id);

/**
 * @brief Parses a non-negative decimal int32 (a broker id or partition
 * number from a znode name): digits only, no sign, no leading zeros.
 * @returns 0, or -1 when @p s is not one.
 * @locality any  @locks none
 */
int qr_znode_parse_id(const char *s, int32_t *out);

/* ---- brokers/ids ---- */

typedef struct qr_znode_broker {
    char *host; /* owned: free() */
    int port;
    /* The port of a "KAFKA://host:port" entry of Kafka's "endpoints" array
     * (issue 13), 0 when there is none. */
    int kafka_port;
    int64_t timestamp; /* ms since the epoch, 0 if absent */
} qr_znode_broker_t;

/** @brief The registration JSON. @returns owned string. @locality any */
char *qr_znode_broker_encode(const char *host, int port, int64_t ts_ms);

/**
 * @brief The registration JSON with Kafka's endpoints (still "version":
 * 1, which every quire reader accepts):
 * "endpoints": ["PLAINTEXT://host:port"] plus "KAFKA://host:kafka_port"
 * when @p kafka_port is not 0, and "listener_security_protocol_map" naming
 * both PLAINTEXT; "host" and "port" stay quire's listener, as before.
 * @returns owned string. @locality any
 */
char *qr_znode_broker_encode_ep(const char *host, int port, int kafka_port,
                                int64_t ts_ms);

/** @brief Parses a registration (@p data of @p len bytes, borrowed).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_BAD_JSON (@p errstr). On success
 * out->host is owned by the caller. @locality any */
quire_err_t qr_znode_broker_decode(const char *data, int len,
                                   qr_znode_broker_t *out, char *errstr,
                                   size_t errstr_size);

/* ---- brokers/topics/<t> ---- */

/** @brief The assignment JSON. @returns owned string. @locality any */
char *qr_znode_topic_encode(const qr_assign_t *a);

/** @brief Parses an assignment: partitions must be "0".."n-1" exactly,
 * each a non-empty array of distinct non-negative ids.
 * @param out filled on success, owned by the caller (qr_assign_free()).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_BAD_JSON. @locality any */
quire_err_t qr_znode_topic_decode(const char *data, int len, qr_assign_t *out,
                                  char *errstr, size_t errstr_size);

/* ---- partition state ---- */

/* qr_pstate_t is in assign.h */

/** @brief The state JSON. @returns owned string. @locality any */
char *qr_znode_state_encode(const qr_pstate_t *st);

/** @brief Parses a state node. @returns QUIRE_ERR_NONE or
 * QUIRE_ERR_BAD_JSON. @locality any */
quire_err_t qr_znode_state_decode(const char *data, int len, qr_pstate_t *out,
                                  char *errstr, size_t errstr_size);

/* ---- isr_change_notification ---- */

/**
 * @brief The data of an isr_change_ node:
 * {"version":1,"partitions":[{"topic":"t","partition":p}]}.
 * @returns owned string. @locality any @locks none
 */
char *qr_znode_isr_change_encode(const char *topic, int32_t partition);

/**
 * @brief Parses an isr_change_ node (one or more partitions; Kafka's
 * controller reads the same).
 * @param topics, partitions set to owned arrays of *@p n entries (free()
 *        each topic, then both arrays) on success.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_BAD_JSON. @locality any @locks none
 */
quire_err_t qr_znode_isr_change_decode(const char *data, int len,
                                       char ***topics, int32_t **partitions,
                                       size_t *n, char *errstr,
                                       size_t errstr_size);

/* ---- config/topics/<t> ---- */

/** A topic's configuration overrides, as text. */
typedef struct qr_topic_config {
    char **keys, **values; /* owned */
    size_t n;
} qr_topic_config_t;

/**
 * @brief Checks one override: the key must be one quire implements
 * (retention.ms, retention.bytes, segment.bytes, segment.ms,
 * max.message.bytes, flush.messages, flush.ms, index.interval.bytes,
 * segment.index.bytes, file.delete.delay.ms, cleanup.policy=delete,
 * min.insync.replicas, ...) and
 * the value in range.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_INVALID_CONFIG (@p errstr names
 *          the key and the reason).
 * @locality any  @locks none
 */
quire_err_t qr_topic_config_check(const char *key, const char *value,
                                  char *errstr, size_t errstr_size);

/** @brief Sets @p key to @p value (copies; replaces an existing key). @locality
 * any @locks none */
void qr_topic_config_set(qr_topic_config_t *cfg, const char *key,
                         const char *value);

/** @brief Removes @p key if present. @returns 1 if it was there. @locality any
 * @locks none */
int qr_topic_config_unset(qr_topic_config_t *cfg, const char *key);

/** @brief Frees what @p cfg owns and zeroes it. Accepts NULL. @locality any
 * @locks none */
void qr_topic_config_free(qr_topic_config_t *cfg);

/** @brief The config JSON. @returns owned string. @locality any */
char *qr_znode_config_encode(const qr_topic_config_t *cfg);

/** @brief Parses a config node (string values; numbers are accepted and
 * kept as text, as Kafka's tools write strings). @returns QUIRE_ERR_NONE
 * or QUIRE_ERR_BAD_JSON. @locality any */
quire_err_t qr_znode_config_decode(const char *data, int len,
                                   qr_topic_config_t *out, char *errstr,
                                   size_t errstr_size);

/* ---- controller ---- */

/** @brief The /controller JSON. @returns owned string. @locality any @locks
 * none */
char *qr_znode_controller_encode(int32_t broker_id, int64_t ts_ms);

/** @brief Parses /controller. @returns QUIRE_ERR_NONE or BAD_JSON. @locality
 * any @locks none */
quire_err_t qr_znode_controller_decode(const char *data, int len,
                                       int32_t *broker_id, char *errstr,
                                       size_t errstr_size);

/** @brief Parses /controller_epoch (decimal, 0..INT32_MAX).
 * @returns QUIRE_ERR_NONE or BAD_JSON. @locality any @locks none */
quire_err_t qr_znode_epoch_decode(const char *data, int len, int32_t *epoch,
                                  char *errstr, size_t errstr_size);

#endif /* QR_ZNODE_H */
