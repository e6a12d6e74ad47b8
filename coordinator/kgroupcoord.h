/*
 * kgroupcoord: the broker-side group coordinator of Kafka's group protocol
 * (issue 13, item 4): the JoinGroup / SyncGroup / Heartbeat / LeaveGroup
 * state machine of Kafka's GroupCoordinator, protocol-neutral and pure. It
 * knows neither bytes nor sockets nor ZooKeeper nor clocks: the caller
 * passes the time (`now`, monotonic ms) into every call and runs
 * qr_kgc_tick() at qr_kgc_next_deadline(). The broker's driver
 * (broker/kgroupsvc.c) feeds it decoded requests on the main loop and
 * stores committed offsets in ZooKeeper; tests/unit/check_kgroupcoord.c
 * drives it directly.
 *
 * A group's states (Kafka's names, as DescribeGroups reports them):
 *
 *   Empty --join--> PreparingRebalance --every member joined, or the
 *      rebalance timeout--> CompletingRebalance --the leader's SyncGroup-->
 *      Stable --a join with new protocols, a leave, a session expiry-->
 *      PreparingRebalance ... --the last member gone--> Empty (dropped)
 *
 * A JoinGroup is answered when the join phase completes: every member has
 * rejoined, or the rebalance timeout (the largest of the members') passed,
 * and members that did not rejoin are removed. The generation then goes up
 * by one and the first member to have joined (or the old leader, if still
 * there) is the leader: only its answer lists the members and their
 * metadata, and it chooses the assignment, which its SyncGroup hands to
 * every member's pending SyncGroup. A member that sends nothing (heartbeat,
 * join, sync, commit) within its session timeout is removed, which starts
 * a rebalance; members waiting in JoinGroup or SyncGroup are not expired.
 * A group whose first join finds it Empty waits
 * group.initial.rebalance.delay.ms before completing, so members starting
 * together land in one generation (Kafka's delayed initial join).
 *
 * Static membership (KIP-345, group.instance.id): a member that joins
 * with an instance id is static. When a process restarts with the same
 * instance id within its session timeout, its JoinGroup (member id "")
 * takes over the old member's place under a new member id, keeping its
 * assignment; in Stable the group does not rebalance (unless the group's
 * protocol would change). The old member id is fenced: its requests that
 * carry the instance id get FENCED_INSTANCE_ID. A static member is removed
 * by its session timeout or a LeaveGroup (v3+ may name it by instance id
 * alone), as Kafka 2.4+ does; static members skip MEMBER_ID_REQUIRED.
 *
 * Differences from Kafka, on purpose: a group with no members is dropped
 * from memory (its committed offsets live in ZooKeeper, not here), so a
 * later DescribeGroups says Dead and its generation restarts at 1.
 *
 * Callbacks: JoinGroup and SyncGroup complete through a callback that runs
 * exactly once, either inside the call (an answer that needs no waiting)
 * or from a later call on the same coordinator (another member's request,
 * qr_kgc_tick(), qr_kgc_unload()). Everything a callback gets is borrowed
 * for its duration. A callback must not call back into the coordinator.
 *
 * @locality everything here: one thread (the broker's main loop).
 * @locks none.
 */
#ifndef QR_KGROUPCOORD_H
#define QR_KGROUPCOORD_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct qr_kgc qr_kgc_t;

/** The coordinator's settings (Kafka's broker keys of the same names). */
typedef struct qr_kgc_conf {
    int32_t min_session_timeout_ms;     /**< group.min.session.timeout.ms */
    int32_t max_session_timeout_ms;     /**< group.max.session.timeout.ms */
    int32_t initial_rebalance_delay_ms; /**< group.initial.rebalance.delay.ms */
    uint64_t member_id_seed; /**< mixed into member ids (random per run) */
} qr_kgc_conf_t;

/** One protocol a member supports (JoinGroup's protocols[]). */
typedef struct qr_kgc_protocol {
    const char *name;
    const uint8_t *metadata;
    size_t metadata_len;
} qr_kgc_protocol_t;

