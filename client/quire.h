/*
 * quire.h: libquire, the client library of quire (DESIGN.md §1, §7).
 *
 * Everything here is prefixed quire_ / QUIRE_; nothing else leaves
 * libquire.so. Handles are opaque. Errors are quire_err_t (err.h, installed
 * next to this file), with quire_err2str() for people. The library never
 * aborts its host process: running out of memory is QUIRE_ERR_NO_MEMORY.
 *
 * Lifecycle (librdkafka's shape):
 *
 *   char errstr[256];
 *   quire_conf_t *conf = quire_conf_new();
 *   if (quire_conf_set(conf, "bootstrap.servers", "127.0.0.1:9092", errstr,
 *                      sizeof(errstr)) != QUIRE_ERR_NONE) ...
 *   then quire_producer_new(conf, ...) or quire_consumer_new(conf, ...),
 *   which take the conf on success.
 *
 * Configuration keys are Kafka's client key names (see quire(3) for the
 * list, or quire_conf_print_help()).
 */
#ifndef QUIRE_H
#define QUIRE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The library version, "MAJOR.MINOR.PATCH". */
#define QUIRE_VERSION_STR "0.1.0"

/**
 * @brief The version of the library actually linked.
 * @returns a static string.
 * @locality any  @locks none
 */
const char *quire_version(void);

/* ---- configuration ---- */

/** A configuration object: a set of keys with typed, checked values. */
typedef struct quire_conf quire_conf_t;

/**
 * @brief A configuration holding every default.
 * @returns owned (release with quire_conf_destroy() unless a constructor
 *          takes it), or NULL when out of memory.
 * @locality any  @locks none
 */
quire_conf_t *quire_conf_new(void);

/**
 * @brief A copy of @p conf (borrowed).
 * @returns owned, or NULL when out of memory or @p conf is NULL.
 * @locality any  @locks none (the caller serialises access to @p conf)
 */
quire_conf_t *quire_conf_dup(const quire_conf_t *conf);

/**
 * @brief Sets @p key to @p value (text, as in a properties file), checking
 * the key and the value's type and range.
 * @param conf,key,value borrowed; value is copied.
 * @param errstr if non-NULL, receives one line naming the culprit on error
 *        ("linger.ms: not a number: 'x'"), truncated to @p errstr_size.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CONF_UNKNOWN for an unknown key;
 *          QUIRE_ERR_CONF_INVALID for a bad value (the old value stays);
 *          QUIRE_ERR_BAD_ARG for a NULL argument; QUIRE_ERR_NO_MEMORY.
 * @locality any  @locks none (the caller serialises access to @p conf)
 */
quire_err_t quire_conf_set(quire_conf_t *conf, const char *key,
                           const char *value, char *errstr, size_t errstr_size);

/**
 * @brief The current value of @p key as text (the canonical form: "all"
 * for acks=-1, numbers in decimal, "" for an unset string).
 * @param dest    where to write it (NUL-terminated), or NULL to ask only
 *                for the size.
 * @param dest_sizep in: the size of @p dest; out: the size needed,
 *                terminator included.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CONF_UNKNOWN; QUIRE_ERR_BUF_FULL when
 *          @p dest is too small (*dest_sizep then says how much is
 *          needed); QUIRE_ERR_BAD_ARG for a NULL conf, key or size.
 * @locality any  @locks none
 */
quire_err_t quire_conf_get(const quire_conf_t *conf, const char *key,
                           char *dest, size_t *dest_sizep);

/**
 * @brief Prints every key with its type, default, range and description.
 * @locality any  @locks none
 */
void quire_conf_print_help(FILE *fp);

/**
 * @brief Frees @p conf. Accepts NULL.
 * @locality any  @locks none
 */
void quire_conf_destroy(quire_conf_t *conf);

/* ---- logging and client-wide errors (issue 18) ---- */

