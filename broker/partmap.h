/*
 * partmap: the partitions this broker leads, by (topic, partition), shared
 * by every thread (DESIGN.md §4).
 *
 * The main loop adds an entry when the controller makes this broker the
 * leader (after the log is open) and removes it when leadership goes,
 * before the log is closed: a network thread that finds an entry may use
 * its log. Lookups take the map's read lock for a binary search; entries
 * are refcounted (qr_pentry_keep/release, STYLE.md §4.4) so a thread can
 * keep using one after it has left the map (appends then fail with
 * NOT_LEADER_FOR_PARTITION, which is the right answer).
 *
 * Each entry also holds the fetches parked on it (long-poll, max_wait_ms),
 * grouped by network thread: qr_pentry_notify() posts one item per thread
 * that has waiters (qr_pwgroup_t), and that thread then posts each of its
 * waiters' work to itself. An append thus costs per partition and thread,
 * never per waiter (issue 17 item 3). Waiters are added and removed by
 * their own thread under the entry's waiter lock; notify runs on whichever
 * thread appended.
 *
 * Lock order: map rwlock, then an entry's waiter lock, then a network
 * thread's lock (netthread.h); plog's locks and the replica set's mutex
 * are never held with these.
 */
#ifndef QR_PARTMAP_H
#define QR_PARTMAP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "netthread.h"
#include "partlog.h"
#include "replica.h"

typedef struct qr_partmap qr_partmap_t;

/** A fetch parked on a partition; embedded in the fetch's state. */
typedef struct qr_pwaiter {
    struct qr_pwaiter *prev, *next;
    struct qr_pentry *entry;  /* holds a reference while registered */
    struct qr_pwgroup *group; /* its thread's group, while registered */
    qr_netthread_t *nt;
    qr_nt_work_t *work; /* posted on notify */
} qr_pwaiter_t;

/** The waiters of one entry on one thread; owned by the entry. */
typedef struct qr_pwgroup {
    qr_nt_work_t work; /* posted by notify; wakes the waiters below */
    struct qr_pwgroup *next;
    struct qr_pentry *entry;
    qr_netthread_t *nt;
    qr_pwaiter_t *waiters; /* guarded by the entry's wmu */
    int pending;           /* work posted, holding an entry reference */
} qr_pwgroup_t;

/** What Produce applies per topic, from its config (topicconf.h). */
typedef struct qr_topic_produce {
    int32_t max_message_bytes;   /* max.message.bytes: largest batch */
    int log_append_time;         /* message.timestamp.type=LogAppendTime */
    int trust_compressed;        /* message.validate.compressed=false: 0
                                    (the default) checks compressed records */
    int32_t min_insync_replicas; /* min.insync.replicas: acks=all needs
                                    this many in the ISR (issue 16) */
} qr_topic_produce_t;

typedef struct qr_pentry {
    atomic_int refcnt;
    char *topic; /* owned */
    int32_t partition;
    int32_t leader_epoch;
    atomic_int max_message_bytes; /* the topic's max.message.bytes: what
                                     Produce accepts per batch; changes
                                     with the topic's config */
    atomic_int log_append_time;   /* the topic's message.timestamp.type is
                                     LogAppendTime: Produce stamps each
                                     batch with the broker's clock */
    atomic_int trust_compressed;  /* the topic's message.validate.compressed
                                     is false: Produce does not decompress */
    atomic_int min_insync;        /* the topic's min.insync.replicas */
    qr_plog_t *part;              /* one reference, owned by the entry */
    struct qr_idemp *idemp;       /* issue 22: one reference; idempotent
                                     appends (idemp.h), shared with the
                                     entry it replaced for the same log;
                                     snapshot when the last goes */
    qr_replica_t *replica; /* the leader's replica set (replica.h); owned,
                              freed with the entry; NULL for entries made
                              by qr_partmap_put() (tests) */
    pthread_mutex_t wmu;
    qr_pwgroup_t *groups; /* guarded by wmu; one per thread that waited */
} qr_pentry_t;

