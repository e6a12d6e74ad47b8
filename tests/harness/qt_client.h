/*
 * qt_client: a small blocking client of quire's raw protocol for tests and
 * the load generator (proto/frame + proto/wire, nothing else). It blocks
 * with poll() and deadlines, which only a test may do.
 *
 * Responses are decoded into proto/wire's qr_resp_t; the `records` views of
 * a Fetch response point into the client's receive buffer and stay valid
 * until the next qt_client_recv() on the same client.
 *
 * @locality one client per thread  @locks none
 */
#ifndef QT_CLIENT_H
#define QT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "wire.h"

typedef struct qt_client {
    int fd;
    int32_t next_corr;
    uint8_t *buf; /* received, not yet consumed */
    size_t len, cap;
    size_t consumed; /* size of the frame handed out last */
} qt_client_t;

/**
 * @brief Connects to "host:port" ("[v6]:port" too).
 * @returns owned (qt_client_close()), or NULL with a line on stderr.
 */
qt_client_t *qt_client_connect(const char *addr, int timeout_ms);

/** @brief Sends raw bytes, all of them. @returns 0 or -1 (closed/error). */
int qt_client_send_raw(qt_client_t *c, const void *buf, size_t len);

/**
 * @brief Encodes and sends @p req followed by @p payload (the Produce
 * records, in header order). A zero correlation_id is replaced by the
 * next one of the client.
 * @returns the correlation_id used, or -1.
 */
int32_t qt_client_send(qt_client_t *c, qr_req_t *req, const void *payload,
                       size_t payload_len);

/**
 * @brief Receives and decodes the next response frame.
 * @param resp filled on QUIRE_ERR_NONE; release with qr_wire_resp_free().
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_TIMED_OUT; QUIRE_ERR_NETWORK_EXCEPTION
 *          when the broker closed the connection; QUIRE_ERR_BAD_FRAME.
 */
quire_err_t qt_client_recv(qt_client_t *c, qr_resp_t *resp, int timeout_ms);

/** @brief qt_client_send() then qt_client_recv(), checking that the
 * correlation ids match (QUIRE_ERR_BAD_FRAME otherwise). */
quire_err_t qt_client_call(qt_client_t *c, qr_req_t *req, const void *payload,
                           size_t payload_len, qr_resp_t *resp, int timeout_ms);

/**
 * @brief Waits until the broker closes the connection.
 * @returns 0 when it did, -1 when data came or the deadline passed.
 */
int qt_client_wait_closed(qt_client_t *c, int timeout_ms);

/** @brief Closes and frees; NULL is fine. */
void qt_client_close(qt_client_t *c);

/* ---- helpers over the APIs ---- */

/**
 * @brief One Produce of @p batches (@p len bytes of concatenated batches)
 * to topic-partition with @p acks.
 * @param err the partition's error code (also returned).
 * @param base_offset the partition's base offset (-1 on error); may be NULL.
 * @returns the partition's code, or a transport/request-level code. With
 *          acks 0 nothing is awaited: QUIRE_ERR_NONE once sent.
 */
quire_err_t qt_produce(qt_client_t *c, const char *topic, int32_t partition,
                       int acks, const void *batches, size_t len,
                       int64_t *base_offset, int timeout_ms);

/**
 * @brief One Fetch of one partition.
 * @param resp filled on QUIRE_ERR_NONE (release with qr_wire_resp_free();
 *        the records stay valid until the next receive on @p c).
 * @param part set to the partition's response inside @p resp.
 * @returns the transport or request-level code; the partition's own code
 *          is (*part)->error_code.
 */
quire_err_t qt_fetch(qt_client_t *c, const char *topic, int32_t partition,
                     int64_t offset, int max_wait_ms, int min_bytes,
                     int max_bytes, int partition_max_bytes, qr_resp_t *resp,
                     const qr_fetch_part_resp_t **part, int timeout_ms);

/**
 * @brief ListOffsets of one partition.
 * @param offset set to the answer (-1 when none).
 * @returns the partition's code, or a transport/request-level code.
 */
quire_err_t qt_list_offset(qt_client_t *c, const char *topic, int32_t partition,
                           int64_t timestamp, int64_t *offset, int timeout_ms);

/**
 * @brief Asks Metadata until @p topic has @p parts partitions whose leaders
 * are all known (auto-creating it when the broker allows), or the deadline.
 * @returns 0, or -1 with a line on stderr.
 */
int qt_wait_topic(qt_client_t *c, const char *topic, int parts, int timeout_ms);

#endif /* QT_CLIENT_H */
