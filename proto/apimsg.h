/*
 * apimsg: the protocol-neutral request and response structs every API
 * handler takes and fills (DESIGN.md §9, issue 13). Neither protocol's
 * bytes appear here: proto/wire.c converts quire's protobuf-c frames to and
 * from these structs, proto/kwire.c Kafka's. A handler that works on them
 * serves both listeners.
 *
 * Ownership is the codec's: see wire.h ("Ownership") for quire's decode
 * arena; Kafka's decoder owns its arena itself and frees it when the
 * handler returns. Everything a handler gets is borrowed for its call.
 */
#ifndef QR_APIMSG_H
#define QR_APIMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "kadminmsg.h" /* issue 13: the topic-admin APIs' bodies */
#include "kgroupmsg.h" /* issue 13: the group APIs' bodies */

/* ---- limits on what a peer may send ---- */

/** Longest client_id or broker host name (Kafka's int16 string). */
#define QR_WIRE_STRING_MAX 32767
/** Longest topic name accepted on the wire. Longer names are refused by
 * decode; legal names are checked by the handler (qr_topic_name_check), so
 * an illegal one gets INVALID_TOPIC_EXCEPTION for that topic alone. */
#define QR_WIRE_TOPIC_MAX 1024
/** Most topics in one request or response. */
#define QR_WIRE_TOPICS_MAX 100000
/** Most partitions in one request or response, all topics together. */
#define QR_WIRE_PARTITIONS_MAX 1000000
/** Most brokers in a Metadata response; most replicas or ISR entries of a
 * partition. */
#define QR_WIRE_BROKERS_MAX  65536
#define QR_WIRE_REPLICAS_MAX 1024

/** Special ListOffsets timestamps (Kafka's). */
#define QR_OFFSET_LATEST   (-1)
#define QR_OFFSET_EARLIEST (-2)

/** Kafka's API keys, the same numbers as quire.proto's ApiKey. */
typedef enum qr_api {
    QR_API_UNKNOWN = -1, /**< absent, or a key this build does not know */
    QR_API_PRODUCE = 0,
    QR_API_FETCH = 1,
    QR_API_LIST_OFFSETS = 2,
    QR_API_METADATA = 3,
    /* issue 13: Kafka's group APIs (kgroupmsg.h), Kafka listener only */
    QR_API_OFFSET_COMMIT = 8,
    QR_API_OFFSET_FETCH = 9,
    QR_API_FIND_COORDINATOR = 10,
    QR_API_JOIN_GROUP = 11,
    QR_API_HEARTBEAT = 12,
    QR_API_LEAVE_GROUP = 13,
    QR_API_SYNC_GROUP = 14,
    QR_API_DESCRIBE_GROUPS = 15,
    QR_API_LIST_GROUPS = 16,
    QR_API_API_VERSIONS = 18,
    QR_API_CREATE_TOPICS = 19,    /**< Kafka listener only (issue 13) */
    QR_API_DELETE_TOPICS = 20,    /**< Kafka listener only (issue 13) */
    QR_API_INIT_PRODUCER_ID = 22, /**< issue 22 */
    QR_API_OFFSET_FOR_LEADER_EPOCH = 23,
    QR_API_DESCRIBE_CONFIGS = 32, /**< Kafka listener only (issue 13) */
} qr_api_t;

/** One row of the version table. */
typedef struct qr_api_version {
    qr_api_t api_key;
    int16_t min_version;
    int16_t max_version;
} qr_api_version_t;

/* ---- ApiVersions ---- (the request has no fields) */

typedef struct qr_api_versions_resp {
    quire_err_t error_code;
    size_t api_count;
    const qr_api_version_t *apis;
} qr_api_versions_resp_t;

/* ---- Metadata ---- */

typedef struct qr_metadata_req {
    size_t topic_count; /**< 0: every topic (unless no_topics) */
    const char *const *topics;
    /** Kafka v1+: an empty list asks for no topic at all (brokers only). */
    bool no_topics;
    bool allow_auto_topic_creation;
} qr_metadata_req_t;

typedef struct qr_metadata_broker {
    int32_t node_id;
    const char *host; /**< quire's listener */
    int32_t port;
    /** The broker's Kafka listener (issue 13); kafka_port 0: it has none,
     * and Kafka's codec leaves the broker out. kafka_host NULL: host. */
    const char *kafka_host;
    int32_t kafka_port;
} qr_metadata_broker_t;

typedef struct qr_metadata_part {
    quire_err_t error_code;
    int32_t partition;
    int32_t leader; /**< -1 when none */
    int32_t leader_epoch;
    size_t replica_count;
    const int32_t *replicas;
    size_t isr_count;
    const int32_t *isr;
} qr_metadata_part_t;