/**
 * Receives every line the handle logs (its own, and the ZooKeeper
 * client's), instead of stderr: @p level is syslog's (3 error, 4
 * warning, 6 info, 7 debug), @p fac a short facility ("NET", "META",
 * "GROUP", "ZKC" for the ZooKeeper client), @p msg the line without
 * timestamp or newline, borrowed for the call. Called on the handle's
 * background thread or inside the application's calls into the handle,
 * possibly from several threads at once; it must not call the handle.
 * Lines above log_level are not passed; a repeated line is passed once,
 * then summarised with a count at most every 5 s.
 */
typedef void(quire_log_cb_t)(int level, const char *fac, const char *msg,
                             void *cb_opaque);

/**
 * @brief Sets the log callback (NULL: lines go to stderr, the default)
 * and its opaque pointer.
 * @locality any  @locks none
 */
void quire_conf_set_log_cb(quire_conf_t *conf, quire_log_cb_t *cb,
                           void *cb_opaque);

/**
 * Told of what concerns the whole client rather than one record:
 * QUIRE_ERR_ALL_BROKERS_DOWN when no broker it knows can be reached (again
 * after they came back and went away), QUIRE_ERR_ZK_CONNECTION_LOSS when
 * a group consumer loses ZooKeeper (and QUIRE_ERR_ZK_SESSION_EXPIRED),
 * QUIRE_ERR_NOT_FOUND when ZooKeeper holds no broker under the
 * zookeeper.connect path (a missing chroot). @p reason is one line for
 * people, borrowed for the call. Called on the background thread; it must
 * not call the handle. The client keeps retrying meanwhile.
 */
typedef void(quire_error_cb_t)(quire_err_t err, const char *reason,
                               void *cb_opaque);

/**
 * @brief Sets the error callback (NULL: such errors are only logged) and
 * its opaque pointer.
 * @locality any  @locks none
 */
void quire_conf_set_error_cb(quire_conf_t *conf, quire_error_cb_t *cb,
                             void *cb_opaque);

/**
 * The statistics callback (librdkafka's stats_cb): every
 * statistics.interval.ms (0, the default, never) the handle's background
 * thread builds one JSON document of its counters (per broker requests,
 * bytes and round-trip times, requests queued and in flight; per topic
 * and partition records delivered or fetched, batch sizes, compression,
 * positions and consumer lag; quire(3) STATISTICS lists every field) and
 * passes it here. @p json (@p json_len bytes, NUL-terminated, one line) is
 * borrowed for the call. Called on the background thread, as delivery
 * reports are; it must not call the handle and should return quickly.
 */
typedef void(quire_stats_cb_t)(const char *json, size_t json_len,
                               void *cb_opaque);

/**
 * @brief Sets the statistics callback (NULL: none; no document is built)
 * and its opaque pointer. Documents come every statistics.interval.ms.
 * @locality any  @locks none
 */
void quire_conf_set_stats_cb(quire_conf_t *conf, quire_stats_cb_t *cb,
                             void *cb_opaque);

/* ---- partitioning ---- */

/**
 * @brief Kafka's murmur2 hash of @p key (the Java client's
 * Utils.murmur2, seed 0x9747b28c), as an unsigned 32-bit value.
 * @param key borrowed; may be NULL when @p key_len is 0.
 * @locality any  @locks none
 */
uint32_t quire_murmur2(const void *key, size_t key_len);

/**
 * @brief The partition Kafka's Java client chooses for a keyed record:
 * toPositive(murmur2(key)) % @p partition_cnt.
 * @returns a partition in [0, partition_cnt), or -1 when partition_cnt is
 *          not positive.
 * @locality any  @locks none
 */
int32_t quire_partition_for_key(const void *key, size_t key_len,
                                int32_t partition_cnt);

/* ---- records ---- */

/** A record header: a string key and an optional value. */
typedef struct quire_header {
    const char *key;   /**< NUL-terminated, never NULL */
    const void *value; /**< NULL for a null value */
    size_t value_len;
} quire_header_t;

/** Partition argument: let the producer choose (murmur2 of the key, or a
 * sticky partition per batch for records without a key). */
#define QUIRE_PARTITION_ANY (-1)

/* ---- producer ---- */

typedef struct quire_producer quire_producer_t;

