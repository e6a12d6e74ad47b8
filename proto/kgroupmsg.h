/*
 * kgroupmsg: the protocol-neutral request and response bodies of Kafka's
 * group APIs (issue 13): FindCoordinator (10), OffsetCommit (8),
 * OffsetFetch (9), JoinGroup (11), Heartbeat (12), LeaveGroup (13),
 * SyncGroup (14), DescribeGroups (15), ListGroups (16). Included by
 * apimsg.h, whose qr_req_t / qr_resp_t carry them in u.kgroup.
 *
 * Field names are Kafka's. Strings: decode gives never-NULL strings
 * except where "NULL when absent" is said; bytes are (pointer, length)
 * views. Ownership as in apimsg.h: everything is borrowed from the
 * request's decode arena, or from the handler for a response.
 */
#ifndef QR_KGROUPMSG_H
#define QR_KGROUPMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/** Longest group id, member id or protocol name accepted on the wire. */
#define QR_KGROUP_ID_MAX 1024
/** Most protocols in a JoinGroup; most assignments in a SyncGroup; most
 * groups in a DescribeGroups. */
#define QR_KGROUP_LIST_MAX 10000

/* ---- FindCoordinator ---- */

typedef struct qr_find_coord_req {
    const char *key; /**< the group id */
    int8_t key_type; /**< 0 group, 1 transaction (refused) */
} qr_find_coord_req_t;

typedef struct qr_find_coord_resp {
    quire_err_t error_code;
    const char *error_message; /**< NULL when none */
    int32_t node_id;           /**< -1 on error */
    const char *host;          /**< "" on error */
    int32_t port;              /**< -1 on error */
} qr_find_coord_resp_t;

/* ---- JoinGroup ---- */

typedef struct qr_join_protocol {
    const char *name;
    const uint8_t *metadata;
    size_t metadata_len;
} qr_join_protocol_t;

typedef struct qr_join_group_req {
    const char *group_id;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /**< -1 in v0 */
    const char *member_id;
    const char *group_instance_id; /**< NULL when absent */
    const char *protocol_type;
    size_t protocol_count;
    const qr_join_protocol_t *protocols;
} qr_join_group_req_t;

typedef struct qr_join_member {
    const char *member_id;
    const char *group_instance_id; /**< NULL when none */
    const uint8_t *metadata;
    size_t metadata_len;
} qr_join_member_t;

typedef struct qr_join_group_resp {
    quire_err_t error_code;
    int32_t generation_id;
    const char *protocol_name;
    const char *leader;
    const char *member_id;
    size_t member_count;
    const qr_join_member_t *members;
} qr_join_group_resp_t;

/* ---- SyncGroup ---- */

typedef struct qr_sync_assignment {
    const char *member_id;
    const uint8_t *assignment;
    size_t assignment_len;
} qr_sync_assignment_t;

typedef struct qr_sync_group_req {
    const char *group_id;
    int32_t generation_id;
    const char *member_id;
    const char *group_instance_id; /**< NULL when absent */
    size_t assignment_count;
    const qr_sync_assignment_t *assignments;
} qr_sync_group_req_t;

typedef struct qr_sync_group_resp {
    quire_err_t error_code;
    const uint8_t *assignment;
    size_t assignment_len;
} qr_sync_group_resp_t;

/* ---- Heartbeat ---- */

typedef struct qr_heartbeat_req {
    const char *group_id;
    int32_t generation_id;
    const char *member_id;
    const char *group_instance_id; /**< NULL when absent */
} qr_heartbeat_req_t;

typedef struct qr_heartbeat_resp {
    quire_err_t error_code;
} qr_heartbeat_resp_t;

/* ---- LeaveGroup ---- */

typedef struct qr_leave_member {
    const char *member_id;
    const char *group_instance_id; /**< NULL when absent */
    quire_err_t error_code;        /**< response only */
} qr_leave_member_t;

typedef struct qr_leave_group_req {
    const char *group_id;
    size_t member_count; /**< v0-v2: exactly one */
    const qr_leave_member_t *members;
} qr_leave_group_req_t;

typedef struct qr_leave_group_resp {
    quire_err_t error_code;
    size_t member_count; /**< v3+ only */
    const qr_leave_member_t *members;
} qr_leave_group_resp_t;

/* ---- OffsetCommit ---- */