/** @brief An empty map. @returns owned. @locality main @locks none */
qr_partmap_t *qr_partmap_new(void);

/**
 * @brief Adds (or replaces) the entry for @p topic / @p partition.
 * @param prod the topic's Produce settings, copied.
 * @param part one reference, taken on every path.
 * @locality main loop  @locks takes the map's write lock
 */
void qr_partmap_put(qr_partmap_t *map, const char *topic, int32_t partition,
                    int32_t leader_epoch, const qr_topic_produce_t *prod,
                    qr_plog_t *part);

/**
 * @brief As qr_partmap_put(), with the partition's replica set.
 * @param replica taken on every path (owned by the entry); may be NULL.
 * @locality main loop  @locks takes the map's write lock
 */
void qr_partmap_put_replica(qr_partmap_t *map, const char *topic,
                            int32_t partition, int32_t leader_epoch,
                            const qr_topic_produce_t *prod, qr_plog_t *part,
                            qr_replica_t *replica);

/**
 * @brief Every entry (the ISR checks).
 * @returns as qr_partmap_topic().
 * @locality any  @locks takes the map's read lock
 */
qr_pentry_t **qr_partmap_all(qr_partmap_t *map, size_t *n);

/**
 * @brief Every entry of @p topic (to apply a changed topic config).
 * @param n set to the number of entries.
 * @returns owned array (free()) of owned references (qr_pentry_release()
 *          each), NULL when @p n is 0.
 * @locality any  @locks takes the map's read lock
 */
qr_pentry_t **qr_partmap_topic(qr_partmap_t *map, const char *topic, size_t *n);

/**
 * @brief Removes the entry and returns it.
 * @returns owned reference to the entry (qr_pentry_release()), NULL when
 *          absent.
 * @locality main loop  @locks takes the map's write lock
 */
qr_pentry_t *qr_partmap_take(qr_partmap_t *map, const char *topic,
                             int32_t partition);

/**
 * @brief Removes and returns any one entry (shutdown).
 * @returns owned reference, or NULL when the map is empty.
 * @locality main loop  @locks takes the map's write lock
 */
qr_pentry_t *qr_partmap_take_any(qr_partmap_t *map);

/**
 * @brief Finds an entry.
 * @returns owned reference (qr_pentry_release()), or NULL.
 * @locality any  @locks takes the map's read lock
 */
qr_pentry_t *qr_partmap_get(qr_partmap_t *map, const char *topic,
                            int32_t partition);

/** @brief Number of entries. @locality any @locks read lock */
size_t qr_partmap_count(qr_partmap_t *map);

/** @brief Frees the map; it must be empty. NULL is fine. @locality main */
void qr_partmap_destroy(qr_partmap_t *map);

/** @brief Takes a reference. @locality any @locks none */
qr_pentry_t *qr_pentry_keep(qr_pentry_t *entry);

/** @brief Drops a reference; the last frees the entry and releases its log
 * reference. NULL is fine. @locality any @locks none */
void qr_pentry_release(qr_pentry_t *entry);

/**
 * @brief Parks @p w on @p entry (takes an entry reference).
 * @locality @p w's net thread  @locks takes the entry's waiter lock
 */
void qr_pentry_wait(qr_pentry_t *entry, qr_pwaiter_t *w);

/**
 * @brief Unparks @p w (a no-op when not parked); after it returns no notify
 * can reach @p w any more.
 * @locality @p w's net thread  @locks takes the entry's waiter lock
 */
void qr_pentry_unwait(qr_pwaiter_t *w);

/**
 * @brief Wakes every fetch parked on @p entry (after an append): one post
 * per network thread with waiters, whatever their number.
 * @locality any  @locks takes the entry's waiter lock, then thread locks
 */
void qr_pentry_notify(qr_pentry_t *entry);

#endif /* QR_PARTMAP_H */
