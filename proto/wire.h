/*
 * wire: the edge between protobuf-c and quire's own request and response
 * structs (DESIGN.md §9). API handlers (broker/api_*.c) and the client work
 * on the plain C structs below; protobuf-c appears in wire.c only, so a
 * second listener speaking Kafka's own protocol can fill the same structs.
 *
 * Direction of use:
 *   broker: qr_frame_parse -> qr_wire_req_decode -> handler fills a qr_resp_t
 *           -> qr_wire_resp_encode (prefix + header) -> write it, then the
 *           payload (Fetch: every partition's records, in order).
 *   client: fill a qr_req_t -> qr_wire_req_encode -> write it, then the
 *           payload (Produce: every partition's records, in order);
 *           qr_frame_parse -> qr_wire_resp_decode.
 *
 * ---- Ownership ----
 * A struct filled by a decode function owns all the memory it points to
 * (arrays, strings) through one arena, req->mem / resp->mem, released at
 * once by qr_wire_req_free() / qr_wire_resp_free(). The exception is
 * `records` (Produce request, Fetch response): a view into the frame
 * payload given to decode, valid as long as the caller's frame bytes are.
 * Nothing points into the header bytes: they may be reused once decode
 * returns.
 * A struct filled by the caller for an encode function has mem == NULL and
 * every pointer in it is the caller's, borrowed for the duration of the
 * call. Encoding never reads `records`: the caller sends the payload itself
 * after the encoded bytes, in header order.
 *
 * ---- Error codes on the wire ----
 * error_code fields are quire_err_t. quire.proto's ErrorCode has the same
 * names and numbers (tests/unit/check_proto_errors.c), so decoding is the
 * identity through quire_err_from_wire() (an unknown or local number from a
 * peer becomes UNKNOWN_SERVER_ERROR). Encoding never sends a local code:
 * IO becomes KAFKA_STORAGE_ERROR, TIMED_OUT becomes REQUEST_TIMED_OUT and any
 * other local code UNKNOWN_SERVER_ERROR.
 *
 * ---- Versions ----
 * qr_wire_api_versions() is the table of (api, min, max) this build serves;
 * ApiVersions answers with it and decode refuses any other version with
 * QUIRE_ERR_UNSUPPORTED_VERSION (api and correlation_id still set, so the
 * broker answers; for ApiVersions itself, answer as Kafka does: the error
 * plus the table, so the client can pick a version). The rule: adding an
 * optional field an older peer may ignore needs no new version; changing a
 * field's meaning, or adding one that must be understood, raises that API's
 * max version, and older versions stay served. Field numbers in
 * quire.proto are never reused. Every API is at version 0 today.
 *
 * Nothing here allocates before the header size is bounded by the frame
 * parser (QR_FRAME_REQ_HEADER_MAX), and every count and string taken from a
 * peer is checked against the QR_WIRE_*_MAX limits below. Duplicate
 * topic-partitions in one request are passed on as they came: what they mean
 * is the handler's decision.
 */
#ifndef QR_WIRE_H
#define QR_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "frame.h"

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
    QR_API_API_VERSIONS = 18,
    QR_API_INIT_PRODUCER_ID = 22, /**< issue 22 */
    QR_API_OFFSET_FOR_LEADER_EPOCH = 23,
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
    size_t topic_count; /**< 0: every topic */
    const char *const *topics;
    bool allow_auto_topic_creation;
} qr_metadata_req_t;

typedef struct qr_metadata_broker {
    int32_t node_id;
    const char *host;
    int32_t port;
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
    } u;
    qr_wire_mem_t *mem; /**< owned by a decoded struct; NULL otherwise */
} qr_resp_t;

/* ---- versions ---- */

/**
 * @brief The APIs and versions this build serves.
 * @param count out: the number of rows.
 * @returns a static table (borrowed, valid forever).
 * @locality any  @locks none
 */
const qr_api_version_t *qr_wire_api_versions(size_t *count);

/**
 * @brief Whether @p api at @p version is served by this build.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_UNSUPPORTED_VERSION.
 * @locality any  @locks none
 */
quire_err_t qr_wire_api_check(int api, int version);

/**
 * @brief The name of @p api ("Produce", "ListOffsets", ...), for logs.
 * @returns a static string; "Unknown" for a key not in the table.
 * @locality any  @locks none
 */
const char *qr_wire_api_name(int api);

/* ---- broker side: decode a request, encode a response ---- */