typedef struct qr_commit_part {
    int32_t partition;
    int64_t committed_offset;
    int32_t committed_leader_epoch; /**< -1 when absent */
    const char *committed_metadata; /**< NULL when absent */
    quire_err_t error_code;         /**< response only */
} qr_commit_part_t;

typedef struct qr_commit_topic {
    const char *name;
    size_t partition_count;
    const qr_commit_part_t *partitions;
} qr_commit_topic_t;

typedef struct qr_offset_commit_req {
    const char *group_id;
    int32_t generation_id;         /**< -1 in v0 */
    const char *member_id;         /**< "" in v0 */
    const char *group_instance_id; /**< NULL when absent */
    size_t topic_count;
    const qr_commit_topic_t *topics;
} qr_offset_commit_req_t;

/** The response: the same topics and partitions with their error_code. */
typedef struct qr_offset_commit_resp {
    size_t topic_count;
    const qr_commit_topic_t *topics;
} qr_offset_commit_resp_t;

/* ---- OffsetFetch ---- */

typedef struct qr_fetchoff_topic {
    const char *name;
    size_t partition_count;
    const int32_t *partitions;
} qr_fetchoff_topic_t;

typedef struct qr_offset_fetch_req {
    const char *group_id;
    bool all_topics; /**< v2+: topics null, every committed offset */
    size_t topic_count;
    const qr_fetchoff_topic_t *topics;
} qr_offset_fetch_req_t;

typedef struct qr_fetchoff_part {
    int32_t partition;
    int64_t committed_offset;       /**< -1 when none */
    int32_t committed_leader_epoch; /**< -1 */
    const char *metadata;           /**< "" */
    quire_err_t error_code;
} qr_fetchoff_part_t;

typedef struct qr_fetchoff_topic_resp {
    const char *name;
    size_t partition_count;
    const qr_fetchoff_part_t *partitions;
} qr_fetchoff_topic_resp_t;

typedef struct qr_offset_fetch_resp {
    quire_err_t error_code; /**< v2+ carry it; else per partition */
    size_t topic_count;
    const qr_fetchoff_topic_resp_t *topics;
} qr_offset_fetch_resp_t;

/* ---- DescribeGroups ---- */

typedef struct qr_describe_groups_req {
    size_t group_count;
    const char *const *groups;
    bool include_authorized_operations;
} qr_describe_groups_req_t;

typedef struct qr_described_member {
    const char *member_id;
    const char *group_instance_id; /**< NULL when none */
    const char *client_id;
    const char *client_host;
    const uint8_t *member_metadata;
    size_t member_metadata_len;
    const uint8_t *member_assignment;
    size_t member_assignment_len;
} qr_described_member_t;

typedef struct qr_described_group {
    quire_err_t error_code;
    const char *group_id;
    const char *group_state;
    const char *protocol_type;
    const char *protocol_data;
    size_t member_count;
    const qr_described_member_t *members;
} qr_described_group_t;

typedef struct qr_describe_groups_resp {
    size_t group_count;
    const qr_described_group_t *groups;
} qr_describe_groups_resp_t;

/* ---- ListGroups ---- (the request has no fields we read) */

typedef struct qr_listed_group {
    const char *group_id;
    const char *protocol_type;
} qr_listed_group_t;

typedef struct qr_list_groups_resp {
    quire_err_t error_code;
    size_t group_count;
    const qr_listed_group_t *groups;
} qr_list_groups_resp_t;

/* ---- in qr_req_t / qr_resp_t ---- */

typedef union qr_kgroup_req {
    qr_find_coord_req_t find_coord;
    qr_join_group_req_t join;
    qr_sync_group_req_t sync;
    qr_heartbeat_req_t heartbeat;
    qr_leave_group_req_t leave;
    qr_offset_commit_req_t commit;
    qr_offset_fetch_req_t fetch;
    qr_describe_groups_req_t describe;
} qr_kgroup_req_t;

typedef union qr_kgroup_resp {
    qr_find_coord_resp_t find_coord;
    qr_join_group_resp_t join;
    qr_sync_group_resp_t sync;
    qr_heartbeat_resp_t heartbeat;
    qr_leave_group_resp_t leave;
    qr_offset_commit_resp_t commit;
    qr_offset_fetch_resp_t fetch;
    qr_describe_groups_resp_t describe;
    qr_list_groups_resp_t list;
} qr_kgroup_resp_t;

#endif /* QR_KGROUPMSG_H */
