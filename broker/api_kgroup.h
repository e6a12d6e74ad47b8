/*
 * api_kgroup: the group APIs of Kafka's protocol on the broker (issue 13,
 * item 4): FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * OffsetCommit, OffsetFetch, DescribeGroups, ListGroups. Their bodies are
 * kgroupmsg.h's; proto/kgwire.c has the bytes.
 *
 * Which broker coordinates a group: qr_kgc_pick() over the ids of the live
 * brokers with a Kafka listener in the current cluster snapshot
 * (/brokers/ids and their endpoints), so every broker gives
 * the same answer, and when the coordinator dies its groups move to the
 * broker that scores next. A broker asked about a group it does not
 * coordinate answers NOT_COORDINATOR (the client asks FindCoordinator
 * again); one that lost a group (a broker joined and scores higher)
 * unloads it within a second, answering its waiting JoinGroup/SyncGroup
 * with NOT_COORDINATOR.
 *
 * Membership lives in memory on the coordinator (kgroupcoord.h: the state
 * machine, behind one mutex, called from the network threads; its timer
 * runs on the main loop). Nothing of it is in ZooKeeper: when the
 * coordinator moves, members find the new one, get UNKNOWN_MEMBER_ID and
 * join again. Committed offsets are in ZooKeeper in Kafka 0.8's layout,
 * /consumers/<group>/offsets/<topic>/<partition> holding the next offset
 * to read in decimal (what quire's own groups and Kafka 0.8.1's
 * OffsetCommit v0 wrote), so quire-consumer-groups --describe shows these
 * groups' lag and a restarted member resumes where the group committed,
 * whichever broker coordinates it then. A commit's metadata string
 * (at most offset.metadata.max.bytes, else OFFSET_METADATA_TOO_LARGE)
 * follows the offset on a line of its own in the same node
 * (qr_group_offset_encode(): without metadata the node is Kafka 0.8's
 * format exactly), and OffsetFetch answers it.
 *
 * Mixed groups (znode.h, QR_ZNODE_GROUP_KAFKA): a group's first JoinGroup
 * here (the group unknown to the state machine) creates the ephemeral
 * /consumers/<group>/kafka/<broker id>, then reads /consumers/<group>/ids:
 * when ZooKeeper-coordinated members (libquire's groups) are registered
 * there, the join is refused with INCONSISTENT_GROUP_PROTOCOL and a log
 * line naming the group, never silently split. libquire's members check
 * the kafka node after creating theirs and back out (group.c). The node
 * stays while the state machine holds the group (the timer recreates it
 * in a new session and deletes it within a second of the group going),
 * and /consumers/<group> exists so quire-consumer-groups --list shows the
 * group.
 *
 * Group ids end up in ZooKeeper paths: an id containing '/', or "." or
 * "..", gets INVALID_GROUP_ID.
 */
#ifndef QR_API_KGROUP_H
#define QR_API_KGROUP_H

#include <stdint.h>

#include "request.h"

struct ev_loop;
struct qr_zk;

typedef struct qr_kgsvc qr_kgsvc_t;

/** Settings: Kafka's broker keys of the same names. */
typedef struct qr_kgsvc_conf {
    int32_t broker_id; /**< for the member id seed only; the broker's id is
                          read from qr_server_info() (it may be generated) */
    int32_t min_session_timeout_ms;
    int32_t max_session_timeout_ms;
    int32_t initial_rebalance_delay_ms;
    int32_t offset_metadata_max_bytes; /**< longer: OFFSET_METADATA_TOO_LARGE */
} qr_kgsvc_conf_t;

/**
 * @brief The broker's group service (no groups; ZooKeeper not attached).
 * @param server borrowed; outlives the service.
 * @returns owned (qr_kgsvc_destroy()).
 * @locality main loop  @locks none
 */
qr_kgsvc_t *qr_kgsvc_new(struct ev_loop *loop, qr_server_t *server,
                         const qr_kgsvc_conf_t *conf);

/** @brief Starts using @p zk (a registered session; idempotent).
 * @locality main loop @locks none */
void qr_kgsvc_attach(qr_kgsvc_t *svc, struct qr_zk *zk);

/**
 * @brief Shutting down: every group is unloaded (waiting JoinGroup and
 * SyncGroup answered NOT_COORDINATOR, so members move on at once) and the
 * timer stops. Requests still in ZooKeeper complete as usual.
 * @locality main loop  @locks takes the service's mutex
 */
void qr_kgsvc_close(qr_kgsvc_t *svc);

/** @brief Stops using ZooKeeper (before the session is destroyed):
 * later requests that need it answer COORDINATOR_NOT_AVAILABLE.
 * @locality main loop @locks none */
void qr_kgsvc_detach(qr_kgsvc_t *svc);

/** @brief Frees it; every request must have completed. NULL is fine.
 * @locality main loop */
void qr_kgsvc_destroy(qr_kgsvc_t *svc);

/** @brief The handlers, one per API (kcodec.c's table rows).
 * @locality net thread  @locks the service's mutex, briefly */
void qr_api_find_coordinator(qr_reqctx_t *ctx);
void qr_api_join_group(qr_reqctx_t *ctx);
void qr_api_sync_group(qr_reqctx_t *ctx);
void qr_api_heartbeat(qr_reqctx_t *ctx);
void qr_api_leave_group(qr_reqctx_t *ctx);
void qr_api_offset_commit(qr_reqctx_t *ctx);
void qr_api_offset_fetch(qr_reqctx_t *ctx);
void qr_api_describe_groups(qr_reqctx_t *ctx);
void qr_api_list_groups(qr_reqctx_t *ctx);

#endif /* QR_API_KGROUP_H */
