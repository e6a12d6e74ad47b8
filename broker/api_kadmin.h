/*
 * api_kadmin: the topic-administration APIs of Kafka's protocol on the
 * broker (issue 13, item 5): CreateTopics, DeleteTopics and
 * DescribeConfigs. Their bodies are kadminmsg.h's; proto/kawire.c has the
 * bytes.
 *
 * CreateTopics and DeleteTopics write the znodes quire-topics writes
 * (coordinator/admin.h: qr_admin_plan_create*(), qr_admin_plan_delete()
 * and the same readings of their outcome); the controller and the brokers
 * do the rest, as for any topic. Every check is made before anything is
 * written, as Kafka's broker does: a topic named twice in one request
 * (INVALID_REQUEST), an illegal name (INVALID_TOPIC_EXCEPTION), one that
 * exists (TOPIC_ALREADY_EXISTS), a partition count (INVALID_PARTITIONS),
 * a replication factor above the live brokers
 * (INVALID_REPLICATION_FACTOR), a replica assignment together with
 * either, or not 0..n-1, or naming a broker that is not live
 * (INVALID_REQUEST, INVALID_REPLICA_ASSIGNMENT), a config override quire
 * does not implement or a bad value (INVALID_CONFIG). num_partitions and
 * replication_factor -1 take num.partitions and default.replication.factor.
 * validate_only writes nothing and answers what creating would. Topics to
 * delete must exist (UNKNOWN_TOPIC_OR_PARTITION); one marked already is
 * success.
 *
 * timeout_ms as Kafka: the answer waits until every partition of each
 * created topic has a live leader in this broker's metadata (a deleted
 * topic: until it is gone from it), at most timeout_ms, then answers
 * REQUEST_TIMED_OUT for what is not there yet (the znodes are written all
 * the same); timeout_ms <= 0 answers REQUEST_TIMED_OUT at once for every
 * topic written (librdkafka reads that as "in progress").
 *
 * DescribeConfigs: a topic (resource type 2) lists every topic key quire
 * implements (qr_topic_config_check()): its override from
 * /config/topics/<t> (source DYNAMIC_TOPIC_CONFIG), else the broker's
 * value of its log.* key (STATIC_BROKER_CONFIG when set in
 * server.properties, else DEFAULT_CONFIG); read_only false, is_sensitive
 * false; synonyms (v1+, when asked) in Kafka's order: the override, the
 * broker keys that were set, the default. This broker (type 4, its id or
 * "") lists every server.properties key, read_only (none is dynamic).
 * Other brokers' ids and other resource types: INVALID_REQUEST.
 *
 * Any broker answers (Kafka's clients send these to the controller, which
 * quire's brokers need not be: the znodes are the same whoever writes
 * them). Without a ZooKeeper session the topics get NOT_CONTROLLER (a
 * client looks up the controller and retries).
 */
#ifndef QR_API_KADMIN_H
#define QR_API_KADMIN_H

#include "request.h"

struct ev_loop;
struct qr_zk;

typedef struct qr_kasvc qr_kasvc_t;

/**
 * @brief The broker's topic-admin service (ZooKeeper not attached).
 * @param server borrowed; outlives the service.
 * @returns owned (qr_kasvc_destroy()).
 * @locality main loop  @locks none
 */
qr_kasvc_t *qr_kasvc_new(struct ev_loop *loop, qr_server_t *server);

/** @brief Starts using @p zk (a registered session; idempotent).
 * @locality main loop @locks none */
void qr_kasvc_attach(qr_kasvc_t *svc, struct qr_zk *zk);

/**
 * @brief Shutting down: requests waiting for the metadata are answered now
 * (REQUEST_TIMED_OUT for what is not there yet); later ones get
 * NOT_CONTROLLER.
 * @locality main loop  @locks takes the service's lock
 */
void qr_kasvc_close(qr_kasvc_t *svc);

/** @brief Stops using ZooKeeper (before the session is destroyed).
 * @locality main loop @locks none */
void qr_kasvc_detach(qr_kasvc_t *svc);

/** @brief Frees it; NULL is fine. @locality main loop */
void qr_kasvc_destroy(qr_kasvc_t *svc);

/** @brief The handlers, one per API (kcodec.c's table rows).
 * @locality net thread  @locks the service's queue lock, briefly */
void qr_api_create_topics(qr_reqctx_t *ctx);
void qr_api_delete_topics(qr_reqctx_t *ctx);
void qr_api_describe_configs(qr_reqctx_t *ctx);

#endif /* QR_API_KADMIN_H */