typedef struct qr_kgc_join_req {
    const char *group_id;
    const char *member_id;         /**< "" for a new member */
    const char *group_instance_id; /**< NULL when none */
    const char *client_id;
    const char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /**< -1 (v0): the session timeout */
    const char *protocol_type;
    size_t protocol_count;
    const qr_kgc_protocol_t *protocols;
    /** JoinGroup v4+: a new member first gets MEMBER_ID_REQUIRED with its
     * id, and joins with it. */
    int require_known_member_id;
} qr_kgc_join_req_t;

/** A member as the leader's JoinGroup answer lists it. */
typedef struct qr_kgc_join_member {
    const char *member_id;
    const char *group_instance_id; /**< NULL when none */
    const uint8_t *metadata;       /**< for the chosen protocol */
    size_t metadata_len;
} qr_kgc_join_member_t;

typedef struct qr_kgc_join_res {
    quire_err_t error_code;
    int32_t generation_id;     /**< -1 on error */
    const char *protocol_name; /**< "" on error */
    const char *leader_id;     /**< "" on error */
    const char *member_id;     /**< the member's id ("" on most errors; the
                                  new id with MEMBER_ID_REQUIRED) */
    size_t member_count;       /**< the leader's answer only, else 0 */
    const qr_kgc_join_member_t *members;
} qr_kgc_join_res_t;

typedef void qr_kgc_join_cb_t(void *arg, const qr_kgc_join_res_t *res);

/** SyncGroup's answer: @p assignment (borrowed) is the member's share. */
typedef void qr_kgc_sync_cb_t(void *arg, quire_err_t err,
                              const uint8_t *assignment, size_t len);

/** One member's share in the leader's SyncGroup. */
typedef struct qr_kgc_assignment {
    const char *member_id;
    const uint8_t *assignment;
    size_t len;
} qr_kgc_assignment_t;

typedef struct qr_kgc_sync_req {
    const char *group_id;
    int32_t generation_id;
    const char *member_id;
    const char *group_instance_id; /**< NULL when none */
    size_t assignment_count;       /**< 0 unless from the leader */
    const qr_kgc_assignment_t *assignments;
} qr_kgc_sync_req_t;

/** A member as DescribeGroups shows it. */
typedef struct qr_kgc_desc_member {
    const char *member_id;
    const char *group_instance_id; /**< NULL when none */
    const char *client_id;
    const char *client_host;
    const uint8_t *metadata; /**< Stable only: for the chosen protocol */
    size_t metadata_len;
    const uint8_t *assignment; /**< Stable only */
    size_t assignment_len;
} qr_kgc_desc_member_t;

typedef struct qr_kgc_desc {
    const char *group_id;
    const char *state;         /**< "Dead" for a group this one lacks */
    const char *protocol_type; /**< "" when none */
    const char *protocol;      /**< Stable only, else "" */
    int32_t generation_id;
    size_t member_count;
    const qr_kgc_desc_member_t *members;
} qr_kgc_desc_t;

/**
 * @brief A coordinator with no groups.
 * @param conf copied.
 * @returns owned (qr_kgc_destroy()).
 */
qr_kgc_t *qr_kgc_new(const qr_kgc_conf_t *conf);

/**
 * @brief Frees every group; pending JoinGroup and SyncGroup callbacks run
 * first with COORDINATOR_NOT_AVAILABLE. NULL is fine.
 */
void qr_kgc_destroy(qr_kgc_t *kgc);

/**
 * @brief JoinGroup. @p cb runs exactly once (see the file comment) with
 * the answer: an error (INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT,
 * INCONSISTENT_GROUP_PROTOCOL, UNKNOWN_MEMBER_ID, MEMBER_ID_REQUIRED,
 * FENCED_INSTANCE_ID,
 * REBALANCE_IN_PROGRESS when the same member joins again before the first
 * join was answered: the first is answered so), or the generation joined.
 * @param req borrowed; copied as needed.
 */
void qr_kgc_join(qr_kgc_t *kgc, const qr_kgc_join_req_t *req, int64_t now,
                 qr_kgc_join_cb_t *cb, void *arg);

/**
 * @brief SyncGroup. @p cb runs exactly once: at once with an error
 * (FENCED_INSTANCE_ID, UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
 * REBALANCE_IN_PROGRESS) or, in
 * Stable, the member's assignment; in CompletingRebalance once the
 * leader's SyncGroup arrives (REBALANCE_IN_PROGRESS if a rebalance starts
 * first).
 */
