/*
 * fetcher: the follower side of replication (issue 16 items 2 and 6):
 * this broker's replicas of partitions led elsewhere, fetched from their
 * leaders and appended byte for byte at the same offsets.
 *
 * ---- Connections ----
 * One TCP connection per source broker (the leader's registered host:port;
 * a leader that moves to another address is another source), carrying one
 * request at a time, as Kafka's ReplicaFetcherThread does, but for one
 * pipelined Fetch (below): a Fetch naming
 * every partition this broker follows on that leader (replica_id = this
 * broker's id, current_leader_epoch, fetch_offset = our log end,
 * replica_synced_offset = our fdatasync'd end), or, for partitions that just
 * started following, an OffsetsForLeaderEpoch (KIP-101 / KIP-279) whose
 * answer says where to truncate before fetching. Errors back off
 * (replica.fetch.backoff.ms); a lost connection is re-made after the same
 * delay; a request unanswered for replica.fetch.wait.max.ms +
 * replica.socket.timeout.ms drops the connection.
 *
 * A follower far behind gets full answers back to back; for the
 * partitions an answer leaves below the leader's high watermark it sends
 * the next Fetch as soon as the answer is read, before appending it
 * (fetch_offset = where the log will end then, read from the batch
 * headers), so the leader reads and sends while the follower checks CRCs
 * and writes. At most two requests are in flight; the answers are
 * appended in order, and one whose fetch offset is not the log end when
 * it comes (the append before it failed) is dropped. fetcher.c (send_next)
 * says why claiming an offset early cannot move the leader's HW or ISR.
 *
 * ---- Thread ----
 * Every source runs on ONE libev loop of the fetcher's own thread, not on
 * the main loop: a catching-up follower validates CRCs over and appends up
 * to replica.fetch.response.max.bytes per response, and a truncation
 * fdatasyncs; on the main loop that work would delay ZooKeeper's pings and
 * the replica manager. Not a thread per source or partition either: the
 * machine this runs on has few cores and the work is I/O bound.
 *
 * ---- Memory ----
 * Per source: the encoded request, and one response frame at a time, at
 * most conf.max_frame bytes (checked from the frame prefix before anything
 * is allocated), in a buffer that only grows while connected (a follower
 * catching up reuses it for every answer) and is freed on disconnect. The leader sends at most replica.fetch.max.bytes per
 * partition and replica.fetch.response.max.bytes in all, plus at most one
 * batch past them (KIP-74) so a large batch cannot stall a follower.
 *
 * ---- Ownership and locks ----
 * The fetcher holds a reference on the log of every partition it follows
 * (qr_plog_keep at qr_fetcher_follow, released by qr_fetcher_unfollow or
 * qr_fetcher_stop). One mutex, f->mu, guards the partition table and every
 * source; the fetcher thread holds it whenever it runs (it lets go only in
 * its loop's poll and around name resolution), so qr_fetcher_unfollow()
 * returning means the thread is not appending to that log and never will
 * again. Lock order: f->mu, then the partition log's own locks.
 */
#ifndef QR_FETCHER_H
#define QR_FETCHER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "partlog.h"

typedef struct qr_fetcher qr_fetcher_t;

/** Kafka's replica.fetch.* keys (server.properties), and who we are. */
typedef struct qr_fetcher_conf {
    int32_t broker_id;          /* replica_id in our requests */
    int32_t fetch_max_bytes;    /* replica.fetch.max.bytes, per partition */
    int32_t response_max_bytes; /* replica.fetch.response.max.bytes */
    int32_t wait_max_ms;        /* replica.fetch.wait.max.ms */
    int32_t min_bytes;          /* replica.fetch.min.bytes */
    int64_t backoff_ms;         /* replica.fetch.backoff.ms */
    int64_t socket_timeout_ms;  /* replica.socket.timeout.ms */
    uint32_t max_frame;         /* largest response frame accepted */
} qr_fetcher_conf_t;

/**
 * @brief Builds a fetcher (its thread not started).
 * @param conf borrowed; copied.
 * @returns owned: qr_fetcher_stop() then qr_fetcher_destroy().
 * @locality main  @locks none
 */