/** What a delivery report says about one record. */
typedef struct quire_delivery {
    const char *topic; /**< borrowed for the callback */
    int32_t partition; /**< -1 if none was chosen */
    int64_t offset;    /**< its offset; -1 on error or with acks=0 */
    int64_t timestamp; /**< CreateTime (ms), or the broker's LogAppendTime */
    quire_err_t err;   /**< QUIRE_ERR_NONE when delivered */
    void *opaque;      /**< the pointer given to quire_producer_send */
    /** NULL when delivered; else one line for people naming the
     * topic-partition and the reason, e.g. "Expiring 12 record(s) for
     * t-3: 120004 ms has passed since batch creation (delivery.timeout.ms
     * 120000); the partition has no leader (...)". Borrowed for the
     * callback. */
    const char *errstr;
    /* issue 18 item 9: what was sent, borrowed for the callback (NULL for
     * a null key or value), so a failure can be logged as it was */
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
} quire_delivery_t;

/**
 * Called exactly once per record accepted by quire_producer_send, with its
 * partition and offset, or its error, on the producer's background thread.
 * A record that waited delivery.timeout.ms without being acknowledged
 * fails with QUIRE_ERR_MSG_TIMED_OUT (librdkafka's _MSG_TIMED_OUT; a
 * broker's own timeout is QUIRE_ERR_REQUEST_TIMED_OUT).
 * Keep it short; it may call quire_producer_send (which then never blocks:
 * it fails with QUIRE_ERR_QUEUE_FULL instead); flush and close return
 * QUIRE_ERR_STATE at once from it.
 */
typedef void(quire_delivery_cb_t)(const quire_delivery_t *dr, void *cb_opaque);

/**
 * @brief Sets the delivery callback (NULL: none) and its opaque pointer.
 * @locality any  @locks none
 */
void quire_conf_set_delivery_cb(quire_conf_t *conf, quire_delivery_cb_t *cb,
                                void *cb_opaque);

/**
 * @brief Creates a producer: starts its background thread, which finds
 * the brokers and leaders through bootstrap.servers.
 * @param conf taken on success (do not use it afterwards); left with the
 *        caller on error.
 * @param producerp out: owned; release with quire_producer_close().
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CONF_INVALID (errstr says why);
 *          QUIRE_ERR_BAD_ARG; QUIRE_ERR_NO_MEMORY.
 * @locality any  @locks none
 */
quire_err_t quire_producer_new(quire_conf_t *conf, quire_producer_t **producerp,
                               char *errstr, size_t errstr_size);

/**
 * @brief Queues one record for @p topic. Thread-safe.
 * @param partition   a partition, or QUIRE_PARTITION_ANY.
 * @param key,value   borrowed and copied; NULL for a null key (sticky
 *                    partitioning) or a null value.
 * @param headers     borrowed and copied; @p header_cnt entries.
 * @param timestamp   CreateTime in ms since the epoch; 0 for now (read
 *                    from the coarse wall clock: a few ms resolution).
 * @param opaque      given back in the delivery report.
 * @returns QUIRE_ERR_NONE (the delivery callback will run once for it);
 *          QUIRE_ERR_QUEUE_FULL when buffer.memory stayed full for
 *          max.block.ms; QUIRE_ERR_TIMED_OUT when no metadata for the
 *          topic arrived within max.block.ms (or the topic's error, e.g.
 *          QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION, when brokers answered
 *          without it); QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION for a
 *          partition the topic does not have; QUIRE_ERR_MESSAGE_TOO_LARGE;
 *          QUIRE_ERR_INVALID_TOPIC_EXCEPTION; QUIRE_ERR_BAD_ARG;
 *          QUIRE_ERR_DESTROYED once quire_producer_close() has begun
 *          (a send blocked on metadata or memory then returns it at once;
 *          close waits for every send in progress before it frees the
 *          producer, but a send that starts after close returned uses a
 *          freed handle); QUIRE_ERR_NO_MEMORY. On error no delivery report
 *          follows.
 * @locality any  @locks none
 */
quire_err_t quire_producer_send(quire_producer_t *producer, const char *topic,
                                int32_t partition, const void *key,
                                size_t key_len, const void *value,
                                size_t value_len, const quire_header_t *headers,
                                size_t header_cnt, int64_t timestamp,
                                void *opaque);

