/*
 * rxpool: large response buffers kept for reuse (rxpool.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "rxpool.h"

#define HUGE_ALIGN ((size_t)2 << 20)

typedef struct slot {
    uint8_t *buf;
    size_t cap;
} slot_t;

struct qr_rxpool {
    pthread_mutex_t lock;
    slot_t kept[QR_RXPOOL_KEEP]; /* given back, pages mapped */
    size_t nkept;
    slot_t out[QR_RXPOOL_TRACK]; /* handed out: their sizes */
    size_t nout;
    qr_rxpool_stats_t st;
};

/* A buffer of @p cap bytes (a power of two, at least QR_RXPOOL_MIN),
 * aligned to and advised for transparent huge pages where the kernel has
 * them: one fault maps 2 MiB instead of 512 faults of 4 KiB. */
static uint8_t *big_alloc(size_t cap)
{
    void *p;

    if (posix_memalign(&p, HUGE_ALIGN, cap) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, cap, MADV_HUGEPAGE); /* advice: may be refused */
#endif
    return p;
}

static size_t kept_bytes(const qr_rxpool_t *pool)
{
    size_t n = 0;

    for (size_t i = 0; i < pool->nkept; i++)
        n += pool->kept[i].cap;
    return n;
}

qr_rxpool_t *qr_rxpool_new(void)
{
    qr_rxpool_t *pool = calloc(1, sizeof(*pool));

    if (pool && pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool);
        return NULL;
    }
    return pool;
}

void qr_rxpool_destroy(qr_rxpool_t *pool)
{
    if (!pool)
        return;
    for (size_t i = 0; i < pool->nkept; i++)
        free(pool->kept[i].buf);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

uint8_t *qr_rxpool_get(qr_rxpool_t *pool, size_t size)
{
    size_t cap, best = SIZE_MAX;
    uint8_t *buf = NULL;

    if (size < QR_RXPOOL_MIN)
        return malloc(size ? size : 1);
    if (size > SIZE_MAX / 2)
        return NULL;
    for (cap = QR_RXPOOL_MIN; cap < size; cap *= 2)
        ;
    pthread_mutex_lock(&pool->lock);
    for (size_t i = 0; i < pool->nkept; i++)
        if (pool->kept[i].cap >= size &&
            (best == SIZE_MAX || pool->kept[i].cap < pool->kept[best].cap))
            best = i;
    if (best != SIZE_MAX) {
        buf = pool->kept[best].buf;
        cap = pool->kept[best].cap;
        pool->kept[best] = pool->kept[--pool->nkept];
        pool->st.reuses++;
    }
    pthread_mutex_unlock(&pool->lock);
    if (!buf) {
        buf = big_alloc(cap);
        if (!buf)
            return NULL;
    }
    pthread_mutex_lock(&pool->lock);
    if (best == SIZE_MAX)
        pool->st.allocs++;
    if (pool->nout < QR_RXPOOL_TRACK)
        pool->out[pool->nout++] = (slot_t){buf, cap};
    /* else untracked: given back, it is freed like a small buffer */
    pthread_mutex_unlock(&pool->lock);
    return buf;
}

void qr_rxpool_put(qr_rxpool_t *pool, uint8_t *buf)
{
    int keep = 0;

    if (!buf)
        return;
    pthread_mutex_lock(&pool->lock);
    for (size_t i = 0; i < pool->nout; i++) {
        if (pool->out[i].buf != buf)
            continue;
        if (pool->nkept < QR_RXPOOL_KEEP &&
            kept_bytes(pool) + pool->out[i].cap <= QR_RXPOOL_KEEP_BYTES) {
            pool->kept[pool->nkept++] = pool->out[i];
            keep = 1;
        }
        pool->out[i] = pool->out[--pool->nout];
        break;
    }
    pthread_mutex_unlock(&pool->lock);
    if (!keep)
        free(buf);
}

void qr_rxpool_stats(qr_rxpool_t *pool, qr_rxpool_stats_t *st)
{
    pthread_mutex_lock(&pool->lock);
    *st = pool->st;
    st->kept = pool->nkept;
    st->kept_bytes = kept_bytes(pool);
    pthread_mutex_unlock(&pool->lock);
}