typedef struct qr_metadata_topic {
    quire_err_t error_code;
    const char *topic;
    size_t partition_count;
    const qr_metadata_part_t *partitions;
} qr_metadata_topic_t;

typedef struct qr_metadata_resp {
    size_t broker_count;
    const qr_metadata_broker_t *brokers;
    int32_t controller_id; /**< -1 when none */
    size_t topic_count;
    const qr_metadata_topic_t *topics;
} qr_metadata_resp_t;

/* ---- Produce ---- */

typedef struct qr_produce_part {
    int32_t partition;
    /** Bytes of this partition's record batches in the payload. */
    uint32_t records_length;
    /** Decode: a view of those bytes in the frame payload (borrowed from the
     * frame; NULL when records_length is 0). Encode: not read. */
    const uint8_t *records;
} qr_produce_part_t;

typedef struct qr_produce_topic {
    const char *topic;
    size_t partition_count;
    const qr_produce_part_t *partitions;
} qr_produce_topic_t;

typedef struct qr_produce_req {
    int16_t acks; /**< 0, 1, or -1 (all) */
    int32_t timeout_ms;
    size_t topic_count;
    const qr_produce_topic_t *topics;
} qr_produce_req_t;

typedef struct qr_produce_part_resp {
    int32_t partition;
    quire_err_t error_code;
    int64_t base_offset;
    int64_t log_append_time; /**< -1: the producer's CreateTime is kept */
    int64_t log_start_offset;
} qr_produce_part_resp_t;

typedef struct qr_produce_topic_resp {
    const char *topic;
    size_t partition_count;
    const qr_produce_part_resp_t *partitions;
} qr_produce_topic_resp_t;

typedef struct qr_produce_resp {
    size_t topic_count;
    const qr_produce_topic_resp_t *topics;
} qr_produce_resp_t;

/* ---- Fetch ---- */

/** Bytes of a file to send as they are (sendfile); fd < 0 or len 0: none.
 * @c release(arg) runs once when they are sent or dropped. */
typedef struct qr_file_range {
    int fd;
    int64_t pos;
    size_t len;
    void (*release)(void *arg);
    void *arg;
} qr_file_range_t;

typedef struct qr_fetch_part {
    int32_t partition;
    int64_t fetch_offset;
    int32_t partition_max_bytes;
    /** Followers (replica_id >= 0) only; encoded only for them, so a
     * zero-initialised consumer request stays as before. Decoded as -1
     * when absent. The leader epoch the follower knows (fencing). */
    int32_t current_leader_epoch;
    /** As current_leader_epoch: the follower's fdatasync'd end. */
    int64_t replica_synced_offset;
} qr_fetch_part_t;

typedef struct qr_fetch_topic {
    const char *topic;
    size_t partition_count;
    const qr_fetch_part_t *partitions;
} qr_fetch_topic_t;

typedef struct qr_fetch_req {
    int32_t replica_id; /**< -1 for consumers */
    int32_t max_wait_ms;
    int32_t min_bytes;
    int32_t max_bytes;
    size_t topic_count;
    const qr_fetch_topic_t *topics;
} qr_fetch_req_t;

typedef struct qr_fetch_part_resp {
    int32_t partition;
    quire_err_t error_code;
    int64_t high_watermark;
    int64_t log_start_offset;
    /** Bytes of record batches for this partition in the payload. */
    uint32_t records_length;
    /** Decode: a view into the frame payload (borrowed from the frame;
     * NULL when records_length is 0).
     * Encode: not read (the broker sends the bytes, e.g. by sendfile). */
    const uint8_t *records;
    /** Broker encode only: where the records_length bytes are, sent with
     * sendfile(2) by the codec in the place its protocol puts them (quire:
     * after the header, in order; Kafka: as each partition's last field).
     * Consumed by qr_request_respond() (released on every path). */
    qr_file_range_t file;
} qr_fetch_part_resp_t;

typedef struct qr_fetch_topic_resp {
    const char *topic;
    size_t partition_count;
    const qr_fetch_part_resp_t *partitions;
} qr_fetch_topic_resp_t;

typedef struct qr_fetch_resp {
    size_t topic_count;
    const qr_fetch_topic_resp_t *topics;
} qr_fetch_resp_t;

/* ---- ListOffsets ---- */

typedef struct qr_list_offsets_part {
    int32_t partition;
    /** QR_OFFSET_LATEST, QR_OFFSET_EARLIEST or a timestamp (ms). */
    int64_t timestamp;
} qr_list_offsets_part_t;

typedef struct qr_list_offsets_topic {
    const char *topic;
    size_t partition_count;
    const qr_list_offsets_part_t *partitions;
} qr_list_offsets_topic_t;

typedef struct qr_list_offsets_req {
    int32_t replica_id; /**< -1 for consumers */
    size_t topic_count;
    const qr_list_offsets_topic_t *topics;
} qr_list_offsets_req_t;