/**
 * @brief Sends everything queued at once (ignoring linger.ms) and waits
 * until every record has had its delivery report, or @p timeout_ms.
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_TIMED_OUT, QUIRE_ERR_BAD_ARG;
 *          QUIRE_ERR_STATE at once when called from the delivery callback.
 * @locality any thread but the delivery callback  @locks none
 */
quire_err_t quire_producer_flush(quire_producer_t *producer, int timeout_ms);

/**
 * @brief Flushes for up to @p timeout_ms, then fails whatever is left
 * (reports with QUIRE_ERR_DESTROYED), stops the background thread and
 * frees the producer. Every accepted record has had its report when it
 * returns. Other threads may be inside quire_producer_send() meanwhile:
 * they return QUIRE_ERR_DESTROYED and close waits for them. Accepts NULL.
 * @returns QUIRE_ERR_NONE when everything was delivered in time, else
 *          QUIRE_ERR_TIMED_OUT; QUIRE_ERR_STATE (nothing done) when called
 *          from the delivery callback.
 * @locality any thread but the delivery callback  @locks none
 */
quire_err_t quire_producer_close(quire_producer_t *producer, int timeout_ms);

/* ---- simple consumer ---- */

typedef struct quire_consumer quire_consumer_t;

/** Start offsets for quire_consumer_assign and _seek (Kafka's). */
#define QUIRE_OFFSET_BEGINNING (-2)
#define QUIRE_OFFSET_END       (-1)

/** One consumed record: every pointer is borrowed until the next
 * quire_consumer_poll() or quire_consumer_close(). */
typedef struct quire_record {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp; /**< ms since the epoch */
    const void *key;   /**< NULL for a null key */
    size_t key_len;
    const void *value; /**< NULL for a null value */
    size_t value_len;
    const quire_header_t *headers;
    size_t header_cnt;
    /** The last offset concerned: @c offset for a record; for a corrupt
     * batch (QUIRE_ERR_CORRUPT_MESSAGE) the batch's last offset, so that
     * quire_consumer_seek() to last_offset + 1 skips it. */
    int64_t last_offset;
} quire_record_t;

/**
 * @brief Creates a consumer (no partitions assigned); starts its
 * background thread.
 * @param conf taken on success; left with the caller on error.
 * @returns as quire_producer_new.
 * @locality any  @locks none
 */
quire_err_t quire_consumer_new(quire_conf_t *conf, quire_consumer_t **consumerp,
                               char *errstr, size_t errstr_size);

/**
 * @brief Starts fetching @p topic / @p partition from @p offset (an
 * offset, QUIRE_OFFSET_BEGINNING or QUIRE_OFFSET_END). Assigning an
 * assigned partition seeks it.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_INVALID_TOPIC_EXCEPTION;
 *          QUIRE_ERR_BAD_ARG; QUIRE_ERR_NO_MEMORY.
 * @locality any  @locks none
 */
quire_err_t quire_consumer_assign(quire_consumer_t *consumer, const char *topic,
                                  int32_t partition, int64_t offset);

/**
 * @brief Stops fetching a partition; records of it not yet polled are
 * dropped.
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_NOT_FOUND when not assigned,
 *          QUIRE_ERR_BAD_ARG.
 * @locality any  @locks none
 */
quire_err_t quire_consumer_unassign(quire_consumer_t *consumer,
                                    const char *topic, int32_t partition);

/**
 * @brief Moves an assigned partition to @p offset (or BEGINNING / END):
 * the next record polled from it is the one at that offset. Also clears a
 * partition error (OFFSET_OUT_OF_RANGE). In a group, only partitions
 * this member owns (not the ones a revocation callback is handing back).
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_NOT_FOUND, QUIRE_ERR_BAD_ARG.
 * @locality any  @locks none
 */
quire_err_t quire_consumer_seek(quire_consumer_t *consumer, const char *topic,
                                int32_t partition, int64_t offset);