void qr_kgc_sync(qr_kgc_t *kgc, const qr_kgc_sync_req_t *req, int64_t now,
                 qr_kgc_sync_cb_t *cb, void *arg);

/**
 * @brief Heartbeat: keeps the member's session.
 * @param instance_id the member's group.instance.id, NULL when none.
 * @returns NONE (Stable, CompletingRebalance), REBALANCE_IN_PROGRESS
 *          (PreparingRebalance: rejoin), FENCED_INSTANCE_ID,
 *          UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION.
 */
quire_err_t qr_kgc_heartbeat(qr_kgc_t *kgc, const char *group_id,
                             const char *member_id, const char *instance_id,
                             int32_t generation_id, int64_t now);

/**
 * @brief LeaveGroup of one member: removed at once; the others rebalance.
 * @param member_id "" to name a static member by @p instance_id alone.
 * @param instance_id NULL when none.
 * @returns NONE, FENCED_INSTANCE_ID or UNKNOWN_MEMBER_ID.
 */
quire_err_t qr_kgc_leave(qr_kgc_t *kgc, const char *group_id,
                         const char *member_id, const char *instance_id,
                         int64_t now);

/**
 * @brief Whether an OffsetCommit may be stored: a member of the current
 * generation (which keeps its session), or generation -1 for a group
 * this coordinator has no members of (a consumer that assigns itself).
 * @param instance_id NULL when none.
 * @returns NONE, FENCED_INSTANCE_ID, UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
 *          REBALANCE_IN_PROGRESS (CompletingRebalance), INVALID_GROUP_ID
 *          (empty id).
 */
quire_err_t qr_kgc_commit_check(qr_kgc_t *kgc, const char *group_id,
                                const char *member_id, const char *instance_id,
                                int32_t generation_id, int64_t now);

/**
 * @brief Describes @p group_id (Dead with no members when absent).
 * @param out filled with pointers borrowed until the next call on @p kgc.
 */
void qr_kgc_describe(qr_kgc_t *kgc, const char *group_id, qr_kgc_desc_t *out);

/**
 * @brief Calls @p fn for every group held (ListGroups).
 */
void qr_kgc_list(qr_kgc_t *kgc,
                 void (*fn)(void *arg, const char *group_id,
                            const char *protocol_type, const char *state),
                 void *arg);

/** @brief Whether @p group_id has members here. */
int qr_kgc_has_group(const qr_kgc_t *kgc, const char *group_id);

/**
 * @brief Drops @p group_id (this broker no longer coordinates it): its
 * pending JoinGroup and SyncGroup callbacks run with NOT_COORDINATOR, and
 * its members will find the new coordinator and join there.
 */
void qr_kgc_unload(qr_kgc_t *kgc, const char *group_id);

/**
 * @brief Calls @p keep for every group and unloads those it says 0 for.
 */
void qr_kgc_unload_if(qr_kgc_t *kgc,
                      int (*keep)(void *arg, const char *group_id), void *arg);

/**
 * @brief Runs what is due at @p now: completes join phases whose rebalance
 * timeout or initial delay passed, removes members whose session expired.
 */
void qr_kgc_tick(qr_kgc_t *kgc, int64_t now);

/** @brief The earliest time qr_kgc_tick() has something to do; INT64_MAX
 * when nothing is scheduled. */
int64_t qr_kgc_next_deadline(const qr_kgc_t *kgc);

/**
 * @brief Which broker coordinates @p group_id: the same answer on every
 * broker that sees the same live brokers. Rendezvous hashing: each id's
 * score is a 64-bit mix of FNV-1a(group id) and the broker id, the highest
 * score wins; when a broker dies only its own groups move, each to the
 * broker that scores next.
 * @param ids the live broker ids (any order).
 * @returns a broker id, or -1 when @p n is 0.
 * @locality any
 */
int32_t qr_kgc_pick(const int32_t *ids, size_t n, const char *group_id);

/** @brief A state's name. */
const char *qr_kgc_state_name(int state);

#endif /* QR_KGROUPCOORD_H */
