/*
 * hist: fixed-bucket histograms with relaxed atomics (see hist.h).
 */
#include "config.h"

#include "hist.h"
#include "logging.h"

const uint64_t qr_hist_latency_ns[] = {
    500000ull,     1000000ull,    2500000ull,    5000000ull,     10000000ull,
    25000000ull,   50000000ull,   100000000ull,  250000000ull,   500000000ull,
    1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull,
};
const size_t qr_hist_latency_ns_len =
    sizeof(qr_hist_latency_ns) / sizeof(qr_hist_latency_ns[0]);

const uint64_t qr_hist_pow2[] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024,
};
const size_t qr_hist_pow2_len = sizeof(qr_hist_pow2) / sizeof(qr_hist_pow2[0]);

void qr_hist_init(qr_hist_t *h, const uint64_t *bounds, size_t nbounds)
{
    QR_ASSERT(nbounds <= QR_HIST_MAX_BOUNDS);
    h->bounds = bounds;
    h->nbounds = nbounds;
    for (size_t i = 0; i <= QR_HIST_MAX_BOUNDS; i++)
        atomic_init(&h->buckets[i], 0);
    atomic_init(&h->sum, 0);
}

void qr_hist_observe(qr_hist_t *h, uint64_t v)
{
    size_t i = 0;

    while (i < h->nbounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

void qr_hist_add_to(const qr_hist_t *h, qr_hist_snap_t *snap)
{
    uint64_t run = 0;

    snap->nbounds = h->nbounds;
    for (size_t i = 0; i <= h->nbounds; i++) {
        run += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        snap->cum[i] += run;
    }
    snap->sum += atomic_load_explicit(&h->sum, memory_order_relaxed);
}