/**
 * @brief The next record of any assigned partition, in offset order per
 * partition, waiting up to @p timeout_ms.
 * @param recp out: the record (borrowed until the next poll).
 * @returns QUIRE_ERR_NONE with *recp; QUIRE_ERR_TIMED_OUT when none came;
 *          a partition's error (e.g. QUIRE_ERR_OFFSET_OUT_OF_RANGE,
 *          QUIRE_ERR_CORRUPT_MESSAGE) with *recp naming the topic,
 *          partition and offset concerned (no key): the partition
 *          stops until seek. For a corrupt batch (a CRC or record that
 *          does not check, as librdkafka's _BAD_MSG) *recp's offset and
 *          last_offset are the batch's offset range and its value a
 *          message saying so and why: seek to last_offset + 1 to skip
 *          it, or to offset to try again; in a group, QUIRE_ERR_NO_OFFSET (no
 * committed offset and auto.offset.reset=none), and the group's troubles
 *          (QUIRE_ERR_REBALANCE_IN_PROGRESS after rebalance.max.retries,
 *          ZooKeeper errors) with *recp's topic NULL and its value the
 *          message; QUIRE_ERR_BAD_ARG.
 * @locality one application thread at a time  @locks none
 */
quire_err_t quire_consumer_poll(quire_consumer_t *consumer, int timeout_ms,
                                const quire_record_t **recp);

/**
 * @brief The offset of the next record poll will return for a partition
 * (-1 while a BEGINNING/END start is being resolved).
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_NOT_FOUND, QUIRE_ERR_BAD_ARG.
 * @locality any  @locks none
 */
quire_err_t quire_consumer_position(quire_consumer_t *consumer,
                                    const char *topic, int32_t partition,
                                    int64_t *offsetp);

/**
 * @brief The number of partitions of @p topic, asking the brokers if
 * needed and waiting up to @p timeout_ms.
 * @returns QUIRE_ERR_NONE with *cntp; QUIRE_ERR_TIMED_OUT or the topic's
 *          error (QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION); QUIRE_ERR_BAD_ARG.
 * @locality any  @locks none
 */
quire_err_t quire_consumer_partition_count(quire_consumer_t *consumer,
                                           const char *topic, int timeout_ms,
                                           int32_t *cntp);

/**
 * @brief Closes the consumer. In a group (after quire_consumer_subscribe())
 * it first leaves the group cleanly: the rebalance callback is called with
 * QUIRE_REBALANCE_REVOKED for every owned partition (on the calling
 * thread), positions are committed when enable.auto.commit is true,
 * pending asynchronous commits get their callbacks, and the member's
 * nodes are deleted so the others rebalance at once; all of this within
 * request.timeout.ms. Then it stops the background thread and frees the
 * consumer. Accepts NULL.
 * @returns QUIRE_ERR_NONE; the final commit's error (e.g.
 *          QUIRE_ERR_ZK_CONNECTION_LOSS, QUIRE_ERR_TIMED_OUT) when the
 *          positions could not be committed, or QUIRE_ERR_TIMED_OUT when
 *          the group was not left within request.timeout.ms; the consumer
 *          is freed all the same.
 * @locality the polling thread  @locks none
 */
quire_err_t quire_consumer_close(quire_consumer_t *consumer);

/* ---- consumer groups ----
 *
 * With group.id and zookeeper.connect set, quire_consumer_subscribe() joins
 * the group through ZooKeeper (Kafka's layout: /consumers/<group>/ids,
 * owners, offsets). Every member of a group subscribed to a topic gets a
 * share of its partitions (partition.assignment.strategy), each partition
 * owned by exactly one member at a time, and starts from the group's
 * committed offset (auto.offset.reset when there is none). Membership,
 * topic and broker changes rebalance the group.
 *
 * Rebalance callbacks run inside quire_consumer_poll() (or close), on the
 * application's thread:
 *   QUIRE_REBALANCE_REVOKED   these partitions are being taken away: their
 *                             records are no longer returned, and their
 *                             owner nodes are released only after the
 *                             callback returns, so a commit made inside it
 *                             (quire_consumer_commit) is what the next
 *                             owner starts from. offset: the position.
 *   QUIRE_REBALANCE_ASSIGNED  these partitions are now owned, before any
 *                             of their records is returned. offset: where
 *                             fetching starts (QUIRE_OFFSET_BEGINNING /
 *                             QUIRE_OFFSET_END when auto.offset.reset
 *                             applies).
 * With range and roundrobin a rebalance revokes every partition and then
 * assigns the new set (Kafka's eager protocol); with sticky only the
 * partitions that move are revoked and assigned, and the others keep
 * flowing during the rebalance. A rebalance waits for the revocation
 * callback at most max.poll.interval.ms; the application should keep
 * calling poll.
 *
 * The group code in the background thread uses the ZooKeeper C client
 * and the coordinator's bookkeeping, which (like the ZooKeeper client)
 * abort when memory runs out; everything else returns
 * QUIRE_ERR_NO_MEMORY.
 */

