/*
 * client: what the producer and the consumer share: the background thread
 * that runs the client's libev loop, the brokers and their connections,
 * and the metadata cache (topics, partitions, leaders) kept fresh through
 * Metadata requests to the brokers (bootstrap.servers) or, with
 * zookeeper.connect, through the brokers' own registrations read from
 * ZooKeeper... (see quire(3) for which is used).
 *
 * Threads: the loop thread owns the brokers, the connections and the
 * current metadata snapshot. Application threads read partition counts
 * under client->lock and ask for topics through qr_client_partitions(),
 * which wakes the loop and waits on client->cv for a refresh.
 *
 * The producer or consumer on top plugs in through qr_client_ops_t: its
 * callbacks run on the loop thread.
 */
#ifndef QR_CLIENT_H
#define QR_CLIENT_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bconn.h"
#include "clconf.h"
#include "cstats.h"
#include "err.h"
#include "logsink.h"
#include "rxpool.h"

typedef struct qr_client qr_client_t;

/** One partition as the metadata describes it. */
typedef struct qr_cmeta_part {
    int32_t leader; /* broker id, -1 when none */
    int32_t leader_epoch;
    quire_err_t err;
} qr_cmeta_part_t;

typedef struct qr_cmeta_topic {
    char *name;
    quire_err_t err; /* NONE, or UNKNOWN_TOPIC_OR_PARTITION, ... */
    int32_t part_cnt;
    qr_cmeta_part_t *parts;
} qr_cmeta_topic_t;

/** The hooks of the producer or consumer, run on the loop thread. */
typedef struct qr_client_ops {
    /** Something to do: woken by qr_client_wake, a timer, a connection
     * that came up, or new metadata. */
    void (*run)(qr_client_t *cl, void *ctx);
    /** A connection closed (after its requests were failed). */
    void (*conn_closed)(qr_client_t *cl, qr_bconn_t *conn, void *ctx);
    /** The loop is stopping: complete or fail everything, close nothing
     * (the client closes the connections right after). */
    void (*stopping)(qr_client_t *cl, void *ctx);
    /** allow.auto.create.topics when the application left it unset: 1
     * for a producer, 0 for a consumer (as Kafka's clients). */
    int auto_create_default;
    /** issue 15: "producer" or "consumer", the statistics' type. */
    const char *type;
    /** issue 15: adds the producer's or consumer's part (topics,
     * partitions, queues) to a statistics document (may be NULL). */
    void (*stats)(qr_client_t *cl, void *ctx, json_t *doc);
} qr_client_ops_t;

struct qr_client {
    quire_conf_t *conf; /* owned */
    struct ev_loop *loop;
    pthread_t thread;
    int thread_started;
    ev_async wake;   /* any thread -> loop: run */
    ev_timer tick;   /* housekeeping and linger/backoff deadlines */
    ev_prepare prep; /* frees closed connections outside their callbacks */
    const qr_client_ops_t *ops;
    void *ctx;
    /* ---- shared with application threads, under lock ---- */
    pthread_mutex_t lock;
    pthread_cond_t cv;        /* metadata refreshed */
    qr_cmeta_topic_t *topics; /* current snapshot; loop writes, lock */
    size_t topic_cnt;
    char **wanted; /* topics asked about; lock */
    size_t wanted_cnt, wanted_cap;
    /* bumped by every refresh, under lock; read without it by the
     * producer's fast path (qr_client_meta_version) */
    _Atomic uint64_t meta_version;
    int stop;              /* lock */
    int closing;           /* lock: qr_client_partitions refuses */
    /* ---- loop thread only ---- */
    struct cbroker *brokers;
    size_t broker_cnt, broker_cap;
    size_t bootstrap_cnt; /* the first entries; ids -1, -2, ... */
    int meta_needed;
    int meta_inflight;
    size_t meta_wanted_seen; /* wanted_cnt when the last request went */
    int64_t meta_last_ms;
    int64_t meta_retry_at_ms;
    int64_t next_run_ms; /* when ops->run wants to run again */
    size_t rr;           /* round robin over brokers for metadata */
    /* bumped by every metadata refresh and every broker becoming
     * unreachable or reachable: the producer recomputes which partitions
     * records without a key may go to when it changes */
    uint64_t avail_gen;
    /* ---- issue 18: the handle's log and error callbacks ---- */
    qr_logsink_t logs; /* log_level, debug, log_cb; summarises repeats */
    int all_down;      /* loop: the error callback was told */
    /* ---- issue 15: statistics (loop thread) ---- */
    qr_cstats_t *stats;   /* owned */
    /* ---- issue 14: large response buffers (any thread) ---- */
    qr_rxpool_t *rxpool; /* owned */
    ev_timer stats_timer; /* every statistics.interval.ms, when set */
    char stats_name[96];  /* "<client.id>#<type>-<n>" */
};

/**
 * @brief Builds the client: parses bootstrap.servers, creates the loop;
 * does not start the thread.
 * @param conf taken on success (destroyed with the client).
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CONF_INVALID (errstr says why: no
 *          bootstrap.servers, a bad host:port); QUIRE_ERR_NO_MEMORY.
 * @locality application  @locks none
 */
quire_err_t qr_client_new(quire_conf_t *conf, const qr_client_ops_t *ops,
                          void *ctx, qr_client_t **clp, char *errstr,
                          size_t errstr_size);

