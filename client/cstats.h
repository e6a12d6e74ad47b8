/*
 * cstats: libquire's client statistics (issue 15 item 2), librdkafka's
 * idea: every statistics.interval.ms the handle's loop thread builds one
 * JSON document (jansson) and gives it to the statistics callback
 * (quire_conf_set_stats_cb). Field names are librdkafka's where the
 * meaning is the same; quire(3) STATISTICS lists them all.
 *
 * Who counts what, and on which thread:
 *   - per broker (qr_cstats_broker_t): requests and bytes sent and
 *     received, round-trip times, connects, disconnects, timeouts;
 *     bumped by the broker's connection (bconn.c) on the loop thread;
 *   - per topic and partition (qr_cstats_t's table): records and bytes
 *     delivered, batch sizes, record counts per batch and compressed
 *     against raw bytes; bumped once per delivered batch by the producer,
 *     on the loop thread.
 * The consumer's counters live in its partitions (consumer_int.h) and
 * are bumped per fetched batch on the loop thread. Nothing on the path of
 * a single record (send, poll) touches a counter, and every counter is
 * the loop thread's, so none needs a lock or an atomic.
 *
 * Windows (rtt, batchsize, batchcnt) cover one interval: they are read
 * and reset each time a document is built, as librdkafka's are.
 *
 * Ownership: qr_cstats_t and qr_cstats_broker_t are owned by the client
 * (client.c); a connection borrows its broker's counters, which outlive
 * it. json_t values returned are owned by the caller (json_decref) unless
 * said borrowed.
 */
#ifndef QR_CSTATS_H
#define QR_CSTATS_H

#include <jansson.h>
#include <stdint.h>

/* Samples a window keeps for its percentiles; beyond this the extremes,
 * sum and count stay exact and the percentiles come from the last ones. */
#define QR_CSTATS_WINDOW_SAMPLES 1024

/** Values seen during one interval: min, max, sum, count, and samples
 * for the percentiles. Zeroed is empty. */
typedef struct qr_cstats_window {
    int64_t min, max, sum, cnt;
    int64_t samples[QR_CSTATS_WINDOW_SAMPLES]; /* a ring */
} qr_cstats_window_t;

/** One broker's counters (the connection to it comes and goes). */
typedef struct qr_cstats_broker {
    int64_t tx, txbytes;    /* requests written, their bytes */
    int64_t rx, rxbytes;    /* responses read, their bytes */
    int64_t txerrs, rxerrs; /* write and read failures */
    int64_t req_timeouts;   /* requests past request.timeout.ms */
    int64_t connects;       /* connections that came up */
    int64_t disconnects;    /* connections that closed after coming up */
    qr_cstats_window_t rtt; /* request written to response read, us */
} qr_cstats_broker_t;

typedef struct qr_cstats qr_cstats_t;

/**
 * @brief The counters of one client handle.
 * @returns owned (qr_cstats_destroy), or NULL when out of memory.
 * @locality any  @locks none
 */
qr_cstats_t *qr_cstats_new(void);

/** @brief Frees @p st. Accepts NULL. @locality loop (or after it ended)
 * @locks none */
void qr_cstats_destroy(qr_cstats_t *st);

/** @brief Adds @p v to @p w. @locality loop  @locks none */
void qr_cstats_window_add(qr_cstats_window_t *w, int64_t v);

/**
 * @brief A delivered batch of @p topic / @p partition: @p msgs records,
 * @p raw_bytes before compression, @p wire_bytes as sent. Out of memory
 * drops the sample.
 * @locality loop  @locks none
 */
void qr_cstats_produced(qr_cstats_t *st, const char *topic, int32_t partition,
                        int64_t msgs, int64_t raw_bytes, int64_t wire_bytes);

/**
 * @brief A new document with the handle-wide fields: name, client_id,
 * type, ts, time, age, and the totals of the topic table (txmsgs,
 * txmsg_bytes); rxmsgs and rxmsg_bytes start at 0 for the consumer to add
 * to (qr_cstats_doc_add).
 * @param name,client_id,type borrowed, copied.
 * @returns owned, or NULL when out of memory.
 * @locality loop  @locks none
 */
json_t *qr_cstats_doc_new(const qr_cstats_t *st, const char *name,
                          const char *client_id, const char *type);

/**
 * @brief Adds a broker to doc's "brokers" object (keyed by @p name) with
 * its counters, and resets its rtt window; bumps the document's tx, rx,
 * tx_bytes and rx_bytes totals.
 * @param state "INIT", "CONNECT", "UP" or "DOWN" (librdkafka's words).
 * @param outbuf_cnt requests queued and not yet written.
 * @param waitresp_cnt requests written and not yet answered.
 * @locality loop  @locks none
 */
void qr_cstats_doc_broker(json_t *doc, qr_cstats_broker_t *bs, const char *name,
                          int32_t nodeid, const char *source, const char *state,
                          int outbuf_cnt, int waitresp_cnt);

/**
 * @brief doc.topics[@p topic].partitions["<partition>"], created (with its
 * "topic" and "partition" fields) when missing.
 * @returns borrowed from @p doc; NULL when out of memory.
 * @locality loop  @locks none
 */
json_t *qr_cstats_doc_part(json_t *doc, const char *topic, int32_t partition);

/**
 * @brief Adds the producer's topic table to doc.topics: per partition
 * txmsgs and txbytes; per topic batchsize and batchcnt windows (reset
 * here), batch_fill (raw bytes per batch over @p batch_size) and
 * compression_ratio (wire over raw bytes, 1 without compression).
 * @locality loop  @locks none
 */
void qr_cstats_doc_topics(json_t *doc, qr_cstats_t *st, int64_t batch_size);

/** @brief doc[@p key] += @p v (an integer field, created at 0).
 * @locality loop  @locks none */
void qr_cstats_doc_add(json_t *obj, const char *key, int64_t v);

#endif /* QR_CSTATS_H */