/** A partition and an offset, in and out of the group calls. */
typedef struct quire_topic_partition {
    const char *topic;
    int32_t partition;
    int64_t offset; /**< a next offset to read, as Kafka commits it */
} quire_topic_partition_t;

typedef enum quire_rebalance_event {
    QUIRE_REBALANCE_REVOKED,
    QUIRE_REBALANCE_ASSIGNED
} quire_rebalance_event_t;

/**
 * The rebalance callback; @p tps (sorted by topic and partition) is
 * borrowed for the call. It may call quire_consumer_commit(),
 * quire_consumer_position(), quire_consumer_seek() and
 * quire_consumer_committed(), but not poll or close.
 */
typedef void(quire_rebalance_cb_t)(quire_consumer_t *consumer,
                                   quire_rebalance_event_t ev,
                                   const quire_topic_partition_t *tps, size_t n,
                                   void *cb_opaque);

/**
 * @brief Sets the rebalance callback (NULL: none) and its opaque pointer.
 * @locality any  @locks none
 */
void quire_conf_set_rebalance_cb(quire_conf_t *conf, quire_rebalance_cb_t *cb,
                                 void *cb_opaque);

/**
 * @brief Joins group.id subscribed to @p topics (replacing an earlier
 * subscription; topics that do not exist yet are picked up when created).
 * @param topics borrowed, copied.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_INVALID_TOPIC_EXCEPTION (errstr
 *          names it); QUIRE_ERR_CONF_INVALID when group.id or
 *          zookeeper.connect is not set; QUIRE_ERR_STATE after
 *          quire_consumer_assign(); QUIRE_ERR_BAD_ARG.
 * @locality any thread but a callback's  @locks none
 */
quire_err_t quire_consumer_subscribe(quire_consumer_t *consumer,
                                     const char *const *topics, size_t n,
                                     char *errstr, size_t errstr_size);

/**
 * @brief Joins group.id subscribed to every topic whose whole name matches
 * @p pattern (POSIX extended regular expression, as Java's matches()),
 * including topics created later.
 * @returns as quire_consumer_subscribe; QUIRE_ERR_BAD_ARG for a pattern
 *          that does not compile (errstr says why).
 * @locality any thread but a callback's  @locks none
 */
quire_err_t quire_consumer_subscribe_regex(quire_consumer_t *consumer,
                                           const char *pattern, char *errstr,
                                           size_t errstr_size);

/**
 * Completion of quire_consumer_commit_async(), called from a later
 * quire_consumer_poll() or quire_consumer_close().
 */
typedef void(quire_commit_cb_t)(quire_consumer_t *consumer, quire_err_t err,
                                void *cb_opaque);

/**
 * @brief Commits offsets to the group and waits until ZooKeeper has them.
 * @param offsets the next offsets to read of owned partitions, or NULL to
 *        commit the position of every owned partition (the records poll
 *        returned). Borrowed. Only changed offsets are written.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION for a
 *          partition this member does not own; QUIRE_ERR_TIMED_OUT after
 *          @p timeout_ms; a ZooKeeper error (QUIRE_ERR_ZK_CONNECTION_LOSS);
 *          QUIRE_ERR_STATE when not subscribed or closed;
 *          QUIRE_ERR_BAD_ARG.
 * @locality the polling thread (also inside the rebalance callback)
 * @locks none
 */
