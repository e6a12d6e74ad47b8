/*
 * assignor: who owns which partition in a consumer group (DESIGN.md §6).
 *
 * Every member of a group computes the assignment by itself, from what it
 * read in ZooKeeper, and claims the owner nodes of its own share. So the
 * assignors are pure functions of one consistent, sorted view: members
 * sorted by consumer id (strcmp), topics by name, partitions by number.
 * The same input gives the same output on every member, byte for byte.
 *
 *   range       Kafka's RangeAssignor, per topic: the members subscribed to
 *               the topic, in order, get n/c partitions each, and the first
 *               n%c of them one more (contiguous ranges).
 *   roundrobin  Kafka's RoundRobinAssignor: every topic-partition in sorted
 *               order goes to the next member in a circular walk over the
 *               sorted members, skipping members not subscribed to its
 *               topic.
 *   sticky      quire's: balanced within one partition, then each member
 *               keeps what it owned before as far as balance allows. See
 *               assignor_sticky.c for the rule and why a member that reads
 *               the owners half-way through another member's rebalance
 *               still computes the same answer.
 *
 * Partitions are numbered flat: topic t's partition p is
 * qr_asg_base(in, t) + p. The output is one owner per flat partition: an
 * index into in->members, or -1 when no member subscribes to its topic.
 *
 * Ownership: everything in qr_asg_in_t is borrowed by the call; the output
 * array is the caller's.
 */
#ifndef QR_ASSIGNOR_H
#define QR_ASSIGNOR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* clang-format off */
typedef enum qr_assignor_kind {
    QR_ASSIGNOR_RANGE,
    QR_ASSIGNOR_ROUNDROBIN,
    QR_ASSIGNOR_STICKY,
    QR_ASSIGNOR_COUNT
} qr_assignor_kind_t;
/* clang-format on */

/** Bounds the checker enforces, so the arithmetic below cannot overflow
 * and a corrupt znode cannot make us allocate without limit. */
#define QR_ASG_MAX_MEMBERS    100000
#define QR_ASG_MAX_PARTITIONS 1000000 /* over all topics */

typedef struct qr_asg_topic {
    const char *name; /* borrowed */
    int32_t part_cnt; /* >= 0 */
} qr_asg_topic_t;

typedef struct qr_asg_in {
    const qr_asg_topic_t *topics; /* sorted by name, distinct */
    size_t topic_cnt;
    const char *const *members; /* consumer ids, sorted (strcmp), distinct */
    size_t member_cnt;
    /* member_cnt x topic_cnt, row-major: subs[m * topic_cnt + t] != 0 when
     * member m subscribes to topic t */
    const uint8_t *subs;
    /* NULL, or one entry per flat partition: the member (index into
     * members) that owns it now, -1 when none. Only sticky reads it. */
    const int32_t *prev;
} qr_asg_in_t;

/**
 * @brief The strategy called @p name ("range", "roundrobin", "sticky";
 * Kafka's partition.assignment.strategy values).
 * @returns 0, or -1 when @p name is none of them.
 * @locality any  @locks none
 */
int qr_assignor_parse(const char *name, qr_assignor_kind_t *kind);

/** @brief The name of @p kind. @returns a static string ("?" when out of
 * range). @locality any @locks none */
const char *qr_assignor_name(qr_assignor_kind_t kind);

/**
 * @brief Checks that @p in is a consistent sorted view: ids and names
 * sorted and distinct and non-NULL, partition counts >= 0, totals within
 * QR_ASG_MAX_*, prev entries in range.
 * @returns QUIRE_ERR_NONE, or QUIRE_ERR_BAD_ARG with one line in @p errstr.
 * @locality any  @locks none
 */
quire_err_t qr_assignor_check(const qr_asg_in_t *in, char *errstr,
                              size_t errstr_size);

/** @brief Number of flat partitions (the output's length) of a checked
 * input. @locality any @locks none */
size_t qr_asg_part_total(const qr_asg_in_t *in);

/** @brief Flat index of topic @p t's partition 0. @locality any */
size_t qr_asg_base(const qr_asg_in_t *in, size_t t);

/**
 * @brief Checks @p in and runs the strategy @p kind.
 * @param owner the caller's array of qr_asg_part_total(in) entries, filled
 *        on success.
 * @returns QUIRE_ERR_NONE, or QUIRE_ERR_BAD_ARG (@p errstr) from the check
 *          or for an unknown @p kind.
 * @locality any  @locks none
 */
quire_err_t qr_assignor_run(qr_assignor_kind_t kind, const qr_asg_in_t *in,
                            int32_t *owner, char *errstr, size_t errstr_size);

/* The strategies themselves, on an input that passed qr_assignor_check().
 * @locality any  @locks none */
void qr_assignor_range(const qr_asg_in_t *in, int32_t *owner);
void qr_assignor_roundrobin(const qr_asg_in_t *in, int32_t *owner);
void qr_assignor_sticky(const qr_asg_in_t *in, int32_t *owner);

#endif /* QR_ASSIGNOR_H */
