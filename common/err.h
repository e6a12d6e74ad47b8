/*
 * err: the one error enum of quire (DESIGN.md §2).
 *
 * Every module returns quire_err_t. Codes >= -1 travel on the wire and use
 * Kafka's numbers where Kafka has the code, so a Kafka-aware tool reads them
 * right; local codes (never sent to a peer) are <= -100. The same table
 * generates the enum, the names and the one-line texts, and proto/quire.proto
 * mirrors it (a unit test walks the generated descriptor and compares).
 *
 * This header is installed as part of quire.h's world: it uses the public
 * quire_ prefix because the client library exports these names.
 */
#ifndef QUIRE_ERR_H
#define QUIRE_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, code, "one-line text") */
#define QUIRE_ERR_TABLE(X)                                                    \
    /* ---- Kafka's codes (on the wire) ---- */                               \
    X(UNKNOWN_SERVER_ERROR, -1, "Unexpected server error")                    \
    X(NONE, 0, "Success")                                                     \
    X(OFFSET_OUT_OF_RANGE, 1, "Offset out of range")                          \
    X(CORRUPT_MESSAGE, 2, "Corrupt message: CRC or format check failed")      \
    X(UNKNOWN_TOPIC_OR_PARTITION, 3, "Unknown topic or partition")            \
    X(INVALID_FETCH_SIZE, 4, "Invalid fetch size")                            \
    X(LEADER_NOT_AVAILABLE, 5, "Leader not available")                        \
    X(NOT_LEADER_FOR_PARTITION, 6, "This broker is not the partition leader") \
    X(REQUEST_TIMED_OUT, 7, "Request timed out")                              \
    X(BROKER_NOT_AVAILABLE, 8, "Broker not available")                        \
    X(REPLICA_NOT_AVAILABLE, 9, "Replica not available")                      \
    X(MESSAGE_TOO_LARGE, 10, "Message batch larger than message.max.bytes")   \
    X(STALE_CONTROLLER_EPOCH, 11, "Stale controller epoch")                   \
    X(NETWORK_EXCEPTION, 13, "Network error: connection lost")                \
    X(INVALID_TOPIC_EXCEPTION, 17, "Invalid topic name")                      \
    X(RECORD_LIST_TOO_LARGE, 18, "Record list too large")                     \
    X(NOT_ENOUGH_REPLICAS, 19, "Not enough in-sync replicas")                 \
    X(INVALID_REQUIRED_ACKS, 21, "Invalid acks value")                        \
    X(INVALID_GROUP_ID, 24, "Invalid consumer group id")                      \
    X(REBALANCE_IN_PROGRESS, 27, "Consumer group rebalance in progress")      \
    X(UNSUPPORTED_VERSION, 35, "Unsupported API or API version")              \
    X(TOPIC_ALREADY_EXISTS, 36, "Topic already exists")                       \
    X(INVALID_PARTITIONS, 37, "Invalid number of partitions")                 \
    X(INVALID_REPLICATION_FACTOR, 38, "Invalid replication factor")           \
    X(INVALID_REPLICA_ASSIGNMENT, 39, "Invalid replica assignment")           \
    X(INVALID_CONFIG, 40, "Invalid configuration")                            \
    X(NOT_CONTROLLER, 41, "This broker is not the controller")                \
    X(INVALID_REQUEST, 42, "Malformed or invalid request")                    \
    X(KAFKA_STORAGE_ERROR, 56, "Storage error on the broker (disk full?)")    \
    X(NON_EMPTY_GROUP, 68, "Consumer group has live members")                 \
    X(GROUP_ID_NOT_FOUND, 69, "Consumer group not found")                     \
    X(FENCED_LEADER_EPOCH, 74, "Leader epoch is older than the current one")  \
    X(UNSUPPORTED_COMPRESSION_TYPE, 76, "Unsupported compression type")       \
    X(INVALID_RECORD, 87, "Invalid record in batch")                          \
    /* issue 17: limits a hostile client meets */                             \
    X(POLICY_VIOLATION, 44, "Refused by a broker limit")                      \
    X(THROTTLING_QUOTA_EXCEEDED, 89, "Rate limit exceeded; retry later")      \
    X(RESPONSE_TOO_LARGE, 1001,                                               \
      "Response larger than the protocol allows; ask for less")               \
    /* issue 22: the idempotent producer */                                   \
    X(COORDINATOR_LOAD_IN_PROGRESS, 14,                                       \
      "Broker still loading (producer ids); retry")                           \
    X(OUT_OF_ORDER_SEQUENCE_NUMBER, 45,                                       \
      "Producer sequence number out of order (a gap)")                        \
    X(DUPLICATE_SEQUENCE_NUMBER, 46, "Duplicate producer sequence number")    \
    X(INVALID_PRODUCER_EPOCH, 47,                                             \
      "Producer epoch is stale: a newer producer fenced this one")            \
    X(UNKNOWN_PRODUCER_ID, 59, "Broker has no state for this producer id")    \
    /* issue 16: replication */                                               \
    X(NOT_ENOUGH_REPLICAS_AFTER_APPEND, 20,                                   \
      "Appended, but fewer in-sync replicas than min.insync.replicas")        \
    X(UNKNOWN_LEADER_EPOCH, 75, "Leader epoch is newer than the broker's")    \
    X(OFFSET_NOT_AVAILABLE, 78,                                               \
      "New leader's high watermark not caught up yet; retry")                 \
    /* issue 13: Kafka's group coordinator */                                 \
    X(COORDINATOR_NOT_AVAILABLE, 15, "Group coordinator not available")       \
    X(NOT_COORDINATOR, 16, "This broker is not the group's coordinator")      \
    X(ILLEGAL_GENERATION, 22, "Stale consumer group generation")              \
    X(INCONSISTENT_GROUP_PROTOCOL, 23,                                        \
      "Group protocol differs from the group's (or its members are of the "   \
      "other kind: ZooKeeper or Kafka-protocol)")                             \
    X(UNKNOWN_MEMBER_ID, 25, "Unknown consumer group member id")              \
    X(INVALID_SESSION_TIMEOUT, 26,                                            \
      "Session timeout outside group.min/max.session.timeout.ms")             \
    X(MEMBER_ID_REQUIRED, 79, "Rejoin with the member id given")              \
    X(OFFSET_METADATA_TOO_LARGE, 12,                                          \
      "Commit metadata longer than offset.metadata.max.bytes")                \
    X(FENCED_INSTANCE_ID, 82,                                                 \
      "A newer member with the same group.instance.id fenced this one")       \
    /* ---- local codes (never on the wire) ---- */                           \
    X(NEED_MORE, -100, "More input needed")                                   \
    X(BAD_ARG, -101, "Invalid argument")                                      \
    X(NO_MEMORY, -102, "Out of memory")                                       \
    X(IO, -103, "I/O error")                                                  \
    X(BAD_FRAME, -104, "Malformed frame")                                     \
    X(FRAME_TOO_LARGE, -105, "Frame larger than socket.request.max.bytes")    \
    X(BAD_VARINT, -106, "Malformed varint")                                   \
    X(TRUNCATED, -107, "Data truncated")                                      \
    X(CONF_UNKNOWN, -108, "Unknown configuration key")                        \
    X(CONF_INVALID, -109, "Invalid configuration value")                      \
    X(COMPRESSION, -110, "Compression or decompression failed")               \
    X(BUF_FULL, -111, "Buffer full")                                          \
    X(NOT_FOUND, -112, "Not found")                                           \
    X(EXISTS, -113, "Already exists")                                         \
    X(TIMED_OUT, -114, "Timed out")                                           \
    X(STATE, -115, "Operation not valid in the current state")                \
    X(BAD_JSON, -116, "Malformed JSON")                                       \
    X(ZK_CONNECTION_LOSS, -117, "ZooKeeper connection lost")                  \
    X(ZK_SESSION_EXPIRED, -118, "ZooKeeper session expired")                  \
    X(ZK_BAD_VERSION, -119, "ZooKeeper node version changed")                 \
    X(ZK_NOT_EMPTY, -120, "ZooKeeper node has children")                      \
    X(ZK, -121, "ZooKeeper error")                                            \
    X(DESTROYED, -122, "Handle is being destroyed")                           \
    X(QUEUE_FULL, -123, "Queue full")                                         \
    X(ALL_BROKERS_DOWN, -124, "No broker reachable")                          \
    X(UNSUPPORTED, -125, "Not supported yet")                                 \
    X(NO_OFFSET, -126, "No committed offset and auto.offset.reset is none")   \
    X(MSG_TIMED_OUT, -127,                                                    \
      "Record expired in the producer (delivery.timeout.ms)")

