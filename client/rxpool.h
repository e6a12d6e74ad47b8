/*
 * rxpool: large response buffers kept for reuse.
 *
 * A Fetch response over many partitions is tens of MiB (fetch.max.bytes,
 * 50 MiB by default). malloc serves such a size with a fresh mmap and
 * free gives it back, so every response faulted in and zeroed its pages
 * anew: at 1,000 partitions that was most of the consumer's time (issue
 * 14). The pool hands out buffers of at least QR_RXPOOL_MIN bytes, sized in
 * powers of two (so that one kept buffer serves the next response of about
 * the same size), and keeps up to QR_RXPOOL_KEEP of them, QR_RXPOOL_KEEP_BYTES
 * in all, when given back, their pages still mapped. Smaller sizes are
 * plain malloc. Only the pages a response touched count in the process's
 * memory.
 *
 * Every buffer qr_rxpool_get returns is malloc'd. One asked for with a
 * size of QR_RXPOOL_MIN or more must be given back with qr_rxpool_put
 * (which frees it when it is not kept), never free(): the pool knows a
 * buffer's size by its address. One asked for with a smaller size is a
 * plain malloc the pool never tracks: its holder may free() it (bconn
 * does, and so skips the pool's lock for every small response), or give
 * it back, which frees it.
 *
 * Thread safety: every function may be called from any thread (the loop
 * thread takes buffers, the application's poll gives them back): @locks
 * the pool's own mutex, held only for the list updates.
 */
#ifndef QR_RXPOOL_H
#define QR_RXPOOL_H

#include <stddef.h>
#include <stdint.h>

/** Below this a buffer is a plain malloc (libc keeps such sizes). */
#define QR_RXPOOL_MIN (1u << 20)
/** Buffers kept when given back (the rest are freed)... */
#define QR_RXPOOL_KEEP 8
/** ... and their sizes' sum at most. */
#define QR_RXPOOL_KEEP_BYTES ((size_t)256 << 20)
/** Buffers out at once whose size the pool remembers (a buffer taken
 * beyond that is a plain malloc and is freed when given back). */
#define QR_RXPOOL_TRACK 64

typedef struct qr_rxpool qr_rxpool_t;

/** @brief A new, empty pool. @returns owned (qr_rxpool_destroy), or NULL
 * when out of memory. */
qr_rxpool_t *qr_rxpool_new(void);

/** @brief Frees the kept buffers and the pool. Buffers still out must
 * not be given back afterwards (free() them instead). NULL: no-op. */
void qr_rxpool_destroy(qr_rxpool_t *pool);

/**
 * @brief A buffer of at least @p size bytes: a kept one when one is large
 * enough (the smallest such), else newly allocated.
 * @returns owned by the caller until qr_rxpool_put; NULL when out of
 * memory.
 */
uint8_t *qr_rxpool_get(qr_rxpool_t *pool, size_t size);

/** @brief Gives @p buf (from qr_rxpool_get, or NULL) back: kept for reuse
 * or freed. */
void qr_rxpool_put(qr_rxpool_t *pool, uint8_t *buf);

/** Counters, for tests and statistics. */
typedef struct qr_rxpool_stats {
    uint64_t allocs; /* pooled-size buffers newly allocated */
    uint64_t reuses; /* handed out from the kept ones */
    size_t kept;     /* buffers kept now */
    size_t kept_bytes;
} qr_rxpool_stats_t;

/** @brief Reads the counters. */
void qr_rxpool_stats(qr_rxpool_t *pool, qr_rxpool_stats_t *st);

#endif