quire_err_t quire_consumer_commit(quire_consumer_t *consumer,
                                  const quire_topic_partition_t *offsets,
                                  size_t n, int timeout_ms);

/**
 * @brief As quire_consumer_commit(), without waiting: @p cb (may be NULL)
 * reports the result from a later poll or close.
 * @returns QUIRE_ERR_NONE (the callback will run), QUIRE_ERR_STATE,
 *          QUIRE_ERR_BAD_ARG, QUIRE_ERR_NO_MEMORY.
 * @locality the polling thread  @locks none
 */
quire_err_t quire_consumer_commit_async(quire_consumer_t *consumer,
                                        const quire_topic_partition_t *offsets,
                                        size_t n, quire_commit_cb_t *cb,
                                        void *cb_opaque);

/**
 * @brief The group's committed offset (next offset to read) of a
 * partition, owned or not, read from ZooKeeper when needed.
 * @param offsetp out: the offset, or -1 when none is committed.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_TIMED_OUT; a ZooKeeper error;
 *          QUIRE_ERR_STATE without group.id; QUIRE_ERR_BAD_ARG.
 * @locality any thread but the background thread  @locks none
 */
quire_err_t quire_consumer_committed(quire_consumer_t *consumer,
                                     const char *topic, int32_t partition,
                                     int timeout_ms, int64_t *offsetp);

/**
 * @brief The partitions this member owns now (what poll returns records
 * of), with their positions.
 * @param tpsp out: owned, release with quire_topic_partitions_free();
 *        NULL when there are none.
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_BAD_ARG, QUIRE_ERR_NO_MEMORY.
 * @locality any  @locks none
 */
quire_err_t quire_consumer_assignment(quire_consumer_t *consumer,
                                      quire_topic_partition_t **tpsp,
                                      size_t *cntp);

/** @brief Frees what quire_consumer_assignment() returned. Accepts NULL.
 * @locality any @locks none */
void quire_topic_partitions_free(quire_topic_partition_t *tps, size_t n);

/**
 * @brief This member's consumer id in the group
 * (<group>_<host>-<ms>-<random>), copied into @p dest (NUL-terminated,
 * truncated to @p dest_size).
 * @returns QUIRE_ERR_NONE, or QUIRE_ERR_STATE when not subscribed.
 * @locality any  @locks none
 */
quire_err_t quire_consumer_member_id(quire_consumer_t *consumer, char *dest,
                                     size_t dest_size);

/* ---- offsets for times ----
 *
 * Kafka's offsetsForTimes: for each partition, the earliest offset whose
 * record timestamp is at or after a given time, asked of the partition's
 * leader (ListOffsets by timestamp). Works with or without a group.
 */

/**
 * @brief Looks up, for each of @p tps, the offset of the first record
 * whose timestamp is >= tps[i].offset (ms since the epoch;
 * QUIRE_OFFSET_BEGINNING and QUIRE_OFFSET_END ask for the log's start and
 * end), waiting up to @p timeout_ms. Leader changes and other retriable
 * errors are retried within the time. The broker answers at batch
 * granularity (it does not look inside batches): the offset is that of the
 * first batch holding such a record, so records before it in that batch
 * may be older, but no record at or after the time is ever skipped.
 * @param tps borrowed; in: offset = a timestamp; out: offset = the offset
 *        found, or -1 when no record is that recent (or on error).
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_TIMED_OUT when some leader did not
 *          answer in time (the others' offsets are filled in);
 *          QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION for a topic or partition
 *          that does not exist; QUIRE_ERR_INVALID_TOPIC_EXCEPTION; a
 *          partition's error from its leader; QUIRE_ERR_DESTROYED while
 *          closing; QUIRE_ERR_BAD_ARG for a NULL argument, a negative
 *          partition or timestamp (other than the two above) or a
 *          negative @p timeout_ms; QUIRE_ERR_NO_MEMORY.
 * @locality any thread but the consumer's callbacks  @locks none
 */
quire_err_t quire_consumer_offsets_for_times(quire_consumer_t *consumer,
                                             quire_topic_partition_t *tps,
                                             size_t n, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* QUIRE_H */
