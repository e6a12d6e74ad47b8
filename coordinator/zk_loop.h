/*
 * zk_loop: drives a single-threaded ZooKeeper client handle from libev
 * (STYLE.md §5). No ZooKeeper threads: every completion and watcher runs on
 * the loop, inside zookeeper_process().
 *
 * Before every poll an ev_prepare asks zookeeper_interest() for the fd, the
 * events and the timeout, and re-sets the ev_io each time: the client may
 * close and reopen its socket under the same fd number, which libev cannot
 * see by itself (ev.pod, "the special problem of disappearing file
 * descriptors"). zookeeper_process() runs from the io watcher and from a
 * timer that carries the client's deadline (pings, connect timeouts).
 */
#ifndef QR_ZK_LOOP_H
#define QR_ZK_LOOP_H

#include <stdint.h>

#include <zookeeper/zookeeper.h>

struct ev_loop;

typedef struct qr_zk_loop qr_zk_loop_t;

/**
 * @brief Attaches @p zh to @p loop and starts driving it.
 * @param zh borrowed: it must outlive the adapter (call
 *        qr_zk_loop_destroy() before zookeeper_close()).
 * @returns owned; free with qr_zk_loop_destroy().
 * @locality main loop  @locks none
 */
qr_zk_loop_t *qr_zk_loop_new(struct ev_loop *loop, zhandle_t *zh);

/**
 * @brief Stops every watcher and frees the adapter. Accepts NULL. Must not
 * be called from inside zookeeper_process() (a completion or watcher) of
 * the same handle: defer it to the loop instead.
 * @locality main loop  @locks none
 */
void qr_zk_loop_destroy(qr_zk_loop_t *zl);

/**
 * @brief Routes the ZooKeeper client's log lines into QR_LOG (facility
 * "ZKC") and sets the client's level from quire's. Pass it to
 * zookeeper_init2().
 * @locality any  @locks none
 */
void qr_zk_loop_log(const char *message);

/**
 * @brief The connection is back: the client's repeated lines (shown once,
 * then summarised) start afresh, so the next failure is shown at once.
 * @returns the lines held back and never summarised.
 * @locality any  @locks takes the quiet log's mutex
 */
uint64_t qr_zk_loop_log_settle(void);

/**
 * @brief Sets the ZooKeeper client's process-wide log level from
 * qr_log_level / the `zk` debug context.
 * @locality main, at start-up  @locks none
 */
void qr_zk_loop_set_log_level(void);

#endif /* QR_ZK_LOOP_H */
