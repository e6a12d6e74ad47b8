/*
 * bconn: one client connection to a broker, on the client's libev loop
 * (DESIGN.md §2): non-blocking connect with a timeout, pipelined requests
 * (many in flight, answered in order, matched by correlation_id), a
 * per-request deadline, and incremental frame parsing.
 *
 * Writes: each request is its encoded prefix+header (owned by the
 * connection) followed by borrowed payload pieces (the producer's finished
 * batches), written with writev as the socket accepts them. Payload pieces
 * must stay valid until the request's callback runs.
 *
 * Reads: every response frame ends up in a buffer of its own (bounded by
 * the frame limits before any allocation) from the connection's rxpool,
 * which the callback may take (the consumer keeps fetched data without a
 * copy) and gives back with qr_rxpool_put.
 *
 * Failure: a socket error, a malformed or unexpected frame, or a request
 * past its deadline closes the connection; every request still pending is
 * completed with the error (QUIRE_ERR_NETWORK_EXCEPTION or
 * QUIRE_ERR_REQUEST_TIMED_OUT), in order, then the owner's on_close runs.
 * The object stays allocated (state CLOSED) until qr_bconn_destroy(): the
 * owner reconnects by creating a new one.
 *
 * Everything here runs on the client's loop thread: @locality loop,
 * @locks none, for every function.
 */
#ifndef QR_BCONN_H
#define QR_BCONN_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "buf.h"
#include "cstats.h"
#include "err.h"
#include "frame.h"
#include "rxpool.h"
#include "wire.h"

typedef struct qr_bconn qr_bconn_t;

typedef enum qr_bconn_state {
    QR_BCONN_CONNECTING,
    QR_BCONN_UP,
    QR_BCONN_CLOSED,
} qr_bconn_state_t;

/**
 * A response (or the failure of a request).
 * @param err   QUIRE_ERR_NONE with @p resp, or the transport error (resp
 *              NULL). The broker's own error codes are inside @p resp.
 * @param resp  borrowed for the call; Fetch `records` point into
 *              *@p framebuf.
 * @param framebuf the frame's buffer (owned by the connection): the
 *              callback may take it by setting *framebuf = NULL, and give
 *              it back later with qr_rxpool_put() on the pool in the
 *              connection's conf. NULL when there is no response.
 * @param arg   the pointer given to qr_bconn_send.
 */
typedef void(qr_bconn_cb)(qr_bconn_t *conn, quire_err_t err, qr_resp_t *resp,
                          uint8_t **framebuf, void *arg);

/** Called once when the connection closes (after the pending callbacks). */
typedef void(qr_bconn_close_cb)(qr_bconn_t *conn, quire_err_t why, void *owner);

typedef struct qr_bconn_conf {
    const char *client_id;  /* borrowed for the call; copied */
    int connect_timeout_ms; /* socket.connection.setup.timeout.ms */
    uint32_t max_frame;     /* largest response frame accepted */
    qr_bconn_close_cb *on_close;
    /** Called once when the TCP connection is established (may be NULL). */
    void (*on_up)(qr_bconn_t *conn, void *owner);
    void *owner;
    /** Counters to bump (borrowed; must outlive the connection; may be
     * NULL): requests, bytes, round trips, connects (cstats.h). */
    qr_cstats_broker_t *stats;
    /** Where response buffers come from and go back to (borrowed; must
     * outlive the connection and every buffer it handed out). */
    qr_rxpool_t *rxpool;
} qr_bconn_conf_t;

/**
 * @brief Starts connecting to @p host:@p port (name resolved now; meant for
 * loopback and literal addresses, so the loop is not held long).
 * @param node_id the broker's id, or a negative number for a bootstrap
 *        server (for the owner's bookkeeping only).
 * @param connp out: owned; release with qr_bconn_destroy().
 * @returns QUIRE_ERR_NONE (the connection may still fail later, through
 *          on_close); QUIRE_ERR_BROKER_NOT_AVAILABLE when the name does not
 *          resolve or the socket cannot be created; QUIRE_ERR_NO_MEMORY.
 */
quire_err_t qr_bconn_new(struct ev_loop *loop, int32_t node_id,
                         const char *host, int port,
                         const qr_bconn_conf_t *conf, qr_bconn_t **connp);

/**
 * @brief Queues a request. The correlation_id and client_id of @p req are
 * set here; @p req is borrowed for the call (encoded at once).
 * @param payload,iovcnt borrowed until @p cb runs (NULL, 0: none); their
 *        total must equal qr_wire_req_payload_len(req).
 * @param expect_response 0 for Produce with acks=0: @p cb then runs once
 *        the request is written, with resp NULL.
 * @param timeout_ms time allowed for the answer, counted from now.
 * @returns QUIRE_ERR_NONE (@p cb will run exactly once, never from inside
 *          this call); QUIRE_ERR_STATE when the connection is closed;
 *          QUIRE_ERR_BAD_ARG for a request wire.c refuses or a payload of
 *          the wrong size; QUIRE_ERR_NO_MEMORY.
 */
quire_err_t qr_bconn_send(qr_bconn_t *conn, qr_req_t *req,
                          const struct iovec *payload, int iovcnt,
                          int expect_response, int timeout_ms, qr_bconn_cb *cb,
                          void *arg);

/** @brief Requests sent or queued and not yet answered. */
int qr_bconn_pending(const qr_bconn_t *conn);

/** @brief Requests written and not yet answered (of qr_bconn_pending;
 * the rest are queued to be written). Walks them: for statistics. */
int qr_bconn_waitresp(const qr_bconn_t *conn);

/** @brief The connection's state. */
qr_bconn_state_t qr_bconn_state(const qr_bconn_t *conn);

/** @brief The broker id given to qr_bconn_new. */
int32_t qr_bconn_node(const qr_bconn_t *conn);

/** @brief "host:port", for logs. @returns borrowed, valid for the
 * connection's life. */
const char *qr_bconn_name(const qr_bconn_t *conn);

/** @brief Why connecting failed ("Connection refused", "connect timed
 * out"), or "" when it did not (yet). @returns borrowed, valid with the
 * connection. @locality loop  @locks none */
const char *qr_bconn_why(const qr_bconn_t *conn);

/**
 * @brief Closes the connection with @p why, completing every pending
 * request with it (NETWORK_EXCEPTION if @p why is NONE) and calling
 * on_close. No-op when already closed.
 */
void qr_bconn_close(qr_bconn_t *conn, quire_err_t why);

/**
 * @brief Closes (if needed) and frees. Must not be called from inside one
 * of this connection's callbacks (defer it). Accepts NULL.
 */
void qr_bconn_destroy(qr_bconn_t *conn);

#endif /* QR_BCONN_H */
