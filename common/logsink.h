/*
 * logsink: where a handle's log lines go, and quiet repeats (issues 18 and
 * 15 item 4). A qr_logsink_t is a qr_log_ctx_t (logging.h) with a
 * destination, either a callback of the application's (libquire's
 * log_cb) or stderr, and a summariser: a line whose text was already
 * written in the last window_ms is not written again; the next time it
 * comes after the window (or at qr_logsink_flush), it is written once
 * with "(N more in the last S s)" appended. So a broker refusing every
 * 50 ms costs a line every few seconds, not hundreds.
 *
 * Debug lines (asked for with debug=) are never summarised.
 */
#ifndef QR_LOGSINK_H
#define QR_LOGSINK_H

#include <pthread.h>
#include <stdint.h>

#include "logging.h"

/** A destination for lines: @p msg borrowed for the call. */
typedef void(qr_logsink_cb_t)(void *opaque, int level, const char *fac,
                              const char *msg);

#define QR_LOGSINK_SLOTS 16
#define QR_LOGSINK_MSG   240

typedef struct qr_logsink_rep {
    uint64_t hash; /* of fac and msg; 0: free slot */
    int level;
    char fac[16];
    char msg[QR_LOGSINK_MSG]; /* for the summary line (cut) */
    int64_t written_ms;       /* when last written */
    uint32_t suppressed;      /* since then */
} qr_logsink_rep_t;

typedef struct qr_logsink {
    qr_log_ctx_t ctx; /* first: qr_log_tls points here */
    pthread_mutex_t lock;
    qr_logsink_cb_t *cb; /* NULL: stderr */
    void *opaque;
    uint32_t window_ms; /* 0: no summarising */
    qr_logsink_rep_t rep[QR_LOGSINK_SLOTS];
    uint32_t next_victim;
} qr_logsink_t;

/**
 * @brief Sets up @p ls (caller's storage) with a level, debug contexts,
 * destination (@p cb NULL: stderr) and summarising window.
 * @locality any  @locks none
 */
void qr_logsink_init(qr_logsink_t *ls, int level, uint32_t debug,
                     qr_logsink_cb_t *cb, void *opaque, uint32_t window_ms);

/**
 * @brief Writes the pending summaries whose window has passed (all of
 * them when @p all) and forgets them. Call now and then (a tick) and at
 * the end.
 * @locality any  @locks takes ls->lock
 */
void qr_logsink_flush(qr_logsink_t *ls, int64_t now_ms, int all);

/** @brief Flushes everything and frees the lock. @locality any */
void qr_logsink_fini(qr_logsink_t *ls);

/**
 * @brief Installs @p ls on this thread (as qr_log_ctx_swap()).
 * @returns the previous context, for qr_log_ctx_swap() at the scope's end.
 * @locality any  @locks none
 */
qr_log_ctx_t *qr_logsink_enter(qr_logsink_t *ls);

#endif /* QR_LOGSINK_H */
