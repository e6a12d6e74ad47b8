/*
 * conn: one client connection, owned by one network thread (STYLE.md §5).
 *
 * Input: a bounded read buffer, grown only to the size a frame declares and
 * only after that size was checked against socket.request.max.bytes (no
 * allocation from an unchecked peer length, STYLE.md §3), freed when empty,
 * so an idle connection holds no buffer at all. Complete frames go to
 * request.c in arrival order.
 *
 * Output: every request gets a response slot (qr_reply_t) at the tail of the
 * connection's queue when it is read; slots complete in any order (acks=all
 * waits for the flusher, a fetch may long-poll) and are written strictly in
 * queue order, so pipelined requests are answered in order. A slot holds
 * memory chunks and file ranges; file ranges go out with sendfile(2) from
 * the segment file, pinned until sent.
 *
 * Backpressure (DESIGN.md §4): the connection is read only while fewer than
 * QR_CONN_MAX_INFLIGHT requests are unanswered and fewer than
 * QR_CONN_OUT_HIGH bytes of memory chunks wait to be written; write
 * interest exists exactly while the queue head is complete and unsent.
 *
 * All I/O goes through a small qr_conn_io_t table, the plain TCP one today,
 * so a TLS layer can wrap the same connection later (DESIGN.md §9).
 *
 * Ownership: the thread owns the connection; request code borrows it for the
 * duration of a callback and must not keep it. A slot that is still pending
 * when its connection closes is orphaned, not freed: whoever completes it
 * calls qr_reply_ready() as usual, which then frees it.
 */
#ifndef QR_CONN_H
#define QR_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "brokerconf.h"
#include "err.h"
#include "logging.h"
#include "netthread.h"

/** Unanswered requests a connection may have before it stops being read. */
#define QR_CONN_MAX_INFLIGHT 64
/** Bytes of response memory queued before the connection stops being read.
 */
#define QR_CONN_OUT_HIGH (8u << 20)

typedef struct qr_reply qr_reply_t;

/** I/O layer: POSIX style (-1 + errno) inside conn.c only. */
typedef struct qr_conn_io {
    const char *name;
    ssize_t (*read)(qr_conn_t *conn, void *buf, size_t len);
    ssize_t (*writev)(qr_conn_t *conn, const struct iovec *iov, int iovcnt);
    /* Sends up to @len bytes of @fd from *@pos, advancing it. */
    ssize_t (*sendfile)(qr_conn_t *conn, int fd, off_t *pos, size_t len);
} qr_conn_io_t;

/** Releases a file range's pin once it is sent or dropped. */
typedef void (*qr_reply_release_fn)(void *arg);

/**
 * @brief Wraps an accepted, non-blocking socket and starts reading.
 * @param fd consumed (closed on every path, including failure).
 * @param sa the address the socket was admitted under
 *        (qr_server_conn_admit()); copied, left when the connection goes.
 * @param proto the listener's qr_wireproto_t: how frames are cut and
 *        decoded, and how its responses are encoded.
 * @returns the connection (owned by @p nt), or NULL when it could not be
 *          set up (logged).
 * @locality net thread  @locks none
 */
qr_conn_t *qr_conn_new(qr_netthread_t *nt, int fd, const struct sockaddr *sa,
                       int proto);

/**
 * @brief Closes the connection: stops its watchers, closes the socket,
 * orphans pending slots and frees it after the current callback.
 * @param why logged at INFO when not NULL (peer-caused: rate-limited).
 * @locality net thread  @locks none
 */
void qr_conn_close(qr_conn_t *conn, const char *why);

/**
 * @brief Stops reading new requests (drain); the connection closes itself
 * once every queued response is written.
 * @locality net thread  @locks none
 */
void qr_conn_drain(qr_conn_t *conn);

/**
 * @brief qr_conn_drain() on every connection of @p nt.
 * @locality net thread  @locks none
 */
void qr_conn_drain_all(qr_netthread_t *nt);

/**
 * @brief qr_conn_close() on every connection of @p nt.
 * @locality net thread  @locks none
 */
void qr_conn_close_all(qr_netthread_t *nt, const char *why);

/** @brief "addr:port" of the peer, for logs. @returns borrowed, valid
 * while @p conn lives. @locality net thread @locks none */
const char *qr_conn_peer(const qr_conn_t *conn);