typedef struct qr_list_offsets_part_resp {
    int32_t partition;
    quire_err_t error_code;
    int64_t timestamp; /**< of the offset found, -1 when not by time */
    int64_t offset;    /**< -1 when none */
} qr_list_offsets_part_resp_t;

typedef struct qr_list_offsets_topic_resp {
    const char *topic;
    size_t partition_count;
    const qr_list_offsets_part_resp_t *partitions;
} qr_list_offsets_topic_resp_t;

typedef struct qr_list_offsets_resp {
    size_t topic_count;
    const qr_list_offsets_topic_resp_t *topics;
} qr_list_offsets_resp_t;

/* ---- InitProducerId (issue 22) ---- */

typedef struct qr_init_pid_req {
    /** Decode: never NULL ("" when absent: no transactions). */
    const char *transactional_id;
    int32_t transaction_timeout_ms;
} qr_init_pid_req_t;

typedef struct qr_init_pid_resp {
    quire_err_t error_code;
    int64_t producer_id;    /**< -1 on error */
    int16_t producer_epoch; /**< -1 on error */
} qr_init_pid_resp_t;
/* ---- OffsetForLeaderEpoch (issue 16) ---- */

typedef struct qr_epoch_req_part {
    int32_t partition;
    int32_t current_leader_epoch; /**< -1: no fencing check */
    int32_t leader_epoch;         /**< the epoch whose end is asked */
} qr_epoch_req_part_t;

typedef struct qr_epoch_req_topic {
    const char *topic;
    size_t partition_count;
    const qr_epoch_req_part_t *partitions;
} qr_epoch_req_topic_t;

typedef struct qr_epoch_req {
    int32_t replica_id; /**< the asking broker; -1 for tools */
    size_t topic_count;
    const qr_epoch_req_topic_t *topics;
} qr_epoch_req_t;

typedef struct qr_epoch_part_resp {
    int32_t partition;
    quire_err_t error_code;
    int32_t leader_epoch; /**< -1 when unknown */
    int64_t end_offset;   /**< -1 when unknown */
} qr_epoch_part_resp_t;

typedef struct qr_epoch_topic_resp {
    const char *topic;
    size_t partition_count;
    const qr_epoch_part_resp_t *partitions;
} qr_epoch_topic_resp_t;

typedef struct qr_epoch_resp {
    size_t topic_count;
    const qr_epoch_topic_resp_t *topics;
} qr_epoch_resp_t;

/* ---- envelopes ---- */

/** Arena that owns a decoded struct's memory (opaque). */
typedef struct qr_wire_mem qr_wire_mem_t;

typedef struct qr_req {
    qr_api_t api;
    int16_t api_version;
    int32_t correlation_id;
    /** After a decode error: whether correlation_id was read, i.e. whether
     * the request can be answered with the error (else close). Ignored by
     * encode. */
    bool has_correlation_id;
    /** Decode: never NULL ("" when absent). Encode: NULL for none. */
    const char *client_id;
    /** The body of api (ApiVersions has none). */
    union {
        qr_metadata_req_t metadata;
        qr_produce_req_t produce;
        qr_fetch_req_t fetch;
        qr_list_offsets_req_t list_offsets;
        qr_init_pid_req_t init_pid; /* issue 22 */
        qr_epoch_req_t offset_for_leader_epoch;
        qr_kgroup_req_t kgroup; /* issue 13: the group APIs */
        qr_kadmin_req_t kadmin; /* issue 13: topic administration */
    } u;
    qr_wire_mem_t *mem; /**< owned by a decoded struct; NULL otherwise */
} qr_req_t;

typedef struct qr_resp {
    /** The api answered; QR_API_UNKNOWN when the request's could not be read
     * (then nothing but error_code and correlation_id is sent). */
    qr_api_t api;
    int32_t correlation_id;
    /** Set when the request failed as a whole (unknown api or version,
     * malformed header); the body is then normally empty. */
    quire_err_t error_code;
    /** The body of api. */
    union {
        qr_api_versions_resp_t api_versions;
        qr_metadata_resp_t metadata;
        qr_produce_resp_t produce;
        qr_fetch_resp_t fetch;
        qr_list_offsets_resp_t list_offsets;
        qr_init_pid_resp_t init_pid; /* issue 22 */
        qr_epoch_resp_t offset_for_leader_epoch;
        qr_kgroup_resp_t kgroup; /* issue 13: the group APIs */
        qr_kadmin_resp_t kadmin; /* issue 13: topic administration */
    } u;
    qr_wire_mem_t *mem; /**< owned by a decoded struct; NULL otherwise */
} qr_resp_t;

#endif /* QR_APIMSG_H */