/**
 * @brief Converts a request frame into @p req, validating as it goes.
 * @param frame a complete frame from qr_frame_parse() (borrowed; the
 *   `records` views of a Produce request point into frame->payload).
 * @param req out: filled on success; on failure only api, api_version,
 *   correlation_id and has_correlation_id are meaningful, so the caller can
 *   answer with the error. Always release it with qr_wire_req_free(), on
 *   success and on error.
 * @returns QUIRE_ERR_NONE;
 *   QUIRE_ERR_INVALID_REQUEST: the header is not a Request, a field is out
 *   of range, a count or string is above its limit, the body does not match
 *   the api, or the Produce records_length values do not sum to exactly
 *   the payload length (or a request other than Produce has a payload);
 *   QUIRE_ERR_UNSUPPORTED_VERSION: unknown api or version outside the table;
 *   QUIRE_ERR_INVALID_REQUIRED_ACKS: Produce acks not in {-1, 0, 1};
 *   QUIRE_ERR_NO_MEMORY: allocation failed.
 * @locality any  @locks none
 */
quire_err_t qr_wire_req_decode(const qr_frame_t *frame, qr_req_t *req);

/**
 * @brief Releases what a decoded @p req owns and zeroes it. Accepts NULL and
 * a caller-built struct (mem == NULL: nothing is freed).
 * @locality any  @locks none
 */
void qr_wire_req_free(qr_req_t *req);

/**
 * @brief Bytes of payload that follow the encoded response: the sum of the
 * Fetch records_length values, 0 for other apis.
 * @locality any  @locks none
 */
uint64_t qr_wire_resp_payload_len(const qr_resp_t *resp);

/**
 * @brief Encodes the frame prefix and header of @p resp into @p buf; the
 * prefix counts qr_wire_resp_payload_len(resp) payload bytes, which the
 * caller sends right after.
 * @param resp borrowed.
 * @param buf,cap destination (borrowed); buf may be NULL when cap is 0.
 * @param len out: bytes written, or on QUIRE_ERR_BUF_FULL the bytes needed.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_BUF_FULL; QUIRE_ERR_BAD_ARG when a
 *   count or string is above the QR_WIRE_* limits or api does not fit the
 *   body; QUIRE_ERR_FRAME_TOO_LARGE when the frame would not fit 32-bit
 *   lengths; QUIRE_ERR_NO_MEMORY.
 * @locality any  @locks none
 */
quire_err_t qr_wire_resp_encode(const qr_resp_t *resp, uint8_t *buf, size_t cap,
                                size_t *len);

/**
 * @brief Like qr_wire_resp_encode() into a buffer it allocates.
 * @param out out: @returns owned buffer (free with free()) on success.
 * @locality any  @locks none
 */
quire_err_t qr_wire_resp_encode_alloc(const qr_resp_t *resp, uint8_t **out,
                                      size_t *len);

/* ---- client side: encode a request, decode a response ---- */

/**
 * @brief Bytes of payload that follow the encoded request: the sum of the
 * Produce records_length values, 0 for other apis.
 * @locality any  @locks none
 */
uint64_t qr_wire_req_payload_len(const qr_req_t *req);

/**
 * @brief Encodes the frame prefix and header of @p req (see
 * qr_wire_resp_encode() for the parameters and errors). Also refuses, with
 * QUIRE_ERR_BAD_ARG, an api outside the version table and Produce acks not
 * in {-1, 0, 1}: what the broker would refuse is never sent.
 * @locality any  @locks none
 */
quire_err_t qr_wire_req_encode(const qr_req_t *req, uint8_t *buf, size_t cap,
                               size_t *len);

/**
 * @brief Like qr_wire_req_encode() into a buffer it allocates.
 * @param out out: @returns owned buffer (free with free()) on success.
 * @locality any  @locks none
 */
quire_err_t qr_wire_req_encode_alloc(const qr_req_t *req, uint8_t **out,
                                     size_t *len);

/**
 * @brief Converts a response frame into @p resp, validating as it goes.
 * @param frame a complete frame (borrowed; Fetch `records` views point into
 *   frame->payload).
 * @param resp out; always release it with qr_wire_resp_free().
 * @returns QUIRE_ERR_NONE (the broker's own verdict is in resp->error_code
 *   and the per-partition codes); QUIRE_ERR_BAD_FRAME when the header is
 *   not a valid Response (no correlation_id, counts or strings above the
 *   limits, the body not matching the api, Fetch records_length values not
 *   summing to the payload length): the connection cannot be trusted;
 *   QUIRE_ERR_NO_MEMORY.
 * @locality any  @locks none
 */
quire_err_t qr_wire_resp_decode(const qr_frame_t *frame, qr_resp_t *resp);

/**
 * @brief Releases what a decoded @p resp owns and zeroes it. Accepts NULL
 * and a caller-built struct.
 * @locality any  @locks none
 */
void qr_wire_resp_free(qr_resp_t *resp);

#endif /* QR_WIRE_H */
