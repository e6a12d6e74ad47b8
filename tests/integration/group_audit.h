/*
 * group_audit: the ownership auditor of the consumer-group tests.
 *
 * Member processes (group_member) and the test append one line per event
 * to one file with O_APPEND writes; the file's order is the order in which
 * the events happened, because every causal chain the auditor relies on
 * goes through ZooKeeper:
 *   a member writes REVOKE before it deletes its owner node, and the next
 *   owner writes ASSIGN only after its create of that node succeeded; the
 *   test writes KILL/STOP after the process is dead/stopped (waitpid), and
 *   the member's ephemeral nodes outlive that by a session timeout.
 * So the auditor replays the file and fails on any moment where a
 * partition has two holders (a member that was killed or stopped holds
 * nothing from that line on), on a member assigned a partition it already
 * holds, and on a clean handover whose new owner does not start exactly at
 * the position the old owner had when it was revoked (the commit in revoke
 * must be durable before the new owner starts).
 *
 * qa_settled() then compares the holders with the owner nodes in
 * ZooKeeper: every partition owned by exactly one live member, the same
 * one the events say, and (range, roundrobin) the one the assignor names.
 */
#ifndef GROUP_AUDIT_H
#define GROUP_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <zookeeper/zookeeper.h>

#include "assignor.h"

#define QA_MAX_PARTS   512
#define QA_MAX_MEMBERS 64
#define QA_ID_MAX      96

typedef struct qa_part {
    char topic[64];
    int32_t partition;
    char holder[QA_ID_MAX]; /* "" when none */
    int clean;              /* the last holder let it go by REVOKE */
    int64_t lastpos;        /* its position then */
} qa_part_t;

typedef struct qa {
    char path[256]; /* the events file */
    long off;       /* bytes replayed so far */
    qa_part_t parts[QA_MAX_PARTS];
    size_t part_cnt;
    char dead[QA_MAX_MEMBERS * 4][QA_ID_MAX]; /* killed/stopped, not back */
    size_t dead_cnt;
    char lost[QA_MAX_MEMBERS * 4][QA_ID_MAX]; /* session lost, not back */
    size_t lost_cnt;
    int violations;
    char first[512]; /* the first violation */
    int assigns, revokes, handovers_checked, errors;
    int rebalance_errors; /* "still failing after the retries" reports */
    size_t expect_parts;  /* set by the test: partitions in all */
    int64_t full_ms;      /* mono ms of the ASSIGN that completed them */
} qa_t;

/** @brief Creates the events file (in $TMPDIR) and the auditor.
 * @locality test @locks none */
void qa_init(qa_t *qa);

/** @brief Removes the events file. */
void qa_fini(qa_t *qa);

/** @brief Appends one line "<mono ms> test <what> <id>" (KILL, STOP, CONT,
 * START, TERM) to the events file. */
void qa_note(qa_t *qa, const char *what, const char *id);

/** @brief Replays the lines written since the last call. */
void qa_update(qa_t *qa);

/** One topic of the group's view. */
typedef struct qa_topic {
    const char *name;
    int32_t parts;
} qa_topic_t;

/**
 * @brief Polls (every 100 ms, up to @p timeout_ms) until the group is
 * settled: the ids are exactly @p live, every partition of @p topics has an
 * owner node naming a live member, the events agree with the nodes, and
 * for range/roundrobin the owners are the assignor's answer (sticky:
 * balanced within one).
 * @param zh a session on the test's chroot.
 * @param why on failure, what was still wrong at the deadline.
 * @returns 1 when settled, 0 at the deadline.
 */
int qa_settled(qa_t *qa, zhandle_t *zh, const char *group,
               const qa_topic_t *topics, size_t topic_cnt,
               const char *const *live, size_t live_cnt,
               qr_assignor_kind_t kind, int timeout_ms, char *why,
               size_t why_size);

#endif /* GROUP_AUDIT_H */
