/*
 * kadminmsg: the protocol-neutral request and response bodies of Kafka's
 * topic-administration APIs (issue 13, item 5): CreateTopics (19),
 * DeleteTopics (20), DescribeConfigs (32). Included by apimsg.h, whose
 * qr_req_t / qr_resp_t carry them in u.kadmin.
 *
 * Field names are Kafka's. Strings: decode gives never-NULL strings except
 * where "NULL when absent" is said. Ownership as in apimsg.h: everything
 * is borrowed from the request's decode arena, or from the handler for a
 * response.
 */
#ifndef QR_KADMINMSG_H
#define QR_KADMINMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/** Most topics, partitions of an assignment, configs or resources in one
 * request (each list). */
#define QR_KADMIN_LIST_MAX 100000

/* ---- CreateTopics ---- */

typedef struct qr_create_assignment {
    int32_t partition_index;
    size_t broker_count;
    const int32_t *broker_ids;
} qr_create_assignment_t;

typedef struct qr_create_config {
    const char *name;
    const char *value; /**< NULL when null */
} qr_create_config_t;

typedef struct qr_create_topic {
    const char *name;
    int32_t num_partitions;     /**< -1: the broker's num.partitions */
    int16_t replication_factor; /**< -1: default.replication.factor */
    size_t assignment_count;
    const qr_create_assignment_t *assignments;
    size_t config_count;
    const qr_create_config_t *configs;
} qr_create_topic_t;

typedef struct qr_create_topics_req {
    size_t topic_count;
    const qr_create_topic_t *topics;
    int32_t timeout_ms;
    bool validate_only; /**< v1+; false in v0 */
} qr_create_topics_req_t;

typedef struct qr_create_topic_result {
    const char *name;
    quire_err_t error_code;
    const char *error_message; /**< v1+; NULL when none */
} qr_create_topic_result_t;

typedef struct qr_create_topics_resp {
    size_t topic_count;
    const qr_create_topic_result_t *topics;
} qr_create_topics_resp_t;

/* ---- DeleteTopics ---- */

typedef struct qr_delete_topics_req {
    size_t topic_count;
    const char *const *topics;
    int32_t timeout_ms;
} qr_delete_topics_req_t;

typedef struct qr_delete_topic_result {
    const char *name;
    quire_err_t error_code;
} qr_delete_topic_result_t;

typedef struct qr_delete_topics_resp {
    size_t topic_count;
    const qr_delete_topic_result_t *topics;
} qr_delete_topics_resp_t;

/* ---- DescribeConfigs ---- */

/** Kafka's ConfigResource.Type ids. */
#define QR_KADMIN_RESOURCE_TOPIC  2
#define QR_KADMIN_RESOURCE_BROKER 4

/** Kafka's DescribeConfigsResponse.ConfigSource ids. */
typedef enum qr_config_source {
    QR_CONFIG_SOURCE_UNKNOWN = 0,
    QR_CONFIG_SOURCE_DYNAMIC_TOPIC = 1,
    QR_CONFIG_SOURCE_DYNAMIC_BROKER = 2,
    QR_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER = 3,
    QR_CONFIG_SOURCE_STATIC_BROKER = 4,
    QR_CONFIG_SOURCE_DEFAULT = 5,
} qr_config_source_t;

typedef struct qr_describe_resource {
    int8_t resource_type;
    const char *resource_name;
    bool all_keys; /**< configuration_keys null: every key */
    size_t key_count;
    const char *const *keys;
} qr_describe_resource_t;

typedef struct qr_describe_configs_req {
    size_t resource_count;
    const qr_describe_resource_t *resources;
    bool include_synonyms; /**< v1+ */
} qr_describe_configs_req_t;

typedef struct qr_config_synonym {
    const char *name;
    const char *value; /**< NULL when none */
    int8_t source;
} qr_config_synonym_t;

typedef struct qr_config_entry {
    const char *name;
    const char *value; /**< NULL when none */
    bool read_only;
    int8_t source; /**< v1+; v0 sends is_default (source == DEFAULT) */
    bool is_sensitive;
    size_t synonym_count; /**< v1+ */
    const qr_config_synonym_t *synonyms;
} qr_config_entry_t;

typedef struct qr_describe_result {
    quire_err_t error_code;
    const char *error_message; /**< NULL when none */
    int8_t resource_type;
    const char *resource_name;
    size_t config_count;
    const qr_config_entry_t *configs;
} qr_describe_result_t;

typedef struct qr_describe_configs_resp {
    size_t result_count;
    const qr_describe_result_t *results;
} qr_describe_configs_resp_t;

/* ---- in qr_req_t / qr_resp_t ---- */

typedef union qr_kadmin_req {
    qr_create_topics_req_t create;
    qr_delete_topics_req_t del;
    qr_describe_configs_req_t describe;
} qr_kadmin_req_t;

typedef union qr_kadmin_resp {
    qr_create_topics_resp_t create;
    qr_delete_topics_resp_t del;
    qr_describe_configs_resp_t describe;
} qr_kadmin_resp_t;

#endif /* QR_KADMINMSG_H */