typedef enum quire_err {
#define QUIRE_ERR_ENUM(name, code, text) QUIRE_ERR_##name = (code),
    QUIRE_ERR_TABLE(QUIRE_ERR_ENUM)
#undef QUIRE_ERR_ENUM
} quire_err_t;

/** Codes at or below this are local: never sent to a peer. */
#define QUIRE_ERR_LOCAL_MAX (-100)

/**
 * @brief The symbolic name of @p err without its prefix ("CORRUPT_MESSAGE").
 * @returns a static string; "UNKNOWN" for a value not in the table.
 * @locality any  @locks none
 */
const char *quire_err2name(quire_err_t err);

/**
 * @brief The one-line text of @p err, for people.
 * @returns a static string; never NULL.
 * @locality any  @locks none
 */
const char *quire_err2str(quire_err_t err);

/**
 * @brief Whether @p code (e.g. read from the wire) is a value of the table.
 * @locality any  @locks none
 */
int quire_err_known(int code);

/**
 * @brief Maps a code from a peer to what may be trusted: a wire code of the
 * table stays, anything else (a local code, an unknown number) becomes
 * QUIRE_ERR_UNKNOWN_SERVER_ERROR.
 * @locality any  @locks none
 */
quire_err_t quire_err_from_wire(int code);

#ifdef __cplusplus
}
#endif
#endif /* QUIRE_ERR_H */