qr_fetcher_t *qr_fetcher_new(const qr_fetcher_conf_t *conf);

/**
 * @brief Starts the fetcher thread.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_STATE (pthread_create failed;
 *          logged).
 * @locality main  @locks none
 */
quire_err_t qr_fetcher_start(qr_fetcher_t *f);

/**
 * @brief Follows @p part's partition from broker @p leader at
 * @p leader_epoch (a new partition, a new leader or a new epoch of the same
 * one). Every change of epoch goes through truncation again before the
 * next fetch (KIP-101: the leader's log may have changed under a newer
 * epoch we did not see). Same leader, epoch and address: nothing changes.
 * @param part borrowed; the fetcher takes its own reference.
 * @param leader the leader's broker id; -1 (or @p host NULL) when the
 *        partition has no live leader: the log stays followed but nothing
 *        is fetched until a leader is known.
 * @param host,port the leader's registered address; borrowed (copied).
 * @locality main  @locks takes f->mu
 */
void qr_fetcher_follow(qr_fetcher_t *f, qr_plog_t *part, int32_t leader,
                       int32_t leader_epoch, const char *host, int port);

/**
 * @brief Stops following topic-partition: when it returns, the fetcher
 * thread no longer touches the log, and its reference is released. A
 * partition not followed is fine.
 * @returns 1 when it was followed, else 0.
 * @locality main  @locks takes f->mu
 */
int qr_fetcher_unfollow(qr_fetcher_t *f, const char *topic, int32_t partition);

/**
 * @brief Says a followed log's synced end may have moved (the partition
 * log's on_append callback), so a source waiting to report it sends its
 * next Fetch. Cheap; safe after qr_fetcher_stop().
 * @locality any (a flusher thread)  @locks none
 */
void qr_fetcher_notify(qr_fetcher_t *f);

/** What a test or an operator may ask about one followed partition. */
typedef struct qr_fetcher_pstat {
    int32_t leader;
    int32_t leader_epoch;
    int truncating;      /* still to truncate before fetching */
    int64_t fetches;     /* Fetch answers applied to it */
    int64_t truncations; /* truncations done (each KIP-279 step counts) */
} qr_fetcher_pstat_t;

/**
 * @brief Copies the fetcher's view of topic-partition into @p out.
 * @returns 1 when followed, else 0.
 * @locality any  @locks takes f->mu
 */
int qr_fetcher_stat(qr_fetcher_t *f, const char *topic, int32_t partition,
                    qr_fetcher_pstat_t *out);

/**
 * @brief Stops the thread, closes every connection and releases every
 * followed log. The object stays valid for qr_fetcher_notify() until
 * qr_fetcher_destroy(). Idempotent.
 * @locality main  @locks takes f->mu
 */
void qr_fetcher_stop(qr_fetcher_t *f);

/** @brief Stops (if needed) and frees @p f. Accepts NULL.
 * @locality main  @locks none */
void qr_fetcher_destroy(qr_fetcher_t *f);

/* ---- the KIP-279 rule, apart from the network (unit-tested) ---- */

/** Where to truncate, decided from one OffsetsForLeaderEpoch answer. */
typedef struct qr_fetcher_trunc {
    int64_t offset; /* truncate to this (it is <= the log end) */
    int done;       /* 1: then fetch from there; 0: ask again with the
                       latest epoch left after truncating (KIP-279) */
} qr_fetcher_trunc_t;

/**
 * @brief Kafka's getOffsetTruncationState.
 * @param leader_epoch,leader_end the leader's answer: the largest epoch it
 *        has <= the one asked, and where that epoch ends on the leader;
 *        leader_end -1 when the leader knows no epoch at all.
 * @param follower_epoch,follower_end this replica's largest epoch <=
 *        @p leader_epoch and where it ends here (-1, -1: none).
 * @param log_end this replica's log end; @p hw its high watermark (the
 *        fallback when the leader has no epochs).
 * @locality any  @locks none
 */
qr_fetcher_trunc_t qr_fetcher_truncation(int32_t leader_epoch,
                                         int64_t leader_end,
                                         int32_t follower_epoch,
                                         int64_t follower_end, int64_t log_end,
                                         int64_t hw);

#endif /* QR_FETCHER_H */