/** @brief The connection's thread. @locality net thread @locks none */
qr_netthread_t *qr_conn_thread(const qr_conn_t *conn);

/** @brief The connection's rate limiter for peer-caused error lines.
 * @locality net thread @locks none */
qr_ratelimit_t *qr_conn_ratelimit(qr_conn_t *conn);

/**
 * @brief Logs a peer-caused problem, rate-limited per connection (STYLE.md
 * §6), prefixed with the peer address.
 * @locality net thread  @locks none
 */
void qr_conn_log_peer(qr_conn_t *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- response slots ---- */

/**
 * @brief Appends a response slot to the connection's queue; responses are
 * written in the order their slots were made.
 * @returns borrowed: stays valid until qr_reply_ready() or qr_reply_drop().
 * @locality net thread  @locks none
 */
qr_reply_t *qr_reply_new(qr_conn_t *conn);

/**
 * @brief Adds bytes to send.
 * @param data consumed (freed with free() after it is sent, or when the
 *        slot is dropped).
 * @locality the slot's net thread  @locks none
 */
void qr_reply_add_mem(qr_reply_t *reply, void *data, size_t len);

/**
 * @brief Adds a file range, sent with sendfile(2).
 * @param fd borrowed; must stay open until @p release runs.
 * @param release called once with @p arg when the range is sent or dropped
 *        (may be NULL).
 * @locality the slot's net thread  @locks none
 */
void qr_reply_add_file(qr_reply_t *reply, int fd, int64_t pos, size_t len,
                       qr_reply_release_fn release, void *arg);

/** @brief Bytes added so far. @locality the slot's net thread */
size_t qr_reply_len(const qr_reply_t *reply);

/**
 * @brief Charges @p n bytes of memory held for the request (a parked
 * fetch's state) to the slot: to queued.max.request.bytes, and to its
 * connection, which stops being read while its slots hold more than
 * socket.request.max.bytes. Returned when the slot is freed.
 * @locality the slot's net thread  @locks none
 */
void qr_reply_charge(qr_reply_t *reply, size_t n);

/**
 * @brief Registers @p fn, called once (from qr_conn_close()) if the
 * connection closes while the slot is pending, so its owner can give up at
 * once; it must still complete the slot (qr_reply_ready()), which then
 * frees it.
 * @locality the slot's net thread  @locks none
 */
void qr_reply_on_orphan(qr_reply_t *reply, void (*fn)(void *arg), void *arg);

/**
 * @brief Marks the slot complete: it is written when every slot before it
 * is. If its connection has closed meanwhile, the slot is freed.
 * @locality the slot's net thread  @locks none
 */
void qr_reply_ready(qr_reply_t *reply);

/**
 * @brief Completes the slot with nothing to send (a produce with acks=0):
 * it leaves the queue without a response on the wire.
 * @locality the slot's net thread  @locks none
 */
void qr_reply_drop(qr_reply_t *reply);

/** @brief Whether the slot's connection has closed (nothing will be sent).
 * @locality the slot's net thread  @locks none */
int qr_reply_orphaned(const qr_reply_t *reply);

/** @brief The connection of a slot, NULL when orphaned. @returns borrowed
 * for the current callback. @locality the slot's net thread */
qr_conn_t *qr_reply_conn(const qr_reply_t *reply);

/* ---- which codec a connection and its slots speak (issue 13) ---- */

/** @brief The connection's qr_wireproto_t. @locality net thread */
int qr_conn_proto(const qr_conn_t *conn);

/**
 * @brief Records, on the slot, the version of the request it answers and
 * whether its response header is flexible: the codec encodes the response
 * from them when the handler completes it, maybe much later.
 * @locality the slot's net thread  @locks none
 */
void qr_reply_set_version(qr_reply_t *reply, int16_t api_version, int flex);

/** @brief The slot's qr_wireproto_t (its connection's, kept when orphaned).
 * @locality the slot's net thread */
int qr_reply_proto(const qr_reply_t *reply);

/** @brief What qr_reply_set_version() recorded: @returns the version,
 * *@p hdr_flex the flag. @locality the slot's net thread */
int16_t qr_reply_api_version(const qr_reply_t *reply, int *hdr_flex);

/** The plain TCP I/O layer. */
extern const qr_conn_io_t qr_conn_io_tcp;

#endif /* QR_CONN_H */