/** @brief Starts the loop thread. @returns NONE or NO_MEMORY.
 * @locality application  @locks none */
quire_err_t qr_client_start(qr_client_t *cl);

/**
 * @brief The owner is closing: qr_client_partitions() returns
 * QUIRE_ERR_DESTROYED from now on, and every thread waiting in it is woken
 * to do so. The loop keeps running (a close still flushes).
 * @locality application  @locks takes cl->lock
 */
void qr_client_closing(qr_client_t *cl);

/**
 * @brief Stops the loop thread: ops->stopping runs on it, every
 * connection is closed (failing their requests), then the thread ends and
 * is joined. Idempotent.
 * @locality application (never the loop thread)  @locks takes cl->lock
 */
void qr_client_stop(qr_client_t *cl);

/** @brief Frees a stopped client (and the conf). Accepts NULL.
 * @locality application  @locks none */
void qr_client_destroy(qr_client_t *cl);

/** @brief Wakes the loop so ops->run runs soon. @locality any
 * @locks none */
void qr_client_wake(qr_client_t *cl);

/** @brief Makes ops->run run on the next loop iteration (no syscall).
 * @locality loop  @locks none */
void qr_client_kick(qr_client_t *cl);

/**
 * @brief The partition count of @p topic, asking the brokers when it is
 * not known yet and waiting for the answer until @p deadline_ms
 * (monotonic).
 * @returns QUIRE_ERR_NONE with *cntp > 0; the topic's error when the
 *          brokers answered but the deadline passed with the topic still
 *          unusable (UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE...);
 *          QUIRE_ERR_TIMED_OUT when no broker answered in time;
 *          QUIRE_ERR_DESTROYED when the client is stopping;
 *          QUIRE_ERR_NO_MEMORY.
 * @locality application threads (not the loop)  @locks takes cl->lock
 */
quire_err_t qr_client_partitions(qr_client_t *cl, const char *topic,
                                 int64_t deadline_ms, int32_t *cntp);

/**
 * @brief The metadata version now: a partition count read with
 * qr_client_partitions() after this call holds at least until the
 * version moves on.
 * @locality any  @locks none
 */
static inline uint64_t qr_client_meta_version(qr_client_t *cl)
{
    return atomic_load_explicit(&cl->meta_version, memory_order_acquire);
}

/**
 * @brief The topic in the current snapshot.
 * @returns borrowed, valid until the loop's next metadata refresh (loop
 *          thread) or while cl->lock is held; NULL when unknown.
 * @locality loop, or any thread holding cl->lock  @locks see above
 */
const qr_cmeta_topic_t *qr_client_topic(const qr_client_t *cl,
                                        const char *topic);

/**
 * @brief The connection to broker @p node_id, connecting when there is
 * none (and its reconnect backoff has passed).
 * @returns borrowed (valid until the connection closes and the loop's
 *          next iteration), UP or CONNECTING; NULL when the broker is
 *          unknown or backing off.
 * @locality loop  @locks none
 */
qr_bconn_t *qr_client_conn(qr_client_t *cl, int32_t node_id);

/**
 * @brief The connection to broker @p node_id if there is one (UP or
 * CONNECTING), without starting one: for callers that must not wait on
 * name resolution or connect(), such as the producer's drain selector
 * under the accumulator's lock.
 * @returns borrowed, as qr_client_conn(); NULL when there is none.
 * @locality loop  @locks none
 */
qr_bconn_t *qr_client_conn_peek(qr_client_t *cl, int32_t node_id);

/**
 * @brief Whether broker @p node_id is known to be unreachable: its last
 * connection failed before coming up (refused, timed out, unresolvable),
 * and none has come up since. Such a broker is tried again every second.
 * @param whyp out (may be NULL): why the connection failed, for people
 *        ("Connection refused"); borrowed until the loop's next run.
 * @locality loop  @locks none
 */
int qr_client_broker_down(const qr_client_t *cl, int32_t node_id,
                          const char **whyp);

/** @brief "host:port" of broker @p node_id into @p buf ("unknown
 * address" when it is not known). @returns @p buf.
 * @locality loop  @locks none */
const char *qr_client_broker_name(const qr_client_t *cl, int32_t node_id,
                                  char *buf, size_t size);

/** @brief Asks for a metadata refresh soon (after an error that says the
 * cache is stale). Adds @p topic (may be NULL) to the topics asked about.
 * @locality loop  @locks takes cl->lock */
void qr_client_meta_stale(qr_client_t *cl, const char *topic);

/** @brief Asks ops->run to run again at @p at_ms (monotonic) at the
 * latest. @locality loop  @locks none */
void qr_client_run_at(qr_client_t *cl, int64_t at_ms);

/**
 * @brief Makes this thread log through the handle's settings (log_level,
 * debug, log_cb) until qr_client_log_leave(): every public entry point
 * that may log brackets itself with the pair.
 * @returns the thread's previous context, for qr_client_log_leave().
 * @locality application  @locks none
 */
qr_log_ctx_t *qr_client_log_enter(qr_client_t *cl);

/** @brief Restores the context qr_client_log_enter() returned.
 * @locality application  @locks none */
void qr_client_log_leave(qr_log_ctx_t *prev);

/**
 * @brief Tells the application of a client-wide error (the error
 * callback, issue 18 item 7) and logs it as a warning.
 * @locality any thread of the handle  @locks none
 */
void qr_client_error(qr_client_t *cl, quire_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* QR_CLIENT_H */
