/*
 * hist: a fixed-bucket histogram of non-negative integer observations
 * (nanoseconds, counts), for Prometheus-style exposition (issue 15).
 *
 * Writers and readers may be on different threads: every cell is a relaxed
 * atomic, so an observation costs a short scan of the bounds and two atomic
 * adds, no lock. A reader's snapshot may be mid-observation (a bucket
 * counted, its sum not yet): Prometheus tolerates that, and the next scrape
 * is consistent again. The count is the sum of the buckets, so count and
 * buckets always agree.
 *
 * Ownership: a qr_hist_t is embedded in whatever it measures; its bounds
 * array is borrowed and must outlive it (use a static table).
 */
#ifndef QR_HIST_H
#define QR_HIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/** Most bounds a histogram may have (the +Inf bucket comes on top). */
#define QR_HIST_MAX_BOUNDS 20

typedef struct qr_hist {
    const uint64_t *bounds; /* ascending upper bounds (le), borrowed */
    size_t nbounds;
    atomic_uint_fast64_t buckets[QR_HIST_MAX_BOUNDS + 1]; /* not cumulative */
    atomic_uint_fast64_t sum;
} qr_hist_t;

/** A point-in-time copy: cumulative buckets, as Prometheus wants them. */
typedef struct qr_hist_snap {
    size_t nbounds;
    uint64_t cum[QR_HIST_MAX_BOUNDS + 1]; /* cum[nbounds] is the count */
    uint64_t sum;
} qr_hist_snap_t;

/** Latency bounds in nanoseconds: 0.5 ms .. 10 s. */
extern const uint64_t qr_hist_latency_ns[];
extern const size_t qr_hist_latency_ns_len;
/** Size bounds for counts: 1, 2, 4, ... 1024. */
extern const uint64_t qr_hist_pow2[];
extern const size_t qr_hist_pow2_len;

/**
 * @brief Sets @p h empty with @p bounds (borrowed; at most
 * QR_HIST_MAX_BOUNDS).
 * @locality before the histogram is shared  @locks none
 */
void qr_hist_init(qr_hist_t *h, const uint64_t *bounds, size_t nbounds);

/**
 * @brief Counts one observation @p v.
 * @locality any  @locks none
 */
void qr_hist_observe(qr_hist_t *h, uint64_t v);

/**
 * @brief Adds the current content of @p h to @p snap (which the caller
 * zeroed, or filled from a histogram with the same bounds): summing the
 * per-thread histograms of one metric.
 * @locality any  @locks none
 */
void qr_hist_add_to(const qr_hist_t *h, qr_hist_snap_t *snap);

#endif /* QR_HIST_H */
